//! Hardware: the floors a host's CPUs, memory and root disk are held to, in tiers, and the
//! estimate of how many deployments a worker takes.
//!
//! Tiers, from hard to soft (docs/plan.md, "Hardware floors"):
//!
//! 1. [`Tier::Installer`]: the install itself would stop. Kubespray's preinstall asserts
//!    (`roles/kubernetes/preinstall/tasks/0040-verify-settings.yml`, v2.24.1 through
//!    v2.31.0: `ansible_memtotal_mb >= minimal_master_memory_mb` (1500) on control planes,
//!    `>= minimal_node_memory_mb` (1024) on nodes) and kubeadm's preflight on control
//!    planes (2 CPUs, 1700 MB: `ControlPlaneNumCPU` and `ControlPlaneMem`). These are errors.
//! 2. [`Tier::GuideMinimum`]: the minimums of the Akash guide "Kubernetes Cluster for Akash
//!    Providers" (control plane 2 CPU / 4 GB / 30 GB, worker 4 / 8 / 100). A small cluster
//!    installs and runs below them, so they are warnings that name the guide.
//! 3. [`Tier::GuideRecommended`]: the guide's control plane recommendation (4 / 8 / 40).
//!
//! One unit convention, decided here: installer memory floors compare MemTotal in MiB,
//! rounded down, as `ansible_memtotal_mb` and kubeadm's MemCheck do; the guide's "N GB" of
//! RAM is read as N GiB less [`RAM_SLACK_PERCENT`] (MemTotal leaves out what firmware and
//! the kernel keep, so an "8 GB" machine reports about 7.7 GiB); the guide's disk "N GB" is
//! N * 10^9 bytes of the disk holding `/` (disks are sold in decimal units).

use std::collections::BTreeSet;

use super::messages as msg;
use super::{Code, Finding, Severity};
use crate::facts::{Facts, HostFacts, human_bytes};
use crate::plan::model::{Host, Plan, Profile, Role};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
pub const GB: u64 = 1_000_000_000;
/// How far below N GiB a host's MemTotal may be and still count as the guide's "N GB".
pub const RAM_SLACK_PERCENT: u64 = 10;

/// The two roles with hardware floors: Kubespray's `kube_control_plane` and `kube_node`
/// groups (etcd members have none of their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HwRole {
    ControlPlane,
    Worker,
}

impl HwRole {
    pub fn as_str(self) -> &'static str {
        match self {
            HwRole::ControlPlane => "control plane",
            HwRole::Worker => "worker",
        }
    }

    /// The hardware roles a plan host has.
    pub fn of(host: &Host) -> Vec<HwRole> {
        let mut out = Vec::new();
        if host.has_role(Role::ControlPlane) {
            out.push(HwRole::ControlPlane);
        }
        if host.has_role(Role::Worker) {
            out.push(HwRole::Worker);
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    Cpus,
    Memory,
    RootDisk,
}

/// How hard a floor is; the order is from hard to soft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Kubespray or kubeadm refuses the host: an error.
    Installer,
    /// Below the Akash provider guide's minimum: a warning.
    GuideMinimum,
    /// Below the Akash provider guide's recommendation: a warning.
    GuideRecommended,
}

/// Who sets a floor; named in the finding so the operator can weigh it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Kubespray's preinstall asserts.
    Kubespray,
    /// kubeadm's preflight checks (Kubespray v2.28 and later no longer pass
    /// `--ignore-preflight-errors=all` to `kubeadm init`).
    Kubeadm,
    /// The Akash guide "Kubernetes Cluster for Akash Providers".
    AkashGuide,
}

/// One floor: a role needs at least `need` of a resource. `need` is in the resource's
/// unit for the tier: CPUs; MiB of MemTotal (installer) or nominal GB (guide); GB of disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Floor {
    pub role: HwRole,
    pub tier: Tier,
    pub resource: Resource,
    pub need: u64,
    pub source: Source,
}

const fn floor(role: HwRole, tier: Tier, resource: Resource, need: u64, source: Source) -> Floor {
    Floor {
        role,
        tier,
        resource,
        need,
        source,
    }
}

// Short names for the table of floors below and the arithmetic on it.
use HwRole::{ControlPlane as CP, Worker as WK};
use Resource::{Cpus, Memory, RootDisk};
use Source::{AkashGuide, Kubeadm, Kubespray};
use Tier::{GuideMinimum, GuideRecommended, Installer};

/// Kubespray `minimal_master_memory_mb` (roles/kubernetes/preinstall/defaults/main.yml).
pub const KUBESPRAY_CONTROL_PLANE_MEMORY_MIB: u64 = 1500;
/// Kubespray `minimal_node_memory_mb` (same file).
pub const KUBESPRAY_NODE_MEMORY_MIB: u64 = 1024;
/// kubeadm preflight `ControlPlaneNumCPU`.
pub const KUBEADM_CONTROL_PLANE_CPUS: u64 = 2;
/// kubeadm preflight `ControlPlaneMem` (MB as kubeadm counts them: MiB of total RAM).
pub const KUBEADM_CONTROL_PLANE_MEMORY_MIB: u64 = 1700;

/// Every floor, hardest first; within a tier in the order the install meets them
/// (Kubespray's asserts run before `kubeadm init`).
pub const FLOORS: [Floor; 13] = [
    floor(CP, Installer, Cpus, KUBEADM_CONTROL_PLANE_CPUS, Kubeadm),
    floor(
        CP,
        Installer,
        Memory,
        KUBESPRAY_CONTROL_PLANE_MEMORY_MIB,
        Kubespray,
    ),
    floor(
        CP,
        Installer,
        Memory,
        KUBEADM_CONTROL_PLANE_MEMORY_MIB,
        Kubeadm,
    ),
    floor(WK, Installer, Memory, KUBESPRAY_NODE_MEMORY_MIB, Kubespray),
    // The Akash guide, "Kubernetes Cluster Software/Hardware Requirements and Recommendations".
    floor(CP, GuideMinimum, Cpus, 2, AkashGuide),
    floor(CP, GuideMinimum, Memory, 4, AkashGuide),
    floor(CP, GuideMinimum, RootDisk, 30, AkashGuide),
    floor(WK, GuideMinimum, Cpus, 4, AkashGuide),
    floor(WK, GuideMinimum, Memory, 8, AkashGuide),
    floor(WK, GuideMinimum, RootDisk, 100, AkashGuide),
    floor(CP, GuideRecommended, Cpus, 4, AkashGuide),
    floor(CP, GuideRecommended, Memory, 8, AkashGuide),
    floor(CP, GuideRecommended, RootDisk, 40, AkashGuide),
];

impl Floor {
    /// Whether the host meets this floor. An unknown root disk meets every disk floor: no
    /// fact, no judgement.
    pub fn met_by(&self, f: &HostFacts) -> bool {
        match (self.resource, self.tier) {
            (Cpus, _) => u64::from(f.cpus) >= self.need,
            (Memory, Installer) => f.mem_bytes / MIB >= self.need,
            (Memory, _) => f.mem_bytes >= self.need * GIB * (100 - RAM_SLACK_PERCENT) / 100,
            (RootDisk, _) => root_disk_bytes(f).is_none_or(|size| size >= self.need * GB),
        }
    }

    /// The floor as a figure: `4`, `1500 MiB`, `8 GB`.
    pub fn need_text(&self) -> String {
        match (self.resource, self.tier) {
            (Cpus, _) => self.need.to_string(),
            (Memory, Installer) => format!("{} MiB", self.need),
            (Memory | RootDisk, _) => format!("{} GB", self.need),
        }
    }

    /// Who sets it, in words: "Kubespray's control plane floor (minimal_master_memory_mb)".
    pub fn source_text(&self) -> String {
        let role = self.role.as_str();
        match (self.source, self.tier) {
            (Kubespray, _) => format!(
                "Kubespray's {} memory floor ({})",
                if self.role == CP {
                    "control plane"
                } else {
                    "node"
                },
                if self.role == CP {
                    "minimal_master_memory_mb"
                } else {
                    "minimal_node_memory_mb"
                }
            ),
            (Kubeadm, _) => format!("kubeadm's {role} preflight minimum"),
            (AkashGuide, GuideRecommended) => {
                format!("the Akash provider guide's {role} recommendation")
            }
            (AkashGuide, _) => format!("the Akash provider guide's {role} minimum"),
        }
    }

    fn code(&self) -> Code {
        match (self.tier, self.resource) {
            (Installer, Cpus) => Code::E_CPU_BELOW_MIN,
            (Installer, _) => Code::E_RAM_BELOW_MIN,
            (GuideMinimum, Cpus) => Code::W_CPU_BELOW_GUIDE_MIN,
            (GuideMinimum, Memory) => Code::W_RAM_BELOW_GUIDE_MIN,
            (GuideMinimum, RootDisk) => Code::W_DISK_BELOW_GUIDE_MIN,
            (GuideRecommended, Cpus) => Code::W_CPU_BELOW_RECOMMENDED,
            (GuideRecommended, Memory) => Code::W_RAM_BELOW_RECOMMENDED,
            (GuideRecommended, RootDisk) => Code::W_DISK_BELOW_RECOMMENDED,
        }
    }

    fn severity(&self) -> Severity {
        if self.tier == Installer {
            Severity::Error
        } else {
            Severity::Warning
        }
    }
}

/// Size of the disk that holds `/`, when the facts show one.
pub fn root_disk_bytes(f: &HostFacts) -> Option<u64> {
    f.disks
        .iter()
        .find(|d| d.holds_root())
        .map(|d| d.size_bytes)
}

/// The floors a host with these roles misses: per resource the hardest one, so each
/// resource is reported once.
pub fn shortfalls(roles: &[HwRole], f: &HostFacts) -> Vec<Floor> {
    shortfalls_for(roles, f, true)
}

/// Whether the Akash provider guide's figures apply: only to a plan with the Akash profile.
/// Other plans are held to Kubespray's and kubeadm's floors alone.
pub fn akash_figures(plan: &Plan) -> bool {
    plan.cluster.profile == Some(Profile::Akash)
}

/// [`shortfalls`], with the Akash guide's tiers only when `akash` ([`akash_figures`]).
pub fn shortfalls_for(roles: &[HwRole], f: &HostFacts, akash: bool) -> Vec<Floor> {
    let mut reported = BTreeSet::new();
    let mut out = Vec::new();
    for fl in FLOORS
        .iter()
        .filter(|fl| roles.contains(&fl.role) && (akash || fl.tier == Installer))
    {
        if !fl.met_by(f) && reported.insert(fl.resource) {
            out.push(*fl);
        }
    }
    out.sort_by_key(|fl| fl.resource);
    out
}

/// How a host fits one role, worst first: the Hosts screen's badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    /// Kubespray or kubeadm would refuse it.
    Fails,
    /// Installs, but below the Akash guide's minimum.
    BelowGuide,
    /// Meets the guide's minimum, not its recommendation.
    GuideMinimum,
    /// Meets every floor for the role.
    Meets,
}

pub fn role_fit(f: &HostFacts, role: HwRole) -> Fit {
    role_fit_for(f, role, true)
}

/// [`role_fit`] for a plan's profile: without the Akash figures ([`akash_figures`]) a host
/// either fails Kubespray's or kubeadm's floors or meets them.
pub fn role_fit_for(f: &HostFacts, role: HwRole, akash: bool) -> Fit {
    match shortfalls_for(&[role], f, akash)
        .iter()
        .map(|fl| fl.tier)
        .min()
    {
        Some(Installer) => Fit::Fails,
        Some(GuideMinimum) => Fit::BelowGuide,
        Some(GuideRecommended) => Fit::GuideMinimum,
        None => Fit::Meets,
    }
}

/// The hardware findings of one host with its facts: every missed floor, the worker
/// estimate. `at` is the host's path (`hosts[2]`). The preflight stage can call this too.
/// `akash` ([`akash_figures`]): the Akash guide's floors and its 1-CPU deployment estimate;
/// otherwise Kubespray's and kubeadm's floors and the worker's plain capacity.
pub fn host_findings(host: &Host, at: &str, f: &HostFacts, akash: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    for fl in shortfalls_for(&HwRole::of(host), f, akash) {
        let (what, has) = match fl.resource {
            Cpus => ("CPUs", f.cpus.to_string()),
            Memory if fl.tier == Installer => ("RAM", format!("{} MiB", f.mem_bytes / MIB)),
            Memory => ("RAM", human_bytes(f.mem_bytes)),
            RootDisk => (
                "root disk",
                human_bytes(root_disk_bytes(f).unwrap_or_default()),
            ),
        };
        let message = msg::below(&host.name, what, &has, &fl.source_text(), &fl.need_text());
        out.push(Finding::new(fl.severity(), fl.code(), at, message).hint(msg::floor_hint(&fl)));
    }
    if host.has_role(Role::Worker) && f.cpus > 0 {
        let message = if akash {
            msg::worker_capacity(&host.name, f.cpus, &worker_deployment_estimate(f))
        } else {
            msg::worker_plain_capacity(&host.name, f.cpus, f.mem_bytes)
        };
        out.push(Finding::new(
            Severity::Info,
            Code::I_WORKER_CAPACITY,
            at,
            message,
        ));
    }
    out
}

pub(super) fn check_hardware(plan: &Plan, facts: &Facts, out: &mut Vec<Finding>) {
    for (i, host) in plan.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        let Some(f) = facts.get(&host.name) else {
            out.push(Finding::new(
                Severity::Warning,
                Code::W_NO_FACTS,
                at,
                msg::no_facts(&host.name),
            ));
            continue;
        };
        out.extend(host_findings(host, &at, f, akash_figures(plan)));
        // The link the host's plan address is on carries the pod traffic; without it, the
        // largest MTU of its interfaces (the most the host could carry).
        let on_address = f.interfaces.iter().find(|i| {
            i.addresses
                .iter()
                .any(|a| a.split('/').next() == Some(host.address.as_str()))
        });
        let iface_mtu = on_address.map(|i| i.mtu).or_else(|| {
            f.interfaces
                .iter()
                .filter(|i| i.name != "lo")
                .map(|i| i.mtu)
                .max()
        });
        if let Some(iface_mtu) = iface_mtu
            && iface_mtu < plan.network.mtu
        {
            // Calico's MTU follows the plan's (network.mtu less its encapsulation): pods send
            // packets the links cannot carry, and they are dropped.
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_HOST_MTU_BELOW_PLAN,
                    at.clone(),
                    msg::host_mtu(
                        &host.name,
                        iface_mtu,
                        plan.network.mtu,
                        plan.network.effective_calico_mtu(),
                    ),
                )
                .hint(format!(
                    "set network.mtu to {iface_mtu}, or raise the MTU of {}'s links (and \
                     the switches between the hosts) to {}",
                    host.name, plan.network.mtu
                )),
            );
        }
    }
}

/// The Akash guide: "people tend to deploy at least 1 CPU per deployment ... other ~2 CPU
/// will be reserved by the Kubernetes system components".
pub const SYSTEM_RESERVED_CPUS: u32 = 2;
/// Memory kept for the system and Kubernetes itself before deployments: rackstrap's own
/// assumption (the guide gives none), half the guide's 8 GB worker minimum.
pub const SYSTEM_RESERVED_MEMORY_GIB: u64 = 4;
/// Memory each 1-CPU deployment is assumed to take with its CPU: rackstrap's assumption.
pub const MEMORY_PER_DEPLOYMENT_GIB: u64 = 2;

/// Which resource bounds the estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EstimateBound {
    Cpu,
    Memory,
}

/// How many 1-CPU deployments a worker takes: CPUs left after the system's, bounded by the
/// memory left after the system's. The guide calls CPU the likely bottleneck for its
/// example (8 CPUs, 100 GB); on a host with little memory per CPU, memory runs out first,
/// and an estimate from CPUs alone would promise deployments that do not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploymentEstimate {
    pub deployments: u32,
    pub bound: EstimateBound,
    pub by_cpu: u32,
    pub by_memory: u32,
}

pub fn worker_deployment_estimate(f: &HostFacts) -> DeploymentEstimate {
    let by_cpu = f.cpus.saturating_sub(SYSTEM_RESERVED_CPUS);
    let by_memory =
        (f.mem_bytes / GIB).saturating_sub(SYSTEM_RESERVED_MEMORY_GIB) / MEMORY_PER_DEPLOYMENT_GIB;
    let by_memory = u32::try_from(by_memory).unwrap_or(u32::MAX);
    let (deployments, bound) = if by_memory < by_cpu {
        (by_memory, EstimateBound::Memory)
    } else {
        (by_cpu, EstimateBound::Cpu)
    };
    DeploymentEstimate {
        deployments,
        bound,
        by_cpu,
        by_memory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::BlockDevice;

    fn host(cpus: u32, mem_bytes: u64, root: u64) -> HostFacts {
        HostFacts {
            cpus,
            mem_bytes,
            disks: vec![BlockDevice {
                name: "sda".into(),
                kind: "disk".into(),
                size_bytes: root,
                mountpoints: vec!["/".into()],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn plan_host(roles: Vec<Role>) -> Host {
        Host {
            name: "lab2".into(),
            address: "10.0.0.2".into(),
            roles,
            labels: Default::default(),
            storage: vec![],
            etcd_member_name: None,
        }
    }

    fn codes(roles: Vec<Role>, f: &HostFacts) -> Vec<(Severity, &'static str)> {
        host_findings(&plan_host(roles), "hosts[0]", f, true)
            .into_iter()
            .filter(|x| x.severity != Severity::Info)
            .map(|x| (x.severity, x.code.as_str()))
            .collect()
    }

    #[test]
    fn two_cpu_24_gb_hosts_pass_with_warnings_only() {
        let f = host(2, 24 * GIB, 200 * GB);
        // A worker: below the guide's 4 CPUs, a warning that names the guide.
        let w = host_findings(&plan_host(vec![Role::Worker]), "hosts[1]", &f, true);
        assert!(w.iter().all(|x| x.severity != Severity::Error), "{w:#?}");
        let cpu = w
            .iter()
            .find(|x| x.code == Code::W_CPU_BELOW_GUIDE_MIN)
            .expect("a CPU warning");
        assert_eq!(
            cpu.message,
            "lab2: CPUs 2 is below the Akash provider guide's worker minimum of 4"
        );
        // A control plane + etcd: meets kubeadm's 2 CPUs, below the guide's recommended 4.
        assert_eq!(
            codes(vec![Role::ControlPlane, Role::Etcd], &f),
            [(Severity::Warning, "W_CPU_BELOW_RECOMMENDED")]
        );
        assert_eq!(role_fit(&f, HwRole::Worker), Fit::BelowGuide);
        assert_eq!(role_fit(&f, HwRole::ControlPlane), Fit::GuideMinimum);
    }

    #[test]
    fn installer_floors_are_errors() {
        // kubeadm: a control plane needs 2 CPUs.
        let f = host(1, 24 * GIB, 200 * GB);
        assert_eq!(
            codes(vec![Role::ControlPlane], &f),
            [(Severity::Error, "E_CPU_BELOW_MIN")]
        );
        assert_eq!(role_fit(&f, HwRole::ControlPlane), Fit::Fails);
        // One CPU is fine for Kubespray on a worker; the guide wants 4.
        assert_eq!(
            codes(vec![Role::Worker], &f),
            [(Severity::Warning, "W_CPU_BELOW_GUIDE_MIN")]
        );
        // Kubespray: a node under 1024 MiB of MemTotal stops at the preinstall assert.
        let f = host(4, 1023 * MIB, 200 * GB);
        let w = host_findings(&plan_host(vec![Role::Worker]), "hosts[0]", &f, true);
        let ram = w.iter().find(|x| x.code == Code::E_RAM_BELOW_MIN).unwrap();
        assert_eq!(
            ram.message,
            "lab2: RAM 1023 MiB is below Kubespray's node memory floor (minimal_node_memory_mb) of 1024 MiB"
        );
        let f = host(4, 1024 * MIB, 200 * GB);
        assert_eq!(role_fit(&f, HwRole::Worker), Fit::BelowGuide);
        // Control plane: Kubespray's 1500 MiB first, then kubeadm's 1700.
        let ram = |f: &HostFacts| {
            host_findings(&plan_host(vec![Role::ControlPlane]), "h", f, true)
                .into_iter()
                .find(|x| x.code == Code::E_RAM_BELOW_MIN)
                .expect("a RAM error")
        };
        let f = host(2, 1499 * MIB, 200 * GB);
        let m = ram(&f);
        assert!(
            m.message.contains("minimal_master_memory_mb) of 1500 MiB"),
            "{m:?}"
        );
        let f = host(2, 1600 * MIB, 200 * GB);
        let m = ram(&f);
        assert!(
            m.message
                .contains("kubeadm's control plane preflight minimum of 1700 MiB")
        );
        let f = host(2, 1700 * MIB, 200 * GB);
        assert_eq!(role_fit(&f, HwRole::ControlPlane), Fit::BelowGuide);
    }

    #[test]
    fn guide_figures_with_their_units() {
        // "8 GB" of RAM: MemTotal of an 8 GB machine (7.5 GiB) counts, 7 GiB does not.
        assert_eq!(
            role_fit(&host(4, 15 * GIB / 2, 100 * GB), HwRole::Worker),
            Fit::Meets
        );
        assert_eq!(
            role_fit(&host(4, 7 * GIB, 100 * GB), HwRole::Worker),
            Fit::BelowGuide
        );
        // Disks in decimal GB: a 100e9-byte root disk meets the worker's 100 GB.
        assert_eq!(
            role_fit(&host(4, 8 * GIB, 100 * GB), HwRole::Worker),
            Fit::Meets
        );
        assert_eq!(
            role_fit(&host(4, 8 * GIB, 100 * GB - 1), HwRole::Worker),
            Fit::BelowGuide
        );
        // A 32e9-byte root disk meets the control plane's 30 GB, not its recommended 40.
        let f = host(4, 8 * GIB, 32 * GB);
        assert_eq!(role_fit(&f, HwRole::ControlPlane), Fit::GuideMinimum);
        assert_eq!(
            codes(vec![Role::ControlPlane], &f),
            [(Severity::Warning, "W_DISK_BELOW_RECOMMENDED")]
        );
        // Each resource once, at its hardest miss.
        let f = host(1, 1000 * MIB, 10 * GB);
        assert_eq!(
            codes(vec![Role::ControlPlane, Role::Worker], &f),
            [
                (Severity::Error, "E_CPU_BELOW_MIN"),
                (Severity::Error, "E_RAM_BELOW_MIN"),
                (Severity::Warning, "W_DISK_BELOW_GUIDE_MIN"),
            ]
        );
    }

    #[test]
    fn estimate_is_bounded_by_cpu_and_memory() {
        // The guide's example: 8 CPUs, 100 GB: about 6 deployments, CPU bound.
        let e = worker_deployment_estimate(&host(8, 100 * GIB, 0));
        assert_eq!((e.deployments, e.bound), (6, EstimateBound::Cpu));
        // 16 CPUs but 8 GiB: (8 - 4) / 2 = 2, memory bound.
        let e = worker_deployment_estimate(&host(16, 8 * GIB, 0));
        assert_eq!(
            (e.deployments, e.bound, e.by_cpu),
            (2, EstimateBound::Memory, 14)
        );
        // 2 CPUs: none left after the system's.
        assert_eq!(
            worker_deployment_estimate(&host(2, 24 * GIB, 0)).deployments,
            0
        );
    }
}
