//! Provisioning: a checked plan becomes a cluster.
//!
//! Data flow:
//!
//! ```text
//! plan ──► runner::run ──► for each stage (StageId::ALL order)
//!                             EachHost: per host, in parallel (bounded), over a Remote (ssh)
//!                               check (read-only: commands still needed, or a refusal)
//!                               -> apply (cmd::execute: runs them, or only says them)
//!                               -> verify
//!                               then, for a stage with work across hosts (Preflight's probe
//!                               between nodes, `probe`), that work on the hosts that passed
//!                             Cluster: Kubespray from this machine (ansible-playbook),
//!                               output parsed by `ansible` into per-host progress/results
//!                             FirstControlPlane: kubectl on the first control plane
//!          every line ──► log (file per host per run) + Event ──► wizard panes / headless lines
//!          every step ──► state (saved atomically beside the plan) ──► resume, `status`
//! ```
//!
//! `dry_run(plan, facts)` renders, without touching any host, the exact commands each stage
//! would run per host; `rackstrap apply --dry-run` does the same after a read-only look at
//! the live hosts, so its listing is exact for their current state.

pub mod ansible;
pub mod cmd;
pub mod event;
pub mod log;
pub mod probe;
pub mod readiness;
pub mod remote;
pub mod runner;
pub mod selection;
pub mod stage;
pub mod stages;
pub mod stall;
pub mod state;
pub mod summary;

pub use event::{Event, EventKind, Lines, StageId, StepState};
pub use runner::{Consent, DryRunStep, RunOptions, RunSummary, dry_run, run};
pub use selection::Selection;
pub use stall::{OnStall, StallAnswer, StallDecisions, StallPolicy};
