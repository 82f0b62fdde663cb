//! Load balancer: MetalLB as Akash's "IP Leases - Provider Enablement" guide sets it up
//! (docs/sources.md), finished with `kubectl` on the first control plane. Kubespray installs
//! MetalLB from the rendered group_vars (the guide's option 2, "Deploy MetalLB with Kubespray":
//! `metallb_enabled`, the pools, `kube_proxy_strict_arp`); this stage then makes sure the
//! pools and the L2 advertisement exist (applying the rendered manifests when they do not),
//! that kube-proxy has strict ARP, and, when the plan asks, exposes the controller for the
//! Akash IP operator. Each piece is checked first, so a second run has nothing to do.

use async_trait::async_trait;

use crate::plan::{Host, Plan};
use crate::provision::cmd::{Cmd, StepError, heredoc, quote};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Scope, Stage};

pub struct LoadBalancer;

/// The pool names MetalLB knows (the IP Leases guide's "Verify" step lists them).
pub const POOLS: &str = "kubectl -n metallb-system get ipaddresspools.metallb.io -o jsonpath='{.items[*].metadata.name}'";
/// Strict ARP is on in kube-proxy's config (MetalLB's layer 2 mode needs it with IPVS).
pub const STRICT_ARP_CHECK: &str =
    "kubectl get configmap kube-proxy -n kube-system -o yaml | grep -q 'strictARP: true'";
/// The IP Leases guide's strict ARP command, verbatim.
pub const STRICT_ARP_APPLY: &str = "kubectl get configmap kube-proxy -n kube-system -o yaml | sed -e \"s/strictARP: false/strictARP: true/\" | kubectl apply -f - -n kube-system";
pub const CONTROLLER_SERVICE: &str = "kubectl -n metallb-system get service controller";
/// The IP Leases guide (Kubespray path): the controller's monitoring port for the Akash IP
/// operator.
pub const EXPOSE_CONTROLLER: &str = "kubectl -n metallb-system expose deployment controller --overrides='{\"spec\":{\"ports\":[{\"protocol\":\"TCP\",\"name\":\"monitoring\",\"port\":7472}]}}'";

fn manifests(plan: &Plan) -> Result<Option<String>, StepError> {
    let files = crate::render::render(plan).map_err(|e| StepError::Check(e.to_string()))?;
    Ok(files
        .into_iter()
        .find(|f| f.path.as_path() == std::path::Path::new(crate::render::METALLB_FILE))
        .map(|f| f.contents))
}

fn apply_manifests(contents: &str) -> Cmd {
    Cmd::new(format!("kubectl apply -f - {}", heredoc(contents)))
}

/// What the stage would do with nothing in place yet.
pub fn all_commands(plan: &Plan) -> Result<Vec<Cmd>, StepError> {
    let mut cmds = Vec::new();
    if let Some(m) = manifests(plan)? {
        cmds.push(apply_manifests(&m));
    }
    cmds.push(Cmd::new(STRICT_ARP_APPLY));
    if plan.network.load_balancer.expose_controller {
        cmds.push(Cmd::new(EXPOSE_CONTROLLER));
    }
    Ok(cmds)
}

#[async_trait]
impl Stage for LoadBalancer {
    fn id(&self) -> StageId {
        StageId::LoadBalancer
    }

    fn scope(&self) -> Scope {
        Scope::FirstControlPlane
    }

    fn concerns(&self, plan: &Plan, _host: &Host) -> bool {
        !plan.network.load_balancer.pools.is_empty()
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        all_commands(ctx.plan)
    }

    async fn check(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        let mut cmds = Vec::new();
        let pools = remote.capture(POOLS).await?;
        let have: Vec<&str> = pools.stdout.split_whitespace().collect();
        let lb = &ctx.plan.network.load_balancer;
        let missing: Vec<&str> = lb
            .pools
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| !have.contains(n))
            .collect();
        if missing.is_empty() {
            log.note(&format!("MetalLB pools present: {}", have.join(", ")));
        } else if let Some(m) = manifests(ctx.plan)? {
            log.note(&format!("MetalLB pools missing: {}", missing.join(", ")));
            cmds.push(apply_manifests(&m));
        }
        if remote.capture(STRICT_ARP_CHECK).await?.ok() {
            log.note("kube-proxy has strictARP: true");
        } else {
            cmds.push(Cmd::new(STRICT_ARP_APPLY));
        }
        if lb.expose_controller {
            if remote.capture(CONTROLLER_SERVICE).await?.ok() {
                log.note("MetalLB controller already exposed");
            } else {
                cmds.push(Cmd::new(EXPOSE_CONTROLLER));
            }
        }
        Ok(cmds)
    }

    async fn verify(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        _log: &mut StepLog,
    ) -> Result<(), StepError> {
        let pools = remote.capture(POOLS).await?;
        let have: Vec<&str> = pools.stdout.split_whitespace().collect();
        for p in &ctx.plan.network.load_balancer.pools {
            if !have.contains(&p.name.as_str()) {
                return Err(StepError::Check(format!(
                    "MetalLB has no pool {} after applying",
                    quote(&p.name)
                )));
            }
        }
        Ok(())
    }
}
