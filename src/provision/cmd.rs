//! Commands as data. A stage builds its work as a list of `Cmd`s; the same list is what the
//! dry run prints and what `execute` runs, so what the operator reviewed is what happens.
//!
//! Every value that comes from a plan or from a host's facts goes through `quote` before it
//! becomes part of a command: it is data, never shell syntax.

use super::log::StepLog;
use super::remote::{OutLines, Remote, RemoteError};

/// One shell command, run as root on a host (or locally, for the Kubespray stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// Exactly what runs (and what the dry run shows).
    pub shell: String,
}

impl Cmd {
    pub fn new(shell: impl Into<String>) -> Self {
        Self {
            shell: shell.into(),
        }
    }

    /// A command from words, each quoted: `Cmd::words(["mkfs.ext4", "/dev/md0"])`.
    pub fn words<'a>(words: impl IntoIterator<Item = &'a str>) -> Self {
        Self::new(join(words))
    }

    /// Writes `contents` to `path` with a quoted here-document, so the file is part of the
    /// command text the operator sees.
    pub fn write_file(path: &str, contents: &str) -> Self {
        Self::new(format!("cat > {} {}", quote(path), heredoc(contents)))
    }
}

/// `contents` as a quoted here-document (`<<'RACKSTRAP_EOF'` ... `RACKSTRAP_EOF`), so the shell
/// expands nothing in it; the delimiter grows until no line of `contents` equals it.
pub fn heredoc(contents: &str) -> String {
    let mut delimiter = String::from("RACKSTRAP_EOF");
    while contents.lines().any(|l| l == delimiter) {
        delimiter.push('_');
    }
    let mut body = contents.to_string();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    format!("<<'{delimiter}'\n{body}{delimiter}")
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shell)
    }
}

/// Quotes one word for a POSIX shell (`text::shell_quote`): every value from a plan or a
/// host's facts is data, never shell syntax.
pub use crate::text::shell_quote as quote;

/// Quotes and joins words into one command line.
pub fn join<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// Why a step did not finish. The runner records the message as the step's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// A safety rule stopped the stage before it ran anything on this host.
    #[error("refused: {0}")]
    Refused(String),
    /// A destructive stage without the operator's consent.
    #[error(
        "needs confirmation: this stage formats disks on {0}; confirm by typing the host name in the wizard, or pass --yes"
    )]
    NeedsConsent(String),
    /// A command exited non-zero.
    #[error("`{command}` exited {status}{}", detail_suffix(.detail))]
    Command {
        command: String,
        status: u32,
        detail: String,
    },
    /// A check or verification found the host not as it must be.
    #[error("{0}")]
    Check(String),
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

/// The one place that decides "do it or only say it". In a dry run every command is logged
/// as `would run: ...` and nothing reaches the host.
pub async fn execute(
    remote: &dyn Remote,
    cmds: &[Cmd],
    dry_run: bool,
    log: &mut StepLog,
) -> Result<(), StepError> {
    execute_with(cmds, dry_run, log, &mut OnHost(remote)).await
}

impl AsRef<Cmd> for Cmd {
    fn as_ref(&self) -> &Cmd {
        self
    }
}

/// Who does the items [`execute_with`] is given, one at a time.
#[async_trait::async_trait]
pub trait Doer<T>: Send {
    async fn run(&mut self, item: &T, log: &mut StepLog) -> Result<(), StepError>;
}

/// Commands run on a host.
struct OnHost<'a>(&'a dyn Remote);

#[async_trait::async_trait]
impl Doer<Cmd> for OnHost<'_> {
    async fn run(&mut self, cmd: &Cmd, log: &mut StepLog) -> Result<(), StepError> {
        run_one(self.0, cmd, log).await
    }
}

/// [`execute`] for work that is not a shell command on a host (the Kubespray stage works in
/// the tree on this machine): each item shows as its command; `doer` does it, unless dry.
pub async fn execute_with<T: AsRef<Cmd> + Sync>(
    items: &[T],
    dry_run: bool,
    log: &mut StepLog,
    doer: &mut dyn Doer<T>,
) -> Result<(), StepError> {
    for item in items {
        if dry_run {
            log.note(&format!("would run: {}", item.as_ref().shell));
            continue;
        }
        doer.run(item, log).await?;
    }
    Ok(())
}

/// Runs one command, streaming its output into the step log a chunk at a time; non-zero exit
/// is an error that carries the first line it printed on stderr (else its last stdout line):
/// the cause.
pub async fn run_one(remote: &dyn Remote, cmd: &Cmd, log: &mut StepLog) -> Result<(), StepError> {
    log.command(&cmd.shell);
    let mut first_err = String::new();
    let mut last_out = String::new();
    let status = remote
        .exec(&cmd.shell, None, &mut |chunk: OutLines| {
            let said = |l: &&String| !l.trim().is_empty();
            // The first complaint is the cause (mkfs, mdadm); what follows is often usage.
            if chunk.stderr {
                if first_err.is_empty()
                    && let Some(l) = chunk.lines.iter().find(said)
                {
                    first_err = l.clone();
                }
            } else if let Some(l) = chunk.lines.iter().rfind(said) {
                last_out = l.clone();
            }
            log.lines(chunk.lines, chunk.stderr);
        })
        .await?;
    if status == 0 {
        Ok(())
    } else {
        let detail = if first_err.is_empty() {
            last_out
        } else {
            first_err
        };
        Err(StepError::Command {
            command: first_line(&cmd.shell).to_string(),
            status,
            detail: super::log::strip_ansi(detail.trim()),
        })
    }
}

/// The first line of a command (here-documents make long commands; errors name the start).
pub fn first_line(shell: &str) -> &str {
    shell.lines().next().unwrap_or(shell)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::event::{Backlog, EventKind, StageId, StepState};
    use crate::provision::log::LogFile;
    use crate::provision::remote::OutLines;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A host whose command prints `lines` lines in chunks of `chunk`, noting after each chunk
    /// how many lines are queued for the watcher.
    struct Chatty {
        lines: usize,
        chunk: usize,
        backlog: Arc<Backlog>,
        most_queued: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Remote for Chatty {
        async fn exec(
            &self,
            _command: &str,
            _stdin: Option<Vec<u8>>,
            on_output: &mut (dyn FnMut(OutLines) + Send),
        ) -> Result<u32, RemoteError> {
            let mut n = 0;
            while n < self.lines {
                let end = (n + self.chunk).min(self.lines);
                on_output(OutLines {
                    lines: (n..end).map(|i| format!("line {i}")).collect(),
                    stderr: false,
                });
                n = end;
                self.most_queued
                    .fetch_max(self.backlog.queued(), Ordering::Relaxed);
            }
            Ok(0)
        }
    }

    /// A watcher that reads nothing while a step prints a million lines: what waits for it
    /// stays within the bound, the log file has every line, one marker says how many lines
    /// were not shown and where they are, and the step's end still arrives.
    #[tokio::test]
    async fn a_watcher_that_reads_nothing_holds_at_most_the_bound() {
        const LINES: usize = 1_000_000;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("node1.log");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let backlog = Backlog::new(50_000);
        let mut log = StepLog::new(
            "node1",
            StageId::Kubespray,
            tx,
            Some(LogFile::create(&path).expect("log")),
        )
        .sharing(&backlog);
        let host = Chatty {
            lines: LINES,
            chunk: 1_000,
            backlog: backlog.clone(),
            most_queued: AtomicUsize::new(0),
        };
        run_one(&host, &Cmd::new("chatty"), &mut log)
            .await
            .expect("the command succeeds");
        log.emit(EventKind::Finished {
            state: StepState::Done,
            message: String::new(),
        });
        drop(log);

        let most = host.most_queued.load(Ordering::Relaxed);
        assert!(most <= 50_000, "{most} lines queued, over the bound");
        assert_eq!(most, 50_000, "the watcher was sent what the bound allows");
        let logged = std::fs::read(&path).expect("log file");
        assert_eq!(
            logged.iter().filter(|&&b| b == b'\n').count(),
            LINES + 1,
            "the command line and every output line are in the file"
        );
        assert!(logged.ends_with(b"line 999999\n"));

        let mut shown = 0;
        let mut markers = Vec::new();
        let mut last = None;
        while let Ok(ev) = rx.try_recv() {
            if let EventKind::Log { lines, .. } = &ev.kind {
                for l in lines.iter() {
                    if l.starts_with("... ") {
                        markers.push(l.clone());
                    } else {
                        shown += 1;
                    }
                }
            }
            last = Some(ev.kind);
        }
        assert_eq!(shown, 50_000);
        assert_eq!(
            markers,
            [format!(
                "... 950,001 lines not shown here; the log file has every line: {}",
                path.display()
            )],
            "one marker, with the count of every line the watcher did not get"
        );
        assert!(
            matches!(
                last,
                Some(EventKind::Finished {
                    state: StepState::Done,
                    ..
                })
            ),
            "{last:?}"
        );
        assert_eq!(
            backlog.queued(),
            0,
            "read (or dropped), the lines give their room back"
        );
    }

    /// Once the watcher catches up, output is shown again, after a marker for the gap.
    #[tokio::test]
    async fn output_is_shown_again_after_the_watcher_catches_up() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let backlog = Backlog::new(10);
        let mut log = StepLog::new("node1", StageId::Storage, tx, None).sharing(&backlog);
        let batch = |from: usize| (from..from + 4).map(|i| i.to_string()).collect::<Vec<_>>();
        log.lines(batch(0), false);
        log.lines(batch(4), false);
        log.lines(batch(8), true);
        log.lines(batch(12), false);
        assert_eq!(backlog.queued(), 10);
        let mut seen = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            if let EventKind::Log { lines, stderr } = ev.kind {
                seen.push((lines.into_vec(), stderr));
            }
        }
        assert_eq!(backlog.queued(), 0);
        log.lines(batch(16), false);
        while let Ok(ev) = rx.try_recv() {
            if let EventKind::Log { lines, stderr } = ev.kind {
                seen.push((lines.into_vec(), stderr));
            }
        }
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            seen,
            [
                (s(&["0", "1", "2", "3"]), false),
                (s(&["4", "5", "6", "7"]), false),
                (s(&["8", "9"]), true),
                (
                    s(&["... 6 lines not shown here; this run keeps no log file"]),
                    false
                ),
                (s(&["16", "17", "18", "19"]), false),
            ]
        );
    }

    #[test]
    fn quoting_keeps_plain_words_and_protects_the_rest() {
        assert_eq!(quote("/dev/md0"), "/dev/md0");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(quote(""), "''");
        assert_eq!(
            join(["mkfs.ext4", "/dev/nvme0n1", "x;y"]),
            "mkfs.ext4 /dev/nvme0n1 'x;y'"
        );
    }

    #[test]
    fn here_document_delimiter_never_collides_with_contents() {
        let cmd = Cmd::write_file("/etc/x.conf", "a = 1\nRACKSTRAP_EOF\n");
        assert_eq!(
            cmd.shell,
            "cat > /etc/x.conf <<'RACKSTRAP_EOF_'\na = 1\nRACKSTRAP_EOF\nRACKSTRAP_EOF_"
        );
    }
}
