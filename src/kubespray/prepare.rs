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

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::release::{Release, Version};
use super::tree::{Tree, VENV_DIR, ansible_version};
use crate::plan::Plan;

/// The log of every prepare (each command's whole output), in the plan's state directory.
pub const LOG: &str = "kubespray-prepare.log";

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

    /// Runs `words` (in `dir`), its output into the log line by line as it comes (a
    /// `pip install` takes minutes: the log shows where it is); `Err` says what failed,
    /// with the last lines the command wrote to stderr.
    fn run(&mut self, words: &[String], dir: Option<&Path>) -> Result<(), String> {
        let shown = shown(words);
        self.step(&shown);
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(d) = dir {
            cmd.current_dir(d);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", words[0]))?;
        let (tx, rx) = std::sync::mpsc::channel::<(bool, Vec<u8>)>();
        let streams: [(bool, Option<Box<dyn Read + Send>>); 2] = [
            (false, child.stdout.take().map(|s| Box::new(s) as _)),
            (true, child.stderr.take().map(|s| Box::new(s) as _)),
        ];
        for (is_err, stream) in streams {
            let Some(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = Vec::new();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if tx.send((is_err, line)).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
        drop(tx);
        let mut tail: Vec<String> = Vec::new();
        for (is_err, line) in rx {
            let _ = self.log.write_all(&line);
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if is_err && !text.is_empty() {
                tail.push(text);
                if tail.len() > 2 {
                    tail.remove(0);
                }
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("waiting for {}: {e}", words[0]))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{shown}` exited {}: {}",
                status.code().unwrap_or(-1),
                tail.join(" ")
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
    if !is_missing_or_empty(&path) {
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
        r.run(&clone_words(&tag, url, &path), None)?;
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
        r.run(&venv_words(python, &venv), None)?;
    }
    r.run(&pip_words(&venv), Some(&path))?;
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

fn clone_words(tag: &str, url: &str, path: &Path) -> Vec<String> {
    [
        "git",
        "-c",
        "advice.detachedHead=false",
        "clone",
        "--branch",
        tag,
        url,
    ]
    .into_iter()
    .map(String::from)
    .chain([path.display().to_string()])
    .collect()
}

fn venv_words(python: &str, venv: &Path) -> Vec<String> {
    vec![
        python.into(),
        "-m".into(),
        "venv".into(),
        venv.display().to_string(),
    ]
}

/// Run in the tree (`requirements.txt` is its own).
fn pip_words(venv: &Path) -> Vec<String> {
    vec![
        venv.join("bin/pip").display().to_string(),
        "install".into(),
        "--disable-pip-version-check".into(),
        "-r".into(),
        "requirements.txt".into(),
    ]
}

/// The commands [`prepare`] runs for `need`, as it shows them, to say what it will do before
/// it is asked to: clone (for [`Need::Clone`]), virtualenv, requirements.
pub fn commands(plan: &Plan, url: &str, python: &str, need: Need) -> Vec<String> {
    let path = Tree::of(plan).path;
    let venv = path.join(VENV_DIR);
    let mut out = Vec::new();
    if need == Need::Clone {
        out.push(clone_words(&plan.cluster.kubespray.version, url, &path));
    }
    out.push(venv_words(python, &venv));
    out.push(pip_words(&venv));
    out.iter().map(|w| shown(w)).collect()
}

/// A command as the log shows it: each word quoted for a shell when it needs it.
fn shown(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shlex::try_quote(w).map_or_else(|_| w.clone(), |q| q.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What [`prepare`] would do for the plan's tree, found without changing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `cluster.kubespray.path` is missing or empty: clone, virtualenv, requirements.
    Clone,
    /// The tree is the plan's release, but its virtualenv is missing or its Ansible is outside
    /// the release's range: virtualenv and requirements.
    Virtualenv,
}

/// Whether the plan's tree needs [`prepare`], and for what. `None` when it is ready, when
/// the release is unknown, or when prepare would refuse the tree (another release, not a
/// Kubespray tree): `check` and `tree::findings` say what is wrong then. Runs the
/// virtualenv's `ansible-playbook --version` when there is one.
pub fn needed(plan: &Plan) -> Option<Need> {
    let release = Release::find(&plan.cluster.kubespray.version)?;
    let tree = Tree::of(plan);
    if is_missing_or_empty(&tree.path) {
        return Some(Need::Clone);
    }
    let same_release =
        tree.is_tree() && tree.version().ok() == Version::parse(&plan.cluster.kubespray.version);
    (same_release && ready(&tree, release).is_none()).then_some(Need::Virtualenv)
}

/// Nothing there yet, or an empty directory: prepare clones into it.
fn is_missing_or_empty(path: &Path) -> bool {
    !path.exists()
        || (path.is_dir()
            && std::fs::read_dir(path)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false))
}

/// The virtualenv's ansible-core version when it is inside the release's range.
fn ready(tree: &Tree, release: &Release) -> Option<Version> {
    let program = tree.venv_ansible()?;
    let v = ansible_version(&program, &tree.ansible_env()).ok()?;
    release.ansible_core.contains(v).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_s_output_goes_to_the_log_and_a_failure_says_its_stderr() {
        let mut steps = Vec::new();
        let mut progress = |l: &str| steps.push(l.to_string());
        let mut log = Vec::new();
        let mut r = Reporter {
            progress: &mut progress,
            log: &mut log,
        };
        let words: Vec<String> = [
            "sh",
            "-c",
            "echo out; echo first >&2; echo last >&2; exit 3",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let e = r.run(&words, None).expect_err("exit 3");
        assert!(e.ends_with("exited 3: first last"), "{e}");
        let log = String::from_utf8(log).expect("utf-8");
        assert!(log.starts_with("==> sh -c "), "{log}");
        for line in ["out\n", "first\n", "last\n"] {
            assert!(log.contains(line), "{log}");
        }
        assert_eq!(steps.len(), 1);
    }
}
