//! Network checks: service and pod CIDRs, node prefix, host addresses, DNS, MTU, MetalLB
//! pools and the VIP, each alone (through [`super::rules`]) and against each other.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::messages as msg;
use super::rules;
use super::{Code, Finding, Severity};
use crate::facts::Facts;
use crate::net::{self, AddrRange};
use crate::plan::model::{Plan, Profile, Role};

/// Kubespray v2.24 `kubelet_max_pods` default (roles/kubernetes/node/defaults).
pub const KUBELET_MAX_PODS: u64 = 110;
/// Calico's encapsulation header: VXLAN, Kubespray's default Calico mode, 50 bytes (see
/// `crate::plan::release::CALICO_VXLAN_OVERHEAD`). AIStore's "Deploying AIS on k8s" asks for
/// "at least 20 bytes less than the host NIC MTU", which is IP-in-IP's header.
pub const CALICO_MTU_OVERHEAD: u32 = crate::plan::release::CALICO_VXLAN_OVERHEAD;

/// A parsed pool entry with where it came from.
struct PoolEntry {
    path: String,
    range: AddrRange,
}

/// The cluster's ranges that parsed, with the names messages give them.
type ClusterNets<'a> = [(ipnet::IpNet, &'a str)];
/// Addresses written as IPs, with their index in the plan's list.
type Indexed = [(usize, IpAddr)];

pub(super) fn check_network(plan: &Plan, out: &mut Vec<Finding>) {
    let n = &plan.network;
    let service = parse_net_field(&n.service_cidr, "network.service_cidr", "service CIDR", out);
    let pods = parse_net_field(&n.pod_cidr, "network.pod_cidr", "pod CIDR", out);
    // The cluster's own ranges that parsed, as messages name them; nothing else may sit in them.
    let cluster_nets: Vec<(ipnet::IpNet, &str)> = [(service, "service CIDR"), (pods, "pod CIDR")]
        .into_iter()
        .filter_map(|(net, what)| net.map(|net| (net, what)))
        .collect();
    cluster_ranges(service, pods, out);
    if let Some(p) = pods {
        node_prefix(plan, p, out);
    }
    // Host addresses (those written as IPs).
    let host_addrs: Vec<(usize, IpAddr)> = plan
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.address.parse::<IpAddr>().ok().map(|a| (i, a)))
        .collect();
    host_addresses(plan, &host_addrs, &cluster_nets, out);
    let dns_addrs: Vec<(usize, IpAddr)> = n
        .upstream_dns
        .iter()
        .enumerate()
        .filter_map(|(k, d)| net::parse_addr(d.trim()).ok().map(|a| (k, a)))
        .collect();
    upstream_dns(plan, &dns_addrs, &cluster_nets, out);
    mtu(plan, out);
    let entries = pool_entries(plan, out);
    pool_conflicts(plan, &entries, &host_addrs, &dns_addrs, &cluster_nets, out);
    pool_sizes(plan, &entries, out);
    vip(plan, &entries, &host_addrs, &cluster_nets, out);
}

/// The service and pod CIDRs: IPv4, and apart.
fn cluster_ranges(
    service: Option<ipnet::IpNet>,
    pods: Option<ipnet::IpNet>,
    out: &mut Vec<Finding>,
) {
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
                Code::E_SERVICE_POD_OVERLAP,
                "network.pod_cidr",
                msg::service_pod_overlap(&s, &p),
            )
            .hint("Kubespray's defaults do not overlap: 10.233.0.0/18 and 10.233.64.0/18"),
        );
    }
}

/// The node prefix against the pod CIDR: inside it, enough blocks for the nodes, enough
/// addresses per node for kubelet's pods.
fn node_prefix(plan: &Plan, p: ipnet::IpNet, out: &mut Vec<Finding>) {
    let n = &plan.network;
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
    let max = if p.addr().is_ipv4() {
        rules::NODE_PREFIX_MAX
    } else {
        128
    };
    if n.node_prefix < p.prefix_len() || n.node_prefix > max {
        out.push(Finding::new(
            Severity::Error,
            Code::E_BAD_NODE_PREFIX,
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
                        Code::W_POD_CIDR_TOO_SMALL
                    } else {
                        Code::E_POD_CIDR_TOO_SMALL
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
                        Code::W_NODE_PREFIX_TOO_LONG
                    } else {
                        Code::E_NODE_PREFIX_TOO_LONG
                    },
                    "network.node_prefix",
                    msg::node_prefix_too_long(n.node_prefix, per_node),
                )
                .hint("use a node prefix of 25 or shorter (24 is the default)"),
            );
        }
    }
}

/// Node addresses: IPv4, outside the cluster's ranges.
fn host_addresses(
    plan: &Plan,
    host_addrs: &Indexed,
    cluster_nets: &ClusterNets<'_>,
    out: &mut Vec<Finding>,
) {
    for &(i, addr) in host_addrs {
        if addr.is_ipv6() {
            out.push(ipv6_not_supported(
                format!("hosts[{i}].address"),
                "node address",
                &addr.to_string(),
            ));
        }
        for (net, what) in holding(cluster_nets, addr) {
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_HOST_IN_CLUSTER_CIDR,
                    format!("hosts[{i}].address"),
                    msg::host_in_cidr(&plan.hosts[i].name, addr, what, &net),
                )
                .hint("move the service and pod CIDRs to a range the nodes do not use"),
            );
        }
    }
}

/// Upstream DNS servers: addresses, outside the cluster's ranges.
fn upstream_dns(
    plan: &Plan,
    dns_addrs: &Indexed,
    cluster_nets: &ClusterNets<'_>,
    out: &mut Vec<Finding>,
) {
    let n = &plan.network;
    for &(k, addr) in dns_addrs {
        for (net, what) in holding(cluster_nets, addr) {
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_DNS_IN_CLUSTER_CIDR,
                    format!("network.upstream_dns[{k}]"),
                    msg::dns_in_cidr(addr, what, &net),
                )
                .hint("move the service and pod CIDRs to a range the network does not use"),
            );
        }
    }
    for (k, dns) in n.upstream_dns.iter().enumerate() {
        if let Err(e) = net::parse_addr(dns.trim()) {
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_BAD_DNS,
                    format!("network.upstream_dns[{k}]"),
                    msg::bad_dns(dns, &e),
                )
                .hint("upstream DNS servers are IP addresses, e.g. 8.8.8.8"),
            );
        }
    }
}

/// The host MTU and Calico's room below it.
fn mtu(plan: &Plan, out: &mut Vec<Finding>) {
    let n = &plan.network;
    if let Some(problem) = rules::mtu_problem(n.mtu) {
        out.push(Finding::new(
            Severity::Error,
            Code::E_BAD_MTU,
            "network.mtu",
            problem,
        ));
    }
    if let Some(cm) = n.calico_mtu
        && cm.saturating_add(CALICO_MTU_OVERHEAD) > n.mtu
    {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_CALICO_MTU,
                "network.calico_mtu",
                msg::calico_mtu(cm, n.mtu),
            )
            .hint(format!(
                "remove `calico_mtu` to get {}, or set it to at most that",
                n.mtu.saturating_sub(CALICO_MTU_OVERHEAD)
            )),
        );
    }
}

/// Each load-balancer pool's name and entries; the entries that parsed.
fn pool_entries(plan: &Plan, out: &mut Vec<Finding>) -> Vec<PoolEntry> {
    let n = &plan.network;
    // Pools.
    let pools = &n.load_balancer.pools;
    let mut entries: Vec<PoolEntry> = Vec::new();
    let mut pool_names: BTreeMap<&str, usize> = BTreeMap::new();
    for (p, pool) in pools.iter().enumerate() {
        let at = format!("network.load_balancer.pools[{p}]");
        if rules::pool_name_error(&pool.name).is_some() {
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_BAD_POOL_NAME,
                    format!("{at}.name"),
                    msg::bad_pool_name(&pool.name),
                )
                .hint("lower-case letters, digits and `-`, e.g. `default`"),
            );
        }
        if let Some(first) = pool_names.insert(&pool.name, p) {
            out.push(Finding::new(
                Severity::Error,
                Code::E_DUPLICATE_POOL,
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
                Code::E_EMPTY_POOL,
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
                    Finding::new(Severity::Error, Code::E_BAD_POOL_ENTRY, path, msg::bad_entry(text, &e))
                        .hint("write a CIDR (10.0.10.0/28), a range (10.0.10.5-10.0.10.20) or one address"),
                ),
            }
        }
    }
    entries
}

/// Pool entries against each other, the nodes, the DNS servers and the cluster's ranges.
fn pool_conflicts(
    plan: &Plan,
    entries: &[PoolEntry],
    host_addrs: &Indexed,
    dns_addrs: &Indexed,
    cluster_nets: &ClusterNets<'_>,
    out: &mut Vec<Finding>,
) {
    for (j, b) in entries.iter().enumerate() {
        for a in &entries[..j] {
            if let Some(common) = a.range.intersection(&b.range) {
                out.push(Finding::new(
                    Severity::Error,
                    Code::E_POOL_OVERLAP,
                    b.path.clone(),
                    msg::pool_overlap(&b.range, &a.path, &a.range, &common),
                ));
            }
        }
        for &(i, addr) in host_addrs {
            if b.range.contains(addr) {
                out.push(
                    Finding::new(
                        Severity::Error,
                        Code::E_POOL_HAS_NODE_ADDRESS,
                        b.path.clone(),
                        msg::pool_has_node(&b.range, &plan.hosts[i].name, addr),
                    )
                    .hint("MetalLB would hand the node's own address to a service; leave it out of the pool"),
                );
            }
        }
        for &(_, addr) in dns_addrs {
            if b.range.contains(addr) {
                out.push(
                    Finding::new(
                        Severity::Error,
                        Code::E_POOL_HAS_DNS,
                        b.path.clone(),
                        msg::pool_has_dns(&b.range, addr),
                    )
                    .hint("MetalLB would hand the DNS server's address to a service; leave it out of the pool"),
                );
            }
        }
        for &(net, what) in cluster_nets {
            if let Some(common) = b.range.intersection(&AddrRange::from_net(net)) {
                out.push(Finding::new(
                    Severity::Error,
                    Code::E_POOL_IN_CLUSTER_CIDR,
                    b.path.clone(),
                    msg::pool_in_cidr(&b.range, what, &net, &common),
                ));
            }
        }
    }
}

/// Each pool's size, and the Akash profile's pool name.
fn pool_sizes(plan: &Plan, entries: &[PoolEntry], out: &mut Vec<Finding>) {
    let pools = &plan.network.load_balancer.pools;
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
                Code::I_POOL_SIZE,
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
                Code::E_AKASH_POOL_NAME,
                "network.load_balancer.pools[0].name",
                msg::AKASH_POOL_NAME.into(),
            )
            .hint("rename the pool to `default`"),
        );
    }
}

/// The control-plane VIP: an address, not a node's, outside the pools and the cluster's
/// ranges.
fn vip(
    plan: &Plan,
    entries: &[PoolEntry],
    host_addrs: &Indexed,
    cluster_nets: &ClusterNets<'_>,
    out: &mut Vec<Finding>,
) {
    let n = &plan.network;
    if let Some(vip) = &n.vip {
        match rules::parse_vip(vip) {
            Err(e) => out.push(Finding::new(
                Severity::Error,
                Code::E_BAD_VIP,
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
                            Code::E_VIP_IS_NODE,
                            "network.vip",
                            msg::vip_is_node(addr, &plan.hosts[i].name),
                        )
                        .hint("the VIP must be a free address in the nodes' subnet"),
                    );
                }
                if let Some(e) = entries.iter().find(|e| e.range.contains(addr)) {
                    out.push(Finding::new(
                        Severity::Error,
                        Code::E_VIP_IN_POOL,
                        "network.vip",
                        msg::vip_in_pool(addr, &e.path),
                    ));
                }
                for (_, what) in holding(cluster_nets, addr) {
                    out.push(Finding::new(
                        Severity::Error,
                        Code::E_VIP_IN_CLUSTER_CIDR,
                        "network.vip",
                        msg::vip_in_cidr(addr, what),
                    ));
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
        Code::E_IPV6_NOT_SUPPORTED,
        path,
        msg::ipv6_not_supported(what, text),
    )
    .hint(msg::IPV6_HINT)
}

/// The networks of `nets` that contain `addr`, in order.
fn holding<'a>(
    nets: &'a [(ipnet::IpNet, &'a str)],
    addr: IpAddr,
) -> impl Iterator<Item = (ipnet::IpNet, &'a str)> + 'a {
    nets.iter()
        .copied()
        .filter(move |(net, _)| net.contains(&addr))
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
                        Code::E_BAD_SERVICE_CIDR
                    } else {
                        Code::E_BAD_POD_CIDR
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

/// One node's network as its facts show it: the subnet of the interface holding its plan
/// address, and its default gateway.
struct NodeNet {
    index: usize,
    subnet: Option<ipnet::IpNet>,
    gateway: Option<IpAddr>,
}

fn node_nets(plan: &Plan, facts: &Facts) -> Vec<NodeNet> {
    plan.hosts
        .iter()
        .enumerate()
        .filter_map(|(index, h)| {
            let f = facts.get(&h.name)?;
            let addr: IpAddr = h.address.parse().ok()?;
            let subnet = f
                .interfaces
                .iter()
                .flat_map(|i| i.addresses.iter())
                .filter_map(|a| a.parse::<ipnet::IpNet>().ok())
                .find(|n| n.addr() == addr)
                .map(|n| n.trunc());
            let gateway = f
                .default_route
                .as_ref()
                .and_then(|r| r.gateway.as_deref())
                .and_then(|g| g.parse().ok());
            Some(NodeNet {
                index,
                subnet,
                gateway,
            })
        })
        .collect()
}

/// Network checks that need the hosts' facts: where the nodes are (their interface's subnet)
/// and their gateways, against the CIDRs, the MetalLB pools and the VIP. MetalLB's layer 2
/// mode answers ARP for a pool address only on the segment of the node announcing it, and
/// kube-vip's ARP mode the same for the VIP, so both belong to the nodes' subnet.
pub(super) fn check_network_facts(plan: &Plan, facts: &Facts, out: &mut Vec<Finding>) {
    let n = &plan.network;
    let nodes = node_nets(plan, facts);
    let name = |i: usize| plan.hosts[i].name.as_str();
    let service = net::parse_cidr(n.service_cidr.trim()).ok();
    let pods = net::parse_cidr(n.pod_cidr.trim()).ok();
    for node in &nodes {
        let Some(gw) = node.gateway else { continue };
        for (net, what) in [(service, "service CIDR"), (pods, "pod CIDR")] {
            if let Some(net) = net
                && net.contains(&gw)
            {
                out.push(
                    Finding::new(
                        Severity::Error,
                        Code::E_GATEWAY_IN_CLUSTER_CIDR,
                        format!("hosts[{}].address", node.index),
                        msg::gateway_in_cidr(name(node.index), gw, what, &net),
                    )
                    .hint("move the service and pod CIDRs to a range the network does not use"),
                );
            }
        }
    }
    let subnets: Vec<(usize, ipnet::IpNet)> = nodes
        .iter()
        .filter_map(|n| n.subnet.map(|s| (n.index, s)))
        .collect();
    let all_subnets: Vec<(usize, ipnet::IpNet)> = plan
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| facts.get(&h.name).map(|f| (i, f)))
        .flat_map(|(i, f)| {
            f.interfaces
                .iter()
                .flat_map(|x| x.addresses.iter())
                .filter_map(move |a| a.parse::<ipnet::IpNet>().ok().map(|n| (i, n.trunc())))
        })
        .collect();
    for (p, pool) in n.load_balancer.pools.iter().enumerate() {
        for (a, text) in pool.addresses.iter().enumerate() {
            let Ok(range) = net::parse_range(text) else {
                continue;
            };
            let path = format!("network.load_balancer.pools[{p}].addresses[{a}]");
            for node in &nodes {
                if let Some(gw) = node.gateway
                    && range.contains(gw)
                {
                    out.push(
                        Finding::new(
                            Severity::Error,
                            Code::E_POOL_HAS_GATEWAY,
                            path.clone(),
                            msg::pool_has_gateway(&range, name(node.index), gw),
                        )
                        .hint("leave the gateway out of the pool"),
                    );
                }
            }
            // On the segment of some node's interface (any of them: layer 2 can be on
            // another NIC than the one the plan uses). A pool entry that runs past a node
            // subnet, or a private one on no node's subnet, is announced where no node
            // answers; a public block elsewhere is usually routed to the nodes (the Akash
            // provider's IP-lease pools), so it is left alone.
            let on_segment = all_subnets.iter().any(|(_, s)| {
                let s = AddrRange::from_net(*s);
                s.contains(range.start) && s.contains(range.end)
            });
            let straddles = all_subnets
                .iter()
                .any(|(_, s)| AddrRange::from_net(*s).overlaps(&range));
            let private = matches!(range.start, IpAddr::V4(a) if a.is_private())
                || matches!(range.end, IpAddr::V4(a) if a.is_private());
            if !subnets.is_empty() && !on_segment && (straddles || private) {
                let listed: Vec<String> = distinct(&subnets)
                    .iter()
                    .map(|(i, s)| format!("{s} ({})", name(*i)))
                    .collect();
                out.push(
                    Finding::new(
                        Severity::Warning,
                        Code::W_POOL_OFF_SUBNET,
                        path.clone(),
                        msg::pool_off_subnet(&range, &listed.join(", ")),
                    )
                    .hint("keep each pool entry inside the nodes' subnet"),
                );
            }
        }
    }
    if let Some(vip) = n.vip.as_deref().and_then(|v| rules::parse_vip(v).ok()) {
        let cp: Vec<(usize, ipnet::IpNet)> = subnets
            .iter()
            .filter(|(i, _)| plan.hosts[*i].has_role(Role::ControlPlane))
            .copied()
            .collect();
        if !cp.is_empty() && !cp.iter().any(|(_, s)| s.contains(&vip)) {
            let listed: Vec<String> = distinct(&cp)
                .iter()
                .map(|(i, s)| format!("{s} ({})", name(*i)))
                .collect();
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_VIP_OFF_SUBNET,
                    "network.vip",
                    msg::vip_off_subnet(vip, &listed.join(", ")),
                )
                .hint("the VIP must be a free address in the control planes' subnet"),
            );
        }
    }
}

/// Each subnet once, with the first host on it.
fn distinct(subnets: &[(usize, ipnet::IpNet)]) -> Vec<(usize, ipnet::IpNet)> {
    let mut out: Vec<(usize, ipnet::IpNet)> = Vec::new();
    for &(i, s) in subnets {
        if !out.iter().any(|(_, t)| *t == s) {
            out.push((i, s));
        }
    }
    out
}
