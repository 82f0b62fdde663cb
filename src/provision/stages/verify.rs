//! Verify: the checks of "STEP 9 - Confirm Kubernetes Cluster" in Akash's "Kubernetes Cluster
//! for Akash Providers" guide (docs/sources.md), run with `kubectl` (and `etcdctl`) on the
//! first control plane: every node Ready, kube-system pods Running, CoreDNS forwarding to the upstream DNS
//! servers, etcd endpoints healthy. The commands and their parsers are `crate::cluster`'s. Read-only: it never has commands to apply, only a verdict.

use async_trait::async_trait;

use crate::cluster::{self, COREDNS, ETCD_HEALTH as ETCD, NODES, PODS};
use crate::plan::Plan;
use crate::provision::cmd::{Cmd, StepError};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Scope, Stage};

pub struct Verify;

pub fn commands() -> Vec<Cmd> {
    [NODES, PODS, COREDNS, ETCD]
        .into_iter()
        .map(Cmd::new)
        .collect()
}

/// `kubectl get nodes --no-headers`: every plan host listed and Ready.
pub fn check_nodes(plan: &Plan, out: &str) -> Result<String, String> {
    let rows = cluster::node_rows(out);
    let mut problems = Vec::new();
    for h in &plan.hosts {
        match rows.iter().find(|r| r.node.name == h.name) {
            None => problems.push(format!("{} is not a node", h.name)),
            Some(r) if !r.node.ready => problems.push(format!("{} is {}", h.name, r.status)),
            Some(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(format!("{} node(s) Ready", rows.len()))
    } else {
        Err(problems.join(", "))
    }
}

/// `kubectl get pods -n kube-system --no-headers`: every pod Running (or Completed).
pub fn check_pods(out: &str) -> Result<String, String> {
    let pods = cluster::parse_pods(out);
    let bad: Vec<String> = pods
        .iter()
        .filter(|p| !p.is_up())
        .map(|p| format!("{} {}", p.name, p.status))
        .collect();
    if pods.is_empty() {
        Err("no pods in kube-system".into())
    } else if bad.is_empty() {
        Ok(format!("{} kube-system pod(s) Running", pods.len()))
    } else {
        Err(format!("not Running: {}", bad.join(", ")))
    }
}

/// The CoreDNS Corefile's `forward` line names every upstream DNS server of the plan.
pub fn check_coredns(plan: &Plan, out: &str) -> Result<String, String> {
    let forwards = cluster::coredns_forwards(out);
    if plan.network.upstream_dns.is_empty() {
        return Ok("no upstream DNS in the plan".into());
    }
    let missing: Vec<&String> = plan
        .network
        .upstream_dns
        .iter()
        .filter(|d| {
            !forwards
                .iter()
                .any(|f| f.split_whitespace().any(|w| w == d.as_str()))
        })
        .collect();
    if missing.is_empty() {
        Ok(format!(
            "CoreDNS forwards to {}",
            plan.network.upstream_dns.join(", ")
        ))
    } else {
        Err(format!(
            "CoreDNS does not forward to {} ({})",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if forwards.is_empty() {
                "no forward line".to_string()
            } else {
                forwards.join("; ")
            }
        ))
    }
}

/// `etcdctl endpoint health --cluster`: every endpoint `is healthy`.
pub fn check_etcd(out: &str) -> Result<String, String> {
    let endpoints = cluster::endpoint_health(out);
    let bad: Vec<&str> = endpoints
        .iter()
        .filter(|e| !e.healthy)
        .map(|e| e.line.as_str())
        .collect();
    if endpoints.is_empty() {
        Err("etcdctl reported no endpoints".into())
    } else if bad.is_empty() {
        Ok(format!("{} etcd endpoint(s) healthy", endpoints.len()))
    } else {
        Err(format!("etcd: {}", bad.join("; ")))
    }
}

#[async_trait]
impl Stage for Verify {
    fn id(&self) -> StageId {
        StageId::Verify
    }

    fn scope(&self) -> Scope {
        Scope::FirstControlPlane
    }

    fn dry_run(&self, _ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        Ok(commands())
    }

    async fn check(
        &self,
        _ctx: &Ctx<'_>,
        _remote: &dyn Remote,
        _log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        Ok(Vec::new())
    }

    async fn verify(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<(), StepError> {
        type Check = fn(&Plan, &str) -> Result<String, String>;
        let checks: [(&str, Check); 4] = [
            (NODES, check_nodes),
            (PODS, |_, o| check_pods(o)),
            (COREDNS, check_coredns),
            (ETCD, |_, o| check_etcd(o)),
        ];
        let mut failures = Vec::new();
        for (command, check) in checks {
            log.command(command);
            let out = remote.capture(command).await?;
            for l in out.stdout.lines().chain(out.stderr.lines()) {
                log.line(l, false);
            }
            let verdict = if out.ok() {
                check(ctx.plan, &out.stdout)
            } else {
                Err(format!(
                    "`{command}` exited {}: {}",
                    out.status,
                    out.stderr.lines().last().unwrap_or("").trim()
                ))
            };
            match verdict {
                Ok(m) => log.note(&format!("ok: {m}")),
                Err(m) => {
                    log.note(&format!("error: {m}"));
                    failures.push(m);
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(StepError::Check(failures.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        serde_yaml::from_str(
            "version: 1\ncluster: {name: akash}\nhosts:\n- {name: node1, address: 10.0.0.1}\n- {name: node2, address: 10.0.0.2}\nnetwork: {upstream_dns: [8.8.8.8, 1.1.1.1]}\n",
        )
        .expect("plan")
    }

    #[test]
    fn nodes_must_all_be_ready() {
        let p = plan();
        let out = "node1   Ready    control-plane   5m48s   v1.28.6\nnode2   NotReady   <none>   4m7s   v1.28.6\n";
        assert_eq!(check_nodes(&p, out), Err("node2 is NotReady".into()));
        let out = "node1   Ready    control-plane   5m48s   v1.28.6\n";
        assert_eq!(check_nodes(&p, out), Err("node2 is not a node".into()));
        let ok = "node1 Ready cp 1m v1\nnode2 Ready <none> 1m v1\n";
        assert_eq!(check_nodes(&p, ok), Ok("2 node(s) Ready".into()));
    }

    #[test]
    fn pods_coredns_and_etcd_are_read_from_the_guides_shapes() {
        let pods = "coredns-8474476ff8-9sgm5   1/1   Running   0   4m32s\nkube-proxy-75s7d   0/1   CrashLoopBackOff   5   5m\n";
        assert_eq!(
            check_pods(pods),
            Err("not Running: kube-proxy-75s7d CrashLoopBackOff".into())
        );
        let cm = "data:\n  Corefile: |\n    .:53 {\n        forward . 8.8.8.8 1.1.1.1 {\n          prefer_udp\n        }\n";
        assert!(check_coredns(&plan(), cm).is_ok());
        let cm_bad = "    forward . /etc/resolv.conf {\n";
        assert_eq!(
            check_coredns(&plan(), cm_bad),
            Err(
                "CoreDNS does not forward to 8.8.8.8, 1.1.1.1 (forward . /etc/resolv.conf {)"
                    .into()
            )
        );
        let etcd = "https://10.0.0.1:2379 is healthy: successfully committed proposal: took = 9.8ms\n\
                    https://10.0.0.2:2379 is unhealthy: failed to commit proposal: context deadline exceeded\n";
        assert!(
            check_etcd(etcd)
                .unwrap_err()
                .contains("10.0.0.2:2379 is unhealthy")
        );
    }
}
