//! Re-laying a reinstalled node's disks: the storage stage again, on that host only.
//!
//! A storage step recorded as done is never run again by the runner, so a box reinstalled
//! with blank disks would keep its old record. [`decide`] says whether the drift report allows
//! the re-lay; [`perform`] forgets the host's recorded storage step in the run state and runs
//! the storage stage on that host through the same runner `apply` uses. The storage stage's
//! own refusals (disks that hold data the plan does not mark wipe, consent for destructive
//! work) apply unchanged. docs/recovery.md, "relay NODE".

use std::path::Path;

use color_eyre::eyre::{Result, eyre};

use crate::plan::Plan;
use crate::provision::event::{Event, StageId};
use crate::provision::runner::{RunOptions, RunSummary};
use crate::provision::state::{self, RunState};

use super::drift::{Drift, Report};

/// Why a host's disks may be laid out again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The host was reinstalled (blank, or a new box behind the same name).
    Reinstalled,
    /// The plan's layouts are not on its disks.
    LayoutMissing,
}

/// Whether `name`'s disks may be re-laid, from the drift report: `Ok` with the reason, or
/// `Err` saying why not (no such host, nothing planned, not reachable, already laid out).
pub fn decide(plan: &Plan, report: &Report, name: &str) -> Result<Reason, String> {
    let Some(host) = plan.hosts.iter().find(|h| h.name == name) else {
        return Err(format!(
            "the plan has no host {name} (hosts: {})",
            plan.hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if host.storage.is_empty() {
        return Err(format!(
            "{name} has no storage in the plan: nothing to lay out"
        ));
    }
    let states: &[Drift] = report
        .hosts
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.states.as_slice())
        .unwrap_or(&[]);
    for s in states {
        match s {
            Drift::HostKeyChanged { .. } | Drift::HostKeyNotPinned { .. } => {
                return Err(format!(
                    "{name}: {} ({}); confirm its key first (rackstrap drift PLAN --accept-new-key {name})",
                    s.label(),
                    s.detail()
                ));
            }
            Drift::Unreachable { .. } | Drift::CredentialsRefused { .. } => {
                return Err(format!("{name}: {}: {}", s.label(), s.detail()));
            }
            Drift::DisksDiffer { .. } => {
                return Err(format!(
                    "{name}: {}: {}; fix the plan's storage first",
                    s.label(),
                    s.detail()
                ));
            }
            _ => {}
        }
    }
    if states
        .iter()
        .any(|s| matches!(s, Drift::Reinstalled { .. }))
    {
        return Ok(Reason::Reinstalled);
    }
    if states
        .iter()
        .any(|s| matches!(s, Drift::StorageLaidOut { .. }))
    {
        return Err(format!(
            "{name}: the plan's storage is already laid out (counts as done); nothing to re-lay"
        ));
    }
    Ok(Reason::LayoutMissing)
}

/// Drops `host`'s recorded storage step from the run state at `state_path` (so the runner
/// does not skip it as done). Returns whether there was one.
pub fn forget_storage(state_path: &Path, host: &str) -> Result<bool> {
    let mut st = RunState::load(state_path)?;
    let had = st
        .steps
        .get_mut(&StageId::Storage)
        .and_then(|hosts| hosts.remove(host))
        .is_some();
    if had {
        st.save(state_path)?;
    }
    Ok(had)
}

/// Runs the storage stage on `name` only, for the plan saved at `plan_path`: `opts` carries
/// the connector, consent and dry-run flag; stages, hosts and the state directory are set
/// here. Outside a dry run the plan's run lock is taken first (unless `opts.lock` holds it
/// already) and held through the whole action: the host's recorded storage step is forgotten,
/// then the runner runs under the same lock.
pub async fn perform(
    plan: &Plan,
    plan_path: &Path,
    name: &str,
    mut opts: RunOptions,
    events: tokio::sync::mpsc::UnboundedSender<Event>,
) -> Result<RunSummary> {
    if !plan.hosts.iter().any(|h| h.name == name) {
        return Err(eyre!("the plan has no host {name}"));
    }
    let dir = state::state_dir(plan_path);
    if !opts.dry_run {
        if opts.lock.is_none() {
            opts.lock = Some(state::RunLock::acquire_for(&dir, &plan.cluster.name)?);
        }
        forget_storage(&dir.join("state.yaml"), name)?;
    }
    opts.stages = vec![StageId::Storage];
    opts.hosts = vec![name.to_string()];
    opts.state_dir = Some(dir);
    crate::provision::run(plan, opts, events).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::drift::HostDrift;

    fn plan() -> Plan {
        crate::plan::from_yaml(
            "version: 1\ncluster: {name: c}\nhosts:\n\
             \x20 - {name: node1, address: 10.0.0.1, roles: [control_plane, etcd, worker]}\n\
             \x20 - name: node2\n    address: 10.0.0.2\n    roles: [worker]\n    storage:\n\
             \x20     - {level: single, devices: [sdb], mount: /mnt/data}\n",
            "test",
        )
        .expect("plan")
    }

    fn report(name: &str, states: Vec<Drift>) -> Report {
        Report {
            cluster_name: "c".into(),
            hosts: vec![HostDrift {
                name: name.into(),
                address: String::new(),
                roles: Vec::new(),
                states,
                node: None,
                etcd_member_healthy: None,
                action: String::new(),
            }],
            cluster: Vec::new(),
        }
    }

    #[test]
    fn a_reinstalled_host_or_one_without_its_layout_is_relaid() {
        let p = plan();
        let reinstalled = Drift::Reinstalled {
            evidence: "blank".into(),
        };
        assert_eq!(
            decide(&p, &report("node2", vec![reinstalled]), "node2"),
            Ok(Reason::Reinstalled)
        );
        assert_eq!(
            decide(&p, &report("node2", vec![Drift::NotReady]), "node2"),
            Ok(Reason::LayoutMissing)
        );
    }

    #[test]
    fn laid_out_unreachable_rekeyed_or_storageless_hosts_are_refused() {
        let p = plan();
        let laid = Drift::StorageLaidOut {
            mounts: vec!["/mnt/data".into()],
        };
        let e = decide(&p, &report("node2", vec![laid]), "node2").expect_err("laid out");
        assert!(e.contains("already laid out"), "{e}");
        let down = Drift::Unreachable {
            message: "timed out".into(),
        };
        let e = decide(&p, &report("node2", vec![down]), "node2").expect_err("down");
        assert!(e.contains("unreachable"), "{e}");
        let rekeyed = Drift::HostKeyChanged {
            pinned: "SHA256:a".into(),
            offered: "SHA256:b".into(),
        };
        let e = decide(&p, &report("node2", vec![rekeyed]), "node2").expect_err("rekeyed");
        assert!(e.contains("--accept-new-key node2"), "{e}");
        let e = decide(&p, &report("node1", vec![]), "node1").expect_err("no storage");
        assert!(e.contains("no storage in the plan"), "{e}");
        let e = decide(&p, &report("node9", vec![]), "node9").expect_err("no host");
        assert!(e.contains("no host node9"), "{e}");
    }

    #[test]
    fn forgetting_drops_only_that_hosts_storage_step() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state.yaml");
        let mut st = RunState::default();
        for h in ["node1", "node2"] {
            st.step_mut(StageId::Storage, h).state = crate::provision::StepState::Done;
            st.step_mut(StageId::HostPrep, h).state = crate::provision::StepState::Done;
        }
        st.save(&path).expect("save");
        assert!(forget_storage(&path, "node2").expect("forget"));
        let st = RunState::load(&path).expect("load");
        assert!(st.get(StageId::Storage, "node2").is_none());
        assert!(st.get(StageId::Storage, "node1").is_some());
        assert!(st.get(StageId::HostPrep, "node2").is_some());
        assert!(!forget_storage(&path, "node2").expect("again"));
    }
}
