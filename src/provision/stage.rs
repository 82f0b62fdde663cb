//! A stage is a value with a title and a few hooks (k0sctl's phases):
//!
//! - `dry_run`: the exact commands it would run on a host, from the plan and what is known of
//!   the host (its facts). Pure; the wizard's Review screen shows it.
//! - `check`: looks at the live host (read-only) and answers with the commands still needed.
//!   An empty list means "already done, nothing to do"; an error refuses the host before
//!   anything ran on it (the safety rules live here). A stage that cannot look keeps the
//!   default: everything its dry run lists is still to do.
//! - `apply`: runs those commands (by default through `cmd::execute`, the one helper that
//!   decides "do it or only say it").
//! - `verify`: confirms the result; a stage is done on a host only when this passes.
//!
//! - `between_hosts`: for a per-host stage, work across the hosts that passed their own
//!   steps (Preflight's probe between nodes), with a result per host.
//! - `run_cluster`: for a stage with `Scope::Cluster`, the whole job at once, from this
//!   machine, with a result per host; its own output goes to the pseudo-host `pane()`.
//!
//! Most stages work per host over SSH. Kubespray works on the whole cluster at once from
//! this machine (`Scope::Cluster`); verify and load balancer work through `kubectl` on the
//! first control plane (`Scope::FirstControlPlane`). The order is `StageId::ALL`; the stage
//! values are listed in `stages` (the runner knows them only through this trait).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::cmd::{self, Cmd, StepError};
use super::event::StageId;
use super::log::StepLog;
use super::remote::Remote;
use crate::facts::HostFacts;
use crate::plan::{Host, Plan};
use crate::ssh::known_hosts::KnownHosts;

/// Where a stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On every selected host, in parallel with a bound.
    EachHost,
    /// Once for the cluster, from this machine; results are reported per host.
    Cluster,
    /// On the plan's first control-plane host only.
    FirstControlPlane,
}

/// What a stage knows while working on one host.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub host: &'a Host,
    /// Facts gathered earlier (discovery); `None` when unknown (headless dry run offline).
    pub facts: Option<&'a HostFacts>,
    /// What the stages of this run saw on the host so far (the runner's); `None` outside a
    /// run, where every look is taken afresh.
    pub looks: Option<&'a Looks>,
}

/// What the stages of one run learned by looking at one host, kept so that one look serves
/// every stage that needs it: preflight reads the disks with its own probe, and storage plans
/// from that view instead of probing again. One value per type (the storage stage's view of
/// the disks). A look holds until a command changes the host: the runner forgets everything
/// before a stage applies commands that may change it ([`Stage::changes_looks`]).
#[derive(Debug, Default)]
pub struct Looks {
    seen: std::sync::Mutex<
        BTreeMap<std::any::TypeId, std::sync::Arc<dyn std::any::Any + Send + Sync>>,
    >,
}

impl Looks {
    /// The last look of type `T`, if nothing was applied since.
    pub fn get<T: Clone + 'static>(&self) -> Option<T> {
        let seen = self.seen.lock().ok()?;
        seen.get(&std::any::TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
            .cloned()
    }

    pub fn keep<T: Send + Sync + 'static>(&self, look: T) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(std::any::TypeId::of::<T>(), std::sync::Arc::new(look));
        }
    }

    /// Forgets every look: commands are about to change the host.
    pub fn forget(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }
}

/// What a cluster-scoped stage knows while working on the whole cluster.
#[derive(Clone, Copy)]
pub struct ClusterCtx<'a> {
    pub plan: &'a Plan,
    /// The hosts that take part (every plan host: a partial inventory is another cluster).
    pub hosts: &'a [&'a Host],
    /// The hosts the operator selected (`apply --host`); empty for all. Kubespray limits its
    /// run to them (`--limit`) over the whole inventory.
    pub selected: &'a [String],
    /// Only say what would run.
    pub dry_run: bool,
    /// rackstrap's known_hosts files, for tools that open their own SSH connections.
    pub known_hosts: Option<&'a KnownHosts>,
    /// Each host's log: progress and the host's result go here.
    pub per_host: &'a BTreeMap<String, StepLog>,
    /// The run's stall limits and answer (`super::stall`), for the tools it runs here.
    pub stall: &'a super::stall::StallPolicy,
}

/// Each host's result of a cluster-scoped stage: a summary, or why it failed.
pub type ClusterResults = BTreeMap<String, Result<String, StepError>>;

#[async_trait]
pub trait Stage: Send + Sync {
    fn id(&self) -> StageId;

    fn title(&self) -> &'static str {
        self.id().title()
    }

    fn scope(&self) -> Scope {
        Scope::EachHost
    }

    /// Whether the plan gives this stage anything to do on `host` (storage: hosts with
    /// layouts). Hosts it does not concern are marked skipped.
    fn concerns(&self, _plan: &Plan, _host: &Host) -> bool {
        true
    }

    /// Whether running it can destroy data, so it needs the operator's consent per host.
    fn destructive(&self) -> bool {
        false
    }

    /// Whether `cmds` (from this stage's `check`) may change what the run saw on the host
    /// ([`Looks`]): when they may, the runner forgets those looks before running them.
    fn changes_looks(&self, _ctx: &Ctx<'_>, _cmds: &[Cmd]) -> bool {
        true
    }

    /// The commands this stage would run on the host, computed without touching it.
    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError>;

    /// What this stage will change on the host, in words, for an operator reading before
    /// the commands (`provision::summary`). Default: nothing beyond the commands.
    fn summary(&self, _ctx: &Ctx<'_>) -> Vec<String> {
        Vec::new()
    }

    /// Looks at the live host; returns the commands still needed (empty: nothing to do).
    /// Default, for stages that cannot tell what is done: everything `dry_run` lists.
    async fn check(
        &self,
        ctx: &Ctx<'_>,
        _remote: &dyn Remote,
        _log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        self.dry_run(ctx)
    }

    async fn apply(
        &self,
        _ctx: &Ctx<'_>,
        remote: &dyn Remote,
        cmds: &[Cmd],
        dry_run: bool,
        log: &mut StepLog,
    ) -> Result<(), StepError> {
        cmd::execute(remote, cmds, dry_run, log).await
    }

    /// Confirms the stage's result on the host. Runs after `apply`, and after a `check` that
    /// found nothing to do.
    async fn verify(
        &self,
        _ctx: &Ctx<'_>,
        _remote: &dyn Remote,
        _log: &mut StepLog,
    ) -> Result<(), StepError> {
        Ok(())
    }

    /// For an `EachHost` stage: work that needs the hosts together (Preflight's probe
    /// between nodes), run once every selected host has passed its own steps, on those
    /// hosts; a host whose result is an error fails the stage. `None`: each host's step
    /// stands alone.
    fn between_hosts(&self) -> Option<super::probe::BetweenHosts> {
        None
    }

    /// The pseudo-host a cluster-scoped stage's own output is logged and shown under
    /// (Kubespray: `ansible`); `None` for stages that work on hosts.
    fn pane(&self) -> Option<&'static str> {
        None
    }

    /// `Scope::Cluster`: does the stage's whole job for `ctx.hosts` at once, its own output
    /// to `pane`, and answers with each host's result. Only the runner calls it, and only for
    /// stages whose `scope()` is `Cluster`.
    async fn run_cluster(&self, ctx: ClusterCtx<'_>, _pane: &mut StepLog) -> ClusterResults {
        let why = format!("{} does not run for the whole cluster", self.title());
        ctx.hosts
            .iter()
            .map(|h| (h.name.clone(), Err(StepError::Check(why.clone()))))
            .collect()
    }
}

/// Whether a run reports a result of `stage` for `host`: per-host stages and Kubespray (its
/// PLAY RECAP is per host) on every host of the plan; verify and load balancer only on the
/// first control plane, where their `kubectl` runs.
pub fn reports_on(plan: &Plan, stage: StageId, host: &str) -> bool {
    match crate::provision::stages::stage(stage).scope() {
        Scope::EachHost | Scope::Cluster => plan.hosts.iter().any(|h| h.name == host),
        Scope::FirstControlPlane => plan.first_control_plane().is_some_and(|h| h.name == host),
    }
}
