//! Where a step's output goes: every line is written to the host's log file for this run
//! (complete, bytes as the host sent them) and sent to whoever watches (the wizard's panes,
//! `rackstrap apply`'s printer), escaped for display.
//!
//! Output comes in batches: the lines of one chunk a command printed
//! ([`Remote::exec`](super::remote::Remote::exec)) are written to the log file with one write
//! and sent as one [`EventKind::Log`] event. What is queued for the watcher is bounded by the
//! run's [`Backlog`]: when it is full, lines are not queued for display (the file still gets
//! them) and the watcher later gets one marker line, "... 12,345 lines not shown here; the
//! log file has every line: <path>", before the step's next output or its end. Control
//! events ([`StepLog::emit`]) are never held back. docs/architecture.md shows the whole path.
//!
//! Log files live under the run state directory (see `state`):
//! `logs/<run id>/<host>.log`, one per host per run; the Kubespray stage's Ansible output goes
//! to `logs/<run id>/ansible.log` as well as to each host it mentions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use super::event::{Backlog, Event, EventKind, LINES_IN_FLIGHT, StageId};

/// An append-only log file shared by the steps of one host.
#[derive(Clone, Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
    /// The first write that failed (a full disk), as `path: error`: from then on the log
    /// misses lines, and the runner stops the host's steps ([`LogFile::write_error`]).
    failed: Arc<Mutex<Option<String>>>,
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
        Ok(Self::from_file(path, file))
    }

    /// A log writing to `file`, named `path` in messages.
    pub fn from_file(path: &Path, file: std::fs::File) -> Self {
        Self {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
            failed: Arc::new(Mutex::new(None)),
        }
    }

    /// Why a write to this log failed, if one did: `cannot write the log file PATH: ERROR`.
    pub fn write_error(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `lines`, each with its newline, in one write: a chatty command costs one system
    /// call per chunk of output, and a batch is never split by another writer.
    fn write_lines<S: AsRef<str>>(&self, lines: &[S]) {
        let size = lines.iter().map(|l| l.as_ref().len() + 1).sum();
        let mut bytes = Vec::with_capacity(size);
        for l in lines {
            bytes.extend_from_slice(l.as_ref().as_bytes());
            bytes.push(b'\n');
        }
        // A write that fails (disk full) is kept for the runner, which stops the host's
        // steps: a run must not go on, or say it succeeded, with its log missing lines.
        let result = match self.file.lock() {
            Ok(mut f) => f.write_all(&bytes),
            Err(_) => Err(std::io::Error::other("the log's lock was poisoned")),
        };
        if let Err(e) = result
            && let Ok(mut failed) = self.failed.lock()
            && failed.is_none()
        {
            *failed = Some(format!(
                "cannot write the log file {}: {e}",
                self.path.display()
            ));
        }
    }
}

/// The output sink of one stage on one host.
#[derive(Debug)]
pub struct StepLog {
    pub host: String,
    pub stage: StageId,
    events: UnboundedSender<Event>,
    file: Option<LogFile>,
    backlog: Arc<Backlog>,
    /// Output lines not queued for display since the last marker (the backlog was full).
    unshown: AtomicU64,
}

impl Clone for StepLog {
    /// A copy shares the channel, the file and the backlog; lines the original held back are
    /// the original's to report.
    fn clone(&self) -> Self {
        Self {
            host: self.host.clone(),
            stage: self.stage,
            events: self.events.clone(),
            file: self.file.clone(),
            backlog: self.backlog.clone(),
            unshown: AtomicU64::new(0),
        }
    }
}

impl Drop for StepLog {
    fn drop(&mut self) {
        self.report_unshown();
    }
}

impl StepLog {
    /// A step log with a backlog of its own ([`LINES_IN_FLIGHT`]); steps of one run share
    /// theirs with [`StepLog::sharing`].
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
            backlog: Backlog::new(LINES_IN_FLIGHT),
            unshown: AtomicU64::new(0),
        }
    }

    /// This log counting its lines in flight in `backlog` (one per watcher: the run's).
    pub fn sharing(mut self, backlog: &Arc<Backlog>) -> Self {
        self.backlog = backlog.clone();
        self
    }

    /// The backlog this log counts its lines in flight in.
    pub fn backlog(&self) -> &Arc<Backlog> {
        &self.backlog
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path())
    }

    /// Why a write to this step's log file failed, if one did ([`LogFile::write_error`]).
    pub fn write_error(&self) -> Option<String> {
        self.file.as_ref().and_then(LogFile::write_error)
    }

    /// Sends an event the watcher must get (never held back by the backlog); a marker for
    /// output lines held back goes first.
    pub fn emit(&self, kind: EventKind) {
        self.report_unshown();
        self.send(kind);
    }

    fn send(&self, kind: EventKind) {
        // The watcher going away (wizard closed) must not stop the run. What it is shown is
        // escaped; the log file (written in `lines`) keeps the bytes.
        let _ = self.events.send(Event {
            host: self.host.clone(),
            stage: self.stage,
            kind: kind.printable(),
        });
    }

    /// The marker for lines held back, if any: how many, and where they are.
    fn report_unshown(&self) {
        let n = self.unshown.swap(0, Ordering::AcqRel);
        if n == 0 {
            return;
        }
        let mut text = format!(
            "... {} line{} not shown here; ",
            thousands(n),
            if n == 1 { "" } else { "s" }
        );
        match self.log_path() {
            Some(p) => text.push_str(&format!("the log file has every line: {}", p.display())),
            None => text.push_str("this run keeps no log file"),
        }
        self.send(EventKind::Log {
            lines: text.into(),
            stderr: false,
        });
    }

    /// Output lines that arrived together: all to the log file in one write, then as one
    /// event to the watcher as far as the backlog has room; the rest are counted for the
    /// marker.
    pub fn lines(&mut self, mut lines: Vec<String>, stderr: bool) {
        if lines.is_empty() {
            return;
        }
        if let Some(f) = &self.file {
            f.write_lines(&lines);
        }
        let room = self.backlog.reserve(lines.len());
        let held_back = lines.len() - room;
        if room > 0 {
            self.report_unshown();
            lines.truncate(room);
            let lines = self.backlog.hold(lines, room);
            self.send(EventKind::Log { lines, stderr });
        }
        if held_back > 0 {
            self.unshown.fetch_add(held_back as u64, Ordering::AcqRel);
        }
    }

    /// A line of command output.
    pub fn line(&mut self, text: &str, stderr: bool) {
        self.lines(vec![text.to_string()], stderr);
    }

    /// The command about to run, shown as `$ command` (each line of a here-document too).
    pub fn command(&mut self, shell: &str) {
        let lines = shell
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    format!("$ {l}")
                } else {
                    format!("  {l}")
                }
            })
            .collect();
        self.lines(lines, false);
    }

    /// A line for the log file only: what the watcher is told another way (a step's failure
    /// arrives as its `Finished` event), so it is not shown twice.
    pub fn file_only(&self, text: &str) {
        if let Some(f) = &self.file {
            f.write_lines(&text.lines().collect::<Vec<_>>());
        }
    }

    /// rackstrap's own remark about the step.
    pub fn note(&mut self, text: &str) {
        self.lines(text.lines().map(str::to_string).collect(), false);
    }

    pub fn progress(&self, done: u32, total: Option<u32>, text: &str) {
        self.emit(EventKind::Progress {
            done,
            total,
            text: text.to_string(),
        });
    }
}

/// `12345678` as `12,345,678`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
                lines: "\u{1b}[32mok\u{1b}[0m \\e]0;owned\\x07\\u{9b}2J".into(),
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
    fn a_log_write_that_fails_is_kept_for_the_runner() {
        // /dev/full: every write fails with ENOSPC, as on a full disk.
        let full = std::fs::OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .expect("/dev/full");
        let file = LogFile::from_file(Path::new("/dev/full"), full);
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut log = StepLog::new("node1", StageId::Storage, tx, Some(file));
        assert_eq!(log.write_error(), None);
        log.line("mkfs.ext4 said something", false);
        let err = log.write_error().expect("the failed write is kept");
        assert!(
            err.starts_with("cannot write the log file /dev/full: No space left on device"),
            "{err}"
        );
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
        let mut batches = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            assert_eq!(ev.host, "node1");
            match ev.kind {
                EventKind::Log { lines, stderr } => batches.push((lines.len(), stderr)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            batches,
            [(3, false), (1, true)],
            "the here-document is one batch, the output line another"
        );
    }
}
