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

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::plan::{Plan, Role};
use crate::render::RenderedFile;

use super::drift::{Drift, Report};
use super::quorum::{self, Etcd, Verdict};
use super::releases::{self, Playbooks};

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

/// `plan` with `name` moved to the end of its hosts (so to the end of every group).
fn moved_last(plan: &Plan, name: &str) -> Plan {
    let mut p = plan.clone();
    if let Some(i) = p.hosts.iter().position(|h| h.name == name) {
        let h = p.hosts.remove(i);
        p.hosts.push(h);
    }
    p
}

fn without(plan: &Plan, name: &str) -> Plan {
    let mut p = plan.clone();
    p.hosts.retain(|h| h.name != name);
    p
}

fn first_control_plane(plan: &Plan) -> Option<&str> {
    plan.hosts
        .iter()
        .find(|h| h.has_role(Role::ControlPlane))
        .map(|h| h.name.as_str())
}

/// Each etcd host's member name as the cluster knows it: the plan's `etcd_member_name` where
/// set, else the name the inventory of the plan as given (the order the cluster was built or
/// last changed with) gives it, `etcd<position>` (Kubespray's own default, which rackstrap's
/// inventories write out). A host `joining` the cluster is not counted and is named after
/// itself, so it takes no existing member's name.
fn member_names(plan: &Plan, joining: Option<&str>) -> BTreeMap<String, String> {
    plan.hosts
        .iter()
        .filter(|h| h.has_role(Role::Etcd) && Some(h.name.as_str()) != joining)
        .enumerate()
        .map(|(i, h)| {
            let name = h.etcd_member_name.clone();
            (
                h.name.clone(),
                name.unwrap_or_else(|| format!("etcd{}", i + 1)),
            )
        })
        .chain(
            plan.hosts
                .iter()
                .filter(|h| h.has_role(Role::Etcd) && Some(h.name.as_str()) == joining)
                .map(|h| {
                    (
                        h.name.clone(),
                        h.etcd_member_name.clone().unwrap_or_else(|| h.name.clone()),
                    )
                }),
        )
        .collect()
}

/// `plan` with every etcd host's member name written out: the plan the action's inventories
/// are rendered from and that is saved when it succeeds, so that moving or removing a host in
/// the etcd group renames no member, now or in later runs.
fn freeze(plan: &Plan, names: &BTreeMap<String, String>) -> Plan {
    let mut p = plan.clone();
    for h in &mut p.hosts {
        if let Some(n) = names.get(&h.name) {
            h.etcd_member_name = Some(n.clone());
        }
    }
    p
}

/// The inventory files for `plan`, with `broken` groups added when given.
/// `hosts.yaml` with each host's `etcd_member_name` set from `names` (hosts not in it keep
/// what the render gave them).
fn keep_member_names(hosts_yaml: &str, names: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for line in hosts_yaml.lines() {
        // Hosts sit at four spaces under `all.hosts`; their variables at six.
        if let Some(name) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            current = Some(name);
        }
        match (
            line.strip_prefix("      etcd_member_name: "),
            current.and_then(|c| names.get(c)),
        ) {
            (Some(_), Some(name)) => out.push_str(&format!("      etcd_member_name: {name}")),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn inventory(
    plan: &Plan,
    names: &BTreeMap<String, String>,
    broken_etcd: &[String],
    broken_cp: &[String],
) -> Result<Vec<RenderedFile>, ActionError> {
    let mut files = crate::provision::stages::kubespray::inventory_files(plan)
        .map_err(|e| ActionError::Plan(e.to_string()))?;
    let Some(hosts) = files
        .iter_mut()
        .find(|f| f.path == std::path::Path::new(crate::render::HOSTS_FILE))
    else {
        return Ok(files);
    };
    hosts.contents = keep_member_names(&hosts.contents, names);
    {
        for (group, members) in [
            ("broken_etcd", broken_etcd),
            ("broken_kube_control_plane", broken_cp),
        ] {
            if members.is_empty() {
                continue;
            }
            hosts
                .contents
                .push_str(&format!("    {group}:\n      hosts:\n"));
            for m in members {
                hosts.contents.push_str(&format!("        {m}:\n"));
            }
        }
    }
    Ok(files)
}

/// Builds step command lines for one plan.
struct Lines<'a> {
    plan: &'a Plan,
    books: Playbooks,
    /// Each etcd host's member name in the cluster as it stands (see [`member_names`]).
    names: &'a BTreeMap<String, String>,
}

impl Lines<'_> {
    /// The kubespray stage's command line without its playbook; `program` (`ansible-playbook`
    /// or `ansible`) from the same place (the tree's virtualenv when it has one).
    fn base(&self, program: &str) -> Vec<String> {
        let mut words =
            crate::provision::stages::kubespray::playbook_command(self.plan, false, &[]);
        words.pop();
        if let Some(dir) = words[0].strip_suffix("ansible-playbook") {
            words[0] = format!("{dir}{program}");
        }
        words
    }

    fn playbook(
        &self,
        book: &str,
        limit: Option<&str>,
        vars: Option<serde_json::Value>,
    ) -> Vec<String> {
        let mut w = self.base("ansible-playbook");
        w.push(book.to_string());
        if let Some(l) = limit {
            w.push(format!("--limit={l}"));
        }
        if let Some(v) = vars {
            w.push("-e".into());
            w.push(v.to_string());
        }
        w
    }

    fn facts(&self, inventory: &[RenderedFile], skip: Option<&str>) -> Step {
        let (title, limit) = match skip {
            // An unreachable host would fail the refresh; it is the one leaving.
            Some(n) => (
                format!("refresh the fact cache of every host but {n}"),
                Some(format!("all:!{n}")),
            ),
            None => ("refresh the fact cache of every host".to_string(), None),
        };
        Step {
            title,
            argv: self.playbook(self.books.facts, limit.as_deref(), None),
            inventory: inventory.to_vec(),
        }
    }

    /// Kubespray's "Restart kube-system/nginx-proxy" after a control plane joins.
    fn nginx_restart(&self, inventory: &[RenderedFile]) -> Step {
        let cmd = if self.plan.cluster.container_manager == "docker" {
            "docker ps -q --filter name=k8s_nginx-proxy | xargs -r docker restart"
        } else {
            "crictl ps -q --name nginx-proxy | xargs -r crictl stop"
        };
        let mut argv = self.base("ansible");
        argv.splice(1..1, ["kube_node".to_string()]);
        argv.retain(|w| w != "-v");
        argv.extend([
            "-m".into(),
            "ansible.builtin.shell".into(),
            "-a".into(),
            cmd.into(),
        ]);
        Step {
            title: "restart nginx-proxy on the nodes so they see the new API server".into(),
            argv,
            inventory: inventory.to_vec(),
        }
    }
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
    let refuse = |msg: String| Prepared {
        kind,
        node: node.into(),
        verdict: Verdict::Refuse(msg),
        steps: Vec::new(),
        plan_after: plan.clone(),
        doc: books.nodes_doc,
    };
    let etcd = etcd_of(plan, standing);
    let is_etcd = host.has_role(Role::Etcd);
    let is_cp = host.has_role(Role::ControlPlane);
    // An etcd member counted healthy: taking it out lowers the healthy count (quorum::removal).
    let healthy_member =
        is_etcd && !standing.unhealthy_members.contains(node) && !standing.broken.contains(node);
    let names = member_names(plan, (kind == Kind::Add).then_some(node));
    let names = &names;
    let frozen = freeze(plan, names);
    let plan = &frozen;
    let lines = Lines { plan, books, names };
    let unreachable = standing.unreachable.contains(node);
    match kind {
        Kind::Add => {
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
            let steps = add_steps(
                &lines_for(&after, books, names),
                &after,
                node,
                is_cp,
                is_etcd,
            )?;
            Ok(Prepared {
                kind,
                node: node.into(),
                verdict,
                steps,
                plan_after: after,
                doc: books.nodes_doc,
            })
        }
        Kind::Remove => {
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
                .filter(|f| f.is_error() && f.code != "E_EVEN_ETCD")
                .map(|f| f.message)
                .collect();
            if !errors.is_empty() {
                return Ok(refuse(format!(
                    "without {node} the plan would not be valid: {}",
                    errors.join("; ")
                )));
            }
            let mut steps = Vec::new();
            let working = reorder_first(&lines, plan, node, unreachable, &mut steps)?;
            steps.push(remove_step(
                &lines_for(&working, books, names),
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
        Kind::Replace => {
            if is_etcd && !etcd.has_quorum() {
                return recover(plan, standing, books, names, node, etcd);
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
            let working = reorder_first(&lines, plan, node, unreachable, &mut steps)?;
            // The old node is broken: no drain, no reset (the box may be blank or gone).
            steps.push(remove_step(
                &lines_for(&working, books, names),
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
                &lines_for(&after, books, names),
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
    }
}

fn lines_for<'a>(
    plan: &'a Plan,
    books: Playbooks,
    names: &'a BTreeMap<String, String>,
) -> Lines<'a> {
    Lines { plan, books, names }
}

/// The first control plane cannot be removed in place (Kubespray's "Adding/Removal of first
/// `kube_control_plane` and etcd-master"): it moves to the end of its groups and the control
/// planes and etcd are reconfigured first. Returns the plan the next steps run with.
fn reorder_first(
    lines: &Lines<'_>,
    plan: &Plan,
    node: &str,
    unreachable: bool,
    steps: &mut Vec<Step>,
) -> Result<Plan, ActionError> {
    if first_control_plane(plan) != Some(node) {
        return Ok(plan.clone());
    }
    let reordered = moved_last(plan, node);
    let inv = inventory(&reordered, lines.names, &[], &[])?;
    let l = lines_for(&reordered, lines.books, lines.names);
    steps.push(l.facts(&inv, unreachable.then_some(node)));
    let limit = if unreachable {
        format!("etcd,kube_control_plane,!{node}")
    } else {
        "etcd,kube_control_plane".to_string()
    };
    steps.push(Step {
        title: format!("make {node} the last control plane (the first cannot be removed)"),
        argv: l.playbook(l.books.cluster, Some(&limit), None),
        inventory: inv,
    });
    Ok(reordered)
}

fn remove_step(
    lines: &Lines<'_>,
    plan: &Plan,
    node: &str,
    ungraceful: bool,
    reset: bool,
) -> Result<Step, ActionError> {
    let vars = serde_json::json!({
        "node": node,
        "reset_nodes": reset,
        "allow_ungraceful_removal": ungraceful,
        "skip_confirmation": true,
    });
    Ok(Step {
        title: format!(
            "remove {node} from the cluster{}",
            if ungraceful {
                " (ungracefully: it cannot be drained)"
            } else {
                ""
            }
        ),
        argv: lines.playbook(lines.books.remove_node, None, Some(vars)),
        inventory: inventory(plan, lines.names, &[], &[])?,
    })
}

fn add_steps(
    lines: &Lines<'_>,
    plan: &Plan,
    node: &str,
    is_cp: bool,
    is_etcd: bool,
) -> Result<Vec<Step>, ActionError> {
    let inv = inventory(plan, lines.names, &[], &[])?;
    let b = lines.books;
    let mut steps = Vec::new();
    if is_etcd {
        let vars = serde_json::json!({ "ignore_assert_errors": true });
        steps.push(lines.facts(&inv, None));
        steps.push(Step {
            title: format!("join {node} to etcd and the control plane"),
            argv: lines.playbook(
                b.cluster,
                Some("etcd,kube_control_plane"),
                Some(vars.clone()),
            ),
            inventory: inv.clone(),
        });
        steps.push(Step {
            title: "update every etcd member's configuration".into(),
            argv: lines.playbook(b.upgrade, Some("etcd,kube_control_plane"), Some(vars)),
            inventory: inv.clone(),
        });
    } else if is_cp {
        // Kubespray's docs: a control plane joins through cluster.yml, never scale.yml.
        steps.push(Step {
            title: format!("join {node} as the last control plane"),
            argv: lines.playbook(b.cluster, None, None),
            inventory: inv.clone(),
        });
    }
    if is_cp {
        steps.push(lines.nginx_restart(&inv));
    } else if plan
        .hosts
        .iter()
        .any(|h| h.name == node && h.has_role(Role::Worker))
    {
        if steps.is_empty() {
            steps.push(lines.facts(&inv, None));
        }
        steps.push(Step {
            title: format!("join {node} as a worker"),
            argv: lines.playbook(b.scale, Some(node), None),
            inventory: inv,
        });
    }
    Ok(steps)
}

/// etcd has lost quorum: `recover-control-plane.yml` with the broken hosts copied into the
/// broken groups, the replaced host last (a blank host is never `kube_control_plane[0]`).
fn recover(
    plan: &Plan,
    standing: &Standing,
    books: Playbooks,
    member_names: &BTreeMap<String, String>,
    node: &str,
    etcd: Etcd,
) -> Result<Prepared, ActionError> {
    let mut broken: Vec<&str> = plan
        .hosts
        .iter()
        .filter(|h| {
            standing.unhealthy_members.contains(&h.name)
                || standing.broken.contains(&h.name)
                || h.name == node
        })
        .map(|h| h.name.as_str())
        .collect();
    broken.sort();
    let mut after = plan.clone();
    for b in &broken {
        after = moved_last(&after, b);
    }
    let healthy_first = after
        .hosts
        .iter()
        .find(|h| h.has_role(Role::Etcd))
        .is_some_and(|h| !broken.contains(&h.name.as_str()));
    let q = crate::plan::Quorum::of(etcd.members);
    if !healthy_first {
        return Ok(Prepared {
            kind: Kind::Replace,
            node: node.into(),
            verdict: Verdict::Refuse(format!(
                "etcd has lost quorum ({} of {} members healthy, quorum {}) and no etcd member is left \
                 healthy to recover from; restore etcd from a backup",
                etcd.healthy, etcd.members, q.quorum
            )),
            steps: Vec::new(),
            plan_after: plan.clone(),
            doc: books.recover_doc,
        });
    }
    let broken_in = |role: Role| -> Vec<String> {
        after
            .hosts
            .iter()
            .filter(|h| h.has_role(role) && broken.contains(&h.name.as_str()))
            .map(|h| h.name.clone())
            .collect()
    };
    let inv = inventory(
        &after,
        member_names,
        &broken_in(Role::Etcd),
        &broken_in(Role::ControlPlane),
    )?;
    let lines = lines_for(&after, books, member_names);
    let steps = vec![
        lines.facts(&inv, None),
        Step {
            title: format!(
                "rebuild etcd and the control plane without {}",
                broken.join(", ")
            ),
            argv: lines.playbook(
                books.recover_control_plane,
                Some("etcd,kube_control_plane"),
                Some(serde_json::json!({ "etcd_retries": 10 })),
            ),
            inventory: inv,
        },
    ];
    Ok(Prepared {
        kind: Kind::Replace,
        node: node.into(),
        verdict: Verdict::Confirm(format!(
            "etcd has lost quorum ({} of {} members healthy, quorum {}): recover-control-plane.yml \
             rebuilds it from {} and rejoins {}",
            etcd.healthy,
            etcd.members,
            q.quorum,
            after
                .hosts
                .iter()
                .find(|h| h.has_role(Role::Etcd))
                .map_or("", |h| h.name.as_str()),
            broken.join(", ")
        )),
        steps,
        plan_after: after,
        doc: books.recover_doc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::drift::HostDrift;

    /// node3 offers a new key: any action on node4 is refused, and the refusal says how to
    /// confirm the key where the action was chosen.
    #[test]
    fn a_changed_key_elsewhere_refuses_and_says_how_to_confirm_it_here() {
        let plan = crate::plan::from_yaml(
            "version: 1\ncluster: {name: prod, kubespray: {version: v2.31.0}}\nhosts:\n\
             \x20 - {name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}\n\
             \x20 - {name: node3, address: 10.0.10.3, roles: [worker]}\n\
             \x20 - {name: node4, address: 10.0.10.4, roles: [worker]}\n",
            "test plan",
        )
        .expect("plan");
        let host = |name: &str, states: Vec<Drift>, node: bool| HostDrift {
            name: name.into(),
            address: String::new(),
            roles: Vec::new(),
            states,
            node: Some(node),
            etcd_member_healthy: None,
            action: String::new(),
        };
        let report = Report {
            cluster_name: "prod".into(),
            hosts: vec![
                host("node1", Vec::new(), true),
                host(
                    "node3",
                    vec![Drift::HostKeyChanged {
                        pinned: "SHA256:old".into(),
                        offered: "SHA256:new".into(),
                    }],
                    true,
                ),
                host("node4", vec![Drift::NotInCluster], false),
            ],
            cluster: Vec::new(),
        };
        let refusal = |standing: &Standing| match prepare(&plan, standing, Kind::Add, "node4")
            .expect("prepared")
            .verdict
        {
            Verdict::Refuse(m) => m,
            v => panic!("not refused: {v:?}"),
        };
        assert_eq!(
            refusal(&Standing::from_report(&report)),
            "node3's host key changed: confirm the new key first \
             (rackstrap drift PLAN --accept-new-key node3)"
        );
        let wizard = Standing::from_report_saying(&report, &|n| format!("select {n} and press k"));
        assert_eq!(
            refusal(&wizard),
            "node3's host key changed: confirm the new key first (select node3 and press k)"
        );
    }
}
