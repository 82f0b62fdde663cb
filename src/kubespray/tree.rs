//! The Kubespray tree on the control machine (`cluster.kubespray.path`) and the Ansible that
//! runs it: which release the tree really is (its `galaxy.yml`, else its git tag), which
//! `ansible-playbook` rackstrap will use (the tree's own virtualenv `venv/`, made by
//! `rackstrap kubespray prepare`, else the one on `PATH`), and whether the two fit the
//! plan's release. Kubespray's `.gitignore` lists `venv/`, so the virtualenv is not a
//! change to the tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::release::{Release, Version, parse_ansible_version, parse_galaxy_version};
use crate::plan::{Code, Finding, Plan, Severity};

/// The virtualenv inside the tree, as Kubespray's README makes it (`python3 -m venv venv`).
pub const VENV_DIR: &str = "venv";
/// The playbook that builds a cluster, at the tree's root in every release.
pub const CLUSTER_PLAYBOOK: &str = "cluster.yml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    pub path: PathBuf,
}

/// Which `ansible-playbook` and what it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ansible {
    pub program: PathBuf,
    pub version: Version,
}

impl Tree {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The plan's tree, `~` expanded.
    pub fn of(plan: &Plan) -> Self {
        Self::new(crate::paths::expand_home(&plan.cluster.kubespray.path))
    }

    /// A Kubespray tree: `cluster.yml` and `inventory/sample` are there.
    pub fn is_tree(&self) -> bool {
        self.path.join(CLUSTER_PLAYBOOK).is_file() && self.path.join("inventory/sample").is_dir()
    }

    /// The release the tree is: `galaxy.yml`'s `version:`, else the tag `git describe`
    /// finds on its checked-out commit.
    pub fn version(&self) -> Result<Version, String> {
        let galaxy = self.path.join("galaxy.yml");
        if let Ok(text) = std::fs::read_to_string(&galaxy)
            && let Some(v) = parse_galaxy_version(&text)
        {
            return Ok(v);
        }
        let out = Command::new("git")
            .args(["describe", "--tags", "--exact-match"])
            .current_dir(&self.path)
            .output()
            .map_err(|e| format!("cannot run git in {}: {e}", self.path.display()))?;
        let tag = String::from_utf8_lossy(&out.stdout).trim().to_string();
        match Version::parse(&tag) {
            Some(v) if out.status.success() => Ok(v),
            _ => Err(format!(
                "{} has no galaxy.yml version and no release tag checked out",
                self.path.display()
            )),
        }
    }

    /// The virtualenv's `ansible-playbook`, when the virtualenv has one.
    pub fn venv_ansible(&self) -> Option<PathBuf> {
        let p = self.path.join(VENV_DIR).join("bin/ansible-playbook");
        p.is_file().then_some(p)
    }

    /// The `ansible-playbook` rackstrap runs for this tree: the virtualenv's, else `PATH`'s.
    pub fn ansible_program(&self) -> PathBuf {
        self.venv_ansible()
            .unwrap_or_else(|| PathBuf::from("ansible-playbook"))
    }

    /// Environment for running the tree's Ansible: its virtualenv activated (Kubespray's
    /// `ansible.cfg` names roles under `$VIRTUAL_ENV`), nothing when there is none.
    pub fn ansible_env(&self) -> Vec<(String, String)> {
        let venv = self.path.join(VENV_DIR);
        if self.venv_ansible().is_none() {
            return Vec::new();
        }
        let venv = std::path::absolute(&venv).unwrap_or(venv);
        let bin = venv.join("bin");
        let path = match std::env::var_os("PATH") {
            Some(p) => format!("{}:{}", bin.display(), p.to_string_lossy()),
            None => bin.display().to_string(),
        };
        vec![
            ("VIRTUAL_ENV".into(), venv.display().to_string()),
            ("PATH".into(), path),
        ]
    }

    /// `git status --porcelain` of the tree (tracked files only: what the operator changed);
    /// `None` when the tree is not a git checkout.
    pub fn local_changes(&self) -> Option<Vec<String>> {
        if !self.path.join(".git").exists() {
            return None;
        }
        let out = Command::new("git")
            .args(["status", "--porcelain", "--untracked-files=no"])
            .current_dir(&self.path)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
        )
    }
}

/// Runs `program --version` and reads its ansible-core version.
pub fn ansible_version(program: &Path, env: &[(String, String)]) -> Result<Version, String> {
    let out = super::prepare::output_within(
        Command::new(program)
            .arg("--version")
            .envs(env.iter().map(|(k, v)| (k, v))),
        super::prepare::VERSION_LIMIT,
    )
    .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_ansible_version(&text).ok_or_else(|| {
        format!(
            "{} --version printed no version ({})",
            program.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

fn error(code: Code, message: String, hint: String) -> Finding {
    Finding {
        severity: Severity::Error,
        code,
        path: "cluster.kubespray".into(),
        message,
        hint: Some(hint),
    }
}

/// What is wrong between the plan, its Kubespray tree and the Ansible that would run it:
/// `E_KUBESPRAY_TREE_VERSION` (the tree is another release), `E_ANSIBLE_MISSING`,
/// `E_ANSIBLE_VERSION` (outside the release's range). Nothing when the tree does not
/// exist or the release is unknown (`check` warns about that).
pub fn findings(plan: &Plan) -> Vec<Finding> {
    let tree = Tree::of(plan);
    let Some(release) = Release::find(&plan.cluster.kubespray.version) else {
        return Vec::new();
    };
    if !tree.is_tree() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let want = Version::parse(&plan.cluster.kubespray.version);
    match tree.version() {
        Ok(have) if Some(have) != want => out.push(error(
            Code::E_KUBESPRAY_TREE_VERSION,
            format!(
                "the Kubespray tree {} is v{have}, the plan says {}",
                tree.path.display(),
                plan.cluster.kubespray.version
            ),
            format!(
                "set cluster.kubespray.version to v{have}, or point cluster.kubespray.path at a \
                 {} tree (`rackstrap kubespray prepare` clones one into a new path)",
                plan.cluster.kubespray.version
            ),
        )),
        Ok(_) => {}
        Err(e) => out.push(error(
            Code::E_KUBESPRAY_TREE_VERSION,
            e,
            "use a tree cloned at a release tag (`rackstrap kubespray prepare`)".into(),
        )),
    }
    out.extend(ansible_finding(&tree, release));
    out
}

/// `E_ANSIBLE_MISSING` / `E_ANSIBLE_VERSION` for the Ansible the tree would run with.
pub fn ansible_finding(tree: &Tree, release: &Release) -> Option<Finding> {
    let program = tree.ansible_program();
    let prepare_hint = format!(
        "run `rackstrap kubespray prepare PLAN`: it makes {}/{VENV_DIR} with Kubespray's \
         requirements.txt ({}, ansible-core {})",
        tree.path.display(),
        release.ansible_package,
        release.ansible_core
    );
    match ansible_version(&program, &tree.ansible_env()) {
        Err(e) => Some(error(Code::E_ANSIBLE_MISSING, e, prepare_hint)),
        Ok(v) if !release.ansible_core.contains(v) => Some(error(
            Code::E_ANSIBLE_VERSION,
            format!(
                "{} is ansible-core {v}; Kubespray {} needs {} (\"Ansible must be between {} and {} exclusive\")",
                program.display(),
                release.tag,
                release.ansible_core,
                release.ansible_core.min,
                release.ansible_core.max_exclusive
            ),
            prepare_hint,
        )),
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(path: &Path, version: &str) -> Plan {
        serde_yaml::from_str(&format!(
            "version: 1\ncluster: {{name: c, kubespray: {{path: '{}', version: {version}}}}}\n",
            path.display()
        ))
        .expect("plan")
    }

    fn fake_tree(dir: &Path, galaxy_version: &str, ansible: &str) {
        std::fs::create_dir_all(dir.join("inventory/sample")).expect("mkdir");
        std::fs::write(dir.join("cluster.yml"), "---\n").expect("write");
        std::fs::write(
            dir.join("galaxy.yml"),
            format!("---\nname: kubespray\nversion: {galaxy_version}\n"),
        )
        .expect("write");
        let bin = dir.join("venv/bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        let program = bin.join("ansible-playbook");
        std::fs::write(
            &program,
            format!("#!/bin/sh\necho 'ansible-playbook [core {ansible}]'\n"),
        )
        .expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn a_tree_of_the_plans_release_with_ansible_in_range_passes() {
        let dir = tempfile::tempdir().expect("tmp");
        fake_tree(dir.path(), "2.31.0", "2.18.12");
        assert!(findings(&plan(dir.path(), "v2.31.0")).is_empty());
    }

    #[test]
    fn another_release_in_the_tree_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().expect("tmp");
        fake_tree(dir.path(), "2.30.0", "2.17.14");
        let f = findings(&plan(dir.path(), "v2.31.0"));
        assert_eq!(codes(&f), ["E_KUBESPRAY_TREE_VERSION", "E_ANSIBLE_VERSION"]);
        assert!(f[0].message.ends_with("is v2.30.0, the plan says v2.31.0"));
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("set cluster.kubespray.version to v2.30.0"))
        );
    }

    #[test]
    fn ansible_outside_the_releases_range_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        fake_tree(dir.path(), "2.24.1", "2.18.12");
        let f = findings(&plan(dir.path(), "v2.24.1"));
        assert_eq!(codes(&f), ["E_ANSIBLE_VERSION"]);
        assert!(
            f[0].message.contains(
                "is ansible-core 2.18.12; Kubespray v2.24.1 needs >=2.15.5,<2.17.0 (\"Ansible must be between 2.15.5 and 2.17.0 exclusive\")"
            ),
            "{}",
            f[0].message
        );
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("rackstrap kubespray prepare"))
        );
    }

    #[test]
    fn no_tree_means_no_tree_findings() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = plan(&dir.path().join("absent"), "v2.31.0");
        assert!(findings(&p).is_empty());
    }
}
