//! The recovery actions as data: for `add`, `remove` or `replace` of one plan host, the quorum
//! verdict, the inventory each step writes and the exact `ansible-playbook` command lines, and
//! the plan as it will be saved once every step succeeded. [`prepare`] decides; `recovery::run`
//! executes what it returns, and `--dry-run` and the wizard show the same steps.
//!
//! What each action runs follows Kubespray's node operations page (`docs/nodes.md` in v2.24,
//! `docs/operations/nodes.md` from v2.28) and "Recovering the control plane":
//!
//! - add a worker: `playbooks/facts.yml` without `--limit`, then `scale.yml --limit=NODE`;
//! - add a control plane: the host last in `kube_control_plane`, `cluster.yml`, then the
//!   nginx-proxy restart on every node; add an etcd member: `cluster.yml
//!   --limit=etcd,kube_control_plane -e ignore_assert_errors=yes`, then the upgrade playbook
//!   with the same limit;
//! - remove: the remove playbook with `node`, `reset_nodes`, `allow_ungraceful_removal` and
//!   `skip_confirmation`, as JSON so `false` stays false (as `key=value` it is the string
//!   "false", which those tasks read as true); the first control plane is moved to the end
//!   of its groups and the cluster reconfigured first;
//! - replace: remove, then add, per role; with etcd quorum already lost,
//!   `recover-control-plane.yml` with the broken hosts copied into `broken_etcd` /
//!   `broken_kube_control_plane`.
//!
//! Every step that passes `--limit` is preceded by `playbooks/facts.yml` without one.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::plan::{Code, Plan, Role};
use crate::render::RenderedFile;

use super::drift::{Drift, Report};
use super::quorum::{self, Etcd, Verdict};
use super::releases::{self, Playbooks};

mod steps;

use steps::{
    Lines, add_steps, freeze, lines_for, member_names, moved_last, recover, remove_step,
    reorder_first, without,
};

/// Which action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Add,
    Remove,
    Replace,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "add" => Some(Kind::Add),
            "remove" => Some(Kind::Remove),
            "replace" => Some(Kind::Replace),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Remove => "remove",
            Kind::Replace => "replace",
        }
    }
}

/// How the cluster stands, as far as the actions care: read from a drift report, or assumed
/// healthy when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    /// etcd members and healthy members; `None`: taken from the plan, all healthy.
    pub etcd: Option<Etcd>,
    /// Plan hosts whose etcd member is unhealthy.
    pub unhealthy_members: BTreeSet<String>,
    /// Plan hosts that cannot run anything now (unreachable, reinstalled, NotReady).
    pub broken: BTreeSet<String>,
    /// Plan hosts no SSH connection reaches (Ansible cannot drain or reset them).
    pub unreachable: BTreeSet<String>,
    /// Hosts Kubespray must not run against until the operator acts, with why.
    pub blocked: Vec<(String, String)>,
    /// Nodes the cluster has, when it was asked.
    pub nodes: Option<BTreeSet<String>>,
}

impl Standing {
    /// The standing of a drift report, for the command line: a host whose key changed is
    /// confirmed with `rackstrap drift PLAN --accept-new-key NAME`.
    pub fn from_report(report: &Report) -> Self {
        Self::from_report_saying(report, &|name| {
            format!("rackstrap drift PLAN --accept-new-key {name}")
        })
    }

    /// The same, with `confirm_key` saying how the operator confirms a host's new key where
    /// the action is chosen (the wizard: a key on its Drift screen).
    pub fn from_report_saying(report: &Report, confirm_key: &dyn Fn(&str) -> String) -> Self {
        let mut s = Standing::default();
        let asked = !report
            .cluster
            .iter()
            .any(|c| matches!(c, super::drift::ClusterDrift::NotAsked { .. }));
        if asked {
            s.nodes = Some(
                report
                    .hosts
                    .iter()
                    .filter(|h| h.node == Some(true))
                    .map(|h| h.name.clone())
                    .collect(),
            );
        }
        for h in &report.hosts {
            if h.etcd_member_healthy == Some(false) {
                s.unhealthy_members.insert(h.name.clone());
            }
            for st in &h.states {
                match st {
                    Drift::Unreachable { .. } => {
                        s.unreachable.insert(h.name.clone());
                        s.broken.insert(h.name.clone());
                    }
                    Drift::Reinstalled { .. } | Drift::NotReady => {
                        s.broken.insert(h.name.clone());
                    }
                    Drift::HostKeyChanged { .. } => s.blocked.push((
                        h.name.clone(),
                        format!(
                            "{}'s host key changed: confirm the new key first ({})",
                            h.name,
                            confirm_key(&h.name)
                        ),
                    )),
                    Drift::AddressDiffers { plan, found } => s.blocked.push((
                        h.name.clone(),
                        format!(
                            "{}'s address differs from the plan ({plan} planned, {} found): \
                             Kubespray's certificates and etcd peer URLs are keyed by IP",
                            h.name,
                            found.join(", ")
                        ),
                    )),
                    _ => {}
                }
            }
        }
        for c in &report.cluster {
            if let super::drift::ClusterDrift::EtcdAtRisk {
                members, healthy, ..
            } = c
            {
                s.etcd = Some(Etcd {
                    members: *members,
                    healthy: *healthy,
                });
            }
        }
        s
    }
}

/// One thing the action runs, in the Kubespray tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub title: String,
    /// `ansible-playbook` (or `ansible`) and its arguments; the key path as the plan gives it.
    pub argv: Vec<String>,
    /// The inventory files written into `inventory/<name>/` before it runs.
    #[serde(skip)]
    pub inventory: Vec<RenderedFile>,
}

/// An action, decided: what the arithmetic says, what runs, and the plan once it succeeded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prepared {
    pub kind: Kind,
    pub node: String,
    pub verdict: Verdict,
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub plan_after: Plan,
    /// Kubespray's page for this operation, relative to its tree.
    pub doc: &'static str,
}

impl Prepared {
    /// What the operator does once this action succeeded, when the saved plan needs it: a
    /// removal that leaves an even etcd count saves a plan that `rackstrap check` (and
    /// Kubespray) refuse until one more etcd member joins, so it names that step.
    /// `plan_file` is how the plan is named in the command shown.
    pub fn next_step(&self, plan_file: &str) -> Option<String> {
        let etcd = self.plan_after.count_role(Role::Etcd);
        if self.kind == Kind::Remove
            && matches!(self.verdict, Verdict::Go(_) | Verdict::Confirm(_))
            && etcd > 0
            && etcd.is_multiple_of(2)
        {
            Some(format!(
                "the saved plan has {etcd} etcd members, an even count that `rackstrap check` \
                 and Kubespray refuse (apply runs nothing until it is odd): next, {}",
                crate::plan::check::etcd_way_on(plan_file)
            ))
        } else {
            None
        }
    }
}

/// Why an action cannot even be prepared (a refusal with the numbers is a `Verdict::Refuse`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("the plan has no host {name} (hosts: {known})")]
    NoSuchHost { name: String, known: String },
    #[error(transparent)]
    Release(#[from] releases::UnknownRelease),
    #[error("{0}")]
    Plan(String),
}

/// The etcd standing for the arithmetic: observed, or every planned member healthy.
fn etcd_of(plan: &Plan, standing: &Standing) -> Etcd {
    standing
        .etcd
        .unwrap_or_else(|| Etcd::all_healthy(plan.count_role(Role::Etcd)))
}

/// Decides `kind` for plan host `node`. Refusals come back as `Verdict::Refuse` with no
/// steps; `Err` is for requests that name nothing or plans that cannot be rendered.
pub fn prepare(
    plan: &Plan,
    standing: &Standing,
    kind: Kind,
    node: &str,
) -> Result<Prepared, ActionError> {
    let decided = decide(plan, standing, kind, node)?;
    if matches!(decided.verdict, Verdict::Refuse(_)) {
        return Ok(decided);
    }
    // Ansible runs over every host of the inventory: one it must not touch stops it all,
    // except a host leaving for good, which Ansible is not asked to reach.
    for (name, why) in &standing.blocked {
        if !(kind == Kind::Remove && name == node && standing.unreachable.contains(name)) {
            return Ok(Prepared {
                verdict: Verdict::Refuse(why.clone()),
                steps: Vec::new(),
                plan_after: plan.clone(),
                ..decided
            });
        }
    }
    Ok(decided)
}

/// What every action decides with: the plan with its etcd member names written out
/// ([`freeze`]), the host's roles and the standing.
struct Decision<'a> {
    /// The plan as given: what a refusal leaves in place.
    given: &'a Plan,
    plan: &'a Plan,
    standing: &'a Standing,
    kind: Kind,
    node: &'a str,
    books: Playbooks,
    lines: Lines<'a>,
    etcd: Etcd,
    is_etcd: bool,
    is_cp: bool,
    /// An etcd member counted healthy: taking it out lowers the healthy count
    /// (quorum::removal).
    healthy_member: bool,
    unreachable: bool,
}

impl Decision<'_> {
    fn refuse(&self, msg: String) -> Prepared {
        Prepared {
            kind: self.kind,
            node: self.node.into(),
            verdict: Verdict::Refuse(msg),
            steps: Vec::new(),
            plan_after: self.given.clone(),
            doc: self.books.nodes_doc,
        }
    }
}

/// The action's own verdict and steps, before other hosts' blocks are considered.
fn decide(
    plan: &Plan,
    standing: &Standing,
    kind: Kind,
    node: &str,
) -> Result<Prepared, ActionError> {
    let books = releases::playbooks(&plan.cluster.kubespray.version)?;
    let host =
        plan.hosts
            .iter()
            .find(|h| h.name == node)
            .ok_or_else(|| ActionError::NoSuchHost {
                name: node.into(),
                known: plan
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
    let is_etcd = host.has_role(Role::Etcd);
    let frozen = freeze(
        plan,
        &member_names(plan, (kind == Kind::Add).then_some(node)),
    );
    let c = Decision {
        given: plan,
        plan: &frozen,
        standing,
        kind,
        node,
        books,
        lines: Lines {
            plan: &frozen,
            books,
        },
        etcd: etcd_of(plan, standing),
        is_etcd,
        is_cp: host.has_role(Role::ControlPlane),
        healthy_member: is_etcd
            && !standing.unhealthy_members.contains(node)
            && !standing.broken.contains(node),
        unreachable: standing.unreachable.contains(node),
    };
    match kind {
        Kind::Add => add(&c),
        Kind::Remove => remove(&c),
        Kind::Replace => replace(&c),
    }
}

fn add(c: &Decision<'_>) -> Result<Prepared, ActionError> {
    let Decision {
        plan,
        standing,
        kind,
        node,
        books,
        etcd,
        is_etcd,
        is_cp,
        ..
    } = *c;
    let refuse = |msg: String| c.refuse(msg);
    if let Some(nodes) = &standing.nodes
        && nodes.contains(node)
    {
        return Ok(refuse(format!(
            "{node} is already a node of the cluster: replace it, or remove it first"
        )));
    }
    let before = Etcd {
        members: etcd
            .members
            .saturating_sub(usize::from(is_etcd && standing.etcd.is_none())),
        healthy: etcd
            .healthy
            .saturating_sub(usize::from(is_etcd && standing.etcd.is_none())),
    };
    let others_cp = plan.count_role(Role::ControlPlane) - usize::from(is_cp);
    if is_cp && others_cp == 0 {
        return Ok(refuse(format!(
            "{node} would be the only control plane: that is a first install (rackstrap apply), not an addition"
        )));
    }
    let verdict = if is_etcd {
        quorum::addition(node, before)
    } else {
        Verdict::Go(format!(
            "{node} joins as {}, not an etcd member: etcd unchanged ({})",
            if is_cp { "a control plane" } else { "a worker" },
            quorum::describe(etcd.members)
        ))
    };
    if matches!(verdict, Verdict::Refuse(_)) {
        return Ok(refuse(verdict.message().to_string()));
    }
    let after = if is_cp || is_etcd {
        moved_last(plan, node)
    } else {
        plan.clone()
    };
    let steps = add_steps(&lines_for(&after, books), &after, node, is_cp, is_etcd)?;
    Ok(Prepared {
        kind,
        node: node.into(),
        verdict,
        steps,
        plan_after: after,
        doc: books.nodes_doc,
    })
}

fn remove(c: &Decision<'_>) -> Result<Prepared, ActionError> {
    let Decision {
        plan,
        kind,
        node,
        books,
        etcd,
        is_etcd,
        is_cp,
        healthy_member,
        unreachable,
        ..
    } = *c;
    let lines = &c.lines;
    let refuse = |msg: String| c.refuse(msg);
    let verdict = quorum::removal(
        "removing",
        node,
        etcd,
        is_etcd,
        healthy_member,
        plan.count_role(Role::ControlPlane),
        is_cp,
    );
    if matches!(verdict, Verdict::Refuse(_)) {
        return Ok(refuse(verdict.message().to_string()));
    }
    let after = without(plan, node);
    let errors: Vec<String> = crate::plan::check(&after, None)
        .into_iter()
        .filter(|f| f.is_error() && f.code != Code::E_EVEN_ETCD)
        .map(|f| f.message)
        .collect();
    if !errors.is_empty() {
        return Ok(refuse(format!(
            "without {node} the plan would not be valid: {}",
            errors.join("; ")
        )));
    }
    let mut steps = Vec::new();
    let working = reorder_first(lines, plan, node, unreachable, &mut steps)?;
    steps.push(remove_step(
        &lines_for(&working, books),
        &working,
        node,
        unreachable,
        !unreachable,
    )?);
    Ok(Prepared {
        kind,
        node: node.into(),
        verdict,
        steps,
        plan_after: after,
        doc: books.nodes_doc,
    })
}

fn replace(c: &Decision<'_>) -> Result<Prepared, ActionError> {
    let Decision {
        plan,
        standing,
        kind,
        node,
        books,
        etcd,
        is_etcd,
        is_cp,
        healthy_member,
        unreachable,
        ..
    } = *c;
    let lines = &c.lines;
    let refuse = |msg: String| c.refuse(msg);
    if is_etcd && !etcd.has_quorum() {
        return recover(plan, standing, books, node, etcd);
    }
    let verdict = quorum::removal(
        "replacing",
        node,
        etcd,
        is_etcd,
        healthy_member,
        plan.count_role(Role::ControlPlane),
        false,
    );
    if matches!(verdict, Verdict::Refuse(_)) {
        return Ok(refuse(verdict.message().to_string()));
    }
    if is_cp && plan.count_role(Role::ControlPlane) <= 1 {
        return Ok(refuse(format!(
            "{node} is the only control plane: replacing it means rebuilding the cluster \
                 (with its etcd data lost unless backed up); refused"
        )));
    }
    let mut steps = Vec::new();
    let working = reorder_first(lines, plan, node, unreachable, &mut steps)?;
    // The old node is broken: no drain, no reset (the box may be blank or gone).
    steps.push(remove_step(
        &lines_for(&working, books),
        &working,
        node,
        true,
        false,
    )?);
    let after = if is_cp || is_etcd {
        moved_last(plan, node)
    } else {
        plan.clone()
    };
    steps.extend(add_steps(
        &lines_for(&after, books),
        &after,
        node,
        is_cp,
        is_etcd,
    )?);
    Ok(Prepared {
        kind,
        node: node.into(),
        verdict: verdict.and(Verdict::Confirm(format!(
            "{node} is removed from the cluster and joins again as a new host"
        ))),
        steps,
        plan_after: after,
        doc: books.nodes_doc,
    })
}

#[cfg(test)]
mod tests;
