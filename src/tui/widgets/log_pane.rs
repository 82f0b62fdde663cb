//! A live log pane: the tail (or a scrolled window) of one host's bounded log, ANSI colours
//! turned into styles with ansi-to-tui. Long lines wrap (continuation rows indented) so a
//! failure message is read whole; the scroll offset still counts log lines, not rows.

use ansi_to_tui::IntoText;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::provision::log::strip_ansi;
use crate::tui::model::{LogPane, Theme};

/// Continuation rows of a wrapped log line start with this.
const CONTINUATION: &str = "  ";

/// The rows visible in a pane of `height` rows and `width` columns: the log lines that end
/// at the scroll position, wrapped, bottom-aligned.
pub fn visible(
    theme: Theme,
    pane: &LogPane,
    height: usize,
    width: usize,
    search: Option<&str>,
) -> Vec<Line<'static>> {
    let len = pane.lines.len();
    let end = if pane.follow {
        len
    } else {
        len.saturating_sub(pane.offset)
    };
    // Walk back from the bottom line until the pane is full; only these lines are styled
    // and wrapped, however long the scrollback.
    let mut rows: Vec<Line<'static>> = Vec::new();
    for i in (0..end).rev() {
        if rows.len() >= height {
            break;
        }
        let raw = &pane.lines[i];
        let hit = !pane.follow
            && i + 1 == end
            && search.is_some_and(|s| {
                !s.is_empty() && strip_ansi(raw).to_lowercase().contains(&s.to_lowercase())
            });
        let mut line = if theme.color {
            // Ansible's lines come plain; they get Ansible's colours here.
            crate::kubespray::runner::paint(raw)
                .as_bytes()
                .into_text()
                .ok()
                .and_then(|t| t.lines.into_iter().next())
                .unwrap_or_else(|| Line::from(strip_ansi(raw)))
        } else {
            Line::from(Span::raw(strip_ansi(raw)))
        };
        if hit {
            line = line.style(Style::default().add_modifier(Modifier::REVERSED));
        }
        let mut wrapped = wrap_line(line, width);
        wrapped.append(&mut rows);
        rows = wrapped;
    }
    let extra = rows.len().saturating_sub(height);
    rows.drain(..extra);
    rows
}

/// Splits a styled line into rows of at most `width` columns, keeping each span's style.
/// Rows break after a space when there is one (words stay whole), otherwise at the width
/// (a long path or URL is broken, never cut); continuation rows are indented.
pub fn wrap_line(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(CONTINUATION.len() + 1);
    if line.width() <= width {
        return vec![line];
    }
    let plain: Vec<char> = line.spans.iter().flat_map(|s| s.content.chars()).collect();
    let cw = |c: char| c.width().unwrap_or(0);
    // Where each row starts, as char indices into the line's text.
    let mut starts = vec![0];
    let mut pos = 0;
    let mut room = width;
    loop {
        let (mut end, mut used) = (pos, 0);
        while end < plain.len() && used + cw(plain[end]) <= room {
            used += cw(plain[end]);
            end += 1;
        }
        if end >= plain.len() {
            break;
        }
        let after_space = (pos + 1..=end).rev().find(|&i| plain[i - 1] == ' ');
        let brk = after_space.unwrap_or(end).max(pos + 1);
        starts.push(brk);
        pos = brk;
        room = width - CONTINUATION.len();
    }
    let base = line.style;
    let mut rows: Vec<Line<'static>> = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut next = starts.iter().skip(1).peekable();
    let mut i = 0;
    for span in line.spans {
        let mut chunk = String::new();
        for c in span.content.chars() {
            if next.peek().is_some_and(|&&b| b == i) {
                next.next();
                if !chunk.is_empty() {
                    spans.push(Span::styled(std::mem::take(&mut chunk), span.style));
                }
                rows.push(Line::from(std::mem::take(&mut spans)).style(base));
                spans.push(Span::raw(CONTINUATION));
            }
            chunk.push(c);
            i += 1;
        }
        if !chunk.is_empty() {
            spans.push(Span::styled(chunk, span.style));
        }
    }
    if !spans.is_empty() {
        rows.push(Line::from(spans).style(base));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[Line]) -> Vec<String> {
        rows.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn a_long_line_wraps_with_every_character_kept() {
        let msg = "✗ Preflight failed: clock not synchronised (chrony not running)";
        let rows = wrap_line(Line::from(msg.to_string()), 37);
        let t = text(&rows);
        assert!(t.iter().all(|r| r.chars().count() <= 37), "{t:?}");
        // Words stay whole.
        assert_eq!(t[1], "  synchronised (chrony not running)");
        assert!(t[1].starts_with(CONTINUATION), "{t:?}");
        let joined: String = t
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if i == 0 {
                    r.as_str()
                } else {
                    &r[CONTINUATION.len()..]
                }
            })
            .collect();
        assert_eq!(joined, msg);
    }

    #[test]
    fn the_pane_shows_the_tail_in_rows() {
        let mut pane = LogPane {
            follow: true,
            ..Default::default()
        };
        pane.push("short".into());
        pane.push("x".repeat(25));
        pane.push("last".into());
        let rows = visible(Theme { color: false }, &pane, 3, 10, None);
        assert_eq!(text(&rows), ["  xxxxxxxx", "  xxxxxxx", "last"]);
        // Paused one line up: the long line is at the bottom.
        pane.follow = false;
        pane.offset = 1;
        let rows = visible(Theme { color: false }, &pane, 4, 10, None);
        assert_eq!(
            text(&rows),
            ["short", "xxxxxxxxxx", "  xxxxxxxx", "  xxxxxxx"]
        );
    }
}
