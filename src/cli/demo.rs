//! `rackstrap demo`: the wizard on a built-in simulated lab. Nothing is touched.

use std::process::ExitCode;
use std::sync::Arc;

use crate::lab::Lab;
use crate::tui::model::{Mode, Model};

pub fn run(args: super::DemoArgs) -> color_eyre::Result<ExitCode> {
    if args.lab == "recovery" {
        return recovery();
    }
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
    super::output::println(&crate::tui::summary::summary(&model));
    Ok(ExitCode::from(
        crate::tui::summary::outcome(&model).exit_code(),
    ))
}

/// The recovery demo: a reopened plan on the Drift screen, its survey simulated
/// (`lab::recovery`); the rest of the wizard plays on the scenario's base lab.
fn recovery() -> color_eyre::Result<ExitCode> {
    let (model, lab) = recovery_model()?;
    let model = super::wizard::run_tui(model, crate::tui::demo_backend(lab))?;
    if let Some(p) = &model.review.saved {
        super::output::println(&format!("plan saved: {}", p.display()));
    }
    Ok(ExitCode::SUCCESS)
}

/// The recovery demo's wizard, before its survey, and the lab it plays on afterwards.
pub fn recovery_model() -> color_eyre::Result<(Model, Arc<Lab>)> {
    let scenario = crate::lab::recovery::scenario()?;
    let lab = Arc::new(Lab::builtin(&scenario.base)?);
    let mut model = Model::reopen(
        Mode::Demo {
            lab: scenario.name.clone(),
            title: scenario.title.clone(),
        },
        scenario.plan.clone(),
        crate::lab::recovery::PLAN_FILE.into(),
    );
    // Nothing was saved in the demo: Review asks for a path as in a first install.
    model.review.saved = None;
    model.plan_path = None;
    model.drift = Some(crate::tui::screens::drift::DriftState::default());
    Ok((model, lab))
}
