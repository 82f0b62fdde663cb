//! The matrix shown: [`Matrix::table`] (text, one table per role pair),
//! [`Matrix::firewall_sheet`] (per host, what it must accept and from which addresses) and
//! [`Matrix::report`] (the JSON shape). All three read the [`Matrix`] the parent module builds
//! from a plan, and change nothing in it.

use std::fmt::Write as _;

use serde::Serialize;

use super::*;

impl Matrix {
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
