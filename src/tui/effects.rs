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
        demo: bool,
        /// The demo's hosts whose new key was accepted.
        accepted: Vec<String>,
    },
    /// Pin `name`'s new key (only if it still offers `offered`), then survey again.
    AcceptKey {
        plan: Plan,
        name: String,
        offered: String,
        demo: bool,
        accepted: Vec<String>,
    },
    /// Run a recovery action the operator confirmed (the demo: only say what would run).
    Recover {
        prepared: Box<crate::recovery::Prepared>,
        plan: Plan,
        plan_path: Option<PathBuf>,
        demo: bool,
    },
    /// Re-lay a host's disks the operator confirmed (`recovery::relay`; the demo: only say
    /// what would run).
    Relay {
        plan: Plan,
        plan_path: Option<PathBuf>,
        name: String,
        demo: bool,
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
                    tokio::spawn(check_key(path, file, tx));
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
            Effect::AcceptKey {
                plan,
                name,
                offered,
                demo,
                accepted,
            } => {
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
            Effect::Survey {
                plan,
                demo,
                accepted,
            } => {
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
                demo,
            } => {
                let known = self.known_hosts();
                tokio::spawn(recover(*prepared, plan, plan_path, demo, known, tx));
            }
            Effect::Relay {
                plan,
                plan_path,
                name,
                demo,
            } => {
                let known = self.known_hosts();
                // The runner's future is not `Send`: it runs on a blocking thread driven by
                // this runtime, as a provisioning run does.
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    handle.block_on(relay(plan, plan_path, name, demo, known, tx));
                });
            }
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
            Effect::Discover {
                targets,
                access,
                sudo_password,
                accept,
            } => {
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
                    } => tokio::spawn(live_discover(
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
            Effect::RunStages {
                plan,
                from,
                hosts,
                consent,
                plan_path,
                facts,
                sudo_password,
                selection,
            } => {
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
                            let mut opts = live_run_options(
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
            Effect::AbortRun => {
                self.cancel = None;
                if let Some(h) = self.run.take() {
                    h.abort();
                }
                let _ = tx.send(Msg::RunEnded);
            }
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

/// What the wizard gives the SSH layer besides the plan's access settings; held in memory
/// only.
pub struct Credentials {
    pub sudo_password: Option<Secret>,
    pub passphrase: Option<crate::ssh::PassphraseCallback>,
}

impl Credentials {
    fn apply(self, opts: &mut crate::ssh::ConnectOptions) {
        opts.sudo_password = self.sudo_password.map(|s| s.0);
        opts.passphrase = self.passphrase;
    }
}

/// The SSH options a live run starts from (the connector sets the plan's user, port and key
/// per host): the core's [`connect_options`](crate::provision::remote::connect_options) and
/// the session's credentials.
pub fn run_connect_options(
    access: &Access,
    known_hosts: Option<PathBuf>,
    credentials: Credentials,
) -> crate::ssh::ConnectOptions {
    let mut base = crate::provision::remote::connect_options(access, known_hosts.as_deref());
    credentials.apply(&mut base);
    base
}

/// The provisioning runner's options for a run started from the wizard: SSH from `base`
/// ([`run_connect_options`]), the chosen stages from `from` on, on the chosen hosts (`hosts`
/// only, when given), state and logs next to the saved plan, consent for the hosts whose
/// names were typed.
fn live_run_options(
    from: StageId,
    hosts: Vec<String>,
    selection: &Selection,
    consent: Vec<String>,
    plan_path: Option<PathBuf>,
    facts: crate::facts::Facts,
    base: crate::ssh::ConnectOptions,
) -> crate::provision::runner::RunOptions {
    use crate::provision::runner::{Consent, RunOptions};
    let connector = Arc::new(crate::provision::remote::SshConnector { base });
    let mut opts = RunOptions::new(connector);
    selection.apply(&mut opts, from, &hosts);
    opts.consent = Consent::Hosts(consent.into_iter().collect());
    opts.state_dir = plan_path.as_deref().map(crate::provision::state::state_dir);
    opts.facts = (!facts.is_empty()).then_some(facts);
    opts
}

/// Discovery over SSH with the plan's access settings. Keys come from the identity file or
/// the ssh-agent; an encrypted key's passphrase is asked through the wizard's popup; the
/// sudo password, if given, only goes to the SSH layer.
async fn live_discover(
    targets: String,
    access: Access,
    sudo_password: Option<Secret>,
    accept: Vec<String>,
    known_hosts: Option<PathBuf>,
    facts_timeout: Option<Duration>,
    tx: UnboundedSender<Msg>,
) {
    let list = match crate::discover::parse_targets(&targets, false) {
        Ok(list) => list,
        Err(e) => {
            let _ = tx.send(Msg::DiscoveryFailed(e.to_string()));
            return;
        }
    };
    let credentials = Credentials {
        sudo_password,
        passphrase: Some(passphrase_callback(tx.clone())),
    };
    let opts = discover_options(&access, credentials, accept, known_hosts);
    let (dtx, mut drx) = unbounded_channel();
    let scan = tokio::spawn(crate::discover::discover_within(
        list,
        opts,
        crate::discover::DEFAULT_CONCURRENCY,
        facts_timeout.unwrap_or_else(crate::discover::facts_timeout),
        dtx,
    ));
    while let Some(d) = drx.recv().await {
        let _ = tx.send(Msg::Discovered(d));
    }
    let _ = scan.await;
    let _ = tx.send(Msg::DiscoveryDone);
}

/// The SSH options of a wizard scan: the core's
/// [`connect_options`](crate::provision::remote::connect_options), the session's
/// credentials, the fingerprints the operator accepted.
pub fn discover_options(
    access: &Access,
    credentials: Credentials,
    accept: Vec<String>,
    known_hosts: Option<PathBuf>,
) -> crate::ssh::ConnectOptions {
    let mut opts = crate::provision::remote::connect_options(access, known_hosts.as_deref());
    credentials.apply(&mut opts);
    opts.accepted_fingerprints = accept;
    opts
}

/// Says what the key file at `file` holds; an encrypted key is then unlocked through the
/// passphrase popup and stays loaded for the session (`ssh::auth`'s key cache), so discovery
/// does not ask again.
async fn check_key(path: String, file: PathBuf, tx: UnboundedSender<Msg>) {
    use crate::ssh::auth::{KeyCheck, inspect_key, load_key};
    let found = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || inspect_key(&file))
            .await
            .unwrap_or_else(|e| KeyCheck::Unreadable(e.to_string()))
    };
    let encrypted = found == KeyCheck::Encrypted;
    let _ = tx.send(Msg::KeyChecked {
        path: path.clone(),
        check: found,
    });
    if !encrypted {
        return;
    }
    let ask = passphrase_callback(tx.clone());
    if let Ok(key) = load_key(&file, Some(&ask)).await {
        let check = KeyCheck::Ready {
            algorithm: format!("{} (unlocked)", key.algorithm()),
            fingerprint: key
                .public_key()
                .fingerprint(russh::keys::HashAlg::Sha256)
                .to_string(),
        };
        let _ = tx.send(Msg::KeyChecked { path, check });
    }
}

/// Runs the core's prepare, its steps and log lines sent as `Msg::Preparing` (and the log
/// appended to `log`); what is ready, or what failed with where the log is.
pub fn prepare_kubespray(
    plan: &Plan,
    url: &str,
    python: &str,
    log: Option<&std::path::Path>,
    tx: &UnboundedSender<Msg>,
) -> Result<String, String> {
    use crate::kubespray::prepare::{Outcome, Reporter, prepare};
    let file = match log {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("opening {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let mut sink = LogLines {
        tx: tx.clone(),
        file,
        partial: Vec::new(),
    };
    let step_tx = tx.clone();
    let mut progress = |line: &str| {
        let _ = step_tx.send(Msg::Preparing(PrepareEvent::Step(line.to_string())));
    };
    let result = prepare(
        plan,
        url,
        python,
        &mut Reporter {
            progress: &mut progress,
            log: &mut sink,
        },
    );
    sink.finish();
    let path = crate::kubespray::Tree::of(plan).path;
    match result {
        Ok(Outcome::AlreadyReady { ansible }) => Ok(format!(
            "{} was ready already (ansible-core {ansible})",
            path.display()
        )),
        Ok(Outcome::Prepared { ansible }) => Ok(format!(
            "{} is ready: ansible-core {ansible} in its virtualenv",
            path.display()
        )),
        Err(e) => Err(match log {
            Some(l) => format!("{e} (the whole log: {})", l.display()),
            None => e,
        }),
    }
}

/// The prepare log as it is written: into the file, and line by line to the wizard.
struct LogLines {
    tx: UnboundedSender<Msg>,
    file: Option<std::fs::File>,
    partial: Vec<u8>,
}

impl LogLines {
    fn send(&self, bytes: &[u8]) {
        let line = String::from_utf8_lossy(bytes)
            .trim_end_matches('\r')
            .to_string();
        let _ = self.tx.send(Msg::Preparing(PrepareEvent::Log(line)));
    }

    /// The last line, when it had no newline.
    fn finish(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.send(&rest);
        }
    }
}

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = &mut self.file {
            f.write_all(buf)?;
        }
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.send(&line[..i]);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
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

/// Runs a confirmed recovery action through the core (`recovery::perform`), keeping its last
/// output lines for the Drift screen. The demo runs nothing and says what would have run.
async fn recover(
    prepared: crate::recovery::Prepared,
    plan: Plan,
    plan_path: Option<PathBuf>,
    demo: bool,
    known: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
) {
    if demo {
        let lines = prepared
            .steps
            .iter()
            .map(|s| format!("demo, not run: {}", s.title))
            .collect();
        let _ = tx.send(Msg::RecoveryDone {
            lines,
            result: Ok(()),
        });
        return;
    }
    let Some(path) = plan_path else {
        let _ = tx.send(Msg::RecoveryDone {
            lines: Vec::new(),
            result: Err("save the plan first: the action saves it when it succeeds".into()),
        });
        return;
    };
    let opts = crate::provision::remote::connect_options(&plan.access, known.as_deref());
    let pins = crate::ssh::known_hosts::KnownHosts {
        own: opts.known_hosts.clone(),
        extra: opts.extra_known_hosts.clone(),
    };
    let (etx, collect) = last_output_lines();
    let result = crate::recovery::perform(&prepared, &plan, &path, Some(&pins), etx).await;
    let lines = collect.await.unwrap_or_default();
    let _ = tx.send(Msg::RecoveryDone { lines, result });
}

/// How many of an action's last output lines the Drift screen shows.
const RECOVERY_LINES: usize = 6;

/// An event sender for a recovery action, and a task that keeps the last
/// [`RECOVERY_LINES`] output lines it carried (colour removed) until the sender is dropped.
fn last_output_lines() -> (
    UnboundedSender<crate::provision::Event>,
    tokio::task::JoinHandle<Vec<String>>,
) {
    let (etx, mut erx) = unbounded_channel::<crate::provision::Event>();
    let collect = tokio::spawn(async move {
        let mut last = std::collections::VecDeque::new();
        while let Some(ev) = erx.recv().await {
            if let crate::provision::EventKind::Log { lines, .. } = ev.kind {
                for line in lines.iter().rev().take(RECOVERY_LINES).rev() {
                    last.push_back(crate::provision::log::strip_ansi(line));
                    if last.len() > RECOVERY_LINES {
                        last.pop_front();
                    }
                }
            }
        }
        last.into_iter().collect()
    });
    (etx, collect)
}

/// Re-lays a host's disks through the core (`recovery::relay::perform`, the runner `apply`
/// uses), the host's typed name as the storage stage's consent, keeping the last output lines
/// for the Drift screen. The demo runs nothing.
async fn relay(
    plan: Plan,
    plan_path: Option<PathBuf>,
    name: String,
    demo: bool,
    known: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
) {
    if demo {
        let _ = tx.send(Msg::RecoveryDone {
            lines: vec![format!("demo, not run: the storage stage on {name}")],
            result: Ok(()),
        });
        return;
    }
    let Some(path) = plan_path else {
        let _ = tx.send(Msg::RecoveryDone {
            lines: Vec::new(),
            result: Err("save the plan first: its run state is kept beside it".into()),
        });
        return;
    };
    let base = crate::provision::remote::connect_options(&plan.access, known.as_deref());
    let mut opts = crate::provision::runner::RunOptions::new(Arc::new(
        crate::provision::remote::SshConnector { base },
    ));
    opts.consent = crate::provision::runner::Consent::Hosts([name.clone()].into());
    let (etx, collect) = last_output_lines();
    let summary = crate::recovery::relay::perform(&plan, &path, &name, opts, etx).await;
    let mut lines = collect.await.unwrap_or_default();
    let result = match summary {
        Ok(s) if s.all_done() => {
            lines.push(format!("relay {name}: storage done"));
            Ok(())
        }
        Ok(s) => Err(s
            .failed()
            .map(|(stage, host, _, msg)| format!("{host} {stage}: {msg}"))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(format!("{e:#}")),
    };
    let _ = tx.send(Msg::RecoveryDone { lines, result });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::{EventKind, StageId};

    #[test]
    fn live_runs_carry_the_sessions_credentials() {
        let (tx, _rx) = unbounded_channel();
        let access = Access::default();
        let opts = run_connect_options(
            &access,
            Some(PathBuf::from("pins")),
            Credentials {
                sudo_password: Some(Secret("s3cret-pw".into())),
                passphrase: Some(passphrase_callback(tx)),
            },
        );
        assert_eq!(opts.sudo_password.as_deref(), Some("s3cret-pw"));
        assert!(opts.passphrase.is_some());
        assert_eq!(opts.known_hosts, PathBuf::from("pins"));
        assert!(!format!("{opts:?}").contains("s3cret-pw"));
        let none = run_connect_options(
            &access,
            None,
            Credentials {
                sudo_password: None,
                passphrase: None,
            },
        );
        assert_eq!(none.sudo_password, None);
    }

    #[tokio::test]
    async fn runner_events_arrive_in_batches() {
        let (etx, erx) = unbounded_channel();
        let (tx, mut rx) = unbounded_channel();
        let forward = tokio::spawn(batch_events(erx, tx));
        for i in 0..300 {
            etx.send(Event {
                host: "node1".into(),
                stage: StageId::Preflight,
                kind: EventKind::Log {
                    lines: format!("{i}").into(),
                    stderr: false,
                },
            })
            .unwrap();
        }
        drop(etx);
        forward.await.unwrap();
        let mut batches = 0;
        let mut events = 0;
        while let Ok(Msg::Provision(b)) = rx.try_recv() {
            batches += 1;
            events += b.len();
        }
        assert_eq!(events, 300);
        assert_eq!(
            batches, 1,
            "300 lines sent at once make one redraw, not 300"
        );
    }
}
