//! Running a prepared action in the Kubespray tree: each step writes its inventory into
//! `inventory/<name>/` (with the pinned host keys, as the kubespray stage does), then runs its
//! command through the one Ansible runner (`kubespray::runner`), with Ansible's host key
//! checks on rackstrap's pins, the fact cache in a directory rackstrap owns and the run's
//! stall watch. The first step that fails stops the action; the plan is saved by the caller
//! only when every step succeeded.

use std::collections::BTreeMap;
use std::path::Path;

use crate::kubespray::lay::{self, FACT_CACHE_DIR, KNOWN_HOSTS_FILE, pinned_keys};
use crate::kubespray::runner::{self, Ansible};
use crate::kubespray::tree::Tree;
use crate::plan::Plan;
use crate::provision::ansible::PaneWatch;
use crate::provision::log::StepLog;
use crate::provision::stall::StallPolicy;
use crate::render::RenderedFile;
use crate::ssh::known_hosts::KnownHosts;

use super::actions::{Prepared, Step};

/// A step's Ansible run: its words, the pinned-keys file and the fact cache as the plan
/// names them.
pub fn ansible_of(plan: &Plan, step: &Step) -> Ansible {
    Ansible {
        words: step.argv.clone(),
        known_hosts: Some(lay::shown_path(plan, KNOWN_HOSTS_FILE)),
        fact_cache: Some(lay::shown_path(plan, FACT_CACHE_DIR)),
    }
}

/// A step's command as the operator would type it in the tree (paths as the plan names them).
pub fn shown_line(plan: &Plan, step: &Step) -> String {
    ansible_of(plan, step).shown()
}

/// Everything an action does, as text: the verdict, then per step its title, the inventory
/// it writes and its command line (`--dry-run`, the wizard's review, the golden tests). The
/// next step, when the saved plan needs one ([`Prepared::next_step`]), names the plan `PLAN`.
pub fn describe(plan: &Plan, prepared: &Prepared, with_inventory: bool) -> String {
    describe_named(plan, prepared, with_inventory, "PLAN")
}

/// [`describe`], naming the plan `plan_file` in the next step.
pub fn describe_named(
    plan: &Plan,
    prepared: &Prepared,
    with_inventory: bool,
    plan_file: &str,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {}",
        prepared.kind.as_str(),
        prepared.node,
        prepared.verdict.message()
    );
    if let Some(next) = prepared.next_step(plan_file) {
        let _ = writeln!(out, "then: {next}");
    }
    let _ = writeln!(out, "Kubespray's guide: {}", prepared.doc);
    let mut last_inventory: Option<&[RenderedFile]> = None;
    for (i, s) in prepared.steps.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, s.title);
        if with_inventory && last_inventory != Some(s.inventory.as_slice()) {
            for f in &s.inventory {
                if f.path == Path::new(crate::render::HOSTS_FILE) {
                    let _ = writeln!(
                        out,
                        "   writes inventory/{}/{}:",
                        plan.cluster.name,
                        f.path.display()
                    );
                    for l in f.contents.lines() {
                        let _ = writeln!(out, "     {l}");
                    }
                }
            }
            last_inventory = Some(s.inventory.as_slice());
        }
        let _ = writeln!(out, "   $ {}", shown_line(plan, s));
    }
    out
}

/// Runs every step of `prepared`; `Err` names the step that failed and why. A step quiet for
/// the default limit of a Kubespray run (or `RACKSTRAP_STALL_SECS`) is stopped. `ran` turns
/// true when the first Ansible run starts: an `Err` with `ran` still false touched no host.
pub async fn execute(
    plan: &Plan,
    prepared: &Prepared,
    known: Option<&KnownHosts>,
    pane: &mut StepLog,
    ran: &mut bool,
) -> Result<(), String> {
    let tree = Tree::of(plan);
    if !tree.is_tree() {
        return Err(format!(
            "{} is not a Kubespray tree (no {} or inventory/sample); set cluster.kubespray.path",
            tree.path.display(),
            crate::kubespray::tree::CLUSTER_PLAYBOOK
        ));
    }
    let pinned = pinned_keys(plan, known).map_err(|missing| {
        format!(
            "no pinned host key for {}: discover the hosts first (Ansible checks keys against rackstrap's pins)",
            missing.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    if !tree.path.join(lay::inventory_rel(plan)).is_dir() {
        pane.command(&crate::provision::cmd::join([
            "cp",
            "-rfp",
            "inventory/sample",
            &lay::inventory_rel(plan),
        ]));
        lay::copy_sample(&tree.path, plan)?;
    }
    let policy = StallPolicy::default();
    let no_hosts = BTreeMap::new();
    for (i, step) in prepared.steps.iter().enumerate() {
        lay::write(&tree.path, plan, &step.inventory, &pinned)?;
        pane.note(&format!("step {}: {}", i + 1, step.title));
        let ansible = ansible_of(plan, step);
        let mut watch = PaneWatch::new(pane, &no_hosts, &policy);
        let limit = watch.limit();
        *ran = true;
        let outcome = runner::run(&tree, &ansible, limit, &mut watch)
            .await
            .map_err(|e| format!("{e}; install ansible-core (Kubespray's requirements.txt)"))?;
        if let Some(quiet) = outcome.stalled {
            let message = crate::provision::stall::stalled_message(ansible.program(), quiet);
            pane.note(&message);
            return Err(format!("step {} ({}) {message}", i + 1, step.title));
        }
        for (host, f) in &outcome.results.failures {
            pane.note(&format!("{host}: {f}"));
        }
        pane.note(&format!("{} {}", ansible.program(), outcome.exit_text()));
        if !outcome.success() {
            return Err(format!(
                "step {} ({}) failed: {} {}",
                i + 1,
                step.title,
                ansible.program(),
                outcome.exit_text()
            ));
        }
    }
    Ok(())
}
