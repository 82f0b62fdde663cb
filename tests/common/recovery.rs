//! The recovery scenarios: one plan, the cluster as the survey found it, and an action each,
//! shared by the golden tests (tests/recovery_actions.rs) and the runs against the real
//! Kubespray releases (tests/recovery_kubespray.rs).

use std::collections::BTreeSet;

use rackstrap::plan::Plan;
use rackstrap::recovery::actions::{Kind, Standing};
use rackstrap::recovery::quorum::Etcd;

pub fn plan(version: &str, hosts: &str) -> Plan {
    rackstrap::plan::from_yaml(
        &format!(
            "version: 1\ncluster: {{name: prod, kubespray: {{path: ~/kubespray, version: {version}}}}}\n\
             access: {{user: ubuntu, identity: ~/.ssh/id_ed25519}}\nhosts:\n{hosts}"
        ),
        "test plan",
    )
    .expect("plan")
}

pub const BASE: &str = "  - {name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}\n\
                    \x20 - {name: node2, address: 10.0.10.2, roles: [control_plane, etcd, worker]}\n\
                    \x20 - {name: node3, address: 10.0.10.3, roles: [control_plane, etcd, worker]}\n\
                    \x20 - {name: node4, address: 10.0.10.4, roles: [worker]}\n";

pub fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn in_cluster(list: &[&str]) -> Standing {
    Standing {
        nodes: Some(names(list)),
        ..Standing::default()
    }
}

/// (title, plan hosts, standing, action, node)
pub fn scenarios() -> Vec<(&'static str, String, Standing, Kind, &'static str)> {
    let all = ["node1", "node2", "node3", "node4"];
    vec![
        (
            "add a worker",
            format!("{BASE}  - {{name: node5, address: 10.0.10.5, roles: [worker]}}\n"),
            in_cluster(&all),
            Kind::Add,
            "node5",
        ),
        (
            "add a control plane (listed first in the plan: it joins last)",
            format!(
                "  - {{name: node5, address: 10.0.10.5, roles: [control_plane, worker]}}\n{BASE}"
            ),
            in_cluster(&all),
            Kind::Add,
            "node5",
        ),
        (
            "add an etcd member back to an even cluster of 2",
            BASE.to_string(),
            Standing {
                etcd: Some(Etcd {
                    members: 2,
                    healthy: 2,
                }),
                ..in_cluster(&["node1", "node2", "node4"])
            },
            Kind::Add,
            "node3",
        ),
        (
            "add a fourth etcd member (refused)",
            format!("{BASE}  - {{name: node5, address: 10.0.10.5, roles: [etcd]}}\n"),
            Standing {
                etcd: Some(Etcd {
                    members: 3,
                    healthy: 3,
                }),
                ..in_cluster(&all)
            },
            Kind::Add,
            "node5",
        ),
        (
            "remove a healthy worker",
            BASE.to_string(),
            in_cluster(&all),
            Kind::Remove,
            "node4",
        ),
        (
            "remove a healthy control plane (quorum weakens)",
            BASE.to_string(),
            in_cluster(&all),
            Kind::Remove,
            "node2",
        ),
        (
            "remove the first control plane, unreachable",
            BASE.to_string(),
            Standing {
                unreachable: names(&["node1"]),
                broken: names(&["node1"]),
                unhealthy_members: names(&["node1"]),
                etcd: Some(Etcd {
                    members: 3,
                    healthy: 2,
                }),
                ..in_cluster(&all)
            },
            Kind::Remove,
            "node1",
        ),
        (
            "replace a reinstalled control plane",
            BASE.to_string(),
            Standing {
                broken: names(&["node3"]),
                unhealthy_members: names(&["node3"]),
                etcd: Some(Etcd {
                    members: 3,
                    healthy: 2,
                }),
                ..in_cluster(&all)
            },
            Kind::Replace,
            "node3",
        ),
        (
            "replace after etcd lost quorum",
            BASE.to_string(),
            Standing {
                broken: names(&["node2", "node3"]),
                unhealthy_members: names(&["node2", "node3"]),
                etcd: Some(Etcd {
                    members: 3,
                    healthy: 1,
                }),
                ..in_cluster(&all)
            },
            Kind::Replace,
            "node2",
        ),
        (
            "remove the last control plane (refused)",
            "  - {name: node1, address: 10.0.10.1, roles: [control_plane, etcd]}\n\
             \x20 - {name: node4, address: 10.0.10.4, roles: [worker]}\n"
                .to_string(),
            in_cluster(&["node1", "node4"]),
            Kind::Remove,
            "node1",
        ),
    ]
}
