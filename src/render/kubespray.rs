//! The Kubespray inventory: `hosts.yaml`, `group_vars/...` and `host_vars/...`, with the
//! variable names of Kubespray v2.24 (inventory/sample of that release).
//!
//! Text is written by hand rather than through serde so that it looks like what Akash "Kubernetes Cluster for
//! Akash Providers" ("STEP 4 - Ansible Inventory") shows an operator (`node1:` with nothing after it, comments saying where values come
//! from) and stays byte-stable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{RenderedFile, scalar};
use crate::plan::{Host, Plan, Relocate, Role};

/// Kubelet's data directory when nothing moves it.
pub const KUBELET_DEFAULT_DIR: &str = "/var/lib/kubelet";
/// containerd's data directory when nothing moves it.
pub const CONTAINERD_DEFAULT_DIR: &str = "/var/lib/containerd";

/// Host MTU Kubespray and Calico assume; with it, Calico picks its own MTU.
const DEFAULT_MTU: u32 = 1500;

pub(super) fn render(plan: &Plan) -> Vec<RenderedFile> {
    let hosts: Vec<&Host> = plan.hosts.iter().filter(|h| !h.roles.is_empty()).collect();
    let relocation = Relocation::of(plan, &hosts);
    let mut files = vec![RenderedFile::new(
        super::HOSTS_FILE,
        hosts_yaml(plan, &hosts),
    )];
    for (name, vars) in &relocation.per_host {
        files.push(RenderedFile::new(
            format!("host_vars/{name}.yml"),
            host_vars(plan, name, vars),
        ));
    }
    files.push(RenderedFile::new("group_vars/all/all.yml", all_yml(plan)));
    files.push(RenderedFile::new(
        "group_vars/k8s_cluster/k8s-cluster.yml",
        k8s_cluster_yml(plan, &relocation.cluster_wide),
    ));
    files.push(RenderedFile::new(
        "group_vars/k8s_cluster/addons.yml",
        addons_yml(plan),
    ));
    if let Some(calico) = calico_yml(plan) {
        files.push(RenderedFile::new(
            "group_vars/k8s_cluster/k8s-net-calico.yml",
            calico,
        ));
    }
    files
}

fn header(plan: &Plan, what: &str) -> String {
    format!(
        "# Written by rackstrap for cluster `{}` (Kubespray {}): {what}\n",
        plan.cluster.name, plan.cluster.kubespray.version
    )
}

/// The `hosts.yaml` of Akash "Kubernetes Cluster for Akash Providers" ("STEP 4 - Ansible
/// Inventory"), plus `all.vars` for the SSH user (and port when not 22) and `node_labels` for
/// hosts that have labels (AIStore "Deploying AIS on k8s").
fn hosts_yaml(plan: &Plan, hosts: &[&Host]) -> String {
    let mut out = header(
        plan,
        "the inventory (shaped as in the Akash provider guide)",
    );
    out.push_str("all:\n  vars:\n");
    let _ = writeln!(out, "    ansible_user: {}", scalar(&plan.access.user));
    if plan.access.port != 22 {
        let _ = writeln!(out, "    ansible_port: {}", plan.access.port);
    }
    out.push_str("  hosts:\n");
    for h in hosts {
        let _ = writeln!(out, "    {}:", scalar(&h.name));
        let _ = writeln!(out, "      ansible_host: {}", scalar(&h.address));
        if h.address.parse::<std::net::IpAddr>().is_ok() {
            let _ = writeln!(out, "      ip: {}", h.address);
            let _ = writeln!(out, "      access_ip: {}", h.address);
        }
        // Kubespray names a member `etcd<position>` when this is unset, so reordering the
        // etcd group (as adding or removing a control plane does) would rename members.
        if h.has_role(Role::Etcd) {
            let _ = writeln!(out, "      etcd_member_name: {}", scalar(&h.name));
        }
        if !h.labels.is_empty() {
            out.push_str("      node_labels:\n");
            for (k, v) in &h.labels {
                let _ = writeln!(out, "        {}: {}", scalar(k), scalar(v));
            }
        }
    }
    out.push_str("  children:\n");
    let group = |out: &mut String, name: &str, members: Vec<&&Host>| {
        let _ = writeln!(out, "    {name}:");
        if members.is_empty() {
            out.push_str("      hosts: {}\n");
        } else {
            out.push_str("      hosts:\n");
            for h in members {
                let _ = writeln!(out, "        {}:", scalar(&h.name));
            }
        }
    };
    let with = |role: Role| {
        hosts
            .iter()
            .filter(|h| h.has_role(role))
            .collect::<Vec<_>>()
    };
    group(&mut out, "kube_control_plane", with(Role::ControlPlane));
    group(&mut out, "kube_node", with(Role::Worker));
    group(&mut out, "etcd", with(Role::Etcd));
    out.push_str(
        "    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n",
    );
    group(&mut out, "calico_rr", Vec::new());
    out
}

/// Where kubelet and containerd data live, cluster-wide when every host agrees (the Akash
/// provider guide puts them in k8s-cluster.yml), per host otherwise.
struct Relocation {
    cluster_wide: BTreeMap<Relocate, String>,
    per_host: BTreeMap<String, BTreeMap<Relocate, String>>,
}

impl Relocation {
    fn of(_plan: &Plan, hosts: &[&Host]) -> Self {
        let dirs = |h: &Host| -> BTreeMap<Relocate, String> {
            let mut m = BTreeMap::new();
            for layout in &h.storage {
                for r in &layout.relocate {
                    let base = layout.mount.trim_end_matches('/');
                    let sub = match r {
                        Relocate::Kubelet => "kubelet",
                        Relocate::Containerd => "containerd",
                    };
                    m.insert(*r, format!("{base}/{sub}"));
                }
            }
            m
        };
        let all: Vec<(String, BTreeMap<Relocate, String>)> =
            hosts.iter().map(|h| (h.name.clone(), dirs(h))).collect();
        let mut cluster_wide = BTreeMap::new();
        let mut per_host: BTreeMap<String, BTreeMap<Relocate, String>> = BTreeMap::new();
        for r in [Relocate::Kubelet, Relocate::Containerd] {
            let values: Vec<Option<&String>> = all.iter().map(|(_, m)| m.get(&r)).collect();
            let first = values.first().copied().flatten();
            if first.is_some() && values.iter().all(|v| *v == first) {
                if let Some(dir) = first {
                    cluster_wide.insert(r, dir.clone());
                }
            } else {
                for (name, m) in &all {
                    if let Some(dir) = m.get(&r) {
                        per_host
                            .entry(name.clone())
                            .or_default()
                            .insert(r, dir.clone());
                    }
                }
            }
        }
        Self {
            cluster_wide,
            per_host,
        }
    }
}

fn relocation_vars(out: &mut String, vars: &BTreeMap<Relocate, String>, indent: &str) {
    if let Some(dir) = vars.get(&Relocate::Containerd) {
        out.push_str(
            "# containerd data on the data filesystem (Akash provider guide, ephemeral storage).\n",
        );
        let _ = writeln!(out, "{indent}containerd_storage_dir: {}", scalar(dir));
    }
    if let Some(dir) = vars.get(&Relocate::Kubelet) {
        out.push_str("# kubelet's root directory on the data filesystem (Akash provider guide, ephemeral storage).\n");
        let _ = writeln!(out, "{indent}kubelet_custom_flags:");
        let _ = writeln!(out, "{indent}  - {}", scalar(&format!("--root-dir={dir}")));
    }
}

fn host_vars(plan: &Plan, name: &str, vars: &BTreeMap<Relocate, String>) -> String {
    let mut out = header(plan, &format!("settings for {name} only"));
    relocation_vars(&mut out, vars, "");
    out
}

fn all_yml(plan: &Plan) -> String {
    let mut out = header(plan, "settings for every host");
    if !plan.network.upstream_dns.is_empty() {
        out.push_str("## Upstream dns servers\nupstream_dns_servers:\n");
        for dns in &plan.network.upstream_dns {
            let _ = writeln!(out, "  - {}", scalar(dns.trim()));
        }
    }
    if let Some(vip) = &plan.network.vip {
        out.push_str("## The API server behind the control-plane VIP (kube-vip, see addons.yml)\n");
        out.push_str("loadbalancer_apiserver:\n");
        let _ = writeln!(out, "  address: {}", scalar(vip.trim()));
        out.push_str("  port: 6443\n");
        out.push_str("loadbalancer_apiserver_localhost: false\n");
    }
    out
}

/// Strict ARP is needed for MetalLB's and kube-vip's layer 2 mode with kube-proxy in IPVS
/// mode (Akash "IP Leases - Provider Enablement"; Kubespray's MetalLB role fails without it).
pub(super) fn needs_strict_arp(plan: &Plan) -> bool {
    !plan.network.load_balancer.pools.is_empty() || plan.network.vip.is_some()
}

fn k8s_cluster_yml(plan: &Plan, relocation: &BTreeMap<Relocate, String>) -> String {
    let n = &plan.network;
    let c = &plan.cluster;
    let mut out = header(plan, "Kubernetes settings");
    let _ = writeln!(out, "kube_network_plugin: {}", scalar(&c.network_plugin));
    let _ = writeln!(out, "container_manager: {}", scalar(&c.container_manager));
    let _ = writeln!(
        out,
        "kube_service_addresses: {}",
        scalar(n.service_cidr.trim())
    );
    let _ = writeln!(out, "kube_pods_subnet: {}", scalar(n.pod_cidr.trim()));
    let _ = writeln!(out, "kube_network_node_prefix: {}", n.node_prefix);
    let _ = writeln!(out, "cluster_name: {}", scalar(&c.domain));
    // The operator's kubeconfig: Kubespray copies admin.conf to
    // `inventory/<name>/artifacts/admin.conf` on the machine that runs Ansible, which is
    // where the wizard's Done screen and the docs send the operator.
    out.push_str(
        "# Copy the cluster's kubeconfig to inventory/<name>/artifacts/admin.conf here.\n",
    );
    out.push_str("kubeconfig_localhost: true\n");
    if needs_strict_arp(plan) {
        out.push_str(
            "# MetalLB / kube-vip layer 2 with kube-proxy in IPVS mode needs strict ARP.\n",
        );
        out.push_str("kube_proxy_strict_arp: true\n");
    }
    relocation_vars(&mut out, relocation, "");
    out
}

fn addons_yml(plan: &Plan) -> String {
    let mut out = header(plan, "add-ons");
    let pools = &plan.network.load_balancer.pools;
    if pools.is_empty() {
        out.push_str("metallb_enabled: false\n");
    } else {
        out.push_str("# MetalLB deployed by Kubespray (Akash \"IP Leases - Provider Enablement\", option 2)\n");
        out.push_str("metallb_enabled: true\n");
        out.push_str("metallb_speaker_enabled: true\n");
        out.push_str("metallb_namespace: metallb-system\n");
        out.push_str("metallb_protocol: layer2\n");
        out.push_str("metallb_config:\n");
        for part in ["speaker", "controller"] {
            let _ = writeln!(out, "  {part}:");
            out.push_str("    nodeselector:\n      kubernetes.io/os: linux\n");
            out.push_str("    tolerations:\n");
            out.push_str("      - key: node-role.kubernetes.io/control-plane\n");
            out.push_str(
                "        operator: Equal\n        value: \"\"\n        effect: NoSchedule\n",
            );
        }
        out.push_str("  address_pools:\n");
        for pool in pools {
            let _ = writeln!(out, "    {}:", scalar(&pool.name));
            out.push_str("      ip_range:\n");
            for a in &pool.addresses {
                let _ = writeln!(out, "        - {}", scalar(&crate::net::canonical_entry(a)));
            }
            let _ = writeln!(out, "      auto_assign: {}", pool.auto_assign);
        }
        out.push_str("  layer2:\n");
        for pool in pools {
            let _ = writeln!(out, "    - {}", scalar(&pool.name));
        }
    }
    if let Some(vip) = &plan.network.vip {
        out.push_str(
            "# Kube VIP: the control-plane virtual IP, answered by one control plane at a time\n",
        );
        out.push_str("kube_vip_enabled: true\n");
        out.push_str("kube_vip_arp_enabled: true\n");
        out.push_str("kube_vip_controlplane_enabled: true\n");
        let _ = writeln!(out, "kube_vip_address: {}", scalar(vip.trim()));
    }
    out
}

/// Calico's MTU. With the default host MTU Calico detects its own (no file); otherwise the
/// plan's value (default: 20 below the host MTU, as AIStore "Deploying AIS on k8s"
/// sets it).
fn calico_yml(plan: &Plan) -> Option<String> {
    let n = &plan.network;
    if plan.cluster.network_plugin != "calico" || (n.calico_mtu.is_none() && n.mtu == DEFAULT_MTU) {
        return None;
    }
    let mut out = header(plan, "Calico");
    {
        let _ = writeln!(
            out,
            "# Host MTU {}; Calico's at least 20 below it for its tunnel header.",
            n.mtu
        );
        let _ = writeln!(out, "calico_mtu: {}", n.effective_calico_mtu());
    }
    Some(out)
}
