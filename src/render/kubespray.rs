//! The Kubespray inventory: `hosts.yaml`, rackstrap's own `group_vars/*/zz-rackstrap.yml`
//! and `host_vars/...`. The variables written are read under the same names by every release
//! in `crate::plan::release::RELEASES` (checked against each release's tree by
//! `tests/kubespray_releases.rs`).
//!
//! Text is written by hand rather than through serde so that it looks like what the Akash
//! guide ("Kubernetes Cluster for Akash Providers") shows an operator (`node1:` with nothing after it, comments saying where values come
//! from) and stays byte-stable.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{ExtraGroup, RenderedFile, scalar};
use crate::plan::{Host, Plan, Relocate, Role};

/// Kubelet's data directory when nothing moves it.
pub const KUBELET_DEFAULT_DIR: &str = "/var/lib/kubelet";
/// containerd's data directory when nothing moves it.
pub const CONTAINERD_DEFAULT_DIR: &str = "/var/lib/containerd";

/// rackstrap's own group_vars files. Ansible reads the files of a `group_vars/<group>/`
/// directory in name order, so these come after the sample's `all.yml`, `k8s-cluster.yml`,
/// `addons.yml` and `k8s-net-*.yml` and win where both set a variable, while every setting
/// only the sample makes (`loadbalancer_apiserver_healthcheck_port`, ...) stays in force.
pub const ALL_VARS_FILE: &str = "group_vars/all/zz-rackstrap.yml";
pub const CLUSTER_VARS_FILE: &str = "group_vars/k8s_cluster/zz-rackstrap.yml";

pub(super) fn render(plan: &Plan, extra: &[ExtraGroup]) -> Vec<RenderedFile> {
    let hosts: Vec<&Host> = plan.hosts.iter().filter(|h| !h.roles.is_empty()).collect();
    let relocation = Relocation::of(plan, &hosts);
    let mut files = vec![RenderedFile::new(
        super::HOSTS_FILE,
        hosts_yaml(plan, &hosts, extra),
    )];
    for (name, vars) in &relocation.per_host {
        files.push(RenderedFile::new(
            format!("host_vars/{name}.yml"),
            host_vars(plan, name, vars),
        ));
    }
    files.push(RenderedFile::new(ALL_VARS_FILE, all_yml(plan)));
    let mut cluster = k8s_cluster_yml(plan, &relocation.cluster_wide);
    addons(plan, &mut cluster);
    calico(plan, &mut cluster);
    files.push(RenderedFile::new(CLUSTER_VARS_FILE, cluster));
    files
}

fn header(plan: &Plan, what: &str) -> String {
    format!(
        "# Written by rackstrap for cluster `{}` (Kubespray {}): {what}\n",
        plan.cluster.name, plan.cluster.kubespray.version
    )
}

/// The Akash guide's `hosts.yaml` (`ansible_host`, `ip`, `access_ip`, `etcd_member_name`
/// per host), plus `all.vars` for the SSH user (and port when not 22) and `node_labels` for
/// hosts that have labels (AIStore "Deploying AIS on k8s").
fn hosts_yaml(plan: &Plan, hosts: &[&Host], extra: &[ExtraGroup]) -> String {
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
    // Every etcd member's name written out (`Plan::etcd_member_names`), so the name is
    // visible and a cluster built before it was written keeps its etcd members.
    let members = plan.etcd_member_names();
    for h in hosts {
        let _ = writeln!(out, "    {}:", scalar(&h.name));
        let _ = writeln!(out, "      ansible_host: {}", scalar(&h.address));
        if h.address.parse::<std::net::IpAddr>().is_ok() {
            let _ = writeln!(out, "      ip: {}", h.address);
            let _ = writeln!(out, "      access_ip: {}", h.address);
        }
        if let Some((_, name)) = members.iter().find(|(m, _)| m.name == h.name) {
            let _ = writeln!(out, "      etcd_member_name: {}", scalar(name));
        }
        if !h.labels.is_empty() {
            out.push_str("      node_labels:\n");
            for (k, v) in &h.labels {
                let _ = writeln!(out, "        {}: {}", scalar(k), scalar(v));
            }
        }
    }
    out.push_str("  children:\n");
    let group = |out: &mut String, name: &str, members: Vec<&str>| {
        let _ = writeln!(out, "    {name}:");
        if members.is_empty() {
            out.push_str("      hosts: {}\n");
        } else {
            out.push_str("      hosts:\n");
            for h in members {
                let _ = writeln!(out, "        {}:", scalar(h));
            }
        }
    };
    let with = |role: Role| {
        hosts
            .iter()
            .filter(|h| h.has_role(role))
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
    };
    group(&mut out, "kube_control_plane", with(Role::ControlPlane));
    group(&mut out, "kube_node", with(Role::Worker));
    group(&mut out, "etcd", with(Role::Etcd));
    out.push_str(
        "    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n",
    );
    group(&mut out, "calico_rr", Vec::new());
    for g in extra.iter().filter(|g| !g.hosts.is_empty()) {
        group(
            &mut out,
            g.name,
            g.hosts.iter().map(String::as_str).collect(),
        );
    }
    out
}

/// Where kubelet and containerd data live, cluster-wide when every host agrees (the Akash
/// guide puts them in k8s-cluster.yml), per host otherwise.
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
    let mut out = header(plan, "Kubernetes settings and add-ons");
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

/// MetalLB and kube-vip. MetalLB's `nodeselector` is left to the role's defaults
/// (`metallb_speaker_nodeselector`, `metallb_controller_nodeselector`: `kubernetes.io/os:
/// linux`), which the manifests already carry; `metallb_protocol` is read by no release.
fn addons(plan: &Plan, out: &mut String) {
    let pools = &plan.network.load_balancer.pools;
    if pools.is_empty() {
        out.push_str("metallb_enabled: false\n");
    } else {
        out.push_str("# MetalLB deployed by Kubespray (Akash \"IP Leases - Provider Enablement\", option 2)\n");
        out.push_str("metallb_enabled: true\n");
        out.push_str("metallb_speaker_enabled: true\n");
        out.push_str("metallb_namespace: metallb-system\n");
        out.push_str("metallb_config:\n");
        for part in ["speaker", "controller"] {
            let _ = writeln!(out, "  {part}:");
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
}

/// Calico's MTU. With the default host MTU Calico detects its own (nothing written);
/// otherwise the plan's value, by default the host MTU less the 50 bytes of the VXLAN header
/// of Kubespray's default Calico mode (AIStore "Deploying AIS on k8s" sets it for jumbo
/// frames; Kubespray's sample `k8s-net-calico.yml` gives the arithmetic).
fn calico(plan: &Plan, out: &mut String) {
    let n = &plan.network;
    if plan.cluster.network_plugin != "calico"
        || (n.calico_mtu.is_none() && n.mtu == crate::net::DEFAULT_MTU)
    {
        return;
    }
    let _ = writeln!(
        out,
        "# Host MTU {}; Calico's at least {} below it for its VXLAN header.",
        n.mtu,
        crate::plan::release::CALICO_VXLAN_OVERHEAD
    );
    let _ = writeln!(out, "calico_mtu: {}", n.effective_calico_mtu());
}
