//! The words of every finding, in one place so they read as one voice.

use std::net::IpAddr;

use super::hardware::{
    DeploymentEstimate, EstimateBound, Floor, MEMORY_PER_DEPLOYMENT_GIB, Resource,
    SYSTEM_RESERVED_CPUS, SYSTEM_RESERVED_MEMORY_GIB, Tier,
};
use super::network::{CALICO_MTU_OVERHEAD, KUBELET_MAX_PODS};
use super::roles::{ETCD_MAX_ADVISED, Quorum};
use super::rules::{MTU_MAX, MTU_MIN, NODE_PREFIX_MAX, NODE_PREFIX_MIN};
use crate::facts::{BlockDevice, HostFacts, human_bytes};
use crate::net::{self, AddrRange};
use crate::plan::model::{Level, Relocate, StorageLayout};

pub const NO_HOSTS: &str = "the plan has no hosts";
pub const NO_CONTROL_PLANE: &str = "no host has the `control_plane` role";
pub const NO_WORKER: &str = "no host has the `worker` role";
pub const NO_ETCD: &str = "no host has the `etcd` role; Kubespray needs etcd members";
pub fn two_control_planes(akash: bool) -> String {
    format!(
        "2 control planes tolerate no more failures than 1: use 1 or 3{}",
        if akash {
            ", as the Akash provider guide advises"
        } else {
            ""
        }
    )
}
pub const AKASH_POOL_NAME: &str =
    "the Akash provider's IP operator uses the MetalLB pool named `default`";
pub fn relocate_per_disk(host: &str, mount: &str) -> String {
    format!(
        "{host}: kubelet and containerd data cannot move onto the per-disk layout at {mount}: there is no single filesystem"
    )
}
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
pub fn below(host: &str, what: &str, has: &str, source: &str, needs: &str) -> String {
    format!("{host}: {what} {has} is below {source} of {needs}")
}
pub fn floor_hint(floor: &Floor) -> String {
    match floor.tier {
        Tier::Installer => format!(
            "the install stops here; give the host more {}, or another role",
            match floor.resource {
                Resource::Cpus => "CPUs",
                _ => "memory",
            }
        ),
        _ => {
            "fine for a test or homelab cluster; an Akash provider in production wants more".into()
        }
    }
}
pub fn worker_plain_capacity(host: &str, cpus: u32, mem_bytes: u64) -> String {
    format!(
        "{host}: {cpus} CPUs and {} of memory for workloads, less what the system and \
         Kubernetes keep",
        crate::facts::human_bytes(mem_bytes)
    )
}
pub fn worker_capacity(host: &str, cpus: u32, e: &DeploymentEstimate) -> String {
    match e.bound {
        EstimateBound::Cpu => format!(
            "{host}: {cpus} CPUs take about {} 1-CPU deployments ({SYSTEM_RESERVED_CPUS} kept for the system)",
            e.deployments
        ),
        EstimateBound::Memory => format!(
            "{host}: memory takes about {} 1-CPU deployments ({MEMORY_PER_DEPLOYMENT_GIB} GiB each after {SYSTEM_RESERVED_MEMORY_GIB} GiB for the system); its CPUs would take {}",
            e.deployments, e.by_cpu
        ),
    }
}
pub fn host_mtu(host: &str, has: u32, plan: u32, calico: u32) -> String {
    format!(
        "{host}: its link has MTU {has}, below the plan's {plan}: pods would send packets of up \
         to {calico} bytes (calico_mtu) that the link drops"
    )
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
pub fn pod_cidr_too_small(pods: &ipnet::IpNet, prefix: u8, blocks: u128, nodes: usize) -> String {
    format!("pod CIDR {pods} holds {blocks} node blocks of /{prefix}, fewer than the {nodes} nodes")
}
pub fn node_prefix_too_long(prefix: u8, per_node: u128) -> String {
    format!(
        "node prefix /{prefix} leaves {per_node} pod addresses per node, fewer than kubelet's {KUBELET_MAX_PODS} pods"
    )
}
pub fn host_in_cidr(host: &str, addr: IpAddr, what: &str, net: &ipnet::IpNet) -> String {
    format!("{host}'s address {addr} is inside the {what} {net}")
}
pub fn dns_in_cidr(addr: IpAddr, what: &str, net: &ipnet::IpNet) -> String {
    format!("upstream DNS {addr} is inside the {what} {net}: pods could not reach it")
}
pub fn pool_has_dns(r: &AddrRange, addr: IpAddr) -> String {
    format!("{r} contains the upstream DNS address {addr}")
}
pub fn gateway_in_cidr(host: &str, gw: IpAddr, what: &str, net: &ipnet::IpNet) -> String {
    format!("{host}'s gateway {gw} is inside the {what} {net}")
}
pub fn pool_has_gateway(r: &AddrRange, host: &str, gw: IpAddr) -> String {
    format!("{r} contains {host}'s gateway {gw}")
}
pub fn pool_off_subnet(r: &AddrRange, subnets: &str) -> String {
    format!(
        "{r} leaves the nodes' subnet {subnets}: MetalLB's layer 2 mode answers ARP only on that segment"
    )
}
pub fn vip_off_subnet(vip: IpAddr, subnets: &str) -> String {
    format!(
        "VIP {vip} is not in the control planes' subnet {subnets}: kube-vip's ARP mode can \
         announce it only on their own subnet, so the API would be unreachable at it"
    )
}
pub fn bad_dns(text: &str, e: &net::ParseError) -> String {
    format!("upstream DNS `{text}`: {e}")
}
pub fn bad_mtu(mtu: u32) -> String {
    format!("MTU {mtu} is outside {MTU_MIN}-{MTU_MAX}")
}
pub fn mtu_expected() -> String {
    format!("an MTU {MTU_MIN}-{MTU_MAX}")
}
pub fn node_prefix_expected() -> String {
    format!("a prefix length {NODE_PREFIX_MIN}-{NODE_PREFIX_MAX}")
}
pub const POOL_NEEDS_NAME: &str = "a pool needs a name";
pub const POOL_NAME_CHARS: &str = "lowercase letters, digits and '-' only";
pub const POOL_NAME_DASH: &str = "a name cannot start or end with '-'";
pub fn pool_name_long() -> String {
    format!("at most {} characters", net::MAX_LABEL_LEN)
}
pub fn calico_mtu(cm: u32, mtu: u32) -> String {
    format!(
        "calico MTU {cm} must be at least {CALICO_MTU_OVERHEAD} below the host MTU {mtu}: Calico's VXLAN header needs the room"
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
pub fn pool_in_cidr(r: &AddrRange, what: &str, net: &ipnet::IpNet, common: &AddrRange) -> String {
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
pub fn mount_system(m: &str, hides: &str) -> String {
    format!("mount point `{m}` is a system directory: a filesystem mounted there hides {hides}")
}
pub fn mount_elsewhere() -> &'static str {
    "use a directory of its own, e.g. `/data`"
}
pub fn did_you_mean(m: &str) -> String {
    format!("did you mean `{m}`?")
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
