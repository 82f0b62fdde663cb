//! What a stage needs from a host: run one shell command as root, feed it stdin, and see its
//! output line by line as it comes. The SSH layer provides it (`ssh::Session`); keeping the
//! stages behind this small trait keeps them readable and lets the runner own connecting.
//!
//! Commands handed to `exec` are the exact strings shown by the dry run: they are written as
//! root runs them. A login that is not root gets them wrapped in `sudo -n sh -c '...'` by the
//! adapter, never by the stages.

use async_trait::async_trait;

/// Why a command could not be run at all (as opposed to running and exiting non-zero).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Could not connect, or the connection went away while the command ran.
    #[error("connection lost: {0}")]
    Connection(String),
    /// Anything else the transport reported.
    #[error("{0}")]
    Other(String),
}

/// One line of a command's output, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutLine {
    pub text: String,
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
    /// Runs `command` through the host's shell as root; streams each output line to `on_line`;
    /// returns the exit status.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        on_line: &mut (dyn FnMut(OutLine) + Send),
    ) -> Result<u32, RemoteError>;

    /// Runs `command` and collects its output (for probes whose output is parsed).
    async fn capture(&self, command: &str) -> Result<Captured, RemoteError> {
        let mut out = Captured::default();
        let status = self
            .exec(command, None, &mut |line: OutLine| {
                let buf = if line.stderr {
                    &mut out.stderr
                } else {
                    &mut out.stdout
                };
                buf.push_str(&line.text);
                buf.push('\n');
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
}

/// Wraps a root command for a login that is not root: `sudo -n` never prompts, so a sudo that
/// wants a password fails at once with its own message instead of hanging the run.
pub fn as_root(user: &str, command: &str) -> String {
    if user == "root" {
        command.to_string()
    } else {
        format!("sudo -n sh -c {}", crate::provision::cmd::quote(command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_root_commands_are_wrapped_in_sudo_with_quoting() {
        assert_eq!(as_root("root", "mount /data"), "mount /data");
        assert_eq!(
            as_root("ubuntu", "echo 'a b' >> /etc/fstab"),
            r#"sudo -n sh -c 'echo '"'"'a b'"'"' >> /etc/fstab'"#
        );
    }
}
