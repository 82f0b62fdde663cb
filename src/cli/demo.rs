//! `rackstrap demo`: the wizard on a built-in simulated lab. Nothing is touched.

use std::process::ExitCode;
use std::sync::Arc;

use crate::lab::Lab;
use crate::tui::model::{Mode, Model};

pub fn run(args: super::DemoArgs) -> color_eyre::Result<ExitCode> {
    let lab = Arc::new(Lab::builtin(&args.lab)?);
    let mut model = Model::new(
        Mode::Demo {
            lab: lab.name.clone(),
            title: lab.title.clone(),
        },
        lab.seed_plan(),
        &lab.targets,
    );
    model.suggested_roles = lab.roles.clone();
    let model = super::wizard::run_tui(model, crate::tui::demo_backend(lab))?;
    // The terminal is back: what happened stays readable after the wizard is gone.
    println!("{}", crate::tui::summary::summary(&model));
    Ok(ExitCode::from(
        crate::tui::summary::outcome(&model).exit_code(),
    ))
}
