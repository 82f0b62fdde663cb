//! The waits operators sit through, measured side by side in one run:
//! `cargo bench --bench waits [-- SECTION...]`, sections `streaming`, `drawing`, `subnet`,
//! `wizard` and `stages` (all when none is named).
//!
//! - `streaming`: a remote command printing one million lines of 100 bytes (100 MB) on one lab
//!   host, through rackstrap's exec (bare, and the way a provisioning step runs it: log file
//!   plus events) against `ssh host cmd > /dev/null`.
//! - `drawing`: frame time of the wizard's Provision screen with 16 live panes at 200x60 while
//!   log lines pour in, through the real view code into a terminal writer that discards
//!   the bytes; the first frame of `rackstrap demo` and its CPU while idle.
//! - `subnet`: discovery of a /24 where three addresses answer and the rest drop packets, in a
//!   network namespace of its own, against `xargs -P` OpenSSH.
//! - `wizard`: the real wizard binary in tmux running a stage on eight lab hosts that print
//!   numbered lines at full speed: its peak resident memory, and every line in the log files.
//! - `stages`: preflight, host prep's kernel parameters and storage (one XFS per host on a
//!   loop device) on 32 lab hosts and on one, through `rackstrap apply` against the same shell
//!   through `ansible all -m shell`.
//! - `ports`: Preflight's probe between nodes on 3, 8 and 32 lab hosts with networks of their
//!   own, against `nc` and `ping` over OpenSSH.
//!
//! Results, with the machine and the command, go into docs/BENCHMARKS.md. The lab talks only
//! to its own `127.77.<slot>.x` addresses (`ports`: to its own 198.18.<slot>.x, inside its
//! hub namespace).

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../discovery/measure.rs"]
#[allow(dead_code)]
mod measure;
#[path = "../discovery/report.rs"]
#[allow(dead_code)]
mod report;
#[path = "../discovery/shared.rs"]
mod shared;

mod drawing;
mod ports;
mod stages;
mod streaming;
mod subnet;
mod wizard;

use std::fmt::Write as _;
use std::fs;
use std::process::Command;

const SECTIONS: [&str; 6] = [
    "streaming",
    "drawing",
    "subnet",
    "wizard",
    "stages",
    "ports",
];

fn main() {
    // The subnet section runs this program again inside its own network namespace.
    if std::env::args().nth(1).as_deref() == Some("subnet-inside") {
        subnet::inside();
        return;
    }
    // `cargo bench` passes `--bench`; every other word names a section.
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for a in &asked {
        if !SECTIONS.contains(&a.as_str()) {
            eprintln!("unknown section `{a}`; sections: {}", SECTIONS.join(", "));
            std::process::exit(2);
        }
    }
    let wants = |s: &str| asked.is_empty() || asked.iter().any(|a| a == s);

    let mut report = String::new();
    writeln!(report, "{}", machine()).ok();
    if wants("streaming") {
        match common::lab::skip_reason() {
            Some(reason) => eprintln!("streaming skipped: {reason}"),
            None => writeln!(report, "{}", streaming::run()).unwrap_or(()),
        }
    }
    if wants("drawing") {
        writeln!(report, "{}", drawing::run()).ok();
    }
    if wants("subnet") {
        match common::lab::skip_reason() {
            Some(reason) => eprintln!("subnet skipped: {reason}"),
            None => writeln!(report, "{}", subnet::run()).unwrap_or(()),
        }
    }
    if wants("wizard") {
        match (common::lab::skip_reason(), common::tmux::Tmux::available()) {
            (Some(reason), _) => eprintln!("wizard skipped: {reason}"),
            (None, false) => eprintln!("wizard skipped: tmux is not installed"),
            (None, true) => writeln!(report, "{}", wizard::run()).unwrap_or(()),
        }
    }
    if wants("stages") {
        match common::lab::skip_reason() {
            Some(reason) => eprintln!("stages skipped: {reason}"),
            None => writeln!(report, "{}", stages::run()).unwrap_or(()),
        }
    }
    if wants("ports") {
        match common::lab::skip_reason() {
            Some(reason) => eprintln!("ports skipped: {reason}"),
            None => writeln!(report, "{}", ports::run()).unwrap_or(()),
        }
    }
    println!("\n{report}");
}

/// The machine the numbers come from.
fn machine() -> String {
    let openssh = Command::new("ssh")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_string())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "### Setup\n\n- machine: {cpus} CPUs, Linux {}, load average at start {}\n- clients: \
         rackstrap {}, {openssh}\n",
        kernel.trim(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        env!("CARGO_PKG_VERSION"),
    )
}

/// CPU time (user + system) this process has used so far.
pub(crate) fn own_cpu() -> std::time::Duration {
    // SAFETY: `rusage` is plain old data for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer points to a live, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    measure::timeval(usage.ru_utime) + measure::timeval(usage.ru_stime)
}
