//! The typed line protocol between the provisioning runner and whoever watches it: the
//! wizard's Provision screen, `rackstrap apply`'s one-line-per-event output, and the demo
//! lab's scripted runs all speak these events.

use serde::{Deserialize, Serialize};

/// The provisioning stages, in the order they run. The order is declared here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageId {
    Preflight,
    HostPrep,
    Storage,
    Kubespray,
    Verify,
    LoadBalancer,
}

impl StageId {
    pub const ALL: [StageId; 6] = [
        StageId::Preflight,
        StageId::HostPrep,
        StageId::Storage,
        StageId::Kubespray,
        StageId::Verify,
        StageId::LoadBalancer,
    ];

    /// The name used on the command line (`--stage host-prep`) and in state files.
    pub fn as_str(self) -> &'static str {
        match self {
            StageId::Preflight => "preflight",
            StageId::HostPrep => "host-prep",
            StageId::Storage => "storage",
            StageId::Kubespray => "kubespray",
            StageId::Verify => "verify",
            StageId::LoadBalancer => "load-balancer",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            StageId::Preflight => "Preflight",
            StageId::HostPrep => "Host prep",
            StageId::Storage => "Storage",
            StageId::Kubespray => "Kubespray",
            StageId::Verify => "Verify",
            StageId::LoadBalancer => "Load balancer",
        }
    }

    pub fn parse(s: &str) -> Option<StageId> {
        StageId::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one stage stands on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    #[default]
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
        }
    }
}

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The plan's host name.
    pub host: String,
    pub stage: StageId,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The stage began on this host.
    Started,
    /// A line of output (ANSI colour kept, no trailing newline).
    Log { line: String, stderr: bool },
    /// Progress within the stage, e.g. Ansible tasks seen so far for this host.
    Progress {
        done: u32,
        total: Option<u32>,
        text: String,
    },
    /// The stage ended on this host; `message` says why when it failed or was skipped,
    /// or "nothing to do" when it was already done.
    Finished { state: StepState, message: String },
    /// A command printed nothing and did not exit for `quiet_secs`, past its limit
    /// (`limit_secs`; see `stall`): `command` is its first line. `asking`: the run waits for
    /// the watcher's answer (`StallDecisions`); otherwise it keeps waiting another
    /// `limit_secs` on its own (`--on-stall wait`). Under `--on-stall fail` no such event
    /// comes: the step fails with the stalled message.
    Stalled {
        command: String,
        quiet_secs: u64,
        limit_secs: u64,
        asking: bool,
    },
}

impl EventKind {
    /// The event with its text safe to show ([`crate::text`]): output lines keep their
    /// colour, every other control character is escaped. Events carry remote text (command
    /// output, error messages that quote it) to panes and headless lines.
    pub fn printable(self) -> Self {
        use crate::text::{printable, printable_sgr};
        match self {
            EventKind::Started => EventKind::Started,
            EventKind::Log { line, stderr } => EventKind::Log {
                line: printable_sgr(&line).into_owned(),
                stderr,
            },
            EventKind::Progress { done, total, text } => EventKind::Progress {
                done,
                total,
                text: printable(&text).into_owned(),
            },
            EventKind::Finished { state, message } => EventKind::Finished {
                state,
                message: printable(&message).into_owned(),
            },
            EventKind::Stalled {
                command,
                quiet_secs,
                limit_secs,
                asking,
            } => EventKind::Stalled {
                command: printable(&command).into_owned(),
                quiet_secs,
                limit_secs,
                asking,
            },
        }
    }
}
