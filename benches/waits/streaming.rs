//! Log streaming: one remote command printing [`LINES`] lines of [`LINE_BYTES`] bytes on one lab
//! host, read to the end by each client, one after another, the order rotating per round.
//!
//! - OpenSSH: `ssh root@host '<cmd>' > /dev/null`, a fresh known_hosts pinned on first
//!   contact, with its own key exchange and cipher, with the key exchange rackstrap
//!   negotiates, and with both the key exchange and the cipher rackstrap negotiates
//!   (aes128-gcm where the CPU has AES instructions). Its time includes its connection set-up.
//! - rackstrap `Session::exec_chunks` (what `Remote::exec` and so every stage uses): connect,
//!   then the same command with each chunk of lines handed to a callback that counts them
//!   (transport and line splitting). Connection set-up included, as for `ssh`.
//! - rackstrap as a provisioning step runs it: `provision::cmd::run_one` over the session,
//!   each chunk of lines written to the host's log file and sent as one event to a watcher
//!   task that counts them. The log file must have every line; the watcher every line, or the
//!   marker of lines not shown (the bound on lines in flight) must account for the rest.
//!
//! Throughput is the bytes the command printed over the wall time; the ratio compares with the
//! fastest of the OpenSSH rows.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rackstrap::provision::cmd::{Cmd, run_one};
use rackstrap::provision::log::{LogFile, StepLog};
use rackstrap::provision::{EventKind, StageId};
use rackstrap::ssh::{ConnectOptions, Session};

use super::common::lab::{HostSpec, LAB_PORT, Lab};
use super::measure::{timeval, wait4};
use super::own_cpu;
use super::report::{median, ms};
use super::shared::lab_options;

/// Lines the remote command prints.
pub(crate) const LINES: usize = 1_000_000;
/// Bytes per line, newline included: one million lines make 100 MB.
pub(crate) const LINE_BYTES: usize = 100;
/// Measured rounds per client, after one warm-up each.
const ROUNDS: usize = 5;

/// One line of 99 characters (a Kubespray-like task line), repeated by `yes`.
fn line() -> String {
    let mut l =
        String::from("ok: [node1] => (item=kubernetes/preinstall) => {\"changed\": false, ");
    while l.len() < LINE_BYTES - 2 {
        l.push('x');
    }
    l.push('}');
    assert_eq!(l.len(), LINE_BYTES - 1);
    l
}

pub(crate) fn command() -> String {
    format!("yes '{}' | head -n {LINES}", line())
}

#[derive(Clone, Copy, Default)]
struct Run {
    wall: Duration,
    cpu: Duration,
}

pub(crate) fn run() -> String {
    eprintln!("streaming: starting a lab of 1 host ...");
    let lab = Lab::start(vec![HostSpec::new("node1")]);
    let work = tempfile::tempdir().expect("temporary directory");
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let address = lab.hosts()[0].address.clone();
    let command = command();

    let clients: [(&str, &dyn Fn() -> Run); 5] = [
        ("OpenSSH `ssh host cmd > /dev/null`", &|| {
            openssh(&lab, work.path(), &address, &command, &[])
        }),
        (
            "OpenSSH `ssh host cmd > /dev/null`, curve25519-sha256 (rackstrap's key exchange)",
            &|| openssh(&lab, work.path(), &address, &command, &[CURVE]),
        ),
        (
            "OpenSSH `ssh host cmd > /dev/null`, curve25519-sha256 and aes128-gcm (rackstrap's key exchange and cipher)",
            &|| openssh(&lab, work.path(), &address, &command, &[CURVE, AES_GCM]),
        ),
        ("rackstrap `Session::exec_chunks`, lines counted", &|| {
            bare_exec(&runtime, &lab, work.path(), &address, &command)
        }),
        (
            "rackstrap provisioning step: log file + events to a watcher",
            &|| step_exec(&runtime, &lab, work.path(), &address, &command),
        ),
    ];
    for (name, client) in &clients {
        eprintln!("  warm-up: {name}");
        client();
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); clients.len()];
    for round in 0..ROUNDS {
        eprintln!("streaming round {}/{ROUNDS} ...", round + 1);
        for step in 0..clients.len() {
            let i = (round + step) % clients.len();
            let r = clients[i].1();
            eprintln!("    {:<60} {}", clients[i].0, ms(r.wall));
            runs[i].push(r);
        }
    }

    let walls: Vec<Duration> = runs
        .iter()
        .map(|r| median(&r.iter().map(|x| x.wall).collect::<Vec<_>>()))
        .collect();
    // The OpenSSH rows come first.
    let reference = walls[..OPENSSH_ROWS]
        .iter()
        .copied()
        .min()
        .unwrap_or_default();
    let bytes = (LINES * LINE_BYTES) as f64;
    let mut t = String::new();
    writeln!(
        t,
        "### Log streaming: {LINES} lines of {LINE_BYTES} bytes from one host \
         (fastest OpenSSH row = 1.0)\n"
    )
    .ok();
    writeln!(
        t,
        "| client | wall, median (min-max) | throughput | of OpenSSH's throughput | client CPU |"
    )
    .ok();
    writeln!(t, "|---|---|---|---|---|").ok();
    for ((name, _), (r, wall)) in clients.iter().zip(runs.iter().zip(&walls)) {
        let min = r.iter().map(|x| x.wall).min().unwrap_or_default();
        let max = r.iter().map(|x| x.wall).max().unwrap_or_default();
        let cpu = median(&r.iter().map(|x| x.cpu).collect::<Vec<_>>());
        writeln!(
            t,
            "| {name} | {} ({}-{}) | {:.0} MB/s | {:.2} | {} |",
            ms(*wall),
            ms(min),
            ms(max),
            bytes / wall.as_secs_f64() / 1e6,
            reference.as_secs_f64() / wall.as_secs_f64(),
            ms(cpu),
        )
        .ok();
    }
    writeln!(
        t,
        "\nCommand: `yes '<99 characters>' | head -n {LINES}`. Every row includes its \
         connection set-up. Rounds: {ROUNDS} per client after one warm-up, order rotating."
    )
    .ok();
    t
}

fn connect_options(lab: &Lab, work: &Path, tag: &str) -> ConnectOptions {
    lab_options(lab, fresh_known_hosts(work, tag))
}

fn fresh_known_hosts(work: &Path, tag: &str) -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix(tag)
        .tempdir_in(work)
        .expect("known_hosts directory")
        .keep()
        .join("known_hosts")
}

/// How many of the rows are OpenSSH's (the first ones).
const OPENSSH_ROWS: usize = 3;
/// OpenSSH with the key exchange rackstrap negotiates with this sshd.
const CURVE: &str = "KexAlgorithms=curve25519-sha256";
/// OpenSSH with the cipher rackstrap prefers on a CPU with AES instructions.
const AES_GCM: &str = "Ciphers=aes128-gcm@openssh.com";

fn openssh(lab: &Lab, work: &Path, address: &str, command: &str, options: &[&str]) -> Run {
    let known = fresh_known_hosts(work, "openssh");
    let mut cmd = Command::new("ssh");
    cmd.args(["-F", "/dev/null", "-i"])
        .arg(lab.key_path())
        .args(["-p", &LAB_PORT.to_string()])
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
        .args(["-o", "StrictHostKeyChecking=accept-new", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"]);
    for o in options {
        cmd.args(["-o", o]);
    }
    cmd.arg(format!("root@{address}"))
        .arg(command)
        .stdin(Stdio::null())
        .stdout(File::create("/dev/null").expect("/dev/null"));
    let start = Instant::now();
    // Reaped by `wait4` below, the only way to read its resource usage.
    #[expect(clippy::zombie_processes, reason = "reaped by wait4")]
    let child = cmd.spawn().expect("ssh");
    let (status, usage) = wait4(child.id());
    let wall = start.elapsed();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "ssh exited with wait status {status:#x}"
    );
    Run {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
    }
}

fn bare_exec(
    runtime: &tokio::runtime::Runtime,
    lab: &Lab,
    work: &Path,
    address: &str,
    command: &str,
) -> Run {
    let opts = connect_options(lab, work, "exec");
    let cpu = own_cpu();
    let start = Instant::now();
    let (status, lines, bytes) = runtime.block_on(async {
        let session = Session::connect(address, &opts)
            .await
            .unwrap_or_else(|e| panic!("session to {address}: {e}"));
        let (mut lines, mut bytes) = (0usize, 0usize);
        let status = session
            .exec_chunks(command, None, |chunk| {
                if !chunk.stderr {
                    lines += chunk.lines.len();
                    bytes += chunk.lines.iter().map(|l| l.len() + 1).sum::<usize>();
                }
            })
            .await
            .expect("exec");
        session.close().await;
        (status, lines, bytes)
    });
    let wall = start.elapsed();
    assert_eq!(status, 0, "exit status");
    assert_eq!(lines, LINES, "every line arrived");
    assert_eq!(bytes, LINES * LINE_BYTES, "every byte arrived");
    Run {
        wall,
        cpu: own_cpu() - cpu,
    }
}

fn step_exec(
    runtime: &tokio::runtime::Runtime,
    lab: &Lab,
    work: &Path,
    address: &str,
    command: &str,
) -> Run {
    let opts = connect_options(lab, work, "step");
    let log_path = opts
        .known_hosts
        .parent()
        .expect("a directory")
        .join("node1.log");
    let cpu = own_cpu();
    let start = Instant::now();
    let (shown, not_shown) = runtime.block_on(async {
        let session = Session::connect(address, &opts)
            .await
            .unwrap_or_else(|e| panic!("session to {address}: {e}"));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<rackstrap::provision::Event>();
        let watcher = tokio::spawn(async move {
            let (mut shown, mut not_shown) = (0usize, 0usize);
            while let Some(event) = rx.recv().await {
                if let EventKind::Log { lines, .. } = event.kind {
                    for l in lines.iter() {
                        match not_shown_count(l) {
                            Some(n) => not_shown += n,
                            None => shown += 1,
                        }
                    }
                }
            }
            (shown, not_shown)
        });
        let file = LogFile::create(&log_path).expect("log file");
        let mut log = StepLog::new("node1", StageId::Kubespray, tx, Some(file));
        run_one(&session, &Cmd::new(command), &mut log)
            .await
            .expect("the step succeeds");
        drop(log);
        session.close().await;
        watcher.await.expect("watcher")
    });
    let wall = start.elapsed();
    let cpu = own_cpu() - cpu;
    // `run_one` logs the command itself (`$ ...`) before its output.
    assert_eq!(
        shown + not_shown,
        LINES + 1,
        "the watcher saw every line or was told how many it was not shown"
    );
    if not_shown > 0 {
        eprintln!(
            "    (the watcher was not shown {not_shown} lines: the bound on lines in flight)"
        );
    }
    let logged = fs::read(&log_path).expect("log file");
    let newlines = logged.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(newlines, LINES + 1, "the log file has every line");
    fs::remove_file(&log_path).ok();
    Run { wall, cpu }
}

/// The count in the marker of lines not shown ("... 12,345 lines not shown here; ...").
fn not_shown_count(line: &str) -> Option<usize> {
    let rest = line.strip_prefix("... ")?;
    let (count, tail) = rest.split_once(' ')?;
    if !tail.starts_with("line") || !tail.contains("not shown here") {
        return None;
    }
    count.replace(',', "").parse().ok()
}
