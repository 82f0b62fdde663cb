//! A live log pane: the tail (or a scrolled window) of one host's bounded log, ANSI colours
//! turned into styles with ansi-to-tui.

use ansi_to_tui::IntoText;
use ratatui::text::{Line, Span};

use crate::tui::app::{LogPane, Theme, strip_ansi};

/// The lines visible in a pane of `height` rows.
pub fn visible(
    theme: Theme,
    pane: &LogPane,
    height: usize,
    search: Option<&str>,
) -> Vec<Line<'static>> {
    let len = pane.lines.len();
    let end = if pane.follow {
        len
    } else {
        len.saturating_sub(pane.offset)
    };
    let start = end.saturating_sub(height);
    pane.lines
        .range(start..end)
        .enumerate()
        .map(|(i, raw)| {
            let hit = !pane.follow
                && i + start + 1 == end
                && search.is_some_and(|s| {
                    !s.is_empty() && strip_ansi(raw).to_lowercase().contains(&s.to_lowercase())
                });
            let mut line = if theme.color {
                raw.as_bytes()
                    .into_text()
                    .ok()
                    .and_then(|t| t.lines.into_iter().next())
                    .unwrap_or_else(|| Line::from(strip_ansi(raw)))
            } else {
                Line::from(Span::raw(strip_ansi(raw)))
            };
            if hit {
                line = line.style(
                    ratatui::style::Style::default()
                        .add_modifier(ratatui::style::Modifier::REVERSED),
                );
            }
            line
        })
        .collect()
}
