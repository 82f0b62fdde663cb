//! The probe between nodes: before anything changes, every host reaches the others on the
//! ports the plan needs ([`crate::plan::ports`]) and at the planned MTU.
//!
//! How it runs (docs/provisioning.md, "Ports between nodes"):
//!
//! 1. [`pairs`] picks who probes whom: every ordered pair for up to [`ALL_PAIRS_MAX`] hosts;
//!    beyond that every host reaches every control plane and etcd member, and the next
//!    [`WORKER_SAMPLE`] workers in plan order (a ring, so each worker is reached by as many).
//! 2. Each destination runs a short-lived listener ([`LISTENER`], python3, which every host
//!    Kubespray installs on has) bound to its planned address on the TCP and UDP ports its
//!    sources need. It exits on its own after [`LISTEN_SECS`] (and `timeout` kills it a little
//!    later), and is killed by pid as soon as the sources are done: nothing is left behind. A
//!    port it cannot bind is reported as in use; a TCP probe of it then reaches whatever
//!    listens there.
//! 3. Each source runs [`CONNECTOR`]: all its connects and datagrams at once from its planned
//!    address, each answered ok, refused (a firewall's reject: our listener was there), timed
//!    out (filtered: dropped on the way), reset or unreachable; and `ping -M do` at the planned
//!    host MTU to each destination (the path must carry full-size packets, Calico's MTU is
//!    derived from it).
//! 4. A destination with a blocked port is asked which firewall is active (ufw, firewalld,
//!    nftables, iptables, in that order since the first two drive the last two), and the
//!    finding names the tool, the rules that mention the port and the rule to add.
//!
//! A host fails when a port it must accept is blocked from another host, or when the planned
//! MTU is carried to none of its peers (a host whose link is smaller fails alone; two hosts
//! whose pair alone fails are both named in the findings).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::cmd::StepError;
use super::log::StepLog;
use super::remote::{OutLines, Remote};
use super::stage::ClusterResults;
use crate::facts::probe::Script;
use crate::plan::ports::{Entry, Matrix, Proto};
use crate::plan::{Host, Plan, Role};

/// Up to this many hosts, every host probes every other one (n·(n-1) pairs: 56 for 8).
pub const ALL_PAIRS_MAX: usize = 8;
/// Beyond [`ALL_PAIRS_MAX`], how many other workers each host probes.
pub const WORKER_SAMPLE: usize = 3;
/// A port range up to this long is probed port by port; a longer one (NodePorts) at its ends.
pub const RANGE_PROBED_WHOLE: usize = 16;
/// How long a listener lives at most if nobody stops it, in seconds.
pub const LISTEN_SECS: u32 = 60;
/// How long a source waits for each connect or datagram answer, in seconds.
pub const CONNECT_SECS: u32 = 3;
/// IPv4 and ICMP headers: `ping -s` takes the payload, the MTU is 28 bytes more.
const PING_HEADERS: u32 = 28;

/// What the runner gives a stage's work across hosts: the hosts that passed their own
/// checks, each with its open connection, and each host's log.
#[derive(Clone, Copy)]
pub struct BetweenCtx<'a> {
    pub plan: &'a Plan,
    pub hosts: &'a [&'a Host],
    pub remotes: &'a BTreeMap<String, Arc<dyn Remote>>,
    pub per_host: &'a BTreeMap<String, StepLog>,
    pub dry_run: bool,
}

/// A stage's work across hosts, run after its per-host steps (`Stage::between_hosts`).
pub type BetweenHosts = for<'a> fn(BetweenCtx<'a>) -> BoxFuture<'a, ClusterResults>;

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

/// The listener: binds every `proto:port` on the address, prints `pid N`, `busy PROTO PORT
/// WHY` for each it cannot bind and `ready`; accepts and closes TCP connections, answers each
/// datagram; exits after its time, or when killed.
pub const LISTENER: &str = r#"import os, select, socket, sys, time
addr, secs = sys.argv[1], float(sys.argv[2])
print("pid", os.getpid(), flush=True)
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
socks = {}
for spec in sys.argv[3:]:
    proto, port = spec.split(":")
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        if proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        if proto == "tcp":
            s.listen(128)
    except OSError as e:
        print("busy", proto, port, e.strerror or e, flush=True)
        s.close()
        continue
    socks[s] = proto
print("ready", flush=True)
end = time.monotonic() + secs
while socks and time.monotonic() < end:
    r, _, _ = select.select(list(socks), [], [], max(0.0, min(1.0, end - time.monotonic())))
    for s in r:
        try:
            if socks[s] == "tcp":
                c, _ = s.accept()
                c.close()
            else:
                _, peer = s.recvfrom(512)
                s.sendto(b"rackstrap-probe", peer)
        except OSError:
            pass
"#;

/// The connector: from the source address, every `proto/port/destination` at once (`result
/// PROTO PORT DEST OUTCOME [WHY]` each), then `ping -M do` at the MTU to each destination
/// (`mtu DEST ok|fail|skipped [WHY]`).
pub const CONNECTOR: &str = r#"import errno, os, select, socket, subprocess, sys, time
src, secs, mtu = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
names = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset", errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable", errno.ETIMEDOUT: "timeout"}
pending = {}
def done(key, outcome, why=""):
    print("result", *key, outcome, why, flush=True)
for spec in sys.argv[4:]:
    proto, port, dst = spec.split("/", 2)
    key = (proto, port, dst)
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setblocking(False)
    try:
        s.bind((src, 0))
        if proto == "tcp":
            rc = s.connect_ex((dst, int(port)))
            if rc not in (0, errno.EINPROGRESS):
                done(key, names.get(rc, "error"), os.strerror(rc))
                s.close()
                continue
        else:
            s.connect((dst, int(port)))
            s.send(b"rackstrap-probe")
    except OSError as e:
        done(key, names.get(e.errno, "error"), e.strerror or str(e))
        s.close()
        continue
    pending[s] = [key, proto, time.monotonic()]
end = time.monotonic() + secs
while pending and time.monotonic() < end:
    tcp = [s for s, v in pending.items() if v[1] == "tcp"]
    udp = [s for s, v in pending.items() if v[1] == "udp"]
    r, w, _ = select.select(udp, tcp, [], max(0.0, min(0.5, end - time.monotonic())))
    for s in w:
        rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        key = pending.pop(s)[0]
        done(key, "ok") if rc == 0 else done(key, names.get(rc, "error"), os.strerror(rc))
        s.close()
    for s in r:
        key = pending.pop(s)[0]
        try:
            s.recv(512)
            done(key, "ok")
        except OSError as e:
            done(key, names.get(e.errno, "error"), e.strerror or str(e))
        s.close()
    now = time.monotonic()
    for s, v in list(pending.items()):
        if v[1] == "udp" and now - v[2] >= 1.0:
            v[2] = now
            try:
                s.send(b"rackstrap-probe")
            except OSError as e:
                pending.pop(s)
                done(v[0], names.get(e.errno, "error"), e.strerror or str(e))
                s.close()
for s, v in pending.items():
    done(v[0], "timeout")
if mtu > 0:
    pings = {}
    for dst in sorted({spec.split("/", 2)[2] for spec in sys.argv[4:]}):
        try:
            pings[dst] = subprocess.Popen(["ping", "-n", "-M", "do", "-s", str(mtu - 28), "-c", "3", "-i", "0.2", "-W", "1", "-I", src, dst], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except OSError as e:
            print("mtu", dst, "skipped", e.strerror or e, flush=True)
    for dst, p in pings.items():
        out = p.communicate()[0].strip().splitlines()
        why = [l for l in out if "received" in l or "too long" in l or "mtu" in l.lower()]
        print("mtu", dst, "ok" if p.returncode == 0 else "fail", (why or out or [""])[-1], flush=True)
"#;

/// The remote command that runs `script` (on stdin) with `args`, ended by `timeout` after
/// `secs` seconds if it has not ended on its own.
fn python(secs: u32, args: &[String]) -> String {
    let mut words = vec![
        "timeout".to_string(),
        secs.to_string(),
        "python3".to_string(),
        "-".to_string(),
    ];
    words.extend(args.iter().cloned());
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// The listener's command on a host: bind `address`, these targets.
pub fn listener_command(address: &str, targets: &BTreeSet<(Proto, u16)>) -> String {
    let mut args = vec![address.to_string(), LISTEN_SECS.to_string()];
    args.extend(targets.iter().map(|(p, port)| format!("{p}:{port}")));
    python(LISTEN_SECS + 10, &args)
}

/// The connector's command on a source: from `address`, to these (destination, target)s,
/// pinging at `mtu` (0: no ping).
pub fn connector_command(address: &str, mtu: u32, to: &[(String, Target)]) -> String {
    let mut args = vec![
        address.to_string(),
        CONNECT_SECS.to_string(),
        mtu.to_string(),
    ];
    args.extend(
        to.iter()
            .map(|(dst, t)| format!("{}/{}/{dst}", t.proto, t.port)),
    );
    python(CONNECT_SECS * 4 + 30, &args)
}

/// What one try ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Refused while our listener was there: a firewall rejected it (or, for a port in
    /// use, nothing listens on the planned address).
    Refused,
    /// No answer: dropped on the way (filtered).
    TimedOut,
    Reset,
    /// "No route to host": an ICMP host-unreachable or -prohibited answer, a firewall's
    /// reject, or no route.
    Unreachable,
    Other(String),
}

impl Outcome {
    fn parse(word: &str, why: &str) -> Self {
        match word {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            "timeout" => Outcome::TimedOut,
            "reset" => Outcome::Reset,
            "unreachable" => Outcome::Unreachable,
            _ => Outcome::Other(why.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok => "reached".into(),
            Outcome::Refused => "refused (rejected: the probe's listener was there)".into(),
            Outcome::TimedOut => "timed out (filtered: dropped on the way)".into(),
            Outcome::Reset => "reset".into(),
            Outcome::Unreachable => "unreachable (no route to host: rejected or not routed)".into(),
            Outcome::Other(why) => format!("failed ({why})"),
        }
    }
}

/// A port `from` could not reach on `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub from: String,
    pub to: String,
    pub target: Target,
    pub outcome: Outcome,
}

/// The planned MTU not carried from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtuFail {
    pub from: String,
    pub to: String,
    pub why: String,
}

/// What a source's connector printed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// (proto, port, destination address) -> outcome.
    pub results: BTreeMap<(Proto, u16, String), Outcome>,
    /// destination address -> Ok(()) or why not.
    pub mtu: BTreeMap<String, Result<(), String>>,
    /// Destinations the MTU could not be tried on (no ping).
    pub mtu_skipped: BTreeMap<String, String>,
}

pub fn parse_connector(out: &str) -> SourceReport {
    let mut r = SourceReport::default();
    for line in out.lines() {
        let mut w = line.splitn(6, ' ');
        match w.next() {
            Some("result") => {
                let (Some(proto), Some(port), Some(dst), Some(outcome)) =
                    (w.next(), w.next(), w.next(), w.next())
                else {
                    continue;
                };
                let why = w.next().unwrap_or("").trim();
                let proto = match proto {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => continue,
                };
                let Ok(port) = port.parse() else { continue };
                r.results
                    .insert((proto, port, dst.to_string()), Outcome::parse(outcome, why));
            }
            Some("mtu") => {
                let mut w = line.splitn(4, ' ').skip(1);
                let (Some(dst), Some(state)) = (w.next(), w.next()) else {
                    continue;
                };
                let why = w.next().unwrap_or("").trim().to_string();
                match state {
                    "ok" => {
                        r.mtu.insert(dst.to_string(), Ok(()));
                    }
                    "skipped" => {
                        r.mtu_skipped.insert(dst.to_string(), why);
                    }
                    _ => {
                        r.mtu.insert(dst.to_string(), Err(why));
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// The firewall front end active on a host, with what it needs to name rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firewall {
    Ufw,
    Firewalld,
    /// nftables, with the (family, table, chain) of its input hook chains and its rule lines.
    Nftables {
        inputs: Vec<(String, String, String)>,
        rules: Vec<String>,
    },
    /// iptables rules beyond the default policies (`iptables -S`).
    Iptables {
        rules: Vec<String>,
    },
}

/// Asks a host which firewall is active.
pub fn firewall_command() -> String {
    Script::new()
        .section(
            "ufw",
            "command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | head -n 1",
        )
        .section(
            "firewalld",
            "command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state 2>/dev/null",
        )
        .section(
            "nft",
            "command -v nft >/dev/null 2>&1 && nft list ruleset 2>/dev/null",
        )
        .section(
            "iptables",
            "command -v iptables >/dev/null 2>&1 && iptables -S 2>/dev/null",
        )
        .one_line()
}

/// The active firewall from [`firewall_command`]'s output, if any.
pub fn parse_firewall(out: &str) -> Option<Firewall> {
    let sec = crate::facts::probe::split(out);
    if sec.text("ufw").trim() == "Status: active" {
        return Some(Firewall::Ufw);
    }
    if sec.text("firewalld").trim() == "running" {
        return Some(Firewall::Firewalld);
    }
    let nft = sec.text("nft");
    let mut inputs = Vec::new();
    let mut rules = Vec::new();
    let (mut table, mut chain) = (None::<(String, String)>, None::<String>);
    for line in nft.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", family, name, "{"] => table = Some((family.to_string(), name.to_string())),
            ["chain", name, "{"] => chain = Some(name.to_string()),
            _ if line.starts_with("type filter hook input") => {
                if let (Some((f, t)), Some(c)) = (&table, &chain) {
                    inputs.push((f.clone(), t.clone(), c.clone()));
                }
            }
            _ if line.contains("dport")
                || line.ends_with("drop")
                || line.ends_with("reject")
                || line.contains("reject with") =>
            {
                rules.push(line.to_string())
            }
            _ => {}
        }
    }
    if !inputs.is_empty() || !rules.is_empty() {
        return Some(Firewall::Nftables { inputs, rules });
    }
    let ipt: Vec<String> = sec
        .text("iptables")
        .lines()
        .filter(|l| l.starts_with("-A "))
        .map(str::to_string)
        .collect();
    if !ipt.is_empty() {
        return Some(Firewall::Iptables { rules: ipt });
    }
    None
}

impl Firewall {
    pub fn name(&self) -> &'static str {
        match self {
            Firewall::Ufw => "ufw",
            Firewall::Firewalld => "firewalld",
            Firewall::Nftables { .. } => "nftables",
            Firewall::Iptables { .. } => "iptables",
        }
    }

    /// The rules already there that mention `port`.
    pub fn rules_for(&self, port: u16) -> Vec<String> {
        let p = port.to_string();
        let mentions = |l: &&String| {
            l.split(|c: char| !c.is_ascii_digit())
                .any(|w| w == p.as_str())
        };
        match self {
            Firewall::Nftables { rules, .. } | Firewall::Iptables { rules } => {
                rules.iter().filter(mentions).cloned().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The command that lets `source` reach `proto`/`port`.
    pub fn rule_to_add(&self, source: &str, proto: Proto, port: u16) -> String {
        match self {
            Firewall::Ufw => format!("ufw allow proto {proto} from {source} to any port {port}"),
            Firewall::Firewalld => format!(
                "firewall-cmd --permanent --add-rich-rule='rule family=\"ipv4\" source address=\"{source}\" port port=\"{port}\" protocol=\"{proto}\" accept' && firewall-cmd --reload"
            ),
            Firewall::Nftables { inputs, .. } => {
                let (f, t, c) = inputs
                    .first()
                    .cloned()
                    .unwrap_or_else(|| ("inet".into(), "filter".into(), "input".into()));
                format!("nft insert rule {f} {t} {c} ip saddr {source} {proto} dport {port} accept")
            }
            Firewall::Iptables { .. } => {
                format!("iptables -I INPUT -p {proto} -s {source} --dport {port} -j ACCEPT")
            }
        }
    }
}

/// Everything the probe found, for the hosts' logs and results.
#[derive(Debug, Default)]
pub struct Findings {
    pub blocked: Vec<Blocked>,
    pub mtu: Vec<MtuFail>,
    /// Ports a listener could not bind: (host, proto, port, why).
    pub busy: Vec<(String, Proto, u16, String)>,
    /// Pairs and ports tried, and MTU pairs tried.
    pub tried: usize,
    pub mtu_tried: usize,
    /// Why part of the probe could not run on a host (python3 missing, the connection broke).
    pub broken: BTreeMap<String, String>,
    /// The active firewall of hosts with a blocked port.
    pub firewalls: BTreeMap<String, Firewall>,
}

/// The MTU verdict per host: a host fails when the MTU is carried to none of its peers.
pub fn mtu_verdicts(f: &Findings, pairs: &[(String, String)]) -> BTreeSet<String> {
    let mut peers: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (a, b) in pairs {
        let failed = f.mtu.iter().any(|m| (&m.from, &m.to) == (a, b));
        for h in [a, b] {
            let e = peers.entry(h.as_str()).or_default();
            e.0 += 1;
            if failed {
                e.1 += 1;
            }
        }
    }
    peers
        .into_iter()
        .filter(|(_, (all, failed))| *all > 0 && all == failed)
        .map(|(h, _)| h.to_string())
        .collect()
}

/// Preflight's probe between nodes ([`BetweenHosts`]).
pub fn preflight(ctx: BetweenCtx<'_>) -> BoxFuture<'_, ClusterResults> {
    Box::pin(run(ctx))
}

async fn run(ctx: BetweenCtx<'_>) -> ClusterResults {
    let matrix = crate::plan::ports::matrix(ctx.plan);
    let hosts: Vec<&Host> = ctx
        .hosts
        .iter()
        .copied()
        .filter(|h| ctx.remotes.contains_key(&h.name))
        .collect();
    let pairs: Vec<(String, String)> = pairs(&hosts)
        .into_iter()
        .filter(|(a, b)| !targets(&matrix, a, b).is_empty())
        .collect();
    let addr = |name: &str| {
        hosts
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.address.trim().to_string())
            .unwrap_or_default()
    };
    // Per destination the ports to listen on; per source what to try.
    let mut listen: BTreeMap<String, BTreeSet<(Proto, u16)>> = BTreeMap::new();
    let mut tries: BTreeMap<String, Vec<(String, Target)>> = BTreeMap::new();
    for (a, b) in &pairs {
        for t in targets(&matrix, a, b) {
            listen
                .entry(b.clone())
                .or_default()
                .insert((t.proto, t.port));
            tries.entry(a.clone()).or_default().push((addr(b), t));
        }
    }
    if pairs.is_empty() {
        return ClusterResults::new();
    }
    let mtu = ctx.plan.network.mtu;
    let mut logs: BTreeMap<String, StepLog> = ctx.per_host.clone();
    let note = |logs: &mut BTreeMap<String, StepLog>, host: &str, text: &str| {
        if let Some(l) = logs.get_mut(host) {
            l.note(text);
        }
    };
    if ctx.dry_run {
        for (h, ports) in &listen {
            note(
                &mut logs,
                h,
                &format!("would run: {}", listener_command(&addr(h), ports)),
            );
        }
        for (h, to) in &tries {
            note(
                &mut logs,
                h,
                &format!("would run: {}", connector_command(&addr(h), mtu, to)),
            );
        }
        return hosts
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    Ok(format!("between nodes: {} pair(s) to probe", pairs.len())),
                )
            })
            .collect();
    }
    let started = std::time::Instant::now();
    let findings = probe(&ctx, &hosts, &listen, &tries, mtu, &mut logs).await;
    let mtu_bad = mtu_verdicts(&findings, &pairs);
    let mut results = ClusterResults::new();
    for h in &hosts {
        let name = &h.name;
        let mut errors: Vec<String> = Vec::new();
        if let Some(why) = findings.broken.get(name) {
            errors.push(format!("the probe between nodes could not run here: {why}"));
        }
        let mine: Vec<&Blocked> = findings.blocked.iter().filter(|b| &b.to == name).collect();
        for b in &mine {
            let mut line = format!(
                "{} -> {} {}/{} ({}): {}",
                b.from,
                b.to,
                b.target.proto,
                b.target.port,
                b.target.component,
                b.outcome.describe()
            );
            if let Some(fw) = findings.firewalls.get(name) {
                let rules = fw.rules_for(b.target.port);
                line.push_str(&format!("; {} is active here", fw.name()));
                if !rules.is_empty() {
                    line.push_str(&format!(" (rules: {})", rules.join(" | ")));
                }
                line.push_str(&format!(
                    "; to allow it: {}",
                    fw.rule_to_add(&addr(&b.from), b.target.proto, b.target.port)
                ));
            }
            note(&mut logs, name, &format!("error: {line}"));
            errors.push(line);
        }
        for b in findings.blocked.iter().filter(|b| &b.from == name) {
            note(
                &mut logs,
                name,
                &format!(
                    "cannot reach {} {}/{} ({}): {}",
                    b.to,
                    b.target.proto,
                    b.target.port,
                    b.target.component,
                    b.outcome.describe()
                ),
            );
        }
        for (host, proto, port, why) in findings.busy.iter().filter(|x| &x.0 == name) {
            note(
                &mut logs,
                name,
                &format!(
                    "warning: {proto}/{port} is already in use on {host} ({why}); probed whatever listens there"
                ),
            );
        }
        for m in findings
            .mtu
            .iter()
            .filter(|m| &m.from == name || &m.to == name)
        {
            note(
                &mut logs,
                name,
                &format!(
                    "path MTU: {} -> {} does not carry {mtu}-byte packets (ping -M do -s {}): {}",
                    m.from,
                    m.to,
                    mtu.saturating_sub(PING_HEADERS),
                    m.why
                ),
            );
        }
        if mtu_bad.contains(name) {
            let line = format!(
                "the planned MTU {mtu} is carried to none of this host's peers: its link is smaller (Calico's MTU {} assumes {mtu}); set network.mtu to what the links carry or fix the link",
                ctx.plan.network.effective_calico_mtu()
            );
            note(&mut logs, name, &format!("error: {line}"));
            errors.push(line);
        }
        results.insert(
            name.clone(),
            if errors.is_empty() {
                Ok(format!(
                    "between nodes: {} port(s) and {} MTU path(s) reached",
                    findings.tried, findings.mtu_tried
                ))
            } else {
                Err(StepError::Check(errors.join("; ")))
            },
        );
    }
    for h in &hosts {
        note(
            &mut logs,
            &h.name,
            &format!(
                "probe between nodes: {} pair(s), {:.1} s",
                pairs.len(),
                started.elapsed().as_secs_f64()
            ),
        );
    }
    results
}

/// Listeners up, connectors run, listeners stopped; then the firewall of each host with a
/// blocked port.
async fn probe(
    ctx: &BetweenCtx<'_>,
    hosts: &[&Host],
    listen: &BTreeMap<String, BTreeSet<(Proto, u16)>>,
    tries: &BTreeMap<String, Vec<(String, Target)>>,
    mtu: u32,
    logs: &mut BTreeMap<String, StepLog>,
) -> Findings {
    let addr = |name: &str| {
        hosts
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.address.trim().to_string())
            .unwrap_or_default()
    };
    let name_of = |address: &str| {
        hosts
            .iter()
            .find(|h| h.address.trim() == address)
            .map(|h| h.name.clone())
            .unwrap_or_else(|| address.to_string())
    };
    let mut f = Findings::default();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Option<String>)>();
    let listeners = futures::future::join_all(listen.iter().filter_map(|(h, ports)| {
        let remote = ctx.remotes.get(h)?.clone();
        let cmd = listener_command(&addr(h), ports);
        let tx = tx.clone();
        let h = h.clone();
        Some(async move {
            let txl = tx.clone();
            let hl = h.clone();
            let mut on = move |chunk: OutLines| {
                for l in chunk.lines {
                    let _ = txl.send((hl.clone(), Some(l)));
                }
            };
            let r = remote
                .exec(&cmd, Some(LISTENER.as_bytes().to_vec()), &mut on)
                .await;
            let _ = tx.send((
                h.clone(),
                Some(match r {
                    Ok(0) => "exit".to_string(),
                    Ok(s) => format!("exit status {s}"),
                    Err(e) => format!("exit {e}"),
                }),
            ));
        })
    }));
    drop(tx);
    let driver = async {
        // Wait for every listener to be ready (or gone).
        let mut waiting: BTreeSet<String> = listen.keys().cloned().collect();
        let mut pids: BTreeMap<String, String> = BTreeMap::new();
        let mut busy = Vec::new();
        let mut broken = BTreeMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !waiting.is_empty() {
            let msg = tokio::time::timeout_at(deadline, rx.recv()).await;
            let Ok(Some((h, Some(line)))) = msg else {
                for h in &waiting {
                    broken.insert(h.clone(), "the listener did not start in 20 s".to_string());
                }
                break;
            };
            let mut w = line.splitn(4, ' ');
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("pid"), Some(pid), _, _) => {
                    pids.insert(h, pid.to_string());
                }
                (Some("busy"), Some(proto), Some(port), why) => {
                    let proto = if proto == "udp" {
                        Proto::Udp
                    } else {
                        Proto::Tcp
                    };
                    if let Ok(port) = port.parse() {
                        busy.push((h, proto, port, why.unwrap_or("").to_string()));
                    }
                }
                (Some("ready"), ..) => {
                    waiting.remove(&h);
                }
                (Some("exit"), ..) if waiting.contains(&h) => {
                    waiting.remove(&h);
                    broken.insert(
                        h,
                        format!(
                            "the listener ended before it was ready ({line}); is python3 installed?"
                        ),
                    );
                }
                _ => {}
            }
        }
        // Every source at once.
        let sources = futures::future::join_all(tries.iter().filter_map(|(h, to)| {
            let remote = ctx.remotes.get(h)?.clone();
            let cmd = connector_command(&addr(h), mtu, to);
            let h = h.clone();
            Some(async move {
                let out = capture_with(remote.as_ref(), &cmd, CONNECTOR).await;
                (h, out)
            })
        }))
        .await;
        // Stop the listeners now rather than at their deadline.
        futures::future::join_all(pids.iter().filter_map(|(h, pid)| {
            let remote = ctx.remotes.get(h)?.clone();
            let cmd = format!(
                "kill {} 2>/dev/null; true",
                shlex::try_quote(pid).unwrap_or_default()
            );
            Some(async move {
                let _ = remote.capture(&cmd).await;
            })
        }))
        .await;
        (sources, busy, broken)
    };
    let (_, (sources, busy, broken)) = tokio::join!(listeners, driver);
    f.busy = busy;
    f.broken = broken;
    for (h, out) in sources {
        let out = match out {
            Ok(c) if c.ok() || !c.stdout.is_empty() => c.stdout,
            Ok(c) => {
                f.broken.insert(
                    h.clone(),
                    format!(
                        "the connector exited with status {}: {}",
                        c.status,
                        c.stderr.lines().last().unwrap_or("")
                    ),
                );
                continue;
            }
            Err(e) => {
                f.broken.insert(h.clone(), e.to_string());
                continue;
            }
        };
        let report = parse_connector(&out);
        for (dst, t) in tries.get(&h).map(Vec::as_slice).unwrap_or(&[]) {
            f.tried += 1;
            let outcome = report
                .results
                .get(&(t.proto, t.port, dst.clone()))
                .cloned()
                .unwrap_or_else(|| Outcome::Other("no answer from the probe".into()));
            let to = name_of(dst);
            let busy_udp = t.proto == Proto::Udp
                && f.busy
                    .iter()
                    .any(|(bh, p, port, _)| *bh == to && *p == Proto::Udp && *port == t.port);
            if outcome != Outcome::Ok && !busy_udp {
                f.blocked.push(Blocked {
                    from: h.clone(),
                    to,
                    target: *t,
                    outcome,
                });
            }
        }
        for (dst, r) in &report.mtu {
            f.mtu_tried += 1;
            if let Err(why) = r {
                f.mtu.push(MtuFail {
                    from: h.clone(),
                    to: name_of(dst),
                    why: why.clone(),
                });
            }
        }
        for (dst, why) in &report.mtu_skipped {
            if let Some(l) = logs.get_mut(&h) {
                l.note(&format!(
                    "warning: path MTU to {} not tried: {why}",
                    name_of(dst)
                ));
            }
        }
    }
    // Which firewall stands in the way, on each host with a blocked port.
    let blocked_hosts: BTreeSet<String> = f.blocked.iter().map(|b| b.to.clone()).collect();
    let answers = futures::future::join_all(blocked_hosts.iter().filter_map(|h| {
        let remote = ctx.remotes.get(h)?.clone();
        let h = h.clone();
        Some(async move { (h, remote.capture(&firewall_command()).await) })
    }))
    .await;
    for (h, out) in answers {
        if let Ok(out) = out
            && let Some(fw) = parse_firewall(&out.stdout)
        {
            f.firewalls.insert(h, fw);
        }
    }
    f
}

/// Runs `command` with `stdin` (a script) on its standard input; output collected.
async fn capture_with(
    remote: &dyn Remote,
    command: &str,
    stdin: &str,
) -> Result<super::remote::Captured, super::remote::RemoteError> {
    let mut out = super::remote::Captured::default();
    let status = remote
        .exec(
            command,
            Some(stdin.as_bytes().to_vec()),
            &mut |chunk: OutLines| {
                let buf = if chunk.stderr {
                    &mut out.stderr
                } else {
                    &mut out.stdout
                };
                for line in &chunk.lines {
                    buf.push_str(line);
                    buf.push('\n');
                }
            },
        )
        .await?;
    out.status = status;
    Ok(out)
}

#[cfg(test)]
mod tests;
