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
mod error;
mod exec;
pub mod known_hosts;
mod options;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use russh::Preferred;
use russh::client;
use russh::keys::PublicKeyOrCertificate;
use tokio::net::TcpStream;

use auth::authenticate_with_keys;
pub use auth::{PassphraseCallback, install_public_key};
pub use error::SshError;
use error::classify_connect_error;
pub use exec::{Chunk, Line, Output};
use known_hosts::{KnownHosts, Verdict};
pub use options::{
    ConnectOptions, DEFAULT_AUTH_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE,
    default_known_hosts,
};
use options::{KEEPALIVE_MAX, cipher_order};

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
    PinFailed {
        fingerprint: String,
        file: std::path::PathBuf,
        reason: String,
    },
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
                    Err(e) => KeyOutcome::PinFailed {
                        fingerprint,
                        file: self.known.own.clone(),
                        reason: e.to_string(),
                    },
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
            (
                _,
                Some(KeyOutcome::PinFailed {
                    fingerprint,
                    file,
                    reason,
                }),
            ) => {
                return Err(SshError::PinFailed {
                    fingerprint,
                    file,
                    reason,
                });
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

#[cfg(test)]
mod tests;
