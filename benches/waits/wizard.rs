//! The wizard with [`HOSTS`] hosts pouring out logs: the real `rackstrap` binary in a tmux
//! pane of 200x60, reopening a plan of lab hosts, running one stage whose command prints
//! [`LINES`] numbered lines of [`LINE_BYTES`] bytes per host as fast as it can. Measured:
//! the wizard process's peak resident memory (the kernel's `VmHWM`, read before it exits,
//! and `VmRSS` sampled while it runs), the wall time of the run, and whether each host's log
//! file has every line, in order.
//!
//! The stage is host prep: its check finds the kernel parameters unset and runs
//! `sysctl -p <file>`. Each host has a stand-in `sysctl` on a tmpfs over `/usr/local/bin` in
//! its own mount namespace (ahead of `/usr/sbin` on sshd's `PATH`), which answers the check's
//! `sysctl -n` with nothing and prints the numbered lines for `-p`. The kernel parameter of
//! the plan is also made private to each host (`fake_k8s::private_sysctl`), so even the real
//! `sysctl` could only change a copy. Packages are present (python3 on this machine), so
//! `apt-get` never runs.
//!
//! For comparison the same stage runs once more on the same hosts through headless
//! `rackstrap apply` (its output into /dev/null; peak from `wait4`): what the runner and the
//! SSH path cost without the wizard. While the wizard runs, the line counts in the pane titles
//! on screen are compared with the log files' sizes: an upper bound on how far the panes trail
//! the runner (it includes the delay of drawing and of tmux).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::common::fake_k8s;
use super::common::lab::{HostSpec, LAB_PORT, Lab};
use super::common::tmux::Tmux;
use super::measure::{timeval, wait4};
use super::report::ms;

/// Lab hosts streaming at once.
pub(crate) const HOSTS: usize = 8;
/// Lines each host prints (numbered from 1), unless `RACKSTRAP_BENCH_WIZARD_LINES` says.
pub(crate) const LINES: usize = 500_000;
/// Bytes per line, newline included.
pub(crate) const LINE_BYTES: usize = 100;
/// The peak resident memory the wizard must stay under.
const TARGET_MIB: f64 = 100.0;
/// The kernel parameter the plan sets (made private to each host).
const SYSCTL_KEY: &str = "vm.max_map_count";
/// Terminal size of the pane the wizard runs in.
const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;

/// The text after each line's number: with the 7-digit number and a space, 99 characters.
fn filler() -> String {
    let mut l = String::from(
        "TASK [kubernetes/preinstall : Set sysctl] ok: [node] => {\"changed\": false, ",
    );
    while l.len() < LINE_BYTES - 1 - 8 - 1 {
        l.push('x');
    }
    l.push('}');
    l
}

/// The stand-in `sysctl`: `-p` prints `lines` numbered lines (`seq`, at full speed), anything
/// else answers nothing and fails, so the stage's check always finds work to do.
fn fake_sysctl(lines: usize) -> String {
    format!(
        "#!/bin/sh\ncase \"$1\" in\n  -p) exec seq -f '%07.0f {}' 1 {lines} ;;\n  *) exit 1 ;;\nesac\n",
        filler()
    )
}

fn lines_wanted() -> usize {
    std::env::var("RACKSTRAP_BENCH_WIZARD_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| (1..10_000_000).contains(&n))
        .unwrap_or(LINES)
}

/// The plan the wizard reopens: the lab's hosts (the first one the control plane), its port
/// and key, one kernel parameter.
fn plan_yaml(lab: &Lab) -> String {
    let mut y = format!(
        "version: 1\ncluster:\n  name: bench\naccess:\n  user: root\n  port: {LAB_PORT}\n  \
         identity: {}\nhosts:\n",
        lab.key_path().display()
    );
    for (i, h) in lab.hosts().iter().enumerate() {
        let roles = if i == 0 {
            "[control_plane, etcd, worker]"
        } else {
            "[worker]"
        };
        writeln!(
            y,
            "- name: {}\n  address: {}\n  roles: {roles}",
            h.name, h.address
        )
        .ok();
    }
    writeln!(y, "tuning:\n  sysctl:\n    {SYSCTL_KEY}: 1048576").ok();
    y
}

/// What the headless `rackstrap apply` of the same stage on the same hosts measured: the
/// runner and the SSH path without the wizard, for comparison.
struct Headless {
    wall: Duration,
    cpu: Duration,
    /// `wait4`'s `ru_maxrss`: exact.
    peak_kib: u64,
    logs: Vec<(String, usize, Option<String>)>,
}

/// What one run measured.
struct Outcome {
    lines: usize,
    wall: Duration,
    /// Peak resident memory (`VmHWM`) read just before the wizard was asked to quit.
    peak_kib: u64,
    /// Highest `VmRSS` seen by sampling every 20 ms.
    sampled_peak_kib: u64,
    /// `VmRSS` on the Provision screen before the run started, and after it ended.
    before_kib: u64,
    after_kib: u64,
    /// CPU time (user + system) of the wizard process during the run.
    cpu: Duration,
    /// Per host: numbered lines found in its log file, and the first problem (a missing or
    /// out-of-order number), if any.
    logs: Vec<(String, usize, Option<String>)>,
    /// The line counts the panes shown on the last screen give (`· N lines`).
    pane_counts: Vec<String>,
    /// The most lines a pane on screen trailed its host's log file by, sampled.
    behind: usize,
    /// When every log file was whole (from the stage's start), if seen before the end.
    logs_whole: Option<Duration>,
    headless: Headless,
}

pub(crate) fn run() -> String {
    let lines = lines_wanted();
    eprintln!("wizard: starting a lab of {HOSTS} hosts ...");
    let lab = Lab::start(
        (1..=HOSTS)
            .map(|i| HostSpec::new(&format!("node{i}")))
            .collect(),
    );
    let script = fake_sysctl(lines);
    for h in lab.hosts() {
        fake_k8s::private_sysctl(&lab, &h.name, &[SYSCTL_KEY]);
        lab.exec_ok(
            &h.name,
            &format!(
                "mount -t tmpfs tmpfs /usr/local/bin && cat > /usr/local/bin/sysctl <<'EOF'\n\
                 {script}EOF\nchmod +x /usr/local/bin/sysctl"
            ),
        );
    }
    let o = measure(&lab, lines);
    report(&o)
}

fn measure(lab: &Lab, lines: usize) -> Outcome {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let (home, config, work) = (
        tmp.path().join("home"),
        tmp.path().join("config"),
        tmp.path().join("work"),
    );
    for d in [&home, &config.join("rackstrap"), &work] {
        fs::create_dir_all(d).expect("mkdir");
    }
    // Every host's key pinned beforehand: no prompt on the way.
    let known: String = lab
        .hosts()
        .iter()
        .map(|h| format!("[{}]:{LAB_PORT} {}", h.address, h.host_public_key().trim()))
        .map(|l| l + "\n")
        .collect();
    fs::write(config.join("rackstrap/known_hosts"), known).expect("known_hosts");
    let plan = work.join("bench.yaml");
    fs::write(&plan, plan_yaml(lab)).expect("plan");
    // The same plan under another name (its own run state and logs) for the headless run.
    fs::write(work.join("headless.yaml"), plan_yaml(lab)).expect("plan");
    let pid_file = tmp.path().join("wizard.pid");

    let bin = env!("CARGO_BIN_EXE_rackstrap");
    let t = Tmux::start(
        "wizard-bench",
        WIDTH,
        HEIGHT,
        &format!(
            "sh -c 'echo $$ > {}; exec env -u SSH_AUTH_SOCK HOME={} XDG_CONFIG_HOME={} {bin} \
             --plan bench.yaml'; echo rackstrap-exit=$?",
            pid_file.display(),
            home.display(),
            config.display()
        ),
        &work,
    );
    // Reopened: the Drift screen surveys the hosts; then Review, then Provision.
    t.wait_for_within(
        "Drift: what changed since the plan was saved",
        Duration::from_secs(60),
    );
    t.wait_for_within("as planned", Duration::from_secs(120));
    let pid: u32 = fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("the wizard's process id");
    t.keys(&["c"]);
    t.wait_for("7/9 Review");
    t.keys(&["Enter"]);
    // No Kubespray tree here: the wizard offers to prepare one; the run goes on without.
    t.wait_for("n go on without");
    t.keys(&["n"]);
    t.wait_for("8/9 Provision");
    // Host prep only: every other stage left out by its number key.
    t.keys(&["1", "3", "4", "5", "6"]);
    t.wait_for("Enter starts 1 stage");
    let before_kib = status_kib(pid, "VmRSS").unwrap_or(0);
    let cpu_before = cpu_time(pid).unwrap_or_default();

    let stop = Arc::new(AtomicBool::new(false));
    let sampled = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, sampled) = (stop.clone(), sampled.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    sampled.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let start = Instant::now();
    t.keys(&["Enter"]);
    let limit = Duration::from_secs(1800);
    // While it runs: how far the panes shown trail their hosts' log files (the runner writes
    // a line to the file, then sends it on towards the wizard), and when the files were whole.
    let mut behind = 0usize;
    let mut logs_whole = None;
    let log_bytes = (lines * LINE_BYTES) as u64;
    let screen = loop {
        let s = t.screen();
        if s.contains("every stage finished") || s.contains(" retry") {
            break s;
        }
        let runs = work.join(".rackstrap/bench/logs");
        for (host, shown) in pane_counts(&s) {
            let written = fs::metadata(latest(&runs).join(format!("{host}.log")))
                .map_or(0, |m| m.len() as usize / LINE_BYTES);
            behind = behind.max(written.saturating_sub(shown));
        }
        if logs_whole.is_none()
            && lab.hosts().iter().all(|h| {
                fs::metadata(latest(&runs).join(format!("{}.log", h.name)))
                    .is_ok_and(|m| m.len() >= log_bytes)
            })
        {
            logs_whole = Some(start.elapsed());
        }
        assert!(
            start.elapsed() < limit,
            "the run did not end within {limit:?}; the screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = start.elapsed();
    let peak_kib = status_kib(pid, "VmHWM").unwrap_or(0);
    let after_kib = status_kib(pid, "VmRSS").unwrap_or(0);
    let cpu = cpu_time(pid).unwrap_or_default().saturating_sub(cpu_before);
    stop.store(true, Ordering::Relaxed);
    sampler.join().ok();
    assert!(
        screen.contains("every stage finished"),
        "host prep failed; the screen:\n{screen}"
    );
    let pane_counts = pane_counts(&screen)
        .into_iter()
        .map(|(h, n)| format!("{h} {n}"))
        .collect();
    t.keys(&["Enter"]);
    t.wait_for("9/9 Done");
    t.keys(&["q", "y"]);
    t.wait_for_within("rackstrap-exit=", Duration::from_secs(30));

    let logs = lab
        .hosts()
        .iter()
        .map(|h| {
            let (n, problem) = check_log(&log_file(&work, "bench", &h.name), lines);
            (h.name.clone(), n, problem)
        })
        .collect();
    let headless = headless(lab, &work, &config, &home, lines);
    Outcome {
        lines,
        wall,
        peak_kib,
        sampled_peak_kib: sampled.load(Ordering::Relaxed),
        before_kib,
        after_kib,
        cpu,
        logs,
        pane_counts,
        behind,
        logs_whole,
        headless,
    }
}

/// `rackstrap apply headless.yaml --stage host-prep --yes`, every line it prints (one per
/// output line) into /dev/null.
fn headless(lab: &Lab, work: &Path, config: &Path, home: &Path, lines: usize) -> Headless {
    eprintln!("wizard: the same stage headless ...");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    cmd.args(["apply", "headless.yaml", "--stage", "host-prep", "--yes"])
        .arg("--known-hosts")
        .arg(config.join("rackstrap/known_hosts"))
        .current_dir(work)
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(fs::File::create("/dev/null").expect("/dev/null"));
    let start = Instant::now();
    // Reaped by `wait4` below, the only way to read its resource usage.
    #[expect(clippy::zombie_processes, reason = "reaped by wait4")]
    let child = cmd.spawn().expect("rackstrap apply");
    let (status, usage) = wait4(child.id());
    let wall = start.elapsed();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "rackstrap apply exited with wait status {status:#x}"
    );
    let logs = lab
        .hosts()
        .iter()
        .map(|h| {
            let (n, problem) = check_log(&log_file(work, "headless", &h.name), lines);
            (h.name.clone(), n, problem)
        })
        .collect();
    Headless {
        wall,
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        peak_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        logs,
    }
}

/// Host and line count of each pane title on `screen` (` host · follow · N lines `).
fn pane_counts(screen: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for l in screen.lines() {
        for state in [" · follow · ", " · paused · "] {
            for (i, _) in l.match_indices(state) {
                let host = l[..i].rsplit(' ').next().unwrap_or_default();
                let n = l[i + state.len()..].split(' ').next().unwrap_or_default();
                if let Ok(n) = n.parse() {
                    out.push((host.to_string(), n));
                }
            }
        }
    }
    out
}

/// The newest run directory in `runs` (run ids sort by time), or `runs` itself when none.
fn latest(runs: &Path) -> PathBuf {
    fs::read_dir(runs)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .max()
        .unwrap_or_else(|| runs.to_path_buf())
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// User plus system CPU time of a process so far (`/proc/<pid>/stat`, in clock ticks).
fn cpu_time(pid: u32) -> Option<Duration> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let mut f = s.rsplit_once(')')?.1.split_whitespace();
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let tick = u64::try_from(tick).ok().filter(|&t| t > 0)?;
    Some(Duration::from_millis((utime + stime) * 1000 / tick))
}

/// The host's log of the (only) run of plan `<stem>.yaml`:
/// `.rackstrap/<stem>/logs/<run>/<host>.log` beside the plan.
fn log_file(work: &Path, stem: &str, host: &str) -> PathBuf {
    latest(&work.join(".rackstrap").join(stem).join("logs")).join(format!("{host}.log"))
}

/// The numbered lines of `path`, which must be exactly 1 to `want` in order, each whole.
fn check_log(path: &Path, want: usize) -> (usize, Option<String>) {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => return (0, Some(format!("{}: {e}", path.display()))),
    };
    let tail = filler();
    let mut n = 0usize;
    let mut problem = None;
    for line in bytes.split(|&b| b == b'\n') {
        let Some((num, rest)) = line.split_first_chunk::<7>() else {
            continue;
        };
        if !num.iter().all(u8::is_ascii_digit) || rest.first() != Some(&b' ') {
            continue;
        }
        n += 1;
        let got: usize = std::str::from_utf8(num)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if problem.is_none() && (got != n || &rest[1..] != tail.as_bytes()) {
            problem = Some(format!(
                "line {n} of the output reads {:?}",
                String::from_utf8_lossy(line)
            ));
        }
    }
    if problem.is_none() && n != want {
        problem = Some(format!("{n} of {want} lines"));
    }
    (n, problem)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `none`, or how many lines the log files lack; the first problem of each host below.
fn dropped(logs: &[(String, usize, Option<String>)], lines: usize) -> String {
    let missing: usize = logs.iter().map(|(_, n, _)| lines.saturating_sub(*n)).sum();
    if missing == 0 && logs.iter().all(|(_, _, p)| p.is_none()) {
        "none".to_string()
    } else {
        format!("{missing} missing or out of order")
    }
}

fn verdict(kib: u64) -> &'static str {
    if (kib as f64 / 1024.0) < TARGET_MIB {
        "under 100 MiB"
    } else {
        "OVER 100 MiB"
    }
}

fn report(o: &Outcome) -> String {
    let total = o.lines * HOSTS;
    let rate = |wall: Duration| {
        format!(
            "{:.0} | {:.1}",
            total as f64 / wall.as_secs_f64(),
            (total * LINE_BYTES) as f64 / wall.as_secs_f64() / 1e6
        )
    };
    let in_logs = |logs: &[(String, usize, Option<String>)]| {
        format!(
            "{} of {total}",
            logs.iter().map(|(_, n, _)| n).sum::<usize>()
        )
    };
    let mut t = String::new();
    writeln!(
        t,
        "### The wizard with {HOSTS} hosts streaming: {} lines of {LINE_BYTES} bytes per host, \
         {WIDTH}x{HEIGHT}\n",
        o.lines
    )
    .ok();
    writeln!(
        t,
        "| client | wall (stage start to end) | lines/s, all hosts | MB/s | CPU | peak RSS | \
         how the peak was read | RSS before / after the run | lines in the log files | dropped |"
    )
    .ok();
    writeln!(t, "|---|---|---|---|---|---|---|---|---|---|").ok();
    let peak = o.peak_kib.max(o.sampled_peak_kib);
    writeln!(
        t,
        "| wizard (`rackstrap --plan`, Provision, host prep only) | {} | {} | {} | {} ({}) | \
         `VmHWM` {} / highest `VmRSS` sampled every 20 ms {} | {} / {} | {} | {} |",
        ms(o.wall),
        rate(o.wall),
        ms(o.cpu),
        mib(peak),
        verdict(peak),
        mib(o.peak_kib),
        mib(o.sampled_peak_kib),
        mib(o.before_kib),
        mib(o.after_kib),
        in_logs(&o.logs),
        dropped(&o.logs, o.lines),
    )
    .ok();
    let h = &o.headless;
    writeln!(
        t,
        "| headless `rackstrap apply --stage host-prep --yes > /dev/null` | {} | {} | {} | {} \
         ({}) | `wait4` `ru_maxrss` (whole process life) | - | {} | {} |",
        ms(h.wall),
        rate(h.wall),
        ms(h.cpu),
        mib(h.peak_kib),
        verdict(h.peak_kib),
        in_logs(&h.logs),
        dropped(&h.logs, o.lines),
    )
    .ok();
    writeln!(
        t,
        "\nThe panes on screen trailed their hosts' log files by at most {} lines (at a \
         screen read, drawing and tmux delays included); every log file was whole {}.",
        o.behind,
        match o.logs_whole {
            Some(d) => format!(
                "{} after the start, {} before the run ended on screen",
                ms(d),
                ms(o.wall.saturating_sub(d))
            ),
            None => "no earlier than the run ended on screen".to_string(),
        }
    )
    .ok();
    for (who, logs) in [("wizard", &o.logs), ("headless", &h.logs)] {
        for (host, n, problem) in logs {
            if let Some(p) = problem {
                writeln!(t, "\n- {who}, {host}: {n} lines; {p}").ok();
            }
        }
    }
    writeln!(
        t,
        "\nThe wizard's panes on its last screen (host, lines the pane counted, the stage's \
         own lines included): {}. Command on each host: `seq -f '%07.0f <91 characters>' 1 {}` \
         as the stage's `sysctl -p`. CPU: the wizard's during the run (`/proc`), `apply`'s \
         whole life (`wait4`).",
        o.pane_counts.join(", "),
        o.lines
    )
    .ok();
    t
}
