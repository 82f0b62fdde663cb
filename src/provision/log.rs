//! Where a step's output goes: every line is written to the host's log file for this run
//! (complete, ANSI colour kept) and sent as an `Event` to whoever watches (the wizard's panes
//! batch them; `rackstrap apply` prints one line per event).
//!
//! Log files live under the run state directory (see `state`):
//! `logs/<run id>/<host>.log`, one per host per run; the Kubespray stage's Ansible output goes
//! to `logs/<run id>/ansible.log` as well as to each host it mentions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use super::event::{Event, EventKind, StageId};

/// An append-only log file shared by the steps of one host.
#[derive(Clone, Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
}

impl LogFile {
    /// Opens (appending) or creates the log at `path`, mode 0600 whatever the umask: logs
    /// hold host details. Missing directories are made 0700.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&self, line: &str) {
        // One write per line (`writeln!` makes two: the text, then the newline), so a chatty
        // command costs half the system calls and a line is never split by another writer.
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // A log write failing (disk full) must not abort provisioning; the events still flow.
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(&bytes);
        }
    }
}

/// The output sink of one stage on one host.
#[derive(Clone, Debug)]
pub struct StepLog {
    pub host: String,
    pub stage: StageId,
    events: UnboundedSender<Event>,
    file: Option<LogFile>,
}

impl StepLog {
    pub fn new(
        host: &str,
        stage: StageId,
        events: UnboundedSender<Event>,
        file: Option<LogFile>,
    ) -> Self {
        Self {
            host: host.to_string(),
            stage,
            events,
            file,
        }
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path())
    }

    pub fn emit(&self, kind: EventKind) {
        // The watcher going away (wizard closed) must not stop the run. What it is shown is
        // escaped; the log file (written in `line`) keeps the bytes.
        let _ = self.events.send(Event {
            host: self.host.clone(),
            stage: self.stage,
            kind: kind.printable(),
        });
    }

    /// A line of command output.
    pub fn line(&mut self, text: &str, stderr: bool) {
        if let Some(f) = &self.file {
            f.write_line(text);
        }
        self.emit(EventKind::Log {
            line: text.to_string(),
            stderr,
        });
    }

    /// The command about to run, shown as `$ command` (each line of a here-document too).
    pub fn command(&mut self, shell: &str) {
        for (i, l) in shell.lines().enumerate() {
            let text = if i == 0 {
                format!("$ {l}")
            } else {
                format!("  {l}")
            };
            self.line(&text, false);
        }
    }

    /// A line for the log file only: what the watcher is told another way (a step's failure
    /// arrives as its `Finished` event), so it is not shown twice.
    pub fn file_only(&self, text: &str) {
        if let Some(f) = &self.file {
            for l in text.lines() {
                f.write_line(l);
            }
        }
    }

    /// rackstrap's own remark about the step.
    pub fn note(&mut self, text: &str) {
        for l in text.lines() {
            self.line(l, false);
        }
    }

    pub fn progress(&self, done: u32, total: Option<u32>, text: &str) {
        self.emit(EventKind::Progress {
            done,
            total,
            text: text.to_string(),
        });
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... letter` and two-byte escapes) for parsing and
/// for messages that end up in state files.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: up to BEL or ESC \.
                while let Some(n) = chars.next() {
                    if n == '\u{7}' {
                        break;
                    }
                    if n == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_file_keeps_the_bytes_and_the_watcher_sees_them_escaped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node1.log");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut log = StepLog::new(
            "node1",
            StageId::Storage,
            tx,
            Some(LogFile::create(&path).expect("log")),
        );
        log.line("\u{1b}[32mok\u{1b}[0m \u{1b}]0;owned\u{7}\u{9b}2J", false);
        log.file_only("failed: for the file");
        log.emit(EventKind::Finished {
            state: crate::provision::event::StepState::Failed,
            message: "mkfs: \u{1b}[2J".into(),
        });
        let raw = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            raw,
            "\u{1b}[32mok\u{1b}[0m \u{1b}]0;owned\u{7}\u{9b}2J\nfailed: for the file\n"
        );
        let first = rx.try_recv().expect("line event");
        assert_eq!(
            first.kind,
            EventKind::Log {
                line: "\u{1b}[32mok\u{1b}[0m \\e]0;owned\\x07\\u{9b}2J".into(),
                stderr: false
            }
        );
        let second = rx.try_recv().expect("finished event");
        assert!(
            matches!(&second.kind, EventKind::Finished { message, .. } if message == "mkfs: \\e[2J"),
            "{second:?}"
        );
        assert!(rx.try_recv().is_err(), "file_only sends nothing");
    }

    #[test]
    fn ansi_is_stripped_for_parsing() {
        assert_eq!(
            strip_ansi("\u{1b}[0;32mok: [node1]\u{1b}[0m"),
            "ok: [node1]"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn step_log_writes_file_and_events() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("logs/r1/node1.log");
        let file = LogFile::create(&path).expect("log file");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut log = StepLog::new("node1", StageId::Storage, tx, Some(file));
        log.command("cat > /x <<'E'\na\nE");
        log.line("\u{1b}[31mred\u{1b}[0m", true);
        let text = std::fs::read_to_string(&path).expect("read log");
        assert_eq!(text, "$ cat > /x <<'E'\n  a\n  E\n\u{1b}[31mred\u{1b}[0m\n");
        let mut n = 0;
        while let Ok(ev) = rx.try_recv() {
            assert_eq!(ev.host, "node1");
            n += 1;
        }
        assert_eq!(n, 4);
    }
}
