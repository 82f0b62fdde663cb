//! The one way rackstrap runs Ansible in a Kubespray tree: the Kubespray stage, every
//! recovery action and Kubespray's inventory checks come through here.
//!
//! ```text
//! Ansible { words, known_hosts, fact_cache } ──► shown(): the line an operator would type
//!        │
//!        └─► run(tree, ..., watch) ── spawns it in the tree with the one environment ──►
//!              stdout/stderr lines ──► Watch::output (the pane and its log: Ansible's own text)
//!              callback JSON lines ──► Results (per-host progress, failures, recap) ──► Watch::update
//!              quiet for the limit ──► Watch::stalled: wait again, or stop it
//!        ◄── Outcome { status, results }
//! ```
//!
//! The environment: the tree's virtualenv (`Tree::ansible_env`); host keys checked against
//! rackstrap's pins only (`ANSIBLE_HOST_KEY_CHECKING=True`, `ANSIBLE_SSH_ARGS` with the
//! pinned-keys file and `StrictHostKeyChecking=yes`: Kubespray's `ansible.cfg` turns checking
//! off, and the environment beats `ansible.cfg`); Ansible's `default` stdout callback on one
//! line per result and without colour (files and pipes get no escape codes; whoever shows
//! the lines on a terminal colours them, [`colour_of`]); and rackstrap's callback plugin
//! (`events`), which sends every result as a JSON line over a Unix socket in a private
//! temporary directory.

use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::events::{EVENTS_ENV, Event, HostUpdate, PLUGIN, PLUGIN_FILE, Results};
use super::tree::{Tree, VENV_DIR};
use crate::text::shell_quote as quote;

/// One Ansible command in a Kubespray tree, in the words an operator types there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ansible {
    /// The program first (`ansible-playbook`, `ansible`, or `venv/bin/ansible-playbook`
    /// inside the tree), then its arguments; `~` kept in `--private-key=~/...` (Ansible
    /// expands it itself).
    pub words: Vec<String>,
    /// The pinned-keys file Ansible's ssh may trust, as the plan names it; `None` for runs
    /// that contact no host (`ansible_connection=local`).
    pub known_hosts: Option<String>,
    /// Kubespray's fact cache directory, as the plan names it; `None`: `ansible.cfg`'s.
    pub fact_cache: Option<String>,
}

/// The OpenSSH options of Ansible's connections (`ANSIBLE_SSH_ARGS`), replacing the
/// `ssh_args` of Kubespray's `ansible.cfg`: its connection reuse, but only the pinned keys in
/// `known_hosts` are trusted (no global file, no first-contact acceptance). Ansible puts
/// `ssh_args` first on ssh's command line, where OpenSSH keeps the first value of an option.
pub fn ssh_args(known_hosts: &str) -> String {
    format!(
        "-o ControlMaster=auto -o ControlPersist=30m -o UserKnownHostsFile={} \
         -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
        // Ansible splits these like a shell; OpenSSH expands a leading `~` itself.
        shell_path(known_hosts)
    )
}

/// The environment `ansible-playbook` runs with for host key checking; the environment
/// overrides `ansible.cfg`'s `host_key_checking = False`.
pub fn host_key_env(known_hosts: &str) -> [(&'static str, String); 2] {
    [
        ("ANSIBLE_HOST_KEY_CHECKING", "True".to_string()),
        ("ANSIBLE_SSH_ARGS", ssh_args(known_hosts)),
    ]
}

/// `ANSIBLE_CACHE_PLUGIN_CONNECTION`: the environment beats `ansible.cfg`'s
/// `fact_caching_connection`.
pub const FACT_CACHE_ENV: &str = "ANSIBLE_CACHE_PLUGIN_CONNECTION";

/// The environment every run gets, whatever the tree's `ansible.cfg` says: the `default`
/// stdout callback with one line per result, no colour codes, no retry files, output not held
/// back by Python, and callback plugins loaded for ad hoc `ansible` runs too.
pub const FIXED_ENV: [(&str, &str); 6] = [
    ("ANSIBLE_STDOUT_CALLBACK", "default"),
    // ansible-core 2.18 prints results over several lines unless told not to.
    ("ANSIBLE_CALLBACK_FORMAT_PRETTY", "false"),
    ("ANSIBLE_NOCOLOR", "True"),
    ("ANSIBLE_RETRY_FILES_ENABLED", "False"),
    ("ANSIBLE_LOAD_CALLBACK_PLUGINS", "True"),
    ("PYTHONUNBUFFERED", "1"),
];

/// A path for a shell line, `~/` left unquoted so the shell still expands it.
pub fn shell_path(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("~/{}", quote(rest)),
        None => quote(path),
    }
}

/// An absolute path for Ansible's ssh and cache, which do not run in the tree.
fn absolute(path: &str) -> String {
    let p = crate::paths::expand_home(path);
    std::path::absolute(&p).unwrap_or(p).display().to_string()
}

impl Ansible {
    /// A run with the pinned-keys file (`known_hosts`, as the plan names it).
    pub fn new(words: Vec<String>, known_hosts: Option<String>) -> Self {
        Self {
            words,
            known_hosts,
            fact_cache: None,
        }
    }

    /// The program's name (`ansible-playbook`), for messages.
    pub fn program(&self) -> &str {
        let p = self.words.first().map(String::as_str).unwrap_or("ansible");
        p.rsplit('/').next().unwrap_or(p)
    }

    /// The environment an operator sets for this run by hand (as shown).
    fn shown_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(k) = &self.known_hosts {
            env.extend(
                host_key_env(k)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), quote(&v))),
            );
        }
        if let Some(c) = &self.fact_cache {
            env.push((FACT_CACHE_ENV.into(), shell_path(c)));
        }
        env
    }

    /// `ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS=... ansible-playbook ...` as an
    /// operator would type it in the tree.
    pub fn shown(&self) -> String {
        let mut parts: Vec<String> = self
            .shown_env()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.extend(
            self.words
                .iter()
                .map(|w| match w.strip_prefix("--private-key=~/") {
                    Some(rest) => format!("--private-key=~/{}", quote(rest)),
                    None => quote(w),
                }),
        );
        parts.join(" ")
    }

    /// The words to run: the program resolved in `tree` (a path inside it, else the tree's
    /// virtualenv's program of that name, else `PATH`'s), `~` in `--private-key` expanded.
    pub fn argv(&self, tree: &Tree) -> Vec<String> {
        let mut argv: Vec<String> = self
            .words
            .iter()
            .map(|w| match w.strip_prefix("--private-key=") {
                Some(p) => format!("--private-key={}", crate::paths::expand_home(p).display()),
                None => w.clone(),
            })
            .collect();
        if let Some(first) = argv.first_mut() {
            let venv = tree.path.join(VENV_DIR).join("bin").join(&*first);
            if first.contains('/') {
                *first = tree.path.join(&*first).display().to_string();
            } else if venv.is_file() {
                *first = venv.display().to_string();
            }
        }
        argv
    }

    /// The environment of the run (beside the callback's): the tree's virtualenv, the host
    /// key settings and the fact cache, with absolute paths.
    pub fn env(&self, tree: &Tree) -> Vec<(String, String)> {
        let mut env = tree.ansible_env();
        env.extend(
            FIXED_ENV
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        if let Some(k) = &self.known_hosts {
            env.extend(
                host_key_env(&absolute(k))
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v)),
            );
        }
        if let Some(c) = &self.fact_cache {
            env.push((FACT_CACHE_ENV.into(), absolute(c)));
        }
        env
    }
}

/// What the watcher says to a run that has been quiet for its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stalled {
    /// Wait another period of the limit.
    Wait,
    /// Stop the run: Ansible is killed.
    Stop,
}

/// Who watches a run: gets Ansible's text, each host's progress and failures, and decides
/// what a stall leads to.
#[async_trait]
pub trait Watch: Send {
    /// The command line about to run, as shown ([`Ansible::shown`]).
    fn command(&mut self, shown: &str);
    /// Lines of Ansible's own output (what an operator reads), as they came.
    fn output(&mut self, lines: Vec<String>, stderr: bool);
    /// rackstrap's own remark.
    fn note(&mut self, text: &str);
    /// Each event of the callback, as it came (before the updates it makes).
    fn event(&mut self, _event: &Event) {}
    /// A host's progress or failure, from the callback.
    fn update(&mut self, _update: HostUpdate) {}
    /// Quiet for `quiet`, past `limit`: wait again or stop. Dropped unanswered when
    /// Ansible prints first.
    async fn stalled(&mut self, program: &str, quiet: Duration, limit: Duration) -> Stalled;
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Ansible's exit status; `None` when it was stopped or killed by a signal.
    pub status: Option<i32>,
    /// Everything the callback reported.
    pub results: Results,
    /// The last line Ansible printed on stderr (why it stopped before any task, often).
    pub last_stderr: String,
    /// Set when the run was stopped for a stall: how long it had been quiet.
    pub stalled: Option<Duration>,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// `exited N` or `was stopped`, with the last line on stderr when there was one.
    pub fn exit_text(&self) -> String {
        let mut s = match self.status {
            Some(c) => format!("exited {c}"),
            None => "was stopped".to_string(),
        };
        if !self.last_stderr.is_empty() {
            s.push_str(": ");
            s.push_str(&self.last_stderr);
        }
        s
    }
}

/// Why a run did not happen at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("cannot start {program}: {why}")]
    Start { program: String, why: String },
    #[error("the event callback's directory: {0}")]
    Setup(String),
}

/// What the readers hand the run loop.
enum Incoming {
    Output(Vec<String>, bool),
    Event(Event),
}

/// Runs `ansible` in `tree`, streaming into `watch`; `stall`: how long it may print nothing
/// before `watch` is asked. Waits for Ansible to exit.
pub async fn run(
    tree: &Tree,
    ansible: &Ansible,
    stall: Duration,
    watch: &mut dyn Watch,
) -> Result<Outcome, RunError> {
    let dir = tempfile::Builder::new()
        .prefix("rackstrap-ansible-")
        .tempdir()
        .map_err(|e| RunError::Setup(e.to_string()))?;
    std::fs::write(dir.path().join(PLUGIN_FILE), PLUGIN)
        .map_err(|e| RunError::Setup(format!("{}: {e}", dir.path().display())))?;
    let socket = dir.path().join("events.sock");
    let listener = tokio::net::UnixListener::bind(&socket)
        .map_err(|e| RunError::Setup(format!("{}: {e}", socket.display())))?;

    watch.command(&ansible.shown());
    let argv = ansible.argv(tree);
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&tree.path)
        .envs(ansible.env(tree))
        .env("ANSIBLE_CALLBACK_PLUGINS", dir.path())
        .env(EVENTS_ENV, &socket)
        .env_remove("ANSIBLE_FORCE_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| RunError::Start {
            program: argv[0].clone(),
            why: e.to_string(),
        })?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_batches(out, false, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_batches(err, true, tx.clone()));
    }
    let connected = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let events = tokio::spawn(read_events(listener, tx, connected.clone()));

    let mut outcome = Outcome::default();
    let mut heard = tokio::time::Instant::now();
    let mut outputs_open = 2;
    while outputs_open > 0 {
        let next = match tokio::time::timeout(stall, rx.recv()).await {
            Ok(next) => next,
            Err(_) => {
                let quiet = heard.elapsed();
                tokio::select! {
                    answer = watch.stalled(ansible.program(), quiet, stall) => match answer {
                        Stalled::Wait => continue,
                        Stalled::Stop => {
                            let _ = child.kill().await;
                            events.abort();
                            outcome.stalled = Some(heard.elapsed());
                            return Ok(outcome);
                        }
                    },
                    next = rx.recv() => next,
                }
            }
        };
        heard = tokio::time::Instant::now();
        match next {
            None => break,
            // An empty batch marks the end of one of the two pipes.
            Some(Incoming::Output(lines, _)) if lines.is_empty() => outputs_open -= 1,
            Some(Incoming::Output(lines, stderr)) => {
                if stderr && let Some(l) = lines.iter().rfind(|l| !l.trim().is_empty()) {
                    outcome.last_stderr = super::events::one_line(l);
                }
                watch.output(lines, stderr);
            }
            Some(Incoming::Event(e)) => take(&mut outcome.results, &e, watch),
        }
    }
    outcome.status = child.wait().await.ok().and_then(|s| s.code());
    // Ansible has exited: its socket is closed, so the events still on their way end soon;
    // a run whose callback never connected (`--syntax-check`) is not waited for long.
    let grace = if connected.load(std::sync::atomic::Ordering::Acquire) {
        Duration::from_secs(5)
    } else {
        Duration::from_millis(500)
    };
    let drain = async {
        while let Some(i) = rx.recv().await {
            if let Incoming::Event(e) = i {
                take(&mut outcome.results, &e, watch);
            }
        }
    };
    if tokio::time::timeout(grace, drain).await.is_err() {
        events.abort();
    }
    Ok(outcome)
}

fn take(results: &mut Results, e: &Event, watch: &mut dyn Watch) {
    watch.event(e);
    for u in results.apply(e) {
        watch.update(u);
    }
}

/// The callback's connection (one: the controller process), line by line, as events.
async fn read_events(
    listener: tokio::net::UnixListener,
    tx: tokio::sync::mpsc::UnboundedSender<Incoming>,
    connected: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let Ok((stream, _)) = listener.accept().await else {
        return;
    };
    connected.store(true, std::sync::atomic::Ordering::Release);
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(e) = Event::parse(&line)
            && tx.send(Incoming::Event(e)).is_err()
        {
            return;
        }
    }
}

/// A pipe as batches of lines, each batch the lines one read completed; an empty batch at
/// the end.
async fn read_batches(
    pipe: impl tokio::io::AsyncRead + Unpin,
    stderr: bool,
    tx: tokio::sync::mpsc::UnboundedSender<Incoming>,
) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(first)) = lines.next_line().await {
        let mut batch = vec![first];
        // Complete lines already read from the pipe arrived with the first: one batch.
        while memchr::memchr(b'\n', lines.get_ref().buffer()).is_some() {
            match lines.next_line().await {
                Ok(Some(l)) => batch.push(l),
                _ => break,
            }
        }
        if tx.send(Incoming::Output(batch, stderr)).is_err() {
            return;
        }
    }
    let _ = tx.send(Incoming::Output(Vec::new(), stderr));
}

/// Runs `ansible` to its end from code that does not run under tokio (`rackstrap check`'s
/// inventory checks): a runtime of its own on a thread of its own, so it works from inside
/// another runtime too.
pub fn run_blocking(
    tree: &Tree,
    ansible: &Ansible,
    stall: Duration,
    watch: &mut (dyn Watch + Send),
) -> Result<Outcome, RunError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| RunError::Setup(format!("a runtime: {e}")))?;
            rt.block_on(run(tree, ansible, stall, watch))
        })
        .join()
        .unwrap_or_else(|_| Err(RunError::Setup("the run's thread panicked".into())))
    })
}

/// A watcher that keeps Ansible's output and the callback's events, and stops at the first
/// stall (checks nobody waits on).
#[derive(Debug, Default)]
pub struct Collect {
    pub lines: Vec<String>,
    pub events: Vec<Event>,
    pub updates: Vec<HostUpdate>,
}

#[async_trait]
impl Watch for Collect {
    fn command(&mut self, shown: &str) {
        self.lines.push(format!("$ {shown}"));
    }
    fn output(&mut self, lines: Vec<String>, _stderr: bool) {
        self.lines.extend(lines);
    }
    fn note(&mut self, text: &str) {
        self.lines.push(text.to_string());
    }
    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
    fn update(&mut self, update: HostUpdate) {
        self.updates.push(update);
    }
    async fn stalled(&mut self, _: &str, _: Duration, _: Duration) -> Stalled {
        Stalled::Stop
    }
}

/// The colour Ansible's own callback gives a line of its output (SGR parameters), for a
/// terminal that shows it: green `ok`, yellow `changed`, red failures, cyan `skipping`, the
/// recap's counts by the worst. `None`: plain.
pub fn colour_of(line: &str) -> Option<&'static str> {
    let l = line.trim_start();
    let word = l.split(": [").next().unwrap_or("");
    match word {
        "ok" => return Some("32"),
        "changed" => return Some("33"),
        "skipping" => return Some("36"),
        "fatal" | "failed" | "unreachable" => return Some("31"),
        _ => {}
    }
    if l.starts_with("...ignoring") {
        return Some("36");
    }
    if let Some((_, counts)) = l.split_once(" : ")
        && counts.contains("ok=")
        && counts.contains("failed=")
    {
        let bad = |k: &str| {
            counts
                .split_whitespace()
                .any(|p| p.strip_prefix(k).is_some_and(|n| n != "0"))
        };
        return Some(if bad("failed=") || bad("unreachable=") {
            "31"
        } else if bad("changed=") {
            "33"
        } else {
            "32"
        });
    }
    None
}

/// `line` coloured as [`colour_of`] says.
pub fn paint(line: &str) -> String {
    match colour_of(line) {
        Some(c) => format!("\u{1b}[{c}m{line}\u{1b}[0m"),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests;
