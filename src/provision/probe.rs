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

mod findings;
mod scheme;
mod scripts;
pub use findings::{
    Blocked, Findings, Firewall, MtuFail, Outcome, SourceReport, firewall_command, mtu_verdicts,
    parse_connector, parse_firewall,
};
pub use scheme::{Target, pairs, targets};
pub use scripts::{CONNECTOR, LISTENER, connector_command, listener_command};

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
        let verdict = host_verdict(&ctx, &h.name, &findings, &mtu_bad, &addr, &mut logs);
        results.insert(h.name.clone(), verdict);
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

/// Appends `text` to `host`'s log, when the host has one.
fn note(logs: &mut BTreeMap<String, StepLog>, host: &str, text: &str) {
    if let Some(l) = logs.get_mut(host) {
        l.note(text);
    }
}

/// One host's result from the findings: the ports it must accept that were blocked and an
/// MTU carried to none of its peers fail it; what it could not reach, its ports in use and
/// its MTU paths that failed go to its log.
fn host_verdict(
    ctx: &BetweenCtx<'_>,
    name: &str,
    findings: &Findings,
    mtu_bad: &BTreeSet<String>,
    addr: &dyn Fn(&str) -> String,
    logs: &mut BTreeMap<String, StepLog>,
) -> Result<String, StepError> {
    let mtu = ctx.plan.network.mtu;
    let mut errors: Vec<String> = Vec::new();
    if let Some(why) = findings.broken.get(name) {
        errors.push(format!("the probe between nodes could not run here: {why}"));
    }
    let mine: Vec<&Blocked> = findings.blocked.iter().filter(|b| b.to == name).collect();
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
        note(logs, name, &format!("error: {line}"));
        errors.push(line);
    }
    for b in findings.blocked.iter().filter(|b| b.from == name) {
        note(
            logs,
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
    for (host, proto, port, why) in findings.busy.iter().filter(|x| x.0 == name) {
        note(
            logs,
            name,
            &format!(
                "warning: {proto}/{port} is already in use on {host} ({why}); probed whatever listens there"
            ),
        );
    }
    for m in findings
        .mtu
        .iter()
        .filter(|m| m.from == name || m.to == name)
    {
        note(
            logs,
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
        note(logs, name, &format!("error: {line}"));
        errors.push(line);
    }
    if errors.is_empty() {
        Ok(format!(
            "between nodes: {} port(s) and {} MTU path(s) reached",
            findings.tried, findings.mtu_tried
        ))
    } else {
        Err(StepError::Check(errors.join("; ")))
    }
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
    read_sources(&mut f, sources, tries, &name_of, logs);
    firewalls(ctx, &mut f).await;
    f
}

/// What the sources' connectors answered, into `f`: each try not answered ok is blocked
/// (unless a UDP port was already in use on the destination: whatever listens there need not
/// answer), each MTU path that failed is noted; a connector that did not run breaks its host.
fn read_sources(
    f: &mut Findings,
    sources: Vec<(
        String,
        Result<super::remote::Captured, super::remote::RemoteError>,
    )>,
    tries: &BTreeMap<String, Vec<(String, Target)>>,
    name_of: &dyn Fn(&str) -> String,
    logs: &mut BTreeMap<String, StepLog>,
) {
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
}

/// Which firewall stands in the way, on each host with a blocked port.
async fn firewalls(ctx: &BetweenCtx<'_>, f: &mut Findings) {
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
