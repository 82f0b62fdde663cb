//! The assessment's result: each plan host's drift states with the guided action, what the
//! cluster has that the plan lacks, and the report as `rackstrap drift` prints it.

use serde::{Deserialize, Serialize};

use crate::plan::Role;

/// One difference between the plan and what is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Drift {
    Unreachable {
        message: String,
    },
    /// Old and new `SHA256:` fingerprints.
    HostKeyChanged {
        pinned: String,
        offered: String,
    },
    HostKeyNotPinned {
        offered: String,
    },
    CredentialsRefused {
        message: String,
    },
    /// Blank (or a new host key) while the cluster still has its Node or etcd member.
    Reinstalled {
        evidence: String,
    },
    AddressDiffers {
        plan: String,
        found: Vec<String>,
    },
    DisksDiffer {
        missing: Vec<String>,
    },
    /// The plan's storage layouts are already on the disks: the storage stage has nothing to do.
    /// A planned device already holds something (a filesystem, partitions) other than the
    /// plan's layout: report only.
    LayoutDiffers {
        devices: Vec<String>,
    },
    StorageLaidOut {
        mounts: Vec<String>,
    },
    NotReady,
    NotInCluster,
}

impl Drift {
    /// A state only worth reporting, not a difference to act on.
    pub fn is_done(&self) -> bool {
        matches!(self, Drift::StorageLaidOut { .. })
    }

    /// The state's label as `rackstrap drift` and the Drift screen print it.
    pub fn label(&self) -> &'static str {
        match self {
            Drift::Unreachable { .. } => "unreachable",
            Drift::HostKeyChanged { .. } => "host key changed",
            Drift::HostKeyNotPinned { .. } => "host key not pinned",
            Drift::CredentialsRefused { .. } => "credentials refused",
            Drift::Reinstalled { .. } => "reinstalled",
            Drift::AddressDiffers { .. } => "address differs",
            Drift::DisksDiffer { .. } => "disks differ",
            Drift::LayoutDiffers { .. } => "layout differs",
            Drift::StorageLaidOut { .. } => "storage laid out",
            Drift::NotReady => "NotReady",
            Drift::NotInCluster => "not in the cluster",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Drift::Unreachable { message } | Drift::CredentialsRefused { message } => {
                message.clone()
            }
            Drift::HostKeyChanged { pinned, offered } => {
                format!("pinned {pinned}, now offers {offered}; nothing runs on it until confirmed")
            }
            Drift::HostKeyNotPinned { offered } => format!("offers {offered}"),
            Drift::Reinstalled { evidence } => evidence.clone(),
            Drift::AddressDiffers { plan, found } => format!(
                "the plan says {plan}, the cluster or host has {}; Kubespray runs are blocked \
                 (certificates and etcd peer URLs are keyed by IP)",
                found.join(", ")
            ),
            Drift::DisksDiffer { missing } => {
                format!(
                    "no {} on the host (report only: nothing is repartitioned)",
                    missing.join(", ")
                )
            }
            Drift::LayoutDiffers { devices } => format!(
                "{} already hold{} something else than the plan's layout (report only: nothing is repartitioned)",
                devices.join(", "),
                if devices.len() == 1 { "s" } else { "" }
            ),
            Drift::StorageLaidOut { mounts } => {
                format!("{} mounted: counts as done", mounts.join(", "))
            }
            Drift::NotReady => "its Node is NotReady".into(),
            Drift::NotInCluster => "no Node object for it".into(),
        }
    }
}

/// A plan host's drift and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDrift {
    pub name: String,
    pub address: String,
    pub roles: Vec<Role>,
    pub states: Vec<Drift>,
    /// Whether the cluster has a Node for it (`None`: the cluster was not asked).
    pub node: Option<bool>,
    /// Its etcd member's health (`None`: no member for it, or etcd was not asked).
    pub etcd_member_healthy: Option<bool>,
    /// The guided action, as the operator types it (`rackstrap node replace PLAN node2`);
    /// empty when nothing is to be done.
    pub action: String,
}

/// Something in the cluster that the plan does not have, or about the cluster as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClusterDrift {
    /// Nothing answered for the cluster: node and member states could not be read.
    NotAsked {
        reason: String,
    },
    NodeNotInPlan {
        name: String,
    },
    MemberNotInPlan {
        name: String,
        peer_ip: String,
    },
    /// Even member count, no failure left to tolerate, or quorum lost.
    EtcdAtRisk {
        members: usize,
        healthy: usize,
        message: String,
    },
}

impl ClusterDrift {
    pub fn text(&self) -> String {
        match self {
            ClusterDrift::NotAsked { reason } => format!("cluster not asked: {reason}"),
            ClusterDrift::NodeNotInPlan { name } => format!(
                "node {name} is in the cluster but not in the plan: add it to the plan, or remove it from the cluster"
            ),
            ClusterDrift::MemberNotInPlan { name, peer_ip } => format!(
                "etcd member {name} ({peer_ip}) is in the cluster but not in the plan: add its host to the plan with the etcd role, or remove the member"
            ),
            ClusterDrift::EtcdAtRisk { message, .. } => message.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub cluster_name: String,
    pub hosts: Vec<HostDrift>,
    pub cluster: Vec<ClusterDrift>,
}

impl Report {
    /// Whether anything differs (laid-out storage alone is not drift).
    pub fn has_drift(&self) -> bool {
        !self.cluster.is_empty()
            || self
                .hosts
                .iter()
                .any(|h| h.states.iter().any(|s| !s.is_done()))
    }

    pub fn host(&self, name: &str) -> Option<&HostDrift> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The report as `rackstrap drift` prints it: one block per host, then the cluster.
    pub fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for h in &self.hosts {
            let roles: Vec<&str> = h.roles.iter().map(|r| role_name(*r)).collect();
            let states: Vec<&str> = h.states.iter().map(Drift::label).collect();
            let _ = writeln!(
                out,
                "{} ({}, {}): {}",
                h.name,
                h.address,
                roles.join("+"),
                if states.is_empty() {
                    "as planned".to_string()
                } else {
                    states.join(", ")
                }
            );
            for s in &h.states {
                let _ = writeln!(out, "  {}: {}", s.label(), s.detail());
            }
            if !h.action.is_empty() {
                let _ = writeln!(out, "  -> {}", h.action);
            }
        }
        for c in &self.cluster {
            let _ = writeln!(out, "cluster: {}", c.text());
        }
        let _ = writeln!(
            out,
            "{}",
            if self.has_drift() {
                "drift found"
            } else {
                "no drift"
            }
        );
        out
    }
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::ControlPlane => "control_plane",
        Role::Etcd => "etcd",
        Role::Worker => "worker",
    }
}
