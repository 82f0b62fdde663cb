//! The steps an action runs: the plans each step works with (a host moved last, removed, every
//! etcd member's name written out), their inventories rendered by `crate::render`, and the
//! `ansible-playbook` command lines.

use std::collections::BTreeMap;

use crate::plan::{Plan, Role};
use crate::render::{ExtraGroup, RenderedFile};

use super::super::quorum::{Etcd, Verdict};
use super::super::releases::Playbooks;
use super::{ActionError, Kind, Prepared, Standing, Step};

/// `plan` with `name` moved to the end of its hosts (so to the end of every group).
pub(super) fn moved_last(plan: &Plan, name: &str) -> Plan {
    let mut p = plan.clone();
    if let Some(i) = p.hosts.iter().position(|h| h.name == name) {
        let h = p.hosts.remove(i);
        p.hosts.push(h);
    }
    p
}

pub(super) fn without(plan: &Plan, name: &str) -> Plan {
    let mut p = plan.clone();
    p.hosts.retain(|h| h.name != name);
    p
}

/// Each etcd host's member name as the cluster knows it: the names the inventory of the plan
/// as given (the order the cluster was built or last changed with) gives them
/// ([`Plan::etcd_member_names`]). A host `joining` the cluster is not counted and is named
/// after itself (unless the plan names its member), so it takes no existing member's name.
pub(super) fn member_names(plan: &Plan, joining: Option<&str>) -> BTreeMap<String, String> {
    let standing = match joining {
        Some(n) => without(plan, n),
        None => plan.clone(),
    };
    let mut names: BTreeMap<String, String> = standing
        .etcd_member_names()
        .into_iter()
        .map(|(h, name)| (h.name.clone(), name))
        .collect();
    for h in plan
        .hosts
        .iter()
        .filter(|h| h.has_role(Role::Etcd) && Some(h.name.as_str()) == joining)
    {
        let name = h.etcd_member_name.clone().unwrap_or_else(|| h.name.clone());
        names.insert(h.name.clone(), name);
    }
    names
}

/// `plan` with every etcd host's member name written out: the plan the action's inventories
/// are rendered from and that is saved when it succeeds, so that moving or removing a host in
/// the etcd group renames no member, now or in later runs.
pub(super) fn freeze(plan: &Plan, names: &BTreeMap<String, String>) -> Plan {
    let mut p = plan.clone();
    for h in &mut p.hosts {
        if let Some(n) = names.get(&h.name) {
            h.etcd_member_name = Some(n.clone());
        }
    }
    p
}

/// The inventory files for `plan` (its etcd member names written out by [`freeze`]), with
/// the `broken` groups of Kubespray's recover-control-plane.yml added when given.
pub(super) fn inventory(
    plan: &Plan,
    broken_etcd: &[String],
    broken_cp: &[String],
) -> Result<Vec<RenderedFile>, ActionError> {
    let groups = [
        ExtraGroup {
            name: "broken_etcd",
            hosts: broken_etcd.to_vec(),
        },
        ExtraGroup {
            name: "broken_kube_control_plane",
            hosts: broken_cp.to_vec(),
        },
    ];
    crate::render::inventory(plan, &groups).map_err(|e| ActionError::Plan(e.to_string()))
}

/// Builds step command lines for one plan.
pub(super) struct Lines<'a> {
    pub(super) plan: &'a Plan,
    pub(super) books: Playbooks,
}

impl Lines<'_> {
    /// The kubespray stage's command line without its playbook; `program` (`ansible-playbook`
    /// or `ansible`) from the same place (the tree's virtualenv when it has one).
    pub(super) fn base(&self, program: &str) -> Vec<String> {
        let mut words =
            crate::provision::stages::kubespray::playbook_command(self.plan, false, &[]);
        words.pop();
        if let Some(dir) = words[0].strip_suffix("ansible-playbook") {
            words[0] = format!("{dir}{program}");
        }
        words
    }

    pub(super) fn playbook(
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

    pub(super) fn facts(&self, inventory: &[RenderedFile], skip: Option<&str>) -> Step {
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
    pub(super) fn nginx_restart(&self, inventory: &[RenderedFile]) -> Step {
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

pub(super) fn lines_for(plan: &Plan, books: Playbooks) -> Lines<'_> {
    Lines { plan, books }
}

/// The first control plane cannot be removed in place (Kubespray's "Adding/Removal of first
/// `kube_control_plane` and etcd-master"): it moves to the end of its groups and the control
/// planes and etcd are reconfigured first. Returns the plan the next steps run with.
pub(super) fn reorder_first(
    lines: &Lines<'_>,
    plan: &Plan,
    node: &str,
    unreachable: bool,
    steps: &mut Vec<Step>,
) -> Result<Plan, ActionError> {
    if plan.first_control_plane().map(|h| h.name.as_str()) != Some(node) {
        return Ok(plan.clone());
    }
    let reordered = moved_last(plan, node);
    let inv = inventory(&reordered, &[], &[])?;
    let l = lines_for(&reordered, lines.books);
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

pub(super) fn remove_step(
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
        inventory: inventory(plan, &[], &[])?,
    })
}

pub(super) fn add_steps(
    lines: &Lines<'_>,
    plan: &Plan,
    node: &str,
    is_cp: bool,
    is_etcd: bool,
) -> Result<Vec<Step>, ActionError> {
    let inv = inventory(plan, &[], &[])?;
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
pub(super) fn recover(
    plan: &Plan,
    standing: &Standing,
    books: Playbooks,
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
        &broken_in(Role::Etcd),
        &broken_in(Role::ControlPlane),
    )?;
    let lines = lines_for(&after, books);
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
