//! Reading a Kubespray cluster: the `kubectl` and `etcdctl` commands rackstrap runs on a
//! control plane, the look at the files an install leaves on a host, and the parsers of their
//! answers. Pure: the callers run the commands over their own connection (the verify stage
//! through its `Remote`, drift over an SSH session) and hand the output here. The verify stage,
//! drift and the node actions read the cluster only through this module.
//!
//! The etcd commands load `/etc/etcd.env` first (Kubespray writes the client certificate paths
//! and endpoints there), as the Akash guide's "Verify etcd Status and Health" does.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::facts::probe::{self, Script};

/// The files a Kubespray install leaves on a host: kubelet's configuration, etcd's
/// environment (client certificates and endpoints) and etcd's data directory.
pub const KUBELET_CONFIG: &str = "/var/lib/kubelet/config.yaml";
pub const ETCD_ENV_FILE: &str = "/etc/etcd.env";
pub const ETCD_DATA_DIR: &str = "/var/lib/etcd";

/// Loads etcd's environment (`ETCDCTL_*`) from [`ETCD_ENV_FILE`] in the shell the command
/// runs in (a literal, so the commands stay constants; a test holds it to the constant).
macro_rules! with_etcd_env {
    ($command:literal) => {
        concat!(
            "export $(grep -v '^#' /etc/etcd.env | xargs -d '\\n') && ",
            $command
        )
    };
}

/// Every node, one row each: name, STATUS, ROLES, AGE, VERSION.
pub const NODES: &str = "kubectl get nodes --no-headers";
/// Every node as JSON: its Ready condition and InternalIP.
pub const NODES_JSON: &str = "kubectl get nodes -o json";
/// The kube-system pods: name, READY, STATUS, ...
pub const PODS: &str = "kubectl get pods -n kube-system --no-headers";
/// The Akash guide's "Verify CoreDNS Config": `kubectl -n kube-system get cm coredns -o yaml | grep forward`.
pub const COREDNS: &str = "kubectl -n kube-system get cm coredns -o yaml";
/// The Akash guide's "Verify etcd Status and Health": every endpoint of the cluster asked.
pub const ETCD_HEALTH: &str = with_etcd_env!("etcdctl endpoint health --cluster");
/// The etcd members: `id, started, name, peer urls, client urls, is learner`.
pub const ETCD_MEMBERS: &str = with_etcd_env!("etcdctl member list");

/// A Node object: from `kubectl get nodes -o json` ([`parse_nodes`]) or a row of
/// `kubectl get nodes --no-headers` ([`node_rows`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub ready: bool,
    pub internal_ip: Option<String>,
}

/// A row of `kubectl get nodes --no-headers`: the node and kubectl's STATUS column as printed
/// (`Ready`, `NotReady`, `Ready,SchedulingDisabled`). Only `Ready` itself counts as ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub node: Node,
    pub status: String,
}

/// `kubectl get nodes --no-headers` -> its rows (lines with fewer than two columns skipped).
pub fn node_rows(out: &str) -> Vec<NodeRow> {
    out.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, status) = (f.next()?, f.next()?);
            Some(NodeRow {
                node: Node {
                    name: name.to_string(),
                    ready: status == "Ready",
                    internal_ip: None,
                },
                status: status.to_string(),
            })
        })
        .collect()
}

/// `kubectl get nodes -o json` -> the nodes, their Ready condition and InternalIP.
pub fn parse_nodes(json: &str) -> Result<Vec<Node>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("{NODES_JSON}: {e}"))?;
    let items = v
        .get("items")
        .and_then(|i| i.as_array())
        .ok_or_else(|| format!("{NODES_JSON}: no `items` list"))?;
    let mut nodes = Vec::new();
    for item in items {
        let Some(name) = item.pointer("/metadata/name").and_then(|n| n.as_str()) else {
            continue;
        };
        let list = |key: &str| {
            item.pointer(&format!("/status/{key}"))
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default()
        };
        let ready = list("conditions").iter().any(|c| {
            c.get("type").and_then(|t| t.as_str()) == Some("Ready")
                && c.get("status").and_then(|s| s.as_str()) == Some("True")
        });
        let internal_ip = list("addresses")
            .iter()
            .find(|a| a.get("type").and_then(|t| t.as_str()) == Some("InternalIP"))
            .and_then(|a| a.get("address").and_then(|s| s.as_str()))
            .map(str::to_string);
        nodes.push(Node {
            name: name.to_string(),
            ready,
            internal_ip,
        });
    }
    Ok(nodes)
}

/// A pod as `kubectl get pods --no-headers` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub name: String,
    /// The STATUS column: `Running`, `Completed`, `CrashLoopBackOff`, ...
    pub status: String,
}

impl Pod {
    /// Running, or a job's pod that finished.
    pub fn is_up(&self) -> bool {
        self.status == "Running" || self.status == "Completed"
    }
}

/// `kubectl get pods --no-headers` -> the pods (lines with fewer than three columns skipped).
pub fn parse_pods(out: &str) -> Vec<Pod> {
    out.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3).then(|| Pod {
                name: f[0].to_string(),
                status: f[2].to_string(),
            })
        })
        .collect()
}

/// The `forward` lines of the CoreDNS ConfigMap's Corefile ([`COREDNS`]), trimmed.
pub fn coredns_forwards(out: &str) -> Vec<&str> {
    out.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("forward "))
        .collect()
}

/// One line of `etcdctl endpoint health --cluster`
/// (`https://10.0.0.1:2379 is healthy: successfully committed proposal: took = 2ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The address of the endpoint's URL, when the line starts with one.
    pub address: Option<String>,
    pub healthy: bool,
    /// The line as etcdctl printed it.
    pub line: String,
}

/// `etcdctl endpoint health --cluster` -> one endpoint per non-blank line.
pub fn endpoint_health(out: &str) -> Vec<Endpoint> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Endpoint {
            address: l.split_whitespace().next().and_then(url_host),
            healthy: l.contains(" is healthy"),
            line: l.to_string(),
        })
        .collect()
}

/// An etcd member as `etcdctl member list` and `endpoint health --cluster` give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    /// The address of its peer URL.
    pub peer_ip: String,
    pub healthy: bool,
}

/// The address in `https://10.0.0.1:2380` (IPv6 brackets dropped).
fn url_host(url: &str) -> Option<String> {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, r)| r);
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        rest.split([':', '/']).next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// `etcdctl member list` ([`ETCD_MEMBERS`]) and `etcdctl endpoint health --cluster`
/// ([`ETCD_HEALTH`]) -> the members; a member is healthy when it is started and its client
/// URL's endpoint is healthy.
pub fn parse_members(list: &str, health: &str) -> Vec<Member> {
    let healthy: BTreeSet<String> = endpoint_health(health)
        .into_iter()
        .filter(|e| e.healthy)
        .filter_map(|e| e.address)
        .collect();
    list.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            if f.len() < 5 {
                return None;
            }
            let peer_ip = url_host(f[3])?;
            let client_ip = url_host(f[4]).unwrap_or_else(|| peer_ip.clone());
            Some(Member {
                name: f[2].to_string(),
                healthy: f[1] == "started" && healthy.contains(&client_ip),
                peer_ip,
            })
        })
        .collect()
}

/// The files a Kubespray install leaves on a host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallFiles {
    /// `/var/lib/kubelet/config.yaml` exists.
    pub kubelet_config: bool,
    /// `/etc/etcd.env` exists.
    pub etcd_env: bool,
    /// `/var/lib/etcd` exists and is not empty.
    pub etcd_data: bool,
}

/// The install files' probe sections, each printing `yes` when its file is there.
const INSTALL_SECTIONS: [&str; 3] = ["kubelet-config", "etcd-env", "etcd-data"];

/// The look at the install files, in the host-probe protocol ([`crate::facts::probe`]).
pub fn install_probe() -> String {
    Script::new()
        .section(
            INSTALL_SECTIONS[0],
            format!("test -e {KUBELET_CONFIG} && echo yes"),
        )
        .section(
            INSTALL_SECTIONS[1],
            format!("test -e {ETCD_ENV_FILE} && echo yes"),
        )
        .section(
            INSTALL_SECTIONS[2],
            format!("[ -n \"$(ls -A {ETCD_DATA_DIR} 2>/dev/null)\" ] && echo yes"),
        )
        .lines()
}

impl InstallFiles {
    /// What [`install_probe`] printed; `None` when its output stopped early.
    pub fn parse(out: &str) -> Option<Self> {
        let sections = probe::split(out);
        if !sections.complete() {
            return None;
        }
        let has = |name: &str| sections.words(name).any(|w| w == "yes");
        Some(Self {
            kubelet_config: has(INSTALL_SECTIONS[0]),
            etcd_env: has(INSTALL_SECTIONS[1]),
            etcd_data: has(INSTALL_SECTIONS[2]),
        })
    }
}

#[cfg(test)]
mod tests;
