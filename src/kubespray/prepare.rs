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
//!
//! Each command runs in a process group of its own with the default handling of SIGINT and
//! SIGTERM, and within a time limit: the clone [`CLONE_LIMIT`], the virtualenv and the
//! requirements [`INSTALL_LIMIT`] (seconds in `RACKSTRAP_PREPARE_CLONE_SECS` and
//! `RACKSTRAP_PREPARE_INSTALL_SECS` change them). A command over its limit, or a stop asked
//! for with [`stop_on_signals`] (Ctrl-C, SIGTERM), ends its whole group (SIGTERM, then SIGKILL
//! after [`GRACE`]); a clone that did not finish is removed, so the next run clones again,
//! and a virtualenv that did not finish is made again by the next run.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use super::release::{Release, Version};
use super::tree::{Tree, VENV_DIR, ansible_version};
use crate::plan::Plan;

/// The log of every prepare (each command's whole output), in the plan's state directory.
pub const LOG: &str = "kubespray-prepare.log";

/// Where Kubespray is cloned from unless told otherwise.
pub const UPSTREAM: &str = "https://github.com/kubernetes-sigs/kubespray.git";

/// How long the clone may take unless `RACKSTRAP_PREPARE_CLONE_SECS` says otherwise.
pub const CLONE_LIMIT: Duration = Duration::from_secs(15 * 60);
/// How long making the virtualenv, and then installing the requirements, may each take unless
/// `RACKSTRAP_PREPARE_INSTALL_SECS` says otherwise.
pub const INSTALL_LIMIT: Duration = Duration::from_secs(30 * 60);
/// How long `ansible-playbook --version` may take (`check`, prepare): it answers in a second
/// or two; one that hangs must not hang `check`.
pub const VERSION_LIMIT: Duration = Duration::from_secs(60);
/// How long a command that is stopped gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

const CLONE_ENV: &str = "RACKSTRAP_PREPARE_CLONE_SECS";
const INSTALL_ENV: &str = "RACKSTRAP_PREPARE_INSTALL_SECS";

/// The signal that asked prepare to stop (0: none), set by the handler of
/// [`stop_on_signals`].
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(signal, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM ask prepare to stop: the command under way and its children are
/// ended, prepare returns its error, and [`stopped_by`] names the signal. Installed by the
/// headless `kubespray prepare` (a process of its own), whatever handling it inherited: a
/// shell starts background jobs with SIGINT ignored. Not for a process whose signals are
/// handled otherwise (the wizard's runtime).
pub fn stop_on_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores into an atomic; sigaction with a zeroed mask.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The signal that stopped prepare (`SIGINT`, `SIGTERM`), once one arrived.
pub fn stopped_by() -> Option<&'static str> {
    match STOP.load(Ordering::SeqCst) {
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => None,
    }
}

/// A time limit from the environment variable `var` (whole seconds), else `default`.
fn limit_from_env(var: &str, default: Duration) -> Result<Duration, String> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(format!(
                "{var}={v:?}: not a number of seconds above 0 (the time limit of the step)"
            )),
        },
    }
}

/// A command's limit and the variable that sets it (named in the error).
#[derive(Debug, Clone, Copy)]
struct Limit {
    after: Duration,
    var: &'static str,
}

/// How a command ended that [`wait_bounded`] watched.
enum Ended {
    Exited(std::process::ExitStatus),
    /// Over its limit: the group was ended.
    TimedOut,
    /// A stop was asked for: the group was ended.
    Stopped(&'static str),
}

/// Ends `child`'s process group: SIGTERM, then SIGKILL if it is still there after [`GRACE`].
fn end_group(child: &mut Child) {
    let group = child.id() as libc::pid_t;
    // SAFETY: kill(2) of the group this process made for the child (`process_group(0)`).
    unsafe { libc::kill(-group, libc::SIGTERM) };
    let start = Instant::now();
    while start.elapsed() < GRACE {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The group's other members (git's transport helper, pip's builds) go too.
    // SAFETY: as above.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let _ = child.wait();
}

/// A command for a group of its own whose SIGINT and SIGTERM do what they do by default,
/// whatever this process inherited (an ignored SIGINT would otherwise pass to it).
fn own_group(cmd: &mut Command) {
    cmd.process_group(0);
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// `program --version`-style commands (a quick answer expected): the output of `cmd`, or an
/// error when it cannot start or does not end within `limit` (then it and its group are
/// ended).
pub fn output_within(cmd: &mut Command, limit: Duration) -> Result<std::process::Output, String> {
    own_group(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .map(|s| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut s) = s {
                let _ = s.by_ref().take(1 << 20).read_to_end(&mut buf);
            }
            buf
        })
    })
    .collect();
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= limit => {
                end_group(&mut child);
                return Err(format!("did not answer within {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    };
    let mut out = readers.into_iter().map(|r| r.join().unwrap_or_default());
    Ok(std::process::Output {
        status,
        stdout: out.next().unwrap_or_default(),
        stderr: out.next().unwrap_or_default(),
    })
}

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
    /// with the last lines the command wrote to stderr, or that it went over `limit` or was
    /// stopped (then it and its children are ended).
    fn run(&mut self, words: &[String], dir: Option<&Path>, limit: Limit) -> Result<(), String> {
        let shown = shown(words);
        if let Some(signal) = stopped_by() {
            return Err(format!("stopped by {signal} before `{shown}`"));
        }
        self.step(&shown);
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        own_group(&mut cmd);
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
        let start = Instant::now();
        let mut streams_open = true;
        // Output as it comes; between lines, the limit and a stop asked for are looked at.
        let ended = loop {
            if let Some(signal) = stopped_by() {
                end_group(&mut child);
                break Ended::Stopped(signal);
            }
            if start.elapsed() >= limit.after {
                end_group(&mut child);
                break Ended::TimedOut;
            }
            if streams_open {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok((is_err, line)) => {
                        let _ = self.log.write_all(&line);
                        let text = String::from_utf8_lossy(&line).trim().to_string();
                        if is_err && !text.is_empty() {
                            tail.push(text);
                            if tail.len() > 2 {
                                tail.remove(0);
                            }
                        }
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => streams_open = false,
                }
                continue;
            }
            match child.try_wait() {
                Ok(Some(status)) => break Ended::Exited(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => {
                    end_group(&mut child);
                    return Err(format!("waiting for {}: {e}", words[0]));
                }
            }
        };
        match ended {
            Ended::Exited(status) if status.success() => Ok(()),
            Ended::Exited(status) => Err(format!(
                "`{shown}` exited {}: {}",
                status.code().unwrap_or(-1),
                tail.join(" ")
            )),
            Ended::TimedOut => {
                let secs = limit.after.as_secs();
                let _ = writeln!(self.log, "==> did not finish within {secs} s; stopped");
                Err(format!(
                    "`{shown}` did not finish within {secs} s and was stopped (the limit is \
                     {secs} s; {} sets another, in seconds)",
                    limit.var
                ))
            }
            Ended::Stopped(signal) => {
                let _ = writeln!(self.log, "==> stopped by {signal}");
                Err(format!("stopped by {signal} during `{shown}`"))
            }
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
    let clone_limit = Limit {
        after: limit_from_env(CLONE_ENV, CLONE_LIMIT)?,
        var: CLONE_ENV,
    };
    let install_limit = Limit {
        after: limit_from_env(INSTALL_ENV, INSTALL_LIMIT)?,
        var: INSTALL_ENV,
    };
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
        let was_there = path.exists();
        if let Err(e) = r.run(&clone_words(&tag, url, &path), None, clone_limit) {
            // A clone that did not finish (stopped, over its limit, killed) leaves a
            // directory the next run would refuse as "not a Kubespray tree": it goes, and the
            // path is as it was (missing, or an empty directory).
            remove_partial_clone(&path, was_there);
            return Err(e);
        }
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
        r.run(&venv_words(python, &venv), None, install_limit)?;
    }
    r.run(&pip_words(&venv), Some(&path), install_limit)?;
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

/// Removes what a clone that did not finish left at `path`: the directory itself when it was
/// not there before, else (an empty directory it cloned into) what is in it.
fn remove_partial_clone(path: &Path, was_there: bool) {
    if !was_there {
        let _ = std::fs::remove_dir_all(path);
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            let p = e.path();
            let _ = if e.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
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
    fn a_quick_command_that_hangs_is_ended_at_its_limit_with_its_children() {
        let started = Instant::now();
        let e = output_within(
            Command::new("sh").args(["-c", "sleep 300 & sleep 300"]),
            Duration::from_secs(1),
        )
        .expect_err("hangs");
        assert_eq!(e, "did not answer within 1 s");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let out = output_within(
            Command::new("sh").args(["-c", "echo ansible [core 2.18.1]"]),
            Duration::from_secs(30),
        )
        .expect("answers");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "ansible [core 2.18.1]\n"
        );
    }

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
        let limit = Limit {
            after: Duration::from_secs(60),
            var: CLONE_ENV,
        };
        let e = r.run(&words, None, limit).expect_err("exit 3");
        assert!(e.ends_with("exited 3: first last"), "{e}");
        let log = String::from_utf8(log).expect("utf-8");
        assert!(log.starts_with("==> sh -c "), "{log}");
        for line in ["out\n", "first\n", "last\n"] {
            assert!(log.contains(line), "{log}");
        }
        assert_eq!(steps.len(), 1);
    }
}
