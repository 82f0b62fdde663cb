//! The dry-run listing of the Akash example plan: the exact commands each stage would run
//! on each host, pinned against the Akash guide "Kubernetes Cluster for Akash Providers"
//! (STEP 7 storage, STEP 8 ansible-playbook, STEP 9 sysctl and the cluster checks) and its
//! "IP Leases - Provider Enablement" page (MetalLB); docs/sources.md says where to read them.
//! No host is touched.

use std::path::Path;

use pretty_assertions::assert_eq;
use rackstrap::facts::{BlockDevice, Facts, HostFacts};
use rackstrap::provision::{DryRunStep, StageId, dry_run};

fn akash() -> rackstrap::plan::Plan {
    rackstrap::plan::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/akash.yaml"))
        .expect("example plan")
}

fn nvme(name: &str) -> BlockDevice {
    BlockDevice {
        name: name.into(),
        kind: "disk".into(),
        size_bytes: 1_600_000_000_000,
        rotational: false,
        transport: Some("nvme".into()),
        ..Default::default()
    }
}

fn listing<'a>(all: &'a [DryRunStep], stage: StageId, host: &str) -> &'a [String] {
    all.iter()
        .find(|s| s.stage == stage && s.host == host)
        .unwrap_or_else(|| panic!("no {stage} listing for {host}"))
        .commands
        .as_ref()
        .unwrap_or_else(|e| panic!("{stage} {host}: {e}"))
}

#[test]
fn akash_storage_is_the_akash_guides_step_7() {
    let plan = akash();
    let mut facts = Facts::new();
    facts.insert(
        "node1".into(),
        HostFacts {
            disks: vec![nvme("nvme0n1"), nvme("nvme1n1")],
            ..Default::default()
        },
    );
    let all = dry_run(&plan, Some(&facts));
    let fstab = |opts: &str| {
        format!(
            "uuid=\"$(blkid /dev/md0 -s UUID -o value)\" && [ -n \"$uuid\" ] && held=\"$(awk -v m=/data '$1 !~ /^#/ {{ p = $2; sub(/\\/+$/, \"\", p); if (p == m) {{ print $1; exit }} }}' /etc/fstab)\" && if [ -z \"$held\" ]; then printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /data ext4 {opts} >> /etc/fstab; elif [ \"$held\" != \"UUID=$uuid\" ]; then echo \"/etc/fstab already mounts $held at \"/data >&2; false; fi"
        )
    };
    let expected = |opts: &str| {
        vec![
            "mdadm --create /dev/md0 --level=raid0 --metadata=1.2 --raid-devices=2 /dev/nvme0n1 /dev/nvme1n1".to_string(),
            "mkfs.ext4 -L rackstrap /dev/md0".into(),
            "cp -p /etc/fstab /etc/fstab.1".into(),
            fstab(opts),
            "mkdir -p /data".into(),
            "mount /data".into(),
            "/usr/share/mdadm/mkconf > /etc/mdadm/mdadm.conf".into(),
            "update-initramfs -u -k all".into(),
            "mkdir -p /data/kubelet".into(),
            "mkdir -p /data/containerd".into(),
        ]
    };
    // Facts say NVMe: discard on. No facts for node2: rotation unknown, discard stays off.
    assert_eq!(
        listing(&all, StageId::Storage, "node1"),
        expected("defaults,discard")
    );
    assert_eq!(
        listing(&all, StageId::Storage, "node2"),
        expected("defaults")
    );
}

#[test]
fn akash_host_prep_kubespray_verify_and_load_balancer() {
    let plan = akash();
    let all = dry_run(&plan, None);
    let prep = listing(&all, StageId::HostPrep, "node4");
    assert!(prep[0].starts_with("cat > /etc/sysctl.d/99-rackstrap.conf <<'RACKSTRAP_EOF'\n"));
    assert!(prep[0].contains("\nfs.inotify.max_user_instances = 512\nfs.inotify.max_user_watches = 1048576\nvm.max_map_count = 1000000\n"));
    assert_eq!(
        &prep[1..],
        [
            "sysctl -p /etc/sysctl.d/99-rackstrap.conf",
            "apt-get update",
            "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mdadm e2fsprogs python3",
        ]
    );

    let ks = listing(&all, StageId::Kubespray, "local");
    assert_eq!(ks[0], "cd ~/kubespray");
    if !Path::new(&std::env::var("HOME").unwrap_or_default())
        .join("kubespray/inventory/akash")
        .exists()
    {
        assert_eq!(ks[1], "cp -rfp inventory/sample inventory/akash");
    }
    assert!(
        ks.iter()
            .any(|c| c.starts_with("cat > inventory/akash/hosts.yaml <<'RACKSTRAP_EOF'\n")),
        "{ks:#?}"
    );
    assert!(
        ks.iter()
            .any(|c| c == "mkdir -p inventory/akash/group_vars/k8s_cluster")
    );
    // rackstrap writes files of its own; the sample's, copied once, are never overwritten.
    assert!(ks.iter().any(|c| {
        c.starts_with("cat > inventory/akash/group_vars/k8s_cluster/zz-rackstrap.yml <<")
    }));
    assert!(
        !ks.iter()
            .any(|c| c.contains("k8s-cluster.yml") || c.contains("group_vars/all/all.yml")),
        "{ks:#?}"
    );
    assert!(
        !ks.iter().any(|c| c.contains("extras/")),
        "extras stay out of the tree"
    );
    // Ansible checks host keys against the pins only; the plan-only listing names the file.
    assert_eq!(
        ks[ks.len() - 3],
        "# write the host keys pinned for the plan's hosts to inventory/akash/.known_hosts"
    );
    // Kubespray's own inventory checks, connection local, before cluster.yml.
    assert_eq!(
        ks[ks.len() - 2],
        "ansible-playbook -i inventory/akash/hosts.yaml playbooks/boilerplate.yml -e ansible_connection=local"
    );
    assert_eq!(
        ks.last().map(String::as_str),
        Some(
            "ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS='-o ControlMaster=auto -o ControlPersist=30m -o UserKnownHostsFile=~/kubespray/inventory/akash/.known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes' ansible-playbook -i inventory/akash/hosts.yaml -b -v --private-key=~/.ssh/id_rsa cluster.yml"
        )
    );

    assert_eq!(
        listing(&all, StageId::Verify, "node1"),
        [
            "kubectl get nodes --no-headers",
            "kubectl get pods -n kube-system --no-headers",
            "kubectl -n kube-system get cm coredns -o yaml",
            "export $(grep -v '^#' /etc/etcd.env | xargs -d '\\n') && etcdctl endpoint health --cluster",
        ]
    );
    let lb = listing(&all, StageId::LoadBalancer, "node1");
    assert!(lb[0].starts_with("kubectl apply -f - <<'RACKSTRAP_EOF'\n"));
    assert!(
        lb[0].contains("kind: IPAddressPool") && lb[0].contains("- 194.28.98.219-194.28.98.222")
    );
    assert_eq!(
        &lb[1..],
        [
            "kubectl get configmap kube-proxy -n kube-system -o yaml | sed -e \"s/strictARP: false/strictARP: true/\" | kubectl apply -f - -n kube-system",
            "kubectl -n metallb-system expose deployment controller --overrides='{\"spec\":{\"ports\":[{\"protocol\":\"TCP\",\"name\":\"monitoring\",\"port\":7472}]}}'",
        ]
    );
    // Verify and load balancer run on the first control plane only; Kubespray once.
    assert!(
        !all.iter()
            .any(|s| s.stage == StageId::Verify && s.host != "node1")
    );
    assert_eq!(
        all.iter().filter(|s| s.stage == StageId::Kubespray).count(),
        1
    );
    // Every host gets preflight, host prep and storage.
    for h in ["node1", "node2", "node3", "node4"] {
        for st in [StageId::Preflight, StageId::HostPrep, StageId::Storage] {
            listing(&all, st, h);
        }
    }
}

/// With facts from discovery (its `packages` probe, the same as the stage's check), host
/// prep lists `apt-get` only for what is missing, and nothing when all is present.
#[test]
fn host_prep_installs_only_what_the_facts_say_is_missing() {
    let plan = akash();
    let with_packages = |present: &[&str]| {
        let mut facts = Facts::new();
        let mut f = HostFacts::default();
        f.installed.packages = Some(present.iter().map(|p| p.to_string()).collect());
        facts.insert("node4".into(), f);
        facts
    };
    let prep = |facts: &Facts| {
        listing(&dry_run(&plan, Some(facts)), StageId::HostPrep, "node4")
            .iter()
            .filter(|c| !c.contains("sysctl"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        prep(&with_packages(&["e2fsprogs", "python3"])),
        [
            "apt-get update",
            "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mdadm",
        ]
    );
    assert_eq!(
        prep(&with_packages(&["mdadm", "e2fsprogs", "python3"])),
        Vec::<String>::new()
    );
}

#[test]
fn a_refusal_shows_in_the_listing_instead_of_commands() {
    let plan = akash();
    let mut facts = Facts::new();
    let mut used = nvme("nvme1n1");
    used.fstype = Some("xfs".into());
    facts.insert(
        "node3".into(),
        HostFacts {
            disks: vec![nvme("nvme0n1"), used],
            ..Default::default()
        },
    );
    let all = dry_run(&plan, Some(&facts));
    let step = all
        .iter()
        .find(|s| s.stage == StageId::Storage && s.host == "node3")
        .expect("node3 storage");
    assert_eq!(
        step.commands,
        Err("refused: /dev/nvme1n1 holds a xfs signature; set `wipe: true` on this layout to destroy it".into())
    );
}

#[test]
fn apply_names_a_bad_selection_and_status_works_before_any_run() {
    let plan = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/akash.yaml");
    let bin = env!("CARGO_BIN_EXE_rackstrap");
    let out = std::process::Command::new(bin)
        .args(["apply"])
        .arg(&plan)
        .args(["--host", "node9"])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rackstrap: --host node9: the plan has no such host (hosts: node1, node2, node3, node4)\n"
    );
    let out = std::process::Command::new(bin)
        .args(["apply"])
        .arg(&plan)
        .args(["--stage", "mkfs"])
        .output()
        .expect("apply");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stage mkfs: no such stage (stages: preflight, host-prep, storage, kubespray, verify, load-balancer)"));

    // status on a copy of the plan in a fresh directory: no state yet, every step pending.
    let dir = tempfile::tempdir().expect("tmp");
    let copy = dir.path().join("akash.yaml");
    std::fs::copy(&plan, &copy).expect("copy plan");
    let out = std::process::Command::new(bin)
        .arg("status")
        .arg(&copy)
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("no run yet ("), "{text}");
    assert!(
        text.contains("\nstage          node1    node2    node3    node4\n"),
        "{text}"
    );
    assert!(
        text.contains("\nstorage        pending  pending  pending  pending\n"),
        "{text}"
    );
}

/// A laptop without a Kubespray tree (and hosts it cannot reach): `apply --dry-run` still
/// lists every stage, Kubespray's commands with a warning about the missing tree, verify and
/// load balancer after it, and exits 0. The hosts are loopback addresses on a port where
/// nothing listens.
#[test]
fn apply_dry_run_without_a_kubespray_tree_lists_every_stage() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("no-kubespray");
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\ncluster: {{name: laptop, kubespray: {{path: {}}}}}\n\
             access: {{user: root, port: 1, identity: {}}}\nhosts:\n\
             \x20 - {{name: node1, address: 127.0.0.253, roles: [control_plane, etcd, worker]}}\n\
             \x20 - {{name: node2, address: 127.0.0.252, roles: [worker]}}\n\
             network:\n  load_balancer:\n    pools:\n      - {{name: default, addresses: [127.0.0.228/30]}}\n",
            missing.display(),
            dir.path().join("id").display()
        ),
    )
    .expect("plan");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("apply")
        .arg(&plan)
        .arg("--dry-run")
        .arg("--known-hosts")
        .arg(dir.path().join("known_hosts"))
        .output()
        .expect("apply");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    for line in [
        format!(
            "ansible kubespray warning: {} is not a Kubespray tree",
            missing.display()
        ),
        "ansible kubespray warning: no pinned host key for node2 ([127.0.0.252]:1)".into(),
        format!("ansible kubespray would run: cd {}", missing.display()),
        "ansible kubespray would run: cp -rfp inventory/sample inventory/laptop".into(),
        "node1 kubespray skipped: dry run".into(),
        "node1 verify would run: kubectl get nodes --no-headers".into(),
        "node1 verify skipped: dry run: 4 command(s)".into(),
        "node1 load-balancer skipped: dry run: 2 command(s)".into(),
        "dry run: nothing was changed".into(),
    ] {
        assert!(text.contains(&line), "missing `{line}` in:\n{text}");
    }
    assert!(
        text.lines().any(|l| l
            .starts_with("ansible kubespray would run: ANSIBLE_HOST_KEY_CHECKING=True ")
            && l.contains("StrictHostKeyChecking=yes")),
        "{text}"
    );
    assert!(!text.contains("failed"), "{text}");
    assert!(!missing.exists(), "the dry run made the tree");
    assert!(
        !dir.path().join(".rackstrap").exists(),
        "the dry run kept state"
    );
}
