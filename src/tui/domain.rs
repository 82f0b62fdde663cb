//! The wizard's view of the domain: quorum arithmetic, capacity, address entries with the
//! position of the first bad character, and the findings the screens show.
//!
//! Data flow: screens read the `Plan` and the gathered `Facts` from the model and call the
//! functions here; nothing here knows about the terminal. `findings` is the single place the
//! wizard turns a plan into errors (which block "Next") and warnings (which do not).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::facts::{BlockDevice, Facts};
use crate::plan::{Level, Plan, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Hint => "hint",
        }
    }
}

/// One thing the operator should know about the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    /// Where in the plan (`hosts[1].roles`, `network.load_balancer.pools[0].addresses[1]`).
    pub path: String,
    pub message: String,
}

impl Finding {
    fn new(severity: Severity, code: &'static str, path: impl Into<String>, message: String) -> Self {
        Self {
            severity,
            code,
            path: path.into(),
            message,
        }
    }
}

/// etcd membership: how many members, how many must agree, how many may fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub members: usize,
    pub quorum: usize,
    pub tolerated: usize,
}

/// Raft needs a strict majority: quorum = n/2 + 1, so failures tolerated = n - quorum
/// (etcd FAQ "What is failure tolerance?").
pub fn quorum(plan: &Plan) -> Quorum {
    let members = plan.hosts.iter().filter(|h| h.has_role(Role::Etcd)).count();
    let quorum = if members == 0 { 0 } else { members / 2 + 1 };
    Quorum {
        members,
        quorum,
        tolerated: members.saturating_sub(quorum),
    }
}

/// Usable bytes of a layout over member devices of the given sizes (mdadm semantics: members
/// are cut to the smallest one; raid10 as mirrored pairs).
pub fn usable_bytes(level: Level, sizes: &[u64]) -> u64 {
    let n = sizes.len() as u64;
    let min = sizes.iter().copied().min().unwrap_or(0);
    match level {
        Level::Single | Level::PerDisk => sizes.iter().sum(),
        Level::Raid0 => min * n,
        Level::Raid1 => min,
        Level::Raid5 => min * n.saturating_sub(1),
        Level::Raid6 => min * n.saturating_sub(2),
        Level::Raid10 => min * (n / 2),
    }
}

/// Sizes the way `lsblk` prints them: binary units, one decimal below 10.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "K", "M", "G", "T", "P"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else if value < 10.0 && (value.fract() * 10.0).round() as u64 % 10 != 0 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// One address entry as typed: a CIDR, a range or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Cidr(IpNet),
    Range(IpAddr, IpAddr),
    Single(IpAddr),
}

impl Entry {
    /// First and last address as integers (IPv4 only; IPv6 entries are kept whole).
    pub fn bounds(&self) -> (u128, u128) {
        fn n(a: IpAddr) -> u128 {
            match a {
                IpAddr::V4(v) => u32::from(v) as u128,
                IpAddr::V6(v) => u128::from(v),
            }
        }
        match *self {
            Entry::Cidr(net) => (n(net.network()), n(net.broadcast())),
            Entry::Range(a, b) => (n(a), n(b)),
            Entry::Single(a) => (n(a), n(a)),
        }
    }

    pub fn len(&self) -> u128 {
        let (a, b) = self.bounds();
        b - a + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A parse error: `pos` is the character index (0-based) into the whole field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub pos: usize,
    pub message: String,
}

/// Parses a comma separated list of entries. Every entry remembers where it starts so that
/// overlap findings can point at it too.
pub fn parse_entries(text: &str) -> Result<Vec<(usize, Entry)>, EntryError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for raw in text.split(',') {
        let lead = raw.len() - raw.trim_start().len();
        let item = raw.trim();
        let start = offset + lead;
        if item.is_empty() {
            if text.trim().is_empty() {
                return Ok(out);
            }
            return Err(EntryError {
                pos: start,
                message: "empty entry".into(),
            });
        }
        out.push((start, parse_entry(item).map_err(|e| EntryError {
            pos: start + e.pos,
            message: e.message,
        })?));
        offset += raw.len() + 1;
    }
    Ok(out)
}

fn bad_char(item: &str, allowed: impl Fn(char) -> bool) -> Option<usize> {
    item.char_indices().find(|&(_, c)| !allowed(c)).map(|(i, _)| i)
}

fn parse_addr(text: &str, base: usize) -> Result<IpAddr, EntryError> {
    if let Some(i) = bad_char(text, |c| c.is_ascii_hexdigit() || c == '.' || c == ':') {
        return Err(EntryError {
            pos: base + i,
            message: format!("unexpected character {:?}", &text[i..].chars().next().unwrap_or(' ')),
        });
    }
    if !text.contains(':') {
        // Point at the first octet that is out of range or the place a dot is missing.
        let mut pos = 0;
        let parts: Vec<&str> = text.split('.').collect();
        for (k, part) in parts.iter().enumerate() {
            if part.is_empty() || part.parse::<u16>().map(|v| v > 255).unwrap_or(true) {
                return Err(EntryError {
                    pos: base + pos,
                    message: format!("octet {} must be 0-255", k + 1),
                });
            }
            pos += part.len() + 1;
        }
        if parts.len() != 4 {
            return Err(EntryError {
                pos: base + text.len(),
                message: "an IPv4 address has four octets".into(),
            });
        }
    }
    text.parse::<IpAddr>().map_err(|_| EntryError {
        pos: base,
        message: "not an IP address".into(),
    })
}

fn parse_entry(item: &str) -> Result<Entry, EntryError> {
    if let Some((addr, prefix)) = item.split_once('/') {
        let ip = parse_addr(addr, 0)?;
        let at = addr.len() + 1;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let p: u8 = match prefix.parse() {
            Ok(p) if p <= max => p,
            _ => {
                return Err(EntryError {
                    pos: at,
                    message: format!("prefix must be 0-{max}"),
                });
            }
        };
        let net = IpNet::new(ip, p).map_err(|_| EntryError {
            pos: at,
            message: "bad prefix".into(),
        })?;
        if net.network() != ip {
            return Err(EntryError {
                pos: 0,
                message: format!("host bits set: the network is {}", net.trunc()),
            });
        }
        return Ok(Entry::Cidr(net));
    }
    if let Some((a, b)) = item.split_once('-') {
        let lo = parse_addr(a.trim_end(), 0)?;
        let b_at = a.len() + 1 + (b.len() - b.trim_start().len());
        let hi = parse_addr(b.trim(), b_at)?;
        if Entry::Single(lo).bounds().0 > Entry::Single(hi).bounds().0 || lo.is_ipv4() != hi.is_ipv4() {
            return Err(EntryError {
                pos: b_at,
                message: "range end is before its start".into(),
            });
        }
        return Ok(Entry::Range(lo, hi));
    }
    parse_addr(item, 0).map(Entry::Single)
}

/// Parses one CIDR field (service or pod network).
pub fn parse_cidr(text: &str) -> Result<IpNet, EntryError> {
    match parse_entry(text.trim())? {
        Entry::Cidr(net) => Ok(net),
        _ => Err(EntryError {
            pos: text.trim().len(),
            message: "expected a CIDR like 10.233.0.0/18".into(),
        }),
    }
}

fn overlaps(a: (u128, u128), b: (u128, u128)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// A disk the wizard must not offer unless it is marked for wiping, and why.
pub fn unsafe_reason(dev: &BlockDevice) -> Option<&'static str> {
    if dev.holds_root() {
        Some("holds /")
    } else if dev.is_mounted() {
        Some("mounted")
    } else if dev.is_in_use() {
        Some("has data")
    } else {
        None
    }
}

/// Seed 000/001: minimum and recommended resources per role (CPUs, GiB RAM, GiB disk).
pub const CONTROL_PLANE_MIN: (u32, u64, u64) = (2, 4, 30);
pub const CONTROL_PLANE_RECOMMENDED: (u32, u64, u64) = (4, 8, 40);
pub const WORKER_MIN: (u32, u64, u64) = (4, 8, 100);
const GIB: u64 = 1 << 30;

/// Every finding for the plan, most severe first.
pub fn findings(plan: &Plan, facts: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    let cps: Vec<usize> = (0..plan.hosts.len())
        .filter(|&i| plan.hosts[i].has_role(Role::ControlPlane))
        .collect();
    if plan.hosts.is_empty() {
        out.push(Finding::new(Severity::Error, "no-hosts", "hosts", "no hosts in the plan".into()));
    } else {
        if cps.is_empty() {
            out.push(Finding::new(Severity::Error, "no-control-plane", "hosts", "no host has the control plane role".into()));
        }
        if !plan.hosts.iter().any(|h| h.has_role(Role::Worker)) {
            out.push(Finding::new(Severity::Error, "no-worker", "hosts", "no host has the worker role".into()));
        }
    }
    let q = quorum(plan);
    if !cps.is_empty() && q.members == 0 {
        out.push(Finding::new(Severity::Error, "no-etcd", "hosts", "no host runs etcd".into()));
    }
    if q.members > 0 && q.members % 2 == 0 {
        out.push(Finding::new(
            Severity::Error,
            "etcd-even",
            "hosts",
            format!(
                "{} etcd members: Kubespray refuses an even count, and {} tolerate no more failures than {}",
                q.members,
                q.members,
                q.members - 1
            ),
        ));
    }
    if cps.len() == 2 {
        out.push(Finding::new(
            Severity::Warning,
            "two-control-planes",
            "hosts",
            "2 control planes tolerate no more failures than 1".into(),
        ));
        if q.members < 3 {
            if let Some(w) = plan.hosts.iter().find(|h| h.has_role(Role::Worker) && !h.has_role(Role::Etcd)) {
                out.push(Finding::new(
                    Severity::Hint,
                    "third-etcd",
                    "hosts",
                    format!("run a third etcd member on worker {} to survive one failure", w.name),
                ));
            }
        }
    }
    for (i, host) in plan.hosts.iter().enumerate() {
        let Some(f) = facts.get(&host.name) else { continue };
        let mem_gib = f.mem_bytes / GIB;
        if host.has_role(Role::ControlPlane) && (f.cpus < CONTROL_PLANE_MIN.0 || mem_gib + 1 < CONTROL_PLANE_MIN.1) {
            out.push(Finding::new(
                Severity::Warning,
                "below-minimum",
                format!("hosts[{i}]"),
                format!("{}: {} CPU / {} GiB is below the control plane minimum 2 CPU / 4 GB", host.name, f.cpus, mem_gib),
            ));
        } else if host.has_role(Role::Worker) && (f.cpus < WORKER_MIN.0 || mem_gib + 1 < WORKER_MIN.1) {
            out.push(Finding::new(
                Severity::Warning,
                "below-minimum",
                format!("hosts[{i}]"),
                format!("{}: {} CPU / {} GiB is below the worker minimum 4 CPU / 8 GB", host.name, f.cpus, mem_gib),
            ));
        }
        for (j, layout) in host.storage.iter().enumerate() {
            let path = format!("hosts[{i}].storage[{j}]");
            if layout.devices.len() < layout.level.min_devices() {
                out.push(Finding::new(
                    Severity::Error,
                    "too-few-devices",
                    path.clone(),
                    format!("{}: {} needs at least {} devices", host.name, layout.level.as_str(), layout.level.min_devices()),
                ));
            }
            for d in &layout.devices {
                match f.device(d) {
                    None => out.push(Finding::new(Severity::Error, "unknown-device", path.clone(), format!("{}: no device {d}", host.name))),
                    Some(dev) => {
                        if let Some(why) = unsafe_reason(dev) {
                            if dev.holds_root() || !layout.wipe {
                                out.push(Finding::new(
                                    Severity::Error,
                                    "unsafe-device",
                                    path.clone(),
                                    format!("{}: {d} {why}; mark it for wiping to use it", host.name),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    network_findings(plan, &mut out);
    out.sort_by_key(|f| f.severity);
    out
}

fn network_findings(plan: &Plan, out: &mut Vec<Finding>) {
    let net = &plan.network;
    let mut named: Vec<(String, (u128, u128))> = Vec::new();
    for (label, path, text) in [
        ("service CIDR", "network.service_cidr", &net.service_cidr),
        ("pod CIDR", "network.pod_cidr", &net.pod_cidr),
    ] {
        match parse_cidr(text) {
            Ok(n) => named.push((label.to_string(), Entry::Cidr(n).bounds())),
            Err(e) => out.push(Finding::new(Severity::Error, "bad-cidr", path, format!("{label}: column {}: {}", e.pos + 1, e.message))),
        }
    }
    if named.len() == 2 && overlaps(named[0].1, named[1].1) {
        out.push(Finding::new(Severity::Error, "cidr-overlap", "network.pod_cidr", "service and pod CIDRs overlap".into()));
    }
    for host in &plan.hosts {
        if let Ok(a) = host.address.parse::<IpAddr>() {
            named.push((format!("node {} ({})", host.name, host.address), Entry::Single(a).bounds()));
        }
    }
    let mut seen: Vec<(String, (u128, u128))> = Vec::new();
    for (p, pool) in plan.network.load_balancer.pools.iter().enumerate() {
        let text = pool.addresses.join(", ");
        let path = format!("network.load_balancer.pools[{p}].addresses");
        match parse_entries(&text) {
            Err(e) => out.push(Finding::new(
                Severity::Error,
                "bad-address",
                path,
                format!("pool {}: column {}: {}", pool.name, e.pos + 1, e.message),
            )),
            Ok(entries) => {
                for (pos, entry) in entries {
                    let b = entry.bounds();
                    for (what, ob) in named.iter().chain(seen.iter()) {
                        if overlaps(b, *ob) {
                            out.push(Finding::new(
                                Severity::Error,
                                "pool-overlap",
                                path.clone(),
                                format!("pool {}: column {}: {} overlaps {what}", pool.name, pos + 1, text_at(&text, pos)),
                            ));
                        }
                    }
                    seen.push((format!("pool {}", pool.name), b));
                }
            }
        }
    }
    if let Some(vip) = &net.vip {
        if vip.parse::<Ipv4Addr>().is_err() && vip.parse::<IpAddr>().is_err() {
            out.push(Finding::new(Severity::Error, "bad-vip", "network.vip", format!("VIP {vip:?} is not an address")));
        }
    }
    if net.mtu < 1280 {
        out.push(Finding::new(Severity::Error, "bad-mtu", "network.mtu", format!("MTU {} is below 1280", net.mtu)));
    }
    if plan.network.load_balancer.pools.is_empty() {
        out.push(Finding::new(Severity::Warning, "no-pool", "network.load_balancer", "no MetalLB pool: LoadBalancer services stay pending".into()));
    }
}

fn text_at(text: &str, pos: usize) -> &str {
    let rest = &text[pos.min(text.len())..];
    rest.split(',').next().unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_of_three_tolerates_one() {
        let mut plan: Plan = serde_yaml::from_str("version: 1\ncluster: {name: t}\n").unwrap();
        for i in 0..3 {
            plan.hosts.push(crate::plan::Host {
                name: format!("n{i}"),
                address: format!("10.0.0.{i}"),
                roles: vec![Role::Etcd],
                labels: Default::default(),
                storage: vec![],
            });
        }
        assert_eq!(quorum(&plan), Quorum { members: 3, quorum: 2, tolerated: 1 });
    }

    #[test]
    fn bad_character_position() {
        let e = parse_entries("10.0.0.0/28, 10.0.x.5").unwrap_err();
        assert_eq!(e.pos, 17);
        let e = parse_entries("10.0.0.300").unwrap_err();
        assert_eq!(e.pos, 7);
    }

    #[test]
    fn raid_capacity() {
        let t = 1_500_000_000_000;
        assert_eq!(usable_bytes(Level::Raid0, &[t, t]), 2 * t);
        assert_eq!(usable_bytes(Level::Raid1, &[t, t]), t);
        assert_eq!(usable_bytes(Level::Raid6, &[t; 5]), 3 * t);
    }
}
