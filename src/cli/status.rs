//! `rackstrap status PLAN`: the stage x host table from the plan's saved run state, then the
//! reason (and log file) of every step that failed or was skipped, and while a run holds the
//! plan's lock, "running (pid N)" for the steps it is running.

use std::process::ExitCode;

use crate::plan;
use crate::provision::state::{self, RunState};

pub fn run(args: super::StatusArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let dir = state::state_dir(&args.plan);
    let path = dir.join("state.yaml");
    // A run holding the plan's lock is under way: its `running` steps are running, not
    // interrupted.
    let live = state::RunLock::holder(&dir);
    let mut st = RunState::load_as_left(&path)?;
    if live.is_none() {
        st.mark_interrupted(state::INTERRUPTED);
    }
    if st.steps.is_empty() {
        super::output::println(&format!("no run yet ({} does not exist)", path.display()));
    }
    if let Some(run) = &st.last_run {
        super::output::println(&format!("last run: {run}"));
    }
    let hosts: Vec<String> = plan.hosts.iter().map(|h| h.name.clone()).collect();
    super::output::print(&st.table_live(
        &hosts,
        |stage, host| crate::provision::stage::reports_on(&plan, stage, host),
        live,
    ));
    Ok(ExitCode::SUCCESS)
}
