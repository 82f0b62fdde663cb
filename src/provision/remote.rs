//! What a stage needs from a host: run one shell command as root, feed it stdin, and see its
//! output as it comes, a chunk of lines at a time. The SSH layer provides it (`ssh::Session`); keeping the
//! stages behind this small trait keeps them readable and lets the runner own connecting.
//!
//! Commands handed to `exec` are the exact strings shown by the dry run, written as root runs
//! them; the SSH layer runs them through `sh -c`, wrapped in sudo for a login that is not root.

use async_trait::async_trait;

pub use super::stall::{STALL_DEFAULT, STALL_PACKAGES, STALL_SLOW, stall_limit, stalled_message};

/// Why a command could not be run at all (as opposed to running and exiting non-zero).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Could not connect, or the connection went away while the command ran.
    #[error("{0}")]
    Connection(String),
    /// Anything else the transport reported.
    #[error("{0}")]
    Other(String),
}

/// The complete lines of one chunk of a command's output as it arrived (one read from the
/// host), all from stdout or all from stderr, without their newlines. Handing output over a
/// chunk at a time lets the step log write it and tell the watcher once per chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutLines {
    pub lines: Vec<String>,
    pub stderr: bool,
}

/// A command that ran to completion, with everything it printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub status: u32,
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
}

/// A host stages can run commands on.
#[async_trait]
pub trait Remote: Send + Sync {
    /// Runs `command` through the host's shell as root; streams its output to `on_output` a
    /// chunk of lines at a time, as it arrives; returns the exit status.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        on_output: &mut (dyn FnMut(OutLines) + Send),
    ) -> Result<u32, RemoteError>;

    /// Runs `command` and collects its output (for probes whose output is parsed).
    async fn capture(&self, command: &str) -> Result<Captured, RemoteError> {
        let mut out = Captured::default();
        let status = self
            .exec(command, None, &mut |chunk: OutLines| {
                let buf = if chunk.stderr {
                    &mut out.stderr
                } else {
                    &mut out.stdout
                };
                for line in &chunk.lines {
                    buf.push_str(line);
                    buf.push('\n');
                }
            })
            .await?;
        out.status = status;
        Ok(out)
    }
}

/// Opens a `Remote` for a plan host. The runner connects lazily, once per host per run.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn connect(
        &self,
        host: &crate::plan::Host,
        access: &crate::plan::Access,
    ) -> Result<std::sync::Arc<dyn Remote>, RemoteError>;

    /// The host keys pinned for the plan's hosts, handed to tools that open their own SSH
    /// connections (Ansible). `None`: nothing is pinned, so such tools refuse every host.
    fn known_hosts(&self) -> Option<crate::ssh::known_hosts::KnownHosts> {
        None
    }
}

/// The SSH options of every connection rackstrap opens for a plan (the wizard's scans and
/// runs, `rackstrap discover`, `rackstrap apply`): the plan's access settings
/// ([`apply_access`]) and the known_hosts files trusted. `known_hosts` replaces rackstrap's
/// own pin file (`--known-hosts`); the user's `~/.ssh/known_hosts` is honoured read-only
/// either way (docs/ssh-and-discovery.md). Credentials and first-contact acceptance are the
/// caller's to add.
pub fn connect_options(
    access: &crate::plan::Access,
    known_hosts: Option<&std::path::Path>,
) -> crate::ssh::ConnectOptions {
    let mut opts = crate::ssh::ConnectOptions::default();
    apply_access(&mut opts, access);
    if let Some(k) = known_hosts {
        opts.known_hosts = k.to_path_buf();
    }
    opts
}

/// The plan's access settings on `opts`: user, port, and the key file (`~` expanded) when
/// it exists; without one the SSH layer offers the ssh-agent's keys, then OpenSSH's default
/// key files (a plan keeps the default `~/.ssh/id_ed25519` even for agent users).
pub fn apply_access(opts: &mut crate::ssh::ConnectOptions, access: &crate::plan::Access) {
    opts.user = access.user.clone();
    opts.port = access.port;
    opts.identity = Some(access.identity.trim())
        .filter(|p| !p.is_empty())
        .map(crate::paths::expand_home)
        .filter(|p| p.is_file());
}

/// Opens real SSH sessions (`ssh::Session`) with the plan's access settings on top of
/// `base` (known_hosts, timeouts, sudo password), the same as [`connect_options`] gives.
pub struct SshConnector {
    pub base: crate::ssh::ConnectOptions,
}

#[async_trait]
impl Connector for SshConnector {
    async fn connect(
        &self,
        host: &crate::plan::Host,
        access: &crate::plan::Access,
    ) -> Result<std::sync::Arc<dyn Remote>, RemoteError> {
        let mut opts = self.base.clone();
        apply_access(&mut opts, access);
        let session = crate::ssh::Session::connect(&host.address, &opts)
            .await
            .map_err(ssh_error)?;
        Ok(std::sync::Arc::new(session))
    }

    fn known_hosts(&self) -> Option<crate::ssh::known_hosts::KnownHosts> {
        Some(self.base.known())
    }
}

fn ssh_error(e: crate::ssh::SshError) -> RemoteError {
    use crate::ssh::SshError as E;
    match e {
        E::NoAnswer(_) | E::PortClosed | E::Disconnected(_) | E::Timeout(_) | E::Io(_) => {
            RemoteError::Connection(e.to_string())
        }
        other => RemoteError::Other(other.to_string()),
    }
}

#[async_trait]
impl Remote for crate::ssh::Session {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        on_output: &mut (dyn FnMut(OutLines) + Send),
    ) -> Result<u32, RemoteError> {
        // Stalls are the runner's to detect (`stall::Watched`, around every host's Remote).
        crate::ssh::Session::exec_chunks(self, command, stdin, |chunk| {
            on_output(OutLines {
                lines: chunk.lines,
                stderr: chunk.stderr,
            })
        })
        .await
        .map_err(ssh_error)
    }
}
