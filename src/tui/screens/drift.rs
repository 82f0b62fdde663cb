//! Drift: shown when a saved plan is reopened, before Review. The plan's hosts and cluster
//! are surveyed (`recovery::survey`, the same as `rackstrap drift`); each host shows its
//! states and guided action. Choosing an action shows the core's quorum verdict and every
//! command Review-style (`recovery::prepare`, `recovery::run::describe`, the same as
//! `rackstrap node ... --dry-run`); it runs only once the host's name is typed. `l` re-lays
//! a reinstalled host's disks (`recovery::relay`, as `rackstrap node relay`), again only once
//! its name is typed.
//!
//! The screen lives beside the steps (`Model::drift`), not among them: it is not part of a
//! first install, and leaving it (`c`) goes on to Review as a reopened plan always did.

use std::sync::atomic::Ordering;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use tui_input::Input;

use crate::recovery::{self, Kind, Prepared, Report, Standing, Verdict};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::{Command, Screen};
use crate::tui::widgets::{Look, style};

/// The Drift screen's state.
#[derive(Debug, Clone, Default)]
pub struct DriftState {
    /// `None` while the survey runs.
    pub report: Option<Report>,
    pub cursor: usize,
    /// The action chosen for the selected host, decided by the core.
    pub prepared: Option<Prepared>,
    /// The host's name as typed to confirm the action.
    pub confirm: Input,
    pub running: bool,
    /// A host whose new key is being confirmed: its name and the fingerprint it offers.
    pub accepting: Option<(String, String)>,
    /// A host whose disks are to be re-laid (`l`, `recovery::relay`), awaiting its name.
    pub relaying: Option<String>,
    /// Hosts whose new key was accepted (the demo's survey takes them as re-pinned).
    pub accepted: Vec<String>,
    /// What the last action said (its output's last lines, or its error).
    pub log: Vec<String>,
    /// How many rows the details pane is scrolled down (PgUp/PgDn): an action's command
    /// lines are long, and are scrolled rather than cut.
    pub scroll: u16,
    /// The most the details pane can scroll, as last drawn (shared by the model's copies:
    /// a frame may be drawn from one).
    pub scroll_max: std::sync::Arc<std::sync::atomic::AtomicU16>,
}

pub fn title() -> &'static str {
    "Drift: what changed since the plan was saved"
}

fn selected<'a>(m: &'a Model, d: &'a DriftState) -> Option<&'a recovery::drift::HostDrift> {
    let _ = m;
    d.report.as_ref().and_then(|r| r.hosts.get(d.cursor))
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let Some(d) = &m.drift else { return };
    let Some(report) = &d.report else {
        f.render_widget(
            Paragraph::new("Surveying the plan's hosts and asking the cluster…"),
            area,
        );
        return;
    };
    // Cluster lines are long: room for each to wrap once.
    let rows = report.hosts.len() + 2 * report.cluster.len() + 1;
    let [top, bottom] = Layout::vertical([
        Constraint::Length(u16::try_from(rows).unwrap_or(u16::MAX)),
        Constraint::Min(3),
    ])
    .areas(area);
    let mut lines = Vec::new();
    for (i, h) in report.hosts.iter().enumerate() {
        let states: Vec<&str> = h.states.iter().map(|s| s.label()).collect();
        let text = format!(
            "{} {:<8} {:<15} {}",
            if i == d.cursor { "›" } else { " " },
            h.name,
            h.address,
            if states.is_empty() {
                "as planned".to_string()
            } else {
                states.join(", ")
            }
        );
        let look = if h.states.iter().all(|s| s.is_done()) {
            Look::Ok
        } else {
            Look::Warn
        };
        let s = if i == d.cursor {
            style(m.theme, Look::Selected)
        } else {
            style(m.theme, look)
        };
        lines.push(Line::from(Span::styled(text, s)));
    }
    for c in &report.cluster {
        lines.push(Line::from(Span::styled(
            format!("  cluster: {}", c.text()),
            style(m.theme, Look::Warn),
        )));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), top);

    let detail = detail_lines(m, d);
    // Rows once wrapped (words wrap before the edge, so a line may take one row more).
    let w = usize::from(bottom.width.max(1));
    let rows: usize = detail
        .iter()
        .map(|l| match l.width() {
            0 => 1,
            n if n <= w => 1,
            n => n.div_ceil(w) + 1,
        })
        .sum();
    let max = u16::try_from(rows.saturating_sub(usize::from(bottom.height))).unwrap_or(u16::MAX);
    d.scroll_max.store(max, Ordering::Relaxed);
    f.render_widget(
        Paragraph::new(detail)
            .wrap(Wrap { trim: false })
            .scroll((d.scroll.min(max), 0)),
        bottom,
    );
}

/// The details pane: the confirmation being typed, or the selected host's action with its
/// verdict and commands, then what the last action said.
fn detail_lines(m: &Model, d: &DriftState) -> Vec<Line<'static>> {
    let mut detail: Vec<Line> = Vec::new();
    if let Some((name, offered)) = &d.accepting {
        detail.push(Line::from(Span::styled(
            format!("{name} now offers {offered}. Trust it only if you reinstalled {name}."),
            style(m.theme, Look::Warn),
        )));
        detail.push(Line::from(vec![
            Span::styled(
                format!("Type {name} and Enter to pin it: "),
                style(m.theme, Look::Key),
            ),
            Span::styled(d.confirm.value().to_string(), style(m.theme, Look::Focus)),
        ]));
    }
    if let Some(name) = &d.relaying {
        detail.push(Line::from(Span::styled(
            format!(
                "relay {name}: its recorded storage step is forgotten and the storage stage runs on {name} only"
            ),
            style(m.theme, Look::Warn),
        )));
        if !d.running {
            detail.push(Line::from(vec![
                Span::styled(
                    format!("Type {name} and Enter to run: "),
                    style(m.theme, Look::Key),
                ),
                Span::styled(d.confirm.value().to_string(), style(m.theme, Look::Focus)),
            ]));
        }
    }
    match (&d.prepared, selected(m, d)) {
        _ if d.accepting.is_some() || d.relaying.is_some() => {}
        (Some(p), _) => {
            let look = match p.verdict {
                Verdict::Go(_) => Look::Ok,
                Verdict::Confirm(_) => Look::Warn,
                Verdict::Refuse(_) => Look::Error,
            };
            // The verdict, the prompt (always in view), then every step's command.
            for (i, l) in recovery::run::describe(&m.plan, p, false)
                .lines()
                .enumerate()
            {
                let s = if i == 0 {
                    style(m.theme, look)
                } else {
                    style(m.theme, Look::Dim)
                };
                detail.push(Line::from(Span::styled(l.to_string(), s)));
                if i == 0 && !matches!(p.verdict, Verdict::Refuse(_)) && !d.running {
                    detail.push(Line::from(vec![
                        Span::styled(
                            format!("Type {} and Enter to run: ", p.node),
                            style(m.theme, Look::Key),
                        ),
                        Span::styled(d.confirm.value().to_string(), style(m.theme, Look::Focus)),
                    ]));
                }
            }
        }
        (None, Some(h)) => {
            for s in &h.states {
                detail.push(Line::from(format!("{}: {}", s.label(), s.detail())));
            }
            if !h.action.is_empty() {
                detail.push(Line::from(Span::styled(
                    format!("→ {}", h.action),
                    style(m.theme, Look::Hint),
                )));
            }
            if let Some(r) = &d.report
                && recovery::relay::decide(&m.plan, r, &h.name).is_ok()
            {
                detail.push(Line::from(Span::styled(
                    "→ l: re-lay its disks (the storage stage on this host only)",
                    style(m.theme, Look::Hint),
                )));
            }
        }
        (None, None) => {}
    }
    for l in &d.log {
        detail.push(Line::from(l.clone()));
    }
    detail
}

pub const SCREEN: Screen = Screen {
    name: "Drift",
    title: |_| title().to_string(),
    about,
    commands: key_table,
    on_key: key_drift,
    render,
    // The plan's findings, as Review (where `c` goes) shows them.
    findings: super::review::findings,
    text_focus,
};

/// A host's name is being typed to confirm an action, a new key or a re-lay.
fn text_focus(m: &Model) -> bool {
    m.drift
        .as_ref()
        .is_some_and(|d| d.prepared.is_some() || d.accepting.is_some() || d.relaying.is_some())
}

fn about() -> String {
    "What changed on the hosts since the plan was saved (the same survey as rackstrap drift), each host with its states and the guided action. Choosing an action shows the core's quorum verdict and every command it would run (as rackstrap node ... --dry-run); it runs only once the host's name is typed. A refused action says why.".into()
}

/// The screen's keys; while a host's name is typed only the confirmation's.
fn key_table(m: &Model) -> Vec<Command> {
    use KeyCode::*;
    let d = m.drift.as_ref();
    let accepting = d.is_some_and(|d| d.accepting.is_some());
    let relaying = d.is_some_and(|d| d.relaying.is_some());
    let prepared = d.and_then(|d| d.prepared.as_ref());
    let refused = prepared.is_some_and(|p| matches!(p.verdict, Verdict::Refuse(_)));
    let choosing = !accepting && !relaying && prepared.is_none();
    let scrolls = d.is_some_and(|d| d.scroll_max.load(Ordering::Relaxed) > 0);
    vec![
        Command::new(
            &[Enter],
            "the host's name, Enter",
            "confirms: pins its new key (k), re-lays its disks (l) or runs the chosen action",
        )
        .footer_if(accepting, "type the name, Enter", "pin the new key")
        .footer_if(relaying, "type the name, Enter", "re-lay its disks")
        .footer_if(
            prepared.is_some() && !refused,
            "type the name, Enter",
            "run",
        ),
        Command::new(
            &[Esc],
            "Esc",
            "cancels the confirmation or chooses another action",
        )
        .footer_if(accepting || relaying, "Esc", "cancel")
        .footer_if(prepared.is_some(), "Esc", "other action"),
        Command::new(&[Up, Down], "Up/Down", "pick a host").footer_if(choosing, "↑↓", "host"),
        Command::new(&[Char('a')], "a", "adds the host to the cluster")
            .footer_if(choosing, "a", "add"),
        Command::new(&[Char('r')], "r", "removes it").footer_if(choosing, "r", "remove"),
        Command::new(&[Char('p')], "p", "replaces it").footer_if(choosing, "p", "replace"),
        Command::new(&[Char('k')], "k", "trusts the new host key it offers").footer_if(
            choosing,
            "k",
            "trust new key",
        ),
        Command::new(&[Char('c')], "c", "continues to Review").footer_if(
            choosing,
            "c",
            "to Review",
        ),
        Command::new(&[Char('s')], "s", "surveys again").footer_if(choosing, "s", "survey again"),
        Command::new(&[Char('l')], "l", "re-lays a reinstalled host's disks").footer_if(
            choosing,
            "l",
            "re-lay disks",
        ),
        Command::new(&[PageUp, PageDown], "PgUp/PgDn", "scroll the details").footer_if(
            scrolls,
            "PgUp PgDn",
            "scroll",
        ),
    ]
}

pub fn key_drift(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let d = m.drift.as_mut()?;
    // The details pane scrolls in every mode (a page less one row, so a line stays in view).
    let page = 8;
    match key.code {
        KeyCode::PageDown => {
            d.scroll = d
                .scroll
                .saturating_add(page)
                .min(d.scroll_max.load(Ordering::Relaxed));
            return None;
        }
        KeyCode::PageUp => {
            d.scroll = d
                .scroll
                .min(d.scroll_max.load(Ordering::Relaxed))
                .saturating_sub(page);
            return None;
        }
        _ => {}
    }
    if d.running {
        return None;
    }
    if d.accepting.is_some() || d.relaying.is_some() || d.prepared.is_some() {
        return key_confirming(m, key);
    }
    key_choosing(m, key)
}

/// A host's name is being typed to confirm a new key, a re-lay or an action.
fn key_confirming(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let plan = m.plan.clone();
    let plan_path = m.plan_path.clone();
    let d = m.drift.as_mut()?;
    if let Some((name, offered)) = d.accepting.clone() {
        match key.code {
            KeyCode::Esc => {
                d.accepting = None;
                d.confirm = Input::default();
            }
            KeyCode::Enter if d.confirm.value() == name => {
                d.accepting = None;
                d.confirm = Input::default();
                d.report = None;
                d.accepted.push(name.clone());
                return Some(Effect::AcceptKey {
                    plan,
                    name,
                    offered,
                    accepted: d.accepted.clone(),
                });
            }
            KeyCode::Enter => m.status = Some(format!("type {name} to pin its new key")),
            _ => {
                crate::tui::update::handle_input(&mut d.confirm, key);
            }
        }
        return None;
    }
    if let Some(name) = d.relaying.clone() {
        match key.code {
            KeyCode::Esc => {
                d.relaying = None;
                d.confirm = Input::default();
            }
            KeyCode::Enter if d.running => {}
            KeyCode::Enter if d.confirm.value() == name => {
                d.running = true;
                d.log = vec![format!("running relay {name}…")];
                return Some(Effect::Relay {
                    plan,
                    plan_path,
                    name,
                });
            }
            KeyCode::Enter => m.status = Some(format!("type {name} to re-lay its disks")),
            _ => {
                crate::tui::update::handle_input(&mut d.confirm, key);
            }
        }
        return None;
    }
    if let Some(p) = &d.prepared {
        match key.code {
            KeyCode::Esc => {
                d.prepared = None;
                d.confirm = Input::default();
                d.scroll = 0;
            }
            KeyCode::Enter => {
                if matches!(p.verdict, Verdict::Refuse(_)) {
                    return None;
                }
                // The host's name, typed: the confirmation for every action here.
                if d.confirm.value() != p.node {
                    m.status = Some(format!("type {} to run this action", p.node));
                    return None;
                }
                d.running = true;
                d.log = vec![format!("running {} {}…", p.kind.as_str(), p.node)];
                return Some(Effect::Recover {
                    prepared: Box::new(p.clone()),
                    plan,
                    plan_path,
                });
            }
            _ => {
                crate::tui::update::handle_input(&mut d.confirm, key);
            }
        }
        return None;
    }
    None
}

/// Choosing a host and what to do about it.
fn key_choosing(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let plan = m.plan.clone();
    let d = m.drift.as_mut()?;
    let hosts = d.report.as_ref().map_or(0, |r| r.hosts.len());
    let kind = match key.code {
        KeyCode::Up => {
            d.cursor = d.cursor.saturating_sub(1);
            d.scroll = 0;
            return None;
        }
        KeyCode::Down => {
            d.cursor = (d.cursor + 1).min(hosts.saturating_sub(1));
            d.scroll = 0;
            return None;
        }
        KeyCode::Char('c') => {
            m.drift = None;
            return None;
        }
        KeyCode::Char('s') => {
            d.report = None;
            d.log.clear();
            return Some(Effect::Survey {
                plan,
                accepted: d.accepted.clone(),
            });
        }
        KeyCode::Char('k') => {
            let offered = selected(m, m.drift.as_ref()?).and_then(|h| {
                h.states.iter().find_map(|s| match s {
                    recovery::drift::Drift::HostKeyChanged { offered, .. }
                    | recovery::drift::Drift::HostKeyNotPinned { offered } => {
                        Some((h.name.clone(), offered.clone()))
                    }
                    _ => None,
                })
            });
            match offered {
                Some(o) => {
                    let d = m.drift.as_mut()?;
                    d.accepting = Some(o);
                    d.confirm = Input::default();
                }
                None => m.status = Some("this host offers no new key".into()),
            }
            return None;
        }
        KeyCode::Char('l') => {
            let d = m.drift.as_mut()?;
            let report = d.report.as_ref()?;
            let host = report.hosts.get(d.cursor)?.name.clone();
            match recovery::relay::decide(&plan, report, &host) {
                Ok(_) => {
                    d.relaying = Some(host);
                    d.confirm = Input::default();
                    d.scroll = 0;
                }
                Err(e) => m.status = Some(format!("relay refused: {e}")),
            }
            return None;
        }
        KeyCode::Char('a') => Kind::Add,
        KeyCode::Char('r') => Kind::Remove,
        KeyCode::Char('p') => Kind::Replace,
        _ => return None,
    };
    let report = d.report.as_ref()?;
    let host = report.hosts.get(d.cursor)?.name.clone();
    // A changed key is confirmed here, with `k`: the refusal says so, not the CLI's way.
    let standing =
        Standing::from_report_saying(report, &|name| format!("select {name} and press k"));
    match recovery::prepare(&plan, &standing, kind, &host) {
        Ok(p) => {
            d.prepared = Some(p);
            d.confirm = Input::default();
            d.scroll = 0;
        }
        Err(e) => m.status = Some(e.to_string()),
    }
    None
}
