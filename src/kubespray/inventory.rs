//! Kubespray checks the inventory itself: its `playbooks/boilerplate.yml` (Ansible version
//! check, `dynamic_groups` from v2.29, `validate_inventory` from v2.28) runs against the
//! rendered inventory with `ansible_connection=local`. The plays there only assert on
//! variables and groups (no facts gathered, no host contacted) and take seconds; a failure is
//! a finding carrying Kubespray's own message.
//!
//! The render is laid over a copy of the inventory the Kubespray stage would use
//! (`inventory/<name>` when it exists, else the release's `inventory/sample`) in a temporary
//! directory, so checking never writes into the tree. Releases without `validate_inventory`
//! (v2.24) rely on rackstrap's own re-statement (`render::validate`).

use std::path::Path;
use std::time::Duration;

use super::events::Results;
use super::release::Release;
use super::runner::{self, Ansible};
use super::tree::Tree;
use crate::plan::{Code, Finding, Plan, Severity};
use crate::render::RenderedFile;

/// The playbook holding Kubespray's inventory checks (every release with them).
pub const BOILERPLATE: &str = "playbooks/boilerplate.yml";

/// How long the checks may print nothing: they assert on variables and take seconds, so a
/// quiet minute means something waits for input that never comes.
pub const CHECK_STALL: Duration = Duration::from_secs(60);

/// Whether the plan's release has Kubespray's own inventory checks.
pub fn has_checks(plan: &Plan) -> bool {
    Release::find(&plan.cluster.kubespray.version).is_some_and(|r| r.validate_inventory)
}

/// The `ansible-playbook` words (run in the tree) that check the inventory at `hosts_file`,
/// as the operator types them (`venv/bin/ansible-playbook` when the tree has its virtualenv).
pub fn command(tree: &Tree, hosts_file: &Path) -> Vec<String> {
    vec![
        shown_program(tree),
        "-i".into(),
        hosts_file.display().to_string(),
        BOILERPLATE.into(),
        "-e".into(),
        "ansible_connection=local".into(),
    ]
}

/// The checks as a run: no host contacted, so no pinned keys.
pub fn ansible(tree: &Tree, hosts_file: &Path) -> Ansible {
    Ansible::new(command(tree, hosts_file), None)
}

/// `venv/bin/ansible-playbook` when the tree has its virtualenv, else `ansible-playbook`.
pub fn shown_program(tree: &Tree) -> String {
    match tree.venv_ansible() {
        Some(_) => format!("{}/bin/ansible-playbook", super::tree::VENV_DIR),
        None => "ansible-playbook".into(),
    }
}

/// Copies `from` into `to`, directories 0755 whatever the umask (the render's own copy).
pub use crate::render::copy_dir;

/// Runs Kubespray's inventory checks on `files` (the render's inventory files) in `tree`.
/// `Ok(findings)`: empty when Kubespray accepts the inventory. `Err`: the check could not
/// run (no tree, no Ansible), said in words.
pub fn check_files(
    plan: &Plan,
    tree: &Tree,
    files: &[RenderedFile],
) -> Result<Vec<Finding>, String> {
    let Some(release) = Release::find(&plan.cluster.kubespray.version) else {
        return Ok(Vec::new());
    };
    if !release.validate_inventory {
        return Ok(Vec::new());
    }
    if !tree.is_tree() {
        return Err(format!("{} is not a Kubespray tree", tree.path.display()));
    }
    let tmp = tempfile::Builder::new()
        .prefix("rackstrap-inventory-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let inv = tmp.path().join(&plan.cluster.name);
    let own = tree.path.join("inventory").join(&plan.cluster.name);
    let base = if own.is_dir() {
        own
    } else {
        tree.path.join("inventory/sample")
    };
    crate::render::copy_dir(&base, &inv).map_err(|e| format!("copying {}: {e}", base.display()))?;
    crate::render::write(files, &inv).map_err(|e| format!("writing the inventory: {e}"))?;
    let run = ansible(tree, &inv.join(crate::render::HOSTS_FILE));
    let mut seen = runner::Collect::default();
    let out = runner::run_blocking(tree, &run, CHECK_STALL, &mut seen).map_err(|e| {
        format!(
            "{e}; `rackstrap kubespray prepare PLAN` makes the tree's virtualenv with \
             Kubespray's requirements.txt"
        )
    })?;
    let mut findings = findings_of(release, &out.results);
    if findings.is_empty() && !out.success() {
        let said: Vec<&str> = seen
            .lines
            .iter()
            .skip(1)
            .map(String::as_str)
            .filter(|l| !l.trim().is_empty())
            .collect();
        let tail = said[said.len().saturating_sub(3)..].join(" ");
        findings.push(finding(
            release,
            format!("ansible-playbook {}: {tail}", out.exit_text()),
        ));
    }
    Ok(findings)
}

/// The plan's render checked by Kubespray in its tree (see [`check_files`]).
pub fn check(plan: &Plan) -> Result<Vec<Finding>, String> {
    let files: Vec<RenderedFile> = crate::render::render(plan)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|f| !f.path.starts_with("extras"))
        .collect();
    check_files(plan, &Tree::of(plan), &files)
}

fn finding(release: &Release, what: String) -> Finding {
    Finding {
        severity: Severity::Error,
        code: Code::E_KUBESPRAY_INVENTORY,
        path: "cluster".into(),
        message: format!("Kubespray {} refuses the inventory: {what}", release.tag),
        hint: Some(format!(
            "the task is in the tree's {BOILERPLATE} (roles/validate_inventory); \
             `rackstrap render` shows the variables it read"
        )),
    }
}

/// One finding per distinct failed task: `task [name] failed: msg (failed: assertion)`, from
/// the run's results (the callback's events).
pub fn findings_of(release: &Release, results: &Results) -> Vec<Finding> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (_, f) in results.task_failures() {
        let mut text = f.to_string();
        if let Some(a) = &f.assertion {
            text.push_str(&format!(" (failed: {a})"));
        }
        if !seen.contains(&text) {
            seen.push(text.clone());
            out.push(finding(release, text));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubesprays_refusal_becomes_one_finding_with_its_message() {
        let release = Release::find("v2.31.0").expect("release");
        // The callback's lines of a refused inventory, one failure per host of one task.
        let events = r#"{"event": "play", "name": "Inventory setup and validation"}
{"event": "task", "name": "validate_inventory : Stop if unsupported options selected"}
{"event": "result", "status": "failed", "host": "node1", "task": "validate_inventory : Stop if unsupported options selected", "assertion": "kube_network_plugin in ['calico', 'flannel']", "msg": "The selected choice is not supported"}
{"event": "result", "status": "failed", "host": "node2", "task": "validate_inventory : Stop if unsupported options selected", "assertion": "kube_network_plugin in ['calico', 'flannel']", "msg": "The selected choice is not supported"}
{"event": "recap", "host": "node1", "ok": 0, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0, "rescued": 0, "ignored": 0}"#;
        let mut results = Results::new();
        for l in events.lines() {
            results.apply(&crate::kubespray::events::Event::parse(l).expect("an event"));
        }
        let f = findings_of(release, &results);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].code, "E_KUBESPRAY_INVENTORY");
        assert_eq!(
            f[0].message,
            "Kubespray v2.31.0 refuses the inventory: task [validate_inventory : Stop if \
             unsupported options selected] failed: The selected choice is not supported \
             (failed: kube_network_plugin in ['calico', 'flannel'])"
        );
        assert!(findings_of(release, &Results::new()).is_empty());
    }

    #[test]
    fn releases_without_the_checks_are_not_run() {
        let p: Plan = serde_yaml::from_str(
            "version: 1\ncluster: {name: c, kubespray: {path: /nonexistent, version: v2.24.1}}\n",
        )
        .expect("plan");
        assert!(!has_checks(&p));
        assert_eq!(
            check_files(&p, &Tree::of(&p), &[]).expect("not run"),
            Vec::new()
        );
    }
}
