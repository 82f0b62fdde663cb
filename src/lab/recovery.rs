//! The recovery demo (`rackstrap demo --lab recovery`): a saved plan and what a survey of its
//! hosts and cluster would find (`assets/labs/recovery.yaml`, compiled in). The Drift screen
//! shows the core's own report of it (`recovery::assess`), and its actions are decided by the
//! core as on real hosts; nothing runs.

use color_eyre::eyre::{Context, Result};
use serde::Deserialize;

use crate::plan::Plan;
use crate::recovery::drift::{Probe, Reach};
use crate::recovery::{Observed, Report, assess};

const SCENARIO: &str = include_str!("../../assets/labs/recovery.yaml");

/// How the demo's guided actions name the plan.
pub const PLAN_FILE: &str = "cluster.yaml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    /// The built-in lab whose simulated hosts the wizard plays on after the Drift screen.
    pub base: String,
    pub plan: Plan,
    pub observed: Observed,
}

pub fn scenario() -> Result<Scenario> {
    serde_yaml::from_str(SCENARIO).wrap_err("the built-in recovery lab (assets/labs/recovery.yaml)")
}

/// The demo's survey: the scenario's observations, compared with `plan` by the core. Hosts in
/// `accepted` had their new key pinned: they answer now, blank (they were reinstalled).
pub fn survey(plan: &Plan, accepted: &[String]) -> Report {
    match scenario() {
        Ok(mut s) => {
            for h in &mut s.observed.hosts {
                if accepted.contains(&h.name) {
                    h.reach = Reach::Connected;
                    h.probe = Some(Probe::default());
                }
            }
            assess(plan, &s.observed, PLAN_FILE)
        }
        Err(_) => assess(
            plan,
            &Observed {
                hosts: Vec::new(),
                cluster: None,
            },
            PLAN_FILE,
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_scenario_loads_and_drifts() {
        let s = super::scenario().expect("scenario");
        let r = super::survey(&s.plan, &[]);
        let states = |n: &str| -> Vec<&str> {
            r.host(n)
                .expect("host")
                .states
                .iter()
                .map(|s| s.label())
                .collect()
        };
        assert_eq!(states("node1"), Vec::<&str>::new());
        assert_eq!(
            states("node2"),
            ["host key changed", "reinstalled", "NotReady"]
        );
        assert_eq!(states("node3"), ["unreachable", "NotReady"]);
        assert_eq!(states("node4"), ["not in the cluster"]);
        assert!(
            r.cluster
                .iter()
                .any(|c| c.text().starts_with("node node9 is in the cluster"))
        );
    }
}
