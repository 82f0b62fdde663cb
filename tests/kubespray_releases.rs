//! Against the real Kubespray releases: the release table, renders checked by each release
//! itself, the refusals, `rackstrap kubespray prepare`, and v2.31.0's facts playbook over real
//! SSH to lab hosts. Where the releases and their Ansible come from: tests/common/kubespray.rs.

#[allow(dead_code)]
mod common;

use common::kubespray::{archives, for_each_release, overlay, root, run, tree, venv};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rackstrap::kubespray::{self, RELEASES, Release, Tree, Version};
use rackstrap::plan::{self, Plan};
use rackstrap::render::{self, RenderedFile};

const EXAMPLES: [&str; 3] = ["akash", "homelab", "ais"];

macro_rules! require_archives {
    () => {
        match archives() {
            Some(a) => a,
            None => return,
        }
    };
}

fn example(name: &str, tag: &str, tree: &Path) -> Plan {
    let mut p = plan::load(&root().join(format!("assets/examples/{name}.yaml"))).expect("example");
    p.cluster.kubespray.version = tag.into();
    p.cluster.kubespray.path = tree.display().to_string();
    p
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `needle` in a line of `text`: the `[...]` list after it, items unquoted.
fn list_after(text: &str, needle: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}"));
    let rest = &line[line.find(needle).expect("needle") + needle.len()..];
    let inner = &rest[rest.find('[').expect("[") + 1..rest.find(']').expect("]")];
    inner
        .split(',')
        .map(|s| s.trim().trim_matches('\'').trim_matches('"').to_string())
        .collect()
}

fn yaml_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key}"))
        .split(" #")
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"')
        .to_string()
}

/// Every row of the release table says what its tree says, and every archive has a row.
#[test]
fn the_release_table_is_what_each_tree_says() {
    let archives = require_archives!();
    let mut tags: Vec<String> = std::fs::read_dir(&archives)
        .expect("archives")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            Some(
                name.strip_prefix("kubespray-")?
                    .strip_suffix(".tar.gz")?
                    .to_string(),
            )
        })
        .collect();
    tags.sort();
    let rows: Vec<&str> = RELEASES.iter().map(|r| r.tag).collect();
    assert_eq!(tags, rows, "one row per release archive");

    for r in RELEASES {
        let t = tree(&archives, r.tag);
        let tag = r.tag;
        assert_eq!(
            Tree::new(&t).version().expect("version"),
            r.version(),
            "{tag}: galaxy.yml"
        );
        let av = read(&t.join("playbooks/ansible_version.yml"));
        let v = |k: &str| Version::parse(&yaml_value(&av, k)).expect("version");
        assert_eq!(v("minimal_ansible_version"), r.ansible_core.min, "{tag}");
        assert_eq!(
            v("maximal_ansible_version"),
            r.ansible_core.max_exclusive,
            "{tag}"
        );
        let req = read(&t.join("requirements.txt"));
        assert!(
            req.lines().any(|l| l.trim() == r.ansible_package),
            "{tag}: requirements.txt pins {req}"
        );
        // Allowed values: validate_inventory from v2.28, preinstall's checks before.
        let checks = if r.validate_inventory {
            read(&t.join("roles/validate_inventory/tasks/main.yml"))
        } else {
            read(&t.join("roles/kubernetes/preinstall/tasks/0040-verify-settings.yml"))
        };
        assert_eq!(
            list_after(&checks, "kube_network_plugin in "),
            r.network_plugins,
            "{tag}: network plugins"
        );
        assert_eq!(
            list_after(&checks, "kube_proxy_mode in "),
            r.proxy_modes,
            "{tag}: proxy modes"
        );
        assert_eq!(
            list_after(&checks, "container_manager in "),
            r.container_managers,
            "{tag}"
        );
        assert_eq!(
            t.join("roles/validate_inventory").is_dir(),
            r.validate_inventory,
            "{tag}"
        );
        assert_eq!(
            t.join("roles/dynamic_groups").is_dir(),
            r.dynamic_groups,
            "{tag}"
        );
        assert!(t.join("roles").join(r.defaults_role).is_dir(), "{tag}");
        assert!(t.join(r.facts_playbook).is_file(), "{tag}");
        assert!(t.join(kubespray::inventory::BOILERPLATE).is_file(), "{tag}");
        // Python range from the release's docs.
        let docs = [t.join("docs/ansible/ansible.md"), t.join("docs/ansible.md")]
            .into_iter()
            .find(|p| p.is_file())
            .expect("ansible docs");
        let py = format!(
            "{}.{}-{}.{}",
            r.python.0.0, r.python.0.1, r.python.1.0, r.python.1.1
        );
        assert!(
            read(&docs)
                .lines()
                .skip_while(|l| !l.contains("Python Version"))
                .take(4)
                .any(|l| l.contains(&format!("| {py}"))),
            "{tag}: Python {py}"
        );
        // Kubernetes: the default and the range of kubelet checksums it carries.
        let sums = [
            "roles/kubespray_defaults/vars/main/checksums.yml",
            "roles/kubespray-defaults/defaults/main/checksums.yml",
        ]
        .iter()
        .map(|p| t.join(p))
        .find(|p| p.is_file())
        .expect("checksums");
        let sums = read(&sums);
        let amd64: Vec<String> = sums
            .lines()
            .skip_while(|l| !l.starts_with("kubelet_checksums:"))
            .skip_while(|l| l.trim() != "amd64:")
            .skip(1)
            .take_while(|l| l.starts_with("    "))
            .filter_map(|l| {
                Some(
                    l.trim()
                        .split(':')
                        .next()?
                        .trim_start_matches('v')
                        .to_string(),
                )
            })
            .collect();
        let minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        assert_eq!(minor(&amd64[0]), r.kubernetes.1, "{tag}: newest Kubernetes");
        let defaults = read(
            &t.join("roles")
                .join(r.defaults_role)
                .join("defaults/main/main.yml"),
        );
        let default = match yaml_value(&defaults, "kube_version") {
            v if v.starts_with('v') => v,
            _ => format!("v{}", amd64[0]),
        };
        assert_eq!(default, r.kubernetes_default, "{tag}: default Kubernetes");
        if r.validate_inventory {
            assert_eq!(
                minor(amd64.last().expect("oldest")),
                r.kubernetes.0,
                "{tag}: oldest Kubernetes"
            );
        }
        // Calico's default mode is VXLAN: rackstrap's MTU rule depends on it.
        let calico = read(&t.join("roles/network_plugin/calico_defaults/defaults/main.yml"));
        assert_eq!(yaml_value(&calico, "calico_vxlan_mode"), "Always", "{tag}");
        assert_eq!(yaml_value(&calico, "calico_ipip_mode"), "Never", "{tag}");
        // The sample setting that only survives because rackstrap no longer replaces all.yml.
        assert!(
            read(&t.join("inventory/sample/group_vars/all/all.yml"))
                .contains("\nloadbalancer_apiserver_healthcheck_port: 8081\n"),
            "{tag}"
        );
    }
}

/// The inventory rackstrap would lay over the sample, in `tree/inventory/<name>`.
fn lay_inventory(tree: &Path, p: &Plan) -> PathBuf {
    let inv = tree.join("inventory").join(&p.cluster.name);
    kubespray::inventory::copy_dir(&tree.join("inventory/sample"), &inv).expect("copy sample");
    let files: Vec<RenderedFile> = render::render(p)
        .expect("render")
        .into_iter()
        .filter(|f| !f.path.starts_with("extras"))
        .collect();
    render::write(&files, &inv).expect("write");
    inv
}

fn ansible(tree: &Path, args: &[&str]) -> Output {
    let t = Tree::new(tree);
    Command::new(t.ansible_program())
        .args(args)
        .current_dir(tree)
        .envs(t.ansible_env())
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("ansible-playbook")
}

/// For every release: every example's render is accepted by the release's own inventory
/// checks (v2.28+), `cluster.yml` passes `--syntax-check` and lists every host, with the
/// release's own Ansible. The releases run in parallel.
#[test]
fn examples_pass_every_release() {
    let archives = require_archives!();
    for_each_release(|release| examples_pass_the_release(&archives, release));
}

fn examples_pass_the_release(archives: &Path, release: &'static Release) {
    let tag = release.tag;
    let venv_dir = venv(archives, release);
    let tmp = overlay(archives, tag, &venv_dir);
    let t = tmp.path();
    for name in EXAMPLES {
        let p = example(name, tag, t);
        // The tree is the plan's release and its Ansible fits: nothing to refuse.
        assert_eq!(kubespray::tree::findings(&p), Vec::new(), "{tag}/{name}");
        assert_eq!(
            kubespray::inventory::check(&p).expect("Kubespray's checks ran"),
            Vec::new(),
            "{tag}/{name}"
        );
        let inv = lay_inventory(t, &p);
        let hosts = inv.join("hosts.yaml").display().to_string();
        let out = ansible(t, &["-i", &hosts, "cluster.yml", "--list-hosts"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{tag}/{name}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for h in p.hosts.iter().filter(|h| !h.roles.is_empty()) {
            assert!(
                stdout.lines().any(|l| l.trim() == h.name),
                "{tag}/{name}: {} not listed:\n{stdout}",
                h.name
            );
        }
        if name == "akash" {
            // `rackstrap check` with the tree present: the same checks, no error.
            let plan_file = t.join("plan.yaml");
            plan::save(&p, &plan_file).expect("save");
            let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
                .arg("check")
                .arg(&plan_file)
                .output()
                .expect("check");
            assert_eq!(
                out.status.code(),
                Some(0),
                "{tag}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            let out = ansible(t, &["-i", &hosts, "cluster.yml", "--syntax-check"]);
            assert!(
                out.status.success(),
                "{tag}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The refusals, with their messages: the tree is another release; the Ansible is outside
/// the release's range; Kubespray itself refusing weave on v2.31.0.
#[test]
fn refusals_say_what_is_wrong_and_what_to_do() {
    let archives = require_archives!();
    let v31 = Release::find("v2.31.0").expect("release");
    let venv31 = venv(&archives, v31);

    // A v2.31.0 tree under a plan that says v2.30.0.
    let tmp = overlay(&archives, "v2.31.0", &venv31);
    let p = example("akash", "v2.30.0", tmp.path());
    let f = kubespray::tree::findings(&p);
    assert_eq!(f[0].code, "E_KUBESPRAY_TREE_VERSION", "{f:#?}");
    assert!(
        f[0].message.ends_with("is v2.31.0, the plan says v2.30.0"),
        "{}",
        f[0].message
    );
    // And ansible-core 2.18 is outside v2.30's range too.
    assert_eq!(f[1].code, "E_ANSIBLE_VERSION");
    assert!(
        f[1].message
            .contains("Kubespray v2.30.0 needs >=2.17.3,<2.18.0")
    );

    // v2.24.1 with the Ansible v2.31.0 needs: Kubespray's own words.
    let tmp24 = overlay(&archives, "v2.24.1", &venv31);
    let p = example("akash", "v2.24.1", tmp24.path());
    let f = kubespray::tree::findings(&p);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].code, "E_ANSIBLE_VERSION");
    assert!(
        f[0].message.contains(
            "Kubespray v2.24.1 needs >=2.15.5,<2.17.0 (\"Ansible must be between 2.15.5 and 2.17.0 exclusive\")"
        ),
        "{}",
        f[0].message
    );
    // `rackstrap check` shows them, and `apply` refuses before any stage runs.
    let plan_file = tmp24.path().join("plan.yaml");
    plan::save(&p, &plan_file).expect("save");
    let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("check")
        .arg(&plan_file)
        .output()
        .expect("check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("E_ANSIBLE_VERSION"), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("apply")
        .arg(&plan_file)
        .arg("--yes")
        .output()
        .expect("apply");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("E_ANSIBLE_VERSION"), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());

    // weave: rackstrap refuses it for v2.31.0 before rendering, and so does Kubespray when
    // an inventory asks for it anyway.
    let mut p = example("akash", "v2.31.0", tmp.path());
    p.cluster.network_plugin = "weave".into();
    let codes: Vec<&str> = plan::check(&p, None)
        .iter()
        .map(|f| f.code.as_str())
        .collect();
    assert!(codes.contains(&"E_NETWORK_PLUGIN_RELEASE"), "{codes:?}");
    p.cluster.network_plugin = "calico".into();
    let mut files = rackstrap::provision::stages::kubespray::inventory_files(&p).expect("files");
    for f in &mut files {
        f.contents = f
            .contents
            .replace("kube_network_plugin: calico", "kube_network_plugin: weave");
    }
    let f = kubespray::inventory::check_files(&p, &Tree::of(&p), &files).expect("ran");
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].code, "E_KUBESPRAY_INVENTORY");
    assert!(
        f[0].message.starts_with(
            "Kubespray v2.31.0 refuses the inventory: task [validate_inventory : Stop if unsupported options selected] failed: The selected choice is not supported (failed: kube_network_plugin in ["
        ),
        "{}",
        f[0].message
    );
}

/// `rackstrap kubespray prepare` from a local git repository made from the v2.31.0 archive:
/// clone at the tag, virtualenv, requirements from PyPI, Ansible range checked; a second run
/// does nothing; a tree with local edits is left alone.
#[test]
fn prepare_clones_the_release_and_makes_its_virtualenv() {
    let archives = require_archives!();
    let tag = "v2.31.0";
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("upstream");
    kubespray::inventory::copy_dir(&tree(&archives, tag), &repo).expect("copy");
    let git = |dir: &Path, args: &[&str]| {
        run(Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(dir))
    };
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "release"]);
    git(&repo, &["tag", tag]);
    // A later commit on the branch: the clone must take the tag, not the tip.
    std::fs::write(repo.join("galaxy.yml"), "version: 2.32.0\n").expect("write");
    git(&repo, &["commit", "-q", "-am", "next"]);

    let path = tmp.path().join("ks");
    let plan_file = tmp.path().join("plan.yaml");
    std::fs::write(
        &plan_file,
        format!(
            "version: 1\ncluster: {{name: c, kubespray: {{path: '{}', version: {tag}}}}}\n",
            path.display()
        ),
    )
    .expect("plan");
    let prepare = || {
        Command::new(env!("CARGO_BIN_EXE_rackstrap"))
            .args(["kubespray", "prepare"])
            .arg(&plan_file)
            .arg("--from")
            .arg(&repo)
            .output()
            .expect("prepare")
    };
    let out = prepare();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The command as shown is shell-quoted; whether `a=b` gets quotes is the quoting crate's call.
    assert!(
        stdout.contains("kubespray prepare git -c ")
            && stdout.contains("advice.detachedHead=false")
            && stdout.contains(" clone --branch v2.31.0 "),
        "{stdout}"
    );
    assert!(stdout.contains("pip install"), "{stdout}");
    assert!(stdout.contains("ready: ansible-core 2.18."), "{stdout}");
    let t = Tree::new(&path);
    assert_eq!(t.version(), Ok(Version(2, 31, 0)));
    let v = kubespray::tree::ansible_version(&t.ansible_program(), &t.ansible_env())
        .expect("venv ansible");
    assert!(Release::find(tag).expect("row").ansible_core.contains(v));
    assert!(path.join("venv/bin/ansible-playbook").is_file());
    let log = read(&tmp.path().join(".rackstrap/plan/kubespray-prepare.log"));
    assert!(log.contains("Successfully installed"), "{log}");
    // Kubespray's .gitignore covers venv/: the tree has no local changes.
    assert_eq!(t.local_changes(), Some(Vec::new()));

    // Again: nothing to do.
    let out = prepare();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("(nothing to do)"), "{stdout}");
    assert!(
        !stdout.contains("clone") && !stdout.contains("pip"),
        "{stdout}"
    );

    // A local edit and no virtualenv: left alone, with what to do.
    std::fs::remove_dir_all(path.join("venv")).expect("rm venv");
    std::fs::write(path.join("cluster.yml"), "# edited\n").expect("edit");
    let out = prepare();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("has local changes (M cluster.yml)"),
        "{stderr}"
    );
    assert!(stderr.contains("leaves such a tree alone"), "{stderr}");
    assert_eq!(read(&path.join("cluster.yml")), "# edited\n");
    assert!(!path.join("venv").exists());

    // A tree of another release is refused too.
    let other = tmp.path().join("plan-other.yaml");
    std::fs::write(
        &other,
        read(&plan_file).replace("version: v2.31.0", "version: v2.30.0"),
    )
    .expect("plan");
    let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .args(["kubespray", "prepare"])
        .arg(&other)
        .arg("--from")
        .arg(&repo)
        .output()
        .expect("prepare");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is Kubespray v2.31.0, the plan says v2.30.0; rackstrap leaves it alone"),
        "{stderr}"
    );
}

/// A real Kubespray playbook over real SSH: v2.31.0's `playbooks/facts.yml` (without
/// `bootstrap_os`, which would install packages on the machine the lab hosts share) against
/// three lab hosts, with the rendered inventory laid over the release's sample, rackstrap's
/// pinned host keys (the kubespray stage's own environment) and the release's virtualenv.
/// Every host's facts are gathered; a rekeyed host then fails with OpenSSH's host key error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubespray_facts_playbook_runs_over_pinned_ssh() {
    use common::lab::{HostSpec, Lab};
    use rackstrap::provision::remote::Connector;
    use rackstrap::provision::stages::kubespray as stage;

    let archives = require_archives!();
    require_lab!();
    let tag = "v2.31.0";
    let release = Release::find(tag).expect("release");
    let venv_dir = venv(&archives, release);
    let tmp = overlay(&archives, tag, &venv_dir);
    let t = tmp.path();
    let mut lab = Lab::start(vec![
        HostSpec::new("node1"),
        HostSpec::new("node2"),
        HostSpec::new("node3"),
    ]);
    let mut y = format!(
        "version: 1\ncluster: {{name: lab, kubespray: {{path: '{}', version: {tag}}}}}\n\
         access: {{user: root, port: {}, identity: '{}'}}\nhosts:\n",
        t.display(),
        lab.hosts()[0].port,
        lab.key_path().display()
    );
    for (name, roles) in [
        ("node1", "[control_plane, etcd, worker]"),
        ("node2", "[worker]"),
        ("node3", "[worker]"),
    ] {
        y.push_str(&format!(
            "  - {{name: {name}, address: {}, roles: {roles}}}\n",
            lab.host(name).address
        ));
    }
    let p: Plan = serde_yaml::from_str(&y).expect("plan");
    // Pin every host's key the way rackstrap does: its own connection, first contact accepted.
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
    for h in &p.hosts {
        if let Err(e) = connector.connect(h, &p.access).await {
            panic!("{}: {e}", h.name);
        }
    }
    let inv = lay_inventory(t, &p);
    let pins = stage::pinned_keys(&p, Some(&known)).expect("every host pinned");
    let known_file = inv.join(stage::KNOWN_HOSTS_FILE);
    std::fs::write(&known_file, pins).expect("pins");
    let key = lab.key_path().display().to_string();
    // Through the one runner, as the stage and the recovery actions run Ansible.
    let facts = async || {
        let tree = Tree::new(t);
        let ansible = kubespray::runner::Ansible::new(
            vec![
                "ansible-playbook".into(),
                "-i".into(),
                "inventory/lab/hosts.yaml".into(),
                format!("--private-key={key}"),
                // Lab hosts share this machine's files; its system Python runs the modules.
                "-e".into(),
                "ansible_python_interpreter=/usr/bin/python3".into(),
                // No connection reuse across the two runs: the rekeyed host must be dialled anew.
                "-e".into(),
                format!(
                    "ansible_control_path_dir={}",
                    tmp.path().join("cp").display()
                ),
                release.facts_playbook.into(),
                "--skip-tags".into(),
                "bootstrap_os".into(),
            ],
            Some(known_file.display().to_string()),
        );
        let mut seen = kubespray::runner::Collect::default();
        let out = kubespray::runner::run(
            &tree,
            &ansible,
            std::time::Duration::from_secs(600),
            &mut seen,
        )
        .await
        .expect("ansible-playbook");
        (out.status, out.results, seen.lines.join("\n"))
    };

    let (code, parser, stdout) = facts().await;
    assert_eq!(code, Some(0), "{stdout}");
    for h in ["node1", "node2", "node3"] {
        let recap = parser
            .recap
            .get(h)
            .unwrap_or_else(|| panic!("{h} not in the recap:\n{stdout}"));
        assert!(recap.success() && recap.ok > 0, "{h}: {recap:?}\n{stdout}");
    }
    assert!(
        stdout.contains("Gather necessary facts"),
        "Kubespray's facts tasks ran:\n{stdout}"
    );

    lab.restart_with_new_key("node2");
    let (code, parser, stdout) = facts().await;
    assert_ne!(code, Some(0), "{stdout}");
    let failure = parser
        .failures
        .get("node2")
        .unwrap_or_else(|| panic!("node2 did not fail:\n{stdout}"));
    assert!(failure.unreachable, "{failure}");
    assert!(
        failure
            .message
            .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{failure}"
    );
    for h in ["node1", "node3"] {
        assert!(
            parser.recap.get(h).is_some_and(|r| r.success()),
            "{h}:\n{stdout}"
        );
    }
}
