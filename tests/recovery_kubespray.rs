//! The recovery actions against the real Kubespray releases (tests/common/kubespray.rs says
//! where they and their Ansible come from): every playbook an action names exists in its
//! release, and for every scenario of the golden tests (tests/common/recovery.rs) each step's
//! playbook, with the release's own Ansible and collections (its `requirements.txt`), accepts
//! the step's rendered inventory and JSON extra vars (`--syntax-check`) and aims its plays at
//! the hosts the step's `--limit` names (`--list-hosts`). The nginx-proxy restart is an ad hoc
//! `ansible` run: its host pattern is listed the same way. Every row of the release table is
//! tested, the releases in parallel: a new release is one row there.

#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::kubespray::{archives, for_each_release, overlay, tree, venv};
use rackstrap::kubespray::{Release, Tree};
use rackstrap::recovery::actions::prepare;
use rackstrap::recovery::quorum::Verdict;

/// Every release of the table has its recovery playbooks, so the loop below covers it.
#[test]
fn every_release_has_its_test() {
    let books: Vec<&str> = rackstrap::recovery::releases::all()
        .iter()
        .map(|b| b.tag)
        .collect();
    for r in rackstrap::kubespray::RELEASES {
        assert!(books.contains(&r.tag), "no test of Kubespray {}", r.tag);
    }
}

#[test]
fn the_named_playbooks_exist_in_every_release() {
    let Some(archives) = archives() else { return };
    for books in rackstrap::recovery::releases::all() {
        let t = tree(&archives, books.tag);
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
            assert!(t.join(book).is_file(), "{}: no {book}", books.tag);
        }
    }
}

/// The value of `--limit=` in `args`, if any.
fn limit_of(args: &[String]) -> Option<&str> {
    args.iter().find_map(|a| a.strip_prefix("--limit="))
}

/// The host names a step aims at by name: a `--limit` that is one plan host, and the `node`
/// of the extra vars (the remove playbook's target).
fn named_targets(args: &[String], hosts: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(l) = limit_of(args)
        && hosts.contains(l)
    {
        out.push(l.to_string());
    }
    if let Some(i) = args.iter().position(|a| a == "-e")
        && let Some(v) = args.get(i + 1)
        && let Ok(serde_json::Value::Object(vars)) = serde_json::from_str(v)
        && let Some(serde_json::Value::String(n)) = vars.get("node")
    {
        out.push(n.clone());
    }
    out
}

fn run_ansible(tree: &Path, program: &Path, args: &[String], mode: &str) -> String {
    let t = Tree::new(tree);
    let out = Command::new(program)
        .args(args)
        .arg(mode)
        .current_dir(tree)
        .envs(t.ansible_env())
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} {} {mode}:\n{text}",
        program.display(),
        args.join(" ")
    );
    text
}

#[test]
fn actions_pass_every_release() {
    let Some(archives) = archives() else { return };
    for_each_release(|release| actions_pass_the_release(&archives, release));
}

fn actions_pass_the_release(archives: &Path, release: &'static Release) {
    let tag = release.tag;
    let venv_dir = venv(archives, release);
    let tmp = overlay(archives, tag, &venv_dir);
    let t = tmp.path();
    let bin = Tree::new(t)
        .ansible_program()
        .parent()
        .expect("the virtualenv's bin")
        .to_path_buf();
    let inv = t.join("inventory/prod");
    let mut syntax_checked = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for (title, hosts, standing, kind, node) in common::recovery::scenarios() {
        let p = common::recovery::plan(tag, &hosts);
        let names: BTreeSet<String> = p.hosts.iter().map(|h| h.name.clone()).collect();
        let prepared = prepare(&p, &standing, kind, node).expect("prepared");
        if matches!(prepared.verdict, Verdict::Refuse(_)) {
            continue;
        }
        for step in &prepared.steps {
            let program = Path::new(&step.argv[0])
                .file_name()
                .expect("a program")
                .to_owned();
            let args: Vec<String> = step.argv[1..]
                .iter()
                .filter(|w| !w.starts_with("--private-key"))
                .cloned()
                .collect();
            // Scenarios share steps (the fact refresh of the same hosts): each runs once.
            let inventory: Vec<(String, String)> = step
                .inventory
                .iter()
                .map(|f| (f.path.display().to_string(), f.contents.clone()))
                .collect();
            if !listed.insert((step.argv.clone(), inventory)) {
                continue;
            }
            // The step's inventory over the sample's group_vars, as `apply` lays it.
            let _ = std::fs::remove_dir_all(&inv);
            rackstrap::kubespray::inventory::copy_dir(&t.join("inventory/sample"), &inv)
                .expect("copy sample");
            rackstrap::render::write(&step.inventory, &inv).expect("inventory");
            let what = format!("{tag}: {title}: {}", step.title);
            if program == "ansible-playbook" {
                // The playbook parses with its extra vars (once per playbook and vars).
                let book = args
                    .iter()
                    .find(|a| a.ends_with(".yml") && !a.starts_with("inventory/"))
                    .unwrap_or_else(|| panic!("{what}: no playbook in {args:?}"));
                let vars = args
                    .iter()
                    .position(|a| a == "-e")
                    .and_then(|i| args.get(i + 1));
                if syntax_checked.insert((book.clone(), vars.cloned())) {
                    run_ansible(t, &bin.join("ansible-playbook"), &args, "--syntax-check");
                }
            } else {
                assert_eq!(program, "ansible", "{what}: {:?}", step.argv);
            }
            let text = run_ansible(t, &bin.join(&program), &args, "--list-hosts");
            for n in named_targets(&args, &names) {
                assert!(
                    text.lines().any(|l| l.trim() == n),
                    "{what}: {n} is not among the hosts:\n{text}"
                );
            }
            if let Some(l) = limit_of(&args)
                && let Some(excluded) = l.strip_prefix("all:!")
            {
                assert!(
                    !text.lines().any(|l| l.trim() == excluded),
                    "{what}: {excluded} is listed though the limit excludes it:\n{text}"
                );
            }
        }
    }
    assert!(
        listed.len() > 10 && syntax_checked.len() >= 5,
        "{tag}: only {} steps listed and {} playbooks checked",
        listed.len(),
        syntax_checked.len()
    );
}
