//! `rackstrap node add|remove|replace|relay PLAN NAME [--dry-run] [--yes]`: one recovery action,
//! decided by the core exactly as the wizard's Drift screen decides it (`recovery::survey`,
//! `recovery::prepare`, `recovery::perform`). The quorum arithmetic and every command are
//! printed first; Ansible's output follows as `ansible kubespray <line>`, as in `apply`.
//!
//! Exit codes: 0 done (or a dry run), 1 refused, unconfirmed or failed, 2 the plan could not
//! be read or names no such host.

use std::process::ExitCode;

use color_eyre::eyre::Context;

use crate::plan;
use crate::provision::event::Event;
use crate::recovery::{self, Kind, Standing, Verdict};
use crate::text::{printable, printable_lines};

pub fn run(args: super::NodeArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.action == "relay" {
        return relay(&plan, &args);
    }
    let Some(kind) = Kind::parse(&args.action) else {
        eprintln!(
            "rackstrap: {}: not an action (add, remove, replace, relay)",
            printable(&args.action)
        );
        return Ok(ExitCode::from(2));
    };
    if plan::check(&plan, None).iter().any(|f| f.is_error()) {
        eprint!("{}", super::common::format_text(&plan::check(&plan, None)));
        eprintln!("rackstrap: the plan has errors; nothing was run");
        return Ok(ExitCode::from(1));
    }
    let opts = super::common::connect_options(&plan, args.known_hosts.as_deref(), false);
    if let Err(code) = super::pins::read_known_hosts(&opts) {
        return Ok(code);
    }
    let known = opts.known();
    let plan_file = args.plan.display().to_string();
    let rt = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    let report = rt.block_on(recovery::survey(&plan, opts, &plan_file));
    let standing = Standing::from_report(&report);
    let prepared = match recovery::prepare(&plan, &standing, kind, &args.name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rackstrap: {}", printable_lines(&e.to_string()));
            return Ok(ExitCode::from(2));
        }
    };
    super::output::print(&recovery::run::describe_named(
        &plan,
        &prepared,
        args.dry_run,
        &plan_file,
    ));
    match &prepared.verdict {
        Verdict::Refuse(m) => {
            eprintln!("rackstrap: refused: {}", printable_lines(m));
            return Ok(ExitCode::from(1));
        }
        Verdict::Confirm(m) if !args.yes && !args.dry_run => {
            eprintln!(
                "rackstrap: needs confirmation: {}; run again with --yes to go ahead",
                printable_lines(m)
            );
            return Ok(ExitCode::from(1));
        }
        _ => {}
    }
    if args.dry_run {
        super::output::println("dry run: nothing was changed");
        return Ok(ExitCode::SUCCESS);
    }
    let result = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let printer = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                super::apply::print_headless(&ev);
            }
        });
        let r = recovery::perform(&prepared, &plan, &args.plan, Some(&known), tx).await;
        let _ = printer.await;
        r
    });
    match result {
        Ok(()) => {
            super::output::println(&format!(
                "{} {}: done; {} saved",
                kind.as_str(),
                printable(&args.name),
                args.plan.display()
            ));
            if let Some(next) = prepared.next_step(&plan_file) {
                super::output::println(&format!("next: {}", printable_lines(&next)));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "rackstrap: {} {}: {}; the plan was not changed",
                kind.as_str(),
                printable(&args.name),
                printable_lines(&e)
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// `node relay`: the storage stage again on a reinstalled node, through the runner `apply`
/// uses (`recovery::relay`). Exit 0 done (or a dry run), 1 refused or failed, 2 no such host.
fn relay(plan: &plan::Plan, args: &super::NodeArgs) -> color_eyre::Result<ExitCode> {
    use std::sync::Arc;

    use crate::provision::remote::SshConnector;
    use crate::provision::{Consent, RunOptions};

    if !plan.hosts.iter().any(|h| h.name == args.name) {
        eprintln!("rackstrap: the plan has no host {}", printable(&args.name));
        return Ok(ExitCode::from(2));
    }
    if plan::check(plan, None).iter().any(|f| f.is_error()) {
        eprint!("{}", super::common::format_text(&plan::check(plan, None)));
        eprintln!("rackstrap: the plan has errors; nothing was run");
        return Ok(ExitCode::from(1));
    }
    // The plan's run lock before any host is looked at: what the look finds must still hold
    // when the storage stage runs, so no other run may start in between.
    let lock = if args.dry_run {
        None
    } else {
        let dir = crate::provision::state::state_dir(&args.plan);
        match crate::provision::state::RunLock::acquire_for(&dir, &plan.cluster.name) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("rackstrap: {e:#}");
                return Ok(ExitCode::from(2));
            }
        }
    };
    let base = super::common::connect_options(plan, args.known_hosts.as_deref(), false);
    if let Err(code) = super::pins::read_known_hosts(&base) {
        return Ok(code);
    }
    let plan_file = args.plan.display().to_string();
    let rt = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    let report = rt.block_on(recovery::survey(plan, base.clone(), &plan_file));
    let reason = match recovery::relay::decide(plan, &report, &args.name) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "rackstrap: relay refused: {}",
                printable_lines(&e.to_string())
            );
            return Ok(ExitCode::from(1));
        }
    };
    super::output::println(&format!(
        "relay {}: {}; its storage step is forgotten and the storage stage runs on it only",
        printable(&args.name),
        match reason {
            recovery::relay::Reason::Reinstalled => "reinstalled",
            recovery::relay::Reason::LayoutMissing => "the plan's layouts are not on its disks",
        }
    ));
    let mut opts = RunOptions::new(Arc::new(SshConnector { base }));
    opts.lock = lock;
    opts.dry_run = args.dry_run;
    opts.consent = if args.yes {
        Consent::All
    } else {
        Consent::None
    };
    let summary = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
        let printer = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                super::apply::print_headless(&ev);
            }
        });
        let r = recovery::relay::perform(plan, &args.plan, &args.name, opts, tx).await;
        let _ = printer.await;
        r
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "rackstrap: relay {}: {}",
                printable(&args.name),
                printable_lines(&format!("{e:#}"))
            );
            return Ok(ExitCode::from(1));
        }
    };
    if args.dry_run {
        super::output::println("dry run: nothing was changed");
    }
    if summary.all_done() {
        Ok(ExitCode::SUCCESS)
    } else {
        for (stage, host, _, msg) in summary.failed() {
            eprintln!(
                "  {} {stage}: {}",
                crate::text::printable(host),
                crate::text::printable(msg)
            );
        }
        eprintln!(
            "rackstrap: relay {}: the storage stage did not finish",
            printable(&args.name)
        );
        Ok(ExitCode::from(1))
    }
}
