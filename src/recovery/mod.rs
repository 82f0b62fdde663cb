//! Recovery and reinstall: a saved plan reopened against the hosts and cluster it built.
//!
//! ```text
//! plan ──► observe (ssh: each host, then kubectl/etcdctl on a control plane) ──► Observed
//!      ──► drift::assess ──► Report (per host: states + the guided action)
//!                                   │
//!  `rackstrap node add|remove|replace` / the wizard's Drift screen
//!      ──► actions::prepare (quorum verdict, steps: inventory + ansible-playbook lines,
//!                            the plan once done)
//!      ──► run::execute (in the Kubespray tree) ──► plan saved only when every step succeeded
//! ```
//!
//! Every rule (what counts as drift, the quorum arithmetic, what each action runs for which
//! Kubespray release) lives here; the wizard and the CLI only show and confirm.
//! docs/recovery.md describes each state and action.

pub mod actions;
pub mod drift;
pub mod observe;
pub mod quorum;
pub mod releases;
pub mod run;

pub use actions::{Kind, Prepared, Standing, prepare};
pub use drift::{Observed, Report, assess};
pub use quorum::Verdict;

use std::path::Path;

use crate::plan::Plan;
use crate::provision::event::{Event, StageId};
use crate::provision::log::{LogFile, StepLog};
use crate::ssh::ConnectOptions;

/// The pseudo-host the actions' Ansible output is logged under (as the kubespray stage's).
pub const PANE: &str = crate::provision::stages::kubespray::ANSIBLE_PANE;

/// Observes the plan's hosts and cluster and compares: the drift report. `plan_file` is how
/// guided actions name the plan.
pub async fn survey(plan: &Plan, opts: ConnectOptions, plan_file: &str) -> Report {
    let seen = observe::observe(plan, opts).await;
    assess(plan, &seen, plan_file)
}

/// Runs a prepared action for the plan saved at `plan_path`: Ansible's output to `events` and
/// to `logs/<run>/ansible.log` under the plan's run state directory, the outcome recorded in
/// `recovery.yaml` there, and the plan saved as [`Prepared::plan_after`] only when every step
/// succeeded. `Err` says which step failed.
pub async fn perform(
    prepared: &Prepared,
    plan: &Plan,
    plan_path: &Path,
    known: Option<&crate::ssh::known_hosts::KnownHosts>,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
) -> Result<(), String> {
    let state_dir = crate::provision::state::state_dir(plan_path);
    let log_path = state_dir
        .join("logs")
        .join(crate::provision::state::run_id())
        .join(format!("{PANE}.log"));
    let file = LogFile::create(&log_path).ok();
    let mut pane = StepLog::new(PANE, StageId::Kubespray, events, file);
    let mut result = run::execute(plan, prepared, known, &mut pane).await;
    if result.is_ok() {
        result = crate::plan::save(&prepared.plan_after, plan_path)
            .map_err(|e| format!("every step succeeded, but saving the plan failed: {e}"));
    }
    let rec = run::Record {
        at: crate::provision::state::now(),
        action: prepared.kind.as_str().into(),
        node: prepared.node.clone(),
        result: match &result {
            Ok(()) => "done".into(),
            Err(e) => format!("failed: {e}"),
        },
        log: pane.log_path().map(|p| p.display().to_string()),
    };
    if let Err(e) = run::record(&state_dir, rec) {
        pane.note(&format!(
            "warning: recording the action in {}: {e}",
            state_dir.display()
        ));
    }
    result
}
