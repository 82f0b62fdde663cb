//! etcd quorum arithmetic for the recovery actions, decided before anything runs.
//!
//! Kubespray's remove playbook runs `etcdctl member remove` without looking at quorum, so the
//! rule lives here: an action that would leave fewer healthy members than the quorum of what
//! remains is refused; one that leaves the cluster tolerating fewer failures than now (or an
//! even member count) needs the operator's confirmation; removing the last control plane or
//! the last etcd member is refused. Every message carries the numbers.

use serde::Serialize;

use crate::plan::Quorum;

/// What the arithmetic says about an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "message", rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing about quorum changes for the worse.
    Go(String),
    /// Quorum holds but weakens: the operator confirms (typed host name, or `--yes`).
    Confirm(String),
    /// Would lose quorum, or remove what the cluster cannot lose.
    Refuse(String),
}

impl Verdict {
    pub fn message(&self) -> &str {
        match self {
            Verdict::Go(m) | Verdict::Confirm(m) | Verdict::Refuse(m) => m,
        }
    }

    /// The stricter of two verdicts (messages of the stricter kept).
    pub fn and(self, other: Verdict) -> Verdict {
        fn rank(v: &Verdict) -> u8 {
            match v {
                Verdict::Go(_) => 0,
                Verdict::Confirm(_) => 1,
                Verdict::Refuse(_) => 2,
            }
        }
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

/// etcd as it stands: members, and how many of them answer healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Etcd {
    pub members: usize,
    pub healthy: usize,
}

impl Etcd {
    /// All members healthy.
    pub fn all_healthy(members: usize) -> Self {
        Self {
            members,
            healthy: members,
        }
    }

    pub fn has_quorum(&self) -> bool {
        self.members > 0 && self.healthy >= Quorum::of(self.members).quorum
    }
}

/// `3 etcd members: quorum 2, 1 failure tolerated`.
pub fn describe(members: usize) -> String {
    let q = Quorum::of(members);
    let tolerated = match q.tolerated {
        0 => "no failure tolerated".to_string(),
        1 => "1 failure tolerated".to_string(),
        n => format!("{n} failures tolerated"),
    };
    format!(
        "{members} etcd member{}: quorum {}, {tolerated}",
        if members == 1 { "" } else { "s" },
        q.quorum
    )
}

/// Removing `name` (for good, or for the time of a replacement: `verb` says which, as in
/// "removing" or "replacing").
/// `etcd_member`: whether it is an etcd member; `member_healthy`: whether that member answers.
/// `control_planes`: control planes now, `is_control_plane` whether `name` is one.
pub fn removal(
    verb: &str,
    name: &str,
    etcd: Etcd,
    etcd_member: bool,
    member_healthy: bool,
    control_planes: usize,
    is_control_plane: bool,
) -> Verdict {
    if is_control_plane && control_planes <= 1 {
        return Verdict::Refuse(format!(
            "{name} is the last control plane: {verb} it leaves no API server; refused \
             (add a control plane first)"
        ));
    }
    if !etcd_member {
        return Verdict::Go(format!(
            "{name} is not an etcd member: etcd unchanged ({})",
            describe(etcd.members)
        ));
    }
    if etcd.members <= 1 {
        return Verdict::Refuse(format!(
            "{name} is the last etcd member: {verb} it destroys the cluster's data; refused"
        ));
    }
    let now = Quorum::of(etcd.members);
    if !etcd.has_quorum() {
        return Verdict::Refuse(format!(
            "etcd has lost quorum: {} of {} members healthy, quorum {}; `etcdctl member remove` \
             cannot run. Recover the control plane instead (recover-control-plane.yml)",
            etcd.healthy, etcd.members, now.quorum
        ));
    }
    let members = etcd.members - 1;
    let healthy = etcd.healthy - usize::from(member_healthy);
    let after = Quorum::of(members);
    if healthy < after.quorum {
        return Verdict::Refuse(format!(
            "{verb} {name} leaves {members} etcd members of which {healthy} healthy: quorum {} \
             is lost; refused (bring the unhealthy members back first)",
            after.quorum
        ));
    }
    let text = format!(
        "{verb} {name} leaves {} (now {})",
        describe(members),
        describe(etcd.members)
    );
    // Failures still tolerable once it is gone, counting members already unhealthy.
    let spare = healthy - after.quorum;
    let spare_now = etcd.healthy - now.quorum;
    if spare < spare_now || spare == 0 || members.is_multiple_of(2) {
        Verdict::Confirm(text)
    } else {
        Verdict::Go(text)
    }
}

/// Adding `name` as an etcd member to `etcd`: counts must stay odd (Kubespray's docs: "make
/// sure there are always an odd number of etcd nodes"), so one member more on an odd count is
/// refused.
pub fn addition(name: &str, etcd: Etcd) -> Verdict {
    let members = etcd.members + 1;
    if members.is_multiple_of(2) && etcd.members > 0 {
        let after = Quorum::of(members);
        return Verdict::Refuse(format!(
            "adding {name} makes {members} etcd members: quorum {}, {} failure{} tolerated, no \
             more than with {}; an even count is refused: add two members, or replace one",
            after.quorum,
            after.tolerated,
            if after.tolerated == 1 { "" } else { "s" },
            etcd.members
        ));
    }
    Verdict::Go(format!(
        "adding {name} makes {} (now {})",
        describe(members),
        describe(etcd.members)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etcd(members: usize, healthy: usize) -> Etcd {
        Etcd { members, healthy }
    }

    #[test]
    fn removing_one_of_three_healthy_members_weakens_and_asks() {
        assert_eq!(
            removal("removing", "node2", etcd(3, 3), true, true, 3, true),
            Verdict::Confirm(
                "removing node2 leaves 2 etcd members: quorum 2, no failure tolerated \
                 (now 3 etcd members: quorum 2, 1 failure tolerated)"
                    .into()
            )
        );
    }

    #[test]
    fn removing_a_dead_member_of_three_still_asks_and_a_healthy_one_is_refused() {
        // One of three is dead: removing it leaves 2 of 2 healthy, quorum 2: weaker count.
        assert!(matches!(
            removal("removing", "node3", etcd(3, 2), true, false, 3, true),
            Verdict::Confirm(m) if m.starts_with("removing node3 leaves 2 etcd members: quorum 2")
        ));
        // Removing a healthy one while another is dead: 2 members, 1 healthy, quorum 2.
        assert_eq!(
            removal("removing", "node1", etcd(3, 2), true, true, 3, true),
            Verdict::Refuse(
                "removing node1 leaves 2 etcd members of which 1 healthy: quorum 2 is lost; \
                 refused (bring the unhealthy members back first)"
                    .into()
            )
        );
    }

    #[test]
    fn five_to_four_asks_and_lost_quorum_is_refused() {
        assert!(matches!(
            removal("replacing", "n5", etcd(5, 5), true, true, 3, false),
            Verdict::Confirm(m) if m == "replacing n5 leaves 4 etcd members: quorum 3, 1 failure \
                tolerated (now 5 etcd members: quorum 3, 2 failures tolerated)"
        ));
        assert_eq!(
            removal("removing", "n2", etcd(3, 1), true, false, 3, true),
            Verdict::Refuse(
                "etcd has lost quorum: 1 of 3 members healthy, quorum 2; `etcdctl member \
                 remove` cannot run. Recover the control plane instead (recover-control-plane.yml)"
                    .into()
            )
        );
    }

    #[test]
    fn the_last_control_plane_and_the_last_member_are_refused() {
        assert!(matches!(
            removal("removing", "cp1", etcd(1, 1), true, true, 1, true),
            Verdict::Refuse(m) if m.starts_with("cp1 is the last control plane")
        ));
        assert_eq!(
            removal("removing", "e1", etcd(1, 1), true, true, 2, false),
            Verdict::Refuse(
                "e1 is the last etcd member: removing it destroys the cluster's data; refused"
                    .into()
            )
        );
    }

    #[test]
    fn workers_leave_etcd_alone() {
        assert_eq!(
            removal("removing", "w1", etcd(3, 3), false, true, 1, false),
            Verdict::Go(
                "w1 is not an etcd member: etcd unchanged (3 etcd members: quorum 2, 1 failure tolerated)"
                    .into()
            )
        );
    }

    #[test]
    fn additions_keep_the_count_odd() {
        assert_eq!(
            addition("node4", etcd(3, 3)),
            Verdict::Refuse(
                "adding node4 makes 4 etcd members: quorum 3, 1 failure tolerated, no more than \
                 with 3; an even count is refused: add two members, or replace one"
                    .into()
            )
        );
        assert_eq!(
            addition("node3", etcd(2, 2)),
            Verdict::Go(
                "adding node3 makes 3 etcd members: quorum 2, 1 failure tolerated \
                 (now 2 etcd members: quorum 2, no failure tolerated)"
                    .into()
            )
        );
    }

    #[test]
    fn the_stricter_verdict_wins() {
        let go = Verdict::Go("a".into());
        let ask = Verdict::Confirm("b".into());
        let no = Verdict::Refuse("c".into());
        assert_eq!(go.clone().and(ask.clone()), ask);
        assert_eq!(ask.clone().and(go), ask);
        assert_eq!(ask.and(no.clone()), no);
    }
}
