//! Provision: stage x host states on top, one live log pane per host below (up to four at a
//! time, the focused one first). A stalled command's question sits between them: keep
//! waiting (w) or fail that host (x).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use tui_input::Input;

use crate::plan::{Code, Finding};
use crate::provision::{StageId, StallAnswer, StepState};
use crate::tui::effects::{Action, Effect};
use crate::tui::model::Model;
use crate::tui::popups::Popup;
use crate::tui::screens::{Command, Screen, back, step_title};
use crate::tui::text;
use crate::tui::update::{next, start};
use crate::tui::widgets::{Look, fit, log_pane, style};

/// The grid's glyph for one step; a step the operator skipped after it failed has its own.
fn mark(p: &crate::tui::model::ProvisionState, host: &str, stage: StageId) -> (&'static str, Look) {
    let s = p.state(host, stage);
    if s == StepState::Skipped && p.skipped.contains_key(&(host.to_string(), stage)) {
        return (text::SKIPPED_GLYPH, Look::Warn);
    }
    match s {
        StepState::Pending => ("·", Look::Dim),
        StepState::Running => ("▶", Look::Warn),
        StepState::Done => ("✓", Look::Ok),
        StepState::Failed => ("✗", Look::Error),
        StepState::Skipped => ("–", Look::Dim),
    }
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let p = &m.provision;
    let grid_rows = (p.panes.len().min(4) + 1) as u16;
    let asking = if p.started && !p.stalls.is_empty() {
        2
    } else {
        0
    };
    let [grid, question, panes_area] = Layout::vertical([
        Constraint::Length(grid_rows),
        Constraint::Length(asking),
        Constraint::Min(4),
    ])
    .areas(area);
    if asking > 0 {
        render_question(m, f, question);
    }
    let col = if area.width >= 110 { 14 } else { 10 };
    // Before the run, the stages and hosts the operator left out are drawn as such.
    let selection = m.run_selection();
    let mut lines = Vec::new();
    let mut head = vec![Span::styled(
        format!("{:<10}", "host"),
        style(m.theme, Look::Title),
    )];
    for s in StageId::ALL {
        // The last title has the rest of the row ("Load balancer" reads whole at 80).
        let room = if Some(&s) == StageId::ALL.last() {
            usize::from(area.width).saturating_sub(10 + col * (StageId::ALL.len() - 1))
        } else {
            col - 1
        };
        let title = s.title();
        let look = if p.started || selection.has_stage(s) {
            Look::Title
        } else {
            Look::Dim
        };
        head.push(Span::styled(
            format!("{:<col$}", fit(title, room)),
            style(m.theme, look),
        ));
    }
    lines.push(Line::from(head));
    let start = p
        .focus
        .saturating_sub(3)
        .min(p.panes.len().saturating_sub(4));
    for (i, pane) in p.panes.iter().enumerate().skip(start).take(4) {
        let name = if !p.started && i == p.focus {
            format!("▸{}", fit(&pane.host, 8))
        } else {
            fit(&pane.host, 9)
        };
        let mut row = vec![Span::raw(format!("{name:<10}"))];
        for s in StageId::ALL {
            let applies = crate::provision::stage::reports_on(&m.plan, s, &pane.host);
            let (sym, look) = if !applies {
                // The stage does not run on this host (verify on a worker, the ansible log).
                ("", Look::Dim)
            } else if !p.started && !selection.covers(s, &pane.host) {
                ("–", Look::Dim)
            } else {
                mark(p, &pane.host, s)
            };
            let extra = match (s, pane.progress) {
                (StageId::Kubespray, Some((d, Some(t))))
                    if p.state(&pane.host, s) == StepState::Running =>
                {
                    format!(" {d}/{t}")
                }
                _ => String::new(),
            };
            row.push(Span::styled(
                format!("{:<col$}", format!("{sym}{extra}")),
                style(m.theme, look),
            ));
        }
        lines.push(Line::from(row));
    }
    f.render_widget(Paragraph::new(lines), grid);

    if !p.started {
        return render_before(m, &selection, f, panes_area);
    }
    let shown: Vec<usize> = (start..p.panes.len()).take(4).collect();
    let cols = if shown.len() > 1 { 2 } else { 1 };
    let nrows = shown.len().div_ceil(cols).max(1);
    let rows = Layout::vertical(vec![Constraint::Ratio(1, nrows as u32); nrows]).split(panes_area);
    for (k, idx) in shown.iter().enumerate() {
        let r = rows[k / cols];
        let cells = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(r);
        let cell = cells[k % cols];
        let pane = &p.panes[*idx];
        let focused = *idx == p.focus;
        let state = if pane.follow { "follow" } else { "paused" };
        // A paused view at the oldest line held cannot stay put; say how much went by.
        let passed = match pane.passed_while_paused {
            0 => String::new(),
            n if !pane.follow => format!("{n} went by, see the log file · "),
            _ => String::new(),
        };
        let title = format!(
            " {} · {} · {passed}{} lines ",
            pane.host,
            state,
            pane.lines.len() + pane.dropped
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                style(m.theme, Look::Key)
            } else {
                style(m.theme, Look::Dim)
            })
            .title(title);
        let inner = block.inner(cell);
        let text = log_pane::visible(
            m.theme,
            pane,
            inner.height as usize,
            inner.width as usize,
            p.search.as_deref(),
        );
        f.render_widget(Paragraph::new(text).block(block), cell);
    }
}

/// Before the run: what Enter starts, each stage with its key, what cannot run here.
fn render_before(
    m: &Model,
    selection: &crate::provision::Selection,
    f: &mut Frame,
    panes_area: Rect,
) {
    let chosen = selection.stage_list();
    let everything = *selection == crate::provision::Selection::all(&m.plan);
    let mut l = vec![
        Line::from(if everything {
            "Nothing has run yet. Enter starts every stage on every host:".to_string()
        } else {
            format!(
                "Nothing has run yet. Enter starts {} on {}:",
                plural(chosen.len(), "stage"),
                plural(selection.hosts.len(), "host")
            )
        }),
        // Each stage with the number key that leaves it out or puts it back.
        Line::from(
            StageId::ALL
                .into_iter()
                .enumerate()
                .flat_map(|(i, s)| {
                    let (label, look) = if selection.has_stage(s) {
                        (format!("{} {}", i + 1, s.title()), Look::Title)
                    } else {
                        (format!("{} {} (left out)", i + 1, s.title()), Look::Dim)
                    };
                    let sep = if i == 0 { "" } else { "  " };
                    [Span::raw(sep), Span::styled(label, style(m.theme, look))]
                })
                .collect::<Vec<_>>(),
        ),
        Line::from(Span::styled(
            text::select_intro(stage_keys()),
            style(m.theme, Look::Dim),
        )),
    ];
    for b in m.machine_blockers() {
        l.push(Line::from(Span::styled(
            format!(
                "✗ {} cannot run on this machine: {}",
                b.stage.title(),
                b.problem
            ),
            style(m.theme, Look::Error),
        )));
        l.push(Line::from(format!("  what to do: {}", b.fix)));
    }
    if m.is_demo() {
        l.push(Line::from(Span::styled(
            "Demo: the lab plays recorded output; nothing is touched.",
            style(m.theme, Look::Warn),
        )));
    }
    f.render_widget(
        Paragraph::new(l).wrap(ratatui::widgets::Wrap { trim: false }),
        panes_area,
    );
}

/// The open question about a stalled command: which host, which command, how long it has
/// been quiet, and the two answers with their keys.
fn render_question(m: &Model, f: &mut Frame, area: Rect) {
    use crate::text::span;
    use std::time::Duration;
    let p = &m.provision;
    let Some(q) = p.stall_question() else {
        return;
    };
    let width = usize::from(area.width);
    // The time before the command: a long command is cut at the end, never the time.
    let head = format!(
        "⚠ {} · {} · stalled, quiet for {}: `{}`",
        q.host,
        q.stage.title(),
        span(Duration::from_secs(q.quiet_secs)),
        q.command,
    );
    let more = match p.stalls.len() {
        1 => String::new(),
        n => format!("   ({} more stalled)", n - 1),
    };
    let keys = vec![
        Span::styled("  w", style(m.theme, Look::Key)),
        Span::raw(format!(
            " keep waiting (another {})   ",
            span(Duration::from_secs(q.limit_secs))
        )),
        Span::styled("x", style(m.theme, Look::Key)),
        // Kubespray's playbook stalls under its pane, not a host: failing it fails them all.
        Span::raw(if m.plan.hosts.iter().any(|h| h.name == q.host) {
            format!(" fail {} (the other hosts go on){more}", q.host)
        } else {
            format!(" fail {} on every host{more}", q.stage.title())
        }),
    ];
    let lines = vec![
        Line::from(Span::styled(fit(&head, width), style(m.theme, Look::Warn))),
        Line::from(keys),
    ];
    f.render_widget(Paragraph::new(lines), area);
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

pub const SCREEN: Screen = Screen {
    name: "Provision",
    title: |m| step_title(m, "Provisioning"),
    about,
    commands: key_table,
    on_key: key_provision,
    render,
    findings,
    text_focus: |_| false,
};

/// What the grid's glyphs mean and what a stalled command is, with the limits the runner
/// uses.
fn about() -> String {
    use crate::provision::stages::kubespray::KUBESPRAY_STALL;
    use crate::provision::stall::{STALL_DEFAULT, STALL_ENV, STALL_PACKAGES, STALL_SLOW};
    use crate::text::span;
    format!(
        "Stage by host on top: · waiting, ▶ running, ✓ done, ✗ failed, – nothing to do there, {} skipped after it failed. One log pane per host below.\nA command that prints nothing and does not exit for its limit ({} for mkfs, mdadm, wipefs; {} for package installs; {} of silence from Kubespray; {} for the rest; {STALL_ENV} sets one limit for all) is stalled: the screen names the host, the command and how long it has been quiet, and asks: w waits another period of the same limit, x fails that host's step (r retries it later). The other hosts go on meanwhile; output from the command closes the question.",
        text::SKIPPED_GLYPH,
        span(STALL_SLOW),
        span(STALL_PACKAGES),
        span(KUBESPRAY_STALL),
        span(STALL_DEFAULT),
    )
}

/// The keys that leave a stage out or put it back: one digit per stage, in run order.
const STAGE_KEYS: [KeyCode; StageId::ALL.len()] = {
    let mut keys = [KeyCode::Null; StageId::ALL.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = KeyCode::Char((b'1' + i as u8) as char);
        i += 1;
    }
    keys
};

/// `1-N`, N the number of stages.
pub(crate) fn stage_keys() -> &'static str {
    static KEYS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| format!("1-{}", StageId::ALL.len()))
}

/// The stage a digit key stands for.
fn stage_of_key(c: char) -> Option<StageId> {
    let i = c.to_digit(10)?.checked_sub(1)?;
    StageId::ALL.get(usize::try_from(i).ok()?).copied()
}

/// The screen's keys. Which the footer shows depends on where the run is: before it, while
/// it runs (and while a stalled command asks), when it stopped on a failure, when it ended.
fn key_table(m: &Model) -> Vec<Command> {
    use KeyCode::*;
    let p = &m.provision;
    let before = !p.started;
    let asking = p.started && p.running && !p.stalls.is_empty();
    let running = p.started && p.running && p.stalls.is_empty();
    let finished = p.started && !p.running && p.finished();
    let failed = p.started && !p.running && !p.finished();
    vec![
        Command::new(&[Enter], "Enter", "starts").footer_if(before, "Enter", "start"),
        Command::new(
            &STAGE_KEYS,
            stage_keys(),
            "leave a stage out or put it back (before the run)",
        )
        .footer_if(before, stage_keys(), "stage"),
        Command::new(
            &[Char(' ')],
            "Space",
            "does the same for the host under the cursor",
        )
        .footer_if(before, "Space", "host"),
        Command::new(&[Char('w')], "w", "keeps waiting for a stalled command").footer_if(
            asking,
            "w",
            "keep waiting",
        ),
        Command::new(&[Char('x')], "x", "fails the stalled host's step").footer_if(
            asking,
            "x",
            "fail host",
        ),
        Command::new(&[Tab, BackTab], "Tab / Shift-Tab", "focus a log pane")
            .footer_if(!before, "Tab", "pane"),
        Command::new(
            &[Up, Down, PageUp, PageDown, Home],
            "Up/Down/PgUp/PgDn/Home",
            "scroll it (pauses follow)",
        )
        .footer_if(!before, "↑↓", "scroll"),
        Command::new(&[End, Char('f')], "End or f", "follows again")
            .footer_if(running, "f", "follow"),
        Command::new(&[Char('/')], "/", "searches").footer_if(
            running || finished || failed,
            "/",
            "search",
        ),
        Command::new(&[Char('n')], "n", "finds the next match"),
        Command::new(&[Char('r')], "r", "retries failed hosts").footer_if(failed, "r", "retry"),
        Command::new(&[Char('s')], "s", "skips the failed stage (asks)")
            .footer_if(failed, "s", "skip"),
        Command::new(&[Enter], "Enter", "at the end goes to the summary")
            .footer_if(finished, "Enter", "done"),
        Command::new(&[Char('a')], "a", "aborts (asks)").footer_if(asking || running, "a", "abort"),
        Command::new(
            &[Esc],
            "Esc",
            "back before the run starts, abort while it runs",
        )
        .footer_if(before, "Esc", "back"),
    ]
}

/// Every failed step, with why.
fn findings(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    for ((h, s), st) in &m.provision.grid {
        if *st == StepState::Failed {
            let msg = m
                .provision
                .messages
                .get(&(h.clone(), *s))
                .cloned()
                .unwrap_or_default();
            out.push(Finding::error(
                Code::E_STAGE_FAILED,
                h,
                format!("{h}: {} failed: {msg}", s.title()),
            ));
        }
    }
    out
}

/// Esc: back before the run starts; while stages run it asks to abort; after that the run
/// stays.
fn esc(m: &mut Model) -> Option<Effect> {
    let p = &m.provision;
    if p.running {
        m.popup = Some(Popup::Confirm {
            action: Action::Abort,
            hosts: vec![],
            what: text::ABORT_QUESTION.into(),
            input: Input::default(),
        });
        None
    } else if p.started {
        None
    } else {
        back(m)
    }
}

pub(crate) fn key_provision(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let p = &mut m.provision;
    let n = p.panes.len().max(1);
    let page = (m.size.1 / 3).max(1) as usize;
    match key.code {
        KeyCode::Esc => return esc(m),
        KeyCode::Enter if !p.started => {
            return start(
                m,
                Action::RunStages {
                    from: StageId::Preflight,
                    hosts: vec![],
                },
            );
        }
        KeyCode::Char(c) if !p.started && stage_of_key(c).is_some() => {
            let stage = stage_of_key(c)?;
            let mut sel = m.run_selection();
            sel.toggle_stage(stage);
            m.provision.selection = Some(sel);
        }
        KeyCode::Char(' ') if !p.started => {
            if let Some(host) = p.panes.get(p.focus).map(|pane| pane.host.clone()) {
                let mut sel = m.run_selection();
                sel.toggle_host(&host);
                m.provision.selection = Some(sel);
            }
        }
        KeyCode::Up if !p.started => p.focus = (p.focus + n - 1) % n,
        KeyCode::Down if !p.started => p.focus = (p.focus + 1) % n,
        KeyCode::Enter if p.finished() && !p.running => return next(m),
        KeyCode::Char('r') if !p.running => {
            let hosts = p.failed_hosts();
            if let (Some(from), false) = (p.failed_stage, hosts.is_empty()) {
                return start(m, Action::RunStages { from, hosts });
            }
        }
        KeyCode::Char('s') if !p.running => {
            // Skip asks first: the cluster will not be complete, and Done will say so.
            if let Some(stage) = p.failed_stage {
                m.popup = Some(Popup::Confirm {
                    what: text::skip_question(stage.title(), &p.failed_hosts()),
                    action: Action::Skip { stage },
                    hosts: vec![],
                    input: Input::default(),
                });
            }
        }
        KeyCode::Char(c @ ('w' | 'x')) if p.running => {
            let q = p.stall_question()?.clone();
            p.stalls.retain(|o| o.host != q.host || o.stage != q.stage);
            let answer = if c == 'w' {
                StallAnswer::Wait
            } else {
                StallAnswer::Fail
            };
            return Some(Effect::AnswerStall {
                host: q.host,
                stage: q.stage,
                answer,
            });
        }
        KeyCode::Char('a') if p.running => {
            m.popup = Some(Popup::Confirm {
                action: Action::Abort,
                hosts: vec![],
                what: text::ABORT_QUESTION.into(),
                input: Input::default(),
            });
        }
        KeyCode::Tab => p.focus = (p.focus + 1) % n,
        KeyCode::BackTab => p.focus = (p.focus + n - 1) % n,
        KeyCode::Char('f') => {
            if let Some(pane) = p.panes.get_mut(p.focus) {
                pane.follow = !pane.follow;
                pane.offset = 0;
                pane.passed_while_paused = 0;
            }
        }
        KeyCode::Up
        | KeyCode::PageUp
        | KeyCode::Down
        | KeyCode::PageDown
        | KeyCode::Home
        | KeyCode::End => {
            if let Some(pane) = p.panes.get_mut(p.focus) {
                let max = pane.lines.len().saturating_sub(1);
                let step = if matches!(key.code, KeyCode::PageUp | KeyCode::PageDown) {
                    page
                } else {
                    1
                };
                match key.code {
                    KeyCode::Up | KeyCode::PageUp => {
                        pane.follow = false;
                        pane.offset = (pane.offset + step).min(max);
                    }
                    KeyCode::Home => {
                        pane.follow = false;
                        pane.offset = max;
                    }
                    KeyCode::End => {
                        pane.follow = true;
                        pane.offset = 0;
                    }
                    _ => {
                        pane.offset = pane.offset.saturating_sub(step);
                        if pane.offset == 0 {
                            pane.follow = true;
                        }
                    }
                }
                if pane.follow {
                    pane.passed_while_paused = 0;
                }
            }
        }
        KeyCode::Char('/') => m.popup = Some(Popup::Search(Input::default())),
        KeyCode::Char('n') => search_next(m),
        _ => {}
    }
    None
}

/// Scrolls the focused pane up to the next older line containing the search text.
pub(crate) fn search_next(m: &mut Model) {
    let Some(needle) = m.provision.search.clone().filter(|s| !s.is_empty()) else {
        return;
    };
    let focus = m.provision.focus;
    let Some(pane) = m.provision.panes.get_mut(focus) else {
        return;
    };
    let len = pane.lines.len();
    let start = if pane.follow { 0 } else { pane.offset + 1 };
    for off in start..len {
        let line = &pane.lines[len - 1 - off];
        if crate::provision::log::strip_ansi(line)
            .to_lowercase()
            .contains(&needle.to_lowercase())
        {
            pane.follow = false;
            pane.offset = off;
            m.status = None;
            return;
        }
    }
    m.status = Some(format!("{} {needle:?}", text::NOT_FOUND));
}

#[cfg(test)]
mod tests {
    use crate::provision::log::strip_ansi;

    #[test]
    fn ansi_is_stripped_for_search() {
        assert_eq!(strip_ansi("\x1b[31mfailed=1\x1b[0m ok"), "failed=1 ok");
    }
}
