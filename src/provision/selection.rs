//! What one run covers: which stages and which hosts. `rackstrap apply --stage/--host` parses
//! into it, the wizard's Provision screen toggles it; both hand it to the runner through
//! [`Selection::apply`], so "storage only, on the reinstalled node" means the same thing in
//! either front end.

use std::collections::BTreeSet;

use crate::plan::Plan;
use crate::provision::event::StageId;
use crate::provision::runner::RunOptions;

/// Stages and hosts chosen for a run. Empty sets never mean "all": a selection names what
/// it covers, so leaving everything out is visible (and refused) rather than silently total.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    pub stages: BTreeSet<StageId>,
    pub hosts: BTreeSet<String>,
}

/// Every `--host` name is a host of the plan, or which one is not and which names exist.
pub fn check_hosts(plan: &Plan, hosts: &[String]) -> Result<(), String> {
    match hosts
        .iter()
        .find(|h| !plan.hosts.iter().any(|p| &p.name == *h))
    {
        None => Ok(()),
        Some(h) => Err(format!(
            "--host {h}: the plan has no such host (hosts: {})",
            plan.hosts
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

impl Selection {
    /// Every stage on every host of the plan.
    pub fn all(plan: &Plan) -> Selection {
        Selection {
            stages: StageId::ALL.into_iter().collect(),
            hosts: plan.hosts.iter().map(|h| h.name.clone()).collect(),
        }
    }

    /// The selection `--stage S... --host H...` asks for (none given: all), or what is wrong
    /// with a name and which names exist.
    pub fn parse(plan: &Plan, stages: &[String], hosts: &[String]) -> Result<Selection, String> {
        let mut sel = Selection::all(plan);
        if !stages.is_empty() {
            sel.stages.clear();
            for s in stages {
                match StageId::parse(s) {
                    Some(id) => {
                        sel.stages.insert(id);
                    }
                    None => {
                        return Err(format!(
                            "--stage {s}: no such stage (stages: {})",
                            StageId::ALL.map(|s| s.as_str()).join(", ")
                        ));
                    }
                }
            }
        }
        if !hosts.is_empty() {
            sel.hosts.clear();
            check_hosts(plan, hosts)?;
            sel.hosts.extend(hosts.iter().cloned());
        }
        Ok(sel)
    }

    pub fn has_stage(&self, stage: StageId) -> bool {
        self.stages.contains(&stage)
    }

    pub fn has_host(&self, host: &str) -> bool {
        self.hosts.contains(host)
    }

    /// Whether this run covers `stage` on `host`.
    pub fn covers(&self, stage: StageId, host: &str) -> bool {
        self.has_stage(stage) && self.has_host(host)
    }

    pub fn toggle_stage(&mut self, stage: StageId) {
        if !self.stages.remove(&stage) {
            self.stages.insert(stage);
        }
    }

    pub fn toggle_host(&mut self, host: &str) {
        if !self.hosts.remove(host) {
            self.hosts.insert(host.to_string());
        }
    }

    /// Nothing would run: no stage or no host chosen.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty() || self.hosts.is_empty()
    }

    /// The chosen stages, in run order.
    pub fn stage_list(&self) -> Vec<StageId> {
        StageId::ALL
            .into_iter()
            .filter(|s| self.has_stage(*s))
            .collect()
    }

    /// Restricts a run to this selection: its stages from `from` on (all when `from` is the
    /// first stage), its hosts (or `only`, when given and chosen).
    pub fn apply(&self, opts: &mut RunOptions, from: StageId, only: &[String]) {
        opts.stages = self
            .stage_list()
            .into_iter()
            .filter(|s| *s >= from)
            .collect();
        opts.hosts = if only.is_empty() {
            self.hosts.iter().cloned().collect()
        } else {
            only.iter().filter(|h| self.has_host(h)).cloned().collect()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        serde_yaml::from_str(
            "version: 1\ncluster: {name: c}\nhosts:\n\
             - {name: node1, address: 10.0.0.1, roles: [control_plane, etcd, worker]}\n\
             - {name: node2, address: 10.0.0.2, roles: [worker]}\n",
        )
        .expect("plan")
    }

    #[test]
    fn no_flags_select_everything_and_flags_narrow_it() {
        let p = plan();
        let all = Selection::parse(&p, &[], &[]).expect("all");
        assert_eq!(all, Selection::all(&p));
        assert_eq!(all.stage_list(), StageId::ALL.to_vec());
        let s = Selection::parse(&p, &["storage".into()], &["node2".into()]).expect("narrow");
        assert!(s.covers(StageId::Storage, "node2"));
        assert!(!s.covers(StageId::Storage, "node1"));
        assert!(!s.covers(StageId::Kubespray, "node2"));
    }

    #[test]
    fn unknown_names_say_which_exist() {
        let p = plan();
        assert_eq!(
            Selection::parse(&p, &["disks".into()], &[]),
            Err("--stage disks: no such stage (stages: preflight, host-prep, storage, kubespray, verify, load-balancer)".into())
        );
        assert_eq!(
            Selection::parse(&p, &[], &["node9".into()]),
            Err("--host node9: the plan has no such host (hosts: node1, node2)".into())
        );
    }

    #[test]
    fn toggling_leaves_a_stage_or_host_out_and_applies_to_the_run() {
        let p = plan();
        let mut s = Selection::all(&p);
        s.toggle_stage(StageId::Kubespray);
        s.toggle_host("node1");
        let mut o = RunOptions::new(std::sync::Arc::new(
            crate::provision::remote::SshConnector {
                base: Default::default(),
            },
        ));
        s.apply(&mut o, StageId::HostPrep, &[]);
        assert_eq!(
            o.stages,
            [
                StageId::HostPrep,
                StageId::Storage,
                StageId::Verify,
                StageId::LoadBalancer
            ]
        );
        assert_eq!(o.hosts, ["node2"]);
        s.toggle_host("node2");
        assert!(s.is_empty());
    }
}
