//! Whether the stages of a run can start on this machine (the control machine), decided
//! before anything runs, so the wizard's Review and Provision can say what is missing and
//! what to do instead of failing in the middle of a run.
//!
//! Only the Kubespray stage runs anything here: `ansible-playbook` (the tree's virtualenv's,
//! else the one on `PATH`, as `kubespray::tree` decides) from the Kubespray tree the plan
//! names (Kubespray's README, "Usage": the playbooks run from a checkout with its
//! `requirements.txt` installed). The other stages run over SSH on the hosts. What the tree
//! says about the plan once it is there (its release, its Ansible's version) is
//! `kubespray::tree_findings`'s.

use std::path::PathBuf;

use crate::kubespray::tree::{CLUSTER_PLAYBOOK, Tree};
use crate::plan::Plan;
use crate::provision::event::StageId;
use crate::provision::selection::Selection;

/// A stage that cannot start on this machine: what is missing and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub stage: StageId,
    pub problem: String,
    pub fix: String,
}

/// Every reason a stage of `selection` cannot start on this machine; empty when all can.
/// `path` is the `PATH` to look for programs on (`std::env::var_os("PATH")`).
pub fn blockers(
    plan: &Plan,
    selection: &Selection,
    path: Option<&std::ffi::OsStr>,
) -> Vec<Blocker> {
    let mut out = Vec::new();
    if selection.has_stage(StageId::Kubespray) && !selection.hosts.is_empty() {
        let tree = Tree::of(plan);
        if !tree.is_tree() {
            out.push(Blocker {
                stage: StageId::Kubespray,
                problem: format!(
                    "{} is not a Kubespray tree (no {CLUSTER_PLAYBOOK} or inventory/sample)",
                    tree.path.display()
                ),
                fix: format!(
                    "rackstrap kubespray prepare <plan> clones release {} there with its Ansible, or set cluster.kubespray.path to an existing checkout; or leave the Kubespray stage out of this run",
                    plan.cluster.kubespray.version
                ),
            });
        }
        // With a tree of a known release, `kubespray::tree::findings` says more (which
        // Ansible, which version range); here only what it does not look at.
        let tree_says = tree.is_tree()
            && crate::kubespray::release::Release::find(&plan.cluster.kubespray.version).is_some();
        if !tree_says
            && tree.venv_ansible().is_none()
            && find_program("ansible-playbook", path).is_none()
        {
            out.push(Blocker {
                stage: StageId::Kubespray,
                problem: "no ansible-playbook: none in the tree's venv/, none on PATH".into(),
                fix: "rackstrap kubespray prepare <plan> makes the tree's virtualenv with Kubespray's requirements.txt; or leave the Kubespray stage out of this run".into(),
            });
        }
    }
    out
}

/// The first executable file called `name` in the directories of `path`.
pub fn find_program(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(tree: &std::path::Path) -> Plan {
        serde_yaml::from_str(&format!(
            "version: 1\ncluster: {{name: c, kubespray: {{path: {}}}}}\nhosts:\n\
             - {{name: node1, address: 10.0.0.1, roles: [control_plane, etcd, worker]}}\n",
            tree.display()
        ))
        .expect("plan")
    }

    #[test]
    fn kubespray_needs_a_tree_and_ansible_playbook_here() {
        let dir = tempfile::tempdir().expect("tmp");
        let tree = dir.path().join("kubespray");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin");
        let p = plan(&tree);
        let all = Selection::all(&p);
        let empty_path = std::ffi::OsString::from(&bin);

        let b = blockers(&p, &all, Some(&empty_path));
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(b.iter().all(|b| b.stage == StageId::Kubespray));
        assert!(b[0].problem.contains("is not a Kubespray tree"), "{b:?}");
        assert!(b[1].problem.contains("ansible-playbook"), "{b:?}");

        // Leaving Kubespray out of the run leaves nothing that cannot start.
        let mut without = all.clone();
        without.toggle_stage(StageId::Kubespray);
        assert!(blockers(&p, &without, Some(&empty_path)).is_empty());

        // No tree yet: an ansible-playbook on PATH must be executable to count.
        let prog = bin.join("ansible-playbook");
        std::fs::write(&prog, "#!/bin/sh\n").expect("prog");
        assert_eq!(
            blockers(&p, &all, Some(&empty_path)).len(),
            2,
            "not executable"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(blockers(&p, &all, Some(&empty_path)).len(), 1);

        // A tree of the plan's release: ready here; which Ansible it runs, and its version,
        // are the tree's own findings (`kubespray::tree::findings`).
        std::fs::create_dir_all(tree.join("inventory/sample")).expect("tree");
        std::fs::write(tree.join(CLUSTER_PLAYBOOK), "---\n").expect("playbook");
        assert!(blockers(&p, &all, Some(&empty_path)).is_empty());
    }
}
