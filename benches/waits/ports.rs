//! `ports`: Preflight's probe between nodes on 3, 8 and 32 lab hosts with networks of their
//! own (`tests/common/netlab.rs`: namespaces on a bridge, 198.18.0.0/15, everything run inside
//! the lab's hub namespace), against the same checks done by hand: OpenSSH to every host at
//! once, `nc -l` listeners on each destination, `nc -z` and `ping -M do` from each source.
//!
//! Both sides probe the same pairs and ports (`provision::probe::pairs` and `targets`: every
//! ordered pair up to 8 hosts, the bounded scheme for 32). rackstrap's row is a whole `apply
//! --stage preflight` (each host's own checks, then the probe); the probe's own time is the
//! one its log line gives. The `nc` row is weaker on UDP (`nc -zu` reports success unless an
//! ICMP error comes back: nothing answers) and names no firewall.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::lab::{HostSpec, LAB_PORT, Lab};

const SIZES: [usize; 3] = [3, 8, 32];
const ROUNDS: usize = 3;

struct Row {
    hosts: usize,
    pairs: usize,
    ports: usize,
    apply: Vec<Duration>,
    probe: Vec<Duration>,
    nc: Vec<Duration>,
}

pub(crate) fn run() -> String {
    if let Some(reason) = crate::common::netlab::skip_reason() {
        return format!("### Ports between nodes\n\nskipped: {reason}\n");
    }
    if Command::new("nc").arg("-h").output().is_err() {
        return "### Ports between nodes\n\nskipped: `nc` is not installed (netcat-openbsd)\n"
            .into();
    }
    let mut rows = Vec::new();
    for n in SIZES {
        eprintln!("ports: a networked lab of {n} hosts ...");
        rows.push(size(n));
    }
    let mut out = String::from(
        "### Ports between nodes: Preflight's probe against `nc` over OpenSSH\n\n\
         | hosts | pairs | ports tried | rackstrap `apply --stage preflight`, median (min-max) | of which the probe | `nc` + `ping` over OpenSSH | against rackstrap's probe |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        let (a, p, c) = (stats(&r.apply), stats(&r.probe), stats(&r.nc));
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.1}x |",
            r.hosts,
            r.pairs,
            r.ports,
            a.0,
            p.0,
            c.0,
            c.1.as_secs_f64() / p.1.as_secs_f64().max(0.001)
        )
        .ok();
    }
    out
}

/// "1234 ms (1200 ms-1300 ms)" and the median.
fn stats(samples: &[Duration]) -> (String, Duration) {
    let mut s = samples.to_vec();
    s.sort();
    let Some(median) = s.get(s.len() / 2).copied() else {
        return ("-".into(), Duration::ZERO);
    };
    let ms = |d: Duration| format!("{} ms", d.as_millis());
    (
        format!("{} ({}-{})", ms(median), ms(s[0]), ms(s[s.len() - 1])),
        median,
    )
}

fn size(n: usize) -> Row {
    let lab = Lab::start_networked((1..=n).map(|i| HostSpec::new(&format!("n{i}"))).collect());
    let work = lab.dir.join("ports-bench");
    std::fs::create_dir_all(&work).expect("work directory");
    let mut plan_text = format!(
        "version: 1\ncluster: {{name: bench}}\naccess: {{user: root, port: {LAB_PORT}, identity: {}}}\nhosts:\n",
        lab.key_path().display()
    );
    for (i, h) in lab.hosts().iter().enumerate() {
        let roles = if i < 3 {
            "[control_plane, etcd, worker]"
        } else {
            "[worker]"
        };
        writeln!(
            plan_text,
            "  - {{name: {}, address: {}, roles: {roles}}}",
            h.name, h.address
        )
        .ok();
    }
    plan_text.push_str("network: {mtu: 1500}\n");
    let plan = rackstrap::plan::from_yaml(&plan_text, "cluster.yaml").expect("bench plan");
    // The pairs and ports both sides try.
    let matrix = rackstrap::plan::ports::matrix(&plan);
    let refs: Vec<&rackstrap::plan::Host> = plan.hosts.iter().collect();
    let pairs = rackstrap::provision::probe::pairs(&refs);
    let addr = |name: &str| lab.host(name).address.clone();
    let mut listen: std::collections::BTreeMap<String, std::collections::BTreeSet<(String, u16)>> =
        Default::default();
    let mut tries: std::collections::BTreeMap<String, Vec<(String, String, u16)>> =
        Default::default();
    for (a, b) in &pairs {
        for t in rackstrap::provision::probe::targets(&matrix, a, b) {
            let proto = t.proto.as_str().to_string();
            listen
                .entry(b.clone())
                .or_default()
                .insert((proto.clone(), t.port));
            tries
                .entry(a.clone())
                .or_default()
                .push((addr(b), proto, t.port));
        }
    }
    let ports: usize = tries.values().map(Vec::len).sum();
    let known = work.join("known_hosts");
    let mut row = Row {
        hosts: n,
        pairs: pairs.len(),
        ports,
        apply: Vec::new(),
        probe: Vec::new(),
        nc: Vec::new(),
    };
    for round in 0..=ROUNDS {
        // A fresh directory each round: no run state saying preflight is already done.
        let dir = work.join(format!("round{round}"));
        std::fs::create_dir_all(&dir).expect("round directory");
        let path = dir.join("cluster.yaml");
        std::fs::write(&path, &plan_text).expect("write plan");
        let (apply, probe) = rackstrap_round(&lab, &path, &known);
        let nc = nc_round(&lab, &listen, &tries);
        // Round 0 warms up (host keys pinned, caches): not counted.
        if round > 0 {
            row.apply.push(apply);
            row.probe.push(probe);
            row.nc.push(nc);
        }
    }
    row
}

fn rackstrap_round(lab: &Lab, plan: &Path, known: &Path) -> (Duration, Duration) {
    let binary = std::env::var_os("RACKSTRAP_BENCH_BINARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_rackstrap").into());
    let start = Instant::now();
    let out = lab
        .in_hub(binary)
        .arg("apply")
        .arg(plan)
        .args(["--stage", "preflight", "--accept-new", "--known-hosts"])
        .arg(known)
        .output()
        .expect("rackstrap apply");
    let wall = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rackstrap preflight failed:\n{text}");
    // "probe between nodes: N pair(s), 1.2 s", the same on every host's log.
    let probe = text
        .lines()
        .find_map(|l| l.split("probe between nodes: ").nth(1))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|s| s.trim_end_matches(" s").parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .expect("the probe's time in the output");
    (wall, probe)
}

fn ssh(lab: &Lab, host: &str, command: &str) -> Child {
    lab.in_hub("ssh")
        .args(lab.ssh_args(host))
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh")
}

/// The same checks by hand: listeners up on every destination (one ssh each), then every
/// source's `nc -z` and `ping` at once (one ssh each), then the listeners killed.
fn nc_round(
    lab: &Lab,
    listen: &std::collections::BTreeMap<String, std::collections::BTreeSet<(String, u16)>>,
    tries: &std::collections::BTreeMap<String, Vec<(String, String, u16)>>,
) -> Duration {
    let start = Instant::now();
    let up: Vec<Child> = listen
        .iter()
        .map(|(h, ports)| {
            let a = &lab.host(h).address;
            let mut s = String::from(": > /root/nc.pids\n");
            for (proto, port) in ports {
                let u = if proto == "udp" { "u" } else { "" };
                writeln!(
                    s,
                    "nohup nc -lk{u} -s {a} -p {port} >/dev/null 2>&1 & echo $! >> /root/nc.pids"
                )
                .ok();
            }
            s.push_str("sleep 0.2\n");
            ssh(lab, h, &s)
        })
        .collect();
    for mut c in up {
        let _ = c.wait();
    }
    let probes: Vec<Child> = tries
        .iter()
        .map(|(h, to)| {
            let a = &lab.host(h).address;
            let mut s = String::new();
            for (dst, proto, port) in to {
                let u = if proto == "udp" { "u" } else { "" };
                writeln!(s, "nc -z{u} -w 3 -s {a} {dst} {port} || echo \"fail {proto} {port} {dst}\" &").ok();
            }
            let mut dsts: Vec<&String> = to.iter().map(|(d, _, _)| d).collect();
            dsts.dedup();
            for d in dsts {
                writeln!(s, "ping -n -M do -s 1472 -c 3 -i 0.2 -W 1 -I {a} {d} >/dev/null || echo \"mtu fail {d}\" &").ok();
            }
            s.push_str("wait\n");
            ssh(lab, h, &s)
        })
        .collect();
    let mut failures = String::new();
    for c in probes {
        if let Ok(out) = c.wait_with_output() {
            failures.push_str(&String::from_utf8_lossy(&out.stdout));
        }
    }
    let down: Vec<Child> = listen
        .keys()
        .map(|h| ssh(lab, h, "kill $(cat /root/nc.pids) 2>/dev/null; true"))
        .collect();
    for mut c in down {
        let _ = c.wait();
    }
    let wall = start.elapsed();
    assert!(
        failures.is_empty(),
        "nc found failures on a clean lab:\n{failures}"
    );
    wall
}
