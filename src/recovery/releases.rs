//! Which playbook files a Kubespray release has for the recovery actions, and where its docs
//! describe them. Read from the release trees themselves (`git archive` of each tag):
//!
//! - every supported release has the root shims `scale.yml`, `remove-node.yml`,
//!   `recover-control-plane.yml`, `upgrade-cluster.yml` importing `playbooks/*.yml`, and
//!   `playbooks/facts.yml`;
//! - from v2.29 the root also has `remove_node.yml` and `upgrade_cluster.yml`, the names of
//!   the files they import; rackstrap uses those where they exist;
//! - the node operations page moved from `docs/nodes.md` (v2.24) to `docs/operations/nodes.md`
//!   (v2.28 on), and `recover-control-plane.md` with it.

/// The playbooks and docs of one Kubespray minor release, as paths relative to its tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Playbooks {
    /// `v2.24`: the releases this row covers (every patch release of that minor).
    pub minor: &'static str,
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

const OLD_DOCS: (&str, &str) = ("docs/nodes.md", "docs/recover-control-plane.md");
const NEW_DOCS: (&str, &str) = (
    "docs/operations/nodes.md",
    "docs/operations/recover-control-plane.md",
);

const fn row(
    minor: &'static str,
    underscores: bool,
    docs: (&'static str, &'static str),
) -> Playbooks {
    Playbooks {
        minor,
        cluster: "cluster.yml",
        facts: "playbooks/facts.yml",
        scale: "scale.yml",
        upgrade: if underscores {
            "upgrade_cluster.yml"
        } else {
            "upgrade-cluster.yml"
        },
        remove_node: if underscores {
            "remove_node.yml"
        } else {
            "remove-node.yml"
        },
        recover_control_plane: "recover-control-plane.yml",
        nodes_doc: docs.0,
        recover_doc: docs.1,
    }
}

/// The releases rackstrap knows, oldest first.
pub const RELEASES: [Playbooks; 5] = [
    row("v2.24", false, OLD_DOCS),
    row("v2.28", false, NEW_DOCS),
    row("v2.29", true, NEW_DOCS),
    row("v2.30", true, NEW_DOCS),
    row("v2.31", true, NEW_DOCS),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Kubespray {version}: rackstrap knows the recovery playbooks of {} only (cluster.kubespray.version)",
    known()
)]
pub struct UnknownRelease {
    pub version: String,
}

fn known() -> String {
    RELEASES.map(|r| r.minor).join(", ")
}

/// The row for a release tag such as `v2.24.1` (or `2.24.1`).
pub fn playbooks(version: &str) -> Result<&'static Playbooks, UnknownRelease> {
    let v = version.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    let mut parts = v.split('.');
    let minor = match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("v{major}.{minor}"),
        _ => String::new(),
    };
    RELEASES
        .iter()
        .find(|r| r.minor == minor)
        .ok_or_else(|| UnknownRelease {
            version: version.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_finds_its_minor_release() {
        assert_eq!(
            playbooks("v2.24.1").map(|p| p.remove_node),
            Ok("remove-node.yml")
        );
        assert_eq!(
            playbooks("2.29.1").map(|p| p.remove_node),
            Ok("remove_node.yml")
        );
        assert_eq!(
            playbooks("v2.31.0").map(|p| p.nodes_doc),
            Ok("docs/operations/nodes.md")
        );
        let e = playbooks("v2.19.0").expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "Kubespray v2.19.0: rackstrap knows the recovery playbooks of v2.24, v2.28, v2.29, \
             v2.30, v2.31 only (cluster.kubespray.version)"
        );
        assert!(playbooks("master").is_err());
    }
}
