//! Running commands on a [`Session`]: as root (`sh -c`, through sudo for other users) or as
//! the login user, line by line or a chunk at a time, or collected. Each command opens its
//! own channel, so several may run at once. OpenSSH sends EOF before the exit status, so a
//! channel is read until it closes and only then is the status reported.

use russh::ChannelMsg;

use super::{Session, SshError};

/// One line of a command's output, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Stdout(String),
    Stderr(String),
}

/// The complete lines of one chunk of a command's output (one read from the connection), all
/// from stdout or all from stderr, without their newlines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    pub lines: Vec<String>,
    pub stderr: bool,
}

/// A finished command's collected output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub status: u32,
    pub stdout: String,
    pub stderr: String,
}

impl Session {
    /// Run a shell command as root (through sudo for other users), streaming each output line
    /// to `on_line` as it arrives, and return the exit status.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        on_line: impl FnMut(Line) + Send,
    ) -> Result<u32, SshError> {
        let (wrapped, stdin) = self.privileged(command, stdin);
        self.exec_unprivileged(&wrapped, stdin, on_line).await
    }

    /// [`Session::exec`] handing output over a chunk at a time, as it arrived: one call per
    /// read from the connection rather than per line (what a chatty command's consumer wants).
    pub async fn exec_chunks(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        on_chunk: impl FnMut(Chunk) + Send,
    ) -> Result<u32, SshError> {
        let (wrapped, stdin) = self.privileged(command, stdin);
        self.exec_chunks_unprivileged(&wrapped, stdin, on_chunk)
            .await
    }

    /// `exec` collecting the output.
    pub async fn run(&self, command: &str) -> Result<Output, SshError> {
        let mut stdout = String::new();
        let mut stderr = String::new();
        let status = self
            .exec(command, None, |line| match line {
                Line::Stdout(l) => {
                    stdout.push_str(&l);
                    stdout.push('\n');
                }
                Line::Stderr(l) => {
                    stderr.push_str(&l);
                    stderr.push('\n');
                }
            })
            .await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    /// The command line and stdin that run `command` as root.
    fn privileged(&self, command: &str, stdin: Option<Vec<u8>>) -> (String, Option<Vec<u8>>) {
        let quoted = quote(command);
        if self.is_root() {
            return (format!("sh -c {quoted}"), stdin);
        }
        match &self.inner.sudo_password {
            None => (format!("sudo -n -- sh -c {quoted}"), stdin),
            Some(password) => {
                // `-k` makes sudo read the password every time, so the first stdin line is
                // always consumed by sudo and never reaches the command.
                let mut input = format!("{password}\n").into_bytes();
                input.extend(stdin.unwrap_or_default());
                (format!("sudo -S -k -p '' -- sh -c {quoted}"), Some(input))
            }
        }
    }

    /// Run a command as the login user, without sudo (the login shell interprets it).
    pub async fn exec_unprivileged(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        mut on_line: impl FnMut(Line) + Send,
    ) -> Result<u32, SshError> {
        self.exec_chunks_unprivileged(command, stdin, |chunk| {
            for l in chunk.lines {
                on_line(if chunk.stderr {
                    Line::Stderr(l)
                } else {
                    Line::Stdout(l)
                });
            }
        })
        .await
    }

    /// [`Session::exec_unprivileged`] a chunk at a time.
    pub async fn exec_chunks_unprivileged(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        mut on_chunk: impl FnMut(Chunk) + Send,
    ) -> Result<u32, SshError> {
        let lost = |e: russh::Error| SshError::Disconnected(e.to_string());
        let mut channel = self
            .inner
            .handle
            .channel_open_session()
            .await
            .map_err(lost)?;
        channel.exec(true, command).await.map_err(lost)?;
        if let Some(input) = stdin {
            channel.data_bytes(input).await.map_err(lost)?;
        }
        // Always send EOF: a command reading stdin must not wait forever.
        channel.eof().await.map_err(lost)?;

        let mut out = LineBuffer::default();
        let mut err = LineBuffer::default();
        let mut status = None;
        let mut signal = None;
        let mut hand_over = |lines: Vec<String>, stderr: bool| {
            if !lines.is_empty() {
                on_chunk(Chunk { lines, stderr });
            }
        };
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => hand_over(out.push(&data), false),
                ChannelMsg::ExtendedData { data, ext: 1 } => hand_over(err.push(&data), true),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    signal = Some(format!("{signal_name:?}"))
                }
                // EOF comes before the exit status: keep reading until the channel closes.
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        hand_over(out.finish(), false);
        hand_over(err.finish(), true);
        match (status, signal) {
            (Some(status), _) => Ok(status),
            (None, Some(signal)) => Err(SshError::Signalled(signal)),
            (None, None) => Err(SshError::Disconnected(
                "the channel closed without an exit status".into(),
            )),
        }
    }
}

/// Quote for a POSIX shell. A command with a NUL cannot be quoted; it becomes a command that
/// fails with a message instead of being run mangled.
pub(super) fn quote(command: &str) -> String {
    match shlex::try_quote(command) {
        Ok(q) => q.into_owned(),
        Err(_) => "'echo \"rackstrap: command contains a NUL byte\" >&2; exit 2'".to_string(),
    }
}

/// Splits a byte stream into lines; a trailing partial line is kept until more data or the end.
#[derive(Default)]
pub(super) struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// The lines completed by `data`. Lines are cut where they lie in the chunk; only a line
    /// split across chunks is copied into `pending` first: a chunk of many short lines costs
    /// one pass over its bytes and one copy of each line (the `String` handed over).
    pub(super) fn push(&mut self, data: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut rest = data;
        if !self.pending.is_empty() {
            let Some(pos) = memchr::memchr(b'\n', rest) else {
                self.pending.extend_from_slice(rest);
                return lines;
            };
            self.pending.extend_from_slice(&rest[..pos]);
            lines.push(lossy(trim_cr(&self.pending)));
            self.pending.clear();
            rest = &rest[pos + 1..];
        }
        // memchr finds the newlines a vector register at a time, not a byte at a time.
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            lines.push(lossy(trim_cr(&rest[..pos])));
            rest = &rest[pos + 1..];
        }
        self.pending.extend_from_slice(rest);
        lines
    }

    /// The last line, when the output did not end with a newline.
    pub(super) fn finish(&mut self) -> Vec<String> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let line = std::mem::take(&mut self.pending);
        vec![lossy(&line)]
    }
}

/// A line without the `\r` of a CRLF ending.
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The line as text, invalid UTF-8 replaced. Valid lines (nearly all) take the fast check and
/// one copy; only the others go through the replacing decoder.
fn lossy(line: &[u8]) -> String {
    match std::str::from_utf8(line) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(line).into_owned(),
    }
}
