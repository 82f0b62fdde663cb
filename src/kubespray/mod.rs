//! Kubespray as rackstrap uses it: the releases it knows ([`release`]), the tree on the
//! control machine and the Ansible that runs it ([`tree`]), making that tree ready
//! ([`prepare`]), and Kubespray's own inventory checks run against a render
//! ([`inventory`]).
//!
//! The rules live here once; `rackstrap check`, `rackstrap kubespray prepare`, `apply`, the
//! Kubespray stage and the wizard call them.

pub mod inventory;
pub mod prepare;
pub mod release;
pub mod tree;

pub use release::{CALICO_VXLAN_OVERHEAD, DEFAULT_TAG, RELEASES, Release, Version};
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

fn finding(severity: Severity, code: Code, path: &str, message: String, hint: String) -> Finding {
    Finding {
        severity,
        code,
        path: path.into(),
        message,
        hint: Some(hint),
    }
}

/// The network plugin against the plan's release: `E_UNKNOWN_NETWORK_PLUGIN` when no
/// release knows it, `E_NETWORK_PLUGIN_RELEASE` when the plan's release refuses it
/// (`weave` from v2.29, `none` before v2.28), as Kubespray's own check would ("The selected
/// choice is not supported"). An unknown release is checked against every known one.
pub fn network_plugin_findings(plan: &Plan) -> Vec<Finding> {
    let plugin = plan.cluster.network_plugin.as_str();
    let path = "cluster.network_plugin";
    let known = release::all_network_plugins();
    if !known.contains(&plugin) {
        return vec![Finding {
            severity: Severity::Error,
            code: Code::E_UNKNOWN_NETWORK_PLUGIN,
            path: path.into(),
            message: format!(
                "unknown network plugin `{plugin}`, expected one of {}",
                known.join(", ")
            ),
            hint: None,
        }];
    }
    match release_of(plan) {
        Some(r) if !r.allows_network_plugin(plugin) => vec![finding(
            Severity::Error,
            Code::E_NETWORK_PLUGIN_RELEASE,
            path,
            format!(
                "Kubespray {} does not support network plugin `{plugin}` (Kubespray stops with \
                 \"The selected choice is not supported\"); it is in Kubespray {}",
                r.tag,
                Release::lines_allowing(plugin).join(", ")
            ),
            format!(
                "choose one of {} (calico is Kubespray's default)",
                r.network_plugins.join(", ")
            ),
        )],
        _ => Vec::new(),
    }
}

/// The plan's release: `W_KUBESPRAY_VERSION` when rackstrap does not know it,
/// `W_KUBESPRAY_OLD_RELEASE` when it is kept only for clusters already built with it.
pub fn release_findings(plan: &Plan) -> Vec<Finding> {
    let v = &plan.cluster.kubespray.version;
    let path = "cluster.kubespray.version";
    let tags = RELEASES
        .iter()
        .map(|r| r.tag)
        .collect::<Vec<_>>()
        .join(", ");
    match release_of(plan) {
        None => vec![finding(
            Severity::Warning,
            Code::W_KUBESPRAY_VERSION,
            path,
            format!(
                "Kubespray {v} is not a release rackstrap knows ({tags}); the rendered \
                 variables may not be the ones it reads"
            ),
            format!(
                "use {DEFAULT_TAG}, or compare the render with that release's inventory/sample"
            ),
        )],
        Some(r) if !r.new_clusters => vec![finding(
            Severity::Warning,
            Code::W_KUBESPRAY_OLD_RELEASE,
            path,
            format!(
                "Kubespray {} (Kubernetes {}-{}) is kept for clusters built with it; new \
                 clusters use {}",
                r.tag,
                r.kubernetes.0,
                r.kubernetes.1,
                Release::for_new_clusters()
                    .map(|r| r.tag)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "for a new cluster set {DEFAULT_TAG}; an existing one moves up one minor \
                 release at a time (docs/plan.md)"
            ),
        )],
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(version: &str, plugin: &str) -> Plan {
        serde_yaml::from_str(&format!(
            "version: 1\ncluster: {{name: c, network_plugin: {plugin}, kubespray: {{version: {version}}}}}\n"
        ))
        .expect("plan")
    }

    fn codes(f: Vec<Finding>) -> Vec<&'static str> {
        f.into_iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn weave_is_refused_from_v2_29_with_kubesprays_words() {
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.28.1", "weave"))),
            Vec::<&str>::new()
        );
        let f = network_plugin_findings(&plan("v2.29.1", "weave"));
        assert_eq!(f[0].code, "E_NETWORK_PLUGIN_RELEASE");
        assert_eq!(
            f[0].message,
            "Kubespray v2.29.1 does not support network plugin `weave` (Kubespray stops with \
             \"The selected choice is not supported\"); it is in Kubespray v2.24, v2.28"
        );
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.31.0", "weave"))),
            ["E_NETWORK_PLUGIN_RELEASE"]
        );
    }

    #[test]
    fn none_is_accepted_from_v2_28_only() {
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.24.1", "none"))),
            ["E_NETWORK_PLUGIN_RELEASE"]
        );
        assert!(network_plugin_findings(&plan("v2.31.0", "none")).is_empty());
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.31.0", "wave"))),
            ["E_UNKNOWN_NETWORK_PLUGIN"]
        );
    }

    #[test]
    fn unknown_and_old_releases_are_warned_about() {
        assert_eq!(
            codes(release_findings(&plan("v2.25.0", "calico"))),
            ["W_KUBESPRAY_VERSION"]
        );
        assert_eq!(
            codes(release_findings(&plan("v2.24.1", "calico"))),
            ["W_KUBESPRAY_OLD_RELEASE"]
        );
        assert!(release_findings(&plan("v2.30.0", "calico")).is_empty());
        assert!(release_findings(&plan(DEFAULT_TAG, "calico")).is_empty());
    }
}
