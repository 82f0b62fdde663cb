//! The ports between nodes a plan needs: which host must reach which other host on which
//! TCP or UDP ports, derived from the plan's choices, each entry with the component that
//! needs it and where that is written down.
//!
//! [`matrix`] turns a plan into a [`Matrix`]: entries between role groups ([`Peer`]), and the
//! plan hosts each group holds. Everything that shows or tests reachability reads it:
//! `rackstrap check --ports` prints [`Matrix::table`] (or the JSON of [`Matrix::report`]),
//! `render` writes [`Matrix::firewall_sheet`] for whoever runs the firewall, and Preflight's
//! probe between nodes asks [`Matrix::between`] what to try from one host to another.
//!
//! What is in it, and what is left out on purpose (docs/provisioning.md, "Ports between
//! nodes"):
//!
//! - Kubernetes, as "Ports and Protocols" gives it
//!   (<https://kubernetes.io/docs/reference/networking/ports-and-protocols/>): the API server
//!   (6443) from every node, etcd's client (2379) and peer (2380) ports, the kubelet API
//!   (10250) from the control planes, NodePort Services (30000-32767) from outside. The
//!   scheduler (10259), controller-manager (10257) and kube-proxy health (10256) ports are
//!   used only by the node itself (or an outside load balancer) and are not between nodes.
//! - The network plugin's data path between every pair of Kubernetes nodes: Calico's VXLAN
//!   (Kubespray's default backend), or BGP and IP-in-IP when chosen; Flannel's and Cilium's
//!   VXLAN; Cilium's health checks.
//! - MetalLB's memberlist when the plan has a pool, the control-plane VIP, the Akash
//!   provider's ports (from outside) for the Akash profile, AIStore's ports between the hosts
//!   that carry AIStore's node labels.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::model::{Plan, Profile, Role};

/// A transport, or IP-in-IP (IP protocol 4, no ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    /// IP protocol 4 (IP-in-IP): a firewall allows the protocol, there is no port.
    Ipip,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Ipip => "ipip",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One port or an inclusive range (`0` for IP-in-IP, which has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Ports {
    pub first: u16,
    pub last: u16,
}

impl Ports {
    pub const fn one(port: u16) -> Self {
        Self {
            first: port,
            last: port,
        }
    }

    pub const fn range(first: u16, last: u16) -> Self {
        Self { first, last }
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }

    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Who reaches, or is reached: a group of plan hosts, the world outside the cluster, or the
/// control-plane VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// Every Kubernetes node: control planes and workers (Kubespray's `k8s_cluster`).
    Node,
    ControlPlane,
    Etcd,
    Worker,
    /// Hosts with an AIStore proxy or target label ([`AIS_LABELS`]).
    AisNode,
    /// Hosts with the AIStore proxy label.
    AisProxy,
    /// Clients and operators outside the cluster.
    Outside,
    /// The control-plane virtual IP (`network.vip`), held by one control plane at a time.
    Vip,
}

impl Peer {
    /// How tables name the group.
    pub fn label(self) -> &'static str {
        match self {
            Peer::Node => "every node",
            Peer::ControlPlane => "control planes",
            Peer::Etcd => "etcd members",
            Peer::Worker => "workers",
            Peer::AisNode => "AIStore nodes",
            Peer::AisProxy => "AIStore proxies",
            Peer::Outside => "outside the cluster",
            Peer::Vip => "the VIP",
        }
    }

    /// Whether the group is made of plan hosts.
    pub fn is_hosts(self) -> bool {
        !matches!(self, Peer::Outside | Peer::Vip)
    }

    fn holds(self, plan_host: &super::model::Host) -> bool {
        if plan_host.roles.is_empty() {
            // Not in the inventory: not part of the cluster.
            return false;
        }
        let cp = plan_host.has_role(Role::ControlPlane);
        let worker = plan_host.has_role(Role::Worker);
        let ais = |key: &str| plan_host.labels.contains_key(key);
        match self {
            Peer::Node => cp || worker,
            Peer::ControlPlane => cp,
            Peer::Etcd => plan_host.has_role(Role::Etcd),
            Peer::Worker => worker,
            Peer::AisNode => AIS_LABELS.iter().any(|k| ais(k)),
            Peer::AisProxy => ais(AIS_PROXY_LABEL),
            Peer::Outside | Peer::Vip => false,
        }
    }
}

/// AIStore's node labels (AIStore "Deploying AIS on k8s"; NVIDIA/ais-k8s
/// `helm/ais/charts/ais-cluster/values.yaml`): a host carrying either runs AIS pods.
pub const AIS_PROXY_LABEL: &str = "nvidia.com/ais-proxy";
pub const AIS_TARGET_LABEL: &str = "nvidia.com/ais-target";
pub const AIS_LABELS: [&str; 2] = [AIS_PROXY_LABEL, AIS_TARGET_LABEL];

/// Calico's data path between nodes. Plans do not choose it yet: Kubespray's default is
/// VXLAN (`calico_network_backend: vxlan`, `calico_vxlan_mode: Always`, `calico_ipip_mode:
/// Never` in `roles/network_plugin/calico_defaults/defaults/main.yml`, v2.24.1 to v2.31.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CalicoBackend {
    #[default]
    Vxlan,
    /// BIRD's BGP sessions (TCP 179) and routes without encapsulation.
    Bgp,
    /// BIRD's BGP with IP-in-IP encapsulation (`calico_ipip_mode: Always`).
    BgpIpip,
}

/// The plan's choices the matrix follows beyond roles and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Choices {
    pub calico: CalicoBackend,
}

impl Choices {
    /// The choices a plan makes (today: Kubespray's defaults).
    pub fn of(_plan: &Plan) -> Self {
        Self::default()
    }
}

/// One line of the matrix: `from` reaches `to` on `proto`/`ports`, because of `component`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub from: Peer,
    pub to: Peer,
    pub proto: Proto,
    pub ports: Ports,
    /// What listens there (`etcd peer`).
    pub component: &'static str,
    /// Why the other side needs it.
    pub why: &'static str,
    /// Where a reader can check it.
    pub source: &'static str,
}

impl Entry {
    /// Reached from outside the cluster (clients, operators), not between nodes.
    pub fn external(&self) -> bool {
        self.from == Peer::Outside
    }

    /// Whether the probe between nodes can try it: between plan hosts, over TCP or UDP.
    pub fn probed(&self) -> bool {
        self.from.is_hosts() && self.to.is_hosts() && self.proto != Proto::Ipip
    }
}

/// Kubernetes "Ports and Protocols".
const K8S_PORTS: &str = "kubernetes.io \"Ports and Protocols\" (https://kubernetes.io/docs/reference/networking/ports-and-protocols/)";
const KUBESPRAY_ETCD: &str = "Kubespray roles/etcd/tasks/configure.yml, \"Configure | Wait for etcd cluster to be healthy\" (etcdctl endpoint --cluster health)";
const CALICO_REQS: &str = "Calico \"System requirements\", network requirements (https://docs.tigera.io/calico/latest/getting-started/kubernetes/requirements); Kubespray docs/operations/port-requirements.md";
const FLANNEL: &str =
    "Kubespray roles/network_plugin/flannel/defaults/main.yml (flannel_vxlan_port: 8472)";
const CILIUM: &str = "Kubespray docs/operations/port-requirements.md, \"Cilium\"";
const METALLB: &str = "MetalLB (https://metallb.universe.tf/): \"traffic on port 7946 (TCP & UDP) must be allowed between nodes\"; Kubespray metallb_memberlist_port";
const KUBE_VIP: &str =
    "Kubespray kube-vip variables (kube_vip_address, loadbalancer_apiserver port 6443)";
const AKASH: &str = "Akash provider guide, \"Step 9 - Firewall rule review\" (akash-network/docs)";
const AIS: &str = "NVIDIA/ais-k8s docs/network_configuration.md";

/// The whole matrix of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    pub cluster: String,
    pub network_plugin: String,
    pub choices: Choices,
    pub entries: Vec<Entry>,
    /// Plan hosts (name, address) of each host group, in plan order.
    pub groups: BTreeMap<Peer, Vec<(String, String)>>,
    /// The control-plane VIP, when the plan has one.
    pub vip: Option<String>,
    /// What the matrix cannot say (a network plugin whose ports rackstrap does not list).
    pub notes: Vec<String>,
}

/// The matrix of `plan` with the choices it makes.
pub fn matrix(plan: &Plan) -> Matrix {
    matrix_with(plan, Choices::of(plan))
}

/// The matrix of `plan` with `choices` in place of the plan's own.
pub fn matrix_with(plan: &Plan, choices: Choices) -> Matrix {
    let mut e = Vec::new();
    let akash = plan.cluster.profile == Some(Profile::Akash);
    kubernetes(&mut e, akash);
    let notes = network_plugin(&mut e, plan, &choices);
    metallb(&mut e, plan);
    let vip = plan.network.vip.as_ref().map(|v| v.trim().to_string());
    if vip.is_some() {
        vip_entries(&mut e);
    }
    if akash {
        akash_provider(&mut e);
    }
    let groups = groups_of(plan);
    aistore(&mut e, &groups);
    Matrix {
        cluster: plan.cluster.name.clone(),
        network_plugin: plan.cluster.network_plugin.clone(),
        choices,
        entries: e,
        groups,
        vip,
        notes,
    }
}

/// One entry of the matrix.
fn entry(
    from: Peer,
    to: Peer,
    proto: Proto,
    ports: Ports,
    component: &'static str,
    why: &'static str,
    source: &'static str,
) -> Entry {
    Entry {
        from,
        to,
        proto,
        ports,
        component,
        why,
        source,
    }
}

/// Kubernetes' own ports: the API server, etcd, the kubelet API and NodePort Services.
fn kubernetes(e: &mut Vec<Entry>, akash: bool) {
    use Peer::*;
    use Proto::*;
    e.push(entry(
        Node,
        ControlPlane,
        Tcp,
        Ports::one(6443),
        "Kubernetes API server",
        "kubelet, kube-proxy and pods on every node talk to the API server",
        K8S_PORTS,
    ));
    e.push(entry(
        Outside,
        ControlPlane,
        Tcp,
        Ports::one(6443),
        "Kubernetes API server",
        "kubectl from the operator's machine",
        K8S_PORTS,
    ));
    e.push(entry(
        ControlPlane,
        Etcd,
        Tcp,
        Ports::one(2379),
        "etcd client API",
        "the API servers keep the cluster's state in etcd",
        K8S_PORTS,
    ));
    e.push(entry(
        Etcd,
        Etcd,
        Tcp,
        Ports::one(2379),
        "etcd client API",
        "Kubespray checks every member's health from one member",
        KUBESPRAY_ETCD,
    ));
    e.push(entry(
        Etcd,
        Etcd,
        Tcp,
        Ports::one(2380),
        "etcd peer",
        "etcd members replicate to each other",
        K8S_PORTS,
    ));
    e.push(entry(
        ControlPlane,
        Node,
        Tcp,
        Ports::one(10250),
        "kubelet API",
        "the API server reaches kubelets for logs, exec and port-forward",
        K8S_PORTS,
    ));
    let nodeports = Ports::range(30000, 32767);
    for proto in [Tcp, Udp] {
        if akash {
            e.push(entry(
                Outside,
                Worker,
                proto,
                nodeports,
                "NodePort Services (Akash deployments)",
                "tenants' deployments are reached on node ports",
                AKASH,
            ));
        } else {
            e.push(entry(
                Outside,
                Node,
                proto,
                nodeports,
                "NodePort Services",
                "clients reach NodePort Services on any node",
                K8S_PORTS,
            ));
        }
    }
}

/// The network plugin's data path; what the matrix cannot say about the plugin comes back
/// as notes.
fn network_plugin(e: &mut Vec<Entry>, plan: &Plan, choices: &Choices) -> Vec<String> {
    use Peer::*;
    use Proto::*;
    let mut notes = Vec::new();
    match plan.cluster.network_plugin.as_str() {
        "calico" => match choices.calico {
            CalicoBackend::Vxlan => e.push(entry(
                Node,
                Node,
                Udp,
                Ports::one(4789),
                "Calico VXLAN",
                "pod traffic between nodes is VXLAN-encapsulated (Kubespray's default backend)",
                CALICO_REQS,
            )),
            backend => {
                e.push(entry(
                    Node,
                    Node,
                    Tcp,
                    Ports::one(179),
                    "Calico BGP",
                    "BIRD on each node exchanges pod routes with the others",
                    CALICO_REQS,
                ));
                if backend == CalicoBackend::BgpIpip {
                    e.push(entry(
                        Node,
                        Node,
                        Ipip,
                        Ports::one(0),
                        "Calico IP-in-IP",
                        "pod traffic between nodes is IP-in-IP-encapsulated",
                        CALICO_REQS,
                    ));
                }
            }
        },
        "flannel" => e.push(entry(
            Node,
            Node,
            Udp,
            Ports::one(8472),
            "Flannel VXLAN",
            "pod traffic between nodes is VXLAN-encapsulated",
            FLANNEL,
        )),
        "cilium" => {
            e.push(entry(
                Node,
                Node,
                Udp,
                Ports::one(8472),
                "Cilium VXLAN",
                "pod traffic between nodes is VXLAN-encapsulated (cilium_tunnel_mode: vxlan)",
                CILIUM,
            ));
            e.push(entry(
                Node,
                Node,
                Tcp,
                Ports::one(4240),
                "Cilium health",
                "cilium-health checks every other node",
                CILIUM,
            ));
        }
        "none" | "cni" | "custom_cni" => notes.push(format!(
            "network plugin `{}`: the plugin installed by hand brings its own ports",
            plan.cluster.network_plugin
        )),
        other => notes.push(format!(
            "network plugin `{other}`: rackstrap does not list its ports; see the plugin's documentation"
        )),
    }
    notes
}

/// MetalLB's memberlist, when the plan has an address pool.
fn metallb(e: &mut Vec<Entry>, plan: &Plan) {
    use Peer::*;
    use Proto::*;
    if !plan.network.load_balancer.pools.is_empty() {
        for proto in [Tcp, Udp] {
            e.push(entry(
                Node,
                Node,
                proto,
                Ports::one(7946),
                "MetalLB memberlist",
                "MetalLB speakers elect the node announcing each address (layer 2)",
                METALLB,
            ));
        }
    }
}

/// The API server through the control-plane VIP.
fn vip_entries(e: &mut Vec<Entry>) {
    use Peer::*;
    use Proto::*;
    e.push(entry(
        Node,
        Vip,
        Tcp,
        Ports::one(6443),
        "Kubernetes API server (VIP)",
        "kubelets reach the API through the VIP (kube-vip, ARP: control planes on one layer 2 segment)",
        KUBE_VIP,
    ));
    e.push(entry(
        Outside,
        Vip,
        Tcp,
        Ports::one(6443),
        "Kubernetes API server (VIP)",
        "kubectl from the operator's machine",
        KUBE_VIP,
    ));
}

/// The Akash provider's ports, reached from outside.
fn akash_provider(e: &mut Vec<Entry>) {
    use Peer::*;
    use Proto::*;
    for (port, component, why) in [
        (
            8443,
            "Akash provider (manifests)",
            "tenants send deployment manifests",
        ),
        (
            8444,
            "Akash provider (gRPC)",
            "bid screening and feature discovery",
        ),
        (80, "ingress (HTTP)", "tenants' web deployments"),
        (443, "ingress (HTTPS)", "tenants' web deployments"),
    ] {
        e.push(entry(
            Outside,
            Worker,
            Tcp,
            Ports::one(port),
            component,
            why,
            AKASH,
        ));
    }
}

/// The plan hosts (name, address) of each host group, in plan order.
fn groups_of(plan: &Plan) -> BTreeMap<Peer, Vec<(String, String)>> {
    use Peer::*;
    [Node, ControlPlane, Etcd, Worker, AisNode, AisProxy]
        .into_iter()
        .map(|p| {
            (
                p,
                plan.hosts
                    .iter()
                    .filter(|h| p.holds(h))
                    .map(|h| (h.name.clone(), h.address.trim().to_string()))
                    .collect(),
            )
        })
        .collect()
}

/// AIStore's ports, between the hosts that carry its node labels.
fn aistore(e: &mut Vec<Entry>, groups: &BTreeMap<Peer, Vec<(String, String)>>) {
    use Peer::*;
    use Proto::*;
    if groups.get(&AisNode).is_some_and(|g| !g.is_empty()) {
        e.push(entry(
            AisNode,
            AisNode,
            Tcp,
            Ports::range(51080, 51083),
            "AIStore",
            "proxies and targets: public (51080, 51081), intra-cluster control (51082) and data (51083)",
            AIS,
        ));
        e.push(entry(
            Outside,
            AisProxy,
            Tcp,
            Ports::one(51080),
            "AIStore proxy",
            "clients reach the AIS gateway",
            AIS,
        ));
    }
}

/// A host's side of an entry: the other hosts (or the world) it accepts the entry from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accept {
    pub proto: Proto,
    pub ports: Ports,
    pub component: &'static str,
    /// Plan host names it is reached from; empty with `outside`.
    pub from: Vec<String>,
    pub outside: bool,
}

impl Matrix {
    /// The plan hosts (name, address) of a group; empty for `Outside` and `Vip`.
    pub fn members(&self, peer: Peer) -> &[(String, String)] {
        self.groups.get(&peer).map(Vec::as_slice).unwrap_or(&[])
    }

    fn holds(&self, peer: Peer, host: &str) -> bool {
        self.members(peer).iter().any(|(n, _)| n == host)
    }

    /// The entries `from` must reach on `to` (two different plan hosts), in matrix order.
    pub fn between(&self, from: &str, to: &str) -> Vec<&Entry> {
        if from == to {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|e| e.probed() && self.holds(e.from, from) && self.holds(e.to, to))
            .collect()
    }

    /// What `host` must accept, and from whom: the firewall rules it needs. Entries for the
    /// same port and component (etcd's client port from control planes and from members)
    /// are one rule with the sources of both.
    pub fn accepts(&self, host: &str) -> Vec<Accept> {
        let mut out: Vec<Accept> = Vec::new();
        let all = self
            .entries
            .iter()
            .filter(|e| e.to.is_hosts() && self.holds(e.to, host))
            .map(|e| Accept {
                proto: e.proto,
                ports: e.ports,
                component: e.component,
                from: self
                    .members(e.from)
                    .iter()
                    .filter(|(n, _)| n != host)
                    .map(|(n, _)| n.clone())
                    .collect(),
                outside: e.external(),
            })
            .filter(|a| a.outside || !a.from.is_empty());
        for a in all {
            let same = |b: &&mut Accept| {
                (b.proto, b.ports, b.component, b.outside)
                    == (a.proto, a.ports, a.component, a.outside)
            };
            match out.iter_mut().find(same) {
                Some(b) => {
                    for n in a.from {
                        if !b.from.contains(&n) {
                            b.from.push(n);
                        }
                    }
                }
                None => out.push(a),
            }
        }
        out
    }

    /// The entries grouped by role pair (`from`, `to`), pairs in the order they first appear,
    /// those between plan hosts before those from outside.
    pub fn pairs(&self) -> Vec<((Peer, Peer), Vec<&Entry>)> {
        let mut out: Vec<((Peer, Peer), Vec<&Entry>)> = Vec::new();
        let inside = self.entries.iter().filter(|e| !e.external());
        for e in inside.chain(self.entries.iter().filter(|e| e.external())) {
            match out.iter_mut().find(|(k, _)| *k == (e.from, e.to)) {
                Some((_, v)) => v.push(e),
                None => out.push(((e.from, e.to), vec![e])),
            }
        }
        out
    }
}

mod render;
pub use render::{EntryReport, HostReport, Report};

#[cfg(test)]
mod tests;
