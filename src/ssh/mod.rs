//! The SSH client (russh): connect with pinned host keys, authenticate, run commands as root.
//!
//! Data flow: [`Session::connect`] opens TCP (connect timeout), runs the SSH handshake, checks
//! the host key against the known_hosts files ([`known_hosts`]), authenticates, and for a
//! non-root user probes `sudo`. The returned [`Session`] is a cheap clone over one connection;
//! each [`Session::exec`] opens its own channel, so several commands may run at once.
//!
//! Failures are typed ([`SshError`]) because callers branch on them: discovery turns each into
//! the state it shows for that address, stages stop a host on them.
//!
//! Rules kept here:
//! - a host whose key differs from the pinned one is refused before authentication; nothing
//!   runs on it ([`SshError::HostKeyChanged`] carries both SHA256 fingerprints);
//! - a key seen for the first time is pinned into rackstrap's known_hosts only when
//!   [`ConnectOptions::accept_new`] is set, otherwise [`SshError::UnknownHostKey`];
//! - commands run through `sh -c` with the command quoted by `shlex`; for a non-root user
//!   through `sudo -n`, or `sudo -S` with the sudo password written to the command's stdin,
//!   never to a command line or a log ([`ConnectOptions`]'s `Debug` hides it);
//! - password authentication exists only to install the operator's public key
//!   ([`install_public_key`], the `ssh-copy-id` step).
//!
//! OpenSSH sends EOF before the exit status, so `exec` reads its channel until the channel
//! closes and only then reports the status.

pub mod auth;
pub mod known_hosts;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use russh::{ChannelMsg, Preferred};
use tokio::net::TcpStream;

pub use auth::PassphraseCallback;
use known_hosts::{KnownHosts, Verdict};

/// How long to wait for TCP and the SSH greeting by default. A /24 scan with a bound of 64
/// connections takes at most 4 rounds of this for silent addresses.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long authentication (and the sudo probe) may take by default.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(15);
/// Keepalive interval; three unanswered keepalives close the connection (OpenSSH's
/// `ServerAliveCountMax` default).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_MAX: usize = 3;

/// The ciphers offered, best first: only ones OpenSSH's client enables by default (see
/// `Ciphers` in ssh_config(5)), all authenticated encryption or encrypt-then-MAC.
///
/// Where the CPU has AES and carry-less multiply instructions (x86-64 AES-NI and PCLMULQDQ,
/// ARMv8 AES and PMULL), AES-GCM comes first: there it costs a fraction of chacha20-poly1305
/// on both ends of the connection, and a command printing megabytes of logs is bound by it.
/// Without them chacha20-poly1305 comes first, as in russh's and OpenSSH's own order, since
/// AES in software is slower (and must avoid table lookups to stay constant-time).
fn cipher_order() -> &'static [russh::cipher::Name] {
    use russh::cipher::{
        AES_128_CTR, AES_128_GCM, AES_192_CTR, AES_256_CTR, AES_256_GCM, CHACHA20_POLY1305,
    };
    const HARDWARE_AES: &[russh::cipher::Name] = &[
        AES_128_GCM,
        AES_256_GCM,
        CHACHA20_POLY1305,
        AES_128_CTR,
        AES_192_CTR,
        AES_256_CTR,
    ];
    const SOFTWARE_AES: &[russh::cipher::Name] = &[
        CHACHA20_POLY1305,
        AES_128_GCM,
        AES_256_GCM,
        AES_128_CTR,
        AES_192_CTR,
        AES_256_CTR,
    ];
    if hardware_aes() {
        HARDWARE_AES
    } else {
        SOFTWARE_AES
    }
}

fn hardware_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// Everything needed to reach hosts. Cheap to clone; one value serves a whole discovery.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Login user; anything but `root` runs commands through sudo.
    pub user: String,
    pub port: u16,
    /// Private key file. `None`: ssh-agent, then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`.
    pub identity: Option<PathBuf>,
    /// rackstrap's own known_hosts; new keys are pinned here.
    pub known_hosts: PathBuf,
    /// Other known_hosts files honoured read-only (default: the user's `~/.ssh/known_hosts`).
    pub extra_known_hosts: Vec<PathBuf>,
    /// Pin keys seen for the first time without asking.
    pub accept_new: bool,
    /// SHA256 fingerprints (`SHA256:...`) the operator confirmed: a host offering one of these
    /// for the first time is pinned even without `accept_new` (the wizard's "accept" after
    /// showing [`SshError::UnknownHostKey`]'s fingerprint). A changed key is never accepted.
    pub accepted_fingerprints: Vec<String>,
    /// TCP connect plus SSH greeting and key exchange.
    pub connect_timeout: Duration,
    /// Authentication plus the sudo probe.
    pub auth_timeout: Duration,
    pub keepalive: Duration,
    /// Try the ssh-agent when no identity file is given.
    pub use_agent: bool,
    /// The agent's socket; `None`: `$SSH_AUTH_SOCK`.
    pub agent_socket: Option<PathBuf>,
    /// Asked for the passphrase of an encrypted key.
    pub passphrase: Option<PassphraseCallback>,
    /// Sent on stdin to `sudo -S`; never logged, never on a command line.
    pub sudo_password: Option<String>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("user", &self.user)
            .field("port", &self.port)
            .field("identity", &self.identity)
            .field("known_hosts", &self.known_hosts)
            .field("extra_known_hosts", &self.extra_known_hosts)
            .field("accept_new", &self.accept_new)
            .field("accepted_fingerprints", &self.accepted_fingerprints)
            .field("connect_timeout", &self.connect_timeout)
            .field("auth_timeout", &self.auth_timeout)
            .field("use_agent", &self.use_agent)
            .field("agent_socket", &self.agent_socket)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<callback>"),
            )
            .field(
                "sudo_password",
                &self.sudo_password.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        let home = std::env::home_dir();
        ConnectOptions {
            user: "root".into(),
            port: 22,
            identity: None,
            known_hosts: default_known_hosts(),
            extra_known_hosts: home
                .map(|h| vec![h.join(".ssh").join("known_hosts")])
                .unwrap_or_default(),
            accept_new: false,
            accepted_fingerprints: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            keepalive: DEFAULT_KEEPALIVE,
            use_agent: true,
            agent_socket: None,
            passphrase: None,
            sudo_password: None,
        }
    }
}

impl ConnectOptions {
    /// Options for `user` on `port` with a key file; everything else default.
    pub fn new(user: impl Into<String>, port: u16, identity: Option<PathBuf>) -> Self {
        ConnectOptions {
            user: user.into(),
            port,
            identity,
            ..Default::default()
        }
    }

    /// The known_hosts files these options check host keys against.
    pub fn known(&self) -> KnownHosts {
        KnownHosts {
            own: self.known_hosts.clone(),
            extra: self.extra_known_hosts.clone(),
        }
    }
}

/// `$XDG_CONFIG_HOME/rackstrap/known_hosts`, else `~/.config/rackstrap/known_hosts`.
pub fn default_known_hosts() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::home_dir().map(|h| h.join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("rackstrap").join("known_hosts")
}

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
    KnownHosts(known_hosts::Unreadable),
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

/// An authenticated connection. Clones share the connection; it closes when the last clone
/// is dropped.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    handle: client::Handle<Client>,
    address: String,
    user: String,
    fingerprint: String,
    newly_pinned: bool,
    sudo_password: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("address", &self.inner.address)
            .field("user", &self.inner.user)
            .field("fingerprint", &self.inner.fingerprint)
            .finish()
    }
}

/// What the host key check decided, read back after the handshake.
#[derive(Debug, Clone)]
enum KeyOutcome {
    Trusted(String),
    Pinned(String),
    Refused(Verdict),
    PinFailed(String),
}

struct Client {
    host: String,
    port: u16,
    known: KnownHosts,
    accept_new: bool,
    accepted: Vec<String>,
    outcome: Arc<Mutex<Option<KeyOutcome>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            // Host certificates are not asked for; a server sending one anyway is not trusted.
            return Ok(false);
        };
        let outcome = match self.known.check(&self.host, self.port, key) {
            Verdict::Trusted => KeyOutcome::Trusted(known_hosts::fingerprint(key)),
            Verdict::Unknown { fingerprint }
                if self.accept_new || self.accepted.contains(&fingerprint) =>
            {
                match self.known.pin(&self.host, self.port, key) {
                    Ok(()) => KeyOutcome::Pinned(fingerprint),
                    Err(e) => KeyOutcome::PinFailed(format!("{}: {e}", self.known.own.display())),
                }
            }
            refused => KeyOutcome::Refused(refused),
        };
        let accept = matches!(outcome, KeyOutcome::Trusted(_) | KeyOutcome::Pinned(_));
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(outcome);
        }
        Ok(accept)
    }
}

/// Host part without IPv6 brackets.
fn bare_host(address: &str) -> &str {
    address.trim_start_matches('[').trim_end_matches(']')
}

/// The credential used after the handshake.
enum Credential<'a> {
    Keys,
    Password(&'a str),
}

impl Session {
    /// Connect and authenticate with keys (identity file, or agent then default key files).
    pub async fn connect(address: &str, opts: &ConnectOptions) -> Result<Session, SshError> {
        Self::open(address, opts, Credential::Keys, true).await
    }

    /// [`Session::connect`] over a TCP connection [`reach`] opened: the SSH part alone, so a
    /// caller can bound the two parts apart (discovery waits on silent addresses by the
    /// hundred, but runs handshakes a few dozen at a time).
    pub async fn connect_over(
        address: &str,
        stream: TcpStream,
        opts: &ConnectOptions,
    ) -> Result<Session, SshError> {
        Self::open_over(address, stream, opts, Credential::Keys, true).await
    }

    async fn open(
        address: &str,
        opts: &ConnectOptions,
        credential: Credential<'_>,
        probe_sudo: bool,
    ) -> Result<Session, SshError> {
        let stream = reach(address, opts).await?;
        Self::open_over(address, stream, opts, credential, probe_sudo).await
    }

    async fn open_over(
        address: &str,
        stream: TcpStream,
        opts: &ConnectOptions,
        credential: Credential<'_>,
        probe_sudo: bool,
    ) -> Result<Session, SshError> {
        let host = bare_host(address);
        let known = opts.known();
        let preferred = Preferred {
            key: Cow::Owned(known.preferred_algorithms(host, opts.port)),
            cipher: Cow::Borrowed(cipher_order()),
            ..Preferred::default()
        };
        let config = Arc::new(client::Config {
            keepalive_interval: Some(opts.keepalive),
            keepalive_max: KEEPALIVE_MAX,
            preferred,
            nodelay: true,
            ..Default::default()
        });
        let outcome = Arc::new(Mutex::new(None));
        let handler = Client {
            host: host.to_string(),
            port: opts.port,
            known,
            accept_new: opts.accept_new,
            accepted: opts.accepted_fingerprints.clone(),
            outcome: outcome.clone(),
        };
        let handshake = tokio::time::timeout(
            opts.connect_timeout,
            client::connect_stream(config, stream, handler),
        )
        .await;
        let key_outcome = outcome.lock().ok().and_then(|o| o.clone());
        let mut handle = match (handshake, key_outcome) {
            (_, Some(KeyOutcome::Refused(Verdict::Changed { pinned, offered }))) => {
                return Err(SshError::HostKeyChanged { pinned, offered });
            }
            (_, Some(KeyOutcome::Refused(Verdict::Unknown { fingerprint }))) => {
                return Err(SshError::UnknownHostKey { fingerprint });
            }
            (_, Some(KeyOutcome::Refused(Verdict::Revoked { fingerprint, at }))) => {
                return Err(SshError::HostKeyRevoked { fingerprint, at });
            }
            (_, Some(KeyOutcome::Refused(Verdict::Unreadable(e)))) => {
                return Err(SshError::KnownHosts(e));
            }
            (_, Some(KeyOutcome::PinFailed(message))) => {
                return Err(SshError::Io(std::io::Error::other(format!(
                    "cannot pin host key in {message}"
                ))));
            }
            (Ok(Ok(handle)), _) => handle,
            (Err(_), None) => {
                return Err(SshError::NotSsh(format!(
                    "no SSH greeting within {:?}",
                    opts.connect_timeout
                )));
            }
            (Err(_), Some(_)) => return Err(SshError::Timeout("key exchange")),
            (Ok(Err(e)), None) => return Err(SshError::NotSsh(e.to_string())),
            (Ok(Err(e)), Some(_)) => return Err(SshError::Disconnected(e.to_string())),
        };
        let (fingerprint, newly_pinned) = match outcome.lock().ok().and_then(|o| o.clone()) {
            Some(KeyOutcome::Pinned(fp)) => (fp, true),
            Some(KeyOutcome::Trusted(fp)) => (fp, false),
            _ => (String::new(), false),
        };

        let authenticated = tokio::time::timeout(opts.auth_timeout, async {
            match credential {
                Credential::Keys => authenticate_with_keys(&mut handle, opts).await,
                Credential::Password(password) => {
                    let result = handle
                        .authenticate_password(opts.user.clone(), password)
                        .await
                        .map_err(|e| SshError::Disconnected(e.to_string()))?;
                    if result.success() {
                        Ok(())
                    } else {
                        Err(SshError::AuthFailed(format!(
                            "password refused for {}",
                            opts.user
                        )))
                    }
                }
            }
        })
        .await;
        match authenticated {
            Err(_) => return Err(SshError::Timeout("authentication")),
            Ok(result) => result?,
        }

        let session = Session {
            inner: Arc::new(Inner {
                handle,
                address: address.to_string(),
                user: opts.user.clone(),
                fingerprint,
                newly_pinned,
                sudo_password: opts.sudo_password.clone(),
            }),
        };
        if probe_sudo && !session.is_root() {
            match tokio::time::timeout(opts.auth_timeout, session.probe_sudo()).await {
                Err(_) => return Err(SshError::Timeout("sudo probe")),
                Ok(result) => result?,
            }
        }
        Ok(session)
    }

    /// The address as given to `connect`.
    pub fn address(&self) -> &str {
        &self.inner.address
    }

    pub fn user(&self) -> &str {
        &self.inner.user
    }

    /// `SHA256:...` of the host key this session was verified with.
    pub fn fingerprint(&self) -> &str {
        &self.inner.fingerprint
    }

    /// True when this connection pinned the host key for the first time.
    pub fn newly_pinned(&self) -> bool {
        self.inner.newly_pinned
    }

    pub fn is_root(&self) -> bool {
        self.inner.user == "root"
    }

    /// Check that sudo works without a prompt (or with the given password) before anything
    /// else runs, so a host reports "sudo needs a password" instead of failing mid-stage.
    async fn probe_sudo(&self) -> Result<(), SshError> {
        let (command, stdin) = match &self.inner.sudo_password {
            None => ("sudo -n true".to_string(), None),
            Some(password) => (
                "sudo -S -k -p '' true".to_string(),
                Some(format!("{password}\n").into_bytes()),
            ),
        };
        let mut stderr = String::new();
        let status = self
            .exec_unprivileged(&command, stdin, |line| {
                if let Line::Stderr(l) = line {
                    stderr.push_str(&l);
                    stderr.push('\n');
                }
            })
            .await?;
        if status == 0 {
            return Ok(());
        }
        let message = stderr.trim().to_string();
        if self.inner.sudo_password.is_none() && message.contains("password") {
            return Err(SshError::SudoNeedsPassword);
        }
        Err(SshError::SudoRefused(if message.is_empty() {
            format!("`sudo` exited with status {status}")
        } else {
            message
        }))
    }

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

    /// Close the connection politely (dropping the last clone closes it too).
    pub async fn close(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// The TCP connection to `address` on the configured port, within the connect timeout: the
/// first step of every [`Session`].
pub async fn reach(address: &str, opts: &ConnectOptions) -> Result<TcpStream, SshError> {
    let host = bare_host(address);
    let stream =
        match tokio::time::timeout(opts.connect_timeout, TcpStream::connect((host, opts.port)))
            .await
        {
            Err(_) => return Err(SshError::NoAnswer(opts.connect_timeout)),
            Ok(Err(e)) => return Err(classify_connect_error(host, e, opts.connect_timeout)),
            Ok(Ok(stream)) => stream,
        };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Quote for a POSIX shell. A command with a NUL cannot be quoted; it becomes a command that
/// fails with a message instead of being run mangled.
fn quote(command: &str) -> String {
    match shlex::try_quote(command) {
        Ok(q) => q.into_owned(),
        Err(_) => "'echo \"rackstrap: command contains a NUL byte\" >&2; exit 2'".to_string(),
    }
}

fn classify_connect_error(host: &str, e: std::io::Error, waited: Duration) -> SshError {
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

async fn authenticate_with_keys(
    handle: &mut client::Handle<Client>,
    opts: &ConnectOptions,
) -> Result<(), SshError> {
    let lost = |e: russh::Error| SshError::Disconnected(e.to_string());
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    let mut tried = Vec::new();

    let files = match &opts.identity {
        Some(path) => vec![path.clone()],
        None => {
            let agent = match (&opts.use_agent, &opts.agent_socket) {
                (false, _) => None,
                (true, Some(socket)) => {
                    russh::keys::agent::client::AgentClient::connect_uds(socket)
                        .await
                        .ok()
                }
                (true, None) => russh::keys::agent::client::AgentClient::connect_env()
                    .await
                    .ok(),
            };
            if let Some(mut agent) = agent {
                let identities = agent.request_identities().await.unwrap_or_default();
                for identity in identities {
                    let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = identity else {
                        continue;
                    };
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    match handle
                        .authenticate_publickey_with(opts.user.clone(), key, hash, &mut agent)
                        .await
                    {
                        Ok(result) if result.success() => return Ok(()),
                        _ => {}
                    }
                }
                tried.push("ssh-agent".to_string());
            }
            auth::default_identities()
        }
    };
    if files.is_empty() && tried.is_empty() {
        return Err(SshError::AuthFailed(
            "no key to offer: give an identity file or start ssh-agent".into(),
        ));
    }
    let explicit = opts.identity.is_some();
    for path in files {
        let key = match auth::load_key(&path, opts.passphrase.as_ref()).await {
            Ok(key) => key,
            // A key the operator named must load; a default key that does not is skipped.
            Err(e) if explicit => return Err(e),
            Err(_) => continue,
        };
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        let result = handle
            .authenticate_publickey(
                opts.user.clone(),
                russh::keys::PrivateKeyWithHashAlg::new(key, hash),
            )
            .await
            .map_err(lost)?;
        if result.success() {
            return Ok(());
        }
        tried.push(path.display().to_string());
    }
    Err(SshError::AuthFailed(format!(
        "{} refused {}",
        opts.user,
        if tried.is_empty() {
            "every key".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

/// The `ssh-copy-id` step: log in with a password once and append `public_key` (one line of
/// an `.pub` file) to the user's `~/.ssh/authorized_keys`, unless it is already there, with
/// the permissions sshd requires (700 on `~/.ssh`, 600 on the file). Host key pinning applies
/// as for any connection. The password is used for this login only and kept nowhere.
pub async fn install_public_key(
    address: &str,
    opts: &ConnectOptions,
    password: &str,
    public_key: &str,
) -> Result<(), SshError> {
    let line = public_key.trim();
    if line.is_empty() || line.contains('\n') {
        return Err(SshError::Key {
            path: PathBuf::from("<public key>"),
            message: "expected exactly one public key line".into(),
        });
    }
    let session = Session::open(address, opts, Credential::Password(password), false).await?;
    // The key travels on stdin so that it is data, never part of the command.
    let script = r#"set -e
umask 077
key=$(cat)
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
touch "$HOME/.ssh/authorized_keys"
chmod 600 "$HOME/.ssh/authorized_keys"
if ! grep -qxF -- "$key" "$HOME/.ssh/authorized_keys"; then
  if [ -s "$HOME/.ssh/authorized_keys" ] && [ "$(tail -c1 "$HOME/.ssh/authorized_keys" | od -An -c | tr -d ' ')" != '\n' ]; then
    echo >> "$HOME/.ssh/authorized_keys"
  fi
  printf '%s\n' "$key" >> "$HOME/.ssh/authorized_keys"
fi"#;
    let mut stderr = String::new();
    let status = session
        .exec_unprivileged(
            &format!("sh -c {}", quote(script)),
            Some(format!("{line}\n").into_bytes()),
            |l| {
                if let Line::Stderr(l) = l {
                    stderr.push_str(&l);
                }
            },
        )
        .await?;
    session.close().await;
    if status != 0 {
        return Err(SshError::Io(std::io::Error::other(format!(
            "installing the key failed ({status}): {stderr}"
        ))));
    }
    Ok(())
}

/// Splits a byte stream into lines; a trailing partial line is kept until more data or the end.
#[derive(Default)]
struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// The lines completed by `data`. Lines are cut where they lie in the chunk; only a line
    /// split across chunks is copied into `pending` first: a chunk of many short lines costs
    /// one pass over its bytes and one copy of each line (the `String` handed over).
    fn push(&mut self, data: &[u8]) -> Vec<String> {
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
    fn finish(&mut self) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_buffer_splits_across_chunks() {
        let mut buffer = LineBuffer::default();
        assert_eq!(buffer.push(b"one\ntw"), ["one"]);
        assert_eq!(buffer.push(b"o\r\nthree"), ["two"]);
        assert_eq!(buffer.finish(), ["three"]);
    }

    #[test]
    fn line_buffer_cuts_many_lines_of_one_chunk() {
        let mut buffer = LineBuffer::default();
        assert_eq!(
            buffer.push(b"a\r\n\nb\nc"),
            ["a", "", "b"],
            "one chunk, one batch"
        );
        assert!(buffer.push(b"d\r").is_empty());
        assert_eq!(buffer.push(b"\n"), ["cd"]);
        assert!(buffer.finish().is_empty(), "nothing left over");
    }

    #[test]
    fn only_ciphers_openssh_enables_by_default_are_offered() {
        // ssh_config(5), OpenSSH 9: the default `Ciphers`.
        let openssh = [
            "chacha20-poly1305@openssh.com",
            "aes128-ctr",
            "aes192-ctr",
            "aes256-ctr",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
        ];
        let order: Vec<&str> = cipher_order().iter().map(|c| c.as_ref()).collect();
        assert!(order.iter().all(|c| openssh.contains(c)), "{order:?}");
        let first = if hardware_aes() {
            "aes128-gcm@openssh.com"
        } else {
            "chacha20-poly1305@openssh.com"
        };
        assert_eq!(order[0], first);
    }

    #[test]
    fn debug_hides_the_sudo_password() {
        let opts = ConnectOptions {
            sudo_password: Some("hunter2".into()),
            ..ConnectOptions::default()
        };
        let text = format!("{opts:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<hidden>"));
    }

    #[test]
    fn quoting_keeps_values_as_data() {
        let q = quote("echo '$(reboot)'; ls");
        assert_eq!(shlex::split(&q).unwrap(), ["echo '$(reboot)'; ls"]);
    }
}
