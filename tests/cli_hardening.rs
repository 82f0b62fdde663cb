//! The headless commands against what breaks tools: a second run on the same plan, files
//! written under a careless umask, and a process killed while it saves.

use std::path::Path;
use std::process::Command;

use rackstrap::provision::state;

const PLAN: &str = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: node1\n    address: 127.77.250.1\n    roles: [control_plane, etcd, worker]\naccess: { user: root, port: 2222 }\n";

fn rackstrap(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap()
}

#[test]
fn a_second_apply_on_one_plan_refuses_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    // This test process plays the first apply: it holds the plan's run lock.
    let held = state::RunLock::acquire(&state::state_dir(&plan)).unwrap();
    let out = rackstrap(
        dir.path(),
        &["apply", "cluster.yaml", "--stage", "preflight", "--yes"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains(&format!(
            "another rackstrap process (pid {}) is already running this plan",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    let status = std::fs::read_to_string(dir.path().join(".rackstrap/cluster/state.yaml"));
    assert!(status.is_err(), "the refused run wrote state: {status:?}");
    drop(held);
    // Free again: the run goes ahead (and fails on the closed port, which is not the point).
    let out = rackstrap(
        dir.path(),
        &["apply", "cluster.yaml", "--stage", "preflight", "--yes"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("node1 preflight started"), "{stdout}");
    assert_eq!(stdout.matches("failed:").count(), 1, "{stdout}");
}
