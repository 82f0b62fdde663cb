//! Discovery benchmark: rackstrap against the OpenSSH client and Ansible, side by side, on
//! one lab of real sshd hosts, in one run. `cargo bench --bench discovery`.
//!
//! What runs, per round (the order of the clients rotates from round to round so that noise
//! from other work on the machine spreads over all of them):
//!
//! 1. `rackstrap discover <range> --json` as a child process with a fresh known_hosts
//!    (`--accept-new`): TCP, SSH handshake, host key pinning, authentication, one exec of the
//!    facts script, parsing, per host, all hosts at once. The baseline (1.0x).
//! 2. The same discovery through the library (`discover::discover`) inside this process: the
//!    wall time without process start-up.
//! 3. OpenSSH: one `ssh` process per host, all at once, each pinning into a fresh
//!    known_hosts (`StrictHostKeyChecking=accept-new`) and running the same facts script the
//!    same way (`sh -c '<script>'`). It only prints the text; nothing is parsed. Measured
//!    twice: with OpenSSH's own key exchange preference, and with the one rackstrap ends up
//!    using against this sshd ([`clients::Kex`]).
//! 4. Ansible: `ansible all -m setup` with as many forks as hosts, pipelining on, no
//!    connection sharing between rounds, the Python interpreter given (no discovery round
//!    trip): Ansible's quickest cold start for one fact gathering.
//!
//! Then the per-command cost stages pay: 100 trivial commands on one host through one
//! rackstrap `Session`, through OpenSSH with a shared master connection (`ControlMaster`),
//! and through 100 separate `ssh` connections.
//!
//! Lab hosts have an empty home of their own for root (the lab mounts one), so the machine's
//! `~/.bashrc` is not part of what is measured.
//!
//! Measured per client process tree: wall time; CPU time (user + system, of the process and
//! every descendant it waited for, from `wait4`); peak resident memory of the largest single
//! process (exact, from `wait4`); peak resident memory of all its processes together
//! (sampled from `/proc` every [`measure::SAMPLE_EVERY`]). Every run is checked (every host `ok` with
//! facts, every `ssh` exit 0 with the whole script output, every Ansible host `SUCCESS`): a
//! failed run stops the benchmark instead of being timed.
//!
//! The lab talks only to its own `127.77.<slot>.x` addresses. Knobs (environment):
//! `RACKSTRAP_BENCH_HOSTS` (default [`DEFAULT_HOSTS`]), `RACKSTRAP_BENCH_ROUNDS` (default
//! [`DEFAULT_ROUNDS`]; Ansible runs at most [`MAX_ANSIBLE_ROUNDS`] of them).
//!
//! This file sets up the lab and runs the rounds; `clients` runs and checks each client,
//! `measure` times and samples child processes, `report` summarises rounds into the table.

mod clients;
#[path = "../../tests/common/mod.rs"]
mod common;
mod measure;
mod report;
mod shared;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::lab::{DiskSpec, HostSpec, Lab, Os};

use clients::Kex;
use report::{Summary, median, ms, ratio, row};
use shared::ansible;

/// Hosts in the lab: enough that parallelism matters, few enough for a 2-core machine that
/// also runs every sshd.
const DEFAULT_HOSTS: usize = 8;
/// Measured rounds per client (after one warm-up round each).
const DEFAULT_ROUNDS: usize = 7;
/// Ansible takes seconds per round; more rounds add little.
const MAX_ANSIBLE_ROUNDS: usize = 5;
/// Rounds of the per-command comparison (each is 100 commands per client).
const COMMAND_ROUNDS: usize = 5;
/// Commands per round in the per-command comparison.
const COMMANDS: usize = 100;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

fn main() {
    if let Some(reason) = common::lab::skip_reason() {
        eprintln!("discovery benchmark skipped: {reason}");
        return;
    }
    let hosts = env_count("RACKSTRAP_BENCH_HOSTS", DEFAULT_HOSTS).clamp(1, 200);
    let rounds = env_count("RACKSTRAP_BENCH_ROUNDS", DEFAULT_ROUNDS).max(1);
    let ansible = ansible();

    eprintln!("starting a lab of {hosts} hosts ...");
    let started = Instant::now();
    let lab = Lab::start(lab_specs(hosts));
    eprintln!("lab up in {}", ms(started.elapsed()));
    let work = tempfile::tempdir().expect("temporary directory");
    let bench = Bench {
        lab: &lab,
        work: work.path(),
        hosts,
        ansible: ansible.as_ref().map(|(_, path)| path.clone()),
    };

    let mut report = String::new();
    let ansible_version = ansible.as_ref().map(|(version, _)| version.as_str());
    writeln!(report, "{}", bench.context(rounds, ansible_version)).ok();
    writeln!(report, "{}", bench.discovery(rounds)).ok();
    writeln!(report, "{}", bench.per_command()).ok();
    println!("\n{report}");
    // The lab (and its sshd processes and loop devices) is torn down when `lab` drops.
}

fn env_count(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("{name}={v} is not a count; using {default}");
            default
        }),
        Err(_) => default,
    }
}

/// Hosts with a mounted ext4 data disk and a blank disk each, so `lsblk` and `blkid` have
/// something to report (the disks are sparse files: no real space is used).
fn lab_specs(n: usize) -> Vec<HostSpec> {
    (1..=n)
        .map(|i| {
            let os = if i % 2 == 0 {
                Os::Ubuntu2404
            } else {
                Os::Ubuntu2204
            };
            HostSpec::new(&format!("node{i}"))
                .os(os)
                .disk_spec(DiskSpec::mounted(64 * MIB, "ext4", "/srv/data"))
                .disk(8 * GIB)
        })
        .collect()
}

struct Bench<'a> {
    lab: &'a Lab,
    work: &'a Path,
    hosts: usize,
    /// The `ansible` executable, when installed.
    ansible: Option<PathBuf>,
}

impl Bench<'_> {
    fn addresses(&self) -> Vec<String> {
        self.lab.hosts().iter().map(|h| h.address.clone()).collect()
    }

    /// A fresh, empty known_hosts path for one run: every run pins every key anew.
    fn fresh_known_hosts(&self, tag: &str) -> PathBuf {
        let dir = tempfile::Builder::new()
            .prefix(tag)
            .tempdir_in(self.work)
            .expect("known_hosts directory")
            .keep();
        dir.join("known_hosts")
    }

    fn context(&self, rounds: usize, ansible: Option<&str>) -> String {
        let openssh = Command::new("ssh")
            .arg("-V")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
            .unwrap_or_default();
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let mut s = String::new();
        writeln!(s, "### Setup\n").ok();
        writeln!(
            s,
            "- lab: {} hosts (real `sshd`, one per loopback address, own UTS/mount namespace, \
             2 loop-device disks each), client and servers on the same machine",
            self.hosts
        )
        .ok();
        writeln!(
            s,
            "- machine: {cpus} CPUs, Linux {}, load average at start {}",
            kernel.trim(),
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        )
        .ok();
        writeln!(
            s,
            "- clients: rackstrap {}, {openssh}, {}",
            env!("CARGO_PKG_VERSION"),
            ansible.unwrap_or("ansible not installed (its row is skipped)")
        )
        .ok();
        writeln!(
            s,
            "- rounds: {rounds} measured per client after one warm-up (Ansible {}), \
             median shown",
            rounds.min(MAX_ANSIBLE_ROUNDS)
        )
        .ok();
        s
    }

    // ---- discovery + facts of every host -------------------------------------------------

    fn discovery(&self, rounds: usize) -> String {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let inventory = self.ansible.is_some().then(|| self.ansible_inventory());

        // Warm-up: page cache, Python bytecode, first loop-device reads.
        eprintln!("warm-up ...");
        self.run_rackstrap_binary();
        self.run_rackstrap_library(&runtime);
        self.run_openssh_facts(Kex::Default);
        self.run_openssh_facts(Kex::Curve25519);
        if let Some(inv) = &inventory {
            self.run_ansible_setup(inv);
        }

        let mut binary = Vec::new();
        let mut library = Vec::new();
        let mut openssh = Vec::new();
        let mut openssh_curve = Vec::new();
        let mut ansible = Vec::new();
        for round in 0..rounds {
            eprintln!("discovery round {}/{rounds} ...", round + 1);
            for step in 0..5 {
                match (round + step) % 5 {
                    0 => binary.push(self.run_rackstrap_binary()),
                    1 => library.push(self.run_rackstrap_library(&runtime)),
                    2 => openssh.push(self.run_openssh_facts(Kex::Default)),
                    3 => openssh_curve.push(self.run_openssh_facts(Kex::Curve25519)),
                    _ => {
                        if let Some(inv) = &inventory
                            && round < MAX_ANSIBLE_ROUNDS
                        {
                            ansible.push(self.run_ansible_setup(inv));
                        }
                    }
                }
            }
        }

        let base = Summary::of(&binary);
        let mut t = String::new();
        writeln!(
            t,
            "### Discovery and facts of {} hosts (rackstrap = 1.0x)\n",
            self.hosts
        )
        .ok();
        writeln!(
            t,
            "| client | wall, median (min-max) | wall ratio | client CPU | CPU ratio | \
             largest process peak RSS | all client processes peak RSS | memory ratio |"
        )
        .ok();
        writeln!(t, "|---|---|---|---|---|---|---|---|").ok();
        let rows: Vec<(&str, Summary, bool)> = vec![
            ("rackstrap `discover` (1 process)", base, true),
            (
                "rackstrap library, in process (no process start)",
                Summary::of(&library),
                false,
            ),
            (
                "OpenSSH `ssh` (1 process per host, in parallel)",
                Summary::of(&openssh),
                true,
            ),
            (
                "OpenSSH `ssh`, same key exchange as rackstrap (curve25519-sha256)",
                Summary::of(&openssh_curve),
                true,
            ),
        ];
        for (name, s, full) in rows {
            t.push_str(&row(name, &s, &base, full));
        }
        if inventory.is_some() {
            t.push_str(&row(
                "Ansible `ansible all -m setup` (forks = hosts)",
                &Summary::of(&ansible),
                &base,
                true,
            ));
        }
        writeln!(
            t,
            "\nRatios are the client's number divided by rackstrap's: above 1.0x the client \
             takes longer or uses more. The memory ratio compares all client processes together."
        )
        .ok();
        t
    }

    // ---- many small commands on one host ---------------------------------------------------

    fn per_command(&self) -> String {
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let host = &self.lab.hosts()[0];
        let mut session = Vec::new();
        let mut connect = Vec::new();
        let mut mux = Vec::new();
        let mut separate = Vec::new();
        let mut separate_curve = Vec::new();
        // Warm-up once each, then rotate the order as for discovery.
        self.session_commands(&runtime, &host.address);
        self.openssh_mux_commands(&host.address);
        self.openssh_separate_commands(&host.address, Kex::Default);
        self.openssh_separate_commands(&host.address, Kex::Curve25519);
        for round in 0..COMMAND_ROUNDS {
            eprintln!("per-command round {}/{COMMAND_ROUNDS} ...", round + 1);
            for step in 0..4 {
                match (round + step) % 4 {
                    0 => {
                        let (c, r) = self.session_commands(&runtime, &host.address);
                        connect.push(c);
                        session.push(r);
                    }
                    1 => mux.push(self.openssh_mux_commands(&host.address)),
                    2 => separate.push(self.openssh_separate_commands(&host.address, Kex::Default)),
                    _ => separate_curve
                        .push(self.openssh_separate_commands(&host.address, Kex::Curve25519)),
                }
            }
        }
        let base = median(&session);
        let mut t = String::new();
        writeln!(
            t,
            "### {COMMANDS} small commands (`true`) one after another on one host \
             (rackstrap = 1.0x)\n"
        )
        .ok();
        writeln!(
            t,
            "| client | {COMMANDS} commands, median (min-max) | per command | ratio |"
        )
        .ok();
        writeln!(t, "|---|---|---|---|").ok();
        let line = |t: &mut String, name: &str, runs: &[Duration]| {
            let d = median(runs);
            let min = runs.iter().min().copied().unwrap_or_default();
            let max = runs.iter().max().copied().unwrap_or_default();
            writeln!(
                t,
                "| {name} | {} ({}-{}) | {} | {} |",
                ms(d),
                ms(min),
                ms(max),
                ms(d / COMMANDS as u32),
                ratio(d.as_secs_f64(), base.as_secs_f64())
            )
            .ok();
        };
        line(
            &mut t,
            "rackstrap `Session`: one connection, one channel per command",
            &session,
        );
        line(
            &mut t,
            "OpenSSH, one shared master connection (`ControlMaster`)",
            &mux,
        );
        line(&mut t, "OpenSSH, one connection per command", &separate);
        line(
            &mut t,
            "OpenSSH, one connection per command, curve25519-sha256",
            &separate_curve,
        );
        writeln!(
            t,
            "\nrackstrap's connection set-up (handshake, pinning, authentication) is not in its \
             row: it took {} (median) once, before the commands. Rounds: {COMMAND_ROUNDS} per \
             client after one warm-up.",
            ms(median(&connect))
        )
        .ok();
        t
    }
}
