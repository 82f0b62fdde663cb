//! What Ansible reports, as data: the JSON lines of rackstrap's callback plugin
//! (`assets/ansible/rackstrap_events.py`), one per event, read into [`Event`]s and summed up
//! in [`Results`] (per host: tasks answered, the first failure not ignored, the PLAY RECAP).
//!
//! ```text
//! {"event": "play", "name": "k8s_cluster"}
//! {"event": "task", "name": "kubernetes/preinstall : Check that swap is off"}
//! {"event": "result", "status": "ok|changed|failed|unreachable|skipped", "host": "node1",
//!  "task": "...", "item": "label" (loop items), "ignored": true, "msg": ..., "stderr": ...}
//! {"event": "retry", "host": "node1", "task": "...", "attempt": 2, "retries": 5}
//! {"event": "recap", "host": "node1", "ok": 3, "changed": 1, "unreachable": 0, "failed": 0, ...}
//! ```
//!
//! A failure keeps its whole text (the log has it); [`Failure`]'s `Display` is one readable
//! line: the last meaningful line of `msg` and `stderr`, without OpenSSH's `debug1:` chatter.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The callback plugin, shipped inside rackstrap and written next to each run.
pub const PLUGIN: &str = include_str!("../../assets/ansible/rackstrap_events.py");
/// The plugin's file name (its name for Ansible).
pub const PLUGIN_FILE: &str = "rackstrap_events.py";
/// The environment variable naming the socket the plugin writes to.
pub const EVENTS_ENV: &str = "RACKSTRAP_ANSIBLE_EVENTS";

/// One host's line of the PLAY RECAP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recap {
    pub ok: u32,
    pub changed: u32,
    pub unreachable: u32,
    pub failed: u32,
    pub skipped: u32,
    pub rescued: u32,
    pub ignored: u32,
}

impl Recap {
    pub fn success(&self) -> bool {
        self.failed == 0 && self.unreachable == 0
    }
}

/// What a host's task came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Skipped,
}

impl Status {
    /// The word Ansible's own output uses for it (`skipping: [node1]`, `fatal: [node1]`).
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Changed => "changed",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
            Status::Skipped => "skipping",
        }
    }
}

/// One host's result of one task (or of one loop item).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HostResult {
    pub status: Status,
    pub host: String,
    pub task: String,
    /// The loop item's label, for a result of one item.
    #[serde(default)]
    pub item: Option<String>,
    /// A failure the task ignores (`ignore_errors`).
    #[serde(default)]
    pub ignored: bool,
    #[serde(default)]
    pub msg: Option<serde_json::Value>,
    #[serde(default)]
    pub stderr: Option<serde_json::Value>,
    #[serde(default)]
    pub module_stderr: Option<serde_json::Value>,
    #[serde(default)]
    pub rc: Option<i64>,
    /// The condition an `assert` found false.
    #[serde(default)]
    pub assertion: Option<serde_json::Value>,
}

/// One line of the callback.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Play {
        name: String,
    },
    Task {
        name: String,
        #[serde(default)]
        handler: bool,
    },
    Result(HostResult),
    /// A try that did not meet `until`: `attempt` of `retries` (Ansible's count of all the
    /// tries allowed, the first included).
    Retry {
        host: String,
        task: String,
        #[serde(default)]
        attempt: Option<u32>,
        #[serde(default)]
        retries: Option<u32>,
    },
    Recap {
        host: String,
        #[serde(flatten)]
        recap: Recap,
    },
}

impl Event {
    /// One line of the callback; `None` for a line that is not one (never expected).
    pub fn parse(line: &str) -> Option<Event> {
        serde_json::from_str(line.trim()).ok()
    }
}

/// A host's failure as Ansible reported it: the task, the whole text, and whether the host
/// could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub task: String,
    /// The loop item's label, for the failure of one item.
    pub item: Option<String>,
    /// Everything Ansible said (`msg`, then `stderr`), decoded; several lines at times.
    pub message: String,
    pub unreachable: bool,
    /// The condition an `assert` found false, if it was one.
    pub assertion: Option<String>,
    /// The one line that says what failed ([`one_line`]).
    pub summary: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.unreachable {
            "unreachable"
        } else {
            "failed"
        };
        write!(f, "task [{}] {what}: {}", self.task, self.summary)
    }
}

/// A JSON value as text: strings as they are, anything else as JSON.
fn text_of(v: &Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl Failure {
    pub fn of(r: &HostResult) -> Self {
        let msg = text_of(&r.msg);
        let mut stderr = text_of(&r.stderr);
        if stderr.trim().is_empty() {
            stderr = text_of(&r.module_stderr);
        }
        let mut message = msg.trim_end().to_string();
        if !stderr.trim().is_empty() {
            if !message.is_empty() {
                message.push('\n');
            }
            message.push_str(stderr.trim_end());
        }
        if message.is_empty()
            && let Some(rc) = r.rc
        {
            message = format!("exited {rc}");
        }
        let summary = match (last_line(&msg), last_line(&stderr)) {
            (Some(m), Some(e)) => format!("{m}: {e}"),
            (Some(m), None) => m,
            (None, Some(e)) => e,
            (None, None) => one_line(&message),
        };
        Failure {
            task: r.task.clone(),
            item: r.item.clone(),
            message,
            unreachable: r.status == Status::Unreachable,
            assertion: r
                .assertion
                .as_ref()
                .map(|a| text_of(&Some(a.clone())))
                .filter(|a| !a.is_empty()),
            summary,
        }
    }
}

/// Lines that say nothing about why something failed: OpenSSH's `-v` chatter and banner,
/// the frame of its host key warning.
fn noise(line: &str) -> bool {
    let l = line.trim();
    l.is_empty()
        || l.starts_with("debug1:")
        || l.starts_with("debug2:")
        || l.starts_with("debug3:")
        || l.starts_with("OpenSSH_")
        || l.chars().all(|c| c == '@')
        || l.starts_with("Warning: Permanently added")
}

/// The one line that says what `text` says: itself when it is one line; else its last
/// meaningful line, after the label of its first line when the rest of that line only opens
/// a dump (`Failed to connect to the host via ssh: OpenSSH_9.2p1 ...`, then the last line).
/// `\r` and control characters are gone; `None` when nothing is said.
pub fn last_line(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r').trim())
        .filter(|l| !l.is_empty())
        .collect();
    let first = *lines.first()?;
    let line = if lines.len() == 1 {
        first.to_string()
    } else {
        let label = first
            .split_once(": ")
            .filter(|(_, rest)| noise(rest))
            .map(|(label, _)| label);
        let last = lines
            .iter()
            .skip(usize::from(label.is_some()))
            .rfind(|l| !noise(l))
            .copied()
            .unwrap_or(first);
        match label {
            Some(label) => format!("{label}: {last}"),
            None => last.to_string(),
        }
    };
    Some(crate::text::printable(&line).into_owned())
}

/// [`last_line`], or the text's start when it says nothing.
pub fn one_line(text: &str) -> String {
    last_line(text).unwrap_or_default()
}

/// What one event changed for a host, for whoever shows progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostUpdate {
    /// The host answered a task: tasks answered so far, and `status: task` to show.
    Progress {
        host: String,
        done: u32,
        text: String,
    },
    /// The host failed a task (the first failure not ignored).
    Failed { host: String, failure: Failure },
}

/// The events of one run summed up.
#[derive(Debug, Default, Clone)]
pub struct Results {
    /// The play and task running now.
    pub play: String,
    pub task: String,
    /// Per host: tasks it has answered so far (loop items not counted apart).
    pub tasks_done: BTreeMap<String, u32>,
    /// Per host: the first failure not ignored.
    pub failures: BTreeMap<String, Failure>,
    /// Every failure not ignored, in order (validation reads each distinct one).
    pub all_failures: Vec<(String, Failure)>,
    pub recap: BTreeMap<String, Recap>,
    /// How many events came: none means the callback did not load.
    pub events: usize,
}

impl Results {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one event in; what it changed for a host, if anything.
    pub fn apply(&mut self, event: &Event) -> Vec<HostUpdate> {
        self.events += 1;
        match event {
            Event::Play { name } => {
                self.play = name.clone();
                Vec::new()
            }
            Event::Task { name, .. } => {
                self.task = name.clone();
                Vec::new()
            }
            Event::Retry {
                host,
                task,
                attempt,
                retries,
            } => {
                let done = self.tasks_done.get(host).copied().unwrap_or(0);
                let of = match (attempt, retries) {
                    (Some(a), Some(r)) => format!(" ({a}/{r})"),
                    _ => String::new(),
                };
                vec![HostUpdate::Progress {
                    host: host.clone(),
                    done,
                    text: format!("retrying{of}: {task}"),
                }]
            }
            Event::Recap { host, recap } => {
                self.recap.insert(host.clone(), *recap);
                Vec::new()
            }
            Event::Result(r) => self.result(r),
        }
    }

    fn result(&mut self, r: &HostResult) -> Vec<HostUpdate> {
        let mut out = Vec::new();
        if r.item.is_none() {
            let n = self.tasks_done.entry(r.host.clone()).or_default();
            *n += 1;
            out.push(HostUpdate::Progress {
                host: r.host.clone(),
                done: *n,
                text: format!("{}: {}", r.status.word(), r.task),
            });
        }
        let failed = matches!(r.status, Status::Failed | Status::Unreachable);
        // A loop's failed items come first; the task's own result says it failed after them.
        if failed && !r.ignored && r.item.is_none() {
            let mut failure = Failure::of(r);
            if let Some((_, item)) = self
                .all_failures
                .iter()
                .rev()
                .find(|(h, f)| *h == r.host && f.task == r.task && f.item.is_some())
            {
                failure.summary = format!(
                    "{} (item {}: {})",
                    failure.summary,
                    item.item.as_deref().unwrap_or_default(),
                    item.summary
                );
            }
            self.all_failures.push((r.host.clone(), failure.clone()));
            if !self.failures.contains_key(&r.host) {
                self.failures.insert(r.host.clone(), failure.clone());
                out.push(HostUpdate::Failed {
                    host: r.host.clone(),
                    failure,
                });
            }
        } else if failed && !r.ignored {
            // An item's failure, kept to say which item failed its task.
            self.all_failures.push((r.host.clone(), Failure::of(r)));
        }
        out
    }

    /// The host's result: its failure, unless the recap shows it recovered (a `rescue`).
    pub fn failure_of(&self, host: &str) -> Option<&Failure> {
        let f = self.failures.get(host)?;
        match self.recap.get(host) {
            Some(r) if r.success() => None,
            _ => Some(f),
        }
    }

    /// The distinct failures of tasks (loop items left out), in order.
    pub fn task_failures(&self) -> impl Iterator<Item = &(String, Failure)> {
        self.all_failures.iter().filter(|(_, f)| f.item.is_none())
    }
}

#[cfg(test)]
mod tests;
