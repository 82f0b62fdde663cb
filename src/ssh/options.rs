//! How to reach a host: [`ConnectOptions`] (user, port, key, known_hosts, timeouts, sudo
//! password) and their defaults, and the ciphers offered.

use std::path::PathBuf;
use std::time::Duration;

use super::auth::PassphraseCallback;
use super::known_hosts::KnownHosts;

/// How long to wait for TCP and the SSH greeting by default. A /24 scan with a bound of 64
/// connections takes at most 4 rounds of this for silent addresses.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long authentication (and the sudo probe) may take by default.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(15);
/// Keepalive interval; three unanswered keepalives close the connection (OpenSSH's
/// `ServerAliveCountMax` default).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
pub(super) const KEEPALIVE_MAX: usize = 3;

/// The ciphers offered, best first: only ones OpenSSH's client enables by default (see
/// `Ciphers` in ssh_config(5)), all authenticated encryption or encrypt-then-MAC.
///
/// Where the CPU has AES and carry-less multiply instructions (x86-64 AES-NI and PCLMULQDQ,
/// ARMv8 AES and PMULL), AES-GCM comes first: there it costs a fraction of chacha20-poly1305
/// on both ends of the connection, and a command printing megabytes of logs is bound by it.
/// Without them chacha20-poly1305 comes first, as in russh's and OpenSSH's own order, since
/// AES in software is slower (and must avoid table lookups to stay constant-time).
pub(super) fn cipher_order() -> &'static [russh::cipher::Name] {
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

pub(super) fn hardware_aes() -> bool {
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

    /// The known_hosts files these options consult: rackstrap's own (where keys are pinned)
    /// and the read-only extras. Everything that checks or edits pins for a connection (the
    /// Ansible environment, re-pinning a changed key) takes them from here.
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
