//! Review: every finding, every file that will be written and every command each stage will
//! run per host (dry run), and saving the plan.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::plan::Plan;
use crate::provision::StageId;
use crate::tui::app::{Model, ReviewTab};
use crate::tui::domain::Severity;
use crate::tui::widgets::{Look, style};

/// The files provisioning writes, with their contents.
pub fn files(plan: &Plan) -> Vec<(String, String)> {
    let mut out = vec![(
        format!("{}.yaml (the plan)", plan.cluster.name),
        crate::plan::to_yaml(plan),
    )];
    match crate::render::render(plan) {
        Ok(files) => out.extend(files.into_iter().map(|f| {
            (
                format!("inventory/{}/{}", plan.cluster.name, f.path.display()),
                f.contents,
            )
        })),
        Err(e) => out.push(("(inventory not rendered)".into(), e.to_string())),
    }
    out
}

/// What each stage runs on each host, in order: the provisioning runner's own dry run.
pub fn commands(m: &Model) -> Vec<(StageId, String, Vec<String>)> {
    let facts = (!m.facts.is_empty()).then_some(&m.facts);
    crate::provision::runner::dry_run(&m.plan, facts)
        .into_iter()
        .map(|step| {
            let cmds = match step.commands {
                Ok(c) if c.is_empty() => vec!["(nothing to do)".to_string()],
                Ok(c) => c,
                Err(why) => vec![format!("(refused: {why})")],
            };
            (step.stage, step.host, cmds)
        })
        .collect()
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let [tabs, body, saved] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut t = Vec::new();
    let list = m.plan_findings();
    for tab in ReviewTab::ALL {
        let name = match tab {
            ReviewTab::Findings => format!("Findings ({})", list.len()),
            other => other.title().to_string(),
        };
        let label = if tab == m.review.tab {
            format!("[{name}]")
        } else {
            format!(" {name} ")
        };
        t.push(Span::styled(
            label,
            if tab == m.review.tab {
                style(m.theme, Look::Focus)
            } else {
                style(m.theme, Look::Dim)
            },
        ));
        t.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(t)), tabs);
    let lines: Vec<Line> = match m.review.tab {
        ReviewTab::Findings => {
            if list.is_empty() {
                vec![Line::from(Span::styled(
                    "✓ no findings: the plan is ready",
                    style(m.theme, Look::Ok),
                ))]
            } else {
                list.iter()
                    .map(|x| {
                        let look = match x.severity {
                            Severity::Error => Look::Error,
                            Severity::Warning => Look::Warn,
                            Severity::Hint | Severity::Info => Look::Hint,
                        };
                        Line::from(vec![
                            Span::styled(
                                format!("{:<8}", x.severity.as_str()),
                                style(m.theme, look),
                            ),
                            Span::styled(format!("{:<20}", x.code), style(m.theme, Look::Dim)),
                            Span::raw(format!("{}  ", x.message)),
                            Span::styled(x.path.clone(), style(m.theme, Look::Dim)),
                        ])
                    })
                    .collect()
            }
        }
        ReviewTab::Files => files(&m.plan)
            .into_iter()
            .flat_map(|(name, body)| {
                let mut l = vec![Line::from(Span::styled(
                    format!("── {name}"),
                    style(m.theme, Look::Title),
                ))];
                l.extend(body.lines().map(|s| Line::from(format!("  {s}"))));
                l
            })
            .collect(),
        ReviewTab::Commands => commands(m)
            .into_iter()
            .flat_map(|(stage, host, cmds)| {
                let mut l = vec![Line::from(Span::styled(
                    format!("── {} on {host}", stage.title()),
                    style(m.theme, Look::Title),
                ))];
                l.extend(
                    cmds.into_iter()
                        .map(|c| Line::from(format!("  $ {}", first_line(&c)))),
                );
                l
            })
            .collect(),
    };
    f.render_widget(Paragraph::new(lines).scroll((m.review.scroll, 0)), body);
    let s = match (&m.review.saved, &m.review.save_error) {
        (_, Some(e)) => Line::from(Span::styled(
            format!("save failed: {e}"),
            style(m.theme, Look::Error),
        )),
        (Some(p), None) => Line::from(Span::styled(
            format!("saved: {}", p.display()),
            style(m.theme, Look::Ok),
        )),
        (None, None) => Line::from(Span::styled(
            "not saved yet: s saves the plan",
            style(m.theme, Look::Warn),
        )),
    };
    f.render_widget(Paragraph::new(s), saved);
}

/// A command's first line; a here-document says how many lines follow (Files shows them).
fn first_line(cmd: &str) -> String {
    let mut lines = cmd.lines();
    let first = lines.next().unwrap_or("").to_string();
    match lines.count() {
        0 => first,
        n => format!("{first} … ({n} more lines)"),
    }
}
