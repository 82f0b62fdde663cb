//! Side effects as data. `update` returns an `Effect`; the event loop hands it to the
//! `Executor`, which runs it on a task and answers with `Msg`s over the loop's channel.
//! Nothing here touches the model.
//!
//! ```text
//! Effect::Discover  ─► lab or SSH discovery ─► Msg::Discovered … Msg::DiscoveryDone
//! Effect::RunStages ─► lab or provisioning runner ─► Event ─► batch (~100 ms) ─► Msg::Provision
//! Effect::SavePlan  ─► atomic write ─► Msg::Saved
//! Effect::AnswerPassphrase ─► the waiting SSH task (see `super::secret`)
//! Effect::AnswerStall ─► the run waiting on a stalled command (`provision::StallDecisions`)
//! Effect::CheckKubespray ─► the tree's findings and needs ─► Msg::KubesprayChecked, KubesprayNeed
//! Effect::PrepareKubespray ─► kubespray::prepare ─► Msg::Preparing (steps, log, end)
//! ```
//!
//! Live discovery and runs ask for encrypted keys' passphrases through
//! `secret::passphrase_callback` (a `Msg::PassphraseNeeded` per request) and get the
//! operator's sudo password, if any, in `ConnectOptions::sudo_password`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

mod live;
mod prepare;
mod recovery;

pub use live::{Credentials, discover_options, run_connect_options};
pub use prepare::prepare_kubespray;

use super::model::Msg;
use super::prepare::PrepareEvent;
use super::secret::{Reply, Secret, passphrase_callback};
use crate::lab::{Lab, LabRunner};
use crate::plan::{Access, Plan};
use crate::provision::{Event, Selection, StageId};

/// Runner events are delivered to the model at most this often (kdash batches the same way).
pub const LOG_FLUSH: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Scan targets. `accept`: fingerprints the operator confirmed; a host offering one of
    /// them for the first time is pinned (never a changed key).
    Discover {
        targets: String,
        access: Access,
        /// For users whose sudo asks for a password; never written anywhere.
        sudo_password: Option<Secret>,
        accept: Vec<String>,
    },
    /// Run `from` and every later stage (on the first of them only `hosts`, all when empty).
    /// `consent`: hosts whose names the operator typed for destructive stages.
    RunStages {
        plan: Plan,
        from: StageId,
        hosts: Vec<String>,
        consent: Vec<String>,
        plan_path: Option<PathBuf>,
        facts: crate::facts::Facts,
        sudo_password: Option<Secret>,
        /// The stages and hosts the operator chose; the run covers nothing else.
        selection: Selection,
    },
    AbortRun,
    /// Find what stops a stage from starting on this machine (`provision::readiness`).
    CheckMachine {
        plan: Plan,
    },
    /// Look at the key file typed on Access; an encrypted one is unlocked for the session
    /// (the passphrase popup asks).
    CheckKey {
        path: String,
    },
    /// Ask the ssh-agent which identities it holds.
    ListAgent,
    /// Ask the plan's Kubespray tree on this machine what it says about the plan.
    CheckKubespray {
        plan: Plan,
    },
    /// Make the plan's Kubespray tree ready (`crate::kubespray::prepare::prepare`, as
    /// `rackstrap kubespray prepare` does), the whole log appended to `log` when given.
    PrepareKubespray {
        plan: Plan,
        url: String,
        python: String,
        log: Option<PathBuf>,
    },
    SavePlan {
        path: PathBuf,
        plan: Plan,
    },
    /// Survey a reopened plan's hosts and cluster (the demo: its recovery lab's answers).
    Survey {
        plan: Plan,
        /// The demo's hosts whose new key was accepted (the demo's survey takes them as
        /// re-pinned).
        accepted: Vec<String>,
    },
    /// Pin `name`'s new key (only if it still offers `offered`), then survey again.
    AcceptKey {
        plan: Plan,
        name: String,
        offered: String,
        accepted: Vec<String>,
    },
    /// Run a recovery action the operator confirmed (the demo: only say what would run).
    Recover {
        prepared: Box<crate::recovery::Prepared>,
        plan: Plan,
        plan_path: Option<PathBuf>,
    },
    /// Re-lay a host's disks the operator confirmed (`recovery::relay`; the demo: only say
    /// what would run).
    Relay {
        plan: Plan,
        plan_path: Option<PathBuf>,
        name: String,
    },
    /// The operator answered the question about a stalled command of `host`'s `stage`.
    AnswerStall {
        host: String,
        stage: StageId,
        answer: crate::provision::StallAnswer,
    },
    /// The operator answered a passphrase prompt (`None`: cancelled).
    AnswerPassphrase {
        reply: Reply,
        passphrase: Option<Secret>,
    },
}

/// Actions that need a confirmation first (gitui's `Confirm(Action)` -> `Confirmed(Action)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    RunStages {
        from: StageId,
        hosts: Vec<String>,
    },
    Abort,
    /// Give up on the failed `stage` and go on with the next one.
    Skip {
        stage: StageId,
    },
    /// Storage's `A`, replacing layouts other hosts already have.
    ApplyToSame,
}

/// Where effects go: the demo lab or the real hosts.
pub enum Backend {
    Demo {
        lab: Arc<Lab>,
        runner: LabRunner,
        speed: f64,
        /// The lab's known_hosts, across scans.
        pinned: Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
    },
    /// Real hosts over SSH; `known_hosts` overrides rackstrap's default pin file.
    Live {
        known_hosts: Option<PathBuf>,
        /// The wizard's `--stall-after` and `--facts-timeout`.
        limits: Limits,
    },
}

/// Time limits given on the wizard's command line; `None`: the environment's or the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// One stall limit for every command of a run (`provision::StallPolicy::after`).
    pub stall_after: Option<Duration>,
    /// How long gathering facts may take per host (`discover::facts_timeout`).
    pub facts_timeout: Option<Duration>,
}

pub struct Executor {
    backend: Backend,
    tx: UnboundedSender<Msg>,
    run: Option<JoinHandle<()>>,
    scan: Option<JoinHandle<()>>,
    /// Dropping it stops a live run.
    cancel: Option<tokio::sync::oneshot::Sender<()>>,
    /// Where a live run waits for the answers about stalled commands.
    stalls: crate::provision::StallDecisions,
}

impl Executor {
    pub fn new(backend: Backend, tx: UnboundedSender<Msg>) -> Self {
        Self {
            backend,
            tx,
            run: None,
            scan: None,
            cancel: None,
            stalls: Default::default(),
        }
    }

    /// The demo lab answers: nothing on this machine or any host is touched. The one place
    /// that decides demo or live for every effect.
    fn is_demo(&self) -> bool {
        matches!(self.backend, Backend::Demo { .. })
    }

    /// The known_hosts file given for live runs (`None` in the demo and when none was given).
    fn known_hosts(&self) -> Option<PathBuf> {
        match &self.backend {
            Backend::Live { known_hosts, .. } => known_hosts.clone(),
            Backend::Demo { .. } => None,
        }
    }

    pub fn execute(&mut self, effect: Effect) {
        let tx = self.tx.clone();
        match effect {
            Effect::SavePlan { path, plan } => {
                tokio::spawn(async move {
                    let result =
                        tokio::task::spawn_blocking(move || save_plan(&path, &plan).map(|()| path))
                            .await
                            .map_err(|e| e.to_string())
                            .and_then(|r| r);
                    let _ = tx.send(Msg::Saved(result));
                });
            }
            Effect::CheckMachine { plan } => match &self.backend {
                // The demo's Kubespray is played by the lab: nothing is needed here.
                Backend::Demo { .. } => {
                    let _ = tx.send(Msg::MachineChecked(Vec::new()));
                }
                Backend::Live { .. } => {
                    tokio::task::spawn_blocking(move || {
                        let path = std::env::var_os("PATH");
                        let found = crate::provision::readiness::blockers(
                            &plan,
                            &Selection::all(&plan),
                            path.as_deref(),
                        );
                        let _ = tx.send(Msg::MachineChecked(found));
                    });
                }
            },
            Effect::CheckKey { path } => {
                if let Backend::Live { .. } = &self.backend {
                    let file = crate::paths::expand_home(&path);
                    tokio::spawn(live::check_key(path, file, tx));
                }
            }
            Effect::ListAgent => {
                if let Backend::Live { .. } = &self.backend {
                    tokio::spawn(async move {
                        let found = crate::ssh::auth::agent_identities().await;
                        let _ = tx.send(Msg::AgentIdentities(found));
                    });
                }
            }
            e @ (Effect::AcceptKey { .. }
            | Effect::Survey { .. }
            | Effect::Recover { .. }
            | Effect::Relay { .. }) => self.drift(e, tx),
            Effect::CheckKubespray { plan } => {
                tokio::spawn(async move {
                    let (findings, need) = tokio::task::spawn_blocking(move || {
                        let own = crate::plan::check(&plan, None);
                        (
                            crate::kubespray::tree_findings(&plan, &own),
                            crate::kubespray::prepare::needed(&plan),
                        )
                    })
                    .await
                    .unwrap_or_default();
                    let _ = tx.send(Msg::KubesprayChecked(findings));
                    let _ = tx.send(Msg::KubesprayNeed(need));
                });
            }
            Effect::PrepareKubespray {
                plan,
                url,
                python,
                log,
            } => {
                tokio::task::spawn_blocking(move || {
                    let ended = prepare_kubespray(&plan, &url, &python, log.as_deref(), &tx);
                    let _ = tx.send(Msg::Preparing(PrepareEvent::Ended(ended)));
                });
            }
            Effect::AnswerPassphrase { reply, passphrase } => {
                reply.answer(passphrase.map(|s| s.0));
            }
            Effect::AnswerStall {
                host,
                stage,
                answer,
            } => {
                // False when the command printed or ended meanwhile: nothing left to answer.
                self.stalls.answer(&host, stage, answer);
            }
            e @ Effect::Discover { .. } => self.discover(e, tx),
            e @ Effect::RunStages { .. } => self.run_stages(e, tx),
            Effect::AbortRun => {
                self.cancel = None;
                if let Some(h) = self.run.take() {
                    h.abort();
                }
                let _ = tx.send(Msg::RunEnded);
            }
        }
    }

    /// A scan: the lab's answers, or discovery over SSH; a new scan stops the one before.
    fn discover(&mut self, effect: Effect, tx: UnboundedSender<Msg>) {
        let Effect::Discover {
            targets,
            access,
            sudo_password,
            accept,
        } = effect
        else {
            return;
        };
        if let Some(h) = self.scan.take() {
            h.abort();
        }
        self.scan = Some(match &self.backend {
            Backend::Demo {
                lab, speed, pinned, ..
            } => {
                let (lab, speed, pinned) = (lab.clone(), *speed, pinned.clone());
                tokio::spawn(async move {
                    let (dtx, mut drx) = unbounded_channel();
                    let play = tokio::spawn(async move {
                        lab.discover(&targets, &accept, pinned, speed, dtx).await
                    });
                    while let Some(d) = drx.recv().await {
                        let _ = tx.send(Msg::Discovered(d));
                    }
                    let _ = play.await;
                    let _ = tx.send(Msg::DiscoveryDone);
                })
            }
            Backend::Live {
                known_hosts,
                limits,
            } => tokio::spawn(live::live_discover(
                targets,
                access,
                sudo_password,
                accept,
                known_hosts.clone(),
                limits.facts_timeout,
                tx,
            )),
        });
    }

    /// A run: the lab's runner, or the provisioning runner on a blocking thread that stops
    /// when the cancel sender is dropped.
    fn run_stages(&mut self, effect: Effect, tx: UnboundedSender<Msg>) {
        let Effect::RunStages {
            plan,
            from,
            hosts,
            consent,
            plan_path,
            facts,
            sudo_password,
            selection,
        } = effect
        else {
            return;
        };
        if let Some(h) = self.run.take() {
            h.abort();
        }
        let (etx, erx) = unbounded_channel::<Event>();
        let forward = tokio::spawn(batch_events(erx, tx.clone()));
        self.run = Some(match &self.backend {
            Backend::Demo { runner, .. } => {
                let runner = runner.clone();
                tokio::spawn(async move {
                    runner.run(plan, from, hosts, &selection, etx).await;
                    let _ = forward.await;
                    let _ = tx.send(Msg::RunEnded);
                })
            }
            Backend::Live {
                known_hosts,
                limits,
            } => {
                let known_hosts = known_hosts.clone();
                let stall_after = limits.stall_after;
                let stalls = self.stalls.clone();
                let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
                self.cancel = Some(cancel_tx);
                // The runner's future is not `Send`; it runs on a blocking thread
                // driven by this runtime, and stops when the cancel sender is dropped.
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let base = run_connect_options(
                        &plan.access,
                        known_hosts,
                        Credentials {
                            sudo_password,
                            passphrase: Some(passphrase_callback(tx.clone())),
                        },
                    );
                    let mut opts = live::live_run_options(
                        from, hosts, &selection, consent, plan_path, facts, base,
                    );
                    // Nobody typed a flag here: a stalled command asks the operator.
                    opts.stall.on_stall = crate::provision::OnStall::Ask(stalls);
                    opts.stall.after = stall_after;
                    let result = handle.block_on(async {
                        tokio::select! {
                            r = crate::provision::run(&plan, opts, etx) => r.map(|_| ()),
                            _ = cancel_rx => Ok(()),
                        }
                    });
                    handle.block_on(async {
                        let _ = forward.await;
                    });
                    if let Err(e) = result {
                        let _ = tx.send(Msg::RunFailed(format!("{e:#}")));
                    }
                    let _ = tx.send(Msg::RunEnded);
                })
            }
        });
    }

    /// The Drift screen's survey, key trust, recovery actions and re-lays.
    fn drift(&mut self, effect: Effect, tx: UnboundedSender<Msg>) {
        match effect {
            Effect::AcceptKey {
                plan,
                name,
                offered,
                accepted,
            } => {
                let demo = self.is_demo();
                let known = self.known_hosts();
                tokio::spawn(async move {
                    let report = if demo {
                        crate::lab::recovery::survey(&plan, &accepted)
                    } else {
                        let opts = crate::provision::remote::connect_options(
                            &plan.access,
                            known.as_deref(),
                        );
                        if let Err(e) =
                            crate::recovery::observe::accept_new_key(&plan, &name, &offered, &opts)
                                .await
                        {
                            let _ = tx.send(Msg::RunFailed(e));
                        }
                        crate::recovery::survey(&plan, opts, "PLAN").await
                    };
                    let _ = tx.send(Msg::Drift(report));
                });
            }
            Effect::Survey { plan, accepted } => {
                let demo = self.is_demo();
                let known = self.known_hosts();
                tokio::spawn(async move {
                    let report = if demo {
                        crate::lab::recovery::survey(&plan, &accepted)
                    } else {
                        let opts = crate::provision::remote::connect_options(
                            &plan.access,
                            known.as_deref(),
                        );
                        crate::recovery::survey(&plan, opts, "PLAN").await
                    };
                    let _ = tx.send(Msg::Drift(report));
                });
            }
            Effect::Recover {
                prepared,
                plan,
                plan_path,
            } => {
                if self.is_demo() {
                    let _ = tx.send(recovery::demo_recover(&prepared));
                    return;
                }
                let known = self.known_hosts();
                tokio::spawn(recovery::recover(*prepared, plan, plan_path, known, tx));
            }
            Effect::Relay {
                plan,
                plan_path,
                name,
            } => {
                if self.is_demo() {
                    let _ = tx.send(recovery::demo_relay(&name));
                    return;
                }
                let known = self.known_hosts();
                // The runner's future is not `Send`: it runs on a blocking thread driven by
                // this runtime, as a provisioning run does.
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    handle.block_on(recovery::relay(plan, plan_path, name, known, tx));
                });
            }
            _ => {}
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.cancel = None;
        for h in [self.run.take(), self.scan.take()].into_iter().flatten() {
            h.abort();
        }
    }
}

/// Collects runner events and hands them over in batches, at most every `LOG_FLUSH`.
async fn batch_events(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
    tx: UnboundedSender<Msg>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LOG_FLUSH;
        loop {
            tokio::select! {
                e = rx.recv() => match e {
                    Some(e) => batch.push(e),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if tx.send(Msg::Provision(batch)).is_err() {
            return;
        }
    }
}

/// Writes the plan atomically (the core's `plan::save`: temporary file, then rename).
pub fn save_plan(path: &std::path::Path, plan: &Plan) -> Result<(), String> {
    crate::plan::save(plan, path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
