//! The Kubespray control machine, made ready from the wizard: when the plan's
//! `cluster.kubespray.path` is missing or has no fitting virtualenv, Enter on Review offers
//! to prepare it before Provision, showing the commands it will run; `y` runs the core's
//! [`crate::kubespray::prepare::prepare`] (the same function as `rackstrap kubespray
//! prepare`) on a task, its steps and every command's output in a log popup and in
//! `.rackstrap/<plan>/kubespray-prepare.log` beside a saved plan. Success re-checks the tree
//! so Review's findings clear; a failure shows the core's message (it says what to do).
//!
//! ```text
//!  Review opens ─► Effect::CheckKubespray ─► Msg::KubesprayNeed(Some(need))
//!  Enter ─► Popup::Prepare (the offer) ─► y ─► Effect::PrepareKubespray
//!        ─► Msg::Preparing(Log … , Ended) ─► Effect::CheckKubespray ─► findings clear
//! ```
//!
//! The demo lab touches nothing on this machine: it never offers.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::effects::Effect;
use super::model::{LogPane, Model};
use super::popups::Popup;
use super::widgets::{Look, log_pane, style, wrap};
use crate::kubespray::prepare::{self, Need};

/// What the task tells the wizard while it prepares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepareEvent {
    /// A step began (the command it runs, or what it found).
    Step(String),
    /// A line of the log: steps and each command's output.
    Log(String),
    /// Done: what is ready, or what failed and what to do.
    Ended(Result<String, String>),
}

#[derive(Debug, Clone)]
pub struct PrepareState {
    /// What the tree needs, as the last check found (`None`: ready, or nothing to offer).
    pub need: Option<Need>,
    /// Where Kubespray is cloned from, and the interpreter its virtualenv is made with: the
    /// defaults of `rackstrap kubespray prepare`.
    pub url: String,
    pub python: String,
    pub running: bool,
    /// The latest step.
    pub step: Option<String>,
    pub pane: LogPane,
    pub result: Option<Result<String, String>>,
    /// The operator chose to go on without preparing: Enter is not asked again.
    pub declined: bool,
}

impl Default for PrepareState {
    fn default() -> Self {
        Self {
            need: None,
            url: prepare::UPSTREAM.into(),
            python: "python3".into(),
            running: false,
            step: None,
            pane: LogPane {
                host: "kubespray".into(),
                follow: true,
                ..Default::default()
            },
            result: None,
            declined: false,
        }
    }
}

/// The check found what the tree needs.
pub fn on_need(m: &mut Model, need: Option<Need>) {
    if need != m.prepare.need {
        m.prepare.declined = false;
    }
    m.prepare.need = need;
}

/// Opens the offer when the tree needs preparing and the operator has not declined it.
/// True when it did (Enter on Review stops there).
pub fn offer(m: &mut Model) -> bool {
    if m.is_demo() || m.prepare.need.is_none() || m.prepare.declined || m.prepare.running {
        return false;
    }
    m.prepare.result = None;
    m.popup = Some(Popup::Prepare);
    true
}

/// The run's messages.
pub fn on_event(m: &mut Model, e: PrepareEvent) -> Option<Effect> {
    let p = &mut m.prepare;
    match e {
        PrepareEvent::Step(s) => p.step = Some(s),
        PrepareEvent::Log(l) => p.pane.push(l),
        PrepareEvent::Ended(r) => {
            p.running = false;
            let ok = r.is_ok();
            p.result = Some(r);
            if ok {
                p.need = None;
                // Review's findings about the tree came from before: ask again.
                return Some(Effect::CheckKubespray {
                    plan: m.plan.clone(),
                });
            }
        }
    }
    None
}

/// Keys while the popup is open: the offer's y / n / Esc; nothing while it runs (Ctrl+C
/// still quits); Enter or Esc closes the result.
pub(crate) fn on_key(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let p = &mut m.prepare;
    if p.running {
        m.popup = Some(Popup::Prepare);
        return None;
    }
    if let Some(r) = &p.result {
        match key.code {
            KeyCode::Enter | KeyCode::Esc => {
                m.status = Some(match r {
                    Ok(_) => super::text::PREPARED.into(),
                    Err(_) => super::text::PREPARE_FAILED.into(),
                });
            }
            _ => m.popup = Some(Popup::Prepare),
        }
        return None;
    }
    match key.code {
        KeyCode::Char('y') | KeyCode::Enter => {
            p.running = true;
            p.step = None;
            p.pane = PrepareState::default().pane;
            m.popup = Some(Popup::Prepare);
            Some(Effect::PrepareKubespray {
                plan: m.plan.clone(),
                url: p.url.clone(),
                python: p.python.clone(),
                log: m
                    .plan_path
                    .as_deref()
                    .map(|f| crate::provision::state::state_dir(f).join(prepare::LOG)),
            })
        }
        KeyCode::Char('n') => {
            p.declined = true;
            super::update::next(m)
        }
        KeyCode::Esc => None,
        _ => {
            m.popup = Some(Popup::Prepare);
            None
        }
    }
}

/// The offer, or the run's step and log, over the screen.
pub fn render_popup(m: &Model, f: &mut Frame, area: Rect) {
    let p = &m.prepare;
    let width = area.width.saturating_sub(4).min(100);
    let inner_width = width.saturating_sub(2) as usize;
    let title = format!(" Kubespray {} ", m.plan.cluster.kubespray.version);
    let (lines, height) = if !p.running && p.result.is_none() {
        let lines = offer_lines(m, inner_width);
        let h = lines.len() as u16 + 2;
        (lines, h)
    } else {
        let h = area.height.saturating_sub(2);
        (run_lines(m, inner_width, h.saturating_sub(2) as usize), h)
    };
    let height = height.min(area.height);
    let rect = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    f.render_widget(Clear, rect);
    let block = Block::default().borders(Borders::ALL).title(title);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn offer_lines(m: &Model, width: usize) -> Vec<Line<'static>> {
    let p = &m.prepare;
    let path = crate::kubespray::Tree::of(&m.plan).path;
    let why = match p.need {
        Some(Need::Virtualenv) => format!(
            "{} has no virtualenv whose Ansible fits {}.",
            path.display(),
            m.plan.cluster.kubespray.version
        ),
        _ => format!("{} is not there yet.", path.display()),
    };
    let mut out: Vec<Line> = wrap(&why, width, "", "")
        .into_iter()
        .map(Line::from)
        .collect();
    out.push(Line::from(
        "Provision runs Kubespray from it. Prepare it now:",
    ));
    if let Some(need) = p.need {
        for c in prepare::commands(&m.plan, &p.url, &p.python, need) {
            out.extend(
                wrap(&c, width, "  $ ", "      ")
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim)))),
            );
        }
    }
    out.push(Line::from(
        "then checks the virtualenv's Ansible fits the release.",
    ));
    out.push(Line::from(""));
    out.push(Line::from(vec![
        Span::styled("y", style(m.theme, Look::Key)),
        Span::raw(" prepare   "),
        Span::styled("n", style(m.theme, Look::Key)),
        Span::raw(" go on without   "),
        Span::styled("Esc", style(m.theme, Look::Key)),
        Span::raw(" stay on Review"),
    ]));
    out
}

fn run_lines(m: &Model, width: usize, height: usize) -> Vec<Line<'static>> {
    let p = &m.prepare;
    let (head, look) = match (&p.result, &p.step) {
        (Some(Ok(s)), _) => (format!("✓ {s}"), Look::Ok),
        (Some(Err(_)), _) => ("✗ prepare failed".to_string(), Look::Error),
        (None, Some(s)) => (format!("… {s}"), Look::Title),
        (None, None) => ("… starting".to_string(), Look::Title),
    };
    let head: Vec<Line> = wrap(&head, width, "", "  ")
        .into_iter()
        .map(|l| Line::from(Span::styled(l, style(m.theme, look))))
        .collect();
    let mut foot: Vec<Line> = Vec::new();
    match &p.result {
        Some(Err(e)) => {
            foot.extend(
                wrap(e, width, "", "")
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Error)))),
            );
            foot.push(Line::from("Enter/Esc close"));
        }
        Some(Ok(_)) => foot.push(Line::from("Enter/Esc close; Enter on Review goes on")),
        None => foot.push(Line::from(Span::styled(
            "running: this takes a minute or two (Ctrl+C quits)",
            style(m.theme, Look::Dim),
        ))),
    }
    let log_rows = height.saturating_sub(head.len() + foot.len());
    let mut out = head;
    let mut log = log_pane::visible(m.theme, &p.pane, log_rows, width, None);
    while log.len() < log_rows {
        log.push(Line::from(""));
    }
    out.extend(log);
    out.extend(foot);
    out
}

#[cfg(test)]
mod tests;
