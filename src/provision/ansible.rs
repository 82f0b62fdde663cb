//! Ansible's runs as provisioning shows them: the one runner (`kubespray::runner`) watched by
//! step logs. Ansible's own text goes to the pane (`ansible`, and `ansible.log`); each host's
//! progress and failure, from the callback's events, to that host's log; a stall is answered
//! by the run's [`StallPolicy`] as for every other command.
//!
//! ```text
//! kubespray::runner::run ──► PaneWatch ──► pane: `$ command`, Ansible's lines, notes
//!                                      ├─► per host: Progress "ok: task", `failed: task [..] ..`
//!                                      └─► stall: StallPolicy (fail, wait, ask)
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

pub use crate::kubespray::events::{Failure, HostUpdate, Recap};
use crate::kubespray::runner::{Stalled, Watch};

use super::event::EventKind;
use super::log::StepLog;
use super::stall::{StallAnswer, StallPolicy};

/// How long Ansible may print nothing before a Kubespray run counts as stalled: a slow task
/// (image pulls on a thin link, etcd waiting for its peers) stays quiet for minutes.
pub const ANSIBLE_STALL: Duration = Duration::from_secs(45 * 60);

/// The runner's watcher for a run whose output goes to `pane`, whose hosts' progress to
/// `per_host` (hosts not there are not reported apart), and whose stalls `policy` answers.
pub struct PaneWatch<'a> {
    pub pane: &'a mut StepLog,
    pub per_host: &'a BTreeMap<String, StepLog>,
    pub policy: &'a StallPolicy,
}

impl<'a> PaneWatch<'a> {
    pub fn new(
        pane: &'a mut StepLog,
        per_host: &'a BTreeMap<String, StepLog>,
        policy: &'a StallPolicy,
    ) -> Self {
        Self {
            pane,
            per_host,
            policy,
        }
    }

    /// The limit of a run: the policy's when it sets one, else [`ANSIBLE_STALL`].
    pub fn limit(&self) -> Duration {
        self.policy.limit_or(ANSIBLE_STALL)
    }
}

#[async_trait]
impl Watch for PaneWatch<'_> {
    fn command(&mut self, shown: &str) {
        self.pane.command(shown);
    }

    fn output(&mut self, lines: Vec<String>, stderr: bool) {
        self.pane.lines(lines, stderr);
    }

    fn note(&mut self, text: &str) {
        self.pane.note(text);
    }

    fn update(&mut self, update: HostUpdate) {
        match update {
            HostUpdate::Progress { host, done, text } => {
                if let Some(l) = self.per_host.get(&host) {
                    l.progress(done, None, &text);
                }
            }
            HostUpdate::Failed { host, failure } => {
                if let Some(l) = self.per_host.get(&host) {
                    // One line to see; the host's log file keeps everything Ansible said.
                    l.emit(EventKind::Log {
                        lines: format!("failed: {failure}").into(),
                        stderr: true,
                    });
                    if failure.message.lines().count() > 1 {
                        l.file_only(&failure.message);
                    }
                }
            }
        }
    }

    async fn stalled(&mut self, program: &str, quiet: Duration, limit: Duration) -> Stalled {
        let mut question = self.policy.stalled(self.pane, program, quiet, limit);
        match question.answer().await {
            StallAnswer::Wait => Stalled::Wait,
            StallAnswer::Fail => Stalled::Stop,
        }
    }
}
