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
//!    using against this sshd ([`Kex`]).
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
//! (sampled from `/proc` every [`SAMPLE_EVERY`]). Every run is checked (every host `ok` with
//! facts, every `ssh` exit 0 with the whole script output, every Ansible host `SUCCESS`): a
//! failed run stops the benchmark instead of being timed.
//!
//! The lab talks only to its own `127.77.<slot>.x` addresses. Knobs (environment):
//! `RACKSTRAP_BENCH_HOSTS` (default [`DEFAULT_HOSTS`]), `RACKSTRAP_BENCH_ROUNDS` (default
//! [`DEFAULT_ROUNDS`]; Ansible runs at most [`MAX_ANSIBLE_ROUNDS`] of them).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::lab::{DiskSpec, HostSpec, LAB_PORT, Lab, Os};
use rackstrap::discover::{Discovered, HostState};
use rackstrap::ssh::{ConnectOptions, Session};

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
/// How often the process-tree memory is sampled. Short-lived peaks between two samples are
/// missed; the exact per-process peak comes from `wait4`.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// A client run that takes longer than this is killed and the benchmark fails.
const RUN_DEADLINE: Duration = Duration::from_secs(120);
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

/// Ansible's version line and the path of its real executable: a version manager's shim in
/// front of it would add its own start-up to every run.
fn ansible() -> Option<(String, PathBuf)> {
    let out = Command::new("ansible").arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next().unwrap_or("ansible").trim().to_string();
    let executable = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("executable location = "))
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("ansible"));
    Some((version, executable))
}

/// Key exchange of the OpenSSH client. OpenSSH 9.x prefers the post-quantum hybrid
/// `sntrup761x25519-sha512`; rackstrap (russh) offers `mlkem768x25519-sha256` first, which
/// sshd before 9.9 does not know, and so settles on `curve25519-sha256`. Both are measured.
#[derive(Debug, Clone, Copy)]
enum Kex {
    /// The client's own preference.
    Default,
    /// `-o KexAlgorithms=curve25519-sha256`: what rackstrap negotiates with such a server.
    Curve25519,
}

/// One client run: how long, how much CPU, how much memory.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    wall: Duration,
    /// User + system time of the client processes and their waited-for descendants.
    cpu: Duration,
    /// Largest single process's peak resident set, KiB (exact).
    max_rss_kib: u64,
    /// Peak of the sum of resident sets of all client processes at once, KiB (sampled).
    tree_rss_kib: u64,
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

    /// `rackstrap discover FIRST-LAST --json` with a fresh known_hosts; every host must end
    /// `ok` with facts.
    fn run_rackstrap_binary(&self) -> Sample {
        let hosts = self.lab.hosts();
        let range = format!("{}-{}", hosts[0].address, hosts[hosts.len() - 1].address);
        let known = self.fresh_known_hosts("rackstrap");
        let out = known.with_file_name("out.jsonl");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
        cmd.args([
            "discover",
            &range,
            "--port",
            &LAB_PORT.to_string(),
            "--identity",
        ])
        .arg(self.lab.key_path())
        .arg("--known-hosts")
        .arg(&known)
        .args(["--accept-new", "--json"]);
        let sample = run_measured("rackstrap discover", vec![cmd], &out);
        let text = fs::read_to_string(&out).expect("rackstrap output");
        let found: Vec<Discovered> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("rackstrap discover --json line"))
            .collect();
        self.check_discovered(&found, "rackstrap discover");
        sample
    }

    fn run_rackstrap_library(&self, runtime: &tokio::runtime::Runtime) -> Sample {
        let opts = ConnectOptions {
            port: LAB_PORT,
            identity: Some(self.lab.key_path().to_path_buf()),
            known_hosts: self.fresh_known_hosts("library"),
            extra_known_hosts: Vec::new(),
            accept_new: true,
            use_agent: false,
            ..ConnectOptions::default()
        };
        let targets = self.addresses();
        let start = Instant::now();
        let found = runtime.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let scan = tokio::spawn(rackstrap::discover::discover(
                targets,
                opts,
                rackstrap::discover::DEFAULT_CONCURRENCY,
                tx,
            ));
            let mut found = Vec::new();
            while let Some(d) = rx.recv().await {
                found.push(d);
            }
            let _ = scan.await;
            found
        });
        let wall = start.elapsed();
        eprintln!("  {:<20} {}", "rackstrap library", ms(wall));
        self.check_discovered(&found, "rackstrap library");
        Sample {
            wall,
            ..Sample::default()
        }
    }

    fn check_discovered(&self, found: &[Discovered], who: &str) {
        assert_eq!(found.len(), self.hosts, "{who}: one result per host");
        for d in found {
            assert_eq!(
                d.state,
                HostState::Ok,
                "{who}: {}: {}",
                d.address,
                d.message
            );
            let facts = d
                .facts
                .as_ref()
                .unwrap_or_else(|| panic!("{who}: {}: no facts: {}", d.address, d.message));
            let host = self
                .lab
                .hosts()
                .iter()
                .find(|h| h.address == d.address)
                .unwrap_or_else(|| panic!("{who}: unexpected address {}", d.address));
            assert_eq!(
                facts.hostname, host.name,
                "{who}: hostname of {}",
                d.address
            );
            assert!(
                facts.disks.len() >= host.disks.len(),
                "{who}: {} shows {} disks",
                d.address,
                facts.disks.len()
            );
        }
    }

    /// The OpenSSH client options shared by every `ssh` run here: no config files (so the
    /// machine's ssh_config changes nothing), only the lab key, no agent, no prompts.
    fn ssh_base(&self, known_hosts: &Path, kex: Kex) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-i"])
            .arg(self.lab.key_path())
            .args(["-p", &LAB_PORT.to_string()])
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=accept-new", "-o"])
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"]);
        if let Kex::Curve25519 = kex {
            cmd.args(["-o", "KexAlgorithms=curve25519-sha256"]);
        }
        cmd
    }

    /// One `ssh` per host at once, each running the facts script as rackstrap does
    /// (`sh -c '<script>'`), pinning into a fresh known_hosts.
    fn run_openssh_facts(&self, kex: Kex) -> Sample {
        let known = self.fresh_known_hosts("openssh");
        let remote = format!(
            "sh -c {}",
            shlex::try_quote(&rackstrap::facts::gather::SCRIPT).expect("script has no NUL")
        );
        let mut commands = Vec::new();
        for host in self.lab.hosts() {
            let mut cmd = self.ssh_base(&known, kex);
            cmd.arg(format!("root@{}", host.address)).arg(&remote);
            commands.push(cmd);
        }
        let dir = known.parent().expect("known_hosts has a directory");
        let out = dir.join("out");
        let label = match kex {
            Kex::Default => "ssh",
            Kex::Curve25519 => "ssh (curve25519)",
        };
        let sample = run_measured(label, commands, &out);
        // Every process appended to one file: one `end` marker per host means every script
        // ran to its end.
        let text = fs::read_to_string(&out).expect("ssh output");
        let ends = text.matches("::rackstrap:: end").count();
        assert_eq!(ends, self.hosts, "ssh: every host ran the whole script");
        sample
    }

    fn ansible_inventory(&self) -> PathBuf {
        let dir = self.work.join("ansible");
        fs::create_dir_all(&dir).expect("ansible directory");
        let mut text = String::from("[lab]\n");
        for host in self.lab.hosts() {
            writeln!(text, "{} ansible_host={}", host.name, host.address).ok();
        }
        writeln!(
            text,
            "\n[all:vars]\nansible_port={LAB_PORT}\nansible_user=root\n\
             ansible_ssh_private_key_file={}\nansible_python_interpreter=/usr/bin/python3\n\
             ansible_ssh_common_args='-F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
            self.lab.key_path().display()
        )
        .ok();
        let path = dir.join("hosts.ini");
        fs::write(&path, text).expect("write inventory");
        path
    }

    /// `ansible all -m setup -o`; every host must answer `SUCCESS`.
    fn run_ansible_setup(&self, inventory: &Path) -> Sample {
        let dir = inventory.parent().expect("inventory directory");
        let mut cmd = Command::new(self.ansible.as_deref().unwrap_or(Path::new("ansible")));
        cmd.args(["all", "-i"])
            .arg(inventory)
            .args(["-m", "setup", "-o", "-f", &self.hosts.to_string()])
            // Only this directory's settings: no ansible.cfg from elsewhere, state kept here.
            .env("ANSIBLE_CONFIG", dir.join("none.cfg"))
            .env("ANSIBLE_HOME", dir.join("home"))
            .env("ANSIBLE_LOCAL_TEMP", dir.join("tmp"))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_PIPELINING", "True")
            // The default (`ControlPersist=60s`) would keep connections from one round for
            // the next; every client here starts cold.
            .env("ANSIBLE_SSH_ARGS", "-o ControlMaster=no")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False");
        let out = dir.join("out");
        let sample = run_measured("ansible", vec![cmd], &out);
        let text = fs::read_to_string(&out).expect("ansible output");
        let ok = text.lines().filter(|l| l.contains("| SUCCESS =>")).count();
        assert_eq!(
            ok,
            self.hosts,
            "ansible: every host SUCCESS:\n{}",
            tail(&text, 4000)
        );
        sample
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

    /// Connect once (timed apart), then run `true` [`COMMANDS`] times, one after another.
    fn session_commands(
        &self,
        runtime: &tokio::runtime::Runtime,
        address: &str,
    ) -> (Duration, Duration) {
        let opts = ConnectOptions {
            port: LAB_PORT,
            identity: Some(self.lab.key_path().to_path_buf()),
            known_hosts: self.fresh_known_hosts("session"),
            extra_known_hosts: Vec::new(),
            accept_new: true,
            use_agent: false,
            ..ConnectOptions::default()
        };
        runtime.block_on(async {
            let start = Instant::now();
            let session = Session::connect(address, &opts)
                .await
                .unwrap_or_else(|e| panic!("session to {address}: {e}"));
            let connected = start.elapsed();
            let start = Instant::now();
            for _ in 0..COMMANDS {
                let out = session.run("true").await.expect("exec over the session");
                assert_eq!(out.status, 0, "`true` over the session");
            }
            let commands = start.elapsed();
            session.close().await;
            (connected, commands)
        })
    }

    /// A master `ssh -M -N` held as our child, then [`COMMANDS`] `ssh -S <socket> true`.
    fn openssh_mux_commands(&self, address: &str) -> Duration {
        let known = self.fresh_known_hosts("mux");
        let socket = known.with_file_name("master.sock");
        let target = format!("root@{address}");
        let mut master = self
            .ssh_base(&known, Kex::Default)
            .args(["-M", "-N", "-S"])
            .arg(&socket)
            .args(["-o", "ControlPersist=no"])
            .arg(&target)
            .stdin(Stdio::null())
            .spawn()
            .expect("ssh master");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh master socket never appeared"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let start = Instant::now();
        for _ in 0..COMMANDS {
            let status = self
                .ssh_base(&known, Kex::Default)
                .args(["-S"])
                .arg(&socket)
                .args(["-o", "ControlMaster=no"])
                .arg(&target)
                .arg("true")
                .stdin(Stdio::null())
                .status()
                .expect("ssh through the master");
            assert!(status.success(), "ssh -S true: {status}");
        }
        let elapsed = start.elapsed();
        let _ = master.kill();
        let _ = master.wait();
        elapsed
    }

    /// [`COMMANDS`] separate `ssh ... true`, each its own connection (keys pinned once before).
    fn openssh_separate_commands(&self, address: &str, kex: Kex) -> Duration {
        let known = self.fresh_known_hosts("separate");
        let target = format!("root@{address}");
        let run = || {
            let status = self
                .ssh_base(&known, kex)
                .arg(&target)
                .arg("true")
                .stdin(Stdio::null())
                .status()
                .expect("ssh");
            assert!(status.success(), "ssh true: {status}");
        };
        run();
        let start = Instant::now();
        for _ in 0..COMMANDS {
            run();
        }
        start.elapsed()
    }
}

// ---- measuring child processes ---------------------------------------------------------------

/// Start `commands` at once (stdout and stderr appended to `out`), wait for all, and measure
/// them as one client: wall time until the last exits, CPU and the largest peak RSS from
/// `wait4`, and the sampled peak of all their processes' RSS together. Each must exit 0.
fn run_measured(label: &str, commands: Vec<Command>, out: &Path) -> Sample {
    // One file for all the processes of this run (opened for appending, so their writes
    // do not overwrite each other), emptied first.
    File::create(out).expect("output file");
    let log = File::options().append(true).open(out).expect("output file");
    let start = Instant::now();
    let mut pids = Vec::new();
    for mut cmd in commands {
        let stdout = log.try_clone().expect("output file handle");
        let stderr = log.try_clone().expect("output file handle");
        // The `Child` is dropped without waiting: `wait4` below reaps it, which is the only
        // way to read its resource usage.
        #[expect(clippy::zombie_processes, reason = "reaped by wait4 in run_measured")]
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        pids.push(child.id());
    }
    let sampler = TreeSampler::start(pids.clone());
    let watchdog = Watchdog::start(pids.clone(), RUN_DEADLINE);

    let mut sample = Sample::default();
    let mut failures = Vec::new();
    for pid in &pids {
        let (status, usage) = wait4(*pid);
        watchdog.reaped(*pid);
        sample.cpu += timeval(usage.ru_utime) + timeval(usage.ru_stime);
        // Linux reports ru_maxrss in KiB.
        sample.max_rss_kib = sample
            .max_rss_kib
            .max(u64::try_from(usage.ru_maxrss).unwrap_or(0));
        if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
            failures.push(format!("pid {pid}: wait status {status:#x}"));
        }
    }
    sample.wall = start.elapsed();
    eprintln!("  {label:<20} {}", ms(sample.wall));
    sample.tree_rss_kib = sampler.stop();
    watchdog.stop();
    if !failures.is_empty() {
        let text = fs::read_to_string(out).unwrap_or_default();
        panic!(
            "client failed ({}):\n{}",
            failures.join(", "),
            tail(&text, 4000)
        );
    }
    sample
}

/// Block until `pid` exits; its wait status and resource usage (its own and that of every
/// descendant it waited for).
fn wait4(pid: u32) -> (i32, libc::rusage) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    let mut status = 0;
    // SAFETY: `rusage` is plain old data for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers point to live, writable values of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return (status, usage);
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::Interrupted,
            "wait4({pid}): {err}"
        );
    }
}

/// The last `max` bytes of `text` (from a character boundary), for error messages.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// Samples, every [`SAMPLE_EVERY`], the summed `VmRSS` of the root processes and all their
/// descendants; keeps the peak.
struct TreeSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl TreeSampler {
    fn start(roots: Vec<u32>) -> TreeSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(tree_rss_kib(&roots));
                std::thread::sleep(SAMPLE_EVERY);
            }
            peak
        });
        TreeSampler { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// Sum of `VmRSS` (KiB) over `roots` and their descendants, found through
/// `/proc/<pid>/task/<tid>/children`. Exited (zombie) processes have no `VmRSS` and count 0.
fn tree_rss_kib(roots: &[u32]) -> u64 {
    let mut stack = roots.to_vec();
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(pid) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
            stack.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    total
}

/// Kills the client processes not yet reaped when the deadline passes, so a hung client ends
/// the benchmark with an error instead of never.
struct Watchdog {
    live: Arc<Mutex<HashSet<u32>>>,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(pids: Vec<u32>, deadline: Duration) -> Watchdog {
        let live = Arc::new(Mutex::new(pids.into_iter().collect::<HashSet<_>>()));
        let done = Arc::new(AtomicBool::new(false));
        let (l, d) = (live.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let until = Instant::now() + deadline;
            while !d.load(Ordering::Relaxed) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
            if d.load(Ordering::Relaxed) {
                return;
            }
            // Only pids still in the set: those are our unreaped children, so the pid
            // cannot belong to anyone else yet.
            if let Ok(live) = l.lock() {
                for pid in live.iter() {
                    eprintln!("client {pid} still running after {deadline:?}: killing it");
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            }
        });
        Watchdog { live, done, thread }
    }

    fn reaped(&self, pid: u32) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&pid);
        }
    }

    fn stop(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

// ---- statistics and formatting ---------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Summary {
    wall: Duration,
    wall_min: Duration,
    wall_max: Duration,
    cpu: Duration,
    max_rss_kib: u64,
    tree_rss_kib: u64,
}

impl Summary {
    fn of(samples: &[Sample]) -> Summary {
        let walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        Summary {
            wall: median(&walls),
            wall_min: walls.iter().min().copied().unwrap_or_default(),
            wall_max: walls.iter().max().copied().unwrap_or_default(),
            cpu: median(&samples.iter().map(|s| s.cpu).collect::<Vec<_>>()),
            max_rss_kib: median(&samples.iter().map(|s| s.max_rss_kib).collect::<Vec<_>>()),
            tree_rss_kib: median(&samples.iter().map(|s| s.tree_rss_kib).collect::<Vec<_>>()),
        }
    }
}

/// Median (the upper one of an even count); zero for no samples.
fn median<T: Copy + Ord + Default>(values: &[T]) -> T {
    let mut v = values.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ratio(value: f64, base: f64) -> String {
    if base <= 0.0 {
        return "-".into();
    }
    format!("{:.1}x", value / base)
}

/// One table row; `full` is false for the in-process row, which has only a wall time.
fn row(name: &str, s: &Summary, base: &Summary, full: bool) -> String {
    let wall = format!("{} ({}-{})", ms(s.wall), ms(s.wall_min), ms(s.wall_max));
    let wall_ratio = ratio(s.wall.as_secs_f64(), base.wall.as_secs_f64());
    if !full {
        return format!("| {name} | {wall} | {wall_ratio} | - | - | - | - | - |\n");
    }
    format!(
        "| {name} | {wall} | {wall_ratio} | {} | {} | {} | {} | {} |\n",
        ms(s.cpu),
        ratio(s.cpu.as_secs_f64(), base.cpu.as_secs_f64()),
        mib(s.max_rss_kib),
        mib(s.tree_rss_kib),
        ratio(s.tree_rss_kib as f64, base.tree_rss_kib as f64),
    )
}
