//! Whether the stages of a run can start on this machine (the control machine), decided
//! before anything runs, so the wizard's Review and Provision can say what is missing and
//! what to do instead of failing in the middle of a run.
//!
//! Only the Kubespray stage runs anything here: `ansible-playbook` from the Kubespray tree
//! the plan names (Kubespray's README, "Usage": the playbooks run from a checkout with its
//! `requirements.txt` installed). The other stages run over SSH on the hosts.

use std::path::{Path, PathBuf};

use crate::paths::expand_home;
use crate::plan::Plan;
use crate::provision::event::StageId;
use crate::provision::selection::Selection;
use crate::provision::stages::kubespray::PLAYBOOK;

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
        let tree = expand_home(&plan.cluster.kubespray.path);
        if !is_kubespray_tree(&tree) {
            out.push(Blocker {
                stage: StageId::Kubespray,
                problem: format!(
                    "{} is not a Kubespray tree (no {PLAYBOOK} or inventory/sample)",
                    tree.display()
                ),
                fix: format!(
                    "clone Kubespray there (git clone --branch {} https://github.com/kubernetes-sigs/kubespray {}) or set cluster.kubespray.path to an existing checkout; or leave the Kubespray stage out of this run",
                    plan.cluster.kubespray.version,
                    plan.cluster.kubespray.path
                ),
            });
        }
        if find_program("ansible-playbook", path).is_none() {
            out.push(Blocker {
                stage: StageId::Kubespray,
                problem: "ansible-playbook is not on this machine's PATH".into(),
                fix: "install Kubespray's requirements (python3 -m venv venv && venv/bin/pip install -r requirements.txt in the Kubespray tree) and start rackstrap with that venv's bin on PATH; or leave the Kubespray stage out of this run".into(),
            });
        }
    }
    out
}

/// A Kubespray checkout: its `cluster.yml` and the sample inventory the stage copies.
pub fn is_kubespray_tree(tree: &Path) -> bool {
    tree.join(PLAYBOOK).is_file() && tree.join("inventory/sample").is_dir()
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

    fn plan(tree: &Path) -> Plan {
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

        // A tree and an executable ansible-playbook: ready.
        std::fs::create_dir_all(tree.join("inventory/sample")).expect("tree");
        std::fs::write(tree.join(PLAYBOOK), "---\n").expect("playbook");
        let prog = bin.join("ansible-playbook");
        std::fs::write(&prog, "#!/bin/sh\n").expect("prog");
        assert_eq!(
            blockers(&p, &all, Some(&empty_path)).len(),
            1,
            "not executable"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(blockers(&p, &all, Some(&empty_path)).is_empty());
    }
}
