//! Our own re-statement of the checks Kubespray v2.24 makes about an inventory and its
//! variables before it touches a host (`roles/kubernetes/preinstall/tasks/0040-verify-settings.yml`,
//! the MetalLB and kube-vip roles' guards). It reads rendered files back as YAML, the way
//! Ansible would, so a renderer bug (a missing group, a string where a bool belongs, an even
//! etcd group) fails our tests instead of a Kubespray run. `docs/plan.md` lists the rules.
//!
//! From v2.28 Kubespray ships these checks as its `validate_inventory` role, and rackstrap
//! runs that role itself when the tree is present (`kubespray::inventory`); this
//! re-statement stays for v2.24 and for plans without a tree.
//!
//! Host-fact assertions (memory, OS, `ip` on a local interface) need the hosts and are the
//! preflight stage's business, not this module's.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::RenderedFile;
use crate::net;
use crate::plan::release::{CONTAINER_MANAGERS, Release};

/// Problems Kubespray v2.24 would stop on; empty when the inventory passes.
pub fn validate(files: &[RenderedFile]) -> Vec<String> {
    let mut problems = Vec::new();
    let find = |p: &str| files.iter().find(|f| f.path == Path::new(p));
    let Some(hosts_file) = find(super::HOSTS_FILE) else {
        return vec!["no hosts.yaml".into()];
    };
    let inv: Value = match serde_yaml::from_str(&hosts_file.contents) {
        Ok(v) => v,
        Err(e) => return vec![format!("hosts.yaml is not YAML: {e}")],
    };
    // Group vars, all/ first, then k8s_cluster/ (every rendered host is in k8s_cluster).
    let mut vars = serde_yaml::Mapping::new();
    let mut var_files: Vec<&RenderedFile> = files
        .iter()
        .filter(|f| f.path.starts_with("group_vars"))
        .collect();
    var_files.sort_by_key(|f| !f.path.starts_with("group_vars/all"));
    for f in var_files {
        match serde_yaml::from_str::<Value>(&f.contents) {
            Ok(Value::Mapping(m)) => vars.extend(m),
            Ok(Value::Null) => {}
            Ok(_) => problems.push(format!("{} is not a mapping", f.path.display())),
            Err(e) => problems.push(format!("{} is not YAML: {e}", f.path.display())),
        }
    }
    for f in files.iter().filter(|f| f.path.starts_with("host_vars")) {
        if !matches!(
            serde_yaml::from_str::<Value>(&f.contents),
            Ok(Value::Mapping(_))
        ) {
            problems.push(format!("{} is not a YAML mapping", f.path.display()));
        }
    }

    let all = &inv["all"];
    inventory_problems(all, &mut problems);
    network_problems(all, &vars, &mut problems);
    addon_problems(&vars, &mut problems);
    problems
}

/// A group's hosts; `None` when the inventory has no such group.
fn group(all: &Value, name: &str) -> Option<Vec<String>> {
    let g = all["children"].get(name)?;
    Some(mapping_keys(&g["hosts"]))
}

/// The groups and hosts of `hosts.yaml`.
fn inventory_problems(all: &Value, problems: &mut Vec<String>) {
    let defined: BTreeSet<String> = mapping_keys(&all["hosts"]).into_iter().collect();
    for name in ["kube_control_plane", "kube_node", "etcd"] {
        match group(all, name) {
            None => problems.push(format!("group {name} is missing")),
            Some(members) if members.is_empty() => {
                problems.push(format!("Stop if {name} group is empty"))
            }
            Some(members) => {
                for m in members.iter().filter(|m| !defined.contains(*m)) {
                    problems.push(format!("{m} is in group {name} but not in all.hosts"));
                }
            }
        }
    }
    if let Some(etcd) = group(all, "etcd")
        && etcd.len() % 2 == 0
        && !etcd.is_empty()
    {
        problems.push(format!(
            "Stop if even number of etcd hosts ({})",
            etcd.len()
        ));
    }
    let k8s_children: BTreeSet<String> = mapping_keys(&all["children"]["k8s_cluster"]["children"])
        .into_iter()
        .collect();
    for child in ["kube_control_plane", "kube_node"] {
        if !k8s_children.contains(child) {
            problems.push(format!("k8s_cluster must have child group {child}"));
        }
    }
    if group(all, "calico_rr").is_some_and(|m| !m.is_empty()) && !k8s_children.contains("calico_rr")
    {
        problems.push("calico-rr must be a child group of k8s_cluster group".into());
    }
    for name in &defined {
        if !is_kubespray_hostname(name) {
            problems.push(format!(
                "Stop if bad hostname: `{name}` must consist of lower case alphanumeric characters, '.' or '-'"
            ));
        }
        let host = &all["hosts"][name.as_str()];
        for key in ["ip", "access_ip"] {
            if let Some(ip) = host.get(key)
                && ip
                    .as_str()
                    .is_none_or(|s| s.parse::<std::net::IpAddr>().is_err())
            {
                problems.push(format!("{name}: {key} is not an IP address"));
            }
        }
    }
}

/// The network, plugin and container variables.
fn network_problems(all: &Value, vars: &Mapping, problems: &mut Vec<String>) {
    let s = |k: &str| vars.get(k).and_then(Value::as_str).map(String::from);
    let service = s("kube_service_addresses").and_then(|t| net::parse_cidr(&t).ok());
    let pods = s("kube_pods_subnet").and_then(|t| net::parse_cidr(&t).ok());
    if service.is_none() {
        problems.push("kube_service_addresses is not a valid network range".into());
    }
    if pods.is_none() {
        problems.push("kube_pods_subnet is not a valid network range".into());
    }
    if let (Some(sv), Some(pd)) = (service, pods)
        && (sv.contains(&pd.network()) || pd.contains(&sv.network()))
    {
        problems.push(
            "kube_pods_subnet cannot be the same network segment as kube_service_addresses".into(),
        );
    }
    let plugin = s("kube_network_plugin").unwrap_or_else(|| "calico".into());
    if !crate::plan::release::all_network_plugins().contains(&plugin.as_str()) {
        problems.push(format!("{plugin} is not supported"));
    }
    // The allowed values are the v2.24 row's of the release table.
    let release = Release::find("v2.24");
    let cm = s("container_manager").unwrap_or_else(|| "containerd".into());
    if !release
        .map_or(CONTAINER_MANAGERS, |r| r.container_managers)
        .contains(&cm.as_str())
    {
        problems.push(
            "The container manager, 'container_manager', must be docker, crio or containerd".into(),
        );
    }
    if let (Some(prefix), Some(pd)) = (
        vars.get("kube_network_node_prefix").and_then(Value::as_u64),
        pods,
    ) {
        if plugin != "calico" {
            let prefix = prefix.min(32) as u32;
            if u128::from(crate::plan::check::KUBELET_MAX_PODS)
                > (1u128 << (32 - prefix)).saturating_sub(2)
            {
                problems.push(
                    "Do not schedule more pods on a node than inet addresses are available.".into(),
                );
            }
            // `groups['k8s_cluster'] | length`: control planes and nodes, not etcd-only hosts.
            let k8s_cluster: BTreeSet<String> = ["kube_control_plane", "kube_node"]
                .iter()
                .flat_map(|g| group(all, g).unwrap_or_default())
                .collect();
            let nodes = k8s_cluster.len() as u128;
            let blocks = 1u128 << prefix.saturating_sub(u32::from(pd.prefix_len()));
            if blocks < nodes {
                problems.push("Not enough IPs are available for the desired node count.".into());
            }
        }
    } else if vars
        .get("kube_network_node_prefix")
        .is_some_and(|v| v.as_u64().is_none())
    {
        problems.push("kube_network_node_prefix is not a number".into());
    }
    for b in [
        "metallb_enabled",
        "metallb_speaker_enabled",
        "kube_proxy_strict_arp",
        "kubeconfig_localhost",
        "kube_vip_enabled",
        "helm_enabled",
    ] {
        if vars.get(b).is_some_and(|v| !v.is_bool()) {
            problems.push(format!("{b} isn't a bool"));
        }
    }
    let proxy_modes = release.map_or(&[][..], |r| r.proxy_modes);
    if let Some(mode) = s("kube_proxy_mode")
        && !proxy_modes.contains(&mode.as_str())
    {
        let quoted: Vec<String> = proxy_modes.iter().map(|m| format!("'{m}'")).collect();
        problems.push(format!(
            "kube_proxy_mode can only be {}",
            quoted.join(" or ")
        ));
    }
}

/// MetalLB, kube-vip, upstream DNS and the Calico MTU.
fn addon_problems(vars: &Mapping, problems: &mut Vec<String>) {
    let s = |k: &str| vars.get(k).and_then(Value::as_str).map(String::from);
    let strict_arp = vars.get("kube_proxy_strict_arp").and_then(Value::as_bool) == Some(true);
    // kube_proxy_mode defaults to ipvs in Kubespray v2.24.
    let ipvs = s("kube_proxy_mode").is_none_or(|m| m == "ipvs");
    if vars.get("metallb_enabled").and_then(Value::as_bool) == Some(true) {
        if ipvs && !strict_arp {
            problems.push("MetalLB require kube_proxy_strict_arp = true".into());
        }
        let config = &vars.get("metallb_config").cloned().unwrap_or(Value::Null);
        let pools = config["address_pools"].as_mapping();
        match pools {
            None => problems.push("metallb_config.address_pools is missing".into()),
            Some(p) if p.is_empty() => {
                problems.push("metallb_config.address_pools is empty".into())
            }
            Some(p) => {
                for (name, pool) in p {
                    let name = name.as_str().unwrap_or("?");
                    match pool["ip_range"].as_sequence() {
                        Some(r) if !r.is_empty() => {
                            for entry in r {
                                if entry.as_str().is_none_or(|t| net::parse_range(t).is_err()) {
                                    problems
                                        .push(format!("pool {name}: bad ip_range entry {entry:?}"));
                                }
                            }
                        }
                        _ => problems.push(format!("pool {name}: ip_range is mandatory")),
                    }
                    if !pool["auto_assign"].is_bool() {
                        problems.push(format!("pool {name}: auto_assign isn't a bool"));
                    }
                }
                for l2 in config["layer2"].as_sequence().into_iter().flatten() {
                    if l2.as_str().is_none_or(|n| !p.contains_key(n)) {
                        problems.push(format!("layer2 names unknown pool {l2:?}"));
                    }
                }
            }
        }
    }
    if vars.get("kube_vip_enabled").and_then(Value::as_bool) == Some(true) {
        if ipvs
            && vars.get("kube_vip_arp_enabled").and_then(Value::as_bool) == Some(true)
            && !strict_arp
        {
            problems.push("kube-vip ARP mode requires kube_proxy_strict_arp = true".into());
        }
        if s("kube_vip_address").is_none_or(|a| a.parse::<std::net::IpAddr>().is_err()) {
            problems.push("kube_vip_address must be an IP address".into());
        }
    }
    if let Some(list) = vars.get("upstream_dns_servers") {
        match list.as_sequence() {
            Some(l) => {
                for d in l {
                    if d.as_str()
                        .is_none_or(|t| t.parse::<std::net::IpAddr>().is_err())
                    {
                        problems.push(format!(
                            "upstream_dns_servers entry {d:?} is not an address"
                        ));
                    }
                }
            }
            None => problems.push("upstream_dns_servers must be a list".into()),
        }
    }
    if let Some(mtu) = vars.get("calico_mtu")
        && mtu.as_u64().is_none()
    {
        problems.push("calico_mtu must be a number".into());
    }
}

/// The string keys of a YAML mapping, in file order; none when `value` is not a mapping.
fn mapping_keys(value: &Value) -> Vec<String> {
    value
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Kubespray's "Stop if bad hostname" pattern:
/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`.
fn is_kubespray_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Vec<RenderedFile> {
        let p = crate::plan::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/examples/akash.yaml"
        )))
        .unwrap();
        crate::render::render(&p).unwrap()
    }

    /// Replace text in one rendered file and return the problems found.
    fn broken(path: &str, from: &str, to: &str) -> Vec<String> {
        let mut files = example();
        let f = files
            .iter_mut()
            .find(|f| f.path == Path::new(path))
            .unwrap();
        assert!(f.contents.contains(from), "{path} lacks {from:?}");
        f.contents = f.contents.replacen(from, to, 1);
        validate(&files)
    }

    #[test]
    fn the_example_passes() {
        assert_eq!(validate(&example()), Vec::<String>::new());
    }

    #[test]
    fn each_rule_catches_its_breakage() {
        let hosts = "hosts.yaml";
        let k8s = crate::render::CLUSTER_VARS_FILE;
        let addons = crate::render::CLUSTER_VARS_FILE;
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                hosts,
                "    etcd:\n      hosts:\n        node1:\n",
                "    etcd:\n      hosts:\n",
                "Stop if even number of etcd hosts (2)",
            ),
            (
                hosts,
                "    kube_control_plane:\n      hosts:\n        node1:\n        node2:\n        node3:\n",
                "    kube_control_plane:\n      hosts: {}\n",
                "Stop if kube_control_plane group is empty",
            ),
            (
                hosts,
                "        node4:\n",
                "        node5:\n",
                "node5 is in group kube_node but not in all.hosts",
            ),
            (
                hosts,
                "    node4:\n",
                "    Node_4:\n",
                "Stop if bad hostname: `Node_4` must consist of lower case alphanumeric characters, '.' or '-'",
            ),
            (
                hosts,
                "      ip: 10.0.10.9\n",
                "      ip: ten\n",
                "node4: ip is not an IP address",
            ),
            (
                hosts,
                "        kube_node:\n",
                "",
                "k8s_cluster must have child group kube_node",
            ),
            (
                k8s,
                "kube_pods_subnet: 10.233.64.0/18",
                "kube_pods_subnet: 10.233.0.0/17",
                "kube_pods_subnet cannot be the same network segment as kube_service_addresses",
            ),
            (
                k8s,
                "kube_service_addresses: 10.233.0.0/18",
                "kube_service_addresses: 10.233.0.1/18",
                "kube_service_addresses is not a valid network range",
            ),
            (
                k8s,
                "container_manager: containerd",
                "container_manager: podman",
                "The container manager, 'container_manager', must be docker, crio or containerd",
            ),
            (
                k8s,
                "container_manager: containerd",
                "container_manager: containerd\nkube_proxy_mode: userspace",
                "kube_proxy_mode can only be 'iptables' or 'ipvs'",
            ),
            (
                k8s,
                "kube_network_plugin: calico",
                "kube_network_plugin: canal",
                "canal is not supported",
            ),
            (
                k8s,
                "kube_proxy_strict_arp: true",
                "kube_proxy_strict_arp: false",
                "MetalLB require kube_proxy_strict_arp = true",
            ),
            (
                k8s,
                "kube_proxy_strict_arp: true",
                "kube_proxy_strict_arp: \"true\"",
                "kube_proxy_strict_arp isn't a bool",
            ),
            (
                addons,
                "  layer2:\n    - default",
                "  layer2:\n    - other",
                "layer2 names unknown pool String(\"other\")",
            ),
            (
                addons,
                "      auto_assign: true",
                "      auto_assign: yes",
                "pool default: auto_assign isn't a bool",
            ),
            (
                addons,
                "        - 66.70.218.96/28",
                "        - 66.70.218.96/2x",
                "pool default: bad ip_range entry String(\"66.70.218.96/2x\")",
            ),
            (
                crate::render::ALL_VARS_FILE,
                "  - 8.8.4.4",
                "  - dns.google",
                "upstream_dns_servers entry String(\"dns.google\") is not an address",
            ),
        ];
        for (path, from, to, expected) in cases {
            let problems = broken(path, from, to);
            assert!(
                problems.iter().any(|p| p == expected),
                "{expected}: got {problems:?}"
            );
        }
    }

    #[test]
    fn node_prefix_rules_apply_without_calico() {
        let k8s = crate::render::CLUSTER_VARS_FILE;
        let mut files = example();
        let f = files.iter_mut().find(|f| f.path == Path::new(k8s)).unwrap();
        f.contents = f
            .contents
            .replace(
                "kube_network_plugin: calico",
                "kube_network_plugin: flannel",
            )
            .replace(
                "kube_network_node_prefix: 24",
                "kube_network_node_prefix: 26",
            )
            .replace(
                "kube_pods_subnet: 10.233.64.0/18",
                "kube_pods_subnet: 10.233.64.0/25",
            );
        let problems = validate(&files);
        assert!(problems.contains(
            &"Do not schedule more pods on a node than inet addresses are available.".to_string()
        ));
        assert!(
            problems
                .contains(&"Not enough IPs are available for the desired node count.".to_string())
        );
    }
}
