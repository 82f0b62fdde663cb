//! A stage is a value with a title and a few hooks (k0sctl's phases):
//!
//! - `dry_run`: the exact commands it would run on a host, from the plan and what is known of
//!   the host (its facts). Pure; the wizard's Review screen shows it.
//! - `check`: looks at the live host (read-only) and answers with the commands still needed.
//!   An empty list means "already done, nothing to do"; an error refuses the host before
//!   anything ran on it (the safety rules live here).
//! - `apply`: runs those commands (by default through `cmd::execute`, the one helper that
//!   decides "do it or only say it").
//! - `verify`: confirms the result; a stage is done on a host only when this passes.
//!
//! Most stages work per host over SSH. Kubespray works on the whole cluster at once from
//! this machine (`Scope::Cluster`); verify and load balancer work through `kubectl` on the
//! first control plane (`Scope::FirstControlPlane`). The order is `StageId::ALL`.

use async_trait::async_trait;

use super::cmd::{self, Cmd, StepError};
use super::event::StageId;
use super::log::StepLog;
use super::remote::Remote;
use crate::facts::HostFacts;
use crate::plan::{Host, Plan, Role};

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
}

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

    /// The commands this stage would run on the host, computed without touching it.
    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError>;

    /// Looks at the live host; returns the commands still needed (empty: nothing to do).
    async fn check(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError>;

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
}

/// The stages in their run order, each once.
pub fn all() -> Vec<Box<dyn Stage>> {
    StageId::ALL.into_iter().map(stage).collect()
}

/// The stage value for an id.
pub fn stage(id: StageId) -> Box<dyn Stage> {
    use super::stages::*;
    match id {
        StageId::Preflight => Box::new(preflight::Preflight),
        StageId::HostPrep => Box::new(host_prep::HostPrep),
        StageId::Storage => Box::new(storage::Storage),
        StageId::Kubespray => Box::new(kubespray::KubesprayStage),
        StageId::Verify => Box::new(verify::Verify),
        StageId::LoadBalancer => Box::new(load_balancer::LoadBalancer),
    }
}

/// The host `kubectl` runs on: the first control plane in plan order.
pub fn first_control_plane(plan: &Plan) -> Option<&Host> {
    plan.hosts.iter().find(|h| h.has_role(Role::ControlPlane))
}
