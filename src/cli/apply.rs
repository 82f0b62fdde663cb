//! `rackstrap apply PLAN [--stage S]... [--host H]... [--dry-run] [--yes] [--stall-after SPAN]
//! [--on-stall fail|wait]`: headless provisioning. One line per event and per output line, `host stage message`; resumable (run state beside the
//! plan, see `provision::state`).
//!
//! Exit codes (docs/provisioning.md): 0 every step done, 1 a step failed or is left waiting (a refused
//! disk, a missing confirmation, an unreachable host) or the run stopped because its state or
//! a log file could not be written (a full disk), 2 the plan could not be read or a
//! `--stage`/`--host` names nothing in it, or another process is running the same plan (it
//! holds the run lock, see `provision::state::RunLock`).

use std::process::ExitCode;
use std::sync::Arc;

use color_eyre::eyre::Context;

use crate::plan;
use crate::provision::event::{Event, EventKind, StageId};
use crate::provision::remote::SshConnector;
use crate::provision::{Consent, OnStall, RunOptions, Selection, StallPolicy, state};
use crate::text::{printable, printable_sgr};

pub fn run(args: super::ApplyArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let findings = plan::check(&plan, None);
    if findings.iter().any(|f| f.is_error()) {
        eprint!("{}", super::common::format_text(&findings));
        eprintln!("rackstrap: the plan has errors; nothing was run");
        return Ok(ExitCode::from(1));
    }
    // The Kubespray tree and its Ansible, refused before any stage runs when the run
    // includes Kubespray.
    if !args.dry_run
        && (args.stages.is_empty() || args.stages.iter().any(|s| s == StageId::Kubespray.as_str()))
    {
        let tree = crate::kubespray::tree::findings(&plan);
        if !tree.is_empty() {
            eprint!("{}", super::common::format_text(&tree));
            eprintln!("rackstrap: the Kubespray tree is not ready for the plan; nothing was run");
            return Ok(ExitCode::from(1));
        }
    }
    // Bad selections are the operator's typing: say what and which exist, no backtrace.
    let selection = match Selection::parse(&plan, &args.stages, &args.hosts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rackstrap: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let base = super::common::connect_options(&plan, args.known_hosts.as_deref(), args.accept_new);
    if let Err(code) = super::pins::read_known_hosts(&base) {
        return Ok(code);
    }
    let mut opts = RunOptions::new(Arc::new(SshConnector { base }));
    selection.apply(&mut opts, StageId::Preflight, &[]);
    opts.dry_run = args.dry_run;
    let dry_run = args.dry_run;
    opts.consent = if args.yes {
        Consent::All
    } else {
        Consent::None
    };
    opts.state_dir = Some(state::state_dir(&args.plan));
    opts.stall = StallPolicy {
        after: args.stall_after,
        on_stall: match args.on_stall {
            super::OnStallArg::Fail => OnStall::Fail,
            super::OnStallArg::Wait => OnStall::Wait,
        },
    };

    let rt = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    let summary = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let printer = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                print_headless(&ev);
            }
        });
        let outcome = tokio::select! {
            summary = crate::provision::run(&plan, opts, tx) => Ok(summary),
            signal = interrupted() => Err(signal),
        };
        let _ = printer.await;
        outcome
    });
    let summary = match summary {
        Ok(summary) => summary?,
        Err(signal) => return Ok(stopped_by(signal, &args.plan, dry_run)),
    };
    let failed: Vec<_> = summary.failed().collect();
    if args.dry_run {
        super::output::println("dry run: nothing was changed");
    }
    if summary.all_done() {
        Ok(ExitCode::SUCCESS)
    } else {
        if let Some(why) = &summary.stopped {
            eprintln!("rackstrap: the run stopped: {}", printable(why));
        }
        if !failed.is_empty() {
            eprintln!("rackstrap: {} step(s) failed:", failed.len());
            for (stage, host, _, msg) in failed {
                eprintln!("  {} {stage}: {}", printable(host), printable(msg));
            }
        }
        eprintln!(
            "rackstrap: `rackstrap status {}` shows where each host stands; `rackstrap apply` again resumes",
            args.plan.display()
        );
        Ok(ExitCode::from(1))
    }
}

/// Resolves with the signal's name when SIGINT or SIGTERM arrives (never, if the handlers
/// cannot be installed).
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        _ => std::future::pending().await,
    }
}

/// After SIGINT/SIGTERM stopped the run: the steps that were running are recorded as
/// interrupted by that signal, so `status` and the next `apply` say where it stopped. The
/// exit code is the shell's for a death by that signal (130, 143).
fn stopped_by(signal: &str, plan: &std::path::Path, dry_run: bool) -> ExitCode {
    let path = state::state_dir(plan).join("state.yaml");
    if !dry_run && let Ok(mut st) = state::RunState::load_as_left(&path) {
        st.mark_interrupted(&format!(
            "interrupted by {signal}: the run stopped while this step ran"
        ));
        if let Err(e) = st.save(&path) {
            eprintln!("rackstrap: could not record the interruption: {e:#}");
        }
    }
    eprintln!(
        "rackstrap: stopped by {signal}; `rackstrap status {}` shows where each host stands; `rackstrap apply` again resumes",
        plan.display()
    );
    ExitCode::from(if signal == "SIGTERM" { 143 } else { 130 })
}

/// Prints an event's [`headless_lines`] to stdout, locked once and written in one go for the
/// whole batch (stdout flushes at every newline by itself: a system call per line).
pub fn print_headless(ev: &Event) {
    use std::io::IsTerminal;
    // Ansible's output is plain; on a terminal (and without NO_COLOR) it gets Ansible's colours.
    let lines = match &ev.kind {
        EventKind::Log { lines, .. }
            if std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) =>
        {
            lines
                .iter()
                .map(|l| headless_form(ev, &crate::kubespray::runner::paint(l)))
                .collect()
        }
        _ => headless_lines(ev),
    };
    let mut text = String::new();
    for line in lines {
        text.push_str(&line);
        text.push('\n');
    }
    // stdout gone (a closed pipe, a full disk) must not stop the run; the log files keep
    // everything, and the exit code says a full disk (`output::finish`).
    super::output::print(&text);
}

/// `host stage message`, one per output line: the headless form of an event.
pub fn headless_lines(ev: &Event) -> Vec<String> {
    match &ev.kind {
        EventKind::Log { lines, .. } => lines.iter().map(|line| headless_form(ev, line)).collect(),
        _ => vec![headless_line(ev)],
    }
}

/// `host stage message`: the headless form of an event; an output batch's lines joined by
/// newlines ([`headless_lines`] gives them one by one).
pub fn headless_line(ev: &Event) -> String {
    let msg = match &ev.kind {
        EventKind::Started => "started".to_string(),
        EventKind::Log { .. } => return headless_lines(ev).join("\n"),
        EventKind::Progress { done, total, text } => match total {
            Some(t) => format!("[{done}/{t}] {text}"),
            None => format!("[{done}] {text}"),
        },
        EventKind::Finished { state, message } => {
            if message.is_empty() {
                state.as_str().to_string()
            } else {
                format!("{}: {message}", state.as_str())
            }
        }
        EventKind::Stalled {
            command,
            quiet_secs,
            limit_secs,
            asking,
        } => crate::provision::stall::stall_notice(
            command,
            std::time::Duration::from_secs(*quiet_secs),
            std::time::Duration::from_secs(*limit_secs),
            *asking,
        ),
    };
    headless_form(ev, &msg)
}

fn headless_form(ev: &Event, msg: &str) -> String {
    // Events from the runner are already escaped; escaping again is harmless and covers
    // events built elsewhere. Colour (SGR) is kept.
    printable_sgr(&format!("{} {} {msg}", ev.host, ev.stage)).into_owned()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::tui::effects::{Credentials, discover_options, run_connect_options};

    fn no_credentials() -> Credentials {
        Credentials {
            sudo_password: None,
            passphrase: None,
        }
    }

    /// The wizard and `apply` connect to a plan's hosts with the same user, port, key and
    /// known_hosts files; only `--accept-new` (headless) is added on one side.
    #[test]
    fn wizard_and_apply_connect_alike() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_test");
        std::fs::write(&key, "not read here").unwrap();
        let mut plan = crate::plan::Plan::new("c");
        plan.access.user = "ops".into();
        plan.access.port = 2222;
        plan.access.identity = key.display().to_string();
        let pins = dir.path().join("pins");
        for known in [None, Some(pins.as_path())] {
            let cli = super::super::common::connect_options(&plan, known, false);
            let run =
                run_connect_options(&plan.access, known.map(Path::to_path_buf), no_credentials());
            let scan = discover_options(
                &plan.access,
                no_credentials(),
                Vec::new(),
                known.map(Path::to_path_buf),
            );
            assert_eq!(format!("{cli:?}"), format!("{run:?}"));
            assert_eq!(format!("{cli:?}"), format!("{scan:?}"));
            assert_eq!(cli.identity.as_deref(), Some(key.as_path()));
            assert_eq!((cli.user.as_str(), cli.port), ("ops", 2222));
            let own = known.map_or_else(crate::ssh::default_known_hosts, Path::to_path_buf);
            assert_eq!(cli.known_hosts, own);
            assert_eq!(
                cli.extra_known_hosts,
                crate::ssh::ConnectOptions::default().extra_known_hosts,
                "the user's known_hosts is honoured whether or not --known-hosts is given"
            );
        }
        // A key file that does not exist leaves the agent and the default keys, on both sides.
        plan.access.identity = "~/no-such-dir-for-a-test/id".into();
        let cli = super::super::common::connect_options(&plan, None, true);
        assert_eq!(cli.identity, None::<PathBuf>);
        assert!(cli.accept_new);
        let run = run_connect_options(&plan.access, None, no_credentials());
        assert_eq!(run.identity, None);
    }

    /// A batch of output lines prints as one `host stage line` per line, each escaped.
    #[test]
    fn a_batch_of_output_prints_one_line_per_line() {
        use crate::provision::{Event, EventKind, StageId};
        let ev = Event {
            host: "node1".into(),
            stage: StageId::Storage,
            kind: EventKind::Log {
                lines: vec!["one".to_string(), "two \u{1b}]0;t\u{7}".to_string()].into(),
                stderr: false,
            },
        };
        assert_eq!(
            super::headless_lines(&ev),
            ["node1 storage one", "node1 storage two \\e]0;t\\x07"]
        );
    }
}
