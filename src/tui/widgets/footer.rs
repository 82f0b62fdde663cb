//! The footer: the keys that work on this screen, from the screen's own list.

use ratatui::text::{Line, Span};

use super::{Look, style};
use crate::tui::app::Theme;

pub fn footer(theme: Theme, keys: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (k, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k.to_string(), style(theme, Look::Key)));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}
