//! `rackstrap check` and `rackstrap render` as a user runs them: exit codes, text and JSON
//! output, `--help`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn rackstrap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_examples_exit_zero() {
    for name in ["akash", "homelab", "ais"] {
        let out = rackstrap(&["check", &format!("assets/examples/{name}.yaml")]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stdout));
        assert!(text(&out.stdout).ends_with("no errors, no warnings\n") || name == "homelab");
    }
    let out = rackstrap(&["check", "assets/examples/homelab.yaml"]);
    assert!(text(&out.stdout).contains("warning  W_TWO_CONTROL_PLANES  hosts"));
    assert!(text(&out.stdout).ends_with("no errors, 1 warning\n"));
}

#[test]
fn check_errors_exit_one_and_json_is_an_array() {
    let out = rackstrap(&[
        "check",
        "tests/golden/bad/18_even_etcd.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr[0]["severity"], "error");
    assert_eq!(arr[0]["code"], "E_EVEN_ETCD");
    assert_eq!(arr[0]["path"], "hosts");
    assert!(arr[0]["hint"].as_str().unwrap().contains("etcd"));
    assert!(
        arr.iter()
            .any(|f| f["code"] == "I_QUORUM" && f.get("hint").is_none())
    );
}

#[test]
fn unreadable_plans_exit_two() {
    let out = rackstrap(&["check", "tests/golden/bad/no-such-plan.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("tests/golden/bad/no-such-plan.yaml: cannot read: "));
    let out = rackstrap(&[
        "check",
        "tests/golden/bad/03_misspelled_host_key.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn render_writes_files_or_refuses_with_findings() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("inventory");
    let out_s = out_dir.to_string_lossy().to_string();
    let out = rackstrap(&["render", "assets/examples/ais.yaml", "--out", &out_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for f in [
        "hosts.yaml",
        "group_vars/k8s_cluster/zz-rackstrap.yml",
        "extras/metallb.yaml",
        "extras/99-rackstrap.conf",
        "extras/ports.md",
    ] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/render/v2.31.0/ais/hosts.yaml");
    assert_eq!(
        std::fs::read(out_dir.join("hosts.yaml")).unwrap(),
        std::fs::read(golden).unwrap()
    );

    let refused = dir.path().join("refused");
    let out = rackstrap(&[
        "render",
        "tests/golden/bad/14_overlapping_pools.yaml",
        "--out",
        &refused.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error  E_POOL_OVERLAP"));
    assert!(text(&out.stderr).ends_with("nothing written\n"));
    assert!(!refused.exists());

    let out = rackstrap(&[
        "render",
        "tests/golden/bad/26_empty.yaml",
        "--out",
        &refused.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_on_every_command() {
    for cmd in [
        vec!["--help"],
        vec!["check", "--help"],
        vec!["render", "--help"],
    ] {
        let out = rackstrap(&cmd);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("Usage: rackstrap"), "{cmd:?}");
    }
    assert!(text(&rackstrap(&["check", "--help"]).stdout).contains("--format"));
    assert!(text(&rackstrap(&["render", "--help"]).stdout).contains("--out <DIR>"));
}

/// `check --facts` reads what `rackstrap discover --json` printed and runs the hardware and
/// disk checks headless: a control plane with 3 CPUs is warned about (the plan has the Akash
/// profile, whose guide recommends 4), a disk that carries a
/// filesystem is refused, and the exit code stays the contract's (1 for errors, 2 for a
/// facts file that cannot be read).
#[test]
fn check_with_facts_runs_hardware_and_disk_checks() {
    use rackstrap::discover::{Discovered, HostState};
    use rackstrap::facts::{BlockDevice, HostFacts};
    const GB: u64 = 1_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(
        &plan,
        "version: 1\ncluster: {name: lab, profile: akash}\nhosts:\n\
         \x20 - {name: cp1, address: 10.0.0.1, roles: [control_plane, etcd]}\n\
         \x20 - {name: cp2, address: 10.0.0.2, roles: [control_plane, etcd]}\n\
         \x20 - {name: cp3, address: 10.0.0.3, roles: [control_plane, etcd]}\n\
         \x20 - name: w1\n    address: 10.0.0.4\n    roles: [worker]\n\
         \x20   storage: [{level: single, devices: [sdb], mount: /data}]\n",
    )
    .unwrap();
    let host = |name: &str, cpus: u32, sdb_fs: Option<&str>| {
        let root = BlockDevice {
            name: "sda".into(),
            kind: "disk".into(),
            size_bytes: 480 * GB,
            mountpoints: vec!["/".into()],
            fstype: Some("ext4".into()),
            ..Default::default()
        };
        let sdb = BlockDevice {
            name: "sdb".into(),
            kind: "disk".into(),
            size_bytes: 2_000 * GB,
            fstype: sdb_fs.map(Into::into),
            ..Default::default()
        };
        HostFacts {
            hostname: name.into(),
            cpus,
            mem_bytes: 32 << 30,
            disks: vec![root, sdb],
            ..Default::default()
        }
    };
    let scanned = |addr: &str, facts: HostFacts| Discovered {
        address: addr.into(),
        state: HostState::Ok,
        fingerprint: Some("SHA256:x".into()),
        newly_pinned: false,
        facts: Some(facts),
        message: String::new(),
    };
    let lines = [
        scanned("10.0.0.1", host("cp1", 3, None)),
        scanned("10.0.0.2", host("cp2", 8, None)),
        scanned("10.0.0.3", host("cp3", 8, None)),
        scanned("10.0.0.4", host("w1", 16, Some("xfs"))),
    ]
    .iter()
    .map(|d| serde_json::to_string(d).unwrap())
    .collect::<Vec<_>>()
    .join("\n");
    let facts = dir.path().join("facts.json");
    std::fs::write(&facts, lines + "\n").unwrap();
    let (plan_s, facts_s) = (plan.to_string_lossy(), facts.to_string_lossy());

    let out = rackstrap(&["check", &plan_s, "--facts", &facts_s]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("warning  W_CPU_BELOW_RECOMMENDED")
            && stdout.contains(
                "cp1: CPUs 3 is below the Akash provider guide's control plane recommendation of 4"
            ),
        "{stdout}"
    );
    assert!(
        stdout.contains("E_DEVICE_IN_USE") && stdout.contains("hosts[3].storage[0].devices[0]"),
        "{stdout}"
    );
    assert!(!stdout.contains("W_NO_FACTS"), "{stdout}");

    // Without facts the same plan has no hardware or disk findings.
    let out = rackstrap(&["check", &plan_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A facts file that is not discover's output is unreadable: exit 2, the line named.
    std::fs::write(&facts, "{\"address\": \"10.0.0.1\"}\nnot json\n").unwrap();
    let out = rackstrap(&["check", &plan_s, "--facts", &facts_s]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("facts.json: line 2: "),
        "{}",
        text(&out.stderr)
    );
}

/// A pool entry `::/0` (2^128 addresses, more than a `u128` counts) is checked and refused
/// like any other overlap: exit 1 with findings, never a panic (exit 101).
#[test]
fn huge_ipv6_pool_entries_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("huge.yaml");
    let base = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/bad/13_bad_pool_entry.yaml"),
    )
    .unwrap();
    let huge = base.replace(
        "addresses: [10.0.20.5-10.0.2x.20]",
        "addresses: [\"::/0\", \"::/1\", \"fd00::/64\"]",
    );
    assert_ne!(huge, base);
    std::fs::write(&plan, huge).unwrap();
    let plan = plan.to_string_lossy().to_string();

    let out = rackstrap(&["check", &plan]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("pool `default`: more than 10^38 addresses"),
        "{stdout}"
    );
    assert!(stdout.contains(": 2^127 shared addresses ("), "{stdout}");
    assert!(stdout.contains(": 2^64 shared addresses ("), "{stdout}");
    assert!(
        stdout.contains("error  E_IPV6_NOT_SUPPORTED  network.load_balancer.pools[0].addresses[0]"),
        "{stdout}"
    );

    let out = rackstrap(&["check", &plan, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "I_POOL_SIZE")
    );

    let refused = dir.path().join("inventory");
    let out = rackstrap(&["render", &plan, "--out", &refused.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("error  E_POOL_OVERLAP"));
    assert!(!refused.exists());
}

/// Disk sizes come from the host: two disks of 2^63 bytes each (a sum past `u64::MAX`) in
/// a raid0 layout give a huge capacity, not an overflow panic (exit 101).
#[test]
fn huge_disk_sizes_in_facts_do_not_panic() {
    use rackstrap::discover::{Discovered, HostState};
    use rackstrap::facts::{BlockDevice, HostFacts};
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(
        &plan,
        "version: 1\ncluster: {name: lab}\nhosts:\n\
         \x20 - name: n1\n    address: 10.0.0.1\n    roles: [control_plane, etcd, worker]\n\
         \x20   storage:\n\
         \x20     - {level: raid0, devices: [sdb, sdc], mount: /data}\n\
         \x20     - {level: single, devices: [sdd, sde], mount: /scratch}\n",
    )
    .unwrap();
    let disk = |name: &str, root: bool| BlockDevice {
        name: name.into(),
        kind: "disk".into(),
        size_bytes: 1 << 63,
        mountpoints: if root { vec!["/".into()] } else { vec![] },
        fstype: root.then(|| "ext4".into()),
        ..Default::default()
    };
    let facts = HostFacts {
        hostname: "n1".into(),
        cpus: 16,
        mem_bytes: u64::MAX,
        disks: vec![
            disk("sda", true),
            disk("sdb", false),
            disk("sdc", false),
            disk("sdd", false),
            disk("sde", false),
        ],
        ..Default::default()
    };
    let line = serde_json::to_string(&Discovered {
        address: "10.0.0.1".into(),
        state: HostState::Ok,
        fingerprint: Some("SHA256:x".into()),
        newly_pinned: false,
        facts: Some(facts),
        message: String::new(),
    })
    .unwrap();
    let facts_path = dir.path().join("facts.json");
    std::fs::write(&facts_path, line + "\n").unwrap();
    let out = rackstrap(&[
        "check",
        &plan.to_string_lossy(),
        "--facts",
        &facts_path.to_string_lossy(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `render` writes a plan for a Kubespray release rackstrap does not know, and says so.
#[test]
fn render_warns_about_an_unknown_kubespray_release() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    let text_in = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/examples/akash.yaml"),
    )
    .unwrap();
    std::fs::write(
        &plan,
        text_in.replace("version: v2.31.0", "version: v2.40.0"),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = rackstrap(&[
        "render",
        &plan.to_string_lossy(),
        "--out",
        &out_dir.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("warning: Kubespray v2.40.0 is not a release rackstrap knows (v2.24.1, v2.28.1, v2.29.1, v2.30.0, v2.31.0)"),
        "{}",
        text(&out.stderr)
    );
    // A known release renders without a word on stderr.
    let out = rackstrap(&[
        "render",
        "assets/examples/akash.yaml",
        "--out",
        &out_dir.to_string_lossy(),
    ]);
    assert_eq!(text(&out.stderr), "");
}
