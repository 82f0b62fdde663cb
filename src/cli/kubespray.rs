//! `rackstrap kubespray prepare PLAN [--from URL] [--python PROGRAM]`: the control machine
//! made ready for the plan's Kubespray release (`crate::kubespray::prepare`). Step lines go
//! to stdout as `kubespray prepare <step>`; every command's whole output to
//! `.rackstrap/<plan>/kubespray-prepare.log` beside the plan.
//!
//! Exit codes: 0 ready (prepared now or already), 1 refused or failed (the message says what
//! to do; a step over its time limit too), 2 the plan could not be read, 130/143 stopped by
//! SIGINT/SIGTERM.

use std::process::ExitCode;

use color_eyre::eyre::WrapErr;

use crate::kubespray::prepare::{self, Outcome, Reporter};
use crate::plan;
use crate::provision::state;

/// The log file's name in the plan's state directory.
pub const PREPARE_LOG: &str = prepare::LOG;

pub fn prepare(args: super::PrepareArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let dir = state::state_dir(&args.plan);
    std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join(PREPARE_LOG);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .wrap_err_with(|| format!("opening {}", log_path.display()))?;
    let mut progress = |line: &str| super::output::println(&format!("kubespray prepare {line}"));
    let mut r = Reporter {
        progress: &mut progress,
        log: &mut log,
    };
    // Ctrl-C and SIGTERM stop the command under way and its children, not only this process.
    prepare::stop_on_signals();
    let result = prepare::prepare(&plan, &args.from, &args.python, &mut r);
    if let Some(signal) = prepare::stopped_by() {
        eprintln!(
            "rackstrap: kubespray prepare stopped by {signal}; run it again to finish (the log is {})",
            log_path.display()
        );
        return Ok(ExitCode::from(if signal == "SIGTERM" { 143 } else { 130 }));
    }
    match result {
        Ok(Outcome::AlreadyReady { .. }) => Ok(ExitCode::SUCCESS),
        Ok(Outcome::Prepared { .. }) => {
            super::output::println(&format!("kubespray prepare log: {}", log_path.display()));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("rackstrap: kubespray prepare: {e}");
            eprintln!("rackstrap: the log is {}", log_path.display());
            Ok(ExitCode::from(1))
        }
    }
}
