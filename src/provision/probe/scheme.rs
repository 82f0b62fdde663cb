//! Who probes whom, and on which ports: [`pairs`] picks the ordered (source, destination)
//! pairs from the hosts taking part, and [`targets`] reads the ports one pair must carry from
//! the plan's port matrix. The parent module hands both to the scripts ([`super::scripts`]).

use super::*;

/// One port to try: `proto`/`port` on the destination, for `component`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub proto: Proto,
    pub port: u16,
    pub component: &'static str,
}

/// The ordered pairs (source, destination) of plan host names to probe, from the hosts
/// taking part (plan order) and their roles.
pub fn pairs(hosts: &[&Host]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if hosts.len() <= ALL_PAIRS_MAX {
        for a in hosts {
            for b in hosts {
                if a.name != b.name {
                    out.push((a.name.clone(), b.name.clone()));
                }
            }
        }
        return out;
    }
    let workers: Vec<&Host> = hosts
        .iter()
        .copied()
        .filter(|h| h.has_role(Role::Worker))
        .collect();
    for (i, a) in hosts.iter().enumerate() {
        let mut to: BTreeSet<usize> = BTreeSet::new();
        for (j, b) in hosts.iter().enumerate() {
            if b.has_role(Role::ControlPlane) || b.has_role(Role::Etcd) {
                to.insert(j);
            }
        }
        // The next workers after `a` in plan order, around the ring.
        let start = workers
            .iter()
            .position(|w| w.name == a.name)
            .map(|p| p + 1)
            .unwrap_or_else(|| i % workers.len().max(1));
        for k in 0..workers.len() {
            if to.len() >= hosts.len() {
                break;
            }
            let w = workers[(start + k) % workers.len()];
            if w.name == a.name {
                continue;
            }
            let taken = to
                .iter()
                .filter(|j| {
                    hosts[**j].has_role(Role::Worker)
                        && !hosts[**j].has_role(Role::ControlPlane)
                        && !hosts[**j].has_role(Role::Etcd)
                })
                .count();
            if taken >= WORKER_SAMPLE {
                break;
            }
            if let Some(j) = hosts.iter().position(|h| h.name == w.name) {
                to.insert(j);
            }
        }
        for j in to {
            if j != i {
                out.push((a.name.clone(), hosts[j].name.clone()));
            }
        }
    }
    out
}

/// What `from` tries on `to`: each probed entry's ports (a long range at its two ends), each
/// (protocol, port) once.
pub fn targets(matrix: &Matrix, from: &str, to: &str) -> Vec<Target> {
    let mut out: Vec<Target> = Vec::new();
    for e in matrix.between(from, to) {
        for port in ports_of(e) {
            if !out.iter().any(|t| t.proto == e.proto && t.port == port) {
                out.push(Target {
                    proto: e.proto,
                    port,
                    component: e.component,
                });
            }
        }
    }
    out
}

fn ports_of(e: &Entry) -> Vec<u16> {
    if e.ports.len() <= RANGE_PROBED_WHOLE {
        (e.ports.first..=e.ports.last).collect()
    } else {
        vec![e.ports.first, e.ports.last]
    }
}
