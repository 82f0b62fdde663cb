use super::*;
use crate::plan::{Host, Pool};

fn host(name: &str, roles: &[Role]) -> Host {
    Host {
        name: name.into(),
        address: format!("10.0.0.{}", name.trim_start_matches('n')),
        roles: roles.to_vec(),
        labels: Default::default(),
        storage: vec![],
        etcd_member_name: None,
    }
}

/// n1-n3 control plane + etcd, n4 and n5 workers, n6 without roles.
fn plan() -> Plan {
    use Role::*;
    let mut p = Plan::new("c");
    p.hosts = vec![
        host("n1", &[ControlPlane, Etcd]),
        host("n2", &[ControlPlane, Etcd]),
        host("n3", &[ControlPlane, Etcd]),
        host("n4", &[Worker]),
        host("n5", &[Worker]),
        host("n6", &[]),
    ];
    p
}

fn has(m: &Matrix, from: Peer, to: Peer, proto: Proto, port: u16) -> bool {
    m.entries
        .iter()
        .any(|e| e.from == from && e.to == to && e.proto == proto && e.ports.contains(port))
}

fn needs(m: &Matrix, from: &str, to: &str) -> Vec<String> {
    m.between(from, to)
        .iter()
        .map(|e| format!("{}/{}", e.proto, e.ports))
        .collect()
}

#[test]
fn kubernetes_ports_follow_roles() {
    let m = matrix(&plan());
    // Worker to control plane: the API and the overlay; not etcd.
    assert_eq!(needs(&m, "n4", "n1"), ["tcp/6443", "udp/4789"]);
    // Control plane to control plane: API, etcd client and peer, kubelet, overlay.
    assert_eq!(
        needs(&m, "n1", "n2"),
        [
            "tcp/6443",
            "tcp/2379",
            "tcp/2379",
            "tcp/2380",
            "tcp/10250",
            "udp/4789"
        ]
    );
    // Control plane to worker: kubelet and overlay only.
    assert_eq!(needs(&m, "n1", "n4"), ["tcp/10250", "udp/4789"]);
    assert_eq!(needs(&m, "n4", "n5"), ["udp/4789"]);
    // A host without roles is in no group; a host never needs itself.
    assert!(needs(&m, "n6", "n1").is_empty() && needs(&m, "n1", "n6").is_empty());
    assert!(needs(&m, "n1", "n1").is_empty());
    // Ports only the node itself uses are not between nodes.
    for port in [10256, 10257, 10259] {
        assert!(!m.entries.iter().any(|e| e.ports.contains(port)), "{port}");
    }
    // NodePorts are from outside, TCP and UDP, and not probed.
    assert!(has(&m, Peer::Outside, Peer::Node, Proto::Tcp, 30000));
    assert!(has(&m, Peer::Outside, Peer::Node, Proto::Udp, 32767));
    assert!(
        m.entries
            .iter()
            .filter(|e| e.external())
            .all(|e| !e.probed())
    );
    assert!(m.notes.is_empty());
}

#[test]
fn an_etcd_only_host_takes_etcd_traffic_only() {
    let mut p = plan();
    p.hosts[5].roles = vec![Role::Etcd];
    let m = matrix(&p);
    assert_eq!(needs(&m, "n1", "n6"), ["tcp/2379", "tcp/2379", "tcp/2380"]);
    assert_eq!(needs(&m, "n6", "n1"), ["tcp/2379", "tcp/2380"]);
    assert!(needs(&m, "n4", "n6").is_empty());
}

#[test]
fn calico_backends_open_their_own_ports() {
    let p = plan();
    let vxlan = matrix(&p);
    assert!(has(&vxlan, Peer::Node, Peer::Node, Proto::Udp, 4789));
    assert!(!vxlan.entries.iter().any(|e| e.ports.contains(179)));
    let bgp = matrix_with(
        &p,
        Choices {
            calico: CalicoBackend::Bgp,
        },
    );
    assert!(has(&bgp, Peer::Node, Peer::Node, Proto::Tcp, 179));
    assert!(!bgp.entries.iter().any(|e| e.ports.contains(4789)));
    assert!(!bgp.entries.iter().any(|e| e.proto == Proto::Ipip));
    let ipip = matrix_with(
        &p,
        Choices {
            calico: CalicoBackend::BgpIpip,
        },
    );
    assert!(has(&ipip, Peer::Node, Peer::Node, Proto::Tcp, 179));
    let e = ipip
        .entries
        .iter()
        .find(|e| e.proto == Proto::Ipip)
        .expect("ipip");
    assert!(!e.probed(), "IP-in-IP has no port to probe");
    assert!(ipip.table().contains("ipip  -"), "{}", ipip.table());
}

#[test]
fn other_plugins_have_their_own_ports_or_say_they_are_unknown() {
    let mut p = plan();
    p.cluster.network_plugin = "flannel".into();
    let m = matrix(&p);
    assert_eq!(needs(&m, "n4", "n5"), ["udp/8472"]);
    p.cluster.network_plugin = "cilium".into();
    let m = matrix(&p);
    assert_eq!(needs(&m, "n4", "n5"), ["udp/8472", "tcp/4240"]);
    p.cluster.network_plugin = "kube-router".into();
    let m = matrix(&p);
    assert!(needs(&m, "n4", "n5").is_empty());
    assert_eq!(m.notes.len(), 1);
    assert!(m.notes[0].contains("kube-router"), "{:?}", m.notes);
    assert!(m.table().contains("note: network plugin `kube-router`"));
}

#[test]
fn metallb_memberlist_only_with_a_pool() {
    let mut p = plan();
    assert!(!matrix(&p).entries.iter().any(|e| e.ports.contains(7946)));
    p.network.load_balancer.pools.push(Pool {
        name: "default".into(),
        addresses: vec!["10.0.1.0/28".into()],
        auto_assign: true,
    });
    let m = matrix(&p);
    assert_eq!(needs(&m, "n4", "n5"), ["udp/4789", "tcp/7946", "udp/7946"]);
    // Speakers run on control planes too.
    assert!(needs(&m, "n4", "n1").contains(&"tcp/7946".to_string()));
}

#[test]
fn the_vip_is_a_destination_shown_but_not_probed() {
    let mut p = plan();
    p.network.vip = Some(" 10.0.0.100 ".into());
    let m = matrix(&p);
    assert_eq!(m.vip.as_deref(), Some("10.0.0.100"));
    assert!(has(&m, Peer::Node, Peer::Vip, Proto::Tcp, 6443));
    assert!(has(&m, Peer::Outside, Peer::Vip, Proto::Tcp, 6443));
    assert!(
        m.entries
            .iter()
            .filter(|e| e.to == Peer::Vip)
            .all(|e| !e.probed())
    );
    assert!(
        m.table()
            .contains("every node (n1, n2, n3, n4, n5) -> the VIP (10.0.0.100)")
    );
    assert!(m.firewall_sheet().contains("## The VIP 10.0.0.100"));
}

#[test]
fn the_akash_profile_adds_the_providers_ports_from_outside() {
    let mut p = plan();
    assert!(!matrix(&p).entries.iter().any(|e| e.ports.contains(8443)));
    p.cluster.profile = Some(Profile::Akash);
    let m = matrix(&p);
    for port in [8443, 8444, 80, 443, 30000] {
        assert!(
            has(&m, Peer::Outside, Peer::Worker, Proto::Tcp, port),
            "{port}"
        );
    }
    assert!(has(&m, Peer::Outside, Peer::Worker, Proto::Udp, 31000));
    // Not between nodes, and shown as reachable from outside.
    assert_eq!(needs(&m, "n4", "n5"), ["udp/4789"]);
    assert!(
        m.table()
            .contains("outside the cluster -> workers (n4, n5)  [reachable from outside]")
    );
    let n4 = m.accepts("n4");
    assert!(n4.iter().any(|a| a.outside && a.ports.contains(8444)));
}

#[test]
fn aistore_ports_between_labelled_hosts() {
    let mut p = plan();
    assert!(!matrix(&p).entries.iter().any(|e| e.ports.contains(51080)));
    p.hosts[3]
        .labels
        .insert(AIS_TARGET_LABEL.into(), "demo".into());
    p.hosts[4]
        .labels
        .insert(AIS_PROXY_LABEL.into(), "demo-electable".into());
    let m = matrix(&p);
    assert_eq!(needs(&m, "n4", "n5"), ["udp/4789", "tcp/51080-51083"]);
    // Hosts without the labels do not take AIS traffic.
    assert!(!needs(&m, "n4", "n1").iter().any(|n| n.contains("5108")));
    assert!(has(&m, Peer::Outside, Peer::AisProxy, Proto::Tcp, 51080));
    assert_eq!(
        m.members(Peer::AisProxy),
        [("n5".to_string(), "10.0.0.5".to_string())]
    );
}

#[test]
fn accepts_lists_the_sources_by_host() {
    let m = matrix(&plan());
    let n2 = m.accepts("n2");
    let peer = n2
        .iter()
        .find(|a| a.component == "etcd peer")
        .expect("etcd peer");
    assert_eq!(peer.from, ["n1", "n3"]);
    let api = n2
        .iter()
        .find(|a| a.ports.contains(6443) && !a.outside)
        .expect("api");
    assert_eq!(api.from, ["n1", "n3", "n4", "n5"]);
    let sheet = m.firewall_sheet();
    assert!(
        sheet.contains("- tcp 2380 from 10.0.0.1, 10.0.0.3: etcd peer"),
        "{sheet}"
    );
    assert!(sheet.contains(
        "## n4 (10.0.0.4) accepts\n- tcp 10250 from 10.0.0.1, 10.0.0.2, 10.0.0.3: kubelet API"
    ));
}

#[test]
fn the_json_report_carries_entries_hosts_and_groups() {
    let m = matrix(&plan());
    let v = serde_json::to_value(m.report()).expect("json");
    assert_eq!(v["calico_backend"], "vxlan");
    assert_eq!(v["groups"]["control_plane"][0], "n1");
    let e = &v["entries"][0];
    assert_eq!(
        (e["from"].as_str(), e["to"].as_str(), e["proto"].as_str()),
        (Some("node"), Some("control_plane"), Some("tcp"))
    );
    assert_eq!(e["ports"]["first"], 6443);
    assert_eq!(e["port_text"], "6443");
    assert_eq!(e["probed"], true);
    assert_eq!(v["hosts"][0]["name"], "n1");
    assert_eq!(v["hosts"].as_array().map(Vec::len), Some(5));
}
