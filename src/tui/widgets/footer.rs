//! The footer: the keys that work on this screen, from the screen's own list. When the line
//! is too narrow, keys from the middle of the list are dropped first; the last two (help,
//! quit) always stay.

use ratatui::text::{Line, Span};

use super::{Look, style};
use crate::tui::app::Theme;

pub fn footer(theme: Theme, keys: &[(&str, &str)], width: usize) -> Line<'static> {
    let item_width = |(k, w): &(&str, &str)| k.chars().count() + 1 + w.chars().count() + 2;
    let tail = keys.len().saturating_sub(2);
    let mut budget = width.saturating_sub(keys[tail..].iter().map(item_width).sum::<usize>());
    let mut shown: Vec<&(&str, &str)> = Vec::new();
    for k in &keys[..tail] {
        if item_width(k) <= budget {
            budget -= item_width(k);
            shown.push(k);
        } else {
            break;
        }
    }
    shown.extend(keys[tail..].iter());
    let mut spans = Vec::new();
    for (i, (k, what)) in shown.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k.to_string(), style(theme, Look::Key)));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}
