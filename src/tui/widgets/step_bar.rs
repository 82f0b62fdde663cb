//! The step bar: where the operator is and which steps are done.

use ratatui::text::{Line, Span};

use super::{Look, style};
use crate::tui::model::{Model, Step};

pub fn step_bar(m: &Model) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, step) in Step::ALL.iter().enumerate() {
        let (mark, look) = if *step == m.step {
            ("▸", Look::Focus)
        } else if *step < m.reached {
            ("✓", Look::Ok)
        } else {
            (" ", Look::Dim)
        };
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(
            format!("{mark}{}", step.title()),
            style(m.theme, look),
        ));
    }
    Line::from(spans)
}
