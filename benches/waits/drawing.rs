//! Drawing: what the wizard's event loop does per frame on the Provision screen while a run
//! pours out logs, through the real `update` and `view` code, and the wizard as a process:
//! its first frame after start and its CPU while idle.
//!
//! Per frame, like `tui::event_loop`: one batch of runner events goes through
//! `update::update` (`Msg::Provision`), then `view::render` draws the whole screen (200x60,
//! colour on) through ratatui's crossterm backend into a writer that discards the bytes, so
//! the escape sequences are produced as for a real terminal. 16 hosts stream at once; each
//! batch carries [`LINES_PER_BATCH`] lines per host (the loop batches about 100 ms of output,
//! and at the streaming rate of the `streaming` section that is thousands of lines), in
//! events of at most [`CHUNK_LINES`] lines, as the runner sends a host's output.
//!
//! The process part starts `rackstrap demo` on a pseudo-terminal of 200x60 and times the
//! first frame (the screen's title on the terminal), then measures its CPU time over
//! [`IDLE_FOR`] with no input.

use std::fmt::Write as _;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rackstrap::provision::{Event, EventKind, StageId};
use rackstrap::tui::model::{Mode, Model, Msg, Step};
use rackstrap::tui::update::update;
use rackstrap::tui::view;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use super::report::ms;

const WIDTH: u16 = 200;
const HEIGHT: u16 = 60;
const HOSTS: usize = 16;
/// Frames measured per batch size, after [`WARM_UP`] frames.
const FRAMES: usize = 2000;
const WARM_UP: usize = 100;
/// Lines per host per frame: a slow trickle and a full flood.
const LINES_PER_BATCH: [usize; 3] = [1, 100, 2000];
/// Lines in one output event: a 32 KiB read from the SSH channel holds about 300 lines of
/// 100 bytes, and the runner sends the lines of one read as one event.
const CHUNK_LINES: usize = 300;
/// How long the idle wizard is watched.
const IDLE_FOR: Duration = Duration::from_secs(10);

pub(crate) fn run() -> String {
    let mut t = String::new();
    writeln!(
        t,
        "### Drawing: the Provision screen, {HOSTS} hosts streaming, {WIDTH}x{HEIGHT}, colour\n"
    )
    .ok();
    writeln!(
        t,
        "| lines per host per frame | update (batch in), p50 / p99 | draw, p50 / p99 / max | \
         draw CPU time, p50 / p99 | frame (update + draw), p50 / p99 |"
    )
    .ok();
    writeln!(t, "|---|---|---|---|---|").ok();
    for lines in LINES_PER_BATCH {
        eprintln!("drawing: {lines} lines per host per frame ...");
        let f = frames(lines);
        writeln!(
            t,
            "| {lines} | {} / {} | {} / {} / {} | {} / {} | {} / {} |",
            us(pct(&f.update, 50)),
            us(pct(&f.update, 99)),
            us(pct(&f.draw, 50)),
            us(pct(&f.draw, 99)),
            us(pct(&f.draw, 100)),
            us(pct(&f.draw_cpu, 50)),
            us(pct(&f.draw_cpu, 99)),
            us(pct(&f.frame, 50)),
            us(pct(&f.frame, 99)),
        )
        .ok();
    }
    writeln!(
        t,
        "\n{FRAMES} frames per row after {WARM_UP} unmeasured ones; the screen shows the stage \
         grid and four of the {HOSTS} panes (two by two), every pane following its tail."
    )
    .ok();
    match wizard_process() {
        Ok((first, idle_cpu)) => {
            writeln!(
                t,
                "\n| `rackstrap demo` on a {WIDTH}x{HEIGHT} pseudo-terminal | measured |\n|---|---|"
            )
            .ok();
            writeln!(
                t,
                "| first frame after start (title on the terminal) | {} |",
                ms(first)
            )
            .ok();
            writeln!(
                t,
                "| CPU while idle on the first screen, over {} s | {} ({:.2}% of one CPU) |",
                IDLE_FOR.as_secs(),
                ms(idle_cpu),
                idle_cpu.as_secs_f64() / IDLE_FOR.as_secs_f64() * 100.0
            )
            .ok();
        }
        Err(e) => {
            writeln!(
                t,
                "\n`rackstrap demo` on a pseudo-terminal: not measured ({e})"
            )
            .ok();
        }
    }
    t
}

fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

/// The `p`th percentile (nearest rank) of `v`.
fn pct(v: &[Duration], p: usize) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    if s.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * s.len()).div_ceil(100).clamp(1, s.len());
    s[rank - 1]
}

/// A model on the Provision screen with a run going on `HOSTS` hosts.
fn provision_model() -> Model {
    let lab = rackstrap::lab::Lab::builtin("akash").expect("built-in lab");
    let mut m = Model::new(
        Mode::Demo {
            lab: lab.name.clone(),
            title: lab.title.clone(),
        },
        lab.seed_plan(),
        &lab.targets,
    );
    m.step = Step::Provision;
    m.reached = Step::Provision;
    m.size = (WIDTH, HEIGHT);
    m.theme.color = true;
    m.provision.started = true;
    m.provision.running = true;
    let started: Vec<Event> = (0..HOSTS)
        .map(|h| Event {
            host: format!("node{}", h + 1),
            stage: StageId::Kubespray,
            kind: EventKind::Started,
        })
        .collect();
    let _ = update(&mut m, Msg::Provision(started));
    m
}

/// Kubespray-like output: task banners, coloured results, the odd long line.
fn log_line(host: usize, n: usize) -> String {
    match n % 4 {
        0 => format!(
            "TASK [kubernetes/preinstall : Set facts for step {n}] {}",
            "*".repeat(60)
        ),
        1 => format!("\x1b[0;32mok: [node{host}]\x1b[0m"),
        2 => format!(
            "\x1b[0;33mchanged: [node{host}] => (item={{'name': 'net.ipv4.ip_forward', \
             'value': 1}})\x1b[0m"
        ),
        _ => format!(
            "Monday 01 December 2026  01:{:02}:{:02} +0000 (0:00:00.{n:06}) {}",
            n / 60 % 60,
            n % 60,
            "-".repeat(90)
        ),
    }
}

fn frames(lines_per_host: usize) -> Frames {
    let mut m = provision_model();
    let mut terminal = Terminal::with_options(
        CrosstermBackend::new(std::io::sink()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT)),
        },
    )
    .expect("terminal on a sink");
    let mut upd = Vec::with_capacity(FRAMES);
    let mut draw = Vec::with_capacity(FRAMES);
    let mut frame = Vec::with_capacity(FRAMES);
    let mut draw_cpu = Vec::with_capacity(FRAMES);
    let mut n = 0;
    for i in 0..WARM_UP + FRAMES {
        // The batch is built before the clock starts: the runner builds it, not the loop.
        // As the runner sends them: one event per chunk of output a host sent together
        // (at most [`CHUNK_LINES`] lines, about one SSH read), the hosts interleaved.
        let mut batch = Vec::new();
        let mut done = 0;
        while done < lines_per_host {
            let take = CHUNK_LINES.min(lines_per_host - done);
            for h in 0..HOSTS {
                let lines: Vec<String> = (n + done..n + done + take)
                    .map(|k| log_line(h + 1, k + 1))
                    .collect();
                batch.push(Event {
                    host: format!("node{}", h + 1),
                    stage: StageId::Kubespray,
                    kind: EventKind::Log {
                        lines: lines.into(),
                        stderr: false,
                    },
                });
            }
            done += take;
        }
        n += lines_per_host;
        let start = Instant::now();
        let _ = update(&mut m, Msg::Provision(batch));
        let updated = start.elapsed();
        let cpu_start = thread_cpu();
        terminal
            .draw(|f| view::render(&m, f))
            .expect("drawing into a sink");
        let cpu = thread_cpu().saturating_sub(cpu_start);
        let total = start.elapsed();
        if i >= WARM_UP {
            upd.push(updated);
            draw.push(total - updated);
            draw_cpu.push(cpu);
            frame.push(total);
        }
    }
    assert_eq!(m.provision.panes.len(), HOSTS, "one pane per host");
    Frames {
        update: upd,
        draw,
        draw_cpu,
        frame,
    }
}

/// Wall times of each part of a frame, and the CPU time the drawing thread spent drawing
/// (which, unlike the wall time, does not grow when other work on the machine takes the CPU).
struct Frames {
    update: Vec<Duration>,
    draw: Vec<Duration>,
    draw_cpu: Vec<Duration>,
    frame: Vec<Duration>,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the pointer points to a live, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// `rackstrap demo` on a pseudo-terminal: time to its first frame, then its CPU over
/// [`IDLE_FOR`] with no input. The process is killed afterwards.
fn wizard_process() -> Result<(Duration, Duration), String> {
    let (master, slave) = open_pty()?;
    let slave_io = |fd: &OwnedFd| -> Result<Stdio, String> {
        Ok(Stdio::from(fd.try_clone().map_err(|e| e.to_string())?))
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    cmd.arg("demo")
        .env("TERM", "xterm-256color")
        .stdin(slave_io(&slave)?)
        .stdout(slave_io(&slave)?)
        .stderr(slave_io(&slave)?);
    // SAFETY: `setsid` and `ioctl` are async-signal-safe; the closure touches nothing else.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The pseudo-terminal becomes the child's controlling terminal (stdin is it).
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    drop(slave);
    let pid = child.id();

    // Read the terminal on a thread (answering nothing): the first frame is when the title
    // appears; then keep draining so the wizard never blocks on a full terminal.
    let (tx, rx) = std::sync::mpsc::channel::<Duration>();
    let mut reader = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 65536];
        let mut sent = false;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !sent {
                seen.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&seen).contains("rackstrap") {
                    sent = true;
                    let _ = tx.send(start.elapsed());
                }
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10));
    let result = match first {
        Err(_) => Err("no frame within 10 s".to_string()),
        Ok(first) => {
            // Let start-up settle, then watch it idle.
            std::thread::sleep(Duration::from_millis(500));
            let before = process_cpu(pid)?;
            std::thread::sleep(IDLE_FOR);
            let after = process_cpu(pid)?;
            Ok((first, after.saturating_sub(before)))
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// A pseudo-terminal of WIDTH x HEIGHT: (master, slave).
fn open_pty() -> Result<(OwnedFd, OwnedFd), String> {
    let mut master = -1;
    let mut slave = -1;
    let size = libc::winsize {
        ws_row: HEIGHT,
        ws_col: WIDTH,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: the out-pointers are live; a null name and termios are allowed.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if r != 0 {
        return Err(format!("openpty: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: openpty succeeded, so both are open descriptors owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    Ok((master, slave))
}

/// User + system CPU time of a process so far, from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields
        .get(11..13)
        .ok_or("short /proc stat")?
        .iter()
        .map(|f| f.parse::<u64>().unwrap_or(0))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_micros(ticks * 1_000_000 / hz))
}
