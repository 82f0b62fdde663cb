//! What a run will change on each host, in words, before the exact commands: the wizard's
//! Review shows it first ("node2: raid0 array over nvme0n1 + nvme1n1, ext4, mounted at /data
//! by UUID, kubelet and containerd data moved there"). Read from the plan and, where known,
//! the facts; the commands themselves come from the stages' own dry run.

use crate::facts::HostFacts;
use crate::kubespray::tree::CLUSTER_PLAYBOOK;
use crate::plan::{Host, Level, Plan, Relocate, Role, StorageLayout};
use crate::provision::event::StageId;
use crate::provision::stage::Ctx;
use crate::provision::stages;

/// One host's changes, one sentence each: its disks first (what an operator checks before
/// anything is formatted), then its place in the cluster, then host prep.
pub fn host_changes(plan: &Plan, host: &Host, facts: Option<&HostFacts>) -> Vec<String> {
    let mut out = Vec::new();
    for layout in &host.storage {
        out.push(storage_words(layout));
    }
    let roles: Vec<&str> = host
        .roles
        .iter()
        .map(|r| match r {
            Role::ControlPlane => "control plane",
            Role::Etcd => "etcd",
            Role::Worker => "worker",
        })
        .collect();
    if !roles.is_empty() {
        out.push(format!(
            "joins the cluster as {} (Kubespray {})",
            and_list(&roles),
            CLUSTER_PLAYBOOK
        ));
    }
    if plan
        .first_control_plane()
        .is_some_and(|h| h.name == host.name)
    {
        let mut what = vec!["the cluster is verified from here (nodes, pods, CoreDNS, etcd)"];
        if !plan.network.load_balancer.pools.is_empty() {
            what.push("MetalLB pools and strict ARP set with kubectl");
        }
        out.push(what.join("; "));
    }
    let host_prep = stages::stage(StageId::HostPrep);
    out.extend(host_prep.summary(&Ctx {
        plan,
        host,
        facts,
        looks: None,
    }));
    out
}

fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A storage layout in words.
fn storage_words(l: &StorageLayout) -> String {
    let fs = l.filesystem.as_str();
    let mut s = match l.level {
        Level::PerDisk => format!(
            "{fs} on each of {}, mounted at {}/<disk> by UUID",
            l.devices.join(", "),
            l.mount.trim_end_matches('/')
        ),
        Level::Single => format!(
            "{fs} on {}, mounted at {} by UUID",
            l.devices.join(", "),
            l.mount
        ),
        level => format!(
            "{} array over {}, {fs}, mounted at {} by UUID",
            level.as_str(),
            l.devices.join(" + "),
            l.mount
        ),
    };
    if l.wipe {
        s.push_str(", wiping what is on the disks first");
    }
    let moved: Vec<&str> = l
        .relocate
        .iter()
        .map(|r| match r {
            Relocate::Kubelet => "kubelet",
            Relocate::Containerd => "containerd",
        })
        .collect();
    if !moved.is_empty() {
        s.push_str(&format!(", {} data moved there", and_list(&moved)));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raid0_node_reads_as_the_guide_describes_it() {
        let plan: Plan = serde_yaml::from_str(
            "version: 1\ncluster: {name: c}\nhosts:\n\
             - {name: node1, address: 10.0.0.1, roles: [control_plane, etcd, worker]}\n\
             - name: node2\n  address: 10.0.0.2\n  roles: [worker]\n  storage:\n\
             \x20 - {level: raid0, devices: [nvme0n1, nvme1n1], filesystem: ext4, mount: /data, relocate: [kubelet, containerd]}\n",
        )
        .expect("plan");
        let node2 = host_changes(&plan, &plan.hosts[1], None);
        assert!(
            node2.contains(
                &"raid0 array over nvme0n1 + nvme1n1, ext4, mounted at /data by UUID, kubelet and containerd data moved there".to_string()
            ),
            "{node2:#?}"
        );
        assert!(node2.contains(&"joins the cluster as worker (Kubespray cluster.yml)".to_string()));
        let node1 = host_changes(&plan, &plan.hosts[0], None);
        assert!(
            node1
                .iter()
                .any(|l| l.starts_with("the cluster is verified from here")),
            "{node1:#?}"
        );
        assert!(
            node1.contains(
                &"joins the cluster as control plane, etcd and worker (Kubespray cluster.yml)"
                    .to_string()
            )
        );
    }
}
