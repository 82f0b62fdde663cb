//! Roles: control planes, workers and etcd membership, with quorum arithmetic.

use serde::Serialize;

use super::messages as msg;
use super::{Code, Finding, Severity};
use crate::plan::model::{Plan, Role};

/// etcd's documentation advises against clusters over 7 members (write latency).
pub const ETCD_MAX_ADVISED: usize = 7;

/// etcd membership arithmetic: quorum is a strict majority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quorum {
    pub members: usize,
    /// Members that must be up for etcd to accept writes (floor(n/2) + 1; 0 without members).
    pub quorum: usize,
    /// Members that may fail while quorum holds.
    pub tolerated: usize,
}

impl Quorum {
    pub fn of(members: usize) -> Self {
        let quorum = if members == 0 { 0 } else { members / 2 + 1 };
        Self {
            members,
            quorum,
            tolerated: members - quorum,
        }
    }
}

/// The way on from an even etcd count on a built cluster (after `rackstrap node remove` of a
/// member, say): Kubespray refuses an even count, and its docs/operations/nodes.md ("Adding an
/// etcd node") makes every etcd change a scale-up or a replacement, a host already in the
/// cluster being removed before it joins etcd. So a new host joins with the `etcd` role.
/// `plan_file` is how the plan is named where this is shown (`PLAN` when unknown).
pub fn etcd_way_on(plan_file: &str) -> String {
    format!(
        "on a built cluster, add a new host with the `etcd` role to the plan and run \
         `rackstrap node add {plan_file} NAME` (Kubespray's docs/operations/nodes.md, \
         \"Adding an etcd node\")"
    )
}

pub fn quorum(plan: &Plan) -> Quorum {
    Quorum::of(plan.count_role(Role::Etcd))
}

pub(super) fn check_roles(plan: &Plan, out: &mut Vec<Finding>) {
    let control_planes = plan.count_role(Role::ControlPlane);
    let workers = plan.count_role(Role::Worker);
    let q = quorum(plan);
    if plan.hosts.is_empty() {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_NO_HOSTS,
                "hosts",
                msg::NO_HOSTS.into(),
            )
            .hint("add hosts; `rackstrap discover RANGE` finds them"),
        );
        return;
    }
    if control_planes == 0 {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_NO_CONTROL_PLANE,
                "hosts",
                msg::NO_CONTROL_PLANE.into(),
            )
            .hint("add `control_plane` to one host's roles (three for high availability)"),
        );
    }
    if workers == 0 {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_NO_WORKER,
                "hosts",
                msg::NO_WORKER.into(),
            )
            .hint(if super::hardware::akash_figures(plan) {
                "add `worker` to a host's roles; control planes may be workers too, as in the Akash provider guide"
            } else {
                "add `worker` to a host's roles; control planes may be workers too"
            }),
        );
    }
    if q.members == 0 {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_NO_ETCD,
                "hosts",
                msg::NO_ETCD.into(),
            )
            .hint("add `etcd` to the control planes' roles"),
        );
    } else if q.members.is_multiple_of(2) {
        let before_install = if plan
            .hosts
            .iter()
            .any(|h| h.has_role(Role::Worker) && !h.has_role(Role::Etcd))
        {
            "before the first install, add `etcd` to one worker's roles, or remove it from one host"
        } else {
            "before the first install, add `etcd` to one more host, or remove it from one"
        };
        let hint = format!("{before_install}; {}", etcd_way_on("PLAN"));
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_EVEN_ETCD,
                "hosts",
                msg::even_etcd(q),
            )
            .hint(hint),
        );
    }
    if control_planes == 2 {
        let mut f = Finding::new(
            Severity::Warning,
            Code::W_TWO_CONTROL_PLANES,
            "hosts",
            msg::two_control_planes(super::hardware::akash_figures(plan)),
        );
        if q.members < 3 {
            f = f.hint("add `etcd` to one worker's roles, so 3 etcd members tolerate 1 failure");
        }
        out.push(f);
    }
    if q.members > ETCD_MAX_ADVISED {
        out.push(
            Finding::new(
                Severity::Warning,
                Code::W_ETCD_OVER_SEVEN,
                "hosts",
                msg::etcd_over_seven(q.members),
            )
            .hint("keep 3 or 5 etcd members; more slows every write"),
        );
    }
    if q.members > 0 {
        out.push(Finding::new(
            Severity::Info,
            Code::I_QUORUM,
            "hosts",
            msg::quorum(q),
        ));
    }
}
