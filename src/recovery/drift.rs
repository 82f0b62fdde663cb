//! Drift: what differs between a plan, its hosts and its cluster, and the guided action for
//! each difference. Pure: [`assess`] takes what was observed ([`Observed`], gathered over SSH
//! by `recovery::observe`) and returns a [`Report`]; the wizard's Drift screen and
//! `rackstrap drift` both print that report.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::facts::{BlockDevice, HostFacts};
use crate::plan::{Host, Level, Plan, Quorum, Role};

use super::quorum;

/// How rackstrap's own connection to a host went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reach {
    /// Connected with the pinned key; `probe` holds what the host reported.
    Connected,
    /// No TCP or SSH answer in time (or refused).
    Unreachable { message: String },
    /// The host offered a different key than the one pinned: nothing ran on it.
    HostKeyChanged { pinned: String, offered: String },
    /// No key pinned for the host yet: nothing ran on it.
    UnknownHostKey { offered: String },
    /// The server answered but refused rackstrap's credentials (or sudo).
    Refused { message: String },
}

/// What a reachable host reported about the files a Kubespray install leaves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// `/var/lib/kubelet/config.yaml` exists.
    pub kubelet_config: bool,
    /// `/etc/etcd.env` exists.
    pub etcd_env: bool,
    /// `/var/lib/etcd` exists and is not empty.
    pub etcd_data: bool,
    /// The host's addresses (`ip -j addr`).
    pub addresses: Vec<String>,
    /// Block devices as `lsblk` showed them.
    pub disks: Vec<BlockDevice>,
}

impl Probe {
    /// Nothing of a Kubespray install is left: no kubelet config, no etcd environment or data.
    pub fn blank(&self) -> bool {
        !self.kubelet_config && !self.etcd_env && !self.etcd_data
    }

    /// The parts of `facts` drift reads, with the install files.
    pub fn from_facts(
        facts: &HostFacts,
        kubelet_config: bool,
        etcd_env: bool,
        etcd_data: bool,
    ) -> Self {
        Self {
            kubelet_config,
            etcd_env,
            etcd_data,
            addresses: facts
                .interfaces
                .iter()
                .flat_map(|i| i.addresses.iter())
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect(),
            disks: facts.disks.clone(),
        }
    }
}

/// One plan host as observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSeen {
    pub name: String,
    pub reach: Reach,
    pub probe: Option<Probe>,
}

/// A Node object as `kubectl get nodes -o json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub ready: bool,
    pub internal_ip: Option<String>,
}

/// An etcd member as `etcdctl member list` and `endpoint health --cluster` give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    /// The address of its peer URL.
    pub peer_ip: String,
    pub healthy: bool,
}

/// What the cluster said, asked on the first control plane that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSeen {
    /// The host asked.
    pub asked: String,
    pub nodes: Option<Vec<Node>>,
    pub members: Option<Vec<Member>>,
}

/// Everything observed for a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub hosts: Vec<HostSeen>,
    /// `None`: no control plane answered (or none could be asked).
    pub cluster: Option<ClusterSeen>,
}

/// One difference between the plan and what is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Drift {
    Unreachable {
        message: String,
    },
    /// Old and new `SHA256:` fingerprints.
    HostKeyChanged {
        pinned: String,
        offered: String,
    },
    HostKeyNotPinned {
        offered: String,
    },
    CredentialsRefused {
        message: String,
    },
    /// Blank (or a new host key) while the cluster still has its Node or etcd member.
    Reinstalled {
        evidence: String,
    },
    AddressDiffers {
        plan: String,
        found: Vec<String>,
    },
    DisksDiffer {
        missing: Vec<String>,
    },
    /// The plan's storage layouts are already on the disks: the storage stage has nothing to do.
    /// A planned device already holds something (a filesystem, partitions) other than the
    /// plan's layout: report only.
    LayoutDiffers {
        devices: Vec<String>,
    },
    StorageLaidOut {
        mounts: Vec<String>,
    },
    NotReady,
    NotInCluster,
}

impl Drift {
    /// A state only worth reporting, not a difference to act on.
    pub fn is_done(&self) -> bool {
        matches!(self, Drift::StorageLaidOut { .. })
    }

    /// The state's label as `rackstrap drift` and the Drift screen print it.
    pub fn label(&self) -> &'static str {
        match self {
            Drift::Unreachable { .. } => "unreachable",
            Drift::HostKeyChanged { .. } => "host key changed",
            Drift::HostKeyNotPinned { .. } => "host key not pinned",
            Drift::CredentialsRefused { .. } => "credentials refused",
            Drift::Reinstalled { .. } => "reinstalled",
            Drift::AddressDiffers { .. } => "address differs",
            Drift::DisksDiffer { .. } => "disks differ",
            Drift::LayoutDiffers { .. } => "layout differs",
            Drift::StorageLaidOut { .. } => "storage laid out",
            Drift::NotReady => "NotReady",
            Drift::NotInCluster => "not in the cluster",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Drift::Unreachable { message } | Drift::CredentialsRefused { message } => {
                message.clone()
            }
            Drift::HostKeyChanged { pinned, offered } => {
                format!("pinned {pinned}, now offers {offered}; nothing runs on it until confirmed")
            }
            Drift::HostKeyNotPinned { offered } => format!("offers {offered}"),
            Drift::Reinstalled { evidence } => evidence.clone(),
            Drift::AddressDiffers { plan, found } => format!(
                "the plan says {plan}, the cluster or host has {}; Kubespray runs are blocked \
                 (certificates and etcd peer URLs are keyed by IP)",
                found.join(", ")
            ),
            Drift::DisksDiffer { missing } => {
                format!(
                    "no {} on the host (report only: nothing is repartitioned)",
                    missing.join(", ")
                )
            }
            Drift::LayoutDiffers { devices } => format!(
                "{} already hold{} something else than the plan's layout (report only: nothing is repartitioned)",
                devices.join(", "),
                if devices.len() == 1 { "s" } else { "" }
            ),
            Drift::StorageLaidOut { mounts } => {
                format!("{} mounted: counts as done", mounts.join(", "))
            }
            Drift::NotReady => "its Node is NotReady".into(),
            Drift::NotInCluster => "no Node object for it".into(),
        }
    }
}

/// A plan host's drift and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDrift {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    pub states: Vec<Drift>,
    /// Whether the cluster has a Node for it (`None`: the cluster was not asked).
    pub node: Option<bool>,
    /// Its etcd member's health (`None`: no member for it, or etcd was not asked).
    pub etcd_member_healthy: Option<bool>,
    /// The guided action, as the operator types it (`rackstrap node replace PLAN node2`);
    /// empty when nothing is to be done.
    pub action: String,
}

/// Something in the cluster that the plan does not have, or about the cluster as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClusterDrift {
    /// Nothing answered for the cluster: node and member states could not be read.
    NotAsked {
        reason: String,
    },
    NodeNotInPlan {
        name: String,
    },
    MemberNotInPlan {
        name: String,
        peer_ip: String,
    },
    /// Even member count, no failure left to tolerate, or quorum lost.
    EtcdAtRisk {
        members: usize,
        healthy: usize,
        message: String,
    },
}

impl ClusterDrift {
    pub fn text(&self) -> String {
        match self {
            ClusterDrift::NotAsked { reason } => format!("cluster not asked: {reason}"),
            ClusterDrift::NodeNotInPlan { name } => format!(
                "node {name} is in the cluster but not in the plan: add it to the plan, or remove it from the cluster"
            ),
            ClusterDrift::MemberNotInPlan { name, peer_ip } => format!(
                "etcd member {name} ({peer_ip}) is in the cluster but not in the plan: add its host to the plan with the etcd role, or remove the member"
            ),
            ClusterDrift::EtcdAtRisk { message, .. } => message.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub cluster_name: String,
    pub hosts: Vec<HostDrift>,
    pub cluster: Vec<ClusterDrift>,
}

impl Report {
    /// Whether anything differs (laid-out storage alone is not drift).
    pub fn has_drift(&self) -> bool {
        !self.cluster.is_empty()
            || self
                .hosts
                .iter()
                .any(|h| h.states.iter().any(|s| !s.is_done()))
    }

    pub fn host(&self, name: &str) -> Option<&HostDrift> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The report as `rackstrap drift` prints it: one block per host, then the cluster.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for h in &self.hosts {
            let roles: Vec<&str> = h.roles.iter().map(|r| role_name(*r)).collect();
            let states: Vec<&str> = h.states.iter().map(Drift::label).collect();
            let _ = writeln!(
                out,
                "{} ({}, {}): {}",
                h.name,
                h.address,
                roles.join("+"),
                if states.is_empty() {
                    "as planned".to_string()
                } else {
                    states.join(", ")
                }
            );
            for s in &h.states {
                let _ = writeln!(out, "  {}: {}", s.label(), s.detail());
            }
            if !h.action.is_empty() {
                let _ = writeln!(out, "  -> {}", h.action);
            }
        }
        for c in &self.cluster {
            let _ = writeln!(out, "cluster: {}", c.text());
        }
        let _ = writeln!(
            out,
            "{}",
            if self.has_drift() {
                "drift found"
            } else {
                "no drift"
            }
        );
        out
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::ControlPlane => "control_plane",
        Role::Etcd => "etcd",
        Role::Worker => "worker",
    }
}

/// Compares the plan with what was observed. `plan_file`: how the guided actions name the
/// plan (`rackstrap node replace <plan_file> node2`).
pub fn assess(plan: &Plan, seen: &Observed, plan_file: &str) -> Report {
    let cluster = seen.cluster.as_ref();
    let nodes = cluster.and_then(|c| c.nodes.as_ref());
    let members = cluster.and_then(|c| c.members.as_ref());
    let mut hosts = Vec::new();
    for h in &plan.hosts {
        let host_seen = seen.hosts.iter().find(|s| s.name == h.name);
        let node = nodes.and_then(|ns| ns.iter().find(|n| n.name == h.name));
        let member = members.and_then(|ms| member_of(ms, h));
        let mut states = Vec::new();
        let reach = host_seen.map(|s| &s.reach);
        let probe = host_seen.and_then(|s| s.probe.as_ref());
        match reach {
            None => {}
            Some(Reach::Connected) => {}
            Some(Reach::Unreachable { message }) => states.push(Drift::Unreachable {
                message: message.clone(),
            }),
            Some(Reach::HostKeyChanged { pinned, offered }) => states.push(Drift::HostKeyChanged {
                pinned: pinned.clone(),
                offered: offered.clone(),
            }),
            Some(Reach::UnknownHostKey { offered }) => states.push(Drift::HostKeyNotPinned {
                offered: offered.clone(),
            }),
            Some(Reach::Refused { message }) => states.push(Drift::CredentialsRefused {
                message: message.clone(),
            }),
        }
        // Reinstalled: the host shows none of an install, or a new key, while the cluster
        // still counts it.
        let in_cluster: Vec<String> = [
            node.map(|n| format!("its Node{}", if n.ready { "" } else { " (NotReady)" })),
            member.map(|m| {
                format!(
                    "etcd member {}{}",
                    m.name,
                    if m.healthy { "" } else { " (unhealthy)" }
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        let blank = probe.is_some_and(Probe::blank);
        let rekeyed = matches!(reach, Some(Reach::HostKeyChanged { .. }));
        let stale = node.is_some_and(|n| !n.ready) || member.is_some_and(|m| !m.healthy);
        if !in_cluster.is_empty() && (blank || (rekeyed && stale)) {
            let what = if blank {
                "no /var/lib/kubelet/config.yaml, no /etc/etcd.env, empty /var/lib/etcd"
            } else {
                "a new host key"
            };
            states.push(Drift::Reinstalled {
                evidence: format!(
                    "{what}, while {} still {}",
                    in_cluster.join(" and "),
                    if in_cluster.len() == 1 {
                        "exists"
                    } else {
                        "exist"
                    }
                ),
            });
        }
        // The address: the plan's against the Node's and the member's, and the host's own.
        if h.address.parse::<std::net::IpAddr>().is_ok() {
            let mut found = BTreeSet::new();
            if let Some(ip) = node.and_then(|n| n.internal_ip.as_ref())
                && ip != &h.address
            {
                found.insert(ip.clone());
            }
            if let Some(m) = member
                && m.peer_ip != h.address
            {
                found.insert(m.peer_ip.clone());
            }
            if let Some(p) = probe
                && !p.addresses.is_empty()
                && !holds(&p.addresses, &h.address)
            {
                found.extend(
                    p.addresses
                        .iter()
                        .filter(|a| {
                            a.parse::<std::net::IpAddr>()
                                .is_ok_and(|ip| !ip.is_loopback())
                        })
                        .cloned(),
                );
            }
            if !found.is_empty() {
                states.push(Drift::AddressDiffers {
                    plan: h.address.clone(),
                    found: found.into_iter().collect(),
                });
            }
        }
        if let Some(p) = probe {
            let missing: Vec<String> = h
                .storage
                .iter()
                .flat_map(|l| l.devices.iter())
                .filter(|d| find_disk(&p.disks, d).is_none())
                .cloned()
                .collect();
            if !missing.is_empty() {
                states.push(Drift::DisksDiffer { missing });
            } else if !h.storage.is_empty() {
                let mounts = laid_out(h, &p.disks);
                if let Some(mounts) = mounts {
                    states.push(Drift::StorageLaidOut { mounts });
                } else {
                    // Not laid out: blank devices are simply not done yet; others hold
                    // something the plan did not put there.
                    let devices: Vec<String> = h
                        .storage
                        .iter()
                        .flat_map(|l| l.devices.iter())
                        .filter(|d| {
                            find_disk(&p.disks, d)
                                .is_some_and(|b| b.fstype.is_some() || !b.children.is_empty())
                        })
                        .cloned()
                        .collect();
                    if !devices.is_empty() {
                        states.push(Drift::LayoutDiffers { devices });
                    }
                }
            }
        }
        if let Some(ns) = nodes {
            match node {
                None => states.push(Drift::NotInCluster),
                Some(n) if !n.ready => states.push(Drift::NotReady),
                Some(_) => {}
            }
            let _ = ns;
        }
        let action = guided_action(&h.name, &states, plan_file);
        hosts.push(HostDrift {
            name: h.name.clone(),
            address: h.address.clone(),
            roles: h.roles.clone(),
            states,
            node: nodes.map(|_| node.is_some()),
            etcd_member_healthy: member.map(|m| m.healthy),
            action,
        });
    }

    let mut cluster_drift = Vec::new();
    match cluster {
        None => cluster_drift.push(ClusterDrift::NotAsked {
            reason: "no control plane answered".into(),
        }),
        Some(c) => {
            if let Some(ns) = &c.nodes {
                for n in ns {
                    if !plan.hosts.iter().any(|h| h.name == n.name) {
                        cluster_drift.push(ClusterDrift::NodeNotInPlan {
                            name: n.name.clone(),
                        });
                    }
                }
            }
            if let Some(ms) = &c.members {
                for m in ms {
                    if !plan
                        .hosts
                        .iter()
                        .any(|h| member_of(std::slice::from_ref(m), h).is_some())
                    {
                        cluster_drift.push(ClusterDrift::MemberNotInPlan {
                            name: m.name.clone(),
                            peer_ip: m.peer_ip.clone(),
                        });
                    }
                }
                let members = ms.len();
                let healthy = ms.iter().filter(|m| m.healthy).count();
                if let Some(message) = etcd_risk(members, healthy, plan_file) {
                    cluster_drift.push(ClusterDrift::EtcdAtRisk {
                        members,
                        healthy,
                        message,
                    });
                }
            }
        }
    }
    Report {
        cluster_name: plan.cluster.name.clone(),
        hosts,
        cluster: cluster_drift,
    }
}

/// Whether a host with `addresses` answers on `address`: one of them, or any loopback address
/// when `address` is one (Linux routes all of 127.0.0.0/8 to `lo`, which lists only
/// 127.0.0.1).
fn holds(addresses: &[String], address: &str) -> bool {
    let loopback = |a: &str| {
        a.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    };
    addresses.iter().any(|a| a == address)
        || (loopback(address) && addresses.iter().any(|a| loopback(a)))
}

/// The member for a plan host: by name (rackstrap's inventories set `etcd_member_name` to the
/// host's name), else by its peer URL's address.
fn member_of<'m>(members: &'m [Member], h: &Host) -> Option<&'m Member> {
    members
        .iter()
        .find(|m| m.name == h.name)
        .or_else(|| members.iter().find(|m| m.peer_ip == h.address))
}

/// Even count, nothing left to tolerate, or quorum lost: the message, with the numbers.
fn etcd_risk(members: usize, healthy: usize, plan_file: &str) -> Option<String> {
    if members == 0 {
        return None;
    }
    let q = Quorum::of(members);
    let state = format!("{healthy} of {}", quorum::describe(members));
    if healthy < q.quorum {
        Some(format!(
            "etcd has lost quorum ({state} healthy): replace the broken members with \
             `rackstrap node replace {plan_file} NAME` (recover-control-plane.yml)"
        ))
    } else if members.is_multiple_of(2) {
        Some(format!(
            "etcd has an even member count ({state} healthy): it tolerates no more failures than {}",
            members - 1
        ))
    } else if healthy == q.quorum && healthy < members {
        Some(format!(
            "etcd is at risk ({state} healthy): one more failure loses quorum"
        ))
    } else {
        None
    }
}

/// The one action that fixes a host's states (the most pressing first).
fn guided_action(name: &str, states: &[Drift], plan_file: &str) -> String {
    let has = |f: fn(&Drift) -> bool| states.iter().any(f);
    if has(|s| matches!(s, Drift::HostKeyChanged { .. })) {
        return format!(
            "if the host was reinstalled, confirm its new key: rackstrap drift {plan_file} --accept-new-key {name}; then rackstrap node replace {plan_file} {name}"
        );
    }
    if has(|s| matches!(s, Drift::HostKeyNotPinned { .. })) {
        return format!("confirm its key: rackstrap drift {plan_file} --accept-new-key {name}");
    }
    if has(|s| matches!(s, Drift::AddressDiffers { .. })) {
        return "put the host back on the plan's address, or remove it and add it again under the new one".into();
    }
    if has(|s| matches!(s, Drift::Reinstalled { .. })) {
        return format!("rackstrap node replace {plan_file} {name}");
    }
    if has(|s| matches!(s, Drift::Unreachable { .. })) {
        return format!(
            "bring it back, or rackstrap node replace {plan_file} {name} (a new host at its address), or rackstrap node remove {plan_file} {name}"
        );
    }
    if has(|s| matches!(s, Drift::NotInCluster)) {
        return format!("rackstrap node add {plan_file} {name}");
    }
    if has(|s| matches!(s, Drift::NotReady)) {
        return format!(
            "look at kubelet on it (journalctl -u kubelet); if it is gone: rackstrap node replace {plan_file} {name}"
        );
    }
    if has(|s| matches!(s, Drift::CredentialsRefused { .. })) {
        return "fix the plan's access (user, key) or the host's authorized_keys".into();
    }
    if has(|s| matches!(s, Drift::DisksDiffer { .. } | Drift::LayoutDiffers { .. })) {
        return "fix the plan's storage or the hardware; rackstrap never repartitions on its own"
            .into();
    }
    String::new()
}

fn find_disk<'d>(disks: &'d [BlockDevice], name: &str) -> Option<&'d BlockDevice> {
    disks.iter().find(|d| d.name == name)
}

fn mounts_below(d: &BlockDevice, out: &mut Vec<String>) {
    out.extend(d.mountpoints.iter().cloned());
    for c in &d.children {
        mounts_below(c, out);
    }
}

/// The plan's mount points when every layout is already mounted on its devices.
fn laid_out(h: &Host, disks: &[BlockDevice]) -> Option<Vec<String>> {
    let mut mounts = Vec::new();
    for l in &h.storage {
        let base = l.mount.trim_end_matches('/');
        let wanted: Vec<(String, Vec<&str>)> = if l.level == Level::PerDisk {
            l.devices
                .iter()
                .map(|d| (format!("{base}/{d}"), vec![d.as_str()]))
                .collect()
        } else {
            vec![(
                base.to_string(),
                l.devices.iter().map(String::as_str).collect(),
            )]
        };
        for (mount, devices) in wanted {
            let on_device = devices.iter().any(|d| {
                find_disk(disks, d).is_some_and(|disk| {
                    let mut m = Vec::new();
                    mounts_below(disk, &mut m);
                    m.contains(&mount)
                })
            });
            if !on_device {
                return None;
            }
            mounts.push(mount);
        }
    }
    Some(mounts)
}

/// `kubectl get nodes -o json` -> the nodes, their Ready condition and InternalIP.
pub fn parse_nodes(json: &str) -> Result<Vec<Node>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("kubectl get nodes -o json: {e}"))?;
    let items = v
        .get("items")
        .and_then(|i| i.as_array())
        .ok_or("kubectl get nodes -o json: no `items` list")?;
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

/// `etcdctl member list` (`id, started, name, peer urls, client urls, is learner`) and
/// `etcdctl endpoint health --cluster` (`https://ip:2379 is healthy: ...`) -> the members.
pub fn parse_members(list: &str, health: &str) -> Vec<Member> {
    let healthy: BTreeSet<String> = health
        .lines()
        .filter(|l| l.contains(" is healthy"))
        .filter_map(|l| url_host(l.split_whitespace().next()?))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        crate::plan::from_yaml(
            "version: 1\ncluster: {name: c}\nhosts:\n\
             \x20 - {name: node1, address: 10.0.0.1, roles: [control_plane, etcd, worker]}\n\
             \x20 - {name: node2, address: 10.0.0.2, roles: [control_plane, etcd, worker]}\n\
             \x20 - {name: node3, address: 10.0.0.3, roles: [control_plane, etcd, worker]}\n\
             \x20 - {name: node4, address: 10.0.0.4, roles: [worker]}\n",
            "test",
        )
        .expect("plan")
    }

    fn node(name: &str, ready: bool, ip: &str) -> Node {
        Node {
            name: name.into(),
            ready,
            internal_ip: Some(ip.into()),
        }
    }

    fn member(name: &str, ip: &str, healthy: bool) -> Member {
        Member {
            name: name.into(),
            peer_ip: ip.into(),
            healthy,
        }
    }

    fn connected(name: &str, blank: bool, ip: &str) -> HostSeen {
        HostSeen {
            name: name.into(),
            reach: Reach::Connected,
            probe: Some(Probe {
                kubelet_config: !blank,
                etcd_env: !blank,
                etcd_data: !blank,
                addresses: vec![ip.into()],
                disks: vec![],
            }),
        }
    }

    #[test]
    fn a_healthy_cluster_has_no_drift() {
        let seen = Observed {
            hosts: (1..=4)
                .map(|i| connected(&format!("node{i}"), false, &format!("10.0.0.{i}")))
                .collect(),
            cluster: Some(ClusterSeen {
                asked: "node1".into(),
                nodes: Some(
                    (1..=4)
                        .map(|i| node(&format!("node{i}"), true, &format!("10.0.0.{i}")))
                        .collect(),
                ),
                members: Some(
                    (1..=3)
                        .map(|i| member(&format!("node{i}"), &format!("10.0.0.{i}"), true))
                        .collect(),
                ),
            }),
        };
        let r = assess(&plan(), &seen, "c.yaml");
        assert!(!r.has_drift(), "{}", r.text());
        assert!(r.text().ends_with("no drift\n"));
    }

    #[test]
    fn every_state_with_its_action() {
        let mut hosts = vec![
            connected("node1", false, "10.0.0.1"),
            HostSeen {
                name: "node2".into(),
                reach: Reach::HostKeyChanged {
                    pinned: "SHA256:old".into(),
                    offered: "SHA256:new".into(),
                },
                probe: None,
            },
            connected("node3", true, "10.0.0.3"),
        ];
        hosts.push(HostSeen {
            name: "node4".into(),
            reach: Reach::Unreachable {
                message: "no answer within 5s".into(),
            },
            probe: None,
        });
        let seen = Observed {
            hosts,
            cluster: Some(ClusterSeen {
                asked: "node1".into(),
                nodes: Some(vec![
                    node("node1", true, "10.0.0.1"),
                    node("node2", false, "10.0.0.2"),
                    node("node3", false, "10.0.0.3"),
                    node("node9", true, "10.0.0.9"),
                ]),
                members: Some(vec![
                    member("node1", "10.0.0.1", true),
                    member("etcd2", "10.0.0.2", false),
                    member("node3", "10.0.0.3", false),
                ]),
            }),
        };
        let r = assess(&plan(), &seen, "c.yaml");
        let labels = |n: &str| -> Vec<&str> {
            r.host(n)
                .expect("host")
                .states
                .iter()
                .map(Drift::label)
                .collect()
        };
        assert_eq!(labels("node1"), Vec::<&str>::new());
        assert_eq!(
            labels("node2"),
            ["host key changed", "reinstalled", "NotReady"]
        );
        assert_eq!(labels("node3"), ["reinstalled", "NotReady"]);
        assert_eq!(labels("node4"), ["unreachable", "not in the cluster"]);
        assert!(
            r.host("node2")
                .expect("node2")
                .action
                .contains("--accept-new-key node2")
        );
        assert_eq!(
            r.host("node3").expect("node3").action,
            "rackstrap node replace c.yaml node3"
        );
        assert_eq!(
            r.cluster,
            [
                ClusterDrift::NodeNotInPlan {
                    name: "node9".into()
                },
                ClusterDrift::EtcdAtRisk {
                    members: 3,
                    healthy: 1,
                    message: "etcd has lost quorum (1 of 3 etcd members: quorum 2, 1 failure \
                              tolerated healthy): replace the broken members with `rackstrap node \
                              replace c.yaml NAME` (recover-control-plane.yml)"
                        .into()
                }
            ]
        );
    }

    #[test]
    fn storage_is_laid_out_differs_or_is_missing() {
        let mut p = plan();
        p.hosts[3].storage = vec![crate::plan::StorageLayout {
            level: Level::Single,
            devices: vec!["sdb".into()],
            filesystem: Default::default(),
            mount: "/data".into(),
            discard: Default::default(),
            relocate: vec![],
            wipe: false,
        }];
        let disk = |fstype: Option<&str>, mounts: &[&str]| BlockDevice {
            name: "sdb".into(),
            fstype: fstype.map(str::to_string),
            mountpoints: mounts.iter().map(|m| m.to_string()).collect(),
            ..Default::default()
        };
        let labels = |disks: Vec<BlockDevice>| -> Vec<&'static str> {
            let mut h = connected("node4", false, "10.0.0.4");
            if let Some(pr) = h.probe.as_mut() {
                pr.disks = disks;
            }
            let seen = Observed {
                hosts: vec![h],
                cluster: None,
            };
            assess(&p, &seen, "c.yaml").hosts[3]
                .states
                .iter()
                .map(Drift::label)
                .collect()
        };
        assert_eq!(
            labels(vec![disk(Some("ext4"), &["/data"])]),
            ["storage laid out"]
        );
        assert_eq!(labels(vec![disk(Some("xfs"), &[])]), ["layout differs"]);
        assert_eq!(labels(vec![disk(None, &[])]), Vec::<&str>::new());
        assert_eq!(labels(vec![]), ["disks differ"]);
    }

    #[test]
    fn kubectl_and_etcdctl_answers_parse() {
        let json = r#"{"items":[{"metadata":{"name":"node1"},"status":{
            "addresses":[{"type":"Hostname","address":"node1"},{"type":"InternalIP","address":"10.0.0.1"}],
            "conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}]}},
            {"metadata":{"name":"node2"},"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}]}"#;
        assert_eq!(
            parse_nodes(json).expect("nodes"),
            [
                node("node1", true, "10.0.0.1"),
                Node {
                    name: "node2".into(),
                    ready: false,
                    internal_ip: None
                }
            ]
        );
        assert!(parse_nodes("{}").is_err());
        let list = "8e9e05c52164694d, started, node1, https://10.0.0.1:2380, https://10.0.0.1:2379, false\n\
                    91bc3c398fb3c146, started, etcd2, https://10.0.0.2:2380, https://10.0.0.2:2379, false\n";
        let health = "https://10.0.0.1:2379 is healthy: successfully committed proposal: took = 2ms\n\
                      https://10.0.0.2:2379 is unhealthy: failed to commit proposal: context deadline exceeded\n";
        assert_eq!(
            parse_members(list, health),
            [
                member("node1", "10.0.0.1", true),
                member("etcd2", "10.0.0.2", false)
            ]
        );
    }
}
