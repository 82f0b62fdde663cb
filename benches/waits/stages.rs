//! Stages on many hosts: preflight, host prep (its kernel parameters) and storage (one XFS per
//! host on a blank loop-device disk, mounted) on a lab of [`HOSTS`] hosts and on one of them
//! alone, through `rackstrap apply` and through Ansible ad-hoc running the same shell.
//!
//! - rackstrap: `rackstrap apply PLAN --stage preflight --stage host-prep --stage storage
//!   --yes` as one child process. Host prep selects itself whole: its package part is one
//!   read-only probe here (the lab hosts share this machine's packages, which include
//!   xfsprogs and python3), so what it changes is the kernel parameters.
//! - Ansible: per stage one `ansible all -m shell -a '{{ stage script }}'` with forks =
//!   hosts and pipelining on, the three one after another (a stage starts when the previous
//!   one ended on every host, as the runner does). Each host's script is the stage's commands
//!   from rackstrap's own dry run (`provision::dry_run` with the facts discovery gathered from
//!   the blank hosts, what the wizard's Review screen lists), each in a subshell, the next
//!   only after it succeeded. The scripts are inventory variables marked `!unsafe`, so
//!   Ansible runs them unchanged. SSH connections are kept from one stage to the next within a run (`ControlPersist`, Ansible's
//!   default) and closed after it, so every run starts cold.
//!
//! rackstrap does more than the listed commands: before them its checks look at each host
//! (the sysctl file and live values, the packages, the disks) and after them it verifies the
//! result and records every step in the run state. Ansible runs only the listed commands.
//!
//! Before each run every host is put back: the filesystem unmounted and wiped, fstab and the
//! kernel parameters as they were, the sysctl file and the run state removed, so every run does
//! the whole work. After each run every host must show an XFS at the mount point and the
//! planned kernel parameters. The kernel parameters are each host's own copies
//! (`fake_k8s::private_sysctl`); this machine's values are checked unchanged at the end.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rackstrap::facts::Facts;
use rackstrap::provision::StageId;

use super::common::fake_k8s;
use super::common::lab::{HostSpec, LAB_PORT, Lab};
use super::measure::{Sample, run_measured, tail};
use super::report::{Summary, median, mib, ms, ratio};
use super::shared::{ansible, discover_all, lab_options};

/// Lab size for the many-hosts rows.
const HOSTS: usize = 32;
/// Each host's blank disk: sparse, above XFS's smallest filesystem (300 MB).
const DISK: u64 = 512 << 20;
/// Where the XFS is mounted.
const MOUNT: &str = "/mnt/data";
/// The Akash guide's kernel parameters ("STEP 9 - Custom Kernel Parameters").
const SYSCTL: [(&str, &str); 3] = [
    ("fs.inotify.max_user_instances", "512"),
    ("fs.inotify.max_user_watches", "1048576"),
    ("vm.max_map_count", "1000000"),
];
const STAGES: [StageId; 3] = [StageId::Preflight, StageId::HostPrep, StageId::Storage];
/// Measured rounds per client after one warm-up each (`RACKSTRAP_BENCH_ROUNDS`).
const ROUNDS: usize = 5;

struct Bench {
    lab: Lab,
    work: PathBuf,
    ansible: PathBuf,
    /// Each host's kernel parameter values before any run, by host, in [`SYSCTL`] order.
    original: Vec<Vec<String>>,
}

/// One client: a name and how many hosts it works on.
#[derive(Clone, Copy)]
enum Client {
    Rackstrap(usize),
    Ansible(usize),
}

impl Client {
    fn name(self) -> String {
        match self {
            Client::Rackstrap(n) => format!("rackstrap `apply`, {n} host{}", plural(n)),
            Client::Ansible(n) => format!(
                "Ansible `ansible all -m shell` (forks = {n}, pipelining), {n} host{}",
                plural(n)
            ),
        }
    }

    fn hosts(self) -> usize {
        match self {
            Client::Rackstrap(n) | Client::Ansible(n) => n,
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(crate) fn run() -> String {
    let Some((ansible_version, ansible)) = ansible() else {
        return "### Stages on many hosts\n\nskipped: `ansible` is not installed\n".into();
    };
    let rounds = std::env::var("RACKSTRAP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(ROUNDS);
    let machine_before = machine_sysctl();
    eprintln!("stages: starting a lab of {HOSTS} hosts ...");
    let specs = (1..=HOSTS)
        .map(|i| HostSpec::new(&format!("n{i}")).disk(DISK))
        .collect();
    let lab = Lab::start(specs);
    let keys: Vec<&str> = SYSCTL.iter().map(|(k, _)| *k).collect();
    let mut original = Vec::new();
    for h in lab.hosts() {
        fake_k8s::private_sysctl(&lab, &h.name, &keys);
        // The copies must really cover the kernel's files before anything writes them.
        for k in &keys {
            let path = format!("/proc/sys/{}", k.replace('.', "/"));
            let src = lab.exec_ok(&h.name, &format!("findmnt -n -o SOURCE {path}"));
            assert!(
                src.contains("fake-sysctl"),
                "{}: {path} is not the host's own copy: {src}",
                h.name
            );
        }
        original.push(
            keys.iter()
                .map(|k| {
                    lab.exec_ok(&h.name, &format!("sysctl -n {k}"))
                        .trim()
                        .to_string()
                })
                .collect(),
        );
    }
    let work = lab.dir.join("stages-bench");
    fs::create_dir_all(&work).expect("work directory");
    let bench = Bench {
        lab,
        work,
        ansible,
        original,
    };
    let out = bench.measure(rounds, &ansible_version);
    assert_eq!(
        machine_sysctl(),
        machine_before,
        "this machine's kernel parameters changed"
    );
    out
}

impl Bench {
    fn measure(&self, rounds: usize, ansible_version: &str) -> String {
        let plans = [self.write_plan(HOSTS), self.write_plan(1)];
        let facts = self.facts();
        let inventories = [
            self.inventory(&plans[0].1, &facts, HOSTS),
            self.inventory(&plans[1].1, &facts, 1),
        ];
        let clients = [
            Client::Rackstrap(HOSTS),
            Client::Ansible(HOSTS),
            Client::Rackstrap(1),
            Client::Ansible(1),
        ];
        let run = |c: Client| -> (Sample, Duration) {
            self.reset(c.hosts());
            let i = usize::from(c.hosts() != HOSTS);
            let hosts_before = self.hosts_cpu();
            let sample = match c {
                Client::Rackstrap(_) => self.run_rackstrap(&plans[i].0),
                Client::Ansible(n) => self.run_ansible(&inventories[i], n),
            };
            // Closed connections' server processes are reaped by their sshd shortly after.
            std::thread::sleep(Duration::from_millis(300));
            let hosts = self.hosts_cpu().saturating_sub(hosts_before);
            self.check_done(c.hosts(), &c.name());
            (sample, hosts)
        };
        for c in clients {
            eprintln!("  warm-up: {}", c.name());
            run(c);
        }
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); clients.len()];
        let mut hosts_cpu: Vec<Vec<Duration>> = vec![Vec::new(); clients.len()];
        for round in 0..rounds {
            eprintln!("stages round {}/{rounds} ...", round + 1);
            for step in 0..clients.len() {
                let i = (round + step) % clients.len();
                let (sample, hosts) = run(clients[i]);
                eprintln!("    hosts' CPU {}", ms(hosts));
                samples[i].push(sample);
                hosts_cpu[i].push(hosts);
            }
        }
        self.reset(HOSTS);
        let s: Vec<Summary> = samples.iter().map(|v| Summary::of(v)).collect();
        let h: Vec<Duration> = hosts_cpu.iter().map(|v| median(v)).collect();
        report(&clients, &s, &h, rounds, ansible_version)
    }

    /// A plan of the first `n` lab hosts: the kernel parameters, one XFS on each host's disk.
    /// Written beside its own state directory; returns the plan's path and the plan.
    fn write_plan(&self, n: usize) -> (PathBuf, rackstrap::plan::Plan) {
        let mut y = format!(
            "version: 1\ncluster: {{name: bench{n}, kubespray: {{path: {}}}}}\n\
             access: {{user: root, port: {LAB_PORT}, identity: {}}}\ntuning:\n  sysctl:\n",
            self.work.display(),
            self.lab.key_path().display()
        );
        for (k, v) in SYSCTL {
            writeln!(y, "    {k}: {v}").ok();
        }
        y.push_str("hosts:\n");
        for (i, h) in self.lab.hosts().iter().take(n).enumerate() {
            let roles = if i == 0 {
                "[control_plane, etcd, worker]"
            } else {
                "[worker]"
            };
            write!(
                y,
                "  - name: {}\n    address: {}\n    roles: {roles}\n    storage:\n      \
                 - {{level: single, devices: [{}], filesystem: xfs, mount: {MOUNT}}}\n",
                h.name, h.address, h.disks[0].name
            )
            .ok();
        }
        let plan: rackstrap::plan::Plan =
            serde_yaml::from_str(&y).unwrap_or_else(|e| panic!("bench plan: {e}\n{y}"));
        let errors: Vec<_> = rackstrap::plan::check(&plan, None)
            .into_iter()
            .filter(|f| f.is_error())
            .collect();
        assert!(errors.is_empty(), "bench plan has errors: {errors:?}");
        let path = self.work.join(format!("bench{n}.yaml"));
        fs::write(&path, &y).expect("write plan");
        (path, plan)
    }

    fn known_hosts(&self) -> PathBuf {
        self.work.join("known_hosts")
    }

    /// Discovery's facts of the blank hosts, by plan host name: what the dry run plans from.
    fn facts(&self) -> Facts {
        let opts = lab_options(&self.lab, self.known_hosts());
        self.reset(HOSTS);
        let targets: Vec<String> = self.lab.hosts().iter().map(|h| h.address.clone()).collect();
        let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
        let found = discover_all(&runtime, targets, opts);
        let mut facts = Facts::new();
        for d in found {
            let host = self
                .lab
                .hosts()
                .iter()
                .find(|h| h.address == d.address)
                .unwrap_or_else(|| panic!("discovery: unexpected address {}", d.address));
            let f = d
                .facts
                .unwrap_or_else(|| panic!("discovery: {}: {}", host.name, d.message));
            facts.insert(host.name.clone(), f);
        }
        assert_eq!(facts.len(), HOSTS, "discovery: facts of every host");
        facts
    }

    /// An inventory of the plan's hosts, each with one script per stage: the dry run's
    /// commands for that host, one after another, stopping at the first that fails.
    fn inventory(&self, plan: &rackstrap::plan::Plan, facts: &Facts, n: usize) -> PathBuf {
        let steps = rackstrap::provision::dry_run(plan, Some(facts));
        let mut y = format!(
            "all:\n  vars:\n    ansible_port: {LAB_PORT}\n    ansible_user: root\n    \
             ansible_ssh_private_key_file: {}\n    ansible_python_interpreter: /usr/bin/python3\n    \
             ansible_ssh_common_args: '-F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n  hosts:\n",
            self.lab.key_path().display()
        );
        for h in &plan.hosts {
            writeln!(y, "    {}:\n      ansible_host: {}", h.name, h.address).ok();
            for stage in STAGES {
                let cmds = steps
                    .iter()
                    .find(|s| s.stage == stage && s.host == h.name)
                    .map(|s| s.commands.clone())
                    .unwrap_or_else(|| panic!("dry run: no {stage} for {}", h.name))
                    .unwrap_or_else(|e| panic!("dry run: {stage} on {}: {e}", h.name));
                assert!(
                    !cmds.is_empty(),
                    "dry run: {stage} on {}: no commands",
                    h.name
                );
                if stage == StageId::Storage {
                    assert!(
                        cmds.iter().any(|c| c.starts_with("mkfs.xfs")),
                        "dry run: no mkfs.xfs on {}: {cmds:?}",
                        h.name
                    );
                }
                // Each command in a subshell of its own, the next only after it exits 0: as
                // rackstrap runs them, one after another, each in a shell of its own.
                let script: String = cmds
                    .iter()
                    .map(|c| format!("(\n{c}\n) || exit $?\n"))
                    .collect();
                // A JSON string is a valid YAML double-quoted scalar; `!unsafe` keeps Ansible
                // from templating it.
                let quoted = serde_json::to_string(&script).expect("a string serialises");
                writeln!(y, "      {}: !unsafe {quoted}", var(stage)).ok();
            }
        }
        let dir = self.work.join(format!("ansible{n}"));
        fs::create_dir_all(&dir).expect("ansible directory");
        let path = dir.join("hosts.yml");
        fs::write(&path, y).expect("write inventory");
        path
    }

    fn run_rackstrap(&self, plan: &Path) -> Sample {
        let mut cmd = Command::new(rackstrap_binary());
        cmd.arg("apply").arg(plan);
        for s in STAGES {
            cmd.args(["--stage", s.as_str()]);
        }
        cmd.args(["--yes", "--accept-new", "--known-hosts"])
            .arg(self.known_hosts());
        let out = self.work.join("rackstrap.out");
        // `apply` exits 0 only when every step of every host is done.
        let sample = run_measured("rackstrap apply", vec![cmd], &out);
        let text = fs::read_to_string(&out).unwrap_or_default();
        let ran = text
            .lines()
            .filter(|l| l.contains(" storage done: ") && l.ends_with("command(s) run"))
            .count();
        assert!(
            ran > 0,
            "rackstrap: storage ran no commands:\n{}",
            tail(&text, 4000)
        );
        sample
    }

    /// The three stages, one `ansible` after another, as one measured process tree.
    fn run_ansible(&self, inventory: &Path, n: usize) -> Sample {
        let dir = inventory.parent().expect("inventory directory");
        // A short directory: a Unix socket path holds at most 107 bytes.
        let control_dir = tempfile::Builder::new()
            .prefix("rs-cp")
            .tempdir_in("/tmp")
            .expect("control path directory");
        let control = control_dir.path();
        let mut script = String::from("set -e\n");
        for stage in STAGES {
            writeln!(
                script,
                "\"$0\" all -i \"$1\" -m shell -a '{{{{ {} }}}}' -o -f {n}",
                var(stage)
            )
            .ok();
        }
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg(&self.ansible)
            .arg(inventory)
            .env("ANSIBLE_CONFIG", dir.join("none.cfg"))
            .env("ANSIBLE_HOME", dir.join("home"))
            .env("ANSIBLE_LOCAL_TEMP", dir.join("tmp"))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_PIPELINING", "True")
            // Ansible's default connection sharing, its socket in a directory of this run: the
            // second and third stage reuse the first one's connections.
            .env(
                "ANSIBLE_SSH_ARGS",
                format!(
                    "-C -o ControlMaster=auto -o ControlPersist=60s -o ControlPath={}/%C",
                    control.display()
                ),
            )
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False");
        let out = dir.join("out");
        let sample = run_measured("ansible", vec![cmd], &out);
        // Close the connections this run left open, by their sockets.
        if let Ok(entries) = fs::read_dir(control) {
            for e in entries.flatten() {
                let _ = Command::new("ssh")
                    .args(["-F", "/dev/null", "-o"])
                    .arg(format!("ControlPath={}", e.path().display()))
                    .args(["-O", "exit", "lab"])
                    .output();
            }
        }
        let text = fs::read_to_string(&out).expect("ansible output");
        let ok = text
            .lines()
            .filter(|l| l.contains(" | CHANGED | rc=0 |"))
            .count();
        assert_eq!(
            ok,
            n * STAGES.len(),
            "ansible: every stage CHANGED rc=0 on every host:\n{}",
            tail(&text, 4000)
        );
        sample
    }

    /// CPU time (user + system) the lab's sshd servers have used so far, with every process
    /// they reaped: the connections, the shells and what the commands ran (mkfs, sysctl,
    /// lsblk, Ansible's Python). The hosts' side of the work; the kernel's own threads (loop
    /// device I/O) are not in it.
    fn hosts_cpu(&self) -> Duration {
        let marker = self.lab.dir.to_string_lossy().to_string();
        // SAFETY: sysconf has no preconditions.
        let tick = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100);
        let mut ticks = 0u64;
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let dir = entry.path();
            let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            // The listening sshd of a lab host (it retitles itself `sshd: /usr/sbin/sshd -D
            // ... [listener] ...`), not the `nsenter` that started it.
            if !(cmdline.starts_with("sshd:") || cmdline.starts_with("/usr/sbin/sshd"))
                || !cmdline.contains(&marker)
            {
                continue;
            }
            let stat = fs::read_to_string(dir.join("stat")).unwrap_or_default();
            // After the command name: state is field 3; utime, stime, cutime, cstime are
            // fields 14 to 17.
            let Some((_, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            ticks += rest
                .split_whitespace()
                .skip(11)
                .take(4)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum::<u64>();
        }
        Duration::from_millis(ticks * 1000 / tick.max(1))
    }

    /// Puts the first `n` hosts back as they were before any run (nothing measured here).
    fn reset(&self, n: usize) {
        let _ = fs::remove_dir_all(self.work.join(".rackstrap"));
        std::thread::scope(|scope| {
            for (h, orig) in self.lab.hosts().iter().zip(&self.original).take(n) {
                scope.spawn(move || {
                    let mut s = format!(
                        "umount {MOUNT} 2>/dev/null; rmdir {MOUNT} 2>/dev/null; \
                         wipefs -a -q /dev/{disk} && \
                         printf '# /etc/fstab: static file system information.\\n' > /etc/fstab && \
                         rm -f /etc/fstab.1 {sysctl}",
                        disk = h.disks[0].name,
                        sysctl = rackstrap::render::SYSCTL_REMOTE_PATH,
                    );
                    for ((k, _), v) in SYSCTL.iter().zip(orig) {
                        write!(s, " && echo {v} > /etc/fake-sysctl/{k}").ok();
                    }
                    write!(
                        s,
                        " && blkid -p /dev/{} >/dev/null; [ $? = 2 ]",
                        h.disks[0].name
                    )
                    .ok();
                    self.lab.exec_ok(&h.name, &s);
                });
            }
        });
    }

    /// Every one of the first `n` hosts shows the XFS mounted and the planned parameters.
    fn check_done(&self, n: usize, who: &str) {
        let keys: Vec<&str> = SYSCTL.iter().map(|(k, _)| *k).collect();
        let want = format!(
            "xfs\n{}\n",
            SYSCTL
                .iter()
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::scope(|scope| {
            for h in self.lab.hosts().iter().take(n) {
                let keys = &keys;
                let want = &want;
                scope.spawn(move || {
                    let got = self.lab.exec_ok(
                        &h.name,
                        &format!("findmnt -n -o FSTYPE {MOUNT}; sysctl -n {}", keys.join(" ")),
                    );
                    assert_eq!(&got, want, "{who}: {} not done", h.name);
                });
            }
        });
    }
}

/// The `rackstrap` binary measured: this build's, or another build named by
/// `RACKSTRAP_BENCH_BINARY` (to compare two versions of the runner on the same lab).
fn rackstrap_binary() -> PathBuf {
    std::env::var_os("RACKSTRAP_BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rackstrap")))
}

/// The inventory variable holding a stage's script.
fn var(stage: StageId) -> String {
    format!("rackstrap_{}", stage.as_str().replace('-', "_"))
}

/// This machine's values of the kernel parameters (they must never change).
fn machine_sysctl() -> Vec<String> {
    SYSCTL
        .iter()
        .map(|(k, _)| {
            fs::read_to_string(format!("/proc/sys/{}", k.replace('.', "/")))
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .collect()
}

fn report(
    clients: &[Client],
    s: &[Summary],
    hosts_cpu: &[Duration],
    rounds: usize,
    ansible_version: &str,
) -> String {
    let mut t = String::new();
    writeln!(
        t,
        "### Stages: preflight, host prep (kernel parameters), storage (one XFS per host)\n"
    )
    .ok();
    writeln!(
        t,
        "| client | wall, median (min-max) | against rackstrap | client CPU | CPU ratio | \
         largest process peak RSS | all client processes peak RSS | memory ratio | hosts' CPU |"
    )
    .ok();
    writeln!(t, "|---|---|---|---|---|---|---|---|---|").ok();
    for (i, c) in clients.iter().enumerate() {
        // The rackstrap row of the same host count is the base.
        let base = &s[if c.hosts() == HOSTS { 0 } else { 2 }];
        let x = &s[i];
        writeln!(
            t,
            "| {} | {} ({}-{}) | {} | {} | {} | {} | {} | {} | {} |",
            c.name(),
            ms(x.wall),
            ms(x.wall_min),
            ms(x.wall_max),
            ratio(x.wall.as_secs_f64(), base.wall.as_secs_f64()),
            ms(x.cpu),
            ratio(x.cpu.as_secs_f64(), base.cpu.as_secs_f64()),
            mib(x.max_rss_kib),
            mib(x.tree_rss_kib),
            ratio(x.tree_rss_kib as f64, base.tree_rss_kib as f64),
            ms(hosts_cpu[i]),
        )
        .ok();
    }
    // The lab's hosts share this machine's cores: their CPU divided by the cores is the
    // least wall time any client can take here, however it drives them.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    writeln!(
        t,
        "\n| floor: hosts' CPU / {cores} cores | floor | wall against floor |\n|---|---|---|"
    )
    .ok();
    for (i, c) in clients.iter().enumerate() {
        let floor = hosts_cpu[i] / u32::try_from(cores).unwrap_or(1);
        writeln!(
            t,
            "| {} | {} | {} |",
            c.name(),
            ms(floor),
            ratio(s[i].wall.as_secs_f64(), floor.as_secs_f64())
        )
        .ok();
    }
    let scale = |a: &Summary, b: &Summary| ratio(a.wall.as_secs_f64(), b.wall.as_secs_f64());
    writeln!(
        t,
        "\n| scaling, {HOSTS} hosts against 1 (wall) | ratio |\n|---|---|\n\
         | rackstrap | {} |\n| Ansible | {} |",
        scale(&s[0], &s[2]),
        scale(&s[1], &s[3]),
    )
    .ok();
    let runner = match std::env::var_os("RACKSTRAP_BENCH_BINARY") {
        Some(b) => format!("rackstrap binary: {}", b.to_string_lossy()),
        None => format!(
            "runner parallelism: {} hosts at once",
            rackstrap::provision::runner::DEFAULT_PARALLEL
        ),
    };
    writeln!(
        t,
        "\nRounds: {rounds} per client after one warm-up, order rotating; every host reset \
         before each run. {ansible_version}; {runner}."
    )
    .ok();
    t
}
