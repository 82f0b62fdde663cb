//! Recovery against the lab, through the built binary: `rackstrap drift` on a prepared lab
//! (golden text and JSON), a reinstalled host that nothing runs on until its new key is
//! confirmed, `rackstrap node add|remove|replace` running real ansible-core with fixture
//! playbooks named like Kubespray's that record the limits and extra vars they received, and
//! `rackstrap node relay` laying one host's disks out again on real loop devices. The
//! cluster's answers come from a fake `kubectl` / `etcdctl` on the first control plane.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fs::{copy_tree, require_ansible};
use common::lab::{DiskSpec, HostSpec, LAB_PORT, Lab};
use rackstrap::provision::event::{StageId, StepState};
use rackstrap::provision::state::RunState;

const MIB: u64 = 1 << 20;

const FAKE_KUBECTL: &str =
    "#!/bin/sh\n[ \"$*\" = 'get nodes -o json' ] || exit 3\ncat /etc/fake-k8s/nodes.json\n";
const FAKE_ETCDCTL: &str = "#!/bin/sh\n[ -n \"$ETCDCTL_ENDPOINTS\" ] || { echo 'etcd.env not loaded' >&2; exit 4; }\n\
case \"$1\" in member) cat /etc/fake-k8s/members ;; endpoint) cat /etc/fake-k8s/health ;; *) exit 3 ;; esac\n";

/// Every host gets its own `/var/lib` (the lab shares the machine's); `installed` hosts get
/// what a Kubespray install leaves there and in `/etc`.
fn install(lab: &Lab, host: &str, installed: bool, etcd: bool) {
    let mut s =
        String::from("mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/kubelet /var/lib/etcd");
    if installed {
        s.push_str(" && touch /var/lib/kubelet/config.yaml");
        if etcd {
            s.push_str(
                " && printf 'ETCDCTL_ENDPOINTS=https://127.0.0.1:2379\\n' > /etc/etcd.env \
                 && mkdir -p /var/lib/etcd/member",
            );
        }
    }
    lab.exec_ok(host, &s);
}

/// The fake cluster on `host`: nodes as (name, Ready), members as (name, healthy).
fn fake_cluster(lab: &Lab, host: &str, nodes: &[(&str, bool)], members: &[(&str, bool)]) {
    let items: Vec<String> = nodes
        .iter()
        .map(|(n, ready)| {
            format!(
                r#"{{"metadata":{{"name":"{n}"}},"status":{{"addresses":[{{"type":"InternalIP","address":"{}"}}],"conditions":[{{"type":"Ready","status":"{}"}}]}}}}"#,
                lab.host(n).address,
                if *ready { "True" } else { "Unknown" }
            )
        })
        .collect();
    let list: String = members
        .iter()
        .enumerate()
        .map(|(i, (n, _))| {
            let a = &lab.host(n).address;
            format!("{i:016x}, started, {n}, https://{a}:2380, https://{a}:2379, false\n")
        })
        .collect();
    let health: String = members
        .iter()
        .map(|(n, ok)| {
            let a = &lab.host(n).address;
            if *ok {
                format!("https://{a}:2379 is healthy: successfully committed proposal: took = 2ms\n")
            } else {
                format!("https://{a}:2379 is unhealthy: failed to commit proposal: context deadline exceeded\n")
            }
        })
        .collect();
    let setup = format!(
        "(mountpoint -q /usr/local/bin || mount -t tmpfs tmpfs /usr/local/bin) && mkdir -p /etc/fake-k8s \
         && cat > /usr/local/bin/kubectl <<'EOF'\n{FAKE_KUBECTL}EOF\n\
         cat > /usr/local/bin/etcdctl <<'EOF'\n{FAKE_ETCDCTL}EOF\n\
         chmod +x /usr/local/bin/kubectl /usr/local/bin/etcdctl \
         && cat > /etc/fake-k8s/nodes.json <<'EOF'\n{{\"items\":[{}]}}\nEOF\n\
         cat > /etc/fake-k8s/members <<'EOF'\n{list}EOF\n\
         cat > /etc/fake-k8s/health <<'EOF'\n{health}EOF\n",
        items.join(",")
    );
    lab.exec_ok(host, &setup);
}

/// Writes a plan for the lab's hosts (`(name, yaml after address)`) to `dir/lab.yaml`.
fn write_plan(
    lab: &Lab,
    dir: &Path,
    tree: &Path,
    version: &str,
    hosts: &[(&str, String)],
) -> PathBuf {
    let mut y = format!(
        "version: 1\ncluster: {{name: lab, kubespray: {{path: {}, version: {version}}}}}\n\
         access: {{user: root, port: {LAB_PORT}, identity: {}}}\nhosts:\n",
        tree.display(),
        lab.key_path().display()
    );
    for (name, rest) in hosts {
        y.push_str(&format!(
            "  - name: {name}\n    address: {}\n{rest}",
            lab.host(name).address
        ));
    }
    let path = dir.join("lab.yaml");
    std::fs::write(&path, y).expect("plan");
    path
}

fn rackstrap(args: &[&str], known: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .args(args)
        .arg("--known-hosts")
        .arg(known)
        .env("HOME", known.parent().expect("dir"))
        .output()
        .expect("run rackstrap")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Pins every lab host's key as the operator's first discovery does.
fn pin_all(lab: &Lab, known: &Path) {
    let addrs: Vec<String> = lab.hosts().iter().map(|h| h.address.clone()).collect();
    let mut args = vec![
        "discover".to_string(),
        "--port".into(),
        LAB_PORT.to_string(),
    ];
    args.push("--identity".into());
    args.push(lab.key_path().display().to_string());
    args.push("--accept-new".into());
    args.extend(addrs);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = rackstrap(&refs, known);
    assert!(o.status.success(), "{}", text(&o));
}

/// Lab addresses and fingerprints vary per run: names for them.
fn normalise(lab: &Lab, s: &str) -> String {
    let mut out = s.to_string();
    for h in lab.hosts() {
        out = out.replace(&h.address, &format!("<{}>", h.name));
    }
    let re_fp = |t: &str| -> String {
        let mut r = String::new();
        let mut rest = t;
        while let Some(i) = rest.find("SHA256:") {
            r.push_str(&rest[..i]);
            r.push_str("SHA256:<fp>");
            let tail = &rest[i + 7..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
                .unwrap_or(tail.len());
            rest = &tail[end..];
        }
        r.push_str(rest);
        r
    };
    re_fp(&out)
}

fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/recovery")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(got, want, "{} differs", path.display());
}

/// One host down, one reinstalled with a new host key and a fresh `/etc`, one with its
/// planned layout already on its disks: the report, text and JSON, is golden. The rekeyed
/// host is "host key changed, reinstalled" and nothing runs on it until its new key is
/// confirmed by name; then it is re-pinned and shows as a blank reinstall.
#[test]
fn drift_of_a_prepared_lab_matches_golden_files_and_a_rekeyed_host_waits_for_its_name() {
    require_lab!();
    let mut lab = Lab::start(vec![
        HostSpec::new("node1"),
        HostSpec::new("node2"),
        HostSpec::new("node3"),
        HostSpec::new("node4").disk_spec(DiskSpec::mounted(64 * MIB, "ext4", "/mnt/data")),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let known = tmp.path().join("known_hosts");
    let data_disk = lab.host("node4").disks[0].name.clone();
    let plan = write_plan(
        &lab,
        tmp.path(),
        &tmp.path().join("kubespray"),
        "v2.31.0",
        &[
            ("node1", "    roles: [control_plane, etcd, worker]\n".into()),
            ("node2", "    roles: [worker]\n".into()),
            ("node3", "    roles: [worker]\n".into()),
            (
                "node4",
                format!(
                    "    roles: [worker]\n    storage:\n      - {{level: single, devices: [{data_disk}], mount: /mnt/data}}\n"
                ),
            ),
        ],
    );
    for (h, etcd) in [
        ("node1", true),
        ("node2", false),
        ("node3", false),
        ("node4", false),
    ] {
        install(&lab, h, true, etcd);
    }
    fake_cluster(
        &lab,
        "node1",
        &[
            ("node1", true),
            ("node2", false),
            ("node3", false),
            ("node4", true),
        ],
        &[("node1", true)],
    );
    pin_all(&lab, &known);
    let plan_s = plan.to_str().expect("utf-8");

    // node2 goes down; node3 is reinstalled: fresh /etc and /var/lib, a new host key.
    lab.kill("node2");
    lab.exec_ok(
        "node3",
        "rm -rf /var/lib/kubelet /var/lib/etcd /etc/etcd.env",
    );
    lab.restart_with_new_key("node3");

    let o = rackstrap(&["drift", plan_s], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let report = normalise(&lab, &String::from_utf8_lossy(&o.stdout)).replace(plan_s, "lab.yaml");
    assert!(
        report.contains("node3 (<node3>, worker): host key changed, reinstalled, NotReady"),
        "{report}"
    );
    golden("drift.txt", &report);
    let o = rackstrap(&["drift", plan_s, "--json"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let json = normalise(&lab, &String::from_utf8_lossy(&o.stdout)).replace(plan_s, "lab.yaml");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["hosts"][2]["states"][0]["state"], "host_key_changed");
    golden("drift.json", &json);

    // Nothing runs on node3 until its key is confirmed.
    let before = std::fs::read_to_string(&known).expect("pins");
    let o = rackstrap(&["node", "replace", plan_s, "node3", "--yes"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("node3's host key changed: confirm the new key first"),
        "{}",
        text(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&known).expect("pins"),
        before,
        "pins changed"
    );
    // Naming another host does not accept node3's key.
    let o = rackstrap(&["drift", plan_s, "--accept-new-key", "node1"], &known);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("node1 offers no new key"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&known).expect("pins"), before);

    // Confirmed by name: re-pinned, and now it shows as what it is, a blank reinstall.
    let o = rackstrap(&["drift", plan_s, "--accept-new-key", "node3"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = normalise(&lab, &text(&o));
    assert!(out.contains("node3: pinned SHA256:<fp>"), "{out}");
    assert!(
        out.contains("node3 (<node3>, worker): reinstalled, NotReady"),
        "{out}"
    );
    assert!(
        out.contains("reinstalled: no /var/lib/kubelet/config.yaml, no /etc/etcd.env, empty /var/lib/etcd, while its Node (NotReady) still exists"),
        "{out}"
    );
    let pins = std::fs::read_to_string(&known).expect("pins");
    let new_key = lab.host("node3").host_public_key();
    assert!(
        pins.contains(new_key.split_whitespace().nth(1).expect("key")),
        "{pins}"
    );
}

/// The runner path of each action: real ansible-playbook over the lab hosts with the pinned
/// keys, fixture playbooks recording what they got. The plan changes only when the action
/// succeeds.
#[test]
fn node_actions_run_the_playbooks_with_their_limits_and_extra_vars() {
    require_lab!();
    require_ansible();
    let mut lab = Lab::start(vec![
        HostSpec::new("node1"),
        HostSpec::new("node2"),
        HostSpec::new("node3"),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let known = tmp.path().join("known_hosts");
    let tree = tmp.path().join("kubespray");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/kubespray-recovery"),
        &tree,
    );
    let plan = write_plan(
        &lab,
        tmp.path(),
        &tree,
        "v2.24.1",
        &[
            ("node1", "    roles: [control_plane, etcd, worker]\n".into()),
            ("node2", "    roles: [worker]\n".into()),
            ("node3", "    roles: [worker]\n".into()),
        ],
    );
    let plan_s = plan.to_str().expect("utf-8");
    install(&lab, "node1", true, true);
    install(&lab, "node2", true, false);
    install(&lab, "node3", false, false);
    fake_cluster(
        &lab,
        "node1",
        &[("node1", true), ("node2", true)],
        &[("node1", true)],
    );
    pin_all(&lab, &known);
    // The most careless umask, for the inventory directories `node add` makes. Set after the
    // fixture tree is copied (Ansible ignores the ansible.cfg of a world-writable directory);
    // nextest runs each test in a process of its own, so no other test sees it.
    // SAFETY: umask(2) cannot fail and touches no memory.
    unsafe { libc::umask(0) };
    let record = || std::fs::read_to_string(tree.join("record.log")).unwrap_or_default();

    // The dry run shows everything and runs nothing.
    let o = rackstrap(&["node", "add", plan_s, "node3", "--dry-run"], &known);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("scale.yml --limit=node3"), "{}", text(&o));
    assert_eq!(record(), "");

    // Add a worker: facts for every host, then scale.yml limited to it. The plan's text
    // stays as written, with the etcd member name the action records added to its member.
    let written = std::fs::read_to_string(&plan).expect("plan");
    let o = rackstrap(&["node", "add", plan_s, "node3"], &known);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&plan).expect("plan"),
        written.replace(
            "    roles: [control_plane, etcd, worker]\n",
            "    roles: [control_plane, etcd, worker]\n    etcd_member_name: etcd1\n"
        ),
        "{}",
        text(&o)
    );
    let lines: Vec<String> = record().lines().map(|l| normalise(&lab, l)).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("playbooks/facts.yml limit=- "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("scale.yml limit=node3 "),
        "{}",
        lines[1]
    );
    // The inventory holds the pins Ansible checks host keys against: its directory is the
    // owner's alone, the ones below it are 0755, whatever the umask.
    assert_eq!(mode(&tree.join("inventory/lab")), 0o700);
    assert_eq!(mode(&tree.join("inventory/lab/group_vars")), 0o755);
    assert_eq!(mode(&tree.join("inventory/lab/group_vars/all")), 0o755);
    let cache = tree.join("inventory/lab/.facts");
    for h in ["node1", "node2", "node3"] {
        assert!(
            cache.join(h).is_file(),
            "no cached facts for {h} in {}",
            cache.display()
        );
    }
    // Recorded as `apply` records its stages: in state.yaml (shown by `rackstrap status`),
    // Ansible's output and the node's own log under logs/<run>/.
    let state_path = tmp.path().join(".rackstrap/lab/state.yaml");
    let st = RunState::load(&state_path).expect("state.yaml");
    let added = st.actions.last().expect("the action is recorded");
    assert_eq!(
        (added.action.as_str(), added.node.as_str(), added.state),
        ("add", "node3", StepState::Done)
    );
    assert_eq!(st.last_run.as_deref(), Some(added.run.as_str()));
    let step = st
        .get(StageId::Kubespray, "node3")
        .expect("node3's kubespray step");
    assert_eq!(step.state, StepState::Done);
    let ansible_log = step.log.clone().expect("a log");
    assert!(
        std::fs::read_to_string(&ansible_log)
            .expect("ansible.log")
            .contains("scale.yml"),
        "{}",
        ansible_log.display()
    );
    let node_log = ansible_log.with_file_name("node3.log");
    let node_log = std::fs::read_to_string(&node_log).expect("node3.log");
    assert!(node_log.contains("node add node3: done"), "{node_log}");
    let o = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .args(["status", plan_s])
        .output()
        .expect("status");
    assert!(text(&o).contains("node add node3: done"), "{}", text(&o));

    // Remove a worker that fails mid-way: exit 1, the plan unchanged.
    std::fs::write(tree.join("record.log"), "").expect("reset record");
    let plan_before = std::fs::read_to_string(&plan).expect("plan");
    lab.exec_ok(
        "node2",
        "mkdir -p /var/lib && touch /etc/rackstrap-fixture-fail",
    );
    std::fs::write(
        tree.join("remove-node.yml"),
        std::fs::read_to_string(tree.join("remove-node.yml")).expect("fixture")
            + "    - name: Refuse a marked host\n      ansible.builtin.command: test ! -e /etc/rackstrap-fixture-fail\n      when: inventory_hostname != node or (reset_nodes | default(true) | bool)\n",
    )
    .expect("fixture");
    let o = rackstrap(&["node", "remove", plan_s, "node2", "--yes"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the plan was not changed"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_to_string(&plan).expect("plan"), plan_before);
    let st = RunState::load(&state_path).expect("state.yaml");
    let failed = st.actions.last().expect("the action is recorded");
    assert_eq!(
        (failed.action.as_str(), failed.state),
        ("remove", StepState::Failed)
    );
    assert!(failed.message.starts_with("step 1"), "{}", failed.message);
    assert_eq!(
        st.state_of(StageId::Kubespray, "node2"),
        StepState::Failed,
        "the failed removal shows on node2's kubespray step"
    );

    // Healthy removal: JSON booleans, reset on; the plan loses node2 and keeps the
    // operator's comments.
    lab.exec_ok("node2", "rm /etc/rackstrap-fixture-fail");
    let commented = format!(
        "# rack 4, do not edit by hand\n{}",
        std::fs::read_to_string(&plan)
            .expect("plan")
            .replace("  - name: node3\n", "  # the spare\n  - name: node3\n")
    );
    std::fs::write(&plan, &commented).expect("plan");
    std::fs::write(tree.join("record.log"), "").expect("reset record");
    let o = rackstrap(&["node", "remove", plan_s, "node2", "--yes"], &known);
    assert!(o.status.success(), "{}", text(&o));
    let lines = record();
    assert!(
        lines.starts_with(
            "remove-node.yml limit=- node=node2:str reset_nodes=True:bool \
             allow_ungraceful_removal=False:bool skip_confirmation=True:bool "
        ),
        "{lines}"
    );
    let saved = std::fs::read_to_string(&plan).expect("plan");
    assert!(!saved.contains("node2"), "{saved}");
    assert!(
        saved.starts_with("# rack 4, do not edit by hand\n") && saved.contains("# the spare\n"),
        "{saved}"
    );
    assert!(!text(&o).contains("comments were not kept"), "{}", text(&o));
    let st = RunState::load(&state_path).expect("state.yaml");
    assert_eq!(st.actions.len(), 3);
    assert!(
        st.get(StageId::Kubespray, "node2").is_none(),
        "a removed node's steps leave with it"
    );

    // An unreachable worker: removed ungracefully, never contacted.
    lab.kill("node3");
    std::fs::write(tree.join("record.log"), "").expect("reset record");
    let o = rackstrap(&["node", "remove", plan_s, "node3", "--yes"], &known);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        record().starts_with(
            "remove-node.yml limit=- node=node3:str reset_nodes=False:bool \
             allow_ungraceful_removal=True:bool skip_confirmation=True:bool "
        ),
        "{}",
        record()
    );
    assert!(
        !std::fs::read_to_string(&plan)
            .expect("plan")
            .contains("node3")
    );

    // The last control plane is refused before anything runs.
    std::fs::write(tree.join("record.log"), "").expect("reset record");
    let o = rackstrap(&["node", "remove", plan_s, "node1", "--yes"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("node1 is the last control plane"),
        "{}",
        text(&o)
    );
    assert_eq!(record(), "");
}

/// etcd has lost quorum (two of three members unhealthy): replacing one runs
/// recover-control-plane.yml with both broken members copied into the broken groups, the
/// healthy member first, `etcd_retries` an integer; a weakening removal waits for `--yes`.
#[test]
fn replace_after_lost_quorum_recovers_the_control_plane() {
    require_lab!();
    require_ansible();
    let lab = Lab::start(vec![
        HostSpec::new("node1"),
        HostSpec::new("node2"),
        HostSpec::new("node3"),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let known = tmp.path().join("known_hosts");
    let tree = tmp.path().join("kubespray");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/kubespray-recovery"),
        &tree,
    );
    let roles = "    roles: [control_plane, etcd, worker]\n".to_string();
    let plan = write_plan(
        &lab,
        tmp.path(),
        &tree,
        "v2.30.0",
        &[
            ("node1", roles.clone()),
            ("node2", roles.clone()),
            ("node3", roles),
        ],
    );
    let plan_s = plan.to_str().expect("utf-8");
    for h in ["node1", "node2", "node3"] {
        install(&lab, h, true, true);
    }
    let all = [("node1", true), ("node2", true), ("node3", true)];
    fake_cluster(&lab, "node1", &all, &all);
    pin_all(&lab, &known);
    let record = || std::fs::read_to_string(tree.join("record.log")).unwrap_or_default();

    // Healthy: removing one of three weakens quorum and waits for --yes.
    let o = rackstrap(&["node", "remove", plan_s, "node3"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(
            "needs confirmation: removing node3 leaves 2 etcd members: quorum 2, no failure tolerated"
        ),
        "{}",
        text(&o)
    );
    assert_eq!(record(), "");

    fake_cluster(
        &lab,
        "node1",
        &all,
        &[("node1", true), ("node2", false), ("node3", false)],
    );
    let o = rackstrap(&["node", "replace", plan_s, "node2", "--yes"], &known);
    assert!(o.status.success(), "{}", text(&o));
    let rec = record();
    let lines: Vec<&str> = rec.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("playbooks/facts.yml limit=- "),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "recover-control-plane.yml limit=etcd,kube_control_plane etcd_retries=10:int \
         kube_control_plane=node1,node2,node3 broken_etcd=node2,node3 \
         broken_kube_control_plane=node2,node3"
    );
}

/// `node relay`: a host whose storage was done and whose disk then came back blank (a
/// reinstall) has its recorded storage step forgotten and the storage stage run again on it
/// only; the other host's disk and recorded step are untouched. A host still laid out is
/// refused.
#[test]
fn relay_runs_the_storage_stage_again_on_that_host_only() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("node1"),
        HostSpec::new("node2").disk(64 * MIB),
        HostSpec::new("node3").disk(64 * MIB),
    ]);
    let tmp = tempfile::tempdir().expect("tmp");
    let known = tmp.path().join("known_hosts");
    let storage = |h: &str| {
        format!(
            "    roles: [worker]\n    storage:\n      - {{level: single, devices: [{}], mount: /mnt/data}}\n",
            lab.host(h).disks[0].name
        )
    };
    let plan = write_plan(
        &lab,
        tmp.path(),
        &tmp.path().join("kubespray"),
        "v2.31.0",
        &[
            ("node1", "    roles: [control_plane, etcd, worker]\n".into()),
            ("node2", storage("node2")),
            ("node3", storage("node3")),
        ],
    );
    pin_all(&lab, &known);
    let plan_s = plan.to_str().expect("utf-8");
    let o = rackstrap(&["apply", plan_s, "--stage", "storage", "--yes"], &known);
    assert!(o.status.success(), "{}", text(&o));
    let state_path = tmp.path().join(".rackstrap/lab/state.yaml");
    let before = RunState::load(&state_path).expect("state");
    let node3_before = before
        .get(StageId::Storage, "node3")
        .expect("node3 storage")
        .clone();
    assert_eq!(node3_before.state, StepState::Done);

    // Laid out: nothing to re-lay.
    let o = rackstrap(&["node", "relay", plan_s, "node2", "--yes"], &known);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("already laid out"), "{}", text(&o));

    // node2 comes back blank: no mount, no fstab line, no filesystem.
    let disk = lab.host("node2").disks[0].name.clone();
    lab.exec_ok(
        "node2",
        &format!("umount /mnt/data && sed -i '\\|/mnt/data|d' /etc/fstab && wipefs -a /dev/{disk}"),
    );
    // `apply` alone skips it: its storage step is recorded as done.
    let o = rackstrap(&["apply", plan_s, "--stage", "storage", "--yes"], &known);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("$ mkfs"), "{}", text(&o));

    // A dry run lists the commands and forgets nothing.
    let o = rackstrap(&["node", "relay", plan_s, "node2", "--dry-run"], &known);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("mkfs.ext4"), "{}", text(&o));
    assert_eq!(
        RunState::load(&state_path)
            .expect("state")
            .get(StageId::Storage, "node2"),
        before.get(StageId::Storage, "node2")
    );
    let o = rackstrap(&["node", "relay", plan_s, "node2", "--yes"], &known);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("$ mkfs.ext4 -L rackstrap /dev/{disk}")),
        "{out}"
    );
    assert!(out.contains("node2 storage done"), "{out}");
    assert!(!out.contains("node3"), "{out}");
    let mounted = lab.exec_ok("node2", "findmnt -n -o SOURCE /mnt/data");
    assert!(mounted.contains(&disk), "{mounted}");
    let after = RunState::load(&state_path).expect("state");
    let node2 = after.get(StageId::Storage, "node2").expect("node2 storage");
    assert_eq!(node2.state, StepState::Done);
    assert_eq!(
        after.get(StageId::Storage, "node3"),
        Some(&node3_before),
        "node3 touched"
    );
}
