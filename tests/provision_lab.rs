//! Provisioning against the lab: real sshd hosts in their own namespaces, real loop-device
//! disks, real mkfs/mount, real ansible-core. Each test starts its own lab (own addresses,
//! own loop devices), so they run in parallel.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::fake_k8s;
use common::fs::{copy_tree, require_ansible};
use common::lab::{DiskSpec, HostSpec, Lab};
use rackstrap::plan::Plan;
use rackstrap::provision::remote::SshConnector;
use rackstrap::provision::{
    Consent, Event, EventKind, RunOptions, RunSummary, StageId, StepState, run, state,
};

const MIB: u64 = 1 << 20;

fn connector(dir: &Path) -> Arc<SshConnector> {
    let base = rackstrap::ssh::ConnectOptions {
        known_hosts: dir.join("known_hosts"),
        extra_known_hosts: Vec::new(),
        accept_new: true,
        use_agent: false,
        ..Default::default()
    };
    Arc::new(SshConnector { base })
}

/// A plan for lab hosts; `hosts` is the YAML list items after `address` (roles, storage).
fn plan(lab: &Lab, kubespray: &Path, hosts: &[(&str, &str)]) -> Plan {
    let mut y = format!(
        "version: 1\ncluster: {{name: lab, kubespray: {{path: {}}}}}\naccess: {{user: root, port: {}, identity: {}}}\nhosts:\n",
        kubespray.display(),
        lab.hosts()[0].port,
        lab.key_path().display()
    );
    for (name, rest) in hosts {
        y.push_str(&format!(
            "  - name: {name}\n    address: {}\n{rest}",
            lab.host(name).address
        ));
    }
    let p: Plan = serde_yaml::from_str(&y).unwrap_or_else(|e| panic!("plan: {e}\n{y}"));
    let errors: Vec<_> = rackstrap::plan::check(&p, None)
        .into_iter()
        .filter(|f| f.is_error())
        .collect();
    assert!(errors.is_empty(), "test plan has errors: {errors:?}");
    p
}

/// Pins the named hosts' keys the way a run does: rackstrap's own connection, accepting keys
/// seen for the first time into the lab's known_hosts.
async fn pin_keys(lab: &Lab, plan: &Plan, names: &[&str]) {
    use rackstrap::provision::remote::Connector;
    let c = connector(&lab.dir);
    for h in plan
        .hosts
        .iter()
        .filter(|h| names.contains(&h.name.as_str()))
    {
        if let Err(e) = c.connect(h, &plan.access).await {
            panic!("{}: {e}", h.name);
        }
    }
}

fn disk(lab: &Lab, host: &str, i: usize) -> String {
    lab.host(host).disks[i].name.clone()
}

/// Runs the plan; every event is also printed with its time (shown when a test fails).
async fn go(plan: &Plan, opts: RunOptions) -> (RunSummary, Vec<Event>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let start = std::time::Instant::now();
    let collector = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            eprintln!(
                "{:>7.3}s {}",
                start.elapsed().as_secs_f64(),
                rackstrap::cli::apply::headless_line(&e)
            );
            events.push(e);
        }
        events
    });
    let summary = run(plan, opts, tx).await.expect("run");
    let events = collector.await.expect("events");
    (summary, events)
}

fn outcome(s: &RunSummary, stage: StageId, host: &str) -> (StepState, String) {
    s.steps
        .iter()
        .rev()
        .find(|(st, h, _, _)| *st == stage && h == host)
        .map(|(_, _, state, msg)| (*state, msg.clone()))
        .unwrap_or_else(|| panic!("no outcome for {host} {stage}: {:?}", s.steps))
}

fn sha256(lab: &Lab, host: &str, dev: &str) -> String {
    // Read on the machine: the loop device is the lab's own.
    let _ = lab;
    let _ = host;
    let out = std::process::Command::new("sha256sum")
        .arg(format!("/dev/{dev}"))
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn storage_opts(lab_dir: &Path, state_dir: Option<&Path>) -> RunOptions {
    let mut o = RunOptions::new(connector(lab_dir));
    o.stages = vec![StageId::Preflight, StageId::HostPrep, StageId::Storage];
    o.consent = Consent::All;
    o.state_dir = state_dir.map(Path::to_path_buf);
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_makes_ext4_xfs_per_disk_and_relocates_then_changes_nothing() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("store")
            .disk(256 * MIB)
            .disk(512 * MIB)
            .disk(512 * MIB)
            .disk(512 * MIB)
            .disk(64 * MIB),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let d: Vec<String> = (0..5).map(|i| disk(&lab, "store", i)).collect();
    // Kubelet and containerd data of an installed node, in a /var/lib private to this host.
    lab.exec_ok(
        "store",
        "mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/kubelet/pods/p1 /var/lib/containerd/io \
         && echo pod > /var/lib/kubelet/pods/p1/data && echo img > /var/lib/containerd/io/layer",
    );
    assert_eq!(
        lab.exec_ok("store", "findmnt -n -o FSTYPE /var/lib").trim(),
        "tmpfs",
        "relocation must only ever see the host's private /var/lib"
    );
    let machine_fstab = std::fs::read_to_string("/etc/fstab").unwrap_or_default();
    let untouched = sha256(&lab, "store", &d[4]);
    let storage = format!(
        "    roles: [control_plane, etcd, worker]\n    storage:\n\
         \x20     - {{level: single, devices: [{}], filesystem: ext4, mount: /mnt/data, relocate: [kubelet, containerd]}}\n\
         \x20     - {{level: single, devices: [{}], filesystem: xfs, mount: /srv/x, discard: on}}\n\
         \x20     - {{level: per-disk, devices: [{}, {}], filesystem: xfs, mount: /mnt/ais}}\n",
        d[0], d[1], d[2], d[3]
    );
    let p = plan(&lab, tmp.path(), &[("store", &storage)]);

    let (s, events) = go(&p, storage_opts(&lab.dir, None)).await;
    assert!(s.all_done(), "{:#?}", s.steps);
    assert!(
        outcome(&s, StageId::Storage, "store")
            .1
            .ends_with(" command(s) run")
    );
    assert!(
        events.iter().any(|e| matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line == &format!("$ mkfs.ext4 -L rackstrap /dev/{}", d[0])))),
        "the exact command is logged"
    );

    // Filesystems made and mounted where planned.
    for (dev, mount, fs) in [
        (&d[0], "/mnt/data".to_string(), "ext4"),
        (&d[1], "/srv/x".to_string(), "xfs"),
        (&d[2], format!("/mnt/ais/{}", d[2]), "xfs"),
        (&d[3], format!("/mnt/ais/{}", d[3]), "xfs"),
    ] {
        let got = lab.exec_ok("store", &format!("findmnt -n -o SOURCE,FSTYPE {mount}"));
        assert_eq!(
            got.split_whitespace().collect::<Vec<_>>(),
            vec![format!("/dev/{dev}").as_str(), fs]
        );
        let uuid = lab.exec_ok("store", &format!("blkid -p -s UUID -o value /dev/{dev}"));
        let fstab = lab.exec_ok("store", "cat /etc/fstab");
        let line = fstab
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(mount.as_str()))
            .unwrap_or_else(|| panic!("no fstab line for {mount}:\n{fstab}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[0], format!("UUID={}", uuid.trim()), "{line}");
        assert_eq!(f[2], fs);
        let rotational = lab
            .exec_ok("store", &format!("cat /sys/block/{dev}/queue/rotational"))
            .trim()
            == "1";
        let want = if mount == "/srv/x" || !rotational {
            "defaults,discard"
        } else {
            "defaults"
        };
        assert_eq!(f[3], want, "discard only where it belongs: {line}");
        assert!(
            !machine_fstab.contains(uuid.trim()),
            "machine's fstab untouched"
        );
    }
    assert_eq!(
        std::fs::read_to_string("/etc/fstab").unwrap_or_default(),
        machine_fstab
    );
    assert!(
        lab.exec_ok("store", "ls /etc/fstab.1")
            .contains("/etc/fstab.1")
    );
    // Relocation: data moved onto the new filesystem, old directories gone.
    assert_eq!(
        lab.exec_ok("store", "cat /mnt/data/kubelet/pods/p1/data"),
        "pod\n"
    );
    assert_eq!(
        lab.exec_ok("store", "cat /mnt/data/containerd/io/layer"),
        "img\n"
    );
    assert_eq!(
        lab.exec_ok(
            "store",
            "ls -d /var/lib/kubelet /var/lib/containerd 2>/dev/null; true"
        ),
        ""
    );

    // A second run changes nothing and says so.
    let fstab_before = lab.exec_ok(
        "store",
        "cat /etc/fstab; findmnt -rn -o TARGET,SOURCE | sort",
    );
    let (s2, events2) = go(&p, storage_opts(&lab.dir, None)).await;
    assert_eq!(
        outcome(&s2, StageId::Storage, "store"),
        (StepState::Done, "nothing to do".into())
    );
    assert!(
        !events2
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.starts_with("$ ")))),
        "no command ran the second time"
    );
    assert_eq!(
        lab.exec_ok(
            "store",
            "cat /etc/fstab; findmnt -rn -o TARGET,SOURCE | sort"
        ),
        fstab_before
    );
    // The disk the plan does not name is byte-for-byte what it was.
    assert_eq!(sha256(&lab, "store", &d[4]), untouched);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mounted_root_and_formatted_disks_are_refused_before_any_command() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("careful")
            .disk(64 * MIB)
            .disk_spec(DiskSpec::mounted(64 * MIB, "ext4", "/mnt/busy"))
            .disk_spec(DiskSpec::mounted(64 * MIB, "ext4", "/"))
            // Big enough for XFS (300 MB minimum), which the wipe case makes on it.
            .disk_spec(DiskSpec::formatted(320 * MIB, "ext4")),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let d: Vec<String> = (0..4).map(|i| disk(&lab, "careful", i)).collect();
    let fresh_hash = sha256(&lab, "careful", &d[0]);
    let fstab = lab.exec_ok("careful", "cat /etc/fstab");
    for (bad, wipe, why) in [
        (
            &d[1],
            false,
            format!("/dev/{} is mounted at /mnt/busy; unmount it first", d[1]),
        ),
        (
            &d[2],
            true,
            format!("/dev/{} holds the root filesystem", d[2]),
        ),
        (
            &d[3],
            false,
            format!(
                "/dev/{} holds a ext4 signature; set `wipe: true` on this layout to destroy it",
                d[3]
            ),
        ),
    ] {
        // The good layout comes first: refusing must still run nothing at all.
        let storage = format!(
            "    roles: [control_plane, etcd, worker]\n    storage:\n\
             \x20     - {{level: single, devices: [{}], filesystem: ext4, mount: /mnt/good}}\n\
             \x20     - {{level: single, devices: [{bad}], filesystem: ext4, mount: /mnt/bad, wipe: {wipe}}}\n",
            d[0]
        );
        let p = plan(&lab, tmp.path(), &[("careful", &storage)]);
        let mut opts = storage_opts(&lab.dir, None);
        opts.stages = vec![StageId::Storage];
        let (s, events) = go(&p, opts).await;
        assert_eq!(
            outcome(&s, StageId::Storage, "careful"),
            (StepState::Failed, format!("refused: {why}"))
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.starts_with("$ ")))),
            "no command ran: {events:?}"
        );
        assert_eq!(
            sha256(&lab, "careful", &d[0]),
            fresh_hash,
            "good disk untouched"
        );
        assert_eq!(lab.exec_ok("careful", "cat /etc/fstab"), fstab);
        // Preflight says the same, before anything.
        let mut opts = storage_opts(&lab.dir, None);
        opts.stages = vec![StageId::Preflight];
        let (s, _) = go(&p, opts).await;
        let (st, msg) = outcome(&s, StageId::Preflight, "careful");
        assert_eq!(st, StepState::Failed);
        assert!(msg.contains(&format!("disks: refused: {why}")), "{msg}");
    }

    // With `wipe: true` the formatted disk is consented to: wiped, made, mounted.
    let storage = format!(
        "    roles: [control_plane, etcd, worker]\n    storage:\n\
         \x20     - {{level: single, devices: [{}], filesystem: xfs, mount: /mnt/wiped, wipe: true}}\n",
        d[3]
    );
    let p = plan(&lab, tmp.path(), &[("careful", &storage)]);
    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::Storage];
    opts.consent = Consent::None;
    let (s, _) = go(&p, opts).await;
    let (st, msg) = outcome(&s, StageId::Storage, "careful");
    assert_eq!(st, StepState::Failed);
    assert!(msg.starts_with("needs confirmation"), "{msg}");
    assert_eq!(
        lab.exec_ok(
            "careful",
            &format!("blkid -p -s TYPE -o value /dev/{}", d[3])
        )
        .trim(),
        "ext4",
        "nothing ran without consent"
    );
    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::Storage];
    opts.consent = Consent::Hosts(["careful".to_string()].into());
    let (s, _) = go(&p, opts).await;
    assert_eq!(
        outcome(&s, StageId::Storage, "careful").0,
        StepState::Done,
        "{:?}",
        s.steps
    );
    assert_eq!(
        lab.exec_ok("careful", "findmnt -n -o FSTYPE /mnt/wiped")
            .trim(),
        "xfs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn md_arrays_run_for_real_where_the_kernel_has_md() {
    require_lab!();
    if !Path::new("/proc/mdstat").exists() {
        eprintln!(
            "SKIPPED (md part): this kernel has no md driver (/proc/mdstat missing); the raid0/raid1/raid10 \
             command sequences are pinned by the golden tests in provision::stages::storage"
        );
        return;
    }
    let lab = Lab::start(vec![
        HostSpec::new("raid")
            .disk(128 * MIB)
            .disk(128 * MIB)
            .disk(128 * MIB)
            .disk(128 * MIB),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let d: Vec<String> = (0..4).map(|i| disk(&lab, "raid", i)).collect();
    let storage = format!(
        "    roles: [control_plane, etcd, worker]\n    storage:\n\
         \x20     - {{level: raid10, devices: [{}, {}, {}, {}], filesystem: ext4, mount: /mnt/md}}\n",
        d[0], d[1], d[2], d[3]
    );
    let p = plan(&lab, tmp.path(), &[("raid", &storage)]);
    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::Storage];
    let (s, _) = go(&p, opts).await;
    // update-initramfs may be absent on a test machine; the array itself must exist.
    let md = lab.exec_ok("raid", "cat /proc/mdstat");
    assert!(md.contains("raid10"), "{md}\n{:?}", s.steps);
    // The array gets the first free md name, which need not be md0 on this machine.
    let _ = lab.exec_in(
        "raid",
        "md=$(findmnt -no SOURCE /mnt/md); umount /mnt/md; [ -n \"$md\" ] && mdadm --stop \"$md\"",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubespray_runs_ansible_reports_the_failing_task_and_resumes_after_the_fix() {
    require_lab!();
    require_ansible();
    let (lab, tmp, p) = kubespray_lab();
    let tree = tmp.path().join("kubespray");
    pin_keys(&lab, &p, &["node1", "node2", "node3"]).await;
    lab.exec_ok("node2", "touch /etc/rackstrap-fixture-fail");
    let state_dir = tmp.path().join("state");
    let opts = |_: ()| {
        let mut o = RunOptions::new(connector(&lab.dir));
        o.stages = vec![StageId::Kubespray];
        o.state_dir = Some(state_dir.clone());
        o
    };

    let (s, events) = go(&p, opts(())).await;
    assert_eq!(
        outcome(&s, StageId::Kubespray, "node1").0,
        StepState::Done,
        "{:?}",
        s.steps
    );
    assert_eq!(outcome(&s, StageId::Kubespray, "node3").0, StepState::Done);
    assert_eq!(
        outcome(&s, StageId::Kubespray, "node2"),
        (
            StepState::Failed,
            "task [Refuse a marked host] failed: non-zero return code".into()
        )
    );
    // Per-host progress parsed from the stream; the inventory went into the tree.
    for h in ["node1", "node2", "node3"] {
        assert!(
            events.iter().any(|e| e.host == h
                && matches!(&e.kind, EventKind::Progress { done: 1, text, .. } if text == "ok: Read the hostname")),
            "{h}: no progress event"
        );
    }
    assert!(events.iter().any(|e| e.host == "ansible"
        && matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.contains("PLAY RECAP")))));
    let hosts_yaml =
        std::fs::read_to_string(tree.join("inventory/lab/hosts.yaml")).expect("inventory");
    assert!(hosts_yaml.contains(&lab.host("node2").address));
    assert!(tree.join("inventory/lab/group_vars/all/all.yml").exists());
    assert_eq!(
        lab.exec_ok("node1", "cat /etc/rackstrap-fixture-done"),
        "node1\n"
    );
    let log = std::fs::read_to_string(
        state::RunState::load(&state_dir.join("state.yaml"))
            .expect("state")
            .get(StageId::Kubespray, "node2")
            .and_then(|s| s.log.clone())
            .expect("log path"),
    )
    .expect("ansible log");
    assert!(log.contains("Refuse a marked host"));

    // Fixed: the rerun finishes.
    lab.exec_ok("node2", "rm /etc/rackstrap-fixture-fail");
    let (s, _) = go(&p, opts(())).await;
    assert!(s.all_done(), "{:?}", s.steps);
    assert_eq!(
        lab.exec_ok("node2", "cat /etc/rackstrap-fixture-done"),
        "node2\n"
    );
    // And once done, a further apply has nothing left to run.
    let (s, events) = go(&p, opts(())).await;
    assert_eq!(
        outcome(&s, StageId::Kubespray, "node2"),
        (StepState::Done, "done in an earlier run".into())
    );
    assert!(!events.iter().any(|e| e.host == "ansible"));
}

/// Three lab hosts (one control plane + etcd, two workers) and a copy of the fixture
/// Kubespray tree in a temporary directory, with the plan that points at both.
fn kubespray_lab() -> (Lab, tempfile::TempDir, Plan) {
    let lab = Lab::start(vec![
        HostSpec::new("node1"),
        HostSpec::new("node2"),
        HostSpec::new("node3"),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let tree = tmp.path().join("kubespray");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/kubespray"),
        &tree,
    );
    let p = plan(
        &lab,
        &tree,
        &[
            ("node1", "    roles: [control_plane, etcd, worker]\n"),
            ("node2", "    roles: [worker]\n"),
            ("node3", "    roles: [worker]\n"),
        ],
    );
    (lab, tmp, p)
}

/// Ansible checks host keys against rackstrap's pins, although the tree's ansible.cfg (like
/// Kubespray's) turns checking off: a host with no pin is refused before Ansible starts, and
/// a host that comes back with another key is never run on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubespray_trusts_only_pinned_host_keys() {
    require_lab!();
    require_ansible();
    let (mut lab, tmp, p) = kubespray_lab();
    let tree = tmp.path().join("kubespray");
    let lab_dir = lab.dir.clone();
    let opts = || {
        let mut o = RunOptions::new(connector(&lab_dir));
        o.stages = vec![StageId::Kubespray];
        o
    };
    let done_marker = |lab: &Lab, h: &str| {
        lab.exec_in(h, "test -e /etc/rackstrap-fixture-done")
            .status
            .success()
    };

    // node3 was never contacted: nothing runs anywhere.
    pin_keys(&lab, &p, &["node1", "node2"]).await;
    let (s, events) = go(&p, opts()).await;
    let (state, msg) = outcome(&s, StageId::Kubespray, "node3");
    assert_eq!(state, StepState::Failed);
    assert!(
        msg.contains("no pinned host key for node3") && msg.contains("discover"),
        "{msg}"
    );
    let (state, msg) = outcome(&s, StageId::Kubespray, "node1");
    assert_eq!(state, StepState::Failed);
    assert!(msg.contains("node3 not pinned"), "{msg}");
    assert!(
        !events.iter().any(|e| e.host == "ansible"
            && matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.starts_with("$ ") && line.contains("ansible-playbook")))),
        "ansible-playbook started"
    );
    for h in ["node1", "node2", "node3"] {
        assert!(!done_marker(&lab, h), "{h} was run on");
    }

    // All pinned, then node2 comes back with another key: only node2 is refused.
    pin_keys(&lab, &p, &["node3"]).await;
    lab.restart_with_new_key("node2");
    let (s, events) = go(&p, opts()).await;
    let (state, msg) = outcome(&s, StageId::Kubespray, "node2");
    assert_eq!(state, StepState::Failed, "{:?}", s.steps);
    assert!(msg.starts_with("host key changed:"), "{msg}");
    assert!(!done_marker(&lab, "node2"), "node2 was run on");
    for h in ["node1", "node3"] {
        assert_eq!(outcome(&s, StageId::Kubespray, h).0, StepState::Done, "{h}");
        assert!(done_marker(&lab, h), "{h} not run on");
    }
    assert!(
        events.iter().any(|e| e.host == "ansible"
            && matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.starts_with("$ ") && line.contains("StrictHostKeyChecking=yes")))),
        "the command line shows strict checking"
    );
    // The file Ansible's ssh read holds exactly the pins (the old key for node2).
    let pinned =
        std::fs::read_to_string(tree.join("inventory/lab/.known_hosts")).expect("known_hosts");
    let old = lab.host("node2");
    assert!(
        pinned.contains(&format!("[{}]:{}", old.address, old.port)),
        "{pinned}"
    );
    let new_key = old.host_public_key();
    let new_key = new_key.split_whitespace().nth(1).expect("key");
    assert!(!pinned.contains(new_key), "{pinned}");
}

/// The CLI, end to end: a host dies in the middle of a stage; `status` shows it; `apply`
/// again finishes only that host. Then `--dry-run` lists and changes nothing.
#[test]
fn a_host_killed_mid_stage_fails_alone_and_apply_again_finishes_it() {
    require_lab!();
    let mut lab = Lab::start(vec![
        HostSpec::new("h1").disk(64 * MIB),
        HostSpec::new("h2").disk(64 * MIB),
        HostSpec::new("h3").disk(64 * MIB),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let hosts: Vec<(String, String)> = ["h1", "h2", "h3"]
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let role = if i == 0 { "[control_plane, etcd, worker]" } else { "[worker]" };
            (
                h.to_string(),
                format!(
                    "    roles: {role}\n    storage:\n      - {{level: single, devices: [{}], filesystem: ext4, mount: /mnt/data}}\n",
                    disk(&lab, h, 0)
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = hosts
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let p = plan(&lab, tmp.path(), &refs);
    let plan_path = tmp.path().join("cluster.yaml");
    rackstrap::plan::save(&p, &plan_path).expect("save plan");
    let known = tmp.path().join("known_hosts");
    let apply = |extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_rackstrap"));
        c.arg("apply").arg(&plan_path);
        for s in ["preflight", "host-prep", "storage"] {
            c.args(["--stage", s]);
        }
        c.arg("--known-hosts").arg(&known).arg("--accept-new");
        c.args(extra);
        c
    };

    // Dry run first: every command for every host, and nothing changes anywhere.
    let before: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|h| lab.exec_ok(h, "cat /etc/fstab; findmnt -rn -o TARGET | sort"))
        .collect();
    eprintln!("dry run");
    let out = apply(&["--dry-run"]).output().expect("dry run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for h in ["h1", "h2", "h3"] {
        let d = disk(&lab, h, 0);
        for cmd in [
            format!("{h} storage would run: mkfs.ext4 -L rackstrap /dev/{d}"),
            format!("{h} storage would run: cp -p /etc/fstab /etc/fstab.1"),
            format!("{h} storage would run: mount /mnt/data"),
        ] {
            assert!(text.contains(&cmd), "missing `{cmd}` in:\n{text}");
        }
        assert_eq!(
            lab.exec_in(h, &format!("blkid -p /dev/{d}")).status.code(),
            Some(2),
            "{h}: disk still blank after the dry run"
        );
    }
    let after: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|h| lab.exec_ok(h, "cat /etc/fstab; findmnt -rn -o TARGET | sort"))
        .collect();
    assert_eq!(before, after);
    assert!(!state::state_dir(&plan_path).join("state.yaml").exists());

    // h2's preflight probe blocks reading its os-release (a FIFO nobody writes), so the kill
    // lands while the stage is running on it.
    eprintln!("apply with h2 blocked");
    lab.exec_ok("h2", "rm -f /etc/os-release && mkfifo /etc/os-release");
    let mut child = apply(&["--yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("apply");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("line");
            eprintln!("{line}");
            seen.push_str(&line);
            seen.push('\n');
            if line == "h2 preflight started" {
                // Kill only once the probe is blocked on the FIFO: mid-command, for certain.
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !lab.exec_in("h2", "pgrep -x cat").status.success() {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "h2's probe never started"
                    );
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                lab.kill("h2");
                break;
            }
        }
        for line in lines {
            let line = line.expect("line");
            eprintln!("{line}");
            seen.push_str(&line);
            seen.push('\n');
        }
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("h2 preflight failed: connection lost"),
        "{seen}"
    );
    assert!(seen.contains("h1 storage done: "), "{seen}");
    assert!(seen.contains("h3 storage done: "), "{seen}");

    let st = std::process::Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("status")
        .arg(&plan_path)
        .output()
        .expect("status");
    let table = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success());
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(row("preflight"), vec!["done", "failed", "done"], "{table}");
    assert_eq!(row("storage"), vec!["done", "pending", "done"], "{table}");
    assert!(
        table.contains("h2 preflight: failed connection lost"),
        "{table}"
    );

    // Bring h2 back, fixed; apply again runs only h2.
    lab.restart("h2");
    lab.exec_ok(
        "h2",
        "rm -f /etc/os-release && printf 'ID=ubuntu\\nVERSION_ID=\"22.04\"\\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\\n' > /etc/os-release",
    );
    let out = apply(&["--yes"]).output().expect("apply again");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for h in ["h1", "h3"] {
        for s in ["preflight", "host-prep", "storage"] {
            assert!(
                text.contains(&format!("{h} {s} done: done in an earlier run")),
                "{text}"
            );
        }
        assert!(
            !text.contains(&format!("{h} storage $ ")),
            "{h} ran commands again:\n{text}"
        );
    }
    assert!(text.contains("h2 storage done: "), "{text}");
    assert_eq!(
        lab.exec_ok("h2", "findmnt -n -o FSTYPE /mnt/data").trim(),
        "ext4"
    );
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("status")
        .arg(&plan_path)
        .output()
        .expect("status");
    let table = String::from_utf8_lossy(&st.stdout);
    assert!(
        !table.contains("failed")
            && !table
                .lines()
                .any(|l| l.starts_with("storage") && l.contains("pending")),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_and_load_balancer_drive_kubectl_on_the_first_control_plane() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("cp1"), HostSpec::new("w1")]);
    let tmp = tempfile::tempdir().expect("tmp");
    fake_k8s::install_nodes(
        &lab,
        "cp1",
        "cp1 Ready control-plane 5m v1.28.6\\nw1 Ready <none> 4m v1.28.6\\n",
        &["8.8.8.8", "1.1.1.1"],
    );
    assert_eq!(
        lab.exec_ok("cp1", "command -v kubectl").trim(),
        "/usr/local/bin/kubectl"
    );
    assert!(
        !lab.exec_in(
            "w1",
            "test -e /usr/local/bin/kubectl || test -e /etc/fake-k8s"
        )
        .status
        .success(),
        "the fake kubectl exists only on cp1"
    );
    let mut p = plan(
        &lab,
        tmp.path(),
        &[
            ("cp1", "    roles: [control_plane, etcd, worker]\n"),
            ("w1", "    roles: [worker]\n"),
        ],
    );
    p.network.upstream_dns = vec!["8.8.8.8".into(), "1.1.1.1".into()];
    p.network.load_balancer.expose_controller = true;
    p.network.load_balancer.pools = vec![rackstrap::plan::Pool {
        name: "default".into(),
        addresses: vec!["10.10.0.240/28".into()],
        auto_assign: true,
    }];
    let opts = || {
        let mut o = RunOptions::new(connector(&lab.dir));
        o.stages = vec![StageId::Verify, StageId::LoadBalancer];
        o
    };

    let (s, _) = go(&p, opts()).await;
    assert_eq!(
        outcome(&s, StageId::Verify, "cp1"),
        (StepState::Done, "nothing to do".into())
    );
    assert_eq!(
        outcome(&s, StageId::LoadBalancer, "cp1"),
        (StepState::Done, "3 command(s) run".into()),
        "{:?}",
        s.steps
    );
    assert!(
        !s.steps.iter().any(|st| st.1 == "w1"),
        "kubectl runs on the first control plane only"
    );
    assert_eq!(lab.exec_ok("cp1", "cat /etc/fake-k8s/pools"), "default\n");
    assert!(
        lab.exec_ok("cp1", "cat /etc/fake-k8s/kube-proxy")
            .contains("strictARP: true")
    );
    assert!(
        lab.exec_ok("cp1", "cat /etc/fake-k8s/applied")
            .contains("- 10.10.0.240/28")
    );
    assert!(
        lab.exec_ok("cp1", "cat /etc/fake-k8s/controller-service")
            .contains("\"port\":7472")
    );

    // Everything in place: the load balancer has nothing to do.
    let (s, _) = go(&p, opts()).await;
    assert_eq!(
        outcome(&s, StageId::LoadBalancer, "cp1"),
        (StepState::Done, "nothing to do".into())
    );

    // A node goes NotReady and CoreDNS loses its upstream: verify says which and why.
    lab.exec_ok(
        "cp1",
        "cd /etc/fake-k8s && printf 'cp1 Ready cp 5m v1\\nw1 NotReady <none> 4m v1\\n' > nodes \
         && printf '    forward . /etc/resolv.conf\\n' > coredns",
    );
    let (s, _) = go(&p, opts()).await;
    let (st, msg) = outcome(&s, StageId::Verify, "cp1");
    assert_eq!(st, StepState::Failed);
    assert_eq!(
        msg,
        "w1 is NotReady; CoreDNS does not forward to 8.8.8.8, 1.1.1.1 (forward . /etc/resolv.conf)"
    );
    assert_eq!(
        outcome(&s, StageId::LoadBalancer, "cp1").0,
        StepState::Pending,
        "load balancer waits for a verified cluster"
    );
}

/// Host prep on a lab host whose packages are all present (the lab hosts share this
/// machine's package database, where the suite's packages are installed): the stage's own
/// probe finds nothing to install, so no `apt-get` runs and the step says so. The stage's
/// check is asked first, directly, so a missing package fails the test before anything
/// could be installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_prep_with_every_package_present_installs_nothing() {
    use rackstrap::provision::log::StepLog;
    use rackstrap::provision::remote::Connector;
    use rackstrap::provision::stage::{Ctx, Stage};
    use rackstrap::provision::stages::host_prep::HostPrep;
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("prep")]);
    let tmp = tempfile::tempdir().expect("tmp");
    // Layouts that need mdadm, xfsprogs and e2fsprogs; no tuning, so no sysctl is loaded
    // into the machine's kernel.
    let p = plan(
        &lab,
        tmp.path(),
        &[(
            "prep",
            "    roles: [control_plane, etcd, worker]\n    storage:\n\
             \x20     - {level: raid1, devices: [sdx, sdy], filesystem: ext4, mount: /mnt/a}\n\
             \x20     - {level: single, devices: [sdz], filesystem: xfs, mount: /mnt/b}\n",
        )],
    );
    let host = &p.hosts[0];
    let remote = connector(&lab.dir)
        .connect(host, &p.access)
        .await
        .expect("connect");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut log = StepLog::new("prep", StageId::HostPrep, tx, None);
    let ctx = Ctx {
        plan: &p,
        host,
        facts: None,
        looks: None,
    };
    let cmds = HostPrep
        .check(&ctx, remote.as_ref(), &mut log)
        .await
        .expect("check");
    drop(log);
    let mut notes = Vec::new();
    while let Some(e) = rx.recv().await {
        if let EventKind::Log { lines, .. } = e.kind {
            notes.extend(lines);
        }
    }
    assert!(
        cmds.is_empty(),
        "this machine lacks a package the suite installs (tests/ci.sh): {:?}",
        cmds.iter().map(|c| &c.shell).collect::<Vec<_>>()
    );
    assert!(
        notes.iter().any(|l| l
            .contains("packages mdadm, xfsprogs, e2fsprogs, python3 present: nothing to install")),
        "{notes:?}"
    );

    // The same through the runner: done, nothing to do, no command at all.
    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::HostPrep];
    let (s, events) = go(&p, opts).await;
    assert_eq!(
        outcome(&s, StageId::HostPrep, "prep"),
        (StepState::Done, "nothing to do".into())
    );
    assert!(
        !events.iter().any(|e| matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.starts_with("$ ") || line.contains("apt-get")))),
        "{events:?}"
    );
}

/// A host lost between mkfs and the fstab line: the disk now carries the filesystem the
/// stage made (labelled `rackstrap`) and nothing else. The rerun takes it as its own and
/// finishes (fstab by UUID, mount, relocation) without formatting again; a disk formatted
/// by someone else is still refused without `wipe: true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_resumes_after_mkfs_and_still_refuses_a_foreign_filesystem() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("resume")
            .disk(64 * MIB)
            .disk_spec(DiskSpec::formatted(64 * MIB, "ext4")),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let (ours, foreign) = (disk(&lab, "resume", 0), disk(&lab, "resume", 1));
    lab.exec_ok(
        "resume",
        "mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/kubelet/pods/p1 \
         && echo pod > /var/lib/kubelet/pods/p1/data",
    );
    let p = plan(
        &lab,
        tmp.path(),
        &[(
            "resume",
            &format!(
                "    roles: [control_plane, etcd, worker]\n    storage:\n\
                 \x20     - {{level: single, devices: [{ours}], filesystem: ext4, mount: /mnt/data, relocate: [kubelet]}}\n"
            ),
        )],
    );

    // The half-done state: the stage's own mkfs command ran, nothing after it.
    let listing = rackstrap::provision::dry_run(&p, None);
    let mkfs = listing
        .iter()
        .find(|s| s.stage == StageId::Storage)
        .and_then(|s| s.commands.as_ref().ok())
        .and_then(|c| c.iter().find(|c| c.starts_with("mkfs.")))
        .expect("the storage listing has a mkfs")
        .clone();
    assert_eq!(mkfs, format!("mkfs.ext4 -L rackstrap /dev/{ours}"));
    lab.exec_ok("resume", &mkfs);
    let uuid = lab
        .exec_ok("resume", &format!("blkid -p -s UUID -o value /dev/{ours}"))
        .trim()
        .to_string();
    assert!(!uuid.is_empty());
    let fstab_before = lab.exec_ok("resume", "cat /etc/fstab");
    assert!(!fstab_before.contains(&uuid));

    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::Storage];
    let (s, events) = go(&p, opts).await;
    assert_eq!(
        outcome(&s, StageId::Storage, "resume").0,
        StepState::Done,
        "{:#?}",
        s.steps
    );
    let ran: Vec<&String> = events
        .iter()
        .flat_map(|e| match &e.kind {
            EventKind::Log { lines, .. } => lines.iter().filter(|l| l.starts_with("$ ")).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert!(
        !ran.iter()
            .any(|l| l.starts_with("$ mkfs") || l.starts_with("$ wipefs")),
        "formatted again: {ran:?}"
    );
    // The same filesystem, now in fstab by its UUID and mounted, the data moved onto it.
    assert_eq!(
        lab.exec_ok("resume", &format!("blkid -p -s UUID -o value /dev/{ours}"))
            .trim(),
        uuid
    );
    let fstab = lab.exec_ok("resume", "cat /etc/fstab");
    assert!(
        fstab
            .lines()
            .any(|l| l.split_whitespace().take(3).collect::<Vec<_>>()
                == [format!("UUID={uuid}").as_str(), "/mnt/data", "ext4"]),
        "{fstab}"
    );
    assert_eq!(
        lab.exec_ok("resume", "findmnt -n -o SOURCE /mnt/data")
            .trim(),
        format!("/dev/{ours}")
    );
    assert_eq!(
        lab.exec_ok("resume", "cat /mnt/data/kubelet/pods/p1/data"),
        "pod\n"
    );
    // And the run after that has nothing left to do.
    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::Storage];
    let (s, _) = go(&p, opts).await;
    assert_eq!(
        outcome(&s, StageId::Storage, "resume"),
        (StepState::Done, "nothing to do".into())
    );

    // A filesystem someone else made (no rackstrap label) is refused, nothing runs.
    let p = plan(
        &lab,
        tmp.path(),
        &[(
            "resume",
            &format!(
                "    roles: [control_plane, etcd, worker]\n    storage:\n\
                 \x20     - {{level: single, devices: [{foreign}], filesystem: ext4, mount: /mnt/other}}\n"
            ),
        )],
    );
    let before = sha256(&lab, "resume", &foreign);
    let mut opts = storage_opts(&lab.dir, None);
    opts.stages = vec![StageId::Storage];
    let (s, events) = go(&p, opts).await;
    assert_eq!(
        outcome(&s, StageId::Storage, "resume"),
        (
            StepState::Failed,
            format!(
                "refused: /dev/{foreign} holds a ext4 signature; set `wipe: true` on this layout to destroy it"
            )
        )
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Log { lines, .. } if lines.iter().any(|line| line.starts_with("$ ")))),
        "no command ran"
    );
    assert_eq!(sha256(&lab, "resume", &foreign), before);
}

/// A chatty command through a real sshd, the way a stage runs it, while the watcher reads
/// nothing: the log file has every line, what waits for the watcher stays within the bound,
/// and one marker accounts for every line it was not shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_command_has_every_line_in_its_log_file_while_the_watcher_is_bounded() {
    use rackstrap::provision::cmd::{Cmd, run_one};
    use rackstrap::provision::event::Backlog;
    use rackstrap::provision::log::{LogFile, StepLog};
    use rackstrap::provision::remote::Connector;
    require_lab!();
    const LINES: usize = 300_000;
    let lab = Lab::start(vec![HostSpec::new("chatty")]);
    let tmp = tempfile::tempdir().expect("tmp");
    let p = plan(
        &lab,
        tmp.path(),
        &[("chatty", "    roles: [control_plane, etcd, worker]\n")],
    );
    let remote = connector(&lab.dir)
        .connect(&p.hosts[0], &p.access)
        .await
        .expect("connect");
    let path = tmp.path().join("logs/chatty.log");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let backlog = Backlog::new(10_000);
    let mut log = StepLog::new(
        "chatty",
        StageId::Kubespray,
        tx,
        Some(LogFile::create(&path).expect("log file")),
    )
    .sharing(&backlog);
    run_one(remote.as_ref(), &Cmd::new(format!("seq {LINES}")), &mut log)
        .await
        .expect("seq runs");
    assert!(backlog.queued() <= 10_000, "{} queued", backlog.queued());
    drop(log);

    let logged = std::fs::read_to_string(&path).expect("log file");
    let mut lines = logged.lines();
    assert_eq!(lines.next(), Some(format!("$ seq {LINES}").as_str()));
    let numbers: Vec<usize> = lines.map(|l| l.parse().expect("a number")).collect();
    assert_eq!(
        numbers,
        (1..=LINES).collect::<Vec<_>>(),
        "every line, in order"
    );

    let (mut shown, mut markers) = (0, Vec::new());
    while let Some(e) = rx.recv().await {
        if let EventKind::Log { lines, .. } = e.kind {
            for l in lines.iter() {
                if l.starts_with("... ") {
                    markers.push(l.clone());
                } else {
                    shown += 1;
                }
            }
        }
    }
    assert_eq!(shown, 10_000, "the watcher was sent what the bound allows");
    let not_shown = LINES + 1 - shown;
    assert_eq!(
        markers,
        [format!(
            "... {},{:03} lines not shown here; the log file has every line: {}",
            not_shown / 1000,
            not_shown % 1000,
            path.display()
        )]
    );
}
