//! Checks: plan (+ facts, when known) -> findings.
//!
//! One function, [`check`], is what both `rackstrap check` and the wizard's findings strip
//! call. It runs the structural checks always (roles and quorum, names, network syntax and
//! overlaps, storage layout shape) and the hardware and disk checks only for hosts whose
//! facts are known. Findings come out in a fixed order (plan order, then check order), so
//! the same plan gives the same list.
//!
//! Every finding has a stable [`Code`] (`E_...` errors block, `W_...` warnings inform, `I_...`
//! facts worth showing) and a path into the plan such as `hosts[2].storage[0].devices[1]`.
//!
//! The rooms, by subject: [`cluster`] (names, versions, access, labels, sysctl), [`roles`]
//! (control planes, workers, etcd quorum), [`hardware`] (floors in tiers and the capacity
//! estimate), [`network`] (CIDRs, pools, VIP, MTU), [`storage`] (layouts, devices, mounts),
//! [`rules`] (single-field rules the wizard's forms call too), [`code`] (the codes) and
//! `messages` (the words of every finding, so they read as one voice).

mod cluster;
pub mod code;
pub mod hardware;
mod messages;
mod network;
pub mod roles;
pub mod rules;
pub mod storage;

use serde::Serialize;

use super::model::Plan;
use crate::facts::Facts;

pub use cluster::KUBESPRAY_SHIPPED_INVENTORIES;
pub use code::{Code, Subject};
pub use hardware::{
    DeploymentEstimate, EstimateBound, Fit, Floor, HwRole, Resource, Tier, akash_figures, role_fit,
    role_fit_for, root_disk_bytes, worker_deployment_estimate,
};
pub use network::{CALICO_MTU_OVERHEAD, KUBELET_MAX_PODS};
pub use roles::{ETCD_MAX_ADVISED, Quorum, etcd_way_on, quorum};
pub use rules::{
    DiskInUse, MTU_MAX, MTU_MIN, MountProblem, NODE_PREFIX_MAX, NODE_PREFIX_MIN, disk_in_use,
    label_problem, mount_problem, parse_addr_list, parse_labels, parse_mtu, parse_node_prefix,
    parse_vip, pool_name_error,
};
pub use storage::{mount_points, overlap_holder, resolve_discard, total_bytes, usable_bytes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks: the plan cannot be applied as it is.
    Error,
    /// Worth a second look; does not block.
    Warning,
    /// A suggestion that goes with an error or warning, on its own line. `check` never
    /// emits it; the wizard splits some hints out this way.
    Hint,
    /// A fact the operator should see (quorum, usable capacity).
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Hint => "hint",
            Severity::Info => "info",
        }
    }
}

/// One thing the operator should know about the plan, from `check` or from a wizard form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    /// Where in the plan, e.g. `hosts[2].storage[0].devices[1]`.
    pub path: String,
    pub message: String,
    /// How to fix it, when there is one thing to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    pub fn new(severity: Severity, code: Code, path: impl Into<String>, message: String) -> Self {
        Self {
            severity,
            code,
            path: path.into(),
            message,
            hint: None,
        }
    }

    /// An error with this code (the severity most findings of a form field have).
    pub fn error(code: Code, path: impl Into<String>, message: String) -> Self {
        Self::new(Severity::Error, code, path, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Every finding for the plan; hardware and disk checks for hosts present in `facts`.
pub fn check(plan: &Plan, facts: Option<&Facts>) -> Vec<Finding> {
    let mut out = Vec::new();
    cluster::check_cluster(plan, &mut out);
    cluster::check_hosts(plan, &mut out);
    roles::check_roles(plan, &mut out);
    if let Some(facts) = facts {
        hardware::check_hardware(plan, facts, &mut out);
    }
    network::check_network(plan, &mut out);
    if let Some(facts) = facts {
        network::check_network_facts(plan, facts, &mut out);
    }
    storage::check_storage(plan, facts, &mut out);
    cluster::check_tuning(plan, &mut out);
    out
}
