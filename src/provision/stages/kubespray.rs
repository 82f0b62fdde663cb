//! Kubespray: the inventory goes into the Kubespray tree and `cluster.yml` runs through
//! `ansible-playbook` from this machine, as Akash "Kubernetes Cluster for Akash Providers"
//! (<https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/>)
//! does by hand in its "STEP 4 - Ansible Inventory" and "STEP 8 - Create Kubernetes
//! Cluster":
//!
//! ```text
//! cd <kubespray>
//! cp -rfp inventory/sample inventory/<name>        (only when it does not exist yet)
//! <rendered hosts.yaml, host_vars and group_vars/*/zz-rackstrap.yml into inventory/<name>/>
//! <pinned host keys of the plan's hosts written to inventory/<name>/.known_hosts>
//! ansible-playbook -i inventory/<name>/hosts.yaml playbooks/boilerplate.yml
//!   -e ansible_connection=local                    (Kubespray's own inventory checks, v2.28+)
//! ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS='... -o UserKnownHostsFile=<that file>
//!   -o StrictHostKeyChecking=yes' ansible-playbook -i inventory/<name>/hosts.yaml -b -v
//!   --private-key=<identity> [--limit <hosts>] cluster.yml
//! ```
//!
//! That list is the stage's work ([`work`]): a dry run shows it through the one "do it or
//! only say it" helper (`cmd::execute_with`) as every stage's commands are shown, and a run
//! does each item. Before anything runs, the tree must be the plan's release and its Ansible
//! inside that release's range (`crate::kubespray::tree`), and every plan host must have a
//! pinned key (`crate::kubespray::lay`): Ansible opens its own OpenSSH connections and trusts
//! only those keys, so a host whose key changed is unreachable for Ansible, never run on.
//!
//! Ansible runs through the one runner (`crate::kubespray::runner`): its text streams into
//! the `ansible` pane and `ansible.log`, and each host's progress and result come from the
//! runner's callback events (`provision::ansible::PaneWatch`). With `apply --host`,
//! Kubespray's facts playbook runs over every host first and `cluster.yml` gets `--limit`.

use std::collections::BTreeMap;
use std::path::Path;

use async_trait::async_trait;

use crate::kubespray::lay::{self, unpinned_message};
use crate::kubespray::runner::{self, Ansible, Outcome};
use crate::kubespray::tree::Tree;
use crate::plan::{Host, Plan};
use crate::provision::ansible::PaneWatch;
use crate::provision::cmd::{Cmd, Doer, StepError, execute_with, quote};
use crate::provision::event::{StageId, StepState};
use crate::provision::log::StepLog;
use crate::provision::stage::{ClusterCtx, ClusterResults, Ctx, Scope, Stage};
use crate::provision::stall::StallPolicy;
use crate::render::RenderedFile;
use crate::ssh::known_hosts::KnownHosts;

pub use crate::kubespray::lay::{KNOWN_HOSTS_FILE, pinned_keys};
pub use crate::kubespray::runner::{host_key_env, shell_path, ssh_args};
pub use crate::provision::ansible::ANSIBLE_STALL as KUBESPRAY_STALL;

/// The pseudo-host name under which Ansible's whole output is logged and shown.
pub const ANSIBLE_PANE: &str = "ansible";
/// Kubespray's playbook that builds a cluster.
pub const PLAYBOOK: &str = crate::kubespray::tree::CLUSTER_PLAYBOOK;

pub struct KubesprayStage;

/// The inventory files the renderer makes for the Kubespray tree (extras stay out of it).
pub fn inventory_files(plan: &Plan) -> Result<Vec<RenderedFile>, StepError> {
    let files = crate::render::render(plan).map_err(|e| StepError::Check(e.to_string()))?;
    Ok(files
        .into_iter()
        .filter(|f| !f.path.starts_with("extras"))
        .collect())
}

/// The `ansible-playbook` command line, run with the Kubespray tree as working directory.
/// `expand`: the program and key path resolved (to run it) or as an operator in the tree
/// types them (to show it, as the Akash guide does: Ansible resolves `~` in `--private-key`
/// itself). `limit`: the plan hosts to run on when not all (`apply --host`).
pub fn playbook_command(plan: &Plan, expand: bool, limit: &[String]) -> Vec<String> {
    let tree = Tree::of(plan);
    let mut words = vec![
        crate::kubespray::inventory::shown_program(&tree),
        "-i".into(),
        format!("{}/hosts.yaml", lay::inventory_rel(plan)),
        "-b".into(),
        "-v".into(),
        format!("--private-key={}", plan.access.identity),
    ];
    if !limit.is_empty() {
        words.push(format!("--limit={}", limit.join(",")));
    }
    words.push(PLAYBOOK.into());
    if expand {
        Ansible::new(words, None).argv(&tree)
    } else {
        words
    }
}

/// The release's facts playbook with the options of `cluster_words`, without `--limit`.
fn facts_command(plan: &Plan, cluster_words: &[String]) -> Vec<String> {
    let facts = crate::kubespray::release_of(plan)
        .map(|r| r.facts_playbook)
        .unwrap_or("playbooks/facts.yml");
    let mut words: Vec<String> = cluster_words
        .iter()
        .filter(|w| !w.starts_with("--limit="))
        .cloned()
        .collect();
    if let Some(last) = words.last_mut() {
        *last = facts.to_string();
    }
    words
}

/// The hosts to pass to `--limit`: the selected ones when they are not every plan host.
pub fn limit_of(plan: &Plan, selected: &[String]) -> Vec<String> {
    let all: Vec<&str> = plan
        .hosts
        .iter()
        .filter(|h| !h.roles.is_empty())
        .map(|h| h.name.as_str())
        .collect();
    let chosen: Vec<String> = all
        .iter()
        .filter(|h| selected.iter().any(|s| s == *h))
        .map(|h| h.to_string())
        .collect();
    if selected.is_empty() || chosen.len() == all.len() {
        Vec::new()
    } else {
        chosen
    }
}

/// The Ansible runs of the stage: with a `--limit`, the facts playbook over every host
/// first, then `cluster.yml`; each with the pinned-keys file as the plan names it.
pub fn playbooks(plan: &Plan, limit: &[String]) -> Vec<Ansible> {
    let known = Some(lay::shown_path(plan, KNOWN_HOSTS_FILE));
    let words = playbook_command(plan, false, limit);
    let mut runs = Vec::new();
    if !limit.is_empty() {
        runs.push(Ansible::new(facts_command(plan, &words), known.clone()));
    }
    runs.push(Ansible::new(words, known));
    runs
}

/// One item of the stage's work: the command an operator would type, and what the stage does
/// for it.
#[derive(Debug, Clone)]
pub struct Work {
    pub cmd: Cmd,
    pub act: Act,
}

#[derive(Debug, Clone)]
pub enum Act {
    /// Nothing to do apart (the `cd`, a `mkdir` the writes make anyway, a remark).
    Shown,
    /// `inventory/sample` copied to `inventory/<name>`.
    CopySample,
    /// A file written into `inventory/<name>`.
    Write(RenderedFile),
    /// Kubespray's own inventory checks.
    Validate,
    /// A playbook run; `last`: the one each host's result comes from.
    Playbook { ansible: Ansible, last: bool },
}

impl AsRef<Cmd> for Work {
    fn as_ref(&self) -> &Cmd {
        &self.cmd
    }
}

fn shown(cmd: Cmd) -> Work {
    Work {
        cmd,
        act: Act::Shown,
    }
}

/// Everything the stage does, in order, each with the command an operator would type in the
/// tree. `pinned`: the pinned-keys file's contents when known (else the step is described).
pub fn work(
    plan: &Plan,
    inventory_exists: bool,
    pinned: Option<&str>,
    limit: &[String],
) -> Result<Vec<Work>, StepError> {
    let inv = lay::inventory_rel(plan);
    let mut out = vec![shown(Cmd::new(format!(
        "cd {}",
        shell_path(&plan.cluster.kubespray.path)
    )))];
    if !inventory_exists {
        out.push(Work {
            cmd: Cmd::words(["cp", "-rfp", "inventory/sample", &inv]),
            act: Act::CopySample,
        });
    }
    let mut made = std::collections::BTreeSet::new();
    let mut files = inventory_files(plan)?;
    if let Some(text) = pinned {
        files.push(RenderedFile {
            path: KNOWN_HOSTS_FILE.into(),
            contents: text.to_string(),
        });
    }
    for f in files {
        let path = format!("{inv}/{}", f.path.display());
        if let Some(parent) = Path::new(&path).parent()
            && parent != Path::new(&inv)
            && made.insert(parent.to_path_buf())
        {
            out.push(shown(Cmd::words([
                "mkdir",
                "-p",
                &parent.to_string_lossy(),
            ])));
        }
        out.push(Work {
            cmd: Cmd::write_file(&path, &f.contents),
            act: Act::Write(f),
        });
    }
    if pinned.is_none() {
        out.push(shown(Cmd::new(format!(
            "# write the host keys pinned for the plan's hosts to {}",
            quote(&format!("{inv}/{KNOWN_HOSTS_FILE}"))
        ))));
    }
    if crate::kubespray::inventory::has_checks(plan) {
        let check = crate::kubespray::inventory::ansible(
            &Tree::of(plan),
            Path::new(&format!("{inv}/{}", crate::render::HOSTS_FILE)),
        );
        out.push(Work {
            cmd: Cmd::new(check.shown()),
            act: Act::Validate,
        });
    }
    let runs = playbooks(plan, limit);
    let n = runs.len();
    for (i, ansible) in runs.into_iter().enumerate() {
        out.push(Work {
            cmd: Cmd::new(ansible.shown()),
            act: Act::Playbook {
                ansible,
                last: i + 1 == n,
            },
        });
    }
    Ok(out)
}

/// [`work`] as commands only.
pub fn commands(
    plan: &Plan,
    inventory_exists: bool,
    pinned: Option<&str>,
    limit: &[String],
) -> Result<Vec<Cmd>, StepError> {
    Ok(work(plan, inventory_exists, pinned, limit)?
        .into_iter()
        .map(|w| w.cmd)
        .collect())
}

#[async_trait]
impl Stage for KubesprayStage {
    fn id(&self) -> StageId {
        StageId::Kubespray
    }

    fn scope(&self) -> Scope {
        Scope::Cluster
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        let exists = Tree::of(ctx.plan)
            .path
            .join(lay::inventory_rel(ctx.plan))
            .is_dir();
        commands(ctx.plan, exists, None, &[])
    }

    fn pane(&self) -> Option<&'static str> {
        Some(ANSIBLE_PANE)
    }

    async fn run_cluster(&self, ctx: ClusterCtx<'_>, pane: &mut StepLog) -> ClusterResults {
        run(
            ctx.plan,
            ctx.hosts,
            &limit_of(ctx.plan, ctx.selected),
            ctx.dry_run,
            ctx.known_hosts,
            pane,
            ctx.per_host,
            ctx.stall,
        )
        .await
    }
}

/// Every host failing with `e`.
fn all_fail(hosts: &[&Host], e: StepError) -> ClusterResults {
    hosts
        .iter()
        .map(|h| (h.name.clone(), Err(e.clone())))
        .collect()
}

/// Runs Kubespray for `hosts` (the plan hosts that take part), reporting through `pane`
/// (Ansible's whole output) and `per_host` (progress and the result of each host). `known`:
/// rackstrap's known_hosts files, whose pins for the plan's hosts Ansible's ssh checks.
/// `stall`: how long `ansible-playbook` may stay quiet and what happens then
/// ([`KUBESPRAY_STALL`] unless the run sets one limit for every command).
/// Returns each host's result: `Ok(summary)` or the failure.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    plan: &Plan,
    hosts: &[&Host],
    limit: &[String],
    dry_run: bool,
    known: Option<&KnownHosts>,
    pane: &mut StepLog,
    per_host: &BTreeMap<String, StepLog>,
    stall: &StallPolicy,
) -> ClusterResults {
    let tree = Tree::of(plan);
    let pinned = match refusals(plan, &tree, hosts, known, dry_run, pane).await {
        Ok(pinned) => pinned,
        Err(results) => return results,
    };
    let exists = tree.path.join(lay::inventory_rel(plan)).is_dir();
    let work = match work(plan, exists, pinned.as_deref(), limit) {
        Ok(w) => w,
        Err(e) => return all_fail(hosts, e),
    };
    let mut doer = InTree {
        plan,
        tree: &tree,
        per_host,
        stall,
        outcome: None,
    };
    let done = execute_with(&work, dry_run, pane, &mut doer).await;
    match (done, doer.outcome) {
        (Err(e), _) => all_fail(hosts, e),
        (Ok(()), Some(outcome)) => results_of(hosts, &outcome),
        (Ok(()), None) => hosts
            .iter()
            .map(|h| (h.name.clone(), Ok("dry run".to_string())))
            .collect(),
    }
}

/// What stops the stage before it does anything: no tree, a tree or Ansible the plan's
/// release does not fit, a plan host without a pinned key. A dry run lists what apply would
/// do even where it would refuse: the refusals are warnings there, so the stages after this
/// one are listed too. `Ok`: the pinned-keys file (when every host has a pin).
async fn refusals(
    plan: &Plan,
    tree: &Tree,
    hosts: &[&Host],
    known: Option<&KnownHosts>,
    dry_run: bool,
    pane: &mut StepLog,
) -> Result<Option<String>, ClusterResults> {
    let not_a_tree = format!(
        "{} is not a Kubespray tree (no {PLAYBOOK} or inventory/sample); set cluster.kubespray.path",
        tree.path.display()
    );
    let pinned = pinned_keys(plan, known);
    if dry_run {
        if !tree.is_tree() {
            pane.note(&format!("warning: {not_a_tree}"));
        }
        if let Err(missing) = &pinned {
            for h in missing {
                pane.note(&format!("warning: {}", unpinned_message(plan, h)));
            }
        }
        return Ok(pinned.ok());
    }
    if !tree.is_tree() {
        return Err(all_fail(
            hosts,
            StepError::Check(format!(
                "{not_a_tree}; `rackstrap kubespray prepare PLAN` clones the plan's release there"
            )),
        ));
    }
    // The tree's release and its Ansible, before anything runs.
    let p = plan.clone();
    let refused: Vec<String> =
        tokio::task::spawn_blocking(move || crate::kubespray::tree::findings(&p))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|f| match f.hint {
                Some(h) => format!("{} ({h})", f.message),
                None => f.message,
            })
            .collect();
    if !refused.is_empty() {
        for r in &refused {
            pane.note(&format!("refused: {r}"));
        }
        return Err(all_fail(hosts, StepError::Check(refused.join("; "))));
    }
    // Every plan host is in the inventory, so one host without a pin stops the whole run.
    match pinned {
        Ok(text) => Ok(Some(text)),
        Err(missing) => {
            let names: Vec<&str> = missing.iter().map(|h| h.name.as_str()).collect();
            Err(hosts
                .iter()
                .map(|h| {
                    let msg = if names.contains(&h.name.as_str()) {
                        unpinned_message(plan, h)
                    } else {
                        format!(
                            "not run: Ansible needs every host's key pinned first ({} not pinned)",
                            names.join(", ")
                        )
                    };
                    (h.name.clone(), Err(StepError::Check(msg)))
                })
                .collect())
        }
    }
}

/// Does the stage's work item by item (`cmd::execute_with` calls it outside a dry run); the
/// last playbook's outcome is kept for each host's result.
struct InTree<'a> {
    plan: &'a Plan,
    tree: &'a Tree,
    per_host: &'a BTreeMap<String, StepLog>,
    stall: &'a StallPolicy,
    outcome: Option<Outcome>,
}

#[async_trait]
impl Doer<Work> for InTree<'_> {
    async fn run(&mut self, w: &Work, pane: &mut StepLog) -> Result<(), StepError> {
        let plan = self.plan;
        match &w.act {
            Act::Shown => Ok(()),
            Act::CopySample => {
                pane.command(&w.cmd.shell);
                lay::copy_sample(&self.tree.path, plan)
                    .map(|_| ())
                    .map_err(StepError::Check)
            }
            Act::Write(f) => {
                let inv = lay::inventory_rel(plan);
                pane.note(&format!("writing {inv}/{}", f.path.display()));
                crate::render::write(std::slice::from_ref(f), &self.tree.path.join(&inv)).map_err(
                    |e| {
                        StepError::Check(format!(
                            "writing the inventory into {}: {e}",
                            self.tree.path.join(&inv).display()
                        ))
                    },
                )
            }
            Act::Validate => self.validate(w, pane).await,
            Act::Playbook { ansible, last } => self.playbook(ansible, *last, pane).await,
        }
    }
}

impl InTree<'_> {
    /// Kubespray's own inventory checks (connection local, no host touched).
    async fn validate(&self, w: &Work, pane: &mut StepLog) -> Result<(), StepError> {
        pane.command(&w.cmd.shell);
        let files = inventory_files(self.plan)?;
        let p = self.plan.clone();
        let checked = tokio::task::spawn_blocking(move || {
            crate::kubespray::inventory::check_files(&p, &Tree::of(&p), &files)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match checked {
            Ok(findings) if findings.is_empty() => {
                pane.note("Kubespray accepts the inventory");
                Ok(())
            }
            Ok(findings) => {
                let msgs: Vec<String> = findings.into_iter().map(|f| f.message).collect();
                for m in &msgs {
                    pane.note(&format!("refused: {m}"));
                }
                Err(StepError::Check(msgs.join("; ")))
            }
            Err(e) => Err(StepError::Check(e)),
        }
    }

    /// One playbook through the runner. Kubespray asks for the facts of every node before a
    /// limited run (docs/operations/nodes.md: "Before using `--limit` run playbook
    /// `facts.yml` without the limit"): that run failing stops the stage.
    async fn playbook(
        &mut self,
        ansible: &Ansible,
        last: bool,
        pane: &mut StepLog,
    ) -> Result<(), StepError> {
        let mut watch = PaneWatch::new(pane, self.per_host, self.stall);
        let limit = watch.limit();
        let outcome = runner::run(self.tree, ansible, limit, &mut watch)
            .await
            .map_err(|e| {
                StepError::Check(format!(
                    "{e}; `rackstrap kubespray prepare PLAN` makes the tree's virtualenv with \
                     Kubespray's requirements.txt"
                ))
            })?;
        if let Some(quiet) = outcome.stalled {
            let message = crate::provision::stall::stalled_message(ansible.program(), quiet);
            pane.note(&message);
            return Err(StepError::Check(message));
        }
        pane.note(&format!("{} {}", ansible.program(), outcome.exit_text()));
        if !last && !outcome.success() {
            return Err(StepError::Check(format!(
                "{} (run over every host before a --limit run) {}",
                ansible.words.last().map(String::as_str).unwrap_or_default(),
                outcome.exit_text()
            )));
        }
        if last {
            self.outcome = Some(outcome);
        }
        Ok(())
    }
}

/// Each host's result from the last playbook: its failure (a changed host key said as
/// such), else its PLAY RECAP.
fn results_of(hosts: &[&Host], outcome: &Outcome) -> ClusterResults {
    let r = &outcome.results;
    hosts
        .iter()
        .map(|h| {
            let result = match (r.recap.get(&h.name), r.failure_of(&h.name)) {
                (_, Some(f)) if f.unreachable && is_host_key_failure(&f.message) => {
                    Err(StepError::Check(format!(
                        "host key changed: {} no longer offers the key pinned for it, so Ansible \
                         ran nothing there (reinstalled? re-discover it and accept the new key \
                         only if you expected the change): {f}",
                        h.address
                    )))
                }
                (_, Some(f)) => Err(StepError::Check(f.to_string())),
                (Some(r), None) if r.success() => Ok(format!(
                    "ok={} changed={} failed=0 unreachable=0",
                    r.ok, r.changed
                )),
                (Some(r), None) => Err(StepError::Check(format!(
                    "PLAY RECAP: failed={} unreachable={}",
                    r.failed, r.unreachable
                ))),
                (None, None) if r.events == 0 => Err(StepError::Check(format!(
                    "Ansible reported no results (ansible-playbook {}); the ansible log says why",
                    outcome.exit_text()
                ))),
                (None, None) => Err(StepError::Check(format!(
                    "not in Ansible's PLAY RECAP (ansible-playbook {})",
                    outcome.exit_text()
                ))),
            };
            (h.name.clone(), result)
        })
        .collect()
}

/// OpenSSH's words for a host key that does not match the pinned one.
fn is_host_key_failure(message: &str) -> bool {
    message.contains("Host key verification failed")
        || message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
}

/// The state a host's Kubespray result becomes.
pub fn state_of(r: &Result<String, StepError>) -> StepState {
    if r.is_ok() {
        StepState::Done
    } else {
        StepState::Failed
    }
}

#[cfg(test)]
mod tests;
