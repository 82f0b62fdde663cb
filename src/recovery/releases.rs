//! Which playbook files a Kubespray release has for the recovery actions, and where its docs
//! describe them: the recovery columns of the release table (`plan::release::RELEASES`, each
//! value read from the release's tree), gathered for the actions.

use crate::plan::release::{RELEASES, Release};

/// The playbooks and docs of one Kubespray release line, as paths relative to its tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playbooks {
    /// The release tag the row was read from (`v2.24.1`): plans naming another patch of the
    /// same line use it.
    pub tag: &'static str,
    pub cluster: &'static str,
    /// Refreshes the fact cache of every host; needed before any `--limit` (v2.27 on refuse
    /// `--limit` without it, and older ones misrender templates that read other hosts' facts).
    pub facts: &'static str,
    pub scale: &'static str,
    pub upgrade: &'static str,
    pub remove_node: &'static str,
    pub recover_control_plane: &'static str,
    /// The page "Adding/replacing a node".
    pub nodes_doc: &'static str,
    /// The page "Recovering the control plane".
    pub recover_doc: &'static str,
}

impl Playbooks {
    fn of(r: &'static Release) -> Self {
        Self {
            tag: r.tag,
            cluster: crate::kubespray::tree::CLUSTER_PLAYBOOK,
            facts: r.facts_playbook,
            scale: r.scale_playbook,
            upgrade: r.upgrade_playbook,
            remove_node: r.remove_node_playbook,
            recover_control_plane: r.recover_playbook,
            nodes_doc: r.nodes_doc,
            recover_doc: r.recover_doc,
        }
    }
}

/// Every release rackstrap knows, oldest first.
pub fn all() -> Vec<Playbooks> {
    RELEASES.iter().map(Playbooks::of).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Kubespray {version}: rackstrap knows the recovery playbooks of {} only (cluster.kubespray.version)",
    known()
)]
pub struct UnknownRelease {
    pub version: String,
}

fn known() -> String {
    RELEASES
        .iter()
        .map(|r| r.tag)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row for a release tag such as `v2.24.1` (or another patch of that line).
pub fn playbooks(version: &str) -> Result<Playbooks, UnknownRelease> {
    Release::find(version)
        .map(Playbooks::of)
        .ok_or_else(|| UnknownRelease {
            version: version.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_finds_its_release_line() {
        assert_eq!(
            playbooks("v2.24.1").map(|p| p.remove_node),
            Ok("remove-node.yml")
        );
        assert_eq!(
            playbooks("v2.29.0").map(|p| p.remove_node),
            Ok("remove_node.yml")
        );
        assert_eq!(
            playbooks("v2.31.0").map(|p| p.nodes_doc),
            Ok("docs/operations/nodes.md")
        );
        assert_eq!(
            playbooks("v2.24.1").map(|p| p.recover_doc),
            Ok("docs/recover-control-plane.md")
        );
        let e = playbooks("v2.19.0").expect_err("unknown");
        assert!(
            e.to_string().starts_with(
                "Kubespray v2.19.0: rackstrap knows the recovery playbooks of v2.24.1, "
            ),
            "{e}"
        );
        assert!(playbooks("master").is_err());
    }
}
