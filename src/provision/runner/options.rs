//! What a run is asked to do ([`RunOptions`], [`Consent`]) and what it ends with
//! ([`RunSummary`], [`DryRunStep`]): the runner in the parent module reads the options, and
//! records every step it decides into the summary it returns.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use crate::facts::Facts;
use crate::provision::event::{StageId, StepState};
use crate::provision::remote::Connector;
use crate::provision::stall::StallPolicy;
use crate::provision::state;

/// How many hosts work on a stage at once. The work happens on the hosts (mkfs, apt, sysctl);
/// a host in flight costs this machine one SSH connection in this process and almost no CPU
/// while its commands run, so the bound guards against thousands of sockets and handshakes at
/// once, not against the hosts' work. It is discovery's bound for SSH handshakes and facts
/// (`discover::DEFAULT_CONCURRENCY`): a rack discovered in one round is provisioned in one
/// round. With 8, 32 hosts took four rounds, each as long as its slowest host
/// (docs/BENCHMARKS.md, "Stages on many hosts").
pub const DEFAULT_PARALLEL: usize = crate::discover::DEFAULT_CONCURRENCY;

/// The operator's consent to destructive stages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Consent {
    /// Nobody agreed: destructive stages fail with "needs confirmation".
    #[default]
    None,
    /// Headless `--yes`.
    All,
    /// The wizard: the hosts whose name the operator typed.
    Hosts(BTreeSet<String>),
}

impl Consent {
    pub fn covers(&self, host: &str) -> bool {
        match self {
            Consent::None => false,
            Consent::All => true,
            Consent::Hosts(h) => h.contains(host),
        }
    }
}

pub struct RunOptions {
    /// Only these stages (empty: all).
    pub stages: Vec<StageId>,
    /// Only these plan hosts (empty: all).
    pub hosts: Vec<String>,
    pub dry_run: bool,
    pub consent: Consent,
    pub parallel: usize,
    /// Where state and logs go (`state::state_dir(plan_path)`); `None` keeps nothing.
    pub state_dir: Option<PathBuf>,
    pub connector: Arc<dyn Connector>,
    /// Facts from discovery, used by dry runs for hosts that cannot be reached.
    pub facts: Option<Facts>,
    /// The commands' stall limits and what a stalled command leads to (`stall`).
    pub stall: StallPolicy,
    /// The plan's run lock, when the caller took it before the run (`node relay` holds it
    /// while it looks at the hosts); otherwise the run takes it itself.
    pub lock: Option<state::RunLock>,
}

impl RunOptions {
    pub fn new(connector: Arc<dyn Connector>) -> Self {
        Self {
            stages: Vec::new(),
            hosts: Vec::new(),
            dry_run: false,
            consent: Consent::None,
            parallel: DEFAULT_PARALLEL,
            state_dir: None,
            connector,
            facts: None,
            stall: StallPolicy::default(),
            lock: None,
        }
    }
}

/// What a run ended with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub run_id: String,
    /// (stage, host, state, message) for every step this run decided, in order.
    pub steps: Vec<(StageId, String, StepState, String)>,
    /// Why the run stopped before its end: its state or a log file could not be written (a
    /// full disk). The steps after that point did not run.
    pub stopped: Option<String>,
}

impl RunSummary {
    pub fn failed(&self) -> impl Iterator<Item = &(StageId, String, StepState, String)> {
        self.steps.iter().filter(|s| s.2 == StepState::Failed)
    }

    /// No step failed, none is left waiting, and the run did not stop early.
    pub fn all_done(&self) -> bool {
        self.stopped.is_none()
            && self
                .steps
                .iter()
                .all(|s| matches!(s.2, StepState::Done | StepState::Skipped))
    }
}

/// One entry of a dry-run listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRunStep {
    pub stage: StageId,
    /// The plan host, or [`LOCAL`] for a stage that runs for the whole cluster.
    pub host: String,
    /// The commands, or why the stage would refuse this host.
    pub commands: Result<Vec<String>, String>,
}

/// Host name used for commands that run on this machine.
pub const LOCAL: &str = "local";
