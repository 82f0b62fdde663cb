//! The wizard's one transition function, and how a message reaches a screen.
//!
//! ```text
//!  key ─► Msg::Key ─► update ─► on_key ─► popup (popups::on_popup_key)
//!                                      └─► the screen shown (screens::current(m).on_key)
//!                                                │
//!                     Model changed in place ◄───┴─► Option<Effect> ─► effects::Executor
//!  task answers (host found, stage output, file saved) ─► Msg ─► update ─► ...
//! ```
//!
//! `update` applies one message and may return one `Effect` for the event loop to run; the
//! effect's task answers with more messages. Moving on (`next`) and starting, retrying or
//! aborting a run (`start`, `confirmed`) live here because several screens and popups share
//! them; what Esc does is each screen's own. Nothing here does IO.

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::effects::{Action, Effect};
use super::model::{LogPane, Model, Msg, Row, StallQuestion, Step};
use super::popups::{Popup, on_popup_key};
use super::screens;
use super::secret::Masked;
use super::text;
use crate::discover::HostState;
use crate::net;
use crate::plan::Plan;
use crate::provision::stage::reports_on;
use crate::provision::{Event, EventKind, StageId, StepState};

pub(crate) fn handle_input(input: &mut Input, key: KeyEvent) -> bool {
    input.handle_event(&TermEvent::Key(key)).is_some()
}

/// Applies one message. Returns the side effect to run, if any.
pub fn update(m: &mut Model, msg: Msg) -> Option<Effect> {
    match msg {
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return None;
            }
            m.status = None;
            on_key(m, key)
        }
        Msg::Resize(w, h) => {
            m.size = (w, h);
            screens::review::clamp_review_scroll(m);
            None
        }
        Msg::Discovered(d) => {
            discovered(m, d);
            None
        }
        Msg::DiscoveryDone => discovery_done(m),
        Msg::DiscoveryFailed(e) => {
            m.discover.scanning = false;
            m.discover.error = Some(e);
            None
        }
        Msg::Provision(events) => {
            for e in events {
                apply_event(m, e);
            }
            None
        }
        Msg::KeyChecked { path, check } => {
            m.access.key_check = Some((path, check));
            None
        }
        Msg::AgentIdentities(found) => {
            m.access.agent = Some(found);
            None
        }
        Msg::MachineChecked(found) => {
            m.review.machine = found;
            screens::review::clamp_review_scroll(m);
            // Then what the tree itself says (its release, its Ansible, Kubespray's own
            // inventory checks), on real hosts and while Review is open.
            (m.step == Step::Review && !m.is_demo()).then(|| Effect::CheckKubespray {
                plan: m.plan.clone(),
            })
        }
        Msg::Opened => match &m.drift {
            Some(d) if d.report.is_none() => Some(Effect::Survey {
                plan: m.plan.clone(),
                accepted: d.accepted.clone(),
            }),
            _ => None,
        },
        Msg::Drift(report) => {
            if let Some(d) = m.drift.as_mut() {
                d.cursor = d.cursor.min(report.hosts.len().saturating_sub(1));
                d.report = Some(report);
            }
            None
        }
        Msg::RecoveryDone { lines, result } => {
            recovery_done(m, lines, result);
            None
        }
        Msg::RunFailed(e) => {
            m.status = Some(e);
            None
        }
        Msg::RunEnded => {
            m.provision.running = false;
            if m.provision.finished() {
                m.status = Some(text::RUN_FINISHED.into());
            }
            None
        }
        Msg::PassphraseNeeded { key, reply } => {
            // A prompt still open for an earlier request is dropped: dropping its reply
            // tells that task the prompt was cancelled.
            let retry = m.passphrase_answered.as_ref() == Some(&key);
            let behind = match m.popup.take() {
                Some(Popup::Passphrase { behind, .. }) => behind,
                other => other.map(Box::new),
            };
            m.popup = Some(Popup::Passphrase {
                key,
                input: Masked::default(),
                reply,
                retry,
                behind,
            });
            None
        }
        Msg::KubesprayChecked(findings) => {
            m.review.kubespray = findings;
            None
        }
        Msg::KubesprayNeed(need) => {
            super::prepare::on_need(m, need);
            None
        }
        Msg::Preparing(e) => super::prepare::on_event(m, e),
        Msg::Saved(r) => {
            match r {
                Ok(p) => {
                    m.status = Some(format!("{} {}", text::SAVED, p.display()));
                    m.plan_path = Some(p.clone());
                    m.review.saved = Some(p);
                    m.review.written = true;
                    m.review.on_disk = Some(Box::new(m.plan.clone()));
                    m.review.save_error = None;
                }
                Err(e) => m.review.save_error = Some(e),
            }
            None
        }
    }
}

/// A host answered the scan: its row replaces the one before, in the operator's order.
fn discovered(m: &mut Model, d: crate::discover::Discovered) {
    let pinned_now = m.discover.pinning.remove(&d.address) && d.state == HostState::Ok;
    let accepted = pinned_now
        || m.rows
            .iter()
            .find(|r| r.found.address == d.address)
            .map(|r| r.accepted)
            .unwrap_or(false);
    let accepted =
        accepted || (m.discover.accept_all && d.state == HostState::Ok && d.facts.is_some());
    m.rows.retain(|r| r.found.address != d.address);
    m.rows.push(Row { found: d, accepted });
    let targets = m.discover.scanned.clone().unwrap_or_default();
    m.rows.sort_by_key(|r| {
        (
            target_index(&targets, &r.found.address),
            address_key(&r.found.address),
        )
    });
}

/// The scan ended: the table gets focus, and new keys accepted meanwhile are pinned now.
fn discovery_done(m: &mut Model) -> Option<Effect> {
    m.discover.scanning = false;
    m.discover.table_focus = true;
    // New keys accepted while the scan ran (`a`, Space) are pinned now.
    let mut pin = std::mem::take(&mut m.discover.pin_after);
    if std::mem::take(&mut m.discover.accept_all) {
        pin.extend(
            m.rows
                .iter()
                .filter(|r| r.found.state == HostState::UnknownHostKey)
                .map(|r| r.found.address.clone()),
        );
    }
    let pin: Vec<String> = pin
        .into_iter()
        .filter(|a| {
            m.rows
                .iter()
                .any(|r| r.found.address == *a && r.found.state == HostState::UnknownHostKey)
        })
        .collect();
    if pin.is_empty() {
        None
    } else {
        screens::discover::pin(m, pin)
    }
}

/// A recovery action ended: its lines on the Drift screen, and the plan the core saved.
fn recovery_done(m: &mut Model, lines: Vec<String>, result: Result<(), String>) {
    let demo = m.is_demo();
    let mut saved = None;
    if let Some(d) = m.drift.as_mut() {
        d.running = false;
        d.log = lines;
        if result.is_ok() {
            d.relaying = None;
        }
        match result {
            Ok(()) => {
                if let Some(p) = d.prepared.take() {
                    d.log.push(format!("{} {}: done", p.kind.as_str(), p.node));
                    if !demo {
                        saved = Some(p.plan_after);
                    }
                }
                d.confirm = Input::default();
            }
            Err(e) => d.log.push(format!("failed: {e}; the plan was not changed")),
        }
    }
    if let Some(plan) = saved {
        // The core saved it; the wizard goes on with what was saved.
        m.plan = plan;
    }
}

/// Which typed entry an address came from, so the table (and the plan) keep the operator's order.
fn target_index(targets: &str, address: &str) -> usize {
    let ip = address
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| net::Entry::Single(ip).bounds().0);
    targets
        .split(',')
        .position(|t| {
            let t = t.trim();
            t == address
                || match (ip, net::parse_entries(t)) {
                    (Some(x), Ok(e)) => e.iter().any(|(_, e)| {
                        let (lo, hi) = e.bounds();
                        lo <= x && x <= hi
                    }),
                    _ => false,
                }
        })
        .unwrap_or(usize::MAX)
}

fn address_key(a: &str) -> (u8, u128, String) {
    match a.parse::<std::net::IpAddr>() {
        Ok(ip) => (0, net::Entry::Single(ip).bounds().0, String::new()),
        Err(_) => (1, 0, a.to_string()),
    }
}

fn apply_event(m: &mut Model, e: Event) {
    let p = &mut m.provision;
    let pane = match p.panes.iter_mut().find(|x| x.host == e.host) {
        Some(x) => x,
        None => {
            p.panes.push(LogPane {
                host: e.host.clone(),
                follow: true,
                ..Default::default()
            });
            let Some(x) = p.panes.last_mut() else { return };
            x
        }
    };
    // Output from a stalled step, or its end, closes the question about it.
    if matches!(e.kind, EventKind::Log { .. } | EventKind::Finished { .. }) {
        p.stalls.retain(|q| q.host != e.host || q.stage != e.stage);
    }
    match e.kind {
        EventKind::Stalled {
            command,
            quiet_secs,
            limit_secs,
            asking,
        } => {
            let notice = crate::provision::stall::stall_notice(
                &command,
                std::time::Duration::from_secs(quiet_secs),
                std::time::Duration::from_secs(limit_secs),
                asking,
            );
            pane.push(format!("\x1b[33m{notice}\x1b[0m"));
            if asking {
                p.stalls.retain(|q| q.host != e.host || q.stage != e.stage);
                p.stalls.push(StallQuestion {
                    host: e.host,
                    stage: e.stage,
                    command,
                    quiet_secs,
                    limit_secs,
                });
            }
        }
        EventKind::Started => {
            p.grid.insert((e.host.clone(), e.stage), StepState::Running);
            pane.push(format!("\x1b[1m── {} ──\x1b[0m", e.stage.title()));
        }
        EventKind::Log { lines, .. } => {
            for line in lines {
                pane.push(line);
            }
        }
        EventKind::Progress { done, total, .. } => pane.progress = Some((done, total)),
        EventKind::Finished { state, message } => {
            let ran = p.grid.get(&(e.host.clone(), e.stage)) == Some(&StepState::Running);
            let failed_here = p
                .grid
                .iter()
                .any(|((h, _), st)| *h == e.host && *st == StepState::Failed);
            // A host that failed shows its failure last; its own waiting steps are noise.
            let noise = state == StepState::Pending && failed_here;
            if !ran && !message.is_empty() && state != StepState::Failed && !noise {
                // A step that did not run here says why: it waits for a failed host, or
                // it was done in an earlier run.
                pane.push(format!("\x1b[2m── {}: {message}\x1b[0m", e.stage.title()));
            }
            if state == StepState::Failed {
                pane.push(format!(
                    "\x1b[31m✗ {} failed: {message}\x1b[0m",
                    e.stage.title()
                ));
                p.failed_stage = Some(p.failed_stage.map_or(e.stage, |s| s.min(e.stage)));
            }
            p.grid.insert((e.host.clone(), e.stage), state);
            p.messages.insert((e.host, e.stage), message);
        }
    }
}

fn on_key(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // Ctrl+C asks to quit from anywhere, popups with text fields included; closing a popup
    // this way cancels it (a passphrase prompt answers "cancelled").
    if ctrl && key.code == KeyCode::Char('c') && !matches!(m.popup, Some(Popup::Quit)) {
        if let Some(Popup::Passphrase { reply, .. }) = m.popup.take() {
            m.popup = Some(Popup::Quit);
            return Some(Effect::AnswerPassphrase {
                reply,
                passphrase: None,
            });
        }
        m.popup = Some(Popup::Quit);
        return None;
    }
    if let Some(popup) = m.popup.take() {
        return on_popup_key(m, popup, key);
    }
    if ctrl && key.code == KeyCode::Char('c') {
        m.popup = Some(Popup::Quit);
        return None;
    }
    if key.code == KeyCode::F(1) {
        m.popup = Some(Popup::Help);
        return None;
    }
    if key.code == KeyCode::F(2) {
        m.popup = Some(Popup::Findings);
        return None;
    }
    if !screens::is_text_focus(m) {
        match key.code {
            KeyCode::Char('q') => {
                m.popup = Some(Popup::Quit);
                return None;
            }
            KeyCode::Char('?') => {
                m.popup = Some(Popup::Help);
                return None;
            }
            _ => {}
        }
    }
    (screens::current(m).on_key)(m, key)
}

/// What the wizard asks for as it opens: a plan reopened at Review gets Kubespray's
/// findings, as arriving at Review does.
pub fn on_start(m: &mut Model) -> Option<Effect> {
    (m.step == Step::Review && !m.is_demo()).then(|| Effect::CheckKubespray {
        plan: m.plan.clone(),
    })
}

/// Moves to the next step when the current one has no errors.
pub(crate) fn next(m: &mut Model) -> Option<Effect> {
    if m.has_errors() {
        m.status = Some(text::FIX_ERRORS.into());
        return None;
    }
    if m.step == Step::Review && !m.is_demo() && m.review.saved.is_none() {
        // Real runs keep their state and full logs next to the saved plan.
        m.status = Some(text::SAVE_FIRST.into());
        return None;
    }
    match m.step {
        Step::Discover | Step::Hosts => m.sync_hosts(),
        Step::Access => m.sync_access(),
        _ => {}
    }
    m.step = m.step.next();
    if m.step > m.reached {
        m.reached = m.step;
    }
    if m.step == Step::Review {
        // Whether every stage can start on this machine, said here before anything runs;
        // on real hosts the Kubespray tree is asked next (`Msg::MachineChecked`).
        m.review.kubespray.clear();
        return Some(Effect::CheckMachine {
            plan: m.plan.clone(),
        });
    }
    if m.step == Step::Provision && m.provision.panes.is_empty() {
        m.provision.panes = m
            .plan
            .hosts
            .iter()
            .map(|h| LogPane {
                host: h.name.clone(),
                follow: true,
                ..Default::default()
            })
            .collect();
    }
    None
}

pub(crate) fn cycle<T: Copy + PartialEq>(all: &[T], v: T) -> T {
    let i = all.iter().position(|x| *x == v).unwrap_or(0);
    all[(i + 1) % all.len()]
}

/// Hosts whose storage stage formats disks (every layout does; `wipe` also destroys data
/// already there): the run asks for each host's name first, and the runner refuses the
/// stage on hosts not confirmed this way.
fn destructive_hosts(plan: &Plan) -> Vec<String> {
    plan.hosts
        .iter()
        .filter(|h| !h.storage.is_empty())
        .map(|h| h.name.clone())
        .collect()
}

pub(crate) fn start(m: &mut Model, action: Action) -> Option<Effect> {
    let selection = m.run_selection();
    if matches!(action, Action::RunStages { .. }) {
        if selection.is_empty() {
            m.status = Some(text::nothing_selected(screens::provision::stage_keys()));
            return None;
        }
        if let Some(b) = m.machine_blockers().first() {
            m.status = Some(format!(
                "{} cannot run on this machine: {}. {}",
                b.stage.title(),
                b.problem,
                text::LEAVE_STAGE_OUT
            ));
            // Look again, so a fix made meanwhile (a checkout cloned, a venv on PATH) counts
            // at the next Enter.
            return Some(Effect::CheckMachine {
                plan: m.plan.clone(),
            });
        }
    }
    // Hosts confirmed earlier in this session are not asked again (a retry, a skip).
    let wipes: Vec<String> = destructive_hosts(&m.plan)
        .into_iter()
        .filter(|h| !m.provision.consent.contains(h) && selection.has_host(h))
        .collect();
    let touches_storage = match &action {
        Action::RunStages { from, .. } => {
            *from <= StageId::Storage && selection.has_stage(StageId::Storage)
        }
        Action::Abort | Action::Skip { .. } | Action::ApplyToSame => false,
    };
    if touches_storage && !wipes.is_empty() {
        m.popup = Some(Popup::Confirm {
            action,
            what: text::CONFIRM_WIPE.into(),
            hosts: wipes,
            input: Input::default(),
        });
        return None;
    }
    confirmed(m, action)
}

/// The second step of a destructive action: the operator has confirmed.
pub(crate) fn confirmed(m: &mut Model, action: Action) -> Option<Effect> {
    match action {
        Action::RunStages { from, hosts } => {
            let selection = m.run_selection();
            let p = &mut m.provision;
            p.running = true;
            p.started = true;
            p.failed_stage = None;
            for h in m.plan.hosts.iter() {
                if hosts.is_empty() || hosts.contains(&h.name) {
                    // Verify and load balancer report on the first control plane only.
                    for s in StageId::ALL
                        .into_iter()
                        .filter(|s| *s >= from && reports_on(&m.plan, *s, &h.name))
                    {
                        // What the operator left out of this run is shown as skipped.
                        let st = if selection.covers(s, &h.name) {
                            StepState::Pending
                        } else {
                            StepState::Skipped
                        };
                        p.grid.insert((h.name.clone(), s), st);
                    }
                }
            }
            Some(Effect::RunStages {
                plan: m.plan.clone(),
                from,
                hosts,
                consent: p.consent.clone(),
                plan_path: m.plan_path.clone(),
                facts: m.facts.clone(),
                sudo_password: m.access.sudo_password(),
                selection,
            })
        }
        Action::ApplyToSame => {
            screens::storage::apply_to_same(m, true);
            None
        }
        Action::Skip { stage } => {
            // The failed steps count as skipped (and are remembered as such, apart from steps
            // with nothing to do); the run goes on with the next stage.
            let p = &mut m.provision;
            for (key, st) in p.grid.iter_mut().filter(|(_, s)| **s == StepState::Failed) {
                *st = StepState::Skipped;
                let why = p.messages.get(key).cloned().unwrap_or_default();
                p.skipped.insert(key.clone(), why);
            }
            p.failed_stage = None;
            match StageId::ALL.into_iter().find(|s| *s > stage) {
                Some(from) => confirmed(
                    m,
                    Action::RunStages {
                        from,
                        hosts: vec![],
                    },
                ),
                None => None,
            }
        }
        Action::Abort => {
            let p = &mut m.provision;
            // What was running stops where it is: it counts as failed, so r retries it.
            for ((host, stage), st) in p.grid.iter_mut() {
                if *st == StepState::Running {
                    *st = StepState::Failed;
                    p.messages
                        .insert((host.clone(), *stage), text::ABORTED.into());
                    p.failed_stage = Some(p.failed_stage.map_or(*stage, |s| s.min(*stage)));
                }
            }
            m.provision.running = false;
            m.status = Some(text::ABORTED.into());
            Some(Effect::AbortRun)
        }
    }
}

#[cfg(test)]
mod tests;
