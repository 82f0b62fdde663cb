//! The one Ansible runner (`kubespray::runner`) with each supported Kubespray release's own
//! pinned Ansible (tests/common/kubespray.rs says where the virtualenvs come from), over real
//! SSH to lab hosts with rackstrap's pinned keys: a fixture playbook
//! (`tests/fixtures/ansible/events/playbook.yml`) gives every kind of result, and the runner
//! must read each as data from its callback (task starts, ok, changed, skipped, a retry, an
//! ignored failure, a failure, an unreachable host, the recap) while the output stays
//! Ansible's own text, without colour codes.

#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::kubespray::{archives, venv};
use common::lab::{HostSpec, Lab};
use rackstrap::kubespray::events::{Event, HostUpdate, Status};
use rackstrap::kubespray::runner::{self, Ansible, Collect, Outcome};
use rackstrap::kubespray::{RELEASES, Release, Tree};

/// A directory standing in for a Kubespray tree: the fixture playbook, an inventory of the
/// lab hosts plus one nobody answers for, the pinned keys, and `venv` -> the release's
/// virtualenv.
fn fixture_tree(lab: &Lab, pins: &str, venv_dir: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = tmp.path();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/events/playbook.yml"),
        t.join("playbook.yml"),
    )
    .expect("playbook");
    let h = |n: &str| lab.host(n);
    let inventory = format!(
        "all:\n  hosts:\n\
         \x20   node1: {{ansible_host: '{}', ansible_port: {}, ansible_user: root}}\n\
         \x20   node2: {{ansible_host: '{}', ansible_port: {}, ansible_user: root}}\n\
         \x20   gone: {{ansible_host: '{}', ansible_port: 1, ansible_user: root}}\n",
        h("node1").address,
        h("node1").port,
        h("node2").address,
        h("node2").port,
        h("node1").address,
    );
    std::fs::write(t.join("hosts.yaml"), inventory).expect("inventory");
    std::fs::write(t.join("known_hosts"), pins).expect("pins");
    std::os::unix::fs::symlink(venv_dir, t.join("venv")).expect("venv link");
    tmp
}

async fn run_fixture(
    lab: &Lab,
    pins: &str,
    release: &Release,
    venv_dir: &Path,
) -> (Outcome, Collect) {
    let tmp = fixture_tree(lab, pins, venv_dir);
    let t = tmp.path();
    let tree = Tree::new(t);
    let ansible = Ansible::new(
        vec![
            "ansible-playbook".into(),
            "-i".into(),
            "hosts.yaml".into(),
            "-v".into(),
            format!("--private-key={}", lab.key_path().display()),
            // Lab hosts share this machine's files; its system Python runs the modules.
            "-e".into(),
            "ansible_python_interpreter=/usr/bin/python3".into(),
            "-e".into(),
            format!("ansible_control_path_dir={}", t.join("cp").display()),
            "playbook.yml".into(),
        ],
        Some(t.join("known_hosts").display().to_string()),
    );
    let mut seen = Collect::default();
    let outcome = runner::run(
        &tree,
        &ansible,
        std::time::Duration::from_secs(300),
        &mut seen,
    )
    .await
    .unwrap_or_else(|e| panic!("{}: {e}", release.tag));
    (outcome, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_releases_ansible_reports_each_result_as_data() {
    let Some(archives) = archives() else { return };
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("node1"), HostSpec::new("node2")]);
    let known = rackstrap::ssh::known_hosts::KnownHosts {
        own: lab.dir.join("known_hosts"),
        extra: Vec::new(),
    };
    let connector = rackstrap::provision::remote::SshConnector {
        base: rackstrap::ssh::ConnectOptions {
            known_hosts: known.own.clone(),
            extra_known_hosts: Vec::new(),
            accept_new: true,
            use_agent: false,
            ..Default::default()
        },
    };
    let mut y = format!(
        "version: 1\ncluster: {{name: lab}}\naccess: {{user: root, port: {}, identity: '{}'}}\nhosts:\n",
        lab.host("node1").port,
        lab.key_path().display()
    );
    for n in ["node1", "node2"] {
        y.push_str(&format!(
            "  - {{name: {n}, address: {}, roles: [worker]}}\n",
            lab.host(n).address
        ));
    }
    let p: rackstrap::plan::Plan = serde_yaml::from_str(&y).expect("plan");
    // Pinned the way rackstrap pins: its own connection, first contact accepted.
    for h in &p.hosts {
        use rackstrap::provision::remote::Connector;
        if let Err(e) = connector.connect(h, &p.access).await {
            panic!("{}: {e}", h.name);
        }
    }
    let pins = rackstrap::kubespray::lay::pinned_keys(&p, Some(&known)).expect("pinned");
    lab.exec_ok("node2", "touch /etc/rackstrap-fixture-fail");

    // One run per pinned `ansible` package (releases sharing one share its run).
    let mut packages = BTreeSet::new();
    for release in RELEASES {
        if !packages.insert(release.ansible_package) {
            continue;
        }
        let venv_dir = venv(&archives, release);
        let (outcome, seen) = run_fixture(&lab, &pins, release, &venv_dir).await;
        check_run(release, &outcome, &seen);
    }
    assert!(packages.len() >= 4, "{packages:?}");
}

fn check_run(release: &Release, outcome: &Outcome, seen: &Collect) {
    let tag = release.tag;
    let text = seen.lines.join("\n");
    let r = &outcome.results;
    assert!(
        !outcome.success(),
        "{tag}: a host failed, yet it exited 0:\n{text}"
    );
    // Task starts, in order.
    let tasks: Vec<&str> = seen
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Task { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        tasks,
        [
            "Say ok",
            "Make a change",
            "Only on the first host",
            "Succeed on the second try",
            "Ignore a failure",
            "Refuse a marked host",
            "After the failure"
        ],
        "{tag}:\n{text}"
    );
    let status = |host: &str, task: &str| -> Vec<Status> {
        seen.events
            .iter()
            .filter_map(|e| match e {
                Event::Result(x) if x.host == host && x.task == task && x.item.is_none() => {
                    Some(x.status)
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(status("node1", "Say ok"), [Status::Ok], "{tag}");
    assert_eq!(status("node1", "Make a change"), [Status::Changed], "{tag}");
    assert_eq!(
        status("node2", "Only on the first host"),
        [Status::Skipped],
        "{tag}"
    );
    assert_eq!(status("gone", "Say ok"), [Status::Unreachable], "{tag}");
    assert_eq!(
        status("node2", "Refuse a marked host"),
        [Status::Failed],
        "{tag}"
    );
    assert_eq!(
        status("node2", "After the failure"),
        Vec::<Status>::new(),
        "{tag}"
    );
    assert!(
        seen.events.iter().any(|e| matches!(e,
            Event::Retry { host, task, attempt: Some(1), retries: Some(4) }
                if host == "node1" && task == "Succeed on the second try")),
        "{tag}: no retry event:\n{:#?}",
        seen.events
    );
    assert!(
        seen.updates.contains(&HostUpdate::Progress {
            host: "node1".into(),
            done: 3,
            text: "retrying (1/4): Succeed on the second try".into()
        }),
        "{tag}: {:#?}",
        seen.updates
    );
    // The ignored failure is nobody's failure; the marked host's and the unreachable one are.
    assert!(!r.failures.contains_key("node1"), "{tag}: {:?}", r.failures);
    assert_eq!(
        r.failures["node2"].to_string(),
        "task [Refuse a marked host] failed: non-zero return code",
        "{tag}"
    );
    let gone = r.failure_of("gone").expect("gone failed");
    assert!(gone.unreachable, "{tag}");
    let line = gone.to_string();
    assert!(
        line.starts_with("task [Say ok] unreachable: Failed to connect to the host via ssh: ")
            && line.ends_with("Connection refused"),
        "{tag}: {line}"
    );
    assert!(
        !line.contains('\n') && !line.contains("debug1"),
        "{tag}: {line}"
    );
    // The recap, as data.
    let recap = |h: &str| {
        r.recap
            .get(h)
            .copied()
            .unwrap_or_else(|| panic!("{tag}: {h} not in the recap"))
    };
    assert_eq!(
        (
            recap("node1").ok,
            recap("node1").changed,
            recap("node1").ignored,
            recap("node1").failed
        ),
        (7, 1, 1, 0),
        "{tag}"
    );
    assert!(recap("node1").success(), "{tag}");
    assert_eq!(
        (recap("node2").failed, recap("node2").skipped),
        (1, 1),
        "{tag}"
    );
    assert_eq!(recap("gone").unreachable, 1, "{tag}");
    // The text reads as Ansible's, and carries no colour codes.
    for want in [
        "TASK [Say ok]",
        "ok: [node1]",
        "changed: [node1]",
        "skipping: [node2]",
        "FAILED - RETRYING: [node1]: Succeed on the second try",
        "fatal: [node2]: FAILED!",
        "fatal: [gone]: UNREACHABLE!",
        "...ignoring",
        "PLAY RECAP",
    ] {
        assert!(text.contains(want), "{tag}: no {want:?} in:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "{tag}: colour codes in:\n{text}");
}

/// `rackstrap apply --stage kubespray` into a pipe, on the fixture tree
/// (`tests/fixtures/ansible/kubespray`) with this machine's ansible-core: no colour codes in
/// what it prints nor in the ansible log, Ansible's own text line by line, and the failed
/// host's result in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_kubespray_output_has_no_colour_and_one_line_failures() {
    require_lab!();
    common::fs::require_ansible();
    let lab = Lab::start(vec![HostSpec::new("node1"), HostSpec::new("node2")]);
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("kubespray");
    common::fs::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/kubespray"),
        &tree,
    );
    let mut y = format!(
        "version: 1\ncluster: {{name: lab, kubespray: {{path: '{}'}}}}\n\
         access: {{user: root, port: {}, identity: '{}'}}\nhosts:\n",
        tree.display(),
        lab.host("node1").port,
        lab.key_path().display()
    );
    for (n, roles) in [
        ("node1", "[control_plane, etcd, worker]"),
        ("node2", "[worker]"),
    ] {
        y.push_str(&format!(
            "  - {{name: {n}, address: {}, roles: {roles}}}\n",
            lab.host(n).address
        ));
    }
    let p: rackstrap::plan::Plan = serde_yaml::from_str(&y).expect("plan");
    let plan_path = tmp.path().join("cluster.yaml");
    rackstrap::plan::save(&p, &plan_path).expect("save");
    let known = tmp.path().join("known_hosts");
    let connector = rackstrap::provision::remote::SshConnector {
        base: rackstrap::ssh::ConnectOptions {
            known_hosts: known.clone(),
            extra_known_hosts: Vec::new(),
            accept_new: true,
            use_agent: false,
            ..Default::default()
        },
    };
    for h in &p.hosts {
        use rackstrap::provision::remote::Connector;
        if let Err(e) = connector.connect(h, &p.access).await {
            panic!("{}: {e}", h.name);
        }
    }
    lab.exec_ok("node2", "touch /etc/rackstrap-fixture-fail");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("apply")
        .arg(&plan_path)
        .args(["--stage", "kubespray", "--known-hosts"])
        .arg(&known)
        .env_remove("NO_COLOR")
        .output()
        .expect("apply");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "colour codes in a pipe:\n{stdout}"
    );
    for want in [
        "ansible kubespray TASK [Read the hostname]",
        "ansible kubespray ok: [node1]",
        "ansible kubespray fatal: [node2]: FAILED!",
        "ansible kubespray PLAY RECAP",
        "node2 kubespray failed: task [Refuse a marked host] failed: non-zero return code",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(want)),
            "no line starting {want:?}:\n{stdout}"
        );
    }
    // The ansible log beside the plan: Ansible's whole text, no colour codes either.
    let logs: Vec<std::path::PathBuf> = walk(tmp.path())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "ansible.log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let log = std::fs::read_to_string(&logs[0]).expect("log");
    assert!(
        log.contains("PLAY RECAP") && log.contains("Refuse a marked host"),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "colour codes in the log:\n{log}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
