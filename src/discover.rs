//! Discovery: targets (CIDR, ranges, addresses, hostnames) -> SSH connections -> facts, with
//! bounded concurrency. Each address ends in exactly one `HostState`, reported as it arrives.

use serde::{Deserialize, Serialize};

use crate::facts::HostFacts;

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostState {
    /// Nothing answered in time.
    NoAnswer,
    /// The address answered but the port refused.
    PortClosed,
    /// Something listens but it is not an SSH server.
    NotSsh,
    /// The server refused every offered credential.
    AuthFailed,
    /// The host key differs from the pinned one: nothing ran on this host.
    HostKeyChanged { pinned: String, offered: String },
    /// Connected, but `sudo -n` wants a password.
    SudoNeedsPassword,
    /// Connected, facts gathered.
    Ok,
}

/// One target's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovered {
    /// The address (or hostname) as targeted.
    pub address: String,
    pub state: HostState,
    /// SHA256 fingerprint of the host key, when the server sent one (`SHA256:...`).
    pub fingerprint: Option<String>,
    /// True when this contact pinned a key seen for the first time.
    pub newly_pinned: bool,
    pub facts: Option<HostFacts>,
    /// Human detail (the error, the sudo message).
    pub message: String,
}
