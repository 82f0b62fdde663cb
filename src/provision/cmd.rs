//! Commands as data. A stage builds its work as a list of `Cmd`s; the same list is what the
//! dry run prints and what `execute` runs, so what the operator reviewed is what happens.
//!
//! Every value that comes from a plan or from a host's facts goes through `quote` before it
//! becomes part of a command: it is data, never shell syntax.

use super::log::StepLog;
use super::remote::{OutLine, Remote, RemoteError};

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

/// Quotes one word for a POSIX shell. NUL bytes cannot be passed to a shell at all; they are
/// dropped (no plan or fact value legitimately holds one).
pub fn quote(word: &str) -> String {
    let clean: String = word.chars().filter(|c| *c != '\0').collect();
    // Words of only these characters mean the same quoted or not; leaving them bare keeps
    // commands readable (`--level=raid0`, `defaults,discard`).
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !clean.is_empty() && clean.chars().all(plain) {
        return clean;
    }
    match shlex::try_quote(&clean) {
        Ok(q) => q.into_owned(),
        // Unreachable after removing NULs, but never panic on data.
        Err(_) => "''".to_string(),
    }
}

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
    for cmd in cmds {
        if dry_run {
            log.note(&format!("would run: {}", cmd.shell));
            continue;
        }
        run_one(remote, cmd, log).await?;
    }
    Ok(())
}

/// Runs one command, streaming its output into the step log; non-zero exit is an error that
/// carries the first line it printed on stderr (else its last stdout line): the cause.
pub async fn run_one(remote: &dyn Remote, cmd: &Cmd, log: &mut StepLog) -> Result<(), StepError> {
    log.command(&cmd.shell);
    let mut first_err = String::new();
    let mut last_out = String::new();
    let status = remote
        .exec(&cmd.shell, None, &mut |line: OutLine| {
            if !line.text.trim().is_empty() {
                // The first complaint is the cause (mkfs, mdadm); what follows is often usage.
                if line.stderr {
                    if first_err.is_empty() {
                        first_err = line.text.clone();
                    }
                } else {
                    last_out = line.text.clone();
                }
            }
            log.line(&line.text, line.stderr);
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
