//! Drives the wizard's model the way the event loop does, with the demo lab answering the
//! effects synchronously, so tests walk the journey key by key.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rackstrap::lab::{Lab, LabRunner};
use rackstrap::provision::{Event, StageId};
use rackstrap::tui::effects::{Backend, Effect, Executor};
use rackstrap::tui::model::{Mode, Model, Msg, Step};
use rackstrap::tui::update::update;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// The lab's clock: as fast as it goes.
const SPEED: f64 = 1e6;

/// The longest an effect may take to answer before the test fails rather than hangs.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

pub struct Driver {
    pub m: Model,
    pub lab: Arc<Lab>,
    /// The demo backend's runner, which plays the pending stage runs.
    pub runner: LabRunner,
    /// Stage runs asked for, not yet played.
    pub pending_runs: Vec<Effect>,
    /// The lab's known_hosts, shared with the executor's demo backend.
    pub pinned: Arc<Mutex<BTreeSet<String>>>,
    rt: tokio::runtime::Runtime,
    exec: Executor,
    rx: UnboundedReceiver<Msg>,
}

impl Driver {
    pub fn demo(name: &str) -> Driver {
        let lab = Arc::new(Lab::builtin(name).unwrap());
        let mut m = Model::new(
            Mode::Demo {
                lab: lab.name.clone(),
                title: lab.title.clone(),
            },
            lab.seed_plan(),
            &lab.targets,
        );
        m.suggested_roles = lab.roles.clone();
        Driver::new(m, lab)
    }

    /// Drives `m` with the real executor on `lab`'s demo backend.
    pub fn new(mut m: Model, lab: Arc<Lab>) -> Driver {
        m.theme.color = false;
        let runner = LabRunner::new(lab.clone(), SPEED);
        let pinned: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let backend = Backend::Demo {
            lab: lab.clone(),
            runner: runner.clone(),
            speed: SPEED,
            pinned: pinned.clone(),
        };
        Driver {
            m,
            lab,
            runner,
            pending_runs: vec![],
            pinned,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap(),
            exec: Executor::new(backend, tx),
            rx,
        }
    }

    pub fn send(&mut self, msg: Msg) {
        if let Some(e) = update(&mut self.m, msg) {
            self.effect(e);
        }
    }

    /// Runs an effect on the executor's demo backend and applies its answers once it has
    /// given its last one. Stage runs wait in `pending_runs` for `play_runs`, so a test can
    /// stop a run half way.
    fn effect(&mut self, e: Effect) {
        if matches!(e, Effect::RunStages { .. }) {
            self.pending_runs.push(e);
            return;
        }
        let last = last_answer(&e);
        let Driver { rt, exec, rx, .. } = self;
        let answers = rt.block_on(async {
            exec.execute(e);
            let mut out = Vec::new();
            let Some(last) = last else {
                // Effects with no answer in the demo (a key check, a passphrase answered).
                tokio::task::yield_now().await;
                return out;
            };
            loop {
                let msg = tokio::time::timeout(ANSWER_WITHIN, rx.recv())
                    .await
                    .expect("the effect answers")
                    .expect("the executor is alive");
                let done = last(&msg);
                out.push(msg);
                if done {
                    return out;
                }
            }
        });
        for msg in answers {
            self.send(msg);
        }
    }

    pub fn key(&mut self, code: KeyCode) -> &mut Self {
        self.send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        self
    }

    pub fn keys(&mut self, codes: &[KeyCode]) -> &mut Self {
        for c in codes {
            self.key(*c);
        }
        self
    }

    pub fn chars(&mut self, s: &str) -> &mut Self {
        for c in s.chars() {
            self.key(KeyCode::Char(c));
        }
        self
    }

    pub fn times(&mut self, code: KeyCode, n: usize) -> &mut Self {
        for _ in 0..n {
            self.key(code);
        }
        self
    }

    /// Plays the pending stage runs to their end, all events delivered (per host in order).
    pub fn play_runs(&mut self) {
        self.play_runs_limited(usize::MAX);
    }

    /// Plays the pending runs but delivers only the first `per_host` events of each host,
    /// leaving the run "in progress".
    pub fn play_runs_limited(&mut self, per_host: usize) {
        let runs = std::mem::take(&mut self.pending_runs);
        for run in runs {
            let Effect::RunStages {
                plan,
                from,
                hosts,
                selection,
                ..
            } = run
            else {
                continue;
            };
            let events = collect_events(&self.runner, plan.clone(), from, hosts, &selection);
            let mut grouped: Vec<Event> = Vec::new();
            for h in &plan.hosts {
                grouped.extend(
                    events
                        .iter()
                        .filter(|e| e.host == h.name)
                        .take(per_host)
                        .cloned(),
                );
            }
            self.send(Msg::Provision(grouped));
            if per_host == usize::MAX {
                self.send(Msg::RunEnded);
            }
        }
    }

    /// Enter on Provision, typing each host name the confirmation asks for.
    pub fn start_run(&mut self) -> &mut Self {
        self.key(KeyCode::Enter);
        while let Some(rackstrap::tui::popups::Popup::Confirm { hosts, .. }) = &self.m.popup {
            let Some(name) = hosts.first().cloned() else {
                break;
            };
            self.chars(&name).key(KeyCode::Enter);
        }
        self
    }

    pub fn screen(&self, w: u16, h: u16) -> String {
        rackstrap::tui::render_to_string(&self.m, w, h)
    }

    /// Access -> Discover, scan, accept all, on to Hosts.
    pub fn walk_to_hosts(&mut self) -> &mut Self {
        self.key(KeyCode::Enter); // Access -> Discover
        self.key(KeyCode::Enter); // scan
        self.key(KeyCode::Char('a')); // accept every host that answered
        self.key(KeyCode::Enter) // -> Hosts
    }

    /// On the akash demo's Storage screen: node2's two NVMe disks as RAID0 at /data, applied
    /// to node3 (same disks).
    pub fn akash_storage(&mut self) -> &mut Self {
        use KeyCode::{Char, Down, Tab};
        self.key(Tab).keys(&[
            Down,
            Down,
            Down,
            Char(' '),
            Down,
            Char(' '),
            Char('a'),
            Char('A'),
        ])
    }

    /// Enter through every step up to `step`, calling `storage` on a Storage screen where no
    /// host has storage yet; panics naming the step Enter does not leave.
    pub fn enter_until(&mut self, step: Step, storage: impl Fn(&mut Driver)) -> &mut Self {
        while self.m.step < step {
            if self.m.step == Step::Storage
                && self.m.plan.hosts.iter().all(|h| h.storage.is_empty())
            {
                storage(self);
            }
            let before = self.m.step;
            self.key(KeyCode::Enter);
            assert_ne!(
                before,
                self.m.step,
                "stuck at {before:?}: {:?}",
                self.m.findings()
            );
        }
        self
    }
}

pub fn collect_events(
    runner: &LabRunner,
    plan: rackstrap::plan::Plan,
    from: StageId,
    hosts: Vec<String>,
    selection: &rackstrap::provision::Selection,
) -> Vec<Event> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        runner.run(plan, from, hosts, selection, tx).await;
        let mut out = vec![];
        while let Ok(e) = rx.try_recv() {
            out.push(e);
        }
        out
    })
}

/// The message an effect's work ends with in the demo; `None` when it answers nothing.
fn last_answer(e: &Effect) -> Option<fn(&Msg) -> bool> {
    Some(match e {
        Effect::Discover { .. } => |m| matches!(m, Msg::DiscoveryDone),
        Effect::SavePlan { .. } => |m| matches!(m, Msg::Saved(_)),
        Effect::CheckMachine { .. } => |m| matches!(m, Msg::MachineChecked(_)),
        Effect::CheckKubespray { .. } => |m| matches!(m, Msg::KubesprayNeed(_)),
        Effect::PrepareKubespray { .. } => |m| {
            matches!(
                m,
                Msg::Preparing(rackstrap::tui::prepare::PrepareEvent::Ended(_))
            )
        },
        Effect::Survey { .. } | Effect::AcceptKey { .. } => |m| matches!(m, Msg::Drift(_)),
        Effect::Recover { .. } | Effect::Relay { .. } => |m| matches!(m, Msg::RecoveryDone { .. }),
        Effect::AbortRun => |m| matches!(m, Msg::RunEnded),
        Effect::RunStages { .. }
        | Effect::CheckKey { .. }
        | Effect::ListAgent
        | Effect::AnswerPassphrase { .. }
        | Effect::AnswerStall { .. } => return None,
    })
}
