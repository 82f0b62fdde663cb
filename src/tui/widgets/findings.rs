//! The findings strip: errors (which block Next), warnings and hints, most severe first.

use ratatui::text::{Line, Span};

use super::{Look, fit, style};
use crate::tui::domain::{Finding, Severity};
use crate::tui::model::Theme;

/// At most `rows` lines; the last says how many more there are.
pub fn strip(
    theme: Theme,
    status: Option<&str>,
    findings: &[Finding],
    rows: usize,
    width: usize,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if let Some(s) = status {
        out.push(Line::from(Span::styled(
            fit(&format!("» {s}"), width),
            style(theme, Look::Key),
        )));
    }
    if findings.is_empty() && out.is_empty() {
        out.push(Line::from(Span::styled(
            "✓ no findings",
            style(theme, Look::Ok),
        )));
    }
    let room = rows.saturating_sub(out.len());
    for (i, f) in findings.iter().enumerate() {
        if i + 1 == room && findings.len() > room {
            out.push(Line::from(Span::styled(
                fit(
                    &format!("  … and {} more (F2 shows all)", findings.len() - i),
                    width,
                ),
                style(theme, Look::Dim),
            )));
            break;
        }
        if i >= room {
            break;
        }
        let (mark, look) = mark(f.severity);
        out.push(Line::from(vec![
            Span::styled(mark.to_string(), style(theme, look)),
            Span::raw(fit(
                &format!(" {}", f.message),
                width.saturating_sub(mark.len()),
            )),
        ]));
    }
    out
}

fn mark(severity: Severity) -> (&'static str, Look) {
    match severity {
        Severity::Error => ("✗ error", Look::Error),
        Severity::Warning => ("! warning", Look::Warn),
        Severity::Hint => ("› hint", Look::Hint),
        Severity::Info => ("· info", Look::Dim),
    }
}

/// Every finding whole (F2): the popup wraps them; a hint follows its finding.
pub fn full(theme: Theme, findings: &[Finding]) -> Vec<Line<'static>> {
    let mut out: Vec<Line> = findings
        .iter()
        .flat_map(|f| {
            let (mark, look) = mark(f.severity);
            let mut lines = vec![Line::from(vec![
                Span::styled(mark.to_string(), style(theme, look)),
                Span::raw(format!(" {}", f.message)),
            ])];
            if let Some(h) = &f.hint {
                lines.push(Line::from(Span::styled(
                    format!("  › {h}"),
                    style(theme, Look::Hint),
                )));
            }
            lines
        })
        .collect();
    if out.is_empty() {
        out.push(Line::from(Span::styled(
            "✓ no findings",
            style(theme, Look::Ok),
        )));
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        "any key closes this list",
        style(theme, Look::Dim),
    )));
    out
}
