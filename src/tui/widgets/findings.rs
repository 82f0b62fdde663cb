//! The findings strip: errors (which block Next), warnings and hints, most severe first.

use ratatui::text::{Line, Span};

use super::{Look, fit, style};
use crate::facts::Facts;
use crate::plan::{self, Code, Finding, Plan, Severity};
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
/// Every finding for the plan from the core checks (the same list `rackstrap check`
/// prints), most severe first, worded for the screens: a core hint that is a suggestion
/// becomes its own `Hint` line next to its finding (a third etcd member for two control
/// planes), and pool entry findings say the column of the entry, so the Network screen can
/// point at it. Severities and codes are the core's, unchanged.
pub fn of_plan(plan: &Plan, facts: &Facts) -> Vec<Finding> {
    let facts = (!facts.is_empty()).then_some(facts);
    let mut out = Vec::new();
    for f in plan::check(plan, facts) {
        let message = match pool_entry_column(plan, &f.path) {
            Some((pool, col)) => format!("pool {pool}: column {col}: {}", f.message),
            None => f.message.clone(),
        };
        let suggestion = SUGGESTIONS.contains(&f.code);
        let mut finding = Finding::new(f.severity, f.code, f.path.clone(), message);
        if !suggestion {
            finding.hint = f.hint.clone();
        }
        out.push(finding);
        if let (Some(h), true) = (f.hint, suggestion) {
            out.push(Finding::new(Severity::Hint, f.code, f.path, h));
        }
    }
    out.sort_by_key(|f| f.severity);
    out
}

/// Findings whose hint is a suggestion worth its own line.
const SUGGESTIONS: [Code; 2] = [Code::W_TWO_CONTROL_PLANES, Code::E_EVEN_ETCD];

/// `network.load_balancer.pools[P].addresses[E]` -> (pool name, 1-based column of entry E
/// in the addresses as the Network screen shows them, joined by ", ").
fn pool_entry_column(plan: &Plan, path: &str) -> Option<(String, usize)> {
    let rest = path.strip_prefix("network.load_balancer.pools[")?;
    let (p, rest) = rest.split_once(']')?;
    let e = rest.strip_prefix(".addresses[")?.strip_suffix(']')?;
    let pool = plan
        .network
        .load_balancer
        .pools
        .get(p.parse::<usize>().ok()?)?;
    let e: usize = e.parse().ok()?;
    let col = pool
        .addresses
        .iter()
        .take(e)
        .map(|a| a.chars().count() + 2)
        .sum::<usize>()
        + 1;
    Some((pool.name.clone(), col))
}
