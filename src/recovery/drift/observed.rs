//! What drift compares the plan with: how rackstrap's own connection to each host went, what
//! the host reported, and what the cluster said. Gathered by `recovery::observe`; the demo's
//! recovery lab loads the same shapes from YAML.

use serde::{Deserialize, Serialize};

use crate::cluster::{InstallFiles, Member, Node};
use crate::facts::{BlockDevice, HostFacts};

/// How rackstrap's own connection to a host went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Reach {
    /// Connected with the pinned key; `probe` holds what the host reported.
    Connected,
    /// No TCP or SSH answer in time (or refused).
    Unreachable { message: String },
    /// The host offered a different key than the one pinned: nothing ran on it.
    HostKeyChanged { pinned: String, offered: String },
    /// No key pinned for the host yet: nothing ran on it.
    UnknownHostKey { offered: String },
    /// The server answered but refused rackstrap's credentials (or sudo).
    Refused { message: String },
}

/// What a reachable host reported about the files a Kubespray install leaves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// `/var/lib/kubelet/config.yaml` exists.
    pub kubelet_config: bool,
    /// `/etc/etcd.env` exists.
    pub etcd_env: bool,
    /// `/var/lib/etcd` exists and is not empty.
    pub etcd_data: bool,
    /// The host's addresses (`ip -j addr`).
    pub addresses: Vec<String>,
    /// Block devices as `lsblk` showed them.
    pub disks: Vec<BlockDevice>,
}

impl Probe {
    /// Nothing of a Kubespray install is left: no kubelet config, no etcd environment or data.
    pub fn blank(&self) -> bool {
        !self.kubelet_config && !self.etcd_env && !self.etcd_data
    }

    /// The parts of `facts` drift reads, with the install files.
    pub fn from_facts(facts: &HostFacts, files: InstallFiles) -> Self {
        Self {
            kubelet_config: files.kubelet_config,
            etcd_env: files.etcd_env,
            etcd_data: files.etcd_data,
            addresses: facts
                .interfaces
                .iter()
                .flat_map(|i| i.addresses.iter())
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
                .collect(),
            disks: facts.disks.clone(),
        }
    }
}

/// One plan host as observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSeen {
    pub name: String,
    pub reach: Reach,
    pub probe: Option<Probe>,
}

/// What the cluster said, asked on the first control plane that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSeen {
    /// The host asked.
    pub asked: String,
    pub nodes: Option<Vec<Node>>,
    pub members: Option<Vec<Member>>,
}

/// Everything observed for a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub hosts: Vec<HostSeen>,
    /// `None`: no control plane answered (or none could be asked).
    pub cluster: Option<ClusterSeen>,
}
