//! Gathering what drift compares: each plan host over rackstrap's own SSH (pinned keys; a
//! changed key means nothing runs there), its facts and the files a Kubespray install leaves,
//! then the cluster's answers from the first control plane that connects: `kubectl get nodes
//! -o json`, `etcdctl member list` and `etcdctl endpoint health --cluster`. The commands, the
//! look at the install files and their parsers are `crate::cluster`'s.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::plan::{Plan, Role};
use crate::ssh::{ConnectOptions, Session, SshError};

use crate::cluster::{self, InstallFiles};

use super::drift::{ClusterSeen, HostSeen, Observed, Probe, Reach};

/// Hosts probed at once.
const CONCURRENCY: usize = 16;

fn reach_of(e: SshError) -> Reach {
    match e {
        SshError::HostKeyChanged { pinned, offered } => Reach::HostKeyChanged { pinned, offered },
        SshError::UnknownHostKey { fingerprint } => Reach::UnknownHostKey {
            offered: fingerprint,
        },
        SshError::AuthFailed(_)
        | SshError::HostKeyRevoked { .. }
        | SshError::KnownHosts(_)
        | SshError::PinFailed { .. }
        | SshError::Key { .. }
        | SshError::SudoNeedsPassword
        | SshError::SudoRefused(_) => Reach::Refused {
            message: e.to_string(),
        },
        other => Reach::Unreachable {
            message: other.to_string(),
        },
    }
}

async fn probe_host(
    address: &str,
    opts: &ConnectOptions,
) -> (Reach, Option<Probe>, Option<Session>) {
    let session = match Session::connect(address, opts).await {
        Ok(s) => s,
        Err(e) => return (reach_of(e), None, None),
    };
    let facts = match crate::facts::gather(&session).await {
        Ok(f) => f,
        Err(e) => {
            return (
                Reach::Unreachable {
                    message: format!("facts: {e}"),
                },
                None,
                None,
            );
        }
    };
    let files = session
        .run(&cluster::install_probe())
        .await
        .ok()
        .and_then(|o| InstallFiles::parse(&o.stdout))
        .unwrap_or_default();
    let probe = Probe::from_facts(&facts, files);
    (Reach::Connected, Some(probe), Some(session))
}

/// Asks the cluster through `session`; `None` for what it could not answer.
async fn ask_cluster(name: &str, session: &Session) -> ClusterSeen {
    let nodes = match session.run(cluster::NODES_JSON).await {
        Ok(o) if o.status == 0 => cluster::parse_nodes(&o.stdout).ok(),
        _ => None,
    };
    let list = session.run(cluster::ETCD_MEMBERS).await;
    let health = session.run(cluster::ETCD_HEALTH).await;
    let members = match (list, health) {
        (Ok(l), Ok(h)) if l.status == 0 => Some(cluster::parse_members(
            &l.stdout,
            &format!("{}{}", h.stdout, h.stderr),
        )),
        _ => None,
    };
    ClusterSeen {
        asked: name.to_string(),
        nodes,
        members,
    }
}

/// Probes every plan host (bounded), then asks the cluster on the first control plane, in
/// plan order, that connected and has a kubelet configuration.
pub async fn observe(plan: &Plan, opts: ConnectOptions) -> Observed {
    let opts = Arc::new(opts);
    let limit = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = Vec::new();
    for h in &plan.hosts {
        let (opts, limit, address) = (opts.clone(), limit.clone(), h.address.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            probe_host(&address, &opts).await
        }));
    }
    let mut hosts = Vec::new();
    let mut sessions = Vec::new();
    for (h, task) in plan.hosts.iter().zip(tasks) {
        let (reach, probe, session) = task.await.unwrap_or_else(|e| {
            (
                Reach::Unreachable {
                    message: format!("probe failed: {e}"),
                },
                None,
                None,
            )
        });
        let installed = probe.as_ref().is_some_and(|p| p.kubelet_config);
        hosts.push(HostSeen {
            name: h.name.clone(),
            reach,
            probe,
        });
        if let Some(s) = session {
            sessions.push((
                h.name.clone(),
                h.has_role(Role::ControlPlane) && installed,
                s,
            ));
        }
    }
    let mut cluster = None;
    for (name, control_plane, s) in &sessions {
        if *control_plane {
            let seen = ask_cluster(name, s).await;
            if seen.nodes.is_some() {
                cluster = Some(seen);
                break;
            }
        }
    }
    for (_, _, s) in sessions {
        s.close().await;
    }
    Observed { hosts, cluster }
}

/// Re-pins `name`'s key after the operator confirmed it by typing the host's name: the old
/// pins for its address go, and the key offered now is pinned only if its fingerprint is the
/// one the drift report showed (`offered`). Returns the new fingerprint.
pub async fn accept_new_key(
    plan: &Plan,
    name: &str,
    offered: &str,
    opts: &ConnectOptions,
) -> Result<String, String> {
    let host = plan
        .hosts
        .iter()
        .find(|h| h.name == name)
        .ok_or_else(|| format!("the plan has no host {name}"))?;
    let known = opts.known();
    let address = host.address.trim_start_matches('[').trim_end_matches(']');
    known
        .forget(address, opts.port)
        .map_err(|e| format!("{}: {e}", opts.known_hosts.display()))?;
    let mut o = opts.clone();
    o.accept_new = false;
    o.accepted_fingerprints = vec![offered.to_string()];
    // A key still recorded in a read-only file (the user's ~/.ssh/known_hosts) stays changed.
    match Session::connect(&host.address, &o).await {
        Ok(s) => {
            let fp = s.fingerprint().to_string();
            s.close().await;
            Ok(fp)
        }
        Err(e) => Err(format!("{name}: {e}")),
    }
}
