use super::*;

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

#[test]
fn etcd_commands_load_the_env_file_install_probe_looks_for() {
    for command in [ETCD_HEALTH, ETCD_MEMBERS] {
        assert!(
            command.starts_with(&format!("export $(grep -v '^#' {ETCD_ENV_FILE} ")),
            "{command}"
        );
    }
    assert!(install_probe().contains(ETCD_ENV_FILE));
}

#[test]
fn node_rows_keep_kubectls_status() {
    let out = "node1   Ready    control-plane   5m48s   v1.28.6\n\
               node2   NotReady   <none>   4m7s   v1.28.6\n\
               node3   Ready,SchedulingDisabled   <none>   4m7s   v1.28.6\n\nlonely\n";
    let rows = node_rows(out);
    let seen: Vec<(&str, bool, &str)> = rows
        .iter()
        .map(|r| (r.node.name.as_str(), r.node.ready, r.status.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("node1", true, "Ready"),
            ("node2", false, "NotReady"),
            ("node3", false, "Ready,SchedulingDisabled")
        ]
    );
}

#[test]
fn endpoints_pods_and_forwards_are_read() {
    let etcd = "https://10.0.0.1:2379 is healthy: successfully committed proposal: took = 9.8ms\n\n\
                https://[fd00::2]:2379 is unhealthy: failed to commit proposal: context deadline exceeded\n";
    let e = endpoint_health(etcd);
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].address.as_deref(), e[0].healthy),
        (Some("10.0.0.1"), true)
    );
    assert_eq!(
        (e[1].address.as_deref(), e[1].healthy),
        (Some("fd00::2"), false)
    );
    let pods = parse_pods("coredns-1 1/1 Running 0 4m\njob-x 0/1 Completed 0 1m\nshort line\n");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(Pod::is_up));
    let cm = "data:\n  Corefile: |\n    .:53 {\n        forward . 8.8.8.8 {\n";
    assert_eq!(coredns_forwards(cm), ["forward . 8.8.8.8 {"]);
}

/// The install-file probe runs in this machine's `sh` against a directory made to look like
/// a host's, read through the host-probe protocol.
#[test]
fn install_probe_runs_in_sh() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().display().to_string();
    let script = install_probe()
        .replace("/var/lib", &format!("{root}/var/lib"))
        .replace("/etc/etcd.env", &format!("{root}/etc/etcd.env"));
    let run = || {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh runs");
        InstallFiles::parse(&String::from_utf8_lossy(&out.stdout)).expect("complete")
    };
    assert_eq!(run(), InstallFiles::default());
    std::fs::create_dir_all(dir.path().join("var/lib/kubelet")).expect("mkdir");
    std::fs::write(dir.path().join("var/lib/kubelet/config.yaml"), "").expect("write");
    std::fs::create_dir_all(dir.path().join("var/lib/etcd/member")).expect("mkdir");
    assert_eq!(
        run(),
        InstallFiles {
            kubelet_config: true,
            etcd_env: false,
            etcd_data: true
        }
    );
    assert_eq!(InstallFiles::parse("yes\n"), None);
}
