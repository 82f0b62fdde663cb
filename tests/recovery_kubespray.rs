//! The recovery actions against the real Kubespray release trees (`../shared/kubespray/*.tar.gz`
//! from the project's root, or the directory in `RACKSTRAP_KUBESPRAY_ARCHIVES`): every
//! playbook an action names exists in its release, and the playbooks that ansible-core alone
//! can load (`playbooks/facts.yml` and the remove playbook; the others need the collections
//! of Kubespray's `requirements.txt`) accept the rendered inventory and the JSON extra vars
//! (`--syntax-check`), with the remove plays aimed at the node being removed (`--list-hosts`).
//! Without the archives the test says so and passes, except with `CI` set.

use std::path::{Path, PathBuf};
use std::process::Command;

use rackstrap::recovery::actions::{Kind, Standing, prepare};

fn archives() -> Option<PathBuf> {
    let dir = std::env::var_os("RACKSTRAP_KUBESPRAY_ARCHIVES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/kubespray"));
    dir.is_dir().then_some(dir)
}

fn plan(version: &str) -> rackstrap::plan::Plan {
    rackstrap::plan::from_yaml(
        &format!(
            "version: 1\ncluster: {{name: prod, kubespray: {{version: {version}}}}}\nhosts:\n\
             \x20 - {{name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}}\n\
             \x20 - {{name: node2, address: 10.0.10.2, roles: [control_plane, etcd, worker]}}\n\
             \x20 - {{name: node3, address: 10.0.10.3, roles: [control_plane, etcd, worker]}}\n\
             \x20 - {{name: node4, address: 10.0.10.4, roles: [worker]}}\n"
        ),
        "test plan",
    )
    .expect("plan")
}

/// The playbook and arguments of a step, for running in the tree with `extra` appended.
fn playbook_args(argv: &[String]) -> Vec<String> {
    argv.iter()
        .skip(1)
        .filter(|w| !w.starts_with("--private-key") && *w != "-b" && *w != "-v")
        .cloned()
        .collect()
}

#[test]
fn the_real_playbooks_exist_and_accept_the_inventories() {
    let Some(dir) = archives() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Kubespray archives are missing (../shared/kubespray or RACKSTRAP_KUBESPRAY_ARCHIVES)"
        );
        eprintln!("SKIPPED: no Kubespray archives in ../shared/kubespray");
        return;
    };
    assert!(
        Command::new("ansible-playbook")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "ansible-playbook is not installed (tests/ci.sh installs ansible-core)"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let mut checked = 0;
    let mut releases = Vec::new();
    for archive in std::fs::read_dir(&dir).expect("archives") {
        let archive = archive.expect("entry").path();
        let Some(name) = archive.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(tag) = name
            .strip_prefix("kubespray-")
            .and_then(|n| n.strip_suffix(".tar.gz"))
        else {
            continue;
        };
        let ok = Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(tmp.path())
            .status()
            .expect("tar")
            .success();
        assert!(ok, "unpacking {}", archive.display());
        let tree = tmp.path().join(format!("kubespray-{tag}"));
        releases.push(books_minor(tag));
        let p = plan(tag);
        let books = rackstrap::recovery::releases::playbooks(tag).expect("a known release");
        for book in [
            books.cluster,
            books.facts,
            books.scale,
            books.upgrade,
            books.remove_node,
            books.recover_control_plane,
            books.nodes_doc,
            books.recover_doc,
        ] {
            assert!(tree.join(book).is_file(), "{tag}: no {book}");
        }
        // An unreachable worker's removal (the extra vars that matter most), and a worker's
        // addition (its fact refresh); --list-hosts for the removal only.
        for (kind, node) in [(Kind::Remove, "node4"), (Kind::Add, "node4")] {
            let mut standing = Standing {
                nodes: Some(
                    ["node1", "node2", "node3"]
                        .map(String::from)
                        .into_iter()
                        .collect(),
                ),
                ..Standing::default()
            };
            if kind == Kind::Remove {
                if let Some(n) = standing.nodes.as_mut() {
                    n.insert(node.into());
                }
                standing.unreachable.insert(node.into());
            }
            let prepared = prepare(&p, &standing, kind, node).expect("prepared");
            for step in &prepared.steps {
                let args = playbook_args(&step.argv);
                let book = args
                    .iter()
                    .find(|a| {
                        a.ends_with(".yml") && !a.contains('/') || a.starts_with("playbooks/")
                    })
                    .cloned();
                let Some(book) = book else { continue };
                if book != books.facts && book != books.remove_node {
                    continue;
                }
                rackstrap::render::write(&step.inventory, &tree.join("inventory/prod"))
                    .expect("inventory");
                let modes: &[&str] = if book == books.remove_node {
                    &["--syntax-check", "--list-hosts"]
                } else {
                    &["--syntax-check"]
                };
                for mode in modes {
                    let out = Command::new("ansible-playbook")
                        .args(&args)
                        .arg(mode)
                        .current_dir(&tree)
                        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
                        .output()
                        .expect("ansible-playbook");
                    let text = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    assert!(
                        out.status.success(),
                        "{tag}: {} {mode}:\n{text}",
                        args.join(" ")
                    );
                    if *mode == "--list-hosts" && book == books.remove_node {
                        let reset = text
                            .split("play #")
                            .find(|play| play.contains("Reset node"))
                            .unwrap_or_else(|| panic!("{tag}: no Reset node play:\n{text}"));
                        assert!(
                            reset.contains("hosts (1):") && reset.contains("node4"),
                            "{tag}:\n{reset}"
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0, "no playbook was checked");
    for r in rackstrap::recovery::releases::all() {
        assert!(
            releases.contains(&r.tag),
            "no archive of Kubespray {}",
            r.tag
        );
    }
}

fn books_minor(tag: &str) -> &'static str {
    rackstrap::recovery::releases::playbooks(tag)
        .map(|b| b.tag)
        .unwrap_or("unknown")
}
