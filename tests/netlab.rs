//! Preflight's probe between nodes on a lab with a network of its own (`common/netlab.rs`):
//! every host in its own network namespace on a bridge, addresses from 198.18.0.0/15, and
//! the rackstrap binary run inside the lab's hub namespace, so no packet leaves the lab.
//! A clean lab passes; an nftables rule dropping etcd's peer port, one rejecting the API
//! server's port and a link with a smaller MTU are each found, and the finding names the
//! pair, the port, what happened and, for the firewall, the tool, its rule and the rule to add.

mod common;

use std::path::Path;
use std::process::Output;

use common::lab::{HostSpec, Lab};

/// Skip (or, in CI, fail) when the machine cannot host a networked lab.
macro_rules! require_netlab {
    () => {
        require_lab!();
        if let Some(reason) = common::netlab::skip_reason() {
            if std::env::var_os("CI").is_some() {
                panic!("the networked lab cannot start in CI: {reason}");
            }
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

/// A plan for the lab's hosts, each with its roles.
fn write_plan(lab: &Lab, dir: &Path, roles: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = format!(
        "version: 1\ncluster: {{name: netlab, kubespray: {{path: {}}}}}\n\
         access: {{user: root, port: {}, identity: {}}}\nhosts:\n",
        dir.join("kubespray").display(),
        common::lab::LAB_PORT,
        lab.key_path().display()
    );
    for (name, r) in roles {
        text.push_str(&format!(
            "  - {{name: {name}, address: {}, roles: {r}}}\n",
            lab.host(name).address
        ));
    }
    text.push_str("network: {mtu: 1500}\n");
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, text).expect("write plan");
    path
}

fn preflight(lab: &Lab, plan: &Path, dir: &Path) -> (Output, String) {
    let out = lab
        .in_hub(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("apply")
        .arg(plan)
        .args(["--stage", "preflight", "--accept-new", "--known-hosts"])
        .arg(dir.join("known_hosts"))
        .output()
        .expect("run rackstrap in the hub");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// The probe's listeners are gone from every host once the run is over.
fn no_listener_left(lab: &Lab, hosts: &[&str]) {
    for h in hosts {
        let ps = lab.exec_ok(h, "ps -eo args");
        assert!(!ps.contains("python3 -"), "{h} still runs a probe:\n{ps}");
    }
}

const ALL: &str = "[control_plane, etcd, worker]";

#[test]
fn a_clean_lab_passes_the_probe_between_nodes() {
    require_netlab!();
    let lab = Lab::start_networked(vec![
        HostSpec::new("n1"),
        HostSpec::new("n2"),
        HostSpec::new("n3"),
    ]);
    assert!(lab.host("n1").address.starts_with("198.18."));
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = write_plan(&lab, tmp.path(), &[("n1", ALL), ("n2", ALL), ("n3", ALL)]);
    let (out, text) = preflight(&lab, &plan, tmp.path());
    assert_eq!(out.status.code(), Some(0), "{text}");
    // 3 hosts, 6 ordered pairs, 6 ports each (API, etcd client and peer, kubelet, VXLAN);
    // the MTU on each pair.
    assert!(
        text.contains("between nodes: 30 port(s) and 6 MTU path(s) reached"),
        "{text}"
    );
    no_listener_left(&lab, &["n1", "n2", "n3"]);
    // The lab's addresses exist only in the lab: on the hub's bridge, nowhere else here.
    let hub = lab.hub().expect("networked");
    let addrs = std::process::Command::new("ip")
        .args(["-n", &hub, "-4", "-o", "addr", "show", "dev", "br0"])
        .output()
        .expect("ip addr");
    assert!(String::from_utf8_lossy(&addrs.stdout).contains(" 198.18."));
    let here = std::process::Command::new("ip")
        .args(["-4", "-o", "addr"])
        .output()
        .expect("ip addr");
    assert!(!String::from_utf8_lossy(&here.stdout).contains(" 198.18."));
}

#[test]
fn a_firewall_and_a_small_link_are_found_and_named() {
    require_netlab!();
    let lab = Lab::start_networked(vec![
        HostSpec::new("n1"),
        HostSpec::new("n2"),
        HostSpec::new("n3"),
        HostSpec::new("n4"),
    ]);
    let table = "nft add table inet filter && nft add chain inet filter input \
                 '{ type filter hook input priority 0; policy accept; }'";
    lab.exec_ok(
        "n2",
        &format!("{table} && nft add rule inet filter input tcp dport 2380 drop"),
    );
    lab.exec_ok(
        "n3",
        &format!("{table} && nft add rule inet filter input tcp dport 6443 reject"),
    );
    lab.set_link_mtu("n4", 1400);
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = write_plan(
        &lab,
        tmp.path(),
        &[("n1", ALL), ("n2", ALL), ("n3", ALL), ("n4", "[worker]")],
    );
    let (out, text) = preflight(&lab, &plan, tmp.path());
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = |host: &str| {
        text.lines()
            .rfind(|l| l.starts_with(&format!("{host} preflight ")))
            .unwrap_or_default()
            .to_string()
    };
    let a1 = &lab.host("n1").address;
    // Dropped: timed out, the tool, its rule and the rule to add.
    let n2 = line("n2");
    assert!(n2.contains("failed"), "{text}");
    assert!(
        n2.contains("n1 -> n2 tcp/2380 (etcd peer): timed out (filtered: dropped on the way)"),
        "{n2}"
    );
    assert!(
        n2.contains("nftables is active here (rules: tcp dport 2380 drop)"),
        "{n2}"
    );
    assert!(
        n2.contains(&format!(
            "to allow it: nft insert rule inet filter input ip saddr {a1} tcp dport 2380 accept"
        )),
        "{n2}"
    );
    // Rejected: refused while the probe listened.
    let n3 = line("n3");
    assert!(
        n3.contains("n1 -> n3 tcp/6443 (Kubernetes API server): refused"),
        "{n3}"
    );
    assert!(
        n3.contains("nftables is active here (rules: tcp dport 6443 reject)"),
        "{n3}"
    );
    assert!(
        n3.contains("n4 -> n3 tcp/6443"),
        "workers reach the API too: {n3}"
    );
    // The small link: the planned MTU reaches none of n4's peers.
    let n4 = line("n4");
    assert!(
        n4.contains("the planned MTU 1500 is carried to none of this host's peers"),
        "{n4}"
    );
    assert!(
        text.contains("path MTU: n1 -> n4 does not carry 1500-byte packets"),
        "{text}"
    );
    // n1 has nothing wrong of its own.
    assert!(!line("n1").contains("failed"), "{text}");
    no_listener_left(&lab, &["n1", "n2", "n3", "n4"]);
}

/// A port a listener cannot bind is reported as in use, and a UDP port held by another
/// process is not judged blocked.
#[test]
fn a_port_already_in_use_says_so() {
    require_netlab!();
    let lab = Lab::start_networked(vec![HostSpec::new("n1"), HostSpec::new("n2")]);
    let a2 = lab.host("n2").address.clone();
    // Something else holds VXLAN's port on n2's address for the length of the run.
    let holder = format!(
        "nohup python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"{a2}\", 4789)); time.sleep(120)' >/dev/null 2>&1 & echo $!"
    );
    let pid = lab.exec_ok("n2", &holder).trim().to_string();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let tmp = tempfile::tempdir().expect("tmp");
    let plan = write_plan(&lab, tmp.path(), &[("n1", ALL), ("n2", "[worker]")]);
    let (out, text) = preflight(&lab, &plan, tmp.path());
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: udp/4789 is already in use on n2 (Address already in use)"),
        "{text}"
    );
    lab.exec_ok("n2", &format!("kill {pid}"));
    no_listener_left(&lab, &["n1"]);
}
