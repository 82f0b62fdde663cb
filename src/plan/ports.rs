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
use std::fmt::Write as _;

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
    let mut add = |from: Peer,
                   to: Peer,
                   proto: Proto,
                   ports: Ports,
                   component: &'static str,
                   why: &'static str,
                   source: &'static str| {
        e.push(Entry {
            from,
            to,
            proto,
            ports,
            component,
            why,
            source,
        })
    };
    use Peer::*;
    use Proto::*;
    add(
        Node,
        ControlPlane,
        Tcp,
        Ports::one(6443),
        "Kubernetes API server",
        "kubelet, kube-proxy and pods on every node talk to the API server",
        K8S_PORTS,
    );
    add(
        Outside,
        ControlPlane,
        Tcp,
        Ports::one(6443),
        "Kubernetes API server",
        "kubectl from the operator's machine",
        K8S_PORTS,
    );
    add(
        ControlPlane,
        Etcd,
        Tcp,
        Ports::one(2379),
        "etcd client API",
        "the API servers keep the cluster's state in etcd",
        K8S_PORTS,
    );
    add(
        Etcd,
        Etcd,
        Tcp,
        Ports::one(2379),
        "etcd client API",
        "Kubespray checks every member's health from one member",
        KUBESPRAY_ETCD,
    );
    add(
        Etcd,
        Etcd,
        Tcp,
        Ports::one(2380),
        "etcd peer",
        "etcd members replicate to each other",
        K8S_PORTS,
    );
    add(
        ControlPlane,
        Node,
        Tcp,
        Ports::one(10250),
        "kubelet API",
        "the API server reaches kubelets for logs, exec and port-forward",
        K8S_PORTS,
    );
    let nodeports = Ports::range(30000, 32767);
    let akash = plan.cluster.profile == Some(Profile::Akash);
    for proto in [Tcp, Udp] {
        if akash {
            add(
                Outside,
                Worker,
                proto,
                nodeports,
                "NodePort Services (Akash deployments)",
                "tenants' deployments are reached on node ports",
                AKASH,
            );
        } else {
            add(
                Outside,
                Node,
                proto,
                nodeports,
                "NodePort Services",
                "clients reach NodePort Services on any node",
                K8S_PORTS,
            );
        }
    }
    let mut notes = Vec::new();
    match plan.cluster.network_plugin.as_str() {
        "calico" => match choices.calico {
            CalicoBackend::Vxlan => add(
                Node,
                Node,
                Udp,
                Ports::one(4789),
                "Calico VXLAN",
                "pod traffic between nodes is VXLAN-encapsulated (Kubespray's default backend)",
                CALICO_REQS,
            ),
            backend => {
                add(
                    Node,
                    Node,
                    Tcp,
                    Ports::one(179),
                    "Calico BGP",
                    "BIRD on each node exchanges pod routes with the others",
                    CALICO_REQS,
                );
                if backend == CalicoBackend::BgpIpip {
                    add(
                        Node,
                        Node,
                        Ipip,
                        Ports::one(0),
                        "Calico IP-in-IP",
                        "pod traffic between nodes is IP-in-IP-encapsulated",
                        CALICO_REQS,
                    );
                }
            }
        },
        "flannel" => add(
            Node,
            Node,
            Udp,
            Ports::one(8472),
            "Flannel VXLAN",
            "pod traffic between nodes is VXLAN-encapsulated",
            FLANNEL,
        ),
        "cilium" => {
            add(
                Node,
                Node,
                Udp,
                Ports::one(8472),
                "Cilium VXLAN",
                "pod traffic between nodes is VXLAN-encapsulated (cilium_tunnel_mode: vxlan)",
                CILIUM,
            );
            add(
                Node,
                Node,
                Tcp,
                Ports::one(4240),
                "Cilium health",
                "cilium-health checks every other node",
                CILIUM,
            );
        }
        "none" | "cni" | "custom_cni" => notes.push(format!(
            "network plugin `{}`: the plugin installed by hand brings its own ports",
            plan.cluster.network_plugin
        )),
        other => notes.push(format!(
            "network plugin `{other}`: rackstrap does not list its ports; see the plugin's documentation"
        )),
    }
    if !plan.network.load_balancer.pools.is_empty() {
        for proto in [Tcp, Udp] {
            add(
                Node,
                Node,
                proto,
                Ports::one(7946),
                "MetalLB memberlist",
                "MetalLB speakers elect the node announcing each address (layer 2)",
                METALLB,
            );
        }
    }
    let vip = plan.network.vip.as_ref().map(|v| v.trim().to_string());
    if vip.is_some() {
        add(
            Node,
            Vip,
            Tcp,
            Ports::one(6443),
            "Kubernetes API server (VIP)",
            "kubelets reach the API through the VIP (kube-vip, ARP: control planes on one layer 2 segment)",
            KUBE_VIP,
        );
        add(
            Outside,
            Vip,
            Tcp,
            Ports::one(6443),
            "Kubernetes API server (VIP)",
            "kubectl from the operator's machine",
            KUBE_VIP,
        );
    }
    if akash {
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
            add(
                Outside,
                Worker,
                Tcp,
                Ports::one(port),
                component,
                why,
                AKASH,
            );
        }
    }
    let groups: BTreeMap<Peer, Vec<(String, String)>> =
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
            .collect();
    if groups.get(&AisNode).is_some_and(|g| !g.is_empty()) {
        add(
            AisNode,
            AisNode,
            Tcp,
            Ports::range(51080, 51083),
            "AIStore",
            "proxies and targets: public (51080, 51081), intra-cluster control (51082) and data (51083)",
            AIS,
        );
        add(
            Outside,
            AisProxy,
            Tcp,
            Ports::one(51080),
            "AIStore proxy",
            "clients reach the AIS gateway",
            AIS,
        );
    }
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

    /// A group as tables name it: `control planes (node1, node2)`, `the VIP (10.0.0.5)`.
    fn side(&self, peer: Peer) -> String {
        match peer {
            Peer::Outside => peer.label().to_string(),
            Peer::Vip => format!("{} ({})", peer.label(), self.vip.as_deref().unwrap_or("")),
            p => {
                let names: Vec<&str> = self.members(p).iter().map(|(n, _)| n.as_str()).collect();
                if names.is_empty() {
                    format!("{} (none)", p.label())
                } else {
                    format!("{} ({})", p.label(), names.join(", "))
                }
            }
        }
    }

    fn title(&self) -> String {
        let mut plugin = self.network_plugin.clone();
        if plugin == "calico" {
            plugin.push_str(match self.choices.calico {
                CalicoBackend::Vxlan => ", VXLAN",
                CalicoBackend::Bgp => ", BGP",
                CalicoBackend::BgpIpip => ", BGP with IP-in-IP",
            });
        }
        format!(
            "Ports between nodes for cluster `{}` ({plugin})",
            self.cluster
        )
    }

    /// The matrix as text: one table per role pair (`from -> to`), each line protocol,
    /// ports, component and why; external pairs say so; sources listed once at the end.
    pub fn table(&self) -> String {
        use crate::text::{pad, printable};
        let mut out = format!("{}\n", printable(&self.title()));
        let mut sources: Vec<&str> = Vec::new();
        let pw = self
            .entries
            .iter()
            .map(|e| e.ports.to_string().len())
            .max()
            .unwrap_or(0);
        let cw = self
            .entries
            .iter()
            .map(|e| e.component.len())
            .max()
            .unwrap_or(0);
        for ((from, to), entries) in self.pairs() {
            out.push('\n');
            let _ = write!(
                out,
                "{} -> {}",
                printable(&self.side(from)),
                printable(&self.side(to))
            );
            if from == Peer::Outside {
                out.push_str("  [reachable from outside]");
            }
            out.push('\n');
            for e in entries {
                let n = match sources.iter().position(|s| *s == e.source) {
                    Some(i) => i + 1,
                    None => {
                        sources.push(e.source);
                        sources.len()
                    }
                };
                let ports = if e.proto == Proto::Ipip {
                    "-".to_string()
                } else {
                    e.ports.to_string()
                };
                let _ = writeln!(
                    out,
                    "  {}  {}  {}  {} [{n}]",
                    pad(e.proto.as_str(), 4),
                    pad(&ports, pw),
                    pad(e.component, cw),
                    e.why
                );
            }
        }
        for note in &self.notes {
            let _ = write!(out, "\nnote: {}\n", printable(note));
        }
        out.push_str("\nsources:\n");
        for (i, s) in sources.iter().enumerate() {
            let _ = writeln!(out, "  [{}] {s}", i + 1);
        }
        out
    }

    /// The file `render` writes for whoever runs the firewall: per host, what it must accept
    /// and from which addresses, then the table by role pair.
    pub fn firewall_sheet(&self) -> String {
        let addr = |name: &str| {
            self.members(Peer::Node)
                .iter()
                .chain(self.members(Peer::Etcd))
                .chain(self.members(Peer::AisNode))
                .find(|(n, _)| n == name)
                .map(|(_, a)| a.clone())
                .unwrap_or_default()
        };
        let mut hosts: Vec<(String, String)> = Vec::new();
        for p in [Peer::Node, Peer::Etcd, Peer::AisNode] {
            for (n, a) in self.members(p) {
                if !hosts.iter().any(|(h, _)| h == n) {
                    hosts.push((n.clone(), a.clone()));
                }
            }
        }
        let mut out = String::from(
            "# Firewall rules the cluster needs, written by rackstrap from the plan.\n\
             # Each host must accept these (inbound); `rackstrap check PLAN --ports` prints the\n\
             # same matrix, and Preflight probes it between the hosts before anything changes.\n\n",
        );
        for (name, address) in &hosts {
            let _ = writeln!(out, "## {name} ({address}) accepts");
            for a in self.accepts(name) {
                let ports = if a.proto == Proto::Ipip {
                    "ip protocol 4".to_string()
                } else {
                    format!("{} {}", a.proto, a.ports)
                };
                let from = if a.outside {
                    "anywhere (reachable from outside)".to_string()
                } else {
                    a.from
                        .iter()
                        .map(|n| addr(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = writeln!(out, "- {ports} from {from}: {}", a.component);
            }
            out.push('\n');
        }
        if let Some(vip) = &self.vip {
            let _ = writeln!(
                out,
                "## The VIP {vip}\n- tcp 6443 from every node and from outside: held by one control plane at a time (kube-vip, ARP), so the control planes must share one layer 2 segment\n"
            );
        }
        out.push_str("## By role pair\n\n```\n");
        out.push_str(&self.table());
        out.push_str("```\n");
        out
    }

    /// The matrix as data, for `check --ports --format json`.
    pub fn report(&self) -> Report<'_> {
        let mut hosts: Vec<HostReport> = Vec::new();
        for p in [Peer::Node, Peer::Etcd, Peer::AisNode] {
            for (n, a) in self.members(p) {
                if !hosts.iter().any(|h| &h.name == n) {
                    hosts.push(HostReport {
                        name: n.clone(),
                        address: a.clone(),
                        accepts: self.accepts(n),
                    });
                }
            }
        }
        Report {
            cluster: &self.cluster,
            network_plugin: &self.network_plugin,
            calico_backend: (self.network_plugin == "calico").then_some(self.choices.calico),
            groups: self
                .groups
                .iter()
                .map(|(p, m)| (*p, m.iter().map(|(n, _)| n.as_str()).collect()))
                .collect(),
            vip: self.vip.as_deref(),
            entries: self
                .entries
                .iter()
                .map(|e| EntryReport {
                    entry: e,
                    ports: if e.proto == Proto::Ipip {
                        None
                    } else {
                        Some(e.ports.to_string())
                    },
                    external: e.external(),
                    probed: e.probed(),
                })
                .collect(),
            hosts,
            notes: &self.notes,
        }
    }
}

/// The JSON shape of `rackstrap check PLAN --ports --format json` (docs/plan.md).
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub cluster: &'a str,
    pub network_plugin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calico_backend: Option<CalicoBackend>,
    pub groups: BTreeMap<Peer, Vec<&'a str>>,
    pub vip: Option<&'a str>,
    pub entries: Vec<EntryReport<'a>>,
    pub hosts: Vec<HostReport>,
    pub notes: &'a [String],
}

#[derive(Debug, Serialize)]
pub struct EntryReport<'a> {
    #[serde(flatten)]
    pub entry: &'a Entry,
    /// `6443` or `30000-32767`; absent for IP-in-IP.
    #[serde(rename = "port_text", skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    pub external: bool,
    pub probed: bool,
}

#[derive(Debug, Serialize)]
pub struct HostReport {
    pub name: String,
    pub address: String,
    pub accepts: Vec<Accept>,
}

#[cfg(test)]
mod tests;
