//! Kubespray as rackstrap uses it: the releases it knows ([`release`], data kept with the
//! plan), the tree on the control machine and the Ansible that runs it ([`tree`]), making
//! that tree ready ([`prepare`]), the plan's inventory laid into it ([`lay`]), the one way
//! Ansible is run there ([`runner`], its results as data from a callback: [`events`]), and
//! Kubespray's own inventory checks run against a render ([`inventory`]).
//!
//! The rules live here once; `rackstrap check`, `rackstrap kubespray prepare`, `apply`, the
//! Kubespray stage and the wizard call them.

pub mod events;
pub mod inventory;
pub mod lay;
pub mod prepare;
pub mod runner;
pub mod tree;

/// The release table lives with the plan (its checks and renders read it).
pub use crate::plan::release;
pub use crate::plan::release::{CALICO_VXLAN_OVERHEAD, DEFAULT_TAG, RELEASES, Release, Version};
pub use tree::Tree;

use crate::plan::{Code, Finding, Plan, Severity};

/// The release the plan names, when rackstrap knows it.
pub fn release_of(plan: &Plan) -> Option<&'static Release> {
    Release::find(&plan.cluster.kubespray.version)
}

/// What Kubespray itself says about the plan when its tree is on this machine: the tree's
/// release and its Ansible against the plan (`tree::findings`), then, those being right and
/// `so_far` (the plan's own findings) free of errors, Kubespray's inventory checks on the
/// render (`inventory::check`). Nothing when the tree is not there. Runs `ansible-playbook`:
/// seconds, not for every frame.
pub fn tree_findings(plan: &Plan, so_far: &[Finding]) -> Vec<Finding> {
    if !Tree::of(plan).is_tree() {
        return Vec::new();
    }
    let tree = tree::findings(plan);
    if !tree.is_empty() || so_far.iter().any(Finding::is_error) {
        return tree;
    }
    match inventory::check(plan) {
        Ok(f) => f,
        Err(e) => vec![Finding {
            severity: Severity::Warning,
            code: Code::W_KUBESPRAY_CHECK,
            path: "cluster.kubespray".into(),
            message: format!("Kubespray's inventory checks did not run: {e}"),
            hint: None,
        }],
    }
}
