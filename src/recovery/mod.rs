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
pub mod relay;
pub mod releases;
pub mod run;

pub use actions::{Kind, Prepared, Standing, prepare};
pub use drift::{Observed, Report, assess};
pub use quorum::Verdict;

use std::path::Path;

use crate::plan::Plan;
use crate::provision::event::{Event, StageId, StepState};
use crate::provision::log::{LogFile, StepLog};
use crate::provision::state::{self, RunState};
use crate::ssh::ConnectOptions;

/// The pseudo-host the actions' Ansible output is logged under (as the kubespray stage's).
pub const PANE: &str = crate::provision::stages::kubespray::ANSIBLE_PANE;

/// Observes the plan's hosts and cluster and compares: the drift report. `plan_file` is how
/// guided actions name the plan.
pub async fn survey(plan: &Plan, opts: ConnectOptions, plan_file: &str) -> Report {
    let seen = observe::observe(plan, opts).await;
    assess(plan, &seen, plan_file)
}

/// Runs a prepared action for the plan saved at `plan_path`, as `apply` runs its stages: under
/// the plan's run lock, Ansible's output to `events` and to `logs/<run>/ansible.log` under the
/// plan's run state directory, what was done to the node in `logs/<run>/<node>.log`, and the
/// action with its outcome in `state.yaml` (`rackstrap status` lists it). The node's
/// kubespray step there follows the action: running, then done or failed; a replaced node's
/// other steps are forgotten (they were done on the old box, so the next `apply` redoes them),
/// and a removed node's steps go with it. An action that fails before any Ansible run started
/// (no Kubespray tree, no pinned key) leaves the node's steps as they were. The plan is saved as [`Prepared::plan_after`] only
/// when every step succeeded. `Err` says which step failed.
pub async fn perform(
    prepared: &Prepared,
    plan: &Plan,
    plan_path: &Path,
    known: Option<&crate::ssh::known_hosts::KnownHosts>,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
) -> Result<(), String> {
    let state_dir = state::state_dir(plan_path);
    let _lock = state::RunLock::acquire_for(&state_dir, &plan.cluster.name)
        .map_err(|e| format!("{e:#}"))?;
    let state_path = state_dir.join("state.yaml");
    let mut st = RunState::load(&state_path).map_err(|e| format!("{e:#}"))?;
    let run_id = state::fresh_run_id(state::run_id(), &state_dir.join("logs"));
    let run_dir = state_dir.join("logs").join(&run_id);
    let ansible_log = run_dir.join(format!("{PANE}.log"));
    let node = prepared.node.as_str();
    let node_log = LogFile::create(&run_dir.join(format!("{node}.log"))).ok();
    let host = StepLog::new(node, StageId::Kubespray, events.clone(), node_log);
    let file = LogFile::create(&ansible_log).ok();
    let mut pane = StepLog::new(PANE, StageId::Kubespray, events, file).sharing(host.backlog());
    let log = pane.log_path().map(Path::to_path_buf);
    let what = format!("node {} {node}", prepared.kind.as_str());
    host.file_only(&format!(
        "{what}: {}\nAnsible's output: {}",
        prepared.verdict.message(),
        ansible_log.display()
    ));

    st.last_run = Some(run_id.clone());
    // The node's record as it was: an action that fails before Ansible ran leaves it so.
    let before: Vec<(StageId, state::Step)> = st
        .steps
        .iter()
        .filter_map(|(stage, hosts)| hosts.get(node).map(|s| (*stage, s.clone())))
        .collect();
    if prepared.kind == Kind::Replace {
        for hosts in st.steps.values_mut() {
            hosts.remove(node);
        }
    }
    let started = state::now();
    st.actions.push(state::NodeAction {
        action: prepared.kind.as_str().into(),
        node: node.into(),
        run: run_id.clone(),
        started: started.clone(),
        finished: None,
        state: StepState::Running,
        message: String::new(),
        log: log.clone(),
    });
    *st.step_mut(StageId::Kubespray, node) = state::Step {
        state: StepState::Running,
        started: Some(started),
        finished: None,
        message: String::new(),
        log: log.clone(),
        run: Some(run_id.clone()),
    };
    let warn = |pane: &mut StepLog, e: color_eyre::Report| {
        pane.note(&format!("warning: could not save run state: {e:#}"));
    };
    if let Err(e) = st.save(&state_path) {
        warn(&mut pane, e);
    }

    let mut ran = false;
    let mut result = run::execute(plan, prepared, known, &mut pane, &mut ran).await;
    if result.is_ok() {
        result = match crate::plan::save_keeping_comments(&prepared.plan_after, plan_path) {
            Ok(true) => Ok(()),
            Ok(false) => {
                pane.note(&format!(
                    "{} was written whole: its comments were not kept",
                    plan_path.display()
                ));
                Ok(())
            }
            Err(e) => Err(format!(
                "every step succeeded, but saving the plan failed: {e}"
            )),
        };
    }
    let finished = state::now();
    let (state, message) = match &result {
        Ok(()) => (StepState::Done, format!("{what}: done")),
        Err(e) => (StepState::Failed, crate::text::printable(e).into_owned()),
    };
    host.file_only(&format!("{what}: {} {message}", state.as_str()));
    if let Some(a) = st.actions.last_mut() {
        a.state = state;
        a.finished = Some(finished.clone());
        if state == StepState::Failed {
            a.message = message.clone();
        }
    }
    if state == StepState::Done && prepared.kind == Kind::Remove {
        for hosts in st.steps.values_mut() {
            hosts.remove(node);
        }
    } else if state == StepState::Failed && !ran {
        // Nothing touched the node: its steps stay as they were (the action's entry above
        // records the failure).
        for hosts in st.steps.values_mut() {
            hosts.remove(node);
        }
        for (stage, step) in before {
            *st.step_mut(stage, node) = step;
        }
    } else {
        let step = st.step_mut(StageId::Kubespray, node);
        step.state = state;
        step.finished = Some(finished);
        step.message = message;
    }
    if let Err(e) = st.save(&state_path) {
        warn(&mut pane, e);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replacement that fails before Ansible ran (here: no Kubespray tree) touched no host:
    /// the node's done steps stay done, and the action is recorded as failed.
    #[tokio::test]
    async fn a_replacement_that_ran_nothing_keeps_the_nodes_done_steps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let no_tree = dir.path().join("no-kubespray");
        let plan = crate::plan::from_yaml(
            &format!(
                "version: 1\ncluster: {{name: prod, kubespray: {{version: v2.31.0, path: '{}'}}}}\n\
                 hosts:\n\
                 \x20 - {{name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}}\n\
                 \x20 - {{name: node2, address: 10.0.10.2, roles: [control_plane, etcd, worker]}}\n\
                 \x20 - {{name: node3, address: 10.0.10.3, roles: [control_plane, etcd, worker]}}\n",
                no_tree.display()
            ),
            "test plan",
        )
        .expect("plan");
        let plan_path = dir.path().join("prod.yaml");
        crate::plan::save(&plan, &plan_path).expect("save plan");
        let state_path = state::state_dir(&plan_path).join("state.yaml");
        let mut st = RunState::default();
        for stage in [StageId::HostPrep, StageId::Storage, StageId::Kubespray] {
            st.step_mut(stage, "node3").state = StepState::Done;
        }
        st.save(&state_path).expect("save state");
        let before = RunState::load(&state_path).expect("load").steps;

        let prepared =
            prepare(&plan, &Standing::default(), Kind::Replace, "node3").expect("prepared");
        assert!(!prepared.steps.is_empty());
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let err = perform(&prepared, &plan, &plan_path, None, tx)
            .await
            .expect_err("no Kubespray tree");
        assert!(err.contains("is not a Kubespray tree"), "{err}");

        let after = RunState::load(&state_path).expect("load");
        assert_eq!(after.steps, before);
        let action = after.actions.last().expect("the action is recorded");
        assert_eq!(
            (action.node.as_str(), action.state),
            ("node3", StepState::Failed)
        );
    }
}
