//! Making the control machine ready for the plan's Kubespray release, the steps Kubespray's
//! own docs give (`docs/ansible/ansible.md`, "Installing Ansible") and the Akash guide
//! ("Kubernetes Cluster for Akash Providers") does by hand:
//!
//! ```text
//! git clone --branch <tag> <url> <path>      (only when <path> is missing or empty)
//! python3 -m venv <path>/venv
//! <path>/venv/bin/pip install -r requirements.txt
//! <path>/venv/bin/ansible-playbook --version  (inside the release's Ansible range)
//! ```
//!
//! A tree that is already the plan's release with a virtualenv whose Ansible fits is left as
//! it is (a second run does nothing). A tree of another release, a directory that is not a
//! Kubespray tree, or a tree with local changes is never touched: the error says what to do.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use super::release::{Release, Version};
use super::tree::{Tree, VENV_DIR, ansible_version};
use crate::plan::Plan;

/// Where Kubespray is cloned from unless told otherwise.
pub const UPSTREAM: &str = "https://github.com/kubernetes-sigs/kubespray.git";

/// What prepare found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to do: the tree and its Ansible were already right.
    AlreadyReady { ansible: Version },
    /// Cloned and/or installed; now ready.
    Prepared { ansible: Version },
}

/// Step lines go to `progress`; every command's full output to `log`.
pub struct Reporter<'a> {
    pub progress: &'a mut dyn FnMut(&str),
    pub log: &'a mut dyn Write,
}

impl Reporter<'_> {
    fn step(&mut self, line: &str) {
        (self.progress)(line);
        let _ = writeln!(self.log, "==> {line}");
    }

    /// Runs `words` (in `dir`), its output into the log; `Err` says what failed.
    fn run(&mut self, words: &[String], dir: Option<&Path>) -> Result<(), String> {
        let shown = words
            .iter()
            .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        self.step(&shown);
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..]);
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", words[0]))?;
        let _ = self.log.write_all(&out.stdout);
        let _ = self.log.write_all(&out.stderr);
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
            Err(format!(
                "`{shown}` exited {}: {}",
                out.status.code().unwrap_or(-1),
                tail[tail.len().saturating_sub(2)..].join(" ")
            ))
        }
    }
}

/// Prepares the plan's Kubespray tree from `url` (a git URL, a `file://` URL or a local
/// repository path). `python` is the interpreter the virtualenv is made with.
pub fn prepare(
    plan: &Plan,
    url: &str,
    python: &str,
    r: &mut Reporter<'_>,
) -> Result<Outcome, String> {
    let tag = plan.cluster.kubespray.version.clone();
    let release = Release::find(&tag).ok_or_else(|| {
        format!(
            "Kubespray {tag} is not a release rackstrap knows ({}); set cluster.kubespray.version",
            super::RELEASES
                .iter()
                .map(|r| r.tag)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let tree = Tree::of(plan);
    let path = tree.path.clone();
    let empty_dir = path.is_dir()
        && std::fs::read_dir(&path)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
    if path.exists() && !empty_dir {
        if !tree.is_tree() {
            return Err(format!(
                "{} exists and is not a Kubespray tree (no cluster.yml or inventory/sample); \
                 rackstrap leaves it alone: move it away or set cluster.kubespray.path",
                path.display()
            ));
        }
        let want = Version::parse(&tag);
        let have = tree.version()?;
        if Some(have) != want {
            return Err(format!(
                "{} is Kubespray v{have}, the plan says {tag}; rackstrap leaves it alone: set \
                 cluster.kubespray.version to v{have} or cluster.kubespray.path to a new directory",
                path.display()
            ));
        }
        r.step(&format!("{} is Kubespray {tag}", path.display()));
        if let Some(ready) = ready(&tree, release) {
            if tree.local_changes().is_some_and(|c| !c.is_empty()) {
                r.step("the tree has local changes; rackstrap leaves them alone");
            }
            r.step(&format!("ready: ansible-core {ready} (nothing to do)"));
            return Ok(Outcome::AlreadyReady { ansible: ready });
        }
        if let Some(changes) = tree.local_changes().filter(|c| !c.is_empty()) {
            return Err(format!(
                "{} has local changes ({}); rackstrap leaves such a tree alone. Commit or stash \
                 them and run prepare again, or make the virtualenv yourself: cd {} && {python} \
                 -m venv {VENV_DIR} && {VENV_DIR}/bin/pip install -r requirements.txt",
                path.display(),
                changes.join(", "),
                path.display()
            ));
        }
    } else {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("creating {}: {e}", parent.display()))?;
        }
        r.run(
            &[
                "git".into(),
                "-c".into(),
                "advice.detachedHead=false".into(),
                "clone".into(),
                "--branch".into(),
                tag.clone(),
                url.into(),
                path.display().to_string(),
            ],
            None,
        )?;
        if !tree.is_tree() {
            return Err(format!(
                "{url} at {tag} is not a Kubespray tree (no cluster.yml or inventory/sample)"
            ));
        }
        let have = tree.version()?;
        if Some(have) != Version::parse(&tag) {
            return Err(format!(
                "{url} at {tag} says it is v{have} (galaxy.yml); not the release the plan names"
            ));
        }
    }
    let venv = path.join(VENV_DIR);
    if tree.venv_ansible().is_none() || !venv.join("bin/pip").is_file() {
        r.run(
            &[
                python.into(),
                "-m".into(),
                "venv".into(),
                venv.display().to_string(),
            ],
            None,
        )?;
    }
    r.run(
        &[
            venv.join("bin/pip").display().to_string(),
            "install".into(),
            "--disable-pip-version-check".into(),
            "-r".into(),
            "requirements.txt".into(),
        ],
        Some(&path),
    )?;
    let v = ansible_version(&tree.ansible_program(), &tree.ansible_env())?;
    if !release.ansible_core.contains(v) {
        return Err(format!(
            "the virtualenv's ansible-core is {v}; Kubespray {tag} needs {} (requirements.txt \
             pins {}): check {}/requirements.txt",
            release.ansible_core,
            release.ansible_package,
            path.display()
        ));
    }
    r.step(&format!(
        "ready: ansible-core {v} in {}",
        path.join(VENV_DIR).display()
    ));
    Ok(Outcome::Prepared { ansible: v })
}

/// The virtualenv's ansible-core version when it is inside the release's range.
fn ready(tree: &Tree, release: &Release) -> Option<Version> {
    let program = tree.venv_ansible()?;
    let v = ansible_version(&program, &tree.ansible_env()).ok()?;
    release.ansible_core.contains(v).then_some(v)
}
