//! The footer: the keys that work on this screen, from the screen's own list. When the line
//! is too narrow it first packs the keys closer (one space apart instead of two), then
//! drops keys from the end of the list, but never `Enter`, `Esc` or the last two (help,
//! quit): going on, going back and finding the rest in the help popup always stay visible.

use ratatui::text::{Line, Span};

use super::{Look, style};
use crate::tui::model::Theme;

/// Keys the footer never drops, besides the last two of the list.
const ESSENTIAL: [&str; 2] = ["Enter", "Esc"];

/// Columns `keys` take on one line with `gap` spaces between items.
fn line_width(keys: &[&(&str, &str)], gap: usize) -> usize {
    let items: usize = keys
        .iter()
        .map(|(k, w)| k.chars().count() + 1 + w.chars().count())
        .sum();
    items + gap * keys.len().saturating_sub(1)
}

/// The keys shown in `width` columns and the gap between them.
fn fit<'a>(keys: &'a [(&'a str, &'a str)], width: usize) -> (Vec<&'a (&'a str, &'a str)>, usize) {
    let mut shown: Vec<&(&str, &str)> = keys.iter().collect();
    loop {
        for gap in [2, 1] {
            if line_width(&shown, gap) <= width {
                return (shown, gap);
            }
        }
        // Drop the last key that may go (keys come in order of importance).
        let tail = shown.len().saturating_sub(2);
        let droppable = shown
            .iter()
            .enumerate()
            .rev()
            .find(|(i, (k, _))| *i < tail && !ESSENTIAL.contains(k))
            .map(|(i, _)| i);
        match droppable {
            Some(i) => {
                shown.remove(i);
            }
            None => return (shown, 1),
        }
    }
}

pub fn footer(theme: Theme, keys: &[(&str, &str)], width: usize) -> Line<'static> {
    let (shown, gap) = fit(keys, width);
    let mut spans = Vec::new();
    for (i, (k, what)) in shown.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" ".repeat(gap)));
        }
        spans.push(Span::styled(k.to_string(), style(theme, Look::Key)));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(keys: &[(&str, &str)], width: usize) -> String {
        footer(Theme { color: false }, keys, width)
            .spans
            .iter()
            .map(|s| s.content.to_string())
            .collect()
    }

    #[test]
    fn packs_closer_before_dropping_and_never_drops_enter_esc_help_quit() {
        let keys = [
            ("Tab", "tab"),
            ("↑↓", "scroll"),
            ("e", "expand"),
            ("s", "save"),
            ("Enter", "provision"),
            ("Esc", "back"),
            ("?", "help"),
            ("q", "quit"),
        ];
        let wide = text(&keys, 200);
        assert_eq!(
            wide,
            "Tab tab  ↑↓ scroll  e expand  s save  Enter provision  Esc back  ? help  q quit"
        );
        // 79 columns: all of it, two spaces apart, exactly fits.
        assert_eq!(text(&keys, 79), wide);
        // Narrower: one space apart, nothing dropped.
        assert_eq!(
            text(&keys, 72),
            "Tab tab ↑↓ scroll e expand s save Enter provision Esc back ? help q quit"
        );
        // Narrower still: the other keys go, last first.
        assert_eq!(
            text(&keys, 66),
            "Tab tab ↑↓ scroll e expand Enter provision Esc back ? help q quit"
        );
        assert_eq!(
            text(&keys, 60),
            "Tab tab ↑↓ scroll Enter provision Esc back ? help q quit"
        );
        let tiny = text(&keys, 20);
        for kept in ["Enter provision", "Esc back", "? help", "q quit"] {
            assert!(tiny.contains(kept), "{tiny}");
        }
    }
}
