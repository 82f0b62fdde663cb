use super::*;

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

fn cluster(cps: usize, workers: usize) -> Vec<Host> {
    (1..=cps + workers)
        .map(|i| {
            let name = format!("n{i}");
            if i <= cps {
                host(&name, &[Role::ControlPlane, Role::Etcd])
            } else {
                host(&name, &[Role::Worker])
            }
        })
        .collect()
}

#[test]
fn small_clusters_probe_every_pair() {
    let hosts = cluster(3, 5);
    let refs: Vec<&Host> = hosts.iter().collect();
    let p = pairs(&refs);
    assert_eq!(p.len(), 8 * 7);
    assert!(p.iter().all(|(a, b)| a != b));
}

#[test]
fn large_clusters_reach_every_control_plane_and_a_sample_of_workers() {
    let hosts = cluster(3, 29);
    let refs: Vec<&Host> = hosts.iter().collect();
    let p = pairs(&refs);
    for h in &hosts {
        let to: Vec<&str> = p
            .iter()
            .filter(|(a, _)| *a == h.name)
            .map(|(_, b)| b.as_str())
            .collect();
        for cp in ["n1", "n2", "n3"] {
            assert!(cp == h.name || to.contains(&cp), "{} -> {cp}", h.name);
        }
        let workers = to
            .iter()
            .filter(|b| !["n1", "n2", "n3"].contains(b))
            .count();
        assert_eq!(workers, WORKER_SAMPLE, "{}: {to:?}", h.name);
    }
    // Every worker is reached by some other worker: the ring covers them all.
    for w in hosts.iter().skip(3) {
        assert!(
            p.iter()
                .any(|(a, b)| *b == w.name && !["n1", "n2", "n3"].contains(&a.as_str())),
            "{}",
            w.name
        );
    }
    assert!(p.len() < 32 * 31 / 4, "{} pairs", p.len());
}

#[test]
fn targets_take_long_ranges_at_their_ends_and_each_port_once() {
    let mut plan = Plan::new("c");
    plan.hosts = cluster(3, 1);
    plan.hosts[3]
        .labels
        .insert(crate::plan::ports::AIS_TARGET_LABEL.into(), "x".into());
    plan.hosts[2]
        .labels
        .insert(crate::plan::ports::AIS_TARGET_LABEL.into(), "x".into());
    let m = crate::plan::ports::matrix(&plan);
    let t: Vec<String> = targets(&m, "n1", "n2")
        .iter()
        .map(|t| format!("{}/{}", t.proto, t.port))
        .collect();
    assert_eq!(
        t,
        ["tcp/6443", "tcp/2379", "tcp/2380", "tcp/10250", "udp/4789"]
    );
    let t: Vec<u16> = targets(&m, "n3", "n4").iter().map(|t| t.port).collect();
    assert_eq!(t, [10250, 4789, 51080, 51081, 51082, 51083]);
}

#[test]
fn connector_output_is_read_back() {
    let out = "result tcp 2380 10.0.0.2 timeout \n\
                   result tcp 6443 10.0.0.3 refused Connection refused\n\
                   result udp 4789 10.0.0.2 ok \n\
                   result tcp 10250 10.0.0.2 unreachable No route to host\n\
                   mtu 10.0.0.2 ok 3 packets transmitted, 3 received, 0% packet loss, time 401ms\n\
                   mtu 10.0.0.3 fail 3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n\
                   mtu 10.0.0.4 skipped No such file or directory\n\
                   noise\n";
    let r = parse_connector(out);
    assert_eq!(
        r.results[&(Proto::Tcp, 2380, "10.0.0.2".into())],
        Outcome::TimedOut
    );
    assert_eq!(
        r.results[&(Proto::Tcp, 6443, "10.0.0.3".into())],
        Outcome::Refused
    );
    assert_eq!(
        r.results[&(Proto::Udp, 4789, "10.0.0.2".into())],
        Outcome::Ok
    );
    assert_eq!(
        r.results[&(Proto::Tcp, 10250, "10.0.0.2".into())],
        Outcome::Unreachable
    );
    assert_eq!(r.mtu["10.0.0.2"], Ok(()));
    assert!(
        r.mtu["10.0.0.3"]
            .as_ref()
            .is_err_and(|w| w.contains("100% packet loss"))
    );
    assert!(r.mtu_skipped.contains_key("10.0.0.4"));
}

#[test]
fn firewalls_are_named_with_the_rule_to_add() {
    let nft = "::rackstrap:: ufw\n::rackstrap:: firewalld\n::rackstrap:: nft\n\
                   table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\
                   \t\ttcp dport 2380 drop\n\t}\n}\n::rackstrap:: iptables\n-P INPUT ACCEPT\n";
    let fw = parse_firewall(nft).expect("nftables");
    assert_eq!(fw.name(), "nftables");
    assert_eq!(fw.rules_for(2380), ["tcp dport 2380 drop"]);
    assert!(fw.rules_for(6443).is_empty());
    assert_eq!(
        fw.rule_to_add("10.0.0.1", Proto::Tcp, 2380),
        "nft insert rule inet filter input ip saddr 10.0.0.1 tcp dport 2380 accept"
    );
    let ufw = "::rackstrap:: ufw\nStatus: active\n::rackstrap:: firewalld\n::rackstrap:: nft\n::rackstrap:: iptables\n";
    assert_eq!(
        parse_firewall(ufw).map(|f| f.rule_to_add("10.0.0.1", Proto::Udp, 4789)),
        Some("ufw allow proto udp from 10.0.0.1 to any port 4789".into())
    );
    let none = "::rackstrap:: ufw\nStatus: inactive\n::rackstrap:: firewalld\nnot running\n::rackstrap:: nft\n::rackstrap:: iptables\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n";
    assert_eq!(parse_firewall(none), None);
    let ipt = none.replace(
        "-P FORWARD ACCEPT",
        "-A INPUT -p tcp --dport 6443 -j REJECT",
    );
    let fw = parse_firewall(&ipt).expect("iptables");
    assert_eq!(fw.rules_for(6443).len(), 1);
    assert!(
        fw.rule_to_add("10.0.0.9", Proto::Tcp, 6443)
            .starts_with("iptables -I INPUT")
    );
}

#[test]
fn a_host_fails_the_mtu_only_when_no_peer_carries_it() {
    let pairs: Vec<(String, String)> = [
        ("a", "b"),
        ("b", "a"),
        ("a", "x"),
        ("x", "a"),
        ("b", "x"),
        ("x", "b"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let fail = |a: &str, b: &str| MtuFail {
        from: a.into(),
        to: b.into(),
        why: String::new(),
    };
    let f = Findings {
        mtu: vec![
            fail("a", "x"),
            fail("x", "a"),
            fail("b", "x"),
            fail("x", "b"),
        ],
        ..Default::default()
    };
    assert_eq!(mtu_verdicts(&f, &pairs), BTreeSet::from(["x".to_string()]));
    assert!(mtu_verdicts(&Findings::default(), &pairs).is_empty());
}

/// The scripts are valid Python (compiled, not run) where python3 is installed.
#[test]
fn the_scripts_compile() {
    for (name, script) in [("listener", LISTENER), ("connector", CONNECTOR)] {
        let Ok(mut child) = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; compile(sys.stdin.read(), 'probe', 'exec')",
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("python3 not installed: not compiled");
            return;
        };
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write");
        assert!(child.wait().expect("wait").success(), "{name}");
    }
}
