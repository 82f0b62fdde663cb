//! Drives the wizard's model the way the event loop does, with the demo lab answering the
//! effects synchronously, so tests walk the journey key by key.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rackstrap::lab::{Lab, LabRunner};
use rackstrap::provision::{Event, StageId};
use rackstrap::tui::effects::{Effect, save_plan};
use rackstrap::tui::model::{Mode, Model, Msg, Step};
use rackstrap::tui::update::update;
use std::sync::Arc;

pub struct Driver {
    pub m: Model,
    pub lab: Arc<Lab>,
    pub runner: LabRunner,
    /// Stage runs asked for, not yet played.
    pub pending_runs: Vec<Effect>,
    /// The lab's known_hosts.
    pub pinned: std::collections::BTreeSet<String>,
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
        m.theme.color = false;
        Driver {
            runner: LabRunner::new(lab.clone(), 1e6),
            m,
            lab,
            pending_runs: vec![],
            pinned: Default::default(),
        }
    }

    pub fn send(&mut self, msg: Msg) {
        if let Some(e) = update(&mut self.m, msg) {
            self.effect(e);
        }
    }

    fn effect(&mut self, e: Effect) {
        match e {
            Effect::Discover {
                targets, accept, ..
            } => {
                for (_, d) in self.lab.answers(&targets, &accept, &mut self.pinned) {
                    self.send(Msg::Discovered(d));
                }
                self.send(Msg::DiscoveryDone);
            }
            Effect::SavePlan { path, plan } => {
                let r = save_plan(&path, &plan).map(|()| path);
                self.send(Msg::Saved(r));
            }
            Effect::CheckKubespray { plan } => {
                let own = rackstrap::plan::check(&plan, None);
                let findings = rackstrap::kubespray::tree_findings(&plan, &own);
                self.send(Msg::KubesprayChecked(findings));
                let need = rackstrap::kubespray::prepare::needed(&plan);
                self.send(Msg::KubesprayNeed(need));
            }
            Effect::PrepareKubespray {
                plan,
                url,
                python,
                log,
            } => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let ended = rackstrap::tui::effects::prepare_kubespray(
                    &plan,
                    &url,
                    &python,
                    log.as_deref(),
                    &tx,
                );
                while let Ok(msg) = rx.try_recv() {
                    self.send(msg);
                }
                self.send(Msg::Preparing(
                    rackstrap::tui::prepare::PrepareEvent::Ended(ended),
                ));
            }
            run @ Effect::RunStages { .. } => self.pending_runs.push(run),
            Effect::AbortRun => self.send(Msg::RunEnded),
            // The demo lab needs nothing on this machine.
            Effect::CheckMachine { .. } => self.send(Msg::MachineChecked(Vec::new())),
            // The demo lab touches no key file and no agent.
            Effect::CheckKey { .. } | Effect::ListAgent => {}
            Effect::AnswerPassphrase { reply, passphrase } => reply.answer(passphrase.map(|s| s.0)),
            // The lab's runs never stall: there is no question to answer.
            Effect::AnswerStall { .. } => {}
            // The recovery demo's survey; actions are only said, never run, in these tests.
            Effect::Survey { plan, accepted, .. } | Effect::AcceptKey { plan, accepted, .. } => {
                self.send(Msg::Drift(rackstrap::lab::recovery::survey(
                    &plan, &accepted,
                )))
            }
            Effect::Recover { .. } => self.send(Msg::RecoveryDone {
                lines: vec![],
                result: Ok(()),
            }),
            Effect::Relay { name, .. } => self.send(Msg::RecoveryDone {
                lines: vec![format!("demo, not run: the storage stage on {name}")],
                result: Ok(()),
            }),
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
