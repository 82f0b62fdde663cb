//! Reading `ansible-playbook -v` output as it streams: which play and task are running, what
//! each host answered, and the PLAY RECAP at the end. Lines go in one at a time (ANSI colour
//! allowed); `Update`s come out for the runner to turn into per-host events.
//!
//! The shapes read (ansible-core's default callback):
//! `PLAY [name] ***`, `TASK [role : name] ***`, `ok: [host]`, `changed: [host] => {...}`,
//! `skipping: [host]`, `fatal: [host]: FAILED! => {"msg": "..."}`,
//! `fatal: [host]: UNREACHABLE! => {...}`, `failed: [host] (item=x) => {...}`, `...ignoring`,
//! `PLAY RECAP ***` then `host : ok=N changed=N unreachable=N failed=N skipped=N rescued=N ignored=N`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::log::strip_ansi;

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

/// The first failure Ansible reported for a host: the task and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub task: String,
    pub message: String,
    pub unreachable: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.unreachable {
            "unreachable"
        } else {
            "failed"
        };
        write!(f, "task [{}] {what}: {}", self.task, self.message)
    }
}

/// What a line told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    Play(String),
    Task(String),
    /// A host finished the current task (`ok`, `changed`, `skipping`, `failed`, `fatal`...).
    HostResult {
        host: String,
        status: String,
        task: String,
        tasks_done: u32,
    },
    /// A host failed the current task (not ignored).
    HostFailed {
        host: String,
        failure: Failure,
    },
    Recap {
        host: String,
        recap: Recap,
    },
}

#[derive(Debug, Default)]
pub struct Parser {
    task: String,
    in_recap: bool,
    /// Per host: tasks it has answered so far.
    pub tasks_done: BTreeMap<String, u32>,
    /// Per host: the first failure not ignored.
    pub failures: BTreeMap<String, Failure>,
    pub recap: BTreeMap<String, Recap>,
    /// The last `fatal` seen, in case the next line says `...ignoring`.
    pending_fatal: Option<String>,
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, raw: &str) -> Vec<Update> {
        let line = strip_ansi(raw);
        let line = line.trim_end();
        let mut out = Vec::new();
        if line.trim() == "...ignoring" {
            if let Some(host) = self.pending_fatal.take()
                && self.failures.get(&host).map(|f| &f.task) == Some(&self.task)
            {
                self.failures.remove(&host);
            }
            return out;
        }
        if let Some(name) = header(line, "PLAY RECAP") {
            let _ = name;
            self.in_recap = true;
            return out;
        }
        if let Some(name) = bracket_header(line, "PLAY [") {
            self.in_recap = false;
            out.push(Update::Play(name));
            return out;
        }
        if let Some(name) =
            bracket_header(line, "TASK [").or_else(|| bracket_header(line, "RUNNING HANDLER ["))
        {
            self.task = name.clone();
            self.pending_fatal = None;
            out.push(Update::Task(name));
            return out;
        }
        if self.in_recap
            && let Some((host, recap)) = parse_recap(line)
        {
            self.recap.insert(host.clone(), recap);
            out.push(Update::Recap { host, recap });
            return out;
        }
        if let Some((status, host, rest)) = host_result(line) {
            // Loop items report per item and then once for the task; count the task once.
            let is_item = rest
                .trim_start()
                .trim_start_matches("=>")
                .trim_start()
                .starts_with("(item=");
            if !is_item {
                let n = self.tasks_done.entry(host.clone()).or_default();
                *n += 1;
                out.push(Update::HostResult {
                    host: host.clone(),
                    status: status.to_string(),
                    task: self.task.clone(),
                    tasks_done: *n,
                });
            }
            if status == "fatal" || status == "failed" {
                let unreachable = rest.contains("UNREACHABLE!");
                let failure = Failure {
                    task: self.task.clone(),
                    message: failure_message(rest),
                    unreachable,
                };
                self.pending_fatal = Some(host.clone());
                if !self.failures.contains_key(&host) {
                    self.failures.insert(host.clone(), failure.clone());
                    out.push(Update::HostFailed { host, failure });
                }
            }
        }
        out
    }
}

/// `NAME ****` -> Some(rest) when the line starts with `prefix` and ends in stars.
fn header<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(prefix)?;
    (rest.trim_end().ends_with('*') || rest.trim().is_empty()).then_some(rest)
}

/// `TASK [role : name] ****` -> `role : name`.
fn bracket_header(line: &str, prefix: &str) -> Option<String> {
    let rest = line.strip_prefix(prefix)?;
    let end = rest.rfind(']')?;
    let tail = &rest[end + 1..];
    if !tail.trim().chars().all(|c| c == '*') {
        return None;
    }
    Some(rest[..end].to_string())
}

/// `ok: [node1]`, `fatal: [node1]: FAILED! => {...}`, `changed: [node1 -> node2]`.
fn host_result(line: &str) -> Option<(&str, String, &str)> {
    let (status, rest) = line.split_once(": [")?;
    if !matches!(
        status,
        "ok" | "changed" | "skipping" | "failed" | "fatal" | "unreachable" | "rescued"
    ) {
        return None;
    }
    let end = rest.find(']')?;
    let inner = &rest[..end];
    // Delegation shows `host -> other`; the result belongs to the first.
    let host = inner
        .split(" -> ")
        .next()
        .unwrap_or(inner)
        .trim()
        .to_string();
    Some((status, host, &rest[end + 1..]))
}

/// The message of a failure: the JSON `msg` (plus `stderr` when `msg` is the generic
/// non-zero-return one), else whatever follows `=>`.
fn failure_message(rest: &str) -> String {
    let Some((_, json)) = rest.split_once("=> ") else {
        return rest.trim().trim_start_matches(':').trim().to_string();
    };
    match serde_json::from_str::<serde_json::Value>(json.trim()) {
        Ok(v) => {
            let msg = v.get("msg").and_then(|m| m.as_str()).unwrap_or("").trim();
            let stderr = v
                .get("stderr")
                .and_then(|m| m.as_str())
                .unwrap_or("")
                .trim();
            let rc = v.get("rc").and_then(|m| m.as_i64());
            match (msg.is_empty(), stderr.is_empty()) {
                (false, true) => msg.to_string(),
                (false, false) => format!("{msg}: {stderr}"),
                (true, false) => stderr.to_string(),
                (true, true) => match rc {
                    Some(rc) => format!("exited {rc}"),
                    None => json.trim().to_string(),
                },
            }
        }
        Err(_) => json.trim().to_string(),
    }
}

/// `node1 : ok=3 changed=1 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0`
pub fn parse_recap(line: &str) -> Option<(String, Recap)> {
    let (host, counts) = line.split_once(" : ")?;
    let host = host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let mut r = Recap::default();
    let mut seen = 0;
    for pair in counts.split_whitespace() {
        let (k, v) = pair.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        seen += 1;
        match k {
            "ok" => r.ok = v,
            "changed" => r.changed = v,
            "unreachable" => r.unreachable = v,
            "failed" => r.failed = v,
            "skipped" => r.skipped = v,
            "rescued" => r.rescued = v,
            "ignored" => r.ignored = v,
            _ => seen -= 1,
        }
    }
    (seen > 0).then(|| (host.to_string(), r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const RUN: &str = r#"Using /etc/ansible/ansible.cfg as config file

PLAY [k8s_cluster] *************************************************************

TASK [kubernetes/preinstall : Check that swap is off] ***************************
ok: [node1] => {"changed": false, "msg": "All assertions passed"}
ok: [node2] => {"changed": false}
fatal: [node3]: FAILED! => {"changed": false, "msg": "Swap is on"}

TASK [container-engine/containerd : Download] *********************************
changed: [node1] => (item=a) => {"changed": true}
changed: [node1]
fatal: [node2]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: Connection refused", "unreachable": true}

TASK [ignored one] ***************************************************************
fatal: [node1]: FAILED! => {"changed": true, "cmd": "false", "msg": "non-zero return code", "rc": 1, "stderr": "boom"}
...ignoring

PLAY RECAP *********************************************************************
node1                      : ok=3    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=1
node2                      : ok=1    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0
node3                      : ok=0    changed=0    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0
"#;

    #[test]
    fn a_run_is_read_into_progress_failures_and_recap() {
        let mut p = Parser::new();
        let mut updates = Vec::new();
        for line in RUN.lines() {
            updates.extend(p.feed(&format!("\u{1b}[0;31m{line}\u{1b}[0m")));
        }
        assert_eq!(updates[0], Update::Play("k8s_cluster".into()));
        assert_eq!(
            updates[1],
            Update::Task("kubernetes/preinstall : Check that swap is off".into())
        );
        assert_eq!(p.tasks_done["node1"], 3);
        assert_eq!(p.tasks_done["node2"], 2);
        assert_eq!(
            p.failures["node3"].to_string(),
            "task [kubernetes/preinstall : Check that swap is off] failed: Swap is on"
        );
        assert_eq!(
            p.failures["node2"].to_string(),
            "task [container-engine/containerd : Download] unreachable: Failed to connect to the host via ssh: Connection refused"
        );
        assert!(!p.failures.contains_key("node1"), "ignored failure kept");
        assert_eq!(
            p.recap["node1"],
            Recap {
                ok: 3,
                changed: 1,
                ignored: 1,
                ..Default::default()
            }
        );
        assert!(!p.recap["node2"].success());
        assert!(!p.recap["node3"].success());
        assert!(p.recap["node1"].success());
    }

    #[test]
    fn command_failures_carry_stderr() {
        let mut p = Parser::new();
        p.feed("TASK [fixture : must not be marked] ****");
        p.feed(r#"fatal: [h]: FAILED! => {"changed": true, "cmd": ["test"], "msg": "non-zero return code", "rc": 1, "stderr": "marker present", "stdout": ""}"#);
        assert_eq!(
            p.failures["h"].to_string(),
            "task [fixture : must not be marked] failed: non-zero return code: marker present"
        );
    }

    #[test]
    fn recap_lines_need_counts() {
        assert_eq!(parse_recap("not a recap"), None);
        assert_eq!(parse_recap("a b : ok=1"), None);
        assert_eq!(
            parse_recap("n : ok=2 failed=1").map(|(_, r)| (r.ok, r.failed)),
            Some((2, 1))
        );
    }
}
