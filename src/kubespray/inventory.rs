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
use std::process::Command;

use super::release::Release;
use super::tree::Tree;
use crate::plan::{Code, Finding, Plan, Severity};
use crate::render::RenderedFile;

/// The playbook holding Kubespray's inventory checks (every release with them).
pub const BOILERPLATE: &str = "playbooks/boilerplate.yml";

/// Whether the plan's release has Kubespray's own inventory checks.
pub fn has_checks(plan: &Plan) -> bool {
    Release::find(&plan.cluster.kubespray.version).is_some_and(|r| r.validate_inventory)
}

/// The `ansible-playbook` words (run in the tree) that check the inventory at `hosts_file`.
pub fn command(tree: &Tree, hosts_file: &Path) -> Vec<String> {
    vec![
        tree.ansible_program().display().to_string(),
        "-i".into(),
        hosts_file.display().to_string(),
        BOILERPLATE.into(),
        "-e".into(),
        "ansible_connection=local".into(),
    ]
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
    let words = command(tree, &inv.join(crate::render::HOSTS_FILE));
    let out = Command::new(&words[0])
        .args(&words[1..])
        .current_dir(&tree.path)
        .envs(tree.ansible_env())
        .env("ANSIBLE_STDOUT_CALLBACK", "default")
        .env("ANSIBLE_NOCOLOR", "1")
        // One line per result: the JSON after `=>` is what the failure is read from.
        .env("ANSIBLE_CALLBACK_FORMAT_PRETTY", "false")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", words[0]))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut findings = read_failures(release, &stdout);
    if findings.is_empty() && !out.status.success() {
        let last: Vec<&str> = stderr
            .lines()
            .chain(stdout.lines())
            .filter(|l| !l.trim().is_empty())
            .collect();
        let tail = last[last.len().saturating_sub(3)..].join(" ");
        findings.push(finding(
            release,
            format!(
                "ansible-playbook exited {}: {tail}",
                out.status.code().unwrap_or(-1)
            ),
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

/// One finding per distinct failed task: `task [name] failed: msg (failed: assertion)`, read
/// from ansible-playbook's default output (`TASK [name] ***`, then
/// `fatal: [host]: FAILED! => {json}` on one line).
pub fn read_failures(release: &Release, stdout: &str) -> Vec<Finding> {
    let mut task = String::new();
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in stdout.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("TASK [")
            && let Some(end) = rest.rfind(']')
        {
            task = rest[..end].to_string();
            continue;
        }
        if !(line.starts_with("fatal: [") || line.starts_with("failed: [")) {
            continue;
        }
        let (head, json) = line.split_once("=> ").unwrap_or((line, ""));
        let value = serde_json::from_str::<serde_json::Value>(json.trim()).ok();
        let field = |k: &str| {
            value
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(|v| v.as_str())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let msg = field("msg").unwrap_or_else(|| {
            if json.trim().is_empty() {
                head.trim().to_string()
            } else {
                json.trim().to_string()
            }
        });
        let mut text = format!("task [{task}] failed: {msg}");
        if let Some(a) = field("assertion") {
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
        let out = "PLAY [Inventory setup and validation] ****\n\
TASK [validate_inventory : Stop if unsupported options selected] ****\n\
fatal: [node1]: FAILED! => {\"assertion\": \"kube_network_plugin in ['calico', 'flannel']\", \"changed\": false, \"evaluated_to\": false, \"msg\": \"The selected choice is not supported\"}\n\
fatal: [node2]: FAILED! => {\"assertion\": \"kube_network_plugin in ['calico', 'flannel']\", \"changed\": false, \"evaluated_to\": false, \"msg\": \"The selected choice is not supported\"}\n\
PLAY RECAP ****\n\
node1 : ok=0 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0\n";
        let f = read_failures(release, out);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].code, "E_KUBESPRAY_INVENTORY");
        assert_eq!(
            f[0].message,
            "Kubespray v2.31.0 refuses the inventory: task [validate_inventory : Stop if \
             unsupported options selected] failed: The selected choice is not supported \
             (failed: kube_network_plugin in ['calico', 'flannel'])"
        );
        assert!(read_failures(release, "PLAY RECAP ****\n").is_empty());
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
