//! Each screen's own state: the forms, the discovery table, the layout being built, the
//! review tabs and the log panes. `Model` holds one of each.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use tui_input::Input;

use crate::discover::{Discovered, HostState};
use crate::plan::{Discard, Filesystem, Level};
use crate::provision::readiness::Blocker;
use crate::provision::{Selection, StageId, StepState};
use crate::ssh::auth::KeyCheck;
use crate::tui::secret::{Masked, Secret};

/// Lines kept in memory per log pane; older lines drop off the top.
pub const SCROLLBACK_LINES: usize = 2_000;

/// One discovered address.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub found: Discovered,
    /// The operator accepted this host (and pinned its key when new).
    pub accepted: bool,
}

impl Row {
    pub fn is_ok(&self) -> bool {
        self.found.state == HostState::Ok && self.found.facts.is_some()
    }

    /// Accepted and reachable: it goes into the plan. A host reopened from a saved plan
    /// counts before it is scanned again (it has no facts yet).
    pub fn usable(&self) -> bool {
        self.accepted && self.found.state == HostState::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessField {
    Cluster,
    User,
    Port,
    Identity,
    SudoPassword,
}

impl AccessField {
    pub const ALL: [AccessField; 5] = [
        AccessField::Cluster,
        AccessField::User,
        AccessField::Port,
        AccessField::Identity,
        AccessField::SudoPassword,
    ];
}

#[derive(Debug, Clone)]
pub struct AccessForm {
    pub cluster: Input,
    pub user: Input,
    pub port: Input,
    pub identity: Input,
    /// For users whose sudo asks for a password. Kept in memory for this session only: it
    /// goes to the SSH layer (sent on `sudo -S`'s stdin), never into the plan.
    pub sudo_password: Masked,
    pub focus: usize,
    /// The key file as last checked: the path typed then, and what it holds.
    pub key_check: Option<(String, KeyCheck)>,
    /// The ssh-agent's identities, once asked (`None`: not asked yet).
    pub agent: Option<Vec<String>>,
}

impl AccessForm {
    pub fn sudo_password(&self) -> Option<Secret> {
        self.sudo_password.secret()
    }
}

#[derive(Debug, Clone, Default)]
pub struct DiscoverState {
    pub targets: Input,
    /// Focus on the table instead of the targets field.
    pub table_focus: bool,
    pub selected: usize,
    pub scanning: bool,
    /// The targets the current table was scanned from.
    pub scanned: Option<String>,
    pub error: Option<String>,
    /// Addresses whose new host keys the operator accepted; they are being pinned.
    pub pinning: BTreeSet<String>,
    /// `a` was pressed during the scan: hosts that answer later are accepted too.
    pub accept_all: bool,
    /// New host keys accepted during the scan, pinned when it ends.
    pub pin_after: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct StorageState {
    pub host: usize,
    pub cursor: usize,
    pub selected: BTreeSet<String>,
    pub wipe: BTreeSet<String>,
    pub level: Level,
    pub filesystem: Filesystem,
    pub mount: Input,
    pub discard: Discard,
    pub relocate: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetField {
    PoolName,
    PoolAddresses,
    AutoAssign,
    ServiceCidr,
    PodCidr,
    NodePrefix,
    UpstreamDns,
    Mtu,
    Vip,
}

impl NetField {
    pub const ALL: [NetField; 9] = [
        NetField::PoolName,
        NetField::PoolAddresses,
        NetField::AutoAssign,
        NetField::ServiceCidr,
        NetField::PodCidr,
        NetField::NodePrefix,
        NetField::UpstreamDns,
        NetField::Mtu,
        NetField::Vip,
    ];

    pub fn label(self) -> &'static str {
        match self {
            NetField::PoolName => "MetalLB pool",
            NetField::PoolAddresses => "Pool addresses",
            NetField::AutoAssign => "Auto-assign",
            NetField::ServiceCidr => "Service CIDR",
            NetField::PodCidr => "Pod CIDR",
            NetField::NodePrefix => "Node prefix",
            NetField::UpstreamDns => "Upstream DNS",
            NetField::Mtu => "Host MTU",
            NetField::Vip => "VIP (optional)",
        }
    }

    /// The field after this one, wrapping around.
    pub fn next(self) -> NetField {
        let i = NetField::ALL.iter().position(|f| *f == self).unwrap_or(0);
        NetField::ALL[(i + 1) % NetField::ALL.len()]
    }

    /// The field before this one, wrapping around.
    pub fn prev(self) -> NetField {
        let n = NetField::ALL.len();
        let i = NetField::ALL.iter().position(|f| *f == self).unwrap_or(0);
        NetField::ALL[(i + n - 1) % n]
    }

    /// Whether the operator types into it (Auto-assign is a checkbox).
    pub fn is_text(self) -> bool {
        self != NetField::AutoAssign
    }
}

#[derive(Debug, Clone)]
pub struct NetworkForm {
    /// One input per text field.
    pub inputs: BTreeMap<NetField, Input>,
    pub auto_assign: bool,
    pub focus: NetField,
    /// The plan's pools after the first, kept as they are: the form edits one pool, and a
    /// plan written by hand with more must not lose the others when the wizard saves it.
    pub other_pools: Vec<crate::plan::Pool>,
}

impl NetworkForm {
    /// What is typed in a field (empty for Auto-assign).
    pub fn value(&self, field: NetField) -> &str {
        self.inputs.get(&field).map(|i| i.value()).unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewTab {
    Findings,
    Files,
    Commands,
}

impl ReviewTab {
    pub const ALL: [ReviewTab; 3] = [ReviewTab::Findings, ReviewTab::Files, ReviewTab::Commands];
    pub fn title(self) -> &'static str {
        match self {
            ReviewTab::Findings => "Findings",
            ReviewTab::Files => "Files",
            ReviewTab::Commands => "Commands",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReviewState {
    pub tab: ReviewTab,
    pub scroll: u16,
    /// Commands show here-document bodies in full instead of "… (N more lines)".
    pub expand: bool,
    pub saved: Option<PathBuf>,
    /// The plan was written in this session (a reopened plan has `saved` but is unchanged).
    pub written: bool,
    /// The plan as it is in the file at `saved` (loaded or written): what the exit summary
    /// compares with to say whether changes were left unsaved.
    pub on_disk: Option<Box<crate::plan::Plan>>,
    pub save_error: Option<String>,
    /// The Commands tab's search as it is being typed (`/`); `None` when not typing.
    pub search: Option<tui_input::Input>,
    /// The last search confirmed with Enter: `n` / `N` find its next / previous line.
    pub query: String,
    /// Stages that cannot start on this machine, as last checked (`Effect::CheckMachine`).
    pub machine: Vec<Blocker>,
    /// What Kubespray's tree on this machine says about the plan (its release, its Ansible,
    /// its own inventory checks), filled in when Review opens on real hosts.
    pub kubespray: Vec<crate::plan::Finding>,
}

/// One host's log: bounded in memory.
#[derive(Debug, Clone, Default)]
pub struct LogPane {
    pub host: String,
    pub lines: VecDeque<String>,
    /// Lines dropped off the top since the run began.
    pub dropped: usize,
    /// Follow the tail; scrolling pauses it.
    pub follow: bool,
    /// Lines above the tail the view is scrolled to (when not following).
    pub offset: usize,
    /// Task progress parsed from the runner (Ansible tasks seen).
    pub progress: Option<(u32, Option<u32>)>,
    /// Lines that moved through a paused view because it was already at the oldest line the
    /// pane holds: the view could not stay put, and the title says so (the log file has them).
    pub passed_while_paused: usize,
}

impl LogPane {
    pub fn push(&mut self, line: String) {
        if self.lines.len() == SCROLLBACK_LINES {
            self.lines.pop_front();
            self.dropped += 1;
            if !self.follow && self.offset + 1 >= SCROLLBACK_LINES {
                self.passed_while_paused += 1;
            }
        }
        self.lines.push_back(line);
        if !self.follow {
            self.offset = (self.offset + 1).min(self.lines.len().saturating_sub(1));
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProvisionState {
    pub grid: BTreeMap<(String, StageId), StepState>,
    pub messages: BTreeMap<(String, StageId), String>,
    pub panes: Vec<LogPane>,
    pub focus: usize,
    pub running: bool,
    pub started: bool,
    pub search: Option<String>,
    /// The stage the next retry starts from.
    pub failed_stage: Option<StageId>,
    /// Hosts whose names the operator typed to consent to destroying data.
    pub consent: Vec<String>,
    /// The stages and hosts the operator chose for this run; `None`: all of them.
    pub selection: Option<Selection>,
    /// Steps the operator skipped after they failed, with the failure: the grid shows them
    /// apart from steps that had nothing to do, and Done lists them.
    pub skipped: BTreeMap<(String, StageId), String>,
    /// Stalled commands waiting for the operator's answer, oldest first: keep waiting (w)
    /// or fail the host (x). Output from the step or its end closes the question.
    pub stalls: Vec<StallQuestion>,
}

/// A stalled command the run asks about (`provision::EventKind::Stalled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StallQuestion {
    pub host: String,
    pub stage: StageId,
    /// Its first line.
    pub command: String,
    pub quiet_secs: u64,
    pub limit_secs: u64,
}

impl ProvisionState {
    /// The question the keys answer: the focused pane's, else the oldest.
    pub fn stall_question(&self) -> Option<&StallQuestion> {
        let focused = self.panes.get(self.focus).map(|p| p.host.as_str());
        self.stalls
            .iter()
            .find(|q| Some(q.host.as_str()) == focused)
            .or_else(|| self.stalls.first())
    }

    pub fn state(&self, host: &str, stage: StageId) -> StepState {
        self.grid
            .get(&(host.to_string(), stage))
            .copied()
            .unwrap_or_default()
    }

    pub fn failed_hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .grid
            .iter()
            .filter(|(_, s)| **s == StepState::Failed)
            .map(|((h, _), _)| h.clone())
            .collect();
        v.dedup();
        v
    }

    /// What did not finish, in stage order per host: failed, skipped by the operator, or
    /// never run (an aborted or interrupted run). Empty before the first run.
    pub fn problems(&self) -> Vec<Problem> {
        if !self.started {
            return vec![];
        }
        let mut out = Vec::new();
        for pane in &self.panes {
            for stage in StageId::ALL {
                let key = (pane.host.clone(), stage);
                let message = self.messages.get(&key).cloned().unwrap_or_default();
                // Only the steps the run set out to do (verify never runs on a worker).
                let Some(state) = self.grid.get(&key).copied() else {
                    continue;
                };
                let kind = match (state, self.skipped.get(&key)) {
                    (StepState::Skipped, Some(why)) => ProblemKind::Skipped(why.clone()),
                    (StepState::Failed, _) => ProblemKind::Failed(message),
                    // Still running when the wizard left (a signal): it did not finish.
                    (StepState::Running, _) => {
                        ProblemKind::Failed("interrupted while it ran".into())
                    }
                    (StepState::Pending, _) => ProblemKind::NotRun,
                    _ => continue,
                };
                out.push(Problem {
                    host: pane.host.clone(),
                    stage,
                    kind,
                });
            }
        }
        out
    }

    /// Every step the run set out to do (each stage on each host it reports on) ended Done or
    /// Skipped. Panes that are no plan host (the `ansible` log) have no steps of their own.
    pub fn finished(&self) -> bool {
        !self.grid.is_empty()
            && self
                .grid
                .values()
                .all(|s| matches!(s, StepState::Done | StepState::Skipped))
    }
}

/// A step that did not finish, as Done and the exit summary report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub host: String,
    pub stage: StageId,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    Failed(String),
    /// Skipped by the operator after it failed with this message.
    Skipped(String),
    /// Never ran: the run was aborted or left before it got there.
    NotRun,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (host, stage) = (&self.host, self.stage.title());
        match &self.kind {
            ProblemKind::Failed(why) if why.is_empty() => write!(f, "{host}: {stage} failed"),
            ProblemKind::Failed(why) => write!(f, "{host}: {stage} failed: {why}"),
            ProblemKind::Skipped(why) if why.is_empty() => {
                write!(f, "{host}: {stage} skipped after it failed")
            }
            ProblemKind::Skipped(why) => {
                write!(f, "{host}: {stage} skipped after it failed: {why}")
            }
            ProblemKind::NotRun => write!(f, "{host}: {stage} did not run"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_panes_keep_the_last_lines_only() {
        let mut pane = LogPane {
            follow: true,
            ..Default::default()
        };
        for i in 0..SCROLLBACK_LINES + 500 {
            pane.push(format!("line {i}"));
        }
        assert_eq!(pane.lines.len(), SCROLLBACK_LINES);
        assert_eq!(pane.dropped, 500);
        assert_eq!(pane.lines.front().map(String::as_str), Some("line 500"));
    }

    #[test]
    fn a_paused_view_at_the_oldest_line_counts_the_lines_that_pass_through_it() {
        let mut pane = LogPane {
            follow: true,
            ..Default::default()
        };
        for i in 0..SCROLLBACK_LINES {
            pane.push(format!("line {i}"));
        }
        // Paused in the middle: the view stays on its lines, nothing passes.
        pane.follow = false;
        pane.offset = 100;
        for i in 0..50 {
            pane.push(format!("more {i}"));
        }
        assert_eq!(pane.passed_while_paused, 0);
        // Paused at the top (Home): every new line pushes the top one out of the view.
        pane.offset = SCROLLBACK_LINES - 1;
        for i in 0..7 {
            pane.push(format!("again {i}"));
        }
        assert_eq!(pane.passed_while_paused, 7);
        assert_eq!(pane.offset, SCROLLBACK_LINES - 1);
    }

    #[test]
    fn a_paused_pane_stays_on_the_same_lines_while_output_arrives() {
        let mut pane = LogPane::default();
        for i in 0..10 {
            pane.push(format!("{i}"));
        }
        pane.offset = 3;
        pane.push("new".into());
        assert_eq!(pane.offset, 4, "the view keeps showing the same line");
    }
}
