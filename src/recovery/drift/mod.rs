//! Drift: what differs between a plan, its hosts and its cluster, and the guided action for
//! each difference. Pure: [`assess`] takes what was observed ([`Observed`], gathered over SSH
//! by `recovery::observe`) and returns a [`Report`]; the wizard's Drift screen and
//! `rackstrap drift` both print that report.
//!
//! - `observed`: what was seen (each host's reach and probe, the cluster's nodes and members);
//! - this module: the assessment, one rule per state;
//! - `report`: the states, the report and its text.

use std::collections::BTreeSet;

use crate::cluster::{ETCD_DATA_DIR, ETCD_ENV_FILE, KUBELET_CONFIG};
pub use crate::cluster::{Member, Node};
use crate::facts::BlockDevice;
use crate::plan::{Host, Level, Plan, Quorum};

use super::quorum;

mod observed;
mod report;

pub use observed::{ClusterSeen, HostSeen, Observed, Probe, Reach};
pub use report::{ClusterDrift, Drift, HostDrift, Report};

/// Compares the plan with what was observed. `plan_file`: how the guided actions name the
/// plan (`rackstrap node replace <plan_file> node2`).
pub fn assess(plan: &Plan, seen: &Observed, plan_file: &str) -> Report {
    let hosts = plan
        .hosts
        .iter()
        .map(|h| assess_host(h, seen, plan_file))
        .collect();
    Report {
        cluster_name: plan.cluster.name.clone(),
        hosts,
        cluster: cluster_states(plan, seen.cluster.as_ref(), plan_file),
    }
}

/// One plan host's states, in the order the report lists them, and its guided action.
fn assess_host(h: &Host, seen: &Observed, plan_file: &str) -> HostDrift {
    let cluster = seen.cluster.as_ref();
    let nodes = cluster.and_then(|c| c.nodes.as_ref());
    let members = cluster.and_then(|c| c.members.as_ref());
    let host_seen = seen.hosts.iter().find(|s| s.name == h.name);
    let node = nodes.and_then(|ns| ns.iter().find(|n| n.name == h.name));
    let member = members.and_then(|ms| member_of(ms, h));
    let reach = host_seen.map(|s| &s.reach);
    let probe = host_seen.and_then(|s| s.probe.as_ref());
    let mut states: Vec<Drift> = reach.and_then(reach_state).into_iter().collect();
    states.extend(reinstalled(reach, probe, node, member));
    states.extend(address_differs(h, probe, node, member));
    if let Some(p) = probe {
        states.extend(storage_state(h, p));
    }
    if nodes.is_some() {
        match node {
            None => states.push(Drift::NotInCluster),
            Some(n) if !n.ready => states.push(Drift::NotReady),
            Some(_) => {}
        }
    }
    let action = guided_action(&h.name, &states, plan_file);
    HostDrift {
        name: h.name.clone(),
        address: h.address.clone(),
        roles: h.roles.clone(),
        states,
        node: nodes.map(|_| node.is_some()),
        etcd_member_healthy: member.map(|m| m.healthy),
        action,
    }
}

/// The state rackstrap's own connection puts the host in (`None`: connected).
fn reach_state(reach: &Reach) -> Option<Drift> {
    match reach {
        Reach::Connected => None,
        Reach::Unreachable { message } => Some(Drift::Unreachable {
            message: message.clone(),
        }),
        Reach::HostKeyChanged { pinned, offered } => Some(Drift::HostKeyChanged {
            pinned: pinned.clone(),
            offered: offered.clone(),
        }),
        Reach::UnknownHostKey { offered } => Some(Drift::HostKeyNotPinned {
            offered: offered.clone(),
        }),
        Reach::Refused { message } => Some(Drift::CredentialsRefused {
            message: message.clone(),
        }),
    }
}

/// Reinstalled: the host shows none of an install, or a new key, while the cluster still
/// counts it.
fn reinstalled(
    reach: Option<&Reach>,
    probe: Option<&Probe>,
    node: Option<&Node>,
    member: Option<&Member>,
) -> Option<Drift> {
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
    if in_cluster.is_empty() || !(blank || (rekeyed && stale)) {
        return None;
    }
    let what = if blank {
        format!("no {KUBELET_CONFIG}, no {ETCD_ENV_FILE}, empty {ETCD_DATA_DIR}")
    } else {
        "a new host key".to_string()
    };
    Some(Drift::Reinstalled {
        evidence: format!(
            "{what}, while {} still {}",
            in_cluster.join(" and "),
            if in_cluster.len() == 1 {
                "exists"
            } else {
                "exist"
            }
        ),
    })
}

/// The address: the plan's against the Node's and the member's, and the host's own.
fn address_differs(
    h: &Host,
    probe: Option<&Probe>,
    node: Option<&Node>,
    member: Option<&Member>,
) -> Option<Drift> {
    if h.address.parse::<std::net::IpAddr>().is_err() {
        return None;
    }
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
    (!found.is_empty()).then(|| Drift::AddressDiffers {
        plan: h.address.clone(),
        found: found.into_iter().collect(),
    })
}

/// The plan's storage on the host's disks: devices missing, laid out already, or holding
/// something else.
fn storage_state(h: &Host, p: &Probe) -> Option<Drift> {
    let missing: Vec<String> = h
        .storage
        .iter()
        .flat_map(|l| l.devices.iter())
        .filter(|d| find_disk(&p.disks, d).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Some(Drift::DisksDiffer { missing });
    }
    if h.storage.is_empty() {
        return None;
    }
    if let Some(mounts) = laid_out(h, &p.disks) {
        return Some(Drift::StorageLaidOut { mounts });
    }
    // Not laid out: blank devices are simply not done yet; others hold something the plan
    // did not put there.
    let devices: Vec<String> = h
        .storage
        .iter()
        .flat_map(|l| l.devices.iter())
        .filter(|d| {
            find_disk(&p.disks, d).is_some_and(|b| b.fstype.is_some() || !b.children.is_empty())
        })
        .cloned()
        .collect();
    (!devices.is_empty()).then_some(Drift::LayoutDiffers { devices })
}

/// What the cluster has that the plan lacks, and etcd's standing.
fn cluster_states(
    plan: &Plan,
    cluster: Option<&ClusterSeen>,
    plan_file: &str,
) -> Vec<ClusterDrift> {
    let Some(c) = cluster else {
        return vec![ClusterDrift::NotAsked {
            reason: "no control plane answered".into(),
        }];
    };
    let mut out = Vec::new();
    for n in c.nodes.iter().flatten() {
        if !plan.hosts.iter().any(|h| h.name == n.name) {
            out.push(ClusterDrift::NodeNotInPlan {
                name: n.name.clone(),
            });
        }
    }
    if let Some(ms) = &c.members {
        for m in ms {
            if !plan
                .hosts
                .iter()
                .any(|h| member_of(std::slice::from_ref(m), h).is_some())
            {
                out.push(ClusterDrift::MemberNotInPlan {
                    name: m.name.clone(),
                    peer_ip: m.peer_ip.clone(),
                });
            }
        }
        let members = ms.len();
        let healthy = ms.iter().filter(|m| m.healthy).count();
        if let Some(message) = etcd_risk(members, healthy, plan_file) {
            out.push(ClusterDrift::EtcdAtRisk {
                members,
                healthy,
                message,
            });
        }
    }
    out
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
pub(crate) fn etcd_risk(members: usize, healthy: usize, plan_file: &str) -> Option<String> {
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
            "etcd has an even member count ({state} healthy): it tolerates no more failures than \
             {}; Kubespray refuses an even count: {}",
            members - 1,
            crate::plan::check::etcd_way_on(plan_file)
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

#[cfg(test)]
mod tests;
