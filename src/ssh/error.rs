//! Why a connection or a command failed: typed, because callers branch on it (discovery
//! shows each as the state of its address, stages stop a host on it).

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
    #[error("timed out during {0}")]
    Timeout(&'static str),
    #[error("port closed (connection refused)")]
    PortClosed,
    #[error("not an SSH server: {0}")]
    NotSsh(String),
    #[error("authentication failed: {0}")]
    AuthFailed(String),
    #[error(
        "host key changed: pinned {pinned}, offered {offered}; nothing was run. If the host was reinstalled, remove its line from the known_hosts file and connect again"
    )]
    HostKeyChanged { pinned: String, offered: String },
    #[error("unknown host key {fingerprint}; accept it to pin it")]
    UnknownHostKey { fingerprint: String },
    /// OpenSSH's words for it ("REVOKED HOST KEY DETECTED"), so searches find the same advice.
    #[error("REVOKED HOST KEY DETECTED: {fingerprint} is marked @revoked ({at}); nothing was run")]
    HostKeyRevoked { fingerprint: String, at: String },
    /// A known_hosts file could not be read, so no key could be checked.
    #[error("host key not checked: known_hosts {0}; nothing was run")]
    KnownHosts(super::known_hosts::Unreadable),
    /// The host answered and its key was accepted, but the pin could not be written (a full
    /// disk, a read-only directory): nothing was run, since the next contact could not check
    /// the key.
    #[error(
        "host key {fingerprint} accepted but not pinned: cannot write {}: {reason}; nothing was run",
        file.display()
    )]
    PinFailed {
        fingerprint: String,
        file: PathBuf,
        reason: String,
    },
    #[error("sudo needs a password for this user: give the sudo password, or allow NOPASSWD")]
    SudoNeedsPassword,
    #[error("sudo refused: {0}")]
    SudoRefused(String),
    #[error("key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("connection lost: {0}")]
    Disconnected(String),
    #[error("command killed by signal {0}")]
    Signalled(String),
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub(super) fn classify_connect_error(host: &str, e: std::io::Error, waited: Duration) -> SshError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => SshError::PortClosed,
        ErrorKind::TimedOut => SshError::NoAnswer(waited),
        // Unreachable hosts stay an io error so the message says why; discovery counts them
        // as "no answer".
        // tokio reports a failed name lookup as an uncategorised io error.
        _ if e.to_string().contains("lookup") || e.to_string().contains("resolve") => {
            SshError::Resolve(host.to_string())
        }
        _ => SshError::Io(e),
    }
}
