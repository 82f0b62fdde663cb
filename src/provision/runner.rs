//! The runner: stages in order, hosts in parallel with a bound, every step recorded.
//!
//! For each stage of `StageId::ALL` (filtered by `--stage`), per host (filtered by `--host`):
//! a step already done in an earlier run is not run again; a host that failed an earlier
//! stage in this run waits; otherwise the stage's `check` looks at the host, and the commands it returns are applied (or, in a dry run, only
//! listed) and verified. Destructive stages with work to do need the operator's consent for
//! that host (`Consent`). Stages of cluster or first-control-plane scope (Kubespray, verify,
//! load balancer) run only when no host failed before them in this run; a cluster-scoped
//! stage runs once through `Stage::run_cluster` for every plan host. The runner knows the
//! stages only through the `Stage` trait and the list in `stages`.
//!
//! Connections are opened lazily, once per host per run, through a `Connector`; a host that
//! cannot be reached, or whose connection drops in the middle of a stage, fails with the
//! reason while the others carry on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use color_eyre::eyre::{Result, eyre};
use futures::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::cmd::{Cmd, StepError};
use super::event::{Event, EventKind, StageId, StepState};
use super::log::{LogFile, StepLog};
use super::remote::{Remote, RemoteError};
use super::stage::{self, ClusterCtx, Ctx, Scope, Stage};
use super::stages;
use super::stall::Watched;
use super::state::{self, RunState};
use crate::facts::Facts;
use crate::plan::{Host, Plan};

mod options;
pub use options::{Consent, DEFAULT_PARALLEL, DryRunStep, LOCAL, RunOptions, RunSummary};

/// Every command every stage would run, per host, from the plan and the known facts; touches
/// nothing. This is what the wizard's Review screen lists. Stages with nothing planned for a
/// host are left out.
pub fn dry_run(plan: &Plan, facts: Option<&Facts>) -> Vec<DryRunStep> {
    let mut out = Vec::new();
    for st in stages::all() {
        let hosts: Vec<&Host> = match st.scope() {
            Scope::EachHost => plan.hosts.iter().collect(),
            Scope::Cluster => plan.hosts.first().into_iter().collect(),
            Scope::FirstControlPlane => plan.first_control_plane().into_iter().collect(),
        };
        for host in hosts {
            if !st.concerns(plan, host) {
                continue;
            }
            let ctx = Ctx {
                plan,
                host,
                facts: facts.and_then(|f| f.get(&host.name)),
                looks: None,
            };
            let name = if st.scope() == Scope::Cluster {
                LOCAL.to_string()
            } else {
                host.name.clone()
            };
            out.push(DryRunStep {
                stage: st.id(),
                host: name,
                commands: st
                    .dry_run(&ctx)
                    .map(|c| c.into_iter().map(|c| c.shell).collect())
                    .map_err(|e| e.to_string()),
            });
        }
    }
    out
}

struct Shared<'a> {
    plan: &'a Plan,
    opts: &'a RunOptions,
    events: UnboundedSender<Event>,
    state: Mutex<RunState>,
    state_path: Option<PathBuf>,
    run_id: String,
    logs: BTreeMap<String, LogFile>,
    remotes: tokio::sync::Mutex<BTreeMap<String, Arc<dyn Remote>>>,
    summary: Mutex<RunSummary>,
    /// The output lines on their way to the watcher, for every step of the run.
    backlog: Arc<super::event::Backlog>,
    /// What the stages saw on each selected host in this run (`stage::Looks`).
    looks: BTreeMap<String, stage::Looks>,
    /// Set when the run state or a log file could not be written: no step starts after it.
    stopped: Mutex<Option<String>>,
}

impl Shared<'_> {
    /// Records a step's state in the run state and saves it. A save that fails stops the
    /// run ([`Shared::stop`]) and is the error: the state file no longer says what happened.
    fn record(
        &self,
        stage: StageId,
        host: &str,
        st: StepState,
        message: &str,
        log: Option<PathBuf>,
    ) -> Result<(), String> {
        let mut saved = Ok(());
        if !self.opts.dry_run
            && let Ok(mut s) = self.state.lock()
        {
            {
                let step = s.step_mut(stage, host);
                let now = state::now();
                if st == StepState::Running {
                    step.started = Some(now);
                    step.finished = None;
                } else {
                    step.finished = Some(now);
                }
                step.state = st;
                // `rackstrap status` prints it: remote text is stored escaped.
                step.message = crate::text::printable(message).into_owned();
                step.run = Some(self.run_id.clone());
                if log.is_some() {
                    step.log = log;
                }
                if let Some(p) = &self.state_path
                    && let Err(e) = s.save(p)
                {
                    let why = format!(
                        "the run state cannot be saved ({e:#}); {host} {stage} was {} when it \
                         could not be recorded",
                        st.as_str()
                    );
                    self.stop(&why);
                    saved = Err(why);
                }
            }
        }
        if st != StepState::Running
            && let Ok(mut s) = self.summary.lock()
        {
            s.steps
                .push((stage, host.to_string(), st, message.to_string()));
        }
        saved
    }

    /// Stops the run: no step starts after this; the first reason is the one reported.
    fn stop(&self, why: &str) {
        if let Ok(mut s) = self.stopped.lock()
            && s.is_none()
        {
            *s = Some(why.to_string());
        }
    }

    fn stopped(&self) -> Option<String> {
        self.stopped.lock().ok().and_then(|s| s.clone())
    }

    fn step_log(&self, host: &str, stage: StageId) -> StepLog {
        StepLog::new(
            host,
            stage,
            self.events.clone(),
            self.logs.get(host).cloned(),
        )
        .sharing(&self.backlog)
    }

    fn finish(&self, log: &StepLog, st: StepState, message: &str) {
        // A save that fails has stopped the run and says so in the summary.
        let _ = self.record(
            log.stage,
            &log.host,
            st,
            message,
            log.log_path().map(PathBuf::from),
        );
        log.emit(EventKind::Finished {
            state: st,
            message: message.to_string(),
        });
    }

    async fn remote(&self, host: &Host) -> Result<Arc<dyn Remote>, RemoteError> {
        let mut map = self.remotes.lock().await;
        if let Some(r) = map.get(&host.name) {
            return Ok(r.clone());
        }
        let r = self.opts.connector.connect(host, &self.plan.access).await?;
        map.insert(host.name.clone(), r.clone());
        Ok(r)
    }

    async fn forget(&self, host: &str) {
        self.remotes.lock().await.remove(host);
    }
}

/// Runs the plan's stages. Events stream to `events` as they happen; the returned summary
/// lists every step's outcome. Errors are only for what stops the whole run (unknown
/// `--host`, an unreadable state file); host failures are outcomes.
pub async fn run(
    plan: &Plan,
    mut opts: RunOptions,
    events: UnboundedSender<Event>,
) -> Result<RunSummary> {
    super::selection::check_hosts(plan, &opts.hosts).map_err(|e| eyre!(e))?;
    let state_path = opts.state_dir.as_ref().map(|d| d.join("state.yaml"));
    // One run per plan (and per cluster) at a time; held until this function returns.
    let _lock = match (&opts.state_dir, opts.dry_run, opts.lock.take()) {
        (Some(_), false, Some(held)) => Some(held),
        (Some(dir), false, None) => Some(state::RunLock::acquire_for(dir, &plan.cluster.name)?),
        _ => None,
    };
    // Under the lock: no other run can be choosing its id at the same time.
    let run_id = match &opts.state_dir {
        Some(dir) => state::fresh_run_id(state::run_id(), &dir.join("logs")),
        None => state::run_id(),
    };
    let prior = match &state_path {
        Some(p) => RunState::load(p)?,
        None => RunState::default(),
    };
    let selected: Vec<&Host> = plan
        .hosts
        .iter()
        .filter(|h| opts.hosts.is_empty() || opts.hosts.contains(&h.name))
        .collect();
    let mut logs = BTreeMap::new();
    if let (Some(dir), false) = (&opts.state_dir, opts.dry_run) {
        let run_dir = dir.join("logs").join(&run_id);
        let panes: Vec<&str> = stages::all().iter().filter_map(|s| s.pane()).collect();
        for h in selected.iter().map(|h| h.name.as_str()).chain(panes) {
            let path = run_dir.join(format!("{h}.log"));
            let f = LogFile::create(&path)
                .map_err(|e| eyre!("creating log file {}: {e}", path.display()))?;
            logs.insert(h.to_string(), f);
        }
    }
    let mut st = prior;
    if !opts.dry_run {
        st.last_run = Some(run_id.clone());
    }
    let shared = Shared {
        plan,
        opts: &opts,
        events: events.clone(),
        state: Mutex::new(st),
        state_path,
        run_id: run_id.clone(),
        logs,
        remotes: tokio::sync::Mutex::new(BTreeMap::new()),
        summary: Mutex::new(RunSummary {
            run_id,
            steps: Vec::new(),
            stopped: None,
        }),
        backlog: super::event::Backlog::new(super::event::LINES_IN_FLIGHT),
        looks: selected
            .iter()
            .map(|h| (h.name.clone(), stage::Looks::default()))
            .collect(),
        stopped: Mutex::new(None),
    };

    // Hosts that failed (or wait) in this run: their later stages wait.
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    for st in stages::all() {
        let id = st.id();
        if !opts.stages.is_empty() && !opts.stages.contains(&id) {
            continue;
        }
        match st.scope() {
            Scope::EachHost => {
                let between = st.between_hosts();
                let results: Vec<(String, StepState, String, Option<StepLog>)> =
                    futures::stream::iter(selected.iter().copied())
                        .map(|host| {
                            let shared = &shared;
                            let st = st.as_ref();
                            let why = blocked.get(&host.name).cloned();
                            async move {
                                let (state, msg, open) =
                                    host_step(shared, st, host, why, between.is_some()).await;
                                (host.name.clone(), state, msg, open)
                            }
                        })
                        .buffer_unordered(opts.parallel.max(1))
                        .collect()
                        .await;
                let results = match between {
                    Some(work) => between_hosts(&shared, work, &selected, results).await,
                    None => results
                        .into_iter()
                        .map(|(h, state, _, _)| (h, state))
                        .collect(),
                };
                for (host, state) in results {
                    if matches!(state, StepState::Failed | StepState::Pending) {
                        blocked
                            .entry(host)
                            .or_insert_with(|| format!("{id} did not finish"));
                    }
                }
            }
            Scope::Cluster => {
                cluster_step(&shared, st.as_ref(), &selected, &mut blocked).await;
            }
            Scope::FirstControlPlane => {
                let Some(cp) = plan.first_control_plane() else {
                    continue;
                };
                if !selected.iter().any(|h| h.name == cp.name) {
                    continue;
                }
                let why = blocked.iter().next().map(|(h, w)| format!("{h}: {w}"));
                let (state, _, _) = host_step(&shared, st.as_ref(), cp, why, false).await;
                if matches!(state, StepState::Failed | StepState::Pending) {
                    blocked
                        .entry(cp.name.clone())
                        .or_insert_with(|| format!("{id} did not finish"));
                }
            }
        }
    }
    let mut summary = shared.summary.lock().map(|s| s.clone()).unwrap_or_default();
    summary.stopped = shared.stopped();
    Ok(summary)
}

/// The work across hosts of a per-host stage (`Stage::between_hosts`), on the hosts whose
/// step ran in this run and passed (their steps are still open: `open` holds their logs); each
/// such step then finishes with its own result and the work's. Returns every host's state.
async fn between_hosts(
    shared: &Shared<'_>,
    work: super::probe::BetweenHosts,
    selected: &[&Host],
    results: Vec<(String, StepState, String, Option<StepLog>)>,
) -> Vec<(String, StepState)> {
    let mut open: BTreeMap<String, (StepState, String, StepLog)> = BTreeMap::new();
    let mut out = Vec::new();
    for (h, state, msg, log) in results {
        match log {
            Some(log) => {
                open.insert(h, (state, msg, log));
            }
            None => out.push((h, state)),
        }
    }
    if open.is_empty() {
        return out;
    }
    let hosts: Vec<&Host> = selected
        .iter()
        .copied()
        .filter(|h| open.contains_key(&h.name))
        .collect();
    let mut remotes: BTreeMap<String, Arc<dyn Remote>> = BTreeMap::new();
    for h in &hosts {
        if let Ok(r) = shared.remote(h).await {
            remotes.insert(h.name.clone(), r);
        }
    }
    let per_host: BTreeMap<String, StepLog> = open
        .iter()
        .map(|(h, (_, _, log))| (h.clone(), log.clone()))
        .collect();
    let ctx = super::probe::BetweenCtx {
        plan: shared.plan,
        hosts: &hosts,
        remotes: &remotes,
        per_host: &per_host,
        dry_run: shared.opts.dry_run,
    };
    let mut answers = work(ctx).await;
    for (h, (state, msg, log)) in open {
        let (state, msg) = match answers.remove(&h) {
            Some(Ok(m)) => (state, format!("{msg}; {m}")),
            Some(Err(e)) => {
                log.file_only(&format!("failed: {e}"));
                (StepState::Failed, e.to_string())
            }
            None => (state, msg),
        };
        shared.finish(&log, state, &msg);
        out.push((h, state));
    }
    out
}

/// One stage on one host. Returns the state it ended in and the message; with `keep_open`,
/// a step that ran and passed is not finished yet and its log comes back with it (the
/// stage's work across hosts finishes it).
async fn host_step(
    shared: &Shared<'_>,
    st: &dyn Stage,
    host: &Host,
    blocked_by: Option<String>,
    keep_open: bool,
) -> (StepState, String, Option<StepLog>) {
    let id = st.id();
    let mut log = shared.step_log(&host.name, id);
    let prior = shared
        .state
        .lock()
        .map(|s| s.state_of(id, &host.name))
        .unwrap_or_default();
    let blocked_by = match shared.stopped() {
        Some(why) => Some(format!("the run stopped: {why}")),
        None => blocked_by,
    };
    if let Some(why) = blocked_by {
        let msg = format!("waiting: {why}");
        log.emit(EventKind::Finished {
            state: StepState::Pending,
            message: msg.clone(),
        });
        if let Ok(mut s) = shared.summary.lock() {
            s.steps
                .push((id, host.name.clone(), StepState::Pending, msg.clone()));
        }
        return (StepState::Pending, msg, None);
    }
    if !st.concerns(shared.plan, host) {
        let msg = "nothing planned for this host".to_string();
        shared.finish(&log, StepState::Skipped, &msg);
        return (StepState::Skipped, msg, None);
    }
    if prior == StepState::Done && !shared.opts.dry_run {
        let msg = "done in an earlier run".to_string();
        log.emit(EventKind::Finished {
            state: StepState::Done,
            message: msg.clone(),
        });
        if let Ok(mut s) = shared.summary.lock() {
            s.steps
                .push((id, host.name.clone(), StepState::Done, msg.clone()));
        }
        return (StepState::Done, msg, None);
    }
    log.emit(EventKind::Started);
    // Nothing runs on the host unless the state can say it ran, and its log keeps what it
    // printed: a full disk stops the step here, before the first command.
    let unrecorded = shared
        .record(
            id,
            &host.name,
            StepState::Running,
            "",
            log.log_path().map(PathBuf::from),
        )
        .err();
    log.note(&format!("==> {} on {}", st.title(), host.name));
    if let Some(why) = unrecorded.or_else(|| log.write_error()) {
        shared.stop(&why);
        let msg = format!("not run: {why}");
        shared.finish(&log, StepState::Failed, &msg);
        return (StepState::Failed, msg, None);
    }
    let ctx = Ctx {
        plan: shared.plan,
        host,
        facts: shared.opts.facts.as_ref().and_then(|f| f.get(&host.name)),
        looks: shared.looks.get(&host.name),
    };
    let result = run_on_host(shared, st, &ctx, &mut log).await;
    let (state, msg) = match result {
        // The host did the work, but its log misses lines: the step is not counted as done
        // and the run stops; the message says both.
        Ok(msg) if log.write_error().is_some() => {
            let why = log.write_error().unwrap_or_default();
            shared.stop(&why);
            (StepState::Failed, format!("{msg}, but {why}"))
        }
        Ok(msg) => (StepState::Done, msg),
        Err(e) => {
            if matches!(e, StepError::Remote(RemoteError::Connection(_))) {
                shared.forget(&host.name).await;
            }
            // The log file says it; the watcher hears it once, from the Finished event.
            log.file_only(&format!("failed: {e}"));
            (StepState::Failed, e.to_string())
        }
    };
    let state = if shared.opts.dry_run && state == StepState::Done {
        StepState::Skipped
    } else {
        state
    };
    if keep_open && state != StepState::Failed {
        return (state, msg, Some(log));
    }
    shared.finish(&log, state, &msg);
    (state, msg, None)
}

async fn run_on_host(
    shared: &Shared<'_>,
    st: &dyn Stage,
    ctx: &Ctx<'_>,
    log: &mut StepLog,
) -> Result<String, StepError> {
    let dry = shared.opts.dry_run;
    // Verify and load balancer talk to a cluster that a dry run has not built yet: list.
    if dry && st.scope() == Scope::FirstControlPlane {
        let cmds = st.dry_run(ctx)?;
        say(log, &cmds);
        return Ok(format!("dry run: {} command(s)", cmds.len()));
    }
    let remote = match shared.remote(ctx.host).await {
        Ok(r) => r,
        Err(e) if dry => {
            log.note(&format!(
                "cannot reach the host ({e}); listing from the plan and known facts"
            ));
            let cmds = st.dry_run(ctx)?;
            say(log, &cmds);
            return Ok(format!(
                "dry run (host unreachable): {} command(s)",
                cmds.len()
            ));
        }
        Err(e) => {
            let reason = format!("cannot connect to {}: {e}", ctx.host.address);
            return Err(StepError::Remote(match e {
                RemoteError::Connection(_) => RemoteError::Connection(reason),
                RemoteError::Other(_) => RemoteError::Other(reason),
            }));
        }
    };
    // Every command on the host gets a stall limit, whatever the transport.
    let remote = Watched::new(remote, shared.opts.stall.clone(), log.clone());
    let cmds = st.check(ctx, &remote, log).await?;
    if cmds.is_empty() {
        if dry {
            return Ok("dry run: nothing to do".into());
        }
        st.verify(ctx, &remote, log).await?;
        return Ok("nothing to do".into());
    }
    if dry {
        say(log, &cmds);
        return Ok(format!("dry run: {} command(s)", cmds.len()));
    }
    if st.destructive() && !shared.opts.consent.covers(&ctx.host.name) {
        log.note("commands that would run:");
        for c in &cmds {
            log.note(&format!("  {}", c.shell));
        }
        return Err(StepError::NeedsConsent(ctx.host.name.clone()));
    }
    // Commands that change what the stages saw on the host: those looks no longer hold.
    if let Some(looks) = ctx.looks
        && st.changes_looks(ctx, &cmds)
    {
        looks.forget();
    }
    st.apply(ctx, &remote, &cmds, false, log).await?;
    st.verify(ctx, &remote, log).await?;
    Ok(format!("{} command(s) run", cmds.len()))
}

fn say(log: &mut StepLog, cmds: &[Cmd]) {
    for c in cmds {
        log.note(&format!("would run: {}", c.shell));
    }
}

async fn cluster_step(
    shared: &Shared<'_>,
    st: &dyn Stage,
    selected: &[&Host],
    blocked: &mut BTreeMap<String, String>,
) {
    let id = st.id();
    let plan = shared.plan;
    // A cluster-scoped stage builds the whole cluster: every plan host must be ready for it.
    let waiting = match shared.stopped() {
        Some(why) => Some(format!("waiting: the run stopped: {why}")),
        None => blocked
            .iter()
            .next()
            .map(|(h, w)| format!("waiting: {h}: {w}")),
    };
    if let Some(msg) = waiting {
        for h in selected {
            let log = shared.step_log(&h.name, id);
            log.emit(EventKind::Finished {
                state: StepState::Pending,
                message: msg.clone(),
            });
            if let Ok(mut s) = shared.summary.lock() {
                s.steps
                    .push((id, h.name.clone(), StepState::Pending, msg.clone()));
            }
            blocked.insert(h.name.clone(), format!("{id} did not run"));
        }
        return;
    }
    let all_done = selected.iter().all(|h| {
        shared
            .state
            .lock()
            .map(|s| s.state_of(id, &h.name) == StepState::Done)
            .unwrap_or(false)
    });
    if all_done && !shared.opts.dry_run {
        for h in selected {
            let log = shared.step_log(&h.name, id);
            log.emit(EventKind::Finished {
                state: StepState::Done,
                message: "done in an earlier run".into(),
            });
            if let Ok(mut s) = shared.summary.lock() {
                s.steps.push((
                    id,
                    h.name.clone(),
                    StepState::Done,
                    "done in an earlier run".into(),
                ));
            }
        }
        return;
    }
    // It runs against every host of the plan (a partial inventory would be a different
    // cluster); results are recorded for the selected ones.
    let every: Vec<&Host> = plan.hosts.iter().collect();
    let pane_name = st.pane().unwrap_or(LOCAL);
    let pane_log = || shared.logs.get(pane_name).map(|f| f.path().to_path_buf());
    let mut per_host = BTreeMap::new();
    for h in &every {
        let log = shared.step_log(&h.name, id);
        log.emit(EventKind::Started);
        let _ = shared.record(id, &h.name, StepState::Running, "", pane_log());
        per_host.insert(h.name.clone(), log);
    }
    if let Some(why) = shared.stopped() {
        let msg = format!("not run: {why}");
        for h in &every {
            shared.finish(&per_host[&h.name], StepState::Failed, &msg);
            blocked.insert(h.name.clone(), format!("{id} did not run"));
        }
        return;
    }
    let mut pane = shared.step_log(pane_name, id);
    let known = shared.opts.connector.known_hosts();
    let ctx = ClusterCtx {
        plan,
        hosts: &every,
        selected: &shared.opts.hosts,
        dry_run: shared.opts.dry_run,
        known_hosts: known.as_ref(),
        per_host: &per_host,
        stall: &shared.opts.stall,
    };
    let results = st.run_cluster(ctx, &mut pane).await;
    for h in &every {
        let log = &per_host[&h.name];
        let (state, msg) = match results.get(&h.name) {
            Some(Ok(m)) if shared.opts.dry_run => (StepState::Skipped, m.clone()),
            Some(Ok(m)) => (StepState::Done, m.clone()),
            Some(Err(e)) => (StepState::Failed, e.to_string()),
            None => (StepState::Failed, format!("no result from {}", st.title())),
        };
        let _ = shared.record(id, &h.name, state, &msg, pane_log());
        log.emit(EventKind::Finished {
            state,
            message: msg.clone(),
        });
        if state == StepState::Failed {
            blocked.insert(h.name.clone(), format!("{id} failed"));
        }
    }
}

#[cfg(test)]
mod tests;
