//! The live wizard (not the demo), end to end on three lab hosts with this machine's CPUs:
//! the built binary in tmux, keys only, from Access to Done. Then what the run left behind is
//! read from the hosts themselves, the saved plan is compared with the expected file, and the
//! same plan, reopened with `--plan` and applied headless, has nothing left to do.
//!
//! The Kubespray stage runs ansible-playbook on the fixture tree (`tests/fixtures/ansible`),
//! copied to where the plan's default path points (`~/kubespray`, with `HOME` a temporary
//! directory); verify and load balancer run against a stand-in kubectl on the control plane.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::fake_k8s;
use common::fs::copy_tree;
use common::lab::{HostSpec, LAB_PORT, Lab};
use common::tmux::Tmux;

const MIB: u64 = 1 << 20;
/// The kernel parameters a new plan sets (Akash's "Kubernetes Cluster for Akash Providers",
/// STEP 9 - Custom Kernel Parameters); made private to each lab host.
const SYSCTL_KEYS: [&str; 3] = [
    "fs.inotify.max_user_instances",
    "fs.inotify.max_user_watches",
    "vm.max_map_count",
];

fn sha256(dev: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(dev)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The directory of the `ansible-playbook` this machine runs (its own report of where it
/// is), so the pane finds it with any `HOME`.
fn ansible_bin_dir() -> String {
    let out = Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .expect("ansible-playbook is not installed (tests/ci.sh installs ansible-core)");
    let text = String::from_utf8_lossy(&out.stdout);
    let exe = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("executable location = "))
        .unwrap_or_else(|| panic!("no executable location in:\n{text}"));
    Path::new(exe.trim())
        .parent()
        .expect("a directory")
        .display()
        .to_string()
}

/// An fstab line whose first fields are the words of `want` (spacing aside).
fn has_entry(fstab: &str, want: &str) -> bool {
    let want: Vec<&str> = want.split_whitespace().collect();
    fstab.lines().any(|l| {
        l.split_whitespace()
            .take(want.len())
            .eq(want.iter().copied())
    })
}

/// What a host's state looks like from inside: fstab, mounts, the filesystems on its disks.
fn host_state(lab: &Lab, host: &str) -> String {
    let h = lab.host(host);
    let mut out = lab.exec_ok(
        host,
        "cat /etc/fstab; findmnt -rn -o TARGET,SOURCE,FSTYPE | sort",
    );
    for d in &h.disks {
        out.push_str(
            &lab.exec_in(host, &format!("blkid -p {}", d.device.display()))
                .stdout
                .iter()
                .map(|b| *b as char)
                .collect::<String>(),
        );
    }
    out
}

#[test]
fn the_live_wizard_provisions_three_lab_hosts_from_access_to_done() {
    require_lab!();
    assert!(
        Tmux::available(),
        "tmux is required (tests/ci.sh installs it)"
    );
    let ansible = ansible_bin_dir();
    let lab = Lab::start(vec![
        HostSpec::new("node1").disk(64 * MIB),
        HostSpec::new("node2").disk(512 * MIB).disk(512 * MIB),
        HostSpec::new("node3").disk(256 * MIB).disk(64 * MIB),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let home = tmp.path().join("home");
    let config = tmp.path().join("config");
    let work = tmp.path().join("work");
    for d in [&home, &config, &work] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    // The plan's default Kubespray path, ~/kubespray, holds the fixture tree.
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/kubespray"),
        &home.join("kubespray"),
    );
    for h in ["node1", "node2", "node3"] {
        fake_k8s::private_sysctl(&lab, h, &SYSCTL_KEYS);
    }
    fake_k8s::install(&lab, "node1", &["node1", "node2", "node3"], &[]);
    let machine_fstab = std::fs::read_to_string("/etc/fstab").unwrap_or_default();
    // Disks the plan will not name: byte for byte the same at the end.
    let unnamed = [&lab.host("node1").disks[0], &lab.host("node3").disks[1]];
    let unnamed_before: Vec<String> = unnamed.iter().map(|d| sha256(&d.device)).collect();
    let node1_before = host_state(&lab, "node1");

    let bin = env!("CARGO_BIN_EXE_rackstrap");
    let env = format!(
        "env -u SSH_AUTH_SOCK HOME={} XDG_CONFIG_HOME={} PATH={ansible}:$PATH",
        home.display(),
        config.display()
    );
    let t = Tmux::start(
        "live-e2e",
        100,
        30,
        &format!("{env} {bin}; echo rackstrap-exit=$?"),
        &work,
    );

    // Access: the lab's port and key, typed.
    let s = t.wait_for("1/9 Access");
    assert!(!s.contains("DEMO"), "{s}");
    t.keys(&["Down", "Down"]);
    t.keys(&["BSpace"; 6]);
    t.type_text(&LAB_PORT.to_string());
    t.keys(&["Down"]);
    t.keys(&["BSpace"; 40]);
    t.type_text(&lab.key_path().display().to_string());
    t.keys(&["Enter"]);

    // Discover: the range typed; every new key accepted (and pinned), the hosts scanned again.
    t.wait_for("2/9 Discover");
    let first = &lab.hosts()[0].address;
    let last = &lab.hosts()[2].address;
    t.type_text(&format!("{first}-{last}"));
    t.keys(&["Enter"]);
    let s = t.wait_for_within("new key", Duration::from_secs(120));
    assert!(s.contains(first.as_str()), "{s}");
    t.wait_for_within("3 answered", Duration::from_secs(120));
    t.keys(&["a"]);
    t.wait_for_within("3 accepted", Duration::from_secs(180));
    t.keys(&["Enter"]);

    // Hosts: the lab's 2 CPUs pass with warnings.
    let s = t.wait_for("3/9 Hosts");
    for h in ["node1", "node2", "node3"] {
        assert!(s.contains(h), "{s}");
    }
    t.keys(&["Enter"]);
    // Roles: node1 control plane + etcd + worker, the others workers (the suggestion).
    let s = t.wait_for("4/9 Roles");
    assert!(s.contains("etcd members      1"), "{s}");
    t.keys(&["Enter"]);

    // Storage: node2 per-disk XFS under /srv/disks; node3 a single ext4 at /mnt/data. No
    // relocation (the lab's /var/lib is this machine's).
    t.wait_for("5/9 Storage");
    t.keys(&["Tab", "Space", "Down", "Space"]);
    t.keys(&["l"; 5]);
    t.keys(&["f", "r", "m"]);
    t.keys(&["BSpace"; 12]);
    t.type_text("/srv/disks");
    t.keys(&["Enter", "a"]);
    t.wait_for("per-disk");
    t.keys(&["Tab", "Space", "l", "f", "m"]);
    t.keys(&["BSpace"; 12]);
    t.type_text("/mnt/data");
    t.keys(&["Enter", "a"]);
    t.wait_for("/mnt/data");
    t.keys(&["Enter"]);

    // Network: one MetalLB pool.
    t.wait_for("6/9 Network");
    t.keys(&["Down"]);
    t.type_text("10.10.0.240/28");
    t.keys(&["Enter"]);

    // Review: save the plan next to where rackstrap was started.
    t.wait_for("7/9 Review");
    t.keys(&["s"]);
    t.wait_for("Save the plan to:");
    t.keys(&["Enter"]);
    t.wait_for("saved: cluster.yaml");
    t.keys(&["Enter"]);

    // Provision: every stage; each host whose disks are formatted is named first.
    t.wait_for("8/9 Provision");
    t.keys(&["Enter"]);
    for host in ["node2", "node3"] {
        t.wait_for(&format!("Type the host name ({host})"));
        t.run(host);
    }
    let s = t.wait_for_within("every stage finished", Duration::from_secs(150));
    assert!(!s.contains('✗'), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("9/9 Done");
    t.keys(&["q", "y"]);
    t.wait_for("rackstrap-exit=0");

    // What the run left on the hosts.
    let node2 = lab.host("node2");
    for d in &node2.disks {
        let fs = lab.exec_ok(
            "node2",
            &format!("blkid -o value -s TYPE {}", d.device.display()),
        );
        assert_eq!(fs.trim(), "xfs", "{}", d.name);
        let uuid = lab.exec_ok(
            "node2",
            &format!("blkid -o value -s UUID {}", d.device.display()),
        );
        let fstab = lab.exec_ok("node2", "cat /etc/fstab");
        let want = format!("UUID={} /srv/disks/{} xfs", uuid.trim(), d.name);
        assert!(has_entry(&fstab, &want), "{want}: {fstab}");
    }
    let d = &lab.host("node3").disks[0];
    let fs = lab.exec_ok(
        "node3",
        &format!("blkid -o value -s TYPE {}", d.device.display()),
    );
    assert_eq!(fs.trim(), "ext4");
    let uuid = lab.exec_ok(
        "node3",
        &format!("blkid -o value -s UUID {}", d.device.display()),
    );
    let fstab = lab.exec_ok("node3", "cat /etc/fstab");
    let want = format!("UUID={} /mnt/data ext4", uuid.trim());
    assert!(has_entry(&fstab, &want), "{want}: {fstab}");
    for h in ["node2", "node3"] {
        let fstab = lab.exec_ok(h, "cat /etc/fstab");
        assert!(
            fstab
                .lines()
                .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
                .all(|l| l.starts_with("UUID=")),
            "{h}: entries by UUID only: {fstab}"
        );
    }
    assert_eq!(
        host_state(&lab, "node1"),
        node1_before,
        "node1 has no storage"
    );
    assert_eq!(
        std::fs::read_to_string("/etc/fstab").unwrap_or_default(),
        machine_fstab,
        "this machine's fstab is untouched"
    );
    let unnamed_after: Vec<String> = unnamed.iter().map(|d| sha256(&d.device)).collect();
    assert_eq!(
        unnamed_after, unnamed_before,
        "disks the plan does not name"
    );
    assert_eq!(
        lab.exec_ok("node1", "cat /etc/rackstrap-fixture-done"),
        "node1\n",
        "Kubespray's playbook ran"
    );
    assert_eq!(lab.exec_ok("node1", "cat /etc/fake-k8s/pools"), "default\n");

    // The saved plan is the expected file (addresses, port and key of this lab filled in).
    let plan_path = work.join("cluster.yaml");
    let saved = std::fs::read_to_string(&plan_path).expect("saved plan");
    let mut expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/wizard/live-lab.yaml"),
    )
    .expect("expected plan");
    for (i, h) in lab.hosts().iter().enumerate() {
        expected = expected.replace(&format!("{{ADDRESS{}}}", i + 1), &h.address);
        for (k, d) in h.disks.iter().enumerate() {
            expected = expected.replace(&format!("{{DISK{}{}}}", i + 1, k + 1), &d.name);
        }
    }
    let expected = expected.replace("{KEY}", &lab.key_path().display().to_string());
    assert_eq!(saved, expected);

    // `rackstrap status`: every stage done.
    let st = Command::new(bin)
        .arg("status")
        .arg(&plan_path)
        .output()
        .expect("status");
    let table = String::from_utf8_lossy(&st.stdout);
    assert!(st.status.success(), "{table}");
    for line in table
        .lines()
        .skip_while(|l| !l.starts_with("stage"))
        .skip(1)
    {
        if line.trim().is_empty() {
            break;
        }
        assert!(
            !line.contains("pending") && !line.contains("failed"),
            "{table}"
        );
    }

    // Reopened with --plan: Review, saved, nothing to fix.
    let before: Vec<String> = ["node1", "node2", "node3"]
        .iter()
        .map(|h| host_state(&lab, h))
        .collect();
    t.run(&format!(
        "clear; {env} {bin} --plan cluster.yaml; echo reopen-exit=$?"
    ));
    // It opens on what changed since the plan was saved (the disks are laid out now).
    t.wait_for("Drift: what changed since the plan was saved");
    let s = t.wait_for_within("as planned", Duration::from_secs(60));
    assert!(s.contains("node1") && s.contains("node3"), "{s}");
    t.keys(&["c"]);
    let s = t.wait_for("7/9 Review");
    assert!(s.contains("saved: cluster.yaml"), "{s}");
    assert!(!s.contains("W_CANNOT_RUN_HERE"), "{s}");
    t.keys(&["q", "y"]);
    t.wait_for("reopen-exit=0");

    // Applied headless: nothing left to do, nothing changed.
    let out = Command::new(bin)
        .arg("apply")
        .arg(&plan_path)
        .arg("--known-hosts")
        .arg(config.join("rackstrap/known_hosts"))
        .arg("--yes")
        .env("HOME", &home)
        .env(
            "PATH",
            format!("{ansible}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .expect("apply");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in text.lines().filter(|l| l.contains(" done")) {
        assert!(
            line.contains("done in an earlier run") || line.contains("nothing to do"),
            "{line}\n{text}"
        );
    }
    let after: Vec<String> = ["node1", "node2", "node3"]
        .iter()
        .map(|h| host_state(&lab, h))
        .collect();
    assert_eq!(after, before);
    assert_eq!(std::fs::read_to_string(&plan_path).expect("plan"), saved);
    let unnamed_after: Vec<String> = unnamed.iter().map(|d| sha256(&d.device)).collect();
    assert_eq!(unnamed_after, unnamed_before);
}
