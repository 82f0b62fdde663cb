//! Measuring child processes: wall time, CPU and peak memory of a client's process tree,
//! and a watchdog that kills a run that hangs.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::report::ms;

/// How often the process-tree memory is sampled. Short-lived peaks between two samples are
/// missed; the exact per-process peak comes from `wait4`.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// A client run that takes longer than this is killed and the benchmark fails.
pub(crate) const RUN_DEADLINE: Duration = Duration::from_secs(120);

/// One client run: how long, how much CPU, how much memory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    /// User + system time of the client processes and their waited-for descendants.
    pub(crate) cpu: Duration,
    /// Largest single process's peak resident set, KiB (exact).
    pub(crate) max_rss_kib: u64,
    /// Peak of the sum of resident sets of all client processes at once, KiB (sampled).
    pub(crate) tree_rss_kib: u64,
}

/// Start `commands` at once (stdout and stderr appended to `out`), wait for all, and measure
/// them as one client: wall time until the last exits, CPU and the largest peak RSS from
/// `wait4`, and the sampled peak of all their processes' RSS together. Each must exit 0.
pub(crate) fn run_measured(label: &str, commands: Vec<Command>, out: &Path) -> Sample {
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
pub(crate) fn wait4(pid: u32) -> (i32, libc::rusage) {
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
pub(crate) fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

pub(crate) fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// Samples, every [`SAMPLE_EVERY`], the summed `VmRSS` of the root processes and all their
/// descendants; keeps the peak.
pub(crate) struct TreeSampler {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) thread: std::thread::JoinHandle<u64>,
}

impl TreeSampler {
    pub(crate) fn start(roots: Vec<u32>) -> TreeSampler {
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

    pub(crate) fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// Sum of `VmRSS` (KiB) over `roots` and their descendants, found through
/// `/proc/<pid>/task/<tid>/children`. Exited (zombie) processes have no `VmRSS` and count 0.
pub(crate) fn tree_rss_kib(roots: &[u32]) -> u64 {
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
pub(crate) struct Watchdog {
    pub(crate) live: Arc<Mutex<HashSet<u32>>>,
    pub(crate) done: Arc<AtomicBool>,
    pub(crate) thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    pub(crate) fn start(pids: Vec<u32>, deadline: Duration) -> Watchdog {
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

    pub(crate) fn reaped(&self, pid: u32) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(&pid);
        }
    }

    pub(crate) fn stop(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
