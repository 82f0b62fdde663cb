//! Checks: plan (+ facts, when known) -> findings.
//!
//! One function, [`check`], is what both `rackstrap check` and the wizard's findings strip
//! call. It runs the structural checks always (roles and quorum, names, network syntax and
//! overlaps, storage layout shape) and the hardware and disk checks only for hosts whose
//! facts are known. Findings come out in a fixed order (plan order, then check order), so
//! the same plan gives the same list.
//!
//! Every finding has a stable code (`E_...` errors block, `W_...` warnings inform, `I_...`
//! facts worth showing) and a path into the plan such as `hosts[2].storage[0].devices[1]`.
//! The user-facing wording lives in the `msg` module at the bottom so it reads as one voice.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use super::model::{Discard, Level, Plan, Profile, Relocate, Role, StorageLayout};
use crate::facts::{BlockDevice, Facts, HostFacts, human_bytes};
use crate::net::{self, AddrRange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks: the plan cannot be applied as it is.
    Error,
    /// Worth a second look; does not block.
    Warning,
    /// A fact the operator should see (quorum, usable capacity).
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    /// Where in the plan, e.g. `hosts[2].storage[0].devices[1]`.
    pub path: String,
    pub message: String,
    /// How to fix it, when there is one thing to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    fn new(
        severity: Severity,
        code: &'static str,
        path: impl Into<String>,
        message: String,
    ) -> Self {
        Self {
            severity,
            code,
            path: path.into(),
            message,
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

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

pub fn quorum(plan: &Plan) -> Quorum {
    Quorum::of(plan.count_role(Role::Etcd))
}

/// The sum of sizes, saturating: sizes come from the host's lsblk, and a bogus huge value
/// must give a huge total, not an overflow panic.
pub fn total_bytes(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes.into_iter().fold(0, u64::saturating_add)
}

/// Bytes a layout offers over members of the given sizes. md arrays use each member only up
/// to the smallest member's size; raid10 is mdadm's default near-2 layout (half the members).
/// Returns 0 when the level cannot be built from that many members.
pub fn usable_bytes(level: Level, member_sizes: &[u64]) -> u64 {
    let n = member_sizes.len() as u64;
    if (n as usize) < level.min_devices() {
        return 0;
    }
    let smallest = member_sizes.iter().copied().min().unwrap_or(0);
    match level {
        // Saturating, as total_bytes: a bogus huge size gives a huge capacity, not a panic.
        Level::Single | Level::PerDisk => total_bytes(member_sizes.iter().copied()),
        Level::Raid0 => n.saturating_mul(smallest),
        Level::Raid1 => smallest,
        Level::Raid5 => (n - 1).saturating_mul(smallest),
        Level::Raid6 => (n - 2).saturating_mul(smallest),
        Level::Raid10 => (n / 2).saturating_mul(smallest),
    }
}

/// Whether the filesystem gets the `discard` mount option. `auto` means only when facts
/// show every member non-rotational (seed 001: "Remove ,discard ... if you are NOT using
/// SSD/NVME disks!"); without facts `auto` stays off, the safe side.
pub fn resolve_discard(layout: &StorageLayout, facts: Option<&HostFacts>) -> bool {
    match layout.discard {
        Discard::On => true,
        Discard::Off => false,
        Discard::Auto => facts.is_some_and(|f| {
            !layout.devices.is_empty()
                && layout
                    .devices
                    .iter()
                    .all(|d| f.device(d).is_some_and(|dev| !dev.rotational))
        }),
    }
}

/// The mount points a layout creates: one, or one per disk for `per-disk`.
pub fn mount_points(layout: &StorageLayout) -> Vec<String> {
    if layout.level == Level::PerDisk {
        let prefix = layout.mount.trim_end_matches('/');
        layout
            .devices
            .iter()
            .map(|d| format!("{prefix}/{d}"))
            .collect()
    } else {
        vec![layout.mount.clone()]
    }
}

/// Seed 001: "people tend to deploy at least 1 CPU per deployment ... other ~2 CPU will be
/// reserved by the Kubernetes system components".
pub const SYSTEM_RESERVED_CPUS: u32 = 2;

/// How many 1-CPU deployments a worker with `cpus` CPUs can take (seed 001's estimate).
pub fn worker_deployment_estimate(cpus: u32) -> u32 {
    cpus.saturating_sub(SYSTEM_RESERVED_CPUS)
}

/// Hardware floor for a role. Seed 001, "Kubernetes Cluster Software/Hardware Requirements".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub cpus: u32,
    pub ram_gb: u64,
    pub disk_gb: u64,
}

/// Seed 001: control plane minimum 2 CPU / 4 GB RAM / 30 GB disk.
pub const CONTROL_PLANE_MIN: Requirement = Requirement {
    cpus: 2,
    ram_gb: 4,
    disk_gb: 30,
};
/// Seed 001: control plane recommended 4 CPU / 8 GB RAM / 40 GB disk.
pub const CONTROL_PLANE_RECOMMENDED: Requirement = Requirement {
    cpus: 4,
    ram_gb: 8,
    disk_gb: 40,
};
/// Seed 001: worker minimum 4 CPU / 8 GB RAM / 100 GB disk.
pub const WORKER_MIN: Requirement = Requirement {
    cpus: 4,
    ram_gb: 8,
    disk_gb: 100,
};

/// `MemTotal` leaves out what firmware and the kernel reserve, so an "8 GB" machine reports
/// a little under 8 GiB; RAM is compared with this much slack (percent) to not refuse it.
const RAM_SLACK_PERCENT: u64 = 10;
const GIB: u64 = 1 << 30;
const GB: u64 = 1_000_000_000;

/// Kubespray v2.24 `kubelet_max_pods` default (roles/kubernetes/node/defaults).
pub const KUBELET_MAX_PODS: u64 = 110;
/// etcd's documentation advises against clusters over 7 members (write latency).
pub const ETCD_MAX_ADVISED: usize = 7;
/// MTU bounds: 1280 is the least IPv6 (and Calico's encapsulation) works with; 9216 is the
/// largest jumbo frame common switches carry.
pub const MTU_MIN: u32 = 1280;
pub const MTU_MAX: u32 = 9216;
/// Seed 004: calico_mtu "must be at least 20 bytes less than the host NIC MTU" (IP-in-IP).
pub const CALICO_MTU_OVERHEAD: u32 = 20;
/// Kubespray v2.24 `kube_network_plugin` values (preinstall verify-settings).
pub const NETWORK_PLUGINS: [&str; 10] = [
    "calico",
    "flannel",
    "weave",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
];
/// Kubespray v2.24 `container_manager` values.
pub const CONTAINER_MANAGERS: [&str; 3] = ["docker", "crio", "containerd"];
/// The Kubespray release line whose variable names the renderer writes.
pub const KUBESPRAY_SUPPORTED: &str = "v2.24.";
/// Directories under Kubespray's `inventory/` that its tree ships (the template the
/// kubespray stage copies, and a local example): a cluster named like one would have its
/// inventory written into them.
pub const KUBESPRAY_SHIPPED_INVENTORIES: [&str; 2] = ["sample", "local"];
/// Mount points a data layout must never take.
const SYSTEM_MOUNTS: [&str; 13] = [
    "/",
    "/boot",
    "/boot/efi",
    "/etc",
    "/usr",
    "/var",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/bin",
    "/sbin",
    "/lib",
];

/// Why a mount point cannot be used: the message and, when there is one obvious fix, a hint.
/// One rule for `check`, the wizard's mount field and the storage stage: fstab separates
/// fields by blanks, and a path that is not written the one plain way (`..`, `//`, a
/// trailing `/`) would slip past the system-directory and collision checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountProblem {
    pub message: String,
    pub hint: Option<String>,
}

/// `None` when `mount` is an absolute, plainly written path other than a system directory.
pub fn mount_problem(mount: &str) -> Option<MountProblem> {
    let problem = |message: String, hint: Option<String>| Some(MountProblem { message, hint });
    if !mount.starts_with('/') {
        return problem(msg::mount_not_absolute(mount), None);
    }
    if mount.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return problem(msg::mount_blank(mount), None);
    }
    if mount.split('/').any(|part| part == "." || part == "..") {
        return problem(msg::mount_dots(mount), None);
    }
    if mount.len() > 1 && (mount.ends_with('/') || mount.contains("//")) {
        let plain: Vec<&str> = mount.split('/').filter(|p| !p.is_empty()).collect();
        let plain = format!("/{}", plain.join("/"));
        return problem(
            msg::mount_not_plain(mount),
            Some(msg::write_instead(&plain)),
        );
    }
    if SYSTEM_MOUNTS.contains(&mount) {
        return problem(msg::mount_system(mount), None);
    }
    None
}

/// Every finding for the plan; hardware and disk checks for hosts present in `facts`.
pub fn check(plan: &Plan, facts: Option<&Facts>) -> Vec<Finding> {
    let mut out = Vec::new();
    check_cluster(plan, &mut out);
    check_hosts(plan, &mut out);
    check_roles(plan, &mut out);
    if let Some(facts) = facts {
        check_hardware(plan, facts, &mut out);
    }
    check_network(plan, &mut out);
    check_storage(plan, facts, &mut out);
    check_tuning(plan, &mut out);
    out
}

fn check_cluster(plan: &Plan, out: &mut Vec<Finding>) {
    let c = &plan.cluster;
    if c.name.is_empty()
        || c.name.starts_with('.')
        || !c
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        out.push(
            Finding::new(
                Severity::Error,
                "E_BAD_CLUSTER_NAME",
                "cluster.name",
                msg::bad_cluster_name(&c.name),
            )
            .hint("use letters, digits, `-`, `_` and `.`, e.g. `akash`"),
        );
    } else if KUBESPRAY_SHIPPED_INVENTORIES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&c.name))
    {
        out.push(
            Finding::new(
                Severity::Error,
                "E_RESERVED_CLUSTER_NAME",
                "cluster.name",
                msg::reserved_cluster_name(&c.name),
            )
            .hint("choose another name, e.g. `akash`"),
        );
    }
    if !is_dns_name(&c.domain) {
        out.push(
            Finding::new(
                Severity::Error,
                "E_BAD_DOMAIN",
                "cluster.domain",
                msg::bad_domain(&c.domain),
            )
            .hint("the default is `cluster.local`"),
        );
    }
    if !NETWORK_PLUGINS.contains(&c.network_plugin.as_str()) {
        out.push(Finding::new(
            Severity::Error,
            "E_UNKNOWN_NETWORK_PLUGIN",
            "cluster.network_plugin",
            msg::one_of("network plugin", &c.network_plugin, &NETWORK_PLUGINS),
        ));
    }
    if !CONTAINER_MANAGERS.contains(&c.container_manager.as_str()) {
        out.push(Finding::new(
            Severity::Error,
            "E_UNKNOWN_CONTAINER_MANAGER",
            "cluster.container_manager",
            msg::one_of(
                "container manager",
                &c.container_manager,
                &CONTAINER_MANAGERS,
            ),
        ));
    }
    if !c.kubespray.version.starts_with(KUBESPRAY_SUPPORTED) {
        out.push(
            Finding::new(
                Severity::Warning,
                "W_KUBESPRAY_VERSION",
                "cluster.kubespray.version",
                msg::kubespray_version(&c.kubespray.version),
            )
            .hint("compare the rendered group_vars with that release's inventory/sample"),
        );
    }
    if plan.access.user.is_empty() {
        out.push(Finding::new(
            Severity::Error,
            "E_BAD_USER",
            "access.user",
            "the SSH user is empty".into(),
        ));
    } else if !is_login_name(&plan.access.user) {
        out.push(
            Finding::new(
                Severity::Error,
                "E_BAD_USER",
                "access.user",
                format!("SSH user `{}` is not a login name", plan.access.user),
            )
            .hint("letters, digits, `-`, `_` and `.`, not starting with `-`, e.g. `ubuntu`"),
        );
    }
    if plan.access.port == 0 {
        out.push(Finding::new(
            Severity::Error,
            "E_BAD_PORT",
            "access.port",
            "SSH port 0 is not a port".into(),
        ));
    }
}

/// A user name `ssh` and `useradd` take: no spaces or shell characters, no leading `-`
/// (it would read as an option). A trailing `$` (Samba machine accounts) is allowed.
fn is_login_name(user: &str) -> bool {
    let name = user.strip_suffix('$').unwrap_or(user);
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn check_hosts(plan: &Plan, out: &mut Vec<Finding>) {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut addresses: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, host) in plan.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        if !is_dns_name(&host.name) {
            out.push(
                Finding::new(Severity::Error, "E_BAD_HOST_NAME", format!("{at}.name"), msg::bad_host_name(&host.name))
                    .hint("lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit"),
            );
        }
        if let Some(first) = names.insert(&host.name, i) {
            out.push(Finding::new(
                Severity::Error,
                "E_DUPLICATE_HOST_NAME",
                format!("{at}.name"),
                msg::duplicate("host name", &host.name, &format!("hosts[{first}]")),
            ));
        }
        if host.address.trim().is_empty() {
            out.push(Finding::new(
                Severity::Error,
                "E_BAD_ADDRESS",
                format!("{at}.address"),
                "the address is empty".into(),
            ));
        } else if let Some(first) = addresses.insert(host.address.as_str(), i) {
            out.push(Finding::new(
                Severity::Error,
                "E_DUPLICATE_ADDRESS",
                format!("{at}.address"),
                msg::duplicate("address", &host.address, &format!("hosts[{first}]")),
            ));
        }
        if host.address.parse::<IpAddr>().is_err() && !host.address.trim().is_empty() {
            if host
                .address
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
                && !host.address.contains(':')
            {
                // Looks like an address with a typo rather than a hostname: say where.
                if let Err(e) = net::parse_addr(&host.address) {
                    out.push(Finding::new(
                        Severity::Error,
                        "E_BAD_ADDRESS",
                        format!("{at}.address"),
                        e.to_string(),
                    ));
                }
            } else {
                out.push(
                    Finding::new(Severity::Warning, "W_ADDRESS_NOT_IP", format!("{at}.address"), msg::address_not_ip(&host.address))
                        .hint("write the node's IP address so Kubespray's `ip` and `access_ip` can be set"),
                );
            }
        }
        if host.roles.is_empty() {
            out.push(
                Finding::new(
                    Severity::Warning,
                    "W_HOST_NO_ROLES",
                    format!("{at}.roles"),
                    msg::no_roles(&host.name),
                )
                .hint("give it `worker`, or remove it from the plan"),
            );
        }
        for (key, value) in &host.labels {
            if let Some(why) = label_problem(key, value) {
                out.push(Finding::new(
                    Severity::Error,
                    "E_BAD_LABEL",
                    format!("{at}.labels.{key}"),
                    why,
                ));
            }
        }
    }
}

fn check_roles(plan: &Plan, out: &mut Vec<Finding>) {
    let control_planes = plan.count_role(Role::ControlPlane);
    let workers = plan.count_role(Role::Worker);
    let q = quorum(plan);
    if plan.hosts.is_empty() {
        out.push(
            Finding::new(Severity::Error, "E_NO_HOSTS", "hosts", msg::NO_HOSTS.into())
                .hint("add hosts; `rackstrap discover RANGE` finds them"),
        );
        return;
    }
    if control_planes == 0 {
        out.push(
            Finding::new(
                Severity::Error,
                "E_NO_CONTROL_PLANE",
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
                "E_NO_WORKER",
                "hosts",
                msg::NO_WORKER.into(),
            )
            .hint("add `worker` to a host's roles; control planes may be workers too, as in the Akash provider guide"),
        );
    }
    if q.members == 0 {
        out.push(
            Finding::new(Severity::Error, "E_NO_ETCD", "hosts", msg::NO_ETCD.into())
                .hint("add `etcd` to the control planes' roles"),
        );
    } else if q.members.is_multiple_of(2) {
        let hint = if plan
            .hosts
            .iter()
            .any(|h| h.has_role(Role::Worker) && !h.has_role(Role::Etcd))
        {
            "add `etcd` to one worker's roles, or remove it from one host"
        } else {
            "add `etcd` to one more host, or remove it from one"
        };
        out.push(
            Finding::new(Severity::Error, "E_EVEN_ETCD", "hosts", msg::even_etcd(q)).hint(hint),
        );
    }
    if control_planes == 2 {
        let mut f = Finding::new(
            Severity::Warning,
            "W_TWO_CONTROL_PLANES",
            "hosts",
            msg::TWO_CONTROL_PLANES.into(),
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
                "W_ETCD_OVER_SEVEN",
                "hosts",
                msg::etcd_over_seven(q.members),
            )
            .hint("keep 3 or 5 etcd members; more slows every write"),
        );
    }
    if q.members > 0 {
        out.push(Finding::new(
            Severity::Info,
            "I_QUORUM",
            "hosts",
            msg::quorum(q),
        ));
    }
}

fn check_hardware(plan: &Plan, facts: &Facts, out: &mut Vec<Finding>) {
    for (i, host) in plan.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        let Some(f) = facts.get(&host.name) else {
            out.push(Finding::new(
                Severity::Warning,
                "W_NO_FACTS",
                at,
                msg::no_facts(&host.name),
            ));
            continue;
        };
        let root_disk = f
            .disks
            .iter()
            .find(|d| d.holds_root())
            .map(|d| d.size_bytes);
        let mut needs: Vec<(&str, Requirement, Severity)> = Vec::new();
        if host.has_role(Role::ControlPlane) {
            needs.push(("control plane", CONTROL_PLANE_MIN, Severity::Error));
            needs.push((
                "control plane",
                CONTROL_PLANE_RECOMMENDED,
                Severity::Warning,
            ));
        }
        if host.has_role(Role::Worker) {
            needs.push(("worker", WORKER_MIN, Severity::Error));
        }
        // Report each resource once, against the strictest requirement it fails.
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for (role, req, severity) in needs {
            let (cpu_code, ram_code, disk_code, what) = match severity {
                Severity::Error => (
                    "E_CPU_BELOW_MIN",
                    "E_RAM_BELOW_MIN",
                    "E_DISK_BELOW_MIN",
                    "minimum",
                ),
                _ => (
                    "W_CPU_BELOW_RECOMMENDED",
                    "W_RAM_BELOW_RECOMMENDED",
                    "W_DISK_BELOW_RECOMMENDED",
                    "recommended",
                ),
            };
            if f.cpus < req.cpus && reported.insert("cpu") {
                out.push(Finding::new(
                    severity,
                    cpu_code,
                    at.clone(),
                    msg::below(
                        &host.name,
                        "CPUs",
                        &f.cpus.to_string(),
                        role,
                        what,
                        &req.cpus.to_string(),
                    ),
                ));
            }
            let ram_floor = req.ram_gb * GIB * (100 - RAM_SLACK_PERCENT) / 100;
            if f.mem_bytes < ram_floor && reported.insert("ram") {
                out.push(Finding::new(
                    severity,
                    ram_code,
                    at.clone(),
                    msg::below(
                        &host.name,
                        "RAM",
                        &human_bytes(f.mem_bytes),
                        role,
                        what,
                        &format!("{} GB", req.ram_gb),
                    ),
                ));
            }
            if let Some(size) = root_disk
                && size < req.disk_gb * GB
                && reported.insert("disk")
            {
                out.push(Finding::new(
                    severity,
                    disk_code,
                    at.clone(),
                    msg::below(
                        &host.name,
                        "root disk",
                        &human_bytes(size),
                        role,
                        what,
                        &format!("{} GB", req.disk_gb),
                    ),
                ));
            }
        }
        if host.has_role(Role::Worker) && f.cpus > 0 {
            out.push(Finding::new(
                Severity::Info,
                "I_WORKER_CAPACITY",
                at.clone(),
                msg::worker_capacity(&host.name, f.cpus, worker_deployment_estimate(f.cpus)),
            ));
        }
        if let Some(iface_mtu) = f
            .interfaces
            .iter()
            .filter(|i| i.name != "lo")
            .map(|i| i.mtu)
            .max()
            && iface_mtu < plan.network.mtu
        {
            out.push(Finding::new(
                Severity::Warning,
                "W_HOST_MTU_BELOW_PLAN",
                at.clone(),
                msg::host_mtu(&host.name, iface_mtu, plan.network.mtu),
            ));
        }
    }
}

/// A parsed pool entry with where it came from.
struct PoolEntry {
    path: String,
    range: AddrRange,
}

fn check_network(plan: &Plan, out: &mut Vec<Finding>) {
    let n = &plan.network;
    let service = parse_net_field(&n.service_cidr, "network.service_cidr", "service CIDR", out);
    let pods = parse_net_field(&n.pod_cidr, "network.pod_cidr", "pod CIDR", out);
    for (net, path, what) in [
        (service, "network.service_cidr", "service CIDR"),
        (pods, "network.pod_cidr", "pod CIDR"),
    ] {
        if let Some(net) = net
            && !net.addr().is_ipv4()
        {
            out.push(ipv6_not_supported(path, what, &net.to_string()));
        }
    }
    if let (Some(s), Some(p)) = (service, pods)
        && AddrRange::from_net(s).overlaps(&AddrRange::from_net(p))
    {
        out.push(
            Finding::new(
                Severity::Error,
                "E_SERVICE_POD_OVERLAP",
                "network.pod_cidr",
                msg::service_pod_overlap(&s, &p),
            )
            .hint("Kubespray's defaults do not overlap: 10.233.0.0/18 and 10.233.64.0/18"),
        );
    }
    let k8s_nodes = plan
        .hosts
        .iter()
        .filter(|h| h.has_role(Role::ControlPlane) || h.has_role(Role::Worker))
        .count();
    let calico = plan.cluster.network_plugin == "calico";
    // Kubespray asserts these two only for non-Calico plugins (Calico allocates its own
    // blocks), so with Calico they are warnings.
    let sev = if calico {
        Severity::Warning
    } else {
        Severity::Error
    };
    if let Some(p) = pods {
        let max = if p.addr().is_ipv4() { 32 } else { 128 };
        if n.node_prefix < p.prefix_len() || n.node_prefix > max {
            out.push(Finding::new(
                Severity::Error,
                "E_BAD_NODE_PREFIX",
                "network.node_prefix",
                msg::node_prefix_outside(n.node_prefix, &p),
            ));
        } else {
            let node_blocks: u128 = 1u128 << (n.node_prefix - p.prefix_len()).min(127);
            if node_blocks < k8s_nodes as u128 {
                out.push(
                    Finding::new(
                        sev,
                        if calico {
                            "W_POD_CIDR_TOO_SMALL"
                        } else {
                            "E_POD_CIDR_TOO_SMALL"
                        },
                        "network.node_prefix",
                        msg::pod_cidr_too_small(&p, n.node_prefix, node_blocks, k8s_nodes),
                    )
                    .hint("use a larger pod CIDR or a longer node prefix"),
                );
            }
            let host_bits = u32::from(max - n.node_prefix);
            let per_node: u128 = if host_bits >= 127 {
                u128::MAX
            } else {
                (1u128 << host_bits).saturating_sub(2)
            };
            if per_node < u128::from(KUBELET_MAX_PODS) {
                out.push(
                    Finding::new(
                        sev,
                        if calico {
                            "W_NODE_PREFIX_TOO_LONG"
                        } else {
                            "E_NODE_PREFIX_TOO_LONG"
                        },
                        "network.node_prefix",
                        msg::node_prefix_too_long(n.node_prefix, per_node),
                    )
                    .hint("use a node prefix of 25 or shorter (24 is the default)"),
                );
            }
        }
    }
    // Host addresses (those written as IPs).
    let host_addrs: Vec<(usize, IpAddr)> = plan
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.address.parse::<IpAddr>().ok().map(|a| (i, a)))
        .collect();
    for &(i, addr) in &host_addrs {
        if addr.is_ipv6() {
            out.push(ipv6_not_supported(
                format!("hosts[{i}].address"),
                "node address",
                &addr.to_string(),
            ));
        }
        for (net, what) in [(service, "service CIDR"), (pods, "pod CIDR")] {
            if let Some(net) = net
                && net.contains(&addr)
            {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "E_HOST_IN_CLUSTER_CIDR",
                        format!("hosts[{i}].address"),
                        msg::host_in_cidr(&plan.hosts[i].name, addr, what, &net),
                    )
                    .hint("move the service and pod CIDRs to a range the nodes do not use"),
                );
            }
        }
    }
    for (k, dns) in n.upstream_dns.iter().enumerate() {
        if let Err(e) = net::parse_addr(dns.trim()) {
            out.push(
                Finding::new(
                    Severity::Error,
                    "E_BAD_DNS",
                    format!("network.upstream_dns[{k}]"),
                    msg::bad_dns(dns, &e),
                )
                .hint("upstream DNS servers are IP addresses, e.g. 8.8.8.8"),
            );
        }
    }
    if !(MTU_MIN..=MTU_MAX).contains(&n.mtu) {
        out.push(Finding::new(
            Severity::Error,
            "E_BAD_MTU",
            "network.mtu",
            msg::bad_mtu(n.mtu),
        ));
    }
    if let Some(cm) = n.calico_mtu
        && cm.saturating_add(CALICO_MTU_OVERHEAD) > n.mtu
    {
        out.push(
            Finding::new(
                Severity::Error,
                "E_CALICO_MTU",
                "network.calico_mtu",
                msg::calico_mtu(cm, n.mtu),
            )
            .hint(format!(
                "remove `calico_mtu` to get {}, or set it to at most that",
                n.mtu.saturating_sub(CALICO_MTU_OVERHEAD)
            )),
        );
    }
    // Pools.
    let pools = &n.load_balancer.pools;
    let mut entries: Vec<PoolEntry> = Vec::new();
    let mut pool_names: BTreeMap<&str, usize> = BTreeMap::new();
    for (p, pool) in pools.iter().enumerate() {
        let at = format!("network.load_balancer.pools[{p}]");
        if !is_dns_label(&pool.name) {
            out.push(
                Finding::new(
                    Severity::Error,
                    "E_BAD_POOL_NAME",
                    format!("{at}.name"),
                    msg::bad_pool_name(&pool.name),
                )
                .hint("lower-case letters, digits and `-`, e.g. `default`"),
            );
        }
        if let Some(first) = pool_names.insert(&pool.name, p) {
            out.push(Finding::new(
                Severity::Error,
                "E_DUPLICATE_POOL",
                format!("{at}.name"),
                msg::duplicate(
                    "pool name",
                    &pool.name,
                    &format!("network.load_balancer.pools[{first}]"),
                ),
            ));
        }
        if pool.addresses.is_empty() {
            out.push(Finding::new(
                Severity::Error,
                "E_EMPTY_POOL",
                format!("{at}.addresses"),
                msg::empty_pool(&pool.name),
            ));
        }
        for (a, text) in pool.addresses.iter().enumerate() {
            let path = format!("{at}.addresses[{a}]");
            match net::parse_range(text) {
                Ok(range) => {
                    if !range.is_ipv4() {
                        out.push(ipv6_not_supported(path.clone(), "pool entry", text.trim()));
                    }
                    entries.push(PoolEntry { path, range });
                }
                Err(e) => out.push(
                    Finding::new(Severity::Error, "E_BAD_POOL_ENTRY", path, msg::bad_entry(text, &e))
                        .hint("write a CIDR (10.0.10.0/28), a range (10.0.10.5-10.0.10.20) or one address"),
                ),
            }
        }
    }
    for (j, b) in entries.iter().enumerate() {
        for a in &entries[..j] {
            if let Some(common) = a.range.intersection(&b.range) {
                out.push(Finding::new(
                    Severity::Error,
                    "E_POOL_OVERLAP",
                    b.path.clone(),
                    msg::pool_overlap(&b.range, &a.path, &a.range, &common),
                ));
            }
        }
        for &(i, addr) in &host_addrs {
            if b.range.contains(addr) {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "E_POOL_HAS_NODE_ADDRESS",
                        b.path.clone(),
                        msg::pool_has_node(&b.range, &plan.hosts[i].name, addr),
                    )
                    .hint("MetalLB would hand the node's own address to a service; leave it out of the pool"),
                );
            }
        }
        for (net, what) in [(service, "service CIDR"), (pods, "pod CIDR")] {
            if let Some(net) = net
                && let Some(common) = b.range.intersection(&AddrRange::from_net(net))
            {
                out.push(Finding::new(
                    Severity::Error,
                    "E_POOL_IN_CLUSTER_CIDR",
                    b.path.clone(),
                    msg::pool_in_cidr(&b.range, what, &net, &common),
                ));
            }
        }
    }
    for (p, pool) in pools.iter().enumerate() {
        let size: u128 = entries
            .iter()
            .filter(|e| {
                e.path
                    .starts_with(&format!("network.load_balancer.pools[{p}]."))
            })
            .map(|e| e.range.len())
            .fold(0, u128::saturating_add);
        if size > 0 {
            out.push(Finding::new(
                Severity::Info,
                "I_POOL_SIZE",
                format!("network.load_balancer.pools[{p}]"),
                msg::pool_size(&pool.name, size),
            ));
        }
    }
    if plan.cluster.profile == Some(Profile::Akash)
        && !pools.is_empty()
        && !pools.iter().any(|p| p.name == "default")
    {
        out.push(
            Finding::new(
                Severity::Error,
                "E_AKASH_POOL_NAME",
                "network.load_balancer.pools[0].name",
                msg::AKASH_POOL_NAME.into(),
            )
            .hint("rename the pool to `default`"),
        );
    }
    if let Some(vip) = &n.vip {
        match net::parse_addr(vip.trim()) {
            Err(e) => out.push(Finding::new(
                Severity::Error,
                "E_BAD_VIP",
                "network.vip",
                msg::bad_vip(vip, &e),
            )),
            Ok(addr) => {
                if addr.is_ipv6() {
                    out.push(ipv6_not_supported("network.vip", "VIP", vip.trim()));
                }
                if let Some(&(i, _)) = host_addrs.iter().find(|(_, a)| *a == addr) {
                    out.push(
                        Finding::new(
                            Severity::Error,
                            "E_VIP_IS_NODE",
                            "network.vip",
                            msg::vip_is_node(addr, &plan.hosts[i].name),
                        )
                        .hint("the VIP must be a free address in the nodes' subnet"),
                    );
                }
                if let Some(e) = entries.iter().find(|e| e.range.contains(addr)) {
                    out.push(Finding::new(
                        Severity::Error,
                        "E_VIP_IN_POOL",
                        "network.vip",
                        msg::vip_in_pool(addr, &e.path),
                    ));
                }
                for (net, what) in [(service, "service CIDR"), (pods, "pod CIDR")] {
                    if net.is_some_and(|net| net.contains(&addr)) {
                        out.push(Finding::new(
                            Severity::Error,
                            "E_VIP_IN_CLUSTER_CIDR",
                            "network.vip",
                            msg::vip_in_cidr(addr, what),
                        ));
                    }
                }
            }
        }
    }
}

/// The plan renders Kubespray's IPv4 variables only. Kubespray v2.24 runs IPv6 as dual
/// stack, with `enable_dual_stack_networks` and the separate `kube_service_addresses_ipv6`
/// and `kube_pods_subnet_ipv6`, none of which the plan models yet; an IPv6 value written
/// where Kubespray and MetalLB expect the IPv4 ones would fail at deploy time, or silently
/// give a cluster without the addresses the operator meant, so it is refused here.
fn ipv6_not_supported(path: impl Into<String>, what: &str, text: &str) -> Finding {
    Finding::new(
        Severity::Error,
        "E_IPV6_NOT_SUPPORTED",
        path,
        msg::ipv6_not_supported(what, text),
    )
    .hint(msg::IPV6_HINT)
}

fn parse_net_field(
    text: &str,
    path: &str,
    what: &str,
    out: &mut Vec<Finding>,
) -> Option<ipnet::IpNet> {
    match net::parse_cidr(text.trim()) {
        Ok(n) => Some(n),
        Err(e) => {
            out.push(
                Finding::new(
                    Severity::Error,
                    if path.ends_with("service_cidr") {
                        "E_BAD_SERVICE_CIDR"
                    } else {
                        "E_BAD_POD_CIDR"
                    },
                    path,
                    msg::bad_cidr(what, text, &e),
                )
                .hint("write a network like 10.233.0.0/18"),
            );
            None
        }
    }
}

fn check_storage(plan: &Plan, facts: Option<&Facts>, out: &mut Vec<Finding>) {
    for (i, host) in plan.hosts.iter().enumerate() {
        let hf = facts.and_then(|f| f.get(&host.name));
        let mut used: BTreeMap<&str, String> = BTreeMap::new();
        // Devices found in the facts so far, for the overlap check.
        let mut known: Vec<(&str, String)> = Vec::new();
        let mut mounts: BTreeMap<String, String> = BTreeMap::new();
        let mut relocated: BTreeMap<Relocate, String> = BTreeMap::new();
        for (j, layout) in host.storage.iter().enumerate() {
            let at = format!("hosts[{i}].storage[{j}]");
            let level = layout.level;
            if layout.devices.len() < level.min_devices() {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "E_TOO_FEW_DEVICES",
                        format!("{at}.devices"),
                        msg::too_few_devices(level, layout.devices.len()),
                    )
                    .hint(msg::too_few_hint(level)),
                );
            }
            if level == Level::Single && layout.devices.len() > 1 {
                out.push(
                    Finding::new(
                        Severity::Error,
                        "E_SINGLE_MANY_DEVICES",
                        format!("{at}.devices"),
                        msg::single_many(layout.devices.len()),
                    )
                    .hint("use raid0 to join them, or per-disk for one filesystem each"),
                );
            }
            let mut sizes: Vec<(String, u64)> = Vec::new();
            let mut all_known = true;
            for (k, dev) in layout.devices.iter().enumerate() {
                let path = format!("{at}.devices[{k}]");
                if dev.is_empty() || dev.contains('/') || dev.chars().any(|c| c.is_whitespace()) {
                    out.push(
                        Finding::new(
                            Severity::Error,
                            "E_BAD_DEVICE_NAME",
                            path.clone(),
                            msg::bad_device_name(dev),
                        )
                        .hint(format!(
                            "write the kernel name as lsblk shows it, e.g. `{}`",
                            dev.rsplit('/').next().unwrap_or("sdb")
                        )),
                    );
                    all_known = false;
                    continue;
                }
                if let Some(first) = used.insert(dev.as_str(), path.clone()) {
                    out.push(Finding::new(
                        Severity::Error,
                        "E_DEVICE_USED_TWICE",
                        path.clone(),
                        msg::device_twice(dev, &first),
                    ));
                }
                let Some(hf) = hf else {
                    all_known = false;
                    continue;
                };
                let Some(bd) = hf.device(dev) else {
                    out.push(
                        Finding::new(
                            Severity::Error,
                            "E_UNKNOWN_DEVICE",
                            path.clone(),
                            msg::unknown_device(&host.name, dev),
                        )
                        .hint(msg::known_disks(hf)),
                    );
                    all_known = false;
                    continue;
                };
                for (other, first) in &known {
                    if let Some(holder) = overlap_holder(hf, dev, other) {
                        out.push(
                            Finding::new(
                                Severity::Error,
                                "E_DEVICE_OVERLAP",
                                path.clone(),
                                msg::device_overlap(dev, other, first, holder == *other),
                            )
                            .hint("use either the disk or its partitions, not both"),
                        );
                    }
                }
                known.push((dev.as_str(), path.clone()));
                sizes.push((dev.clone(), bd.size_bytes));
                check_device_safety(&host.name, dev, bd, hf, layout.wipe, &path, out);
            }
            // Mount point.
            if let Some(problem) = mount_problem(&layout.mount) {
                let mut f = Finding::new(
                    Severity::Error,
                    "E_BAD_MOUNT",
                    format!("{at}.mount"),
                    problem.message,
                );
                f.hint = problem.hint;
                out.push(f);
            }
            for mp in mount_points(layout) {
                let mp = mp.trim_end_matches('/').to_string();
                if let Some(first) = mounts.insert(mp.clone(), at.clone()) {
                    out.push(Finding::new(
                        Severity::Error,
                        "E_MOUNT_COLLISION",
                        format!("{at}.mount"),
                        msg::mount_collision(&mp, &first),
                    ));
                }
            }
            // Relocation of kubelet/containerd data.
            if !layout.relocate.is_empty() && level == Level::PerDisk {
                out.push(
                    Finding::new(Severity::Error, "E_RELOCATE_PER_DISK", format!("{at}.relocate"), msg::RELOCATE_PER_DISK.into())
                        .hint("relocate onto a single, raid0 or raid1 layout (the Akash provider guide uses raid0 at /data)"),
                );
            }
            for r in &layout.relocate {
                if let Some(first) = relocated.insert(*r, at.clone()) {
                    out.push(Finding::new(
                        Severity::Error,
                        "E_RELOCATE_TWICE",
                        format!("{at}.relocate"),
                        msg::relocate_twice(*r, &first),
                    ));
                }
                if *r == Relocate::Containerd && plan.cluster.container_manager != "containerd" {
                    out.push(Finding::new(
                        Severity::Error,
                        "E_RELOCATE_CONTAINERD",
                        format!("{at}.relocate"),
                        msg::relocate_containerd(&plan.cluster.container_manager),
                    ));
                }
            }
            // Size and discard, when every member is known.
            if all_known && !sizes.is_empty() {
                if level.is_md() {
                    let min = sizes.iter().map(|s| s.1).min().unwrap_or(0);
                    let max = sizes.iter().map(|s| s.1).max().unwrap_or(0);
                    if min != max {
                        out.push(
                            Finding::new(
                                Severity::Warning,
                                "W_MIXED_SIZES",
                                format!("{at}.devices"),
                                msg::mixed_sizes(level, &sizes, min),
                            )
                            .hint("use members of one size, or accept the smaller capacity"),
                        );
                    }
                }
                let bytes: Vec<u64> = sizes.iter().map(|s| s.1).collect();
                let discard = resolve_discard(layout, hf);
                if layout.discard == Discard::On
                    && hf.is_some_and(|f| {
                        layout
                            .devices
                            .iter()
                            .any(|d| f.device(d).is_some_and(|b| b.rotational))
                    })
                {
                    out.push(
                        Finding::new(
                            Severity::Warning,
                            "W_DISCARD_ROTATIONAL",
                            format!("{at}.discard"),
                            msg::DISCARD_ROTATIONAL.into(),
                        )
                        .hint("use `discard: auto`"),
                    );
                }
                out.push(Finding::new(
                    Severity::Info,
                    "I_CAPACITY",
                    at.clone(),
                    msg::capacity(layout, usable_bytes(level, &bytes), discard),
                ));
            }
        }
    }
}

/// When one of `a`, `b` lies on the other in the host's device tree (a partition on its
/// disk, an array on its members' partitions), the one that holds the other; `None` when
/// they are unrelated or the same name. Two layouts on such a pair would format one over
/// the other, and a name compare alone does not see it.
pub fn overlap_holder<'a>(hf: &HostFacts, a: &'a str, b: &'a str) -> Option<&'a str> {
    fn below(d: &BlockDevice, name: &str) -> bool {
        d.children.iter().any(|c| c.name == name || below(c, name))
    }
    if a == b {
        None
    } else if hf.device(a).is_some_and(|d| below(d, b)) {
        Some(a)
    } else if hf.device(b).is_some_and(|d| below(d, a)) {
        Some(b)
    } else {
        None
    }
}

fn check_device_safety(
    host: &str,
    dev: &str,
    bd: &BlockDevice,
    hf: &HostFacts,
    wipe: bool,
    path: &str,
    out: &mut Vec<Finding>,
) {
    // The root disk is never offered, wipe or not: the host would destroy itself.
    if bd.holds_root() {
        out.push(
            Finding::new(
                Severity::Error,
                "E_DEVICE_HOLDS_ROOT",
                path,
                msg::holds_root(host, dev),
            )
            .hint("choose another disk; the root disk is never used for data layouts"),
        );
        return;
    }
    let md_member = hf
        .md_arrays
        .iter()
        .find(|m| m.members.iter().any(|x| x == dev));
    // Mounted is refused even with `wipe`, as the storage stage does: consent to destroy
    // data is not consent to pull a filesystem out from under a running host.
    if bd.is_mounted() {
        let hint = if wipe {
            "unmount it first; `wipe: true` does not unmount"
        } else {
            "unmount it and set `wipe: true` if its data may be destroyed"
        };
        out.push(
            Finding::new(
                Severity::Error,
                "E_DEVICE_MOUNTED",
                path,
                msg::mounted(host, dev, bd),
            )
            .hint(hint),
        );
        return;
    }
    if wipe {
        return;
    }
    if let Some(md) = md_member {
        out.push(
            Finding::new(
                Severity::Error,
                "E_DEVICE_IN_USE",
                path,
                msg::md_member(host, dev, &md.name),
            )
            .hint("set `wipe: true` on this layout if that array may be destroyed"),
        );
    } else if bd.is_in_use() {
        out.push(
            Finding::new(
                Severity::Error,
                "E_DEVICE_IN_USE",
                path,
                msg::in_use(host, dev, bd),
            )
            .hint("set `wipe: true` on this layout if its data may be destroyed"),
        );
    }
}

fn check_tuning(plan: &Plan, out: &mut Vec<Finding>) {
    for (key, value) in &plan.tuning.sysctl {
        let ok_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        let ok_value = !value.to_string().contains(['\n', '\r']);
        if !ok_key || !ok_value {
            out.push(Finding::new(
                Severity::Error,
                "E_BAD_SYSCTL",
                format!("tuning.sysctl.{key}"),
                msg::bad_sysctl(key),
            ));
        }
    }
}

/// Kubespray's hostname rule (preinstall "Stop if bad hostname"), also fine for domains.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Kubernetes label syntax: `[prefix/]name` and value, each name/value at most 63
/// characters of alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
fn label_problem(key: &str, value: &str) -> Option<String> {
    fn ok_part(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
            && b.first().is_none_or(|c| c.is_ascii_alphanumeric())
            && b.last().is_none_or(|c| c.is_ascii_alphanumeric())
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if name.is_empty() || !ok_part(name) || prefix.is_some_and(|p| !is_dns_name(p)) {
        return Some(msg::bad_label_key(key));
    }
    if !ok_part(value) {
        return Some(msg::bad_label_value(key, value));
    }
    None
}

/// The words of every finding, in one place so they read as one voice.
mod msg {
    use super::*;

    pub const NO_HOSTS: &str = "the plan has no hosts";
    pub const NO_CONTROL_PLANE: &str = "no host has the `control_plane` role";
    pub const NO_WORKER: &str = "no host has the `worker` role";
    pub const NO_ETCD: &str = "no host has the `etcd` role; Kubespray needs etcd members";
    pub const TWO_CONTROL_PLANES: &str = "2 control planes tolerate no more failures than 1: use 1 or 3, as the Akash provider guide advises";
    pub const AKASH_POOL_NAME: &str =
        "the Akash provider's IP operator uses the MetalLB pool named `default`";
    pub const RELOCATE_PER_DISK: &str = "kubelet and containerd data cannot move onto a per-disk layout: there is no single filesystem";
    pub const DISCARD_ROTATIONAL: &str =
        "`discard: on` with a rotational member: discard only helps SSD/NVMe";

    pub fn bad_cluster_name(name: &str) -> String {
        format!("cluster name `{name}` cannot be an inventory directory name")
    }
    pub fn reserved_cluster_name(name: &str) -> String {
        format!(
            "cluster name `{name}` is an inventory Kubespray ships: it would be written into inventory/{name}"
        )
    }
    pub fn bad_domain(d: &str) -> String {
        format!("cluster domain `{d}` is not a DNS name")
    }
    pub fn one_of(what: &str, value: &str, allowed: &[&str]) -> String {
        format!(
            "unknown {what} `{value}`, expected one of {}",
            allowed.join(", ")
        )
    }
    pub fn kubespray_version(v: &str) -> String {
        format!(
            "Kubespray {v} is not the release rackstrap renders for (v2.24); variable names may differ"
        )
    }
    pub fn bad_host_name(name: &str) -> String {
        format!("host name `{name}` is not a valid node name")
    }
    pub fn duplicate(what: &str, value: &str, first: &str) -> String {
        format!("{what} `{value}` is already used by {first}")
    }
    pub fn address_not_ip(addr: &str) -> String {
        format!("`{addr}` is not an IP address; the inventory gets no `ip`/`access_ip` for it")
    }
    pub fn no_roles(name: &str) -> String {
        format!("{name} has no roles and will not be part of the cluster")
    }
    pub fn even_etcd(q: Quorum) -> String {
        format!(
            "{} etcd members is an even number: Kubespray refuses it, and it tolerates no more failures ({}) than {}",
            q.members,
            q.tolerated,
            q.members - 1
        )
    }
    pub fn etcd_over_seven(n: usize) -> String {
        format!("{n} etcd members: more than {ETCD_MAX_ADVISED} slows writes without real gain")
    }
    pub fn quorum(q: Quorum) -> String {
        format!(
            "etcd: {} member{}, quorum {}, tolerates {} failure{}",
            q.members,
            if q.members == 1 { "" } else { "s" },
            q.quorum,
            q.tolerated,
            if q.tolerated == 1 { "" } else { "s" }
        )
    }
    pub fn no_facts(name: &str) -> String {
        format!("no facts for {name}: hardware and disk checks skipped")
    }
    pub fn below(
        host: &str,
        what: &str,
        has: &str,
        role: &str,
        level: &str,
        needs: &str,
    ) -> String {
        format!("{host}: {what} {has} is below the {role} {level} of {needs}")
    }
    pub fn worker_capacity(host: &str, cpus: u32, n: u32) -> String {
        format!(
            "{host}: {cpus} CPUs take about {n} 1-CPU deployments ({SYSTEM_RESERVED_CPUS} kept for the system)"
        )
    }
    pub fn host_mtu(host: &str, has: u32, plan: u32) -> String {
        format!("{host}: its interfaces have MTU {has}, below the plan's {plan}")
    }
    pub fn bad_cidr(what: &str, text: &str, e: &net::ParseError) -> String {
        format!("{what} `{text}`: {e}")
    }
    pub fn service_pod_overlap(s: &ipnet::IpNet, p: &ipnet::IpNet) -> String {
        format!("pod CIDR {p} overlaps the service CIDR {s}")
    }
    pub fn node_prefix_outside(prefix: u8, pods: &ipnet::IpNet) -> String {
        format!("node prefix /{prefix} does not fit inside the pod CIDR {pods}")
    }
    pub fn pod_cidr_too_small(
        pods: &ipnet::IpNet,
        prefix: u8,
        blocks: u128,
        nodes: usize,
    ) -> String {
        format!(
            "pod CIDR {pods} holds {blocks} node blocks of /{prefix}, fewer than the {nodes} nodes"
        )
    }
    pub fn node_prefix_too_long(prefix: u8, per_node: u128) -> String {
        format!(
            "node prefix /{prefix} leaves {per_node} pod addresses per node, fewer than kubelet's {KUBELET_MAX_PODS} pods"
        )
    }
    pub fn host_in_cidr(host: &str, addr: IpAddr, what: &str, net: &ipnet::IpNet) -> String {
        format!("{host}'s address {addr} is inside the {what} {net}")
    }
    pub fn bad_dns(text: &str, e: &net::ParseError) -> String {
        format!("upstream DNS `{text}`: {e}")
    }
    pub fn bad_mtu(mtu: u32) -> String {
        format!("MTU {mtu} is outside {MTU_MIN}-{MTU_MAX}")
    }
    pub fn calico_mtu(cm: u32, mtu: u32) -> String {
        format!(
            "calico MTU {cm} must be at least {CALICO_MTU_OVERHEAD} below the host MTU {mtu}: Calico's tunnel header needs the room"
        )
    }
    pub fn bad_pool_name(name: &str) -> String {
        format!("pool name `{name}` is not a valid Kubernetes object name")
    }
    pub fn empty_pool(name: &str) -> String {
        format!("pool `{name}` has no addresses")
    }
    pub fn bad_entry(text: &str, e: &net::ParseError) -> String {
        format!("`{text}`: {e}")
    }
    pub fn pool_overlap(
        r: &AddrRange,
        other_path: &str,
        other: &AddrRange,
        common: &AddrRange,
    ) -> String {
        format!(
            "{r} overlaps {other_path} ({other}): {} shared address{} ({common})",
            net::count_text(common.len()),
            if common.len() == 1 { "" } else { "es" }
        )
    }
    pub fn pool_has_node(r: &AddrRange, host: &str, addr: IpAddr) -> String {
        format!("{r} contains {host}'s address {addr}")
    }
    pub fn pool_in_cidr(
        r: &AddrRange,
        what: &str,
        net: &ipnet::IpNet,
        common: &AddrRange,
    ) -> String {
        format!("{r} overlaps the {what} {net} ({common})")
    }
    pub fn pool_size(name: &str, size: u128) -> String {
        format!(
            "pool `{name}`: {} address{}",
            net::count_text(size),
            if size == 1 { "" } else { "es" }
        )
    }
    pub fn ipv6_not_supported(what: &str, text: &str) -> String {
        format!("{what} `{text}` is IPv6; this plan format supports IPv4 only")
    }
    pub const IPV6_HINT: &str = "use an IPv4 address or network here; Kubespray's dual stack (`enable_dual_stack_networks`, `kube_service_addresses_ipv6`, `kube_pods_subnet_ipv6`) is not in the plan yet";
    pub fn bad_vip(text: &str, e: &net::ParseError) -> String {
        format!("VIP `{text}`: {e}")
    }
    pub fn vip_is_node(addr: IpAddr, host: &str) -> String {
        format!("VIP {addr} is {host}'s own address")
    }
    pub fn vip_in_pool(addr: IpAddr, path: &str) -> String {
        format!("VIP {addr} is inside the MetalLB pool entry {path}")
    }
    pub fn vip_in_cidr(addr: IpAddr, what: &str) -> String {
        format!("VIP {addr} is inside the {what}")
    }
    pub fn too_few_devices(level: Level, n: usize) -> String {
        format!(
            "{} needs at least {} devices, found {n}",
            level.as_str(),
            level.min_devices()
        )
    }
    pub fn too_few_hint(level: Level) -> String {
        match level {
            Level::Raid0 | Level::Raid1 => format!(
                "add a device, or use `single` for one disk (not {})",
                level.as_str()
            ),
            _ => format!(
                "add devices, or pick a level that needs fewer than {}",
                level.min_devices()
            ),
        }
    }
    pub fn single_many(n: usize) -> String {
        format!("single takes one device, found {n}")
    }
    pub fn bad_device_name(dev: &str) -> String {
        format!("`{dev}` is not a kernel device name")
    }
    pub fn device_overlap(dev: &str, other: &str, first: &str, dev_is_below: bool) -> String {
        if dev_is_below {
            format!("{dev} lies on {other}, already used by {first}")
        } else {
            format!("{dev} holds {other}, already used by {first}")
        }
    }
    pub fn device_twice(dev: &str, first: &str) -> String {
        format!("{dev} is already used by {first}")
    }
    pub fn unknown_device(host: &str, dev: &str) -> String {
        format!("{host} has no device {dev}")
    }
    pub fn known_disks(hf: &HostFacts) -> String {
        let names: Vec<&str> = hf.disks.iter().map(|d| d.name.as_str()).collect();
        format!(
            "{}'s disks: {}",
            if hf.hostname.is_empty() {
                "the host"
            } else {
                &hf.hostname
            },
            names.join(", ")
        )
    }
    pub fn holds_root(host: &str, dev: &str) -> String {
        format!("{host}: {dev} holds the root filesystem")
    }
    pub fn mounted(host: &str, dev: &str, bd: &BlockDevice) -> String {
        let mut points = Vec::new();
        fn collect<'a>(d: &'a BlockDevice, out: &mut Vec<&'a str>) {
            out.extend(d.mountpoints.iter().map(String::as_str));
            for c in &d.children {
                collect(c, out);
            }
        }
        collect(bd, &mut points);
        format!(
            "{host}: {dev} is mounted ({}) and `wipe` is not set",
            points.join(", ")
        )
    }
    pub fn md_member(host: &str, dev: &str, md: &str) -> String {
        format!("{host}: {dev} is a member of {md} and `wipe` is not set")
    }
    pub fn in_use(host: &str, dev: &str, bd: &BlockDevice) -> String {
        let what = match (&bd.fstype, bd.children.len()) {
            (Some(fs), _) => format!("carries {fs}"),
            (None, n) => format!("has {n} partition{}", if n == 1 { "" } else { "s" }),
        };
        format!("{host}: {dev} {what} and `wipe` is not set")
    }
    pub fn mount_not_absolute(m: &str) -> String {
        format!("mount point `{m}` is not an absolute path")
    }
    pub fn mount_blank(m: &str) -> String {
        format!("mount point {m:?} contains a blank or control character")
    }
    pub fn mount_dots(m: &str) -> String {
        format!("mount point `{m}` contains a `.` or `..` component")
    }
    pub fn mount_not_plain(m: &str) -> String {
        format!("mount point `{m}` has a trailing or doubled `/`")
    }
    pub fn write_instead(m: &str) -> String {
        format!("write {m}")
    }
    pub fn mount_system(m: &str) -> String {
        format!("mount point `{m}` is a system directory")
    }
    pub fn mount_collision(m: &str, first: &str) -> String {
        format!("mount point {m} is already used by {first}")
    }
    pub fn relocate_twice(r: Relocate, first: &str) -> String {
        let what = match r {
            Relocate::Kubelet => "kubelet",
            Relocate::Containerd => "containerd",
        };
        format!("{what} data is already relocated by {first}")
    }
    pub fn relocate_containerd(cm: &str) -> String {
        format!("containerd data is relocated but the container manager is `{cm}`")
    }
    pub fn mixed_sizes(level: Level, sizes: &[(String, u64)], min: u64) -> String {
        let list: Vec<String> = sizes
            .iter()
            .map(|(d, s)| format!("{d} {}", human_bytes(*s)))
            .collect();
        format!(
            "{} members differ in size ({}): each is used only up to {}",
            level.as_str(),
            list.join(", "),
            human_bytes(min)
        )
    }
    pub fn capacity(layout: &StorageLayout, usable: u64, discard: bool) -> String {
        format!(
            "{} over {} device{}: {} usable at {}, discard {}",
            layout.level.as_str(),
            layout.devices.len(),
            if layout.devices.len() == 1 { "" } else { "s" },
            human_bytes(usable),
            layout.mount,
            if discard { "on" } else { "off" }
        )
    }
    pub fn bad_sysctl(key: &str) -> String {
        format!("`{key}` is not a sysctl key, or its value spans lines")
    }
    pub fn bad_label_key(key: &str) -> String {
        format!("label key `{key}` is not a valid Kubernetes label key")
    }
    pub fn bad_label_value(key: &str, value: &str) -> String {
        format!("label `{key}` has value `{value}`, not a valid Kubernetes label value")
    }
}
