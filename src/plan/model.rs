//! The plan: what the operator wants the cluster to be. This is the file contract
//! (docs/plan.md): the YAML keys here are what users and scripts rely on.
//!
//! Addresses, CIDRs and ranges are kept as the operator typed them (strings) so that the
//! checks can point at the offending character instead of failing the whole load; `net`
//! parses them. Everything that has a sensible default has one, so a minimal plan is short.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The only plan format version this build reads and writes.
pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub cluster: Cluster,
    #[serde(default)]
    pub access: Access,
    #[serde(default)]
    pub hosts: Vec<Host>,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub tuning: Tuning,
}

impl Plan {
    /// How many hosts carry `role` (a host with several roles counts once for each).
    pub fn count_role(&self, role: Role) -> usize {
        self.hosts.iter().filter(|h| h.has_role(role)).count()
    }

    /// The first control plane in plan order: the host `kubectl` runs on, and the one
    /// Kubespray's node operations treat apart (`kube_control_plane[0]`).
    pub fn first_control_plane(&self) -> Option<&Host> {
        self.hosts.iter().find(|h| h.has_role(Role::ControlPlane))
    }

    /// Each etcd host with its etcd member name, in plan order: its `etcd_member_name` when
    /// set, else `etcd<n>` for its place `n` (from 1) in the etcd group, the name Kubespray's
    /// defaults give it (`roles/kubespray_defaults`: `"etcd" + loop.index`).
    pub fn etcd_member_names(&self) -> Vec<(&Host, String)> {
        self.hosts
            .iter()
            .filter(|h| h.has_role(Role::Etcd))
            .enumerate()
            .map(|(i, h)| {
                let name = h
                    .etcd_member_name
                    .clone()
                    .unwrap_or_else(|| format!("etcd{}", i + 1));
                (h, name)
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// The inventory directory inside the Kubespray tree: `inventory/<name>`.
    pub name: String,
    /// Kubespray's `cluster_name` (the cluster DNS domain).
    #[serde(default = "default_domain")]
    pub domain: String,
    #[serde(default)]
    pub kubespray: Kubespray,
    #[serde(default = "default_network_plugin")]
    pub network_plugin: String,
    /// Kubespray's `container_manager`.
    #[serde(default = "default_container_manager")]
    pub container_manager: String,
    /// Extra rules for a kind of cluster: `akash` turns on the Akash provider checks
    /// (Akash "IP Leases - Provider Enablement").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    Akash,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kubespray {
    #[serde(default = "default_kubespray_path")]
    pub path: String,
    #[serde(default = "default_kubespray_version")]
    pub version: String,
}

impl Default for Kubespray {
    fn default() -> Self {
        Self {
            path: default_kubespray_path(),
            version: default_kubespray_version(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    #[serde(default = "default_user")]
    pub user: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// Private key file; `~` is expanded at use.
    #[serde(default = "default_identity")]
    pub identity: String,
}

impl Default for Access {
    fn default() -> Self {
        Self {
            user: default_user(),
            port: default_port(),
            identity: default_identity(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// The inventory (and Kubernetes node) name.
    pub name: String,
    /// IP address or resolvable hostname that rackstrap and Ansible connect to.
    pub address: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Kubernetes node labels (AIStore "Deploying AIS on k8s": `nvidia.com/ais-target: demo`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<StorageLayout>,
    /// This etcd member's name in the cluster. Unset: Kubespray's default, `etcd<position>`
    /// in the etcd group. The recovery actions set it on every etcd host when they reorder
    /// or remove one, so that no member is renamed (docs/recovery.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_member_name: Option<String>,
}

impl Host {
    /// The plan name to offer for a host that reported `hostname`, when that name is one
    /// Kubespray takes as it is (lower case letters, digits, `-` and `.`, "Stop if bad
    /// hostname" in Kubespray's preinstall role). A host reports what it likes: a name with
    /// escapes, quotes or `$(...)` is never offered, and the caller picks `nodeN` instead.
    pub fn name_from_hostname(hostname: &str) -> Option<String> {
        (hostname.len() <= crate::net::MAX_LABEL_LEN && super::check::rules::is_dns_name(hostname))
            .then(|| hostname.to_string())
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    ControlPlane,
    Etcd,
    Worker,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageLayout {
    pub level: Level,
    /// Kernel device names as `lsblk` shows them (`nvme0n1`, `sdb`), without `/dev/`.
    pub devices: Vec<String>,
    #[serde(default)]
    pub filesystem: Filesystem,
    /// Mount point; for `per-disk` a prefix, each disk mounted at `<mount>/<device>`.
    pub mount: String,
    #[serde(default)]
    pub discard: Discard,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relocate: Vec<Relocate>,
    /// The operator's consent to destroy whatever is on these devices.
    #[serde(default)]
    pub wipe: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Single,
    Raid0,
    Raid1,
    Raid5,
    Raid6,
    Raid10,
    PerDisk,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::Single,
        Level::Raid0,
        Level::Raid1,
        Level::Raid5,
        Level::Raid6,
        Level::Raid10,
        Level::PerDisk,
    ];

    /// The spelling used in plan files and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Single => "single",
            Level::Raid0 => "raid0",
            Level::Raid1 => "raid1",
            Level::Raid5 => "raid5",
            Level::Raid6 => "raid6",
            Level::Raid10 => "raid10",
            Level::PerDisk => "per-disk",
        }
    }

    /// Fewest member devices the level can be built from (mdadm's own limits; raid10 as
    /// mirrored pairs).
    pub fn min_devices(self) -> usize {
        match self {
            Level::Single | Level::PerDisk => 1,
            Level::Raid0 | Level::Raid1 => 2,
            Level::Raid5 => 3,
            Level::Raid6 | Level::Raid10 => 4,
        }
    }

    /// Whether this level is an md array.
    pub fn is_md(self) -> bool {
        !matches!(self, Level::Single | Level::PerDisk)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filesystem {
    #[default]
    Ext4,
    Xfs,
}

impl Filesystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Filesystem::Ext4 => "ext4",
            Filesystem::Xfs => "xfs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discard {
    /// On only when every member device is non-rotational (SSD/NVMe).
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relocate {
    /// `/var/lib/kubelet` onto the new filesystem (Akash "Kubernetes Cluster for
    /// Akash Providers", "STEP 7 - Provider Ephemeral Storage Config").
    Kubelet,
    /// `/var/lib/containerd` onto the new filesystem (the same step).
    Containerd,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Kubespray `kube_service_addresses`.
    #[serde(default = "default_service_cidr")]
    pub service_cidr: String,
    /// Kubespray `kube_pods_subnet`.
    #[serde(default = "default_pod_cidr")]
    pub pod_cidr: String,
    /// Kubespray `kube_network_node_prefix`.
    #[serde(default = "default_node_prefix")]
    pub node_prefix: u8,
    /// Kubespray `upstream_dns_servers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_dns: Vec<String>,
    /// Host interface MTU.
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// Kubespray `calico_mtu`; derived from `mtu` when absent (50 bytes less: the VXLAN
    /// header of Kubespray's default Calico mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calico_mtu: Option<u32>,
    /// Optional control-plane virtual IP (a keepalived VIP in front of the API servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,
    #[serde(default)]
    pub load_balancer: LoadBalancer,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            service_cidr: default_service_cidr(),
            pod_cidr: default_pod_cidr(),
            node_prefix: default_node_prefix(),
            upstream_dns: Vec::new(),
            mtu: default_mtu(),
            calico_mtu: None,
            vip: None,
            load_balancer: LoadBalancer::default(),
        }
    }
}

impl Network {
    /// The MTU Calico gets: the plan's value, or the VXLAN header's 50 bytes below the host
    /// MTU (Kubespray's sample `k8s-net-calico.yml`: "if VXLAN or BPF mode is enabled,
    /// subtract 50 from your network MTU").
    pub fn effective_calico_mtu(&self) -> u32 {
        self.calico_mtu.unwrap_or(
            self.mtu
                .saturating_sub(crate::plan::release::CALICO_VXLAN_OVERHEAD),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<Pool>,
    /// Expose the MetalLB controller's metrics for the Akash IP operator (Akash
    /// "IP Leases - Provider Enablement").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expose_controller: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    pub name: String,
    /// CIDR (`10.0.0.0/28`), range (`10.0.0.5-10.0.0.9`) or single address entries.
    pub addresses: Vec<String>,
    #[serde(default = "default_true")]
    pub auto_assign: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tuning {
    /// Kernel parameters written to the host prep sysctl file (a new plan starts with
    /// [`super::DEFAULT_SYSCTL`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctl: BTreeMap<String, SysctlValue>,
}

/// A sysctl value as YAML gives it: `512` or `"1 2 3"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SysctlValue {
    Int(i64),
    Text(String),
}

impl std::fmt::Display for SysctlValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SysctlValue::Int(v) => write!(f, "{v}"),
            SysctlValue::Text(v) => f.write_str(v),
        }
    }
}

pub(super) fn default_domain() -> String {
    "cluster.local".into()
}
pub(super) fn default_network_plugin() -> String {
    "calico".into()
}
pub(super) fn default_container_manager() -> String {
    "containerd".into()
}
fn default_kubespray_path() -> String {
    "~/kubespray".into()
}
/// New plans get the newest release rackstrap knows (`crate::plan::release::DEFAULT_TAG`).
fn default_kubespray_version() -> String {
    crate::plan::release::DEFAULT_TAG.into()
}
fn default_user() -> String {
    "root".into()
}
fn default_port() -> u16 {
    22
}
fn default_identity() -> String {
    "~/.ssh/id_ed25519".into()
}
/// Kubespray's defaults for `kube_service_addresses` and `kube_pods_subnet`.
fn default_service_cidr() -> String {
    "10.233.0.0/18".into()
}
fn default_pod_cidr() -> String {
    "10.233.64.0/18".into()
}
fn default_node_prefix() -> u8 {
    24
}
fn default_mtu() -> u32 {
    crate::net::DEFAULT_MTU
}
fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_kubespray_takes_are_offered_from_a_hostname() {
        assert_eq!(
            Host::name_from_hostname("node-1.lab"),
            Some("node-1.lab".into())
        );
        for bad in [
            "lab1\u{1b}]0;owned\u{7}$(id)",
            r"lab1\e]0;owned\x07$(id)",
            "Node1",
            "a b",
            "x'; rm -rf /",
            "",
            "-lead",
            &"n".repeat(64),
        ] {
            assert_eq!(Host::name_from_hostname(bad), None, "{bad:?}");
        }
    }
}
