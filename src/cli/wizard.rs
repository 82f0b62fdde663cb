//! `rackstrap` with no command: the interactive wizard, optionally reopening a plan.

use std::path::Path;
use std::process::ExitCode;

use color_eyre::eyre::WrapErr;

use crate::plan::Plan;
use crate::tui::app::{Mode, Model, TEST_PANIC_ENV};
use crate::tui::effects::Backend;

pub fn run(plan: Option<&Path>) -> color_eyre::Result<ExitCode> {
    let mut model = match plan {
        Some(path) => {
            let plan: Plan = crate::plan::load(path).wrap_err("cannot reopen the plan")?;
            Model::reopen(Mode::Live, plan, path.to_path_buf())
        }
        None => Model::new(Mode::Live, Plan::new("cluster"), ""),
    };
    model.test_panic = std::env::var_os(TEST_PANIC_ENV).is_some_and(|v| v == "1");
    let model = crate::tui::run(model, Backend::Live { known_hosts: None })?;
    if let Some(p) = &model.review.saved {
        println!("plan saved: {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
