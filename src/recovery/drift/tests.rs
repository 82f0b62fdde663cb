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
