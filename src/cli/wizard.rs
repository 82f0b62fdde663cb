//! `rackstrap` with no command: the interactive wizard, optionally reopening a plan.

use std::path::Path;
use std::process::ExitCode;

use color_eyre::eyre::WrapErr;
use crossterm::event::KeyEventKind;

use crate::plan::Plan;
use crate::tui::effects::{Backend, Effect, Limits};
use crate::tui::model::{Mode, Model, Msg};

/// `stall_after` and `facts_timeout`: the wizard's `--stall-after` and `--facts-timeout`.
pub fn run(
    plan: Option<&Path>,
    stall_after: Option<std::time::Duration>,
    facts_timeout: Option<std::time::Duration>,
) -> color_eyre::Result<ExitCode> {
    let limits = Limits {
        stall_after,
        facts_timeout,
    };
    let model = match plan {
        Some(path) => {
            let plan: Plan = crate::plan::load(path).wrap_err("cannot reopen the plan")?;
            let mut m = Model::reopen(Mode::Live, plan, path.to_path_buf());
            // Reopened at Review: say now what cannot run on this machine.
            let search = std::env::var_os("PATH");
            m.review.machine = crate::provision::readiness::blockers(
                &m.plan,
                &crate::provision::Selection::all(&m.plan),
                search.as_deref(),
            );
            m.drift = Some(crate::tui::screens::drift::DriftState::default());
            m
        }
        None => Model::new(Mode::Live, Plan::new("cluster"), ""),
    };
    let model = run_tui(
        model,
        Backend::Live {
            known_hosts: None,
            limits,
        },
    )?;
    // The terminal is back: what happened stays readable after the wizard is gone.
    super::output::println(&crate::tui::summary::summary(&model));
    Ok(ExitCode::from(
        crate::tui::summary::outcome(&model).exit_code(),
    ))
}

/// Environment variable that makes the wizard panic on the first key it takes, so a test can
/// show that the terminal comes back and the report is readable (tests/tui_tmux.rs).
pub const TEST_PANIC_ENV: &str = "RACKSTRAP_TEST_PANIC";

/// Runs the wizard; with [`TEST_PANIC_ENV`] set to `1`, through [`panicking_update`]. The
/// drill lives here, not in the wizard's state, so the model carries nothing for tests.
pub(super) fn run_tui(model: Model, backend: Backend) -> color_eyre::Result<Model> {
    let drill = std::env::var_os(TEST_PANIC_ENV).is_some_and(|v| v == "1");
    let update: crate::tui::Update = if drill {
        panicking_update
    } else {
        crate::tui::update::update
    };
    crate::tui::run_with(model, backend, update)
}

/// `update`, except that the first key pressed panics inside it, with the terminal still raw
/// and on the alternate screen: the panic hook must put it back.
fn panicking_update(m: &mut Model, msg: Msg) -> Option<Effect> {
    if let Msg::Key(key) = &msg
        && key.kind != KeyEventKind::Release
    {
        panic!("{TEST_PANIC_ENV} is set: panicking inside update on purpose");
    }
    crate::tui::update::update(m, msg)
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent};

    use super::*;

    fn model() -> Model {
        Model::new(Mode::Live, Plan::new("t"), "")
    }

    #[test]
    #[should_panic(expected = "panicking inside update on purpose")]
    fn the_drill_panics_on_the_first_key() {
        panicking_update(&mut model(), Msg::Key(KeyEvent::from(KeyCode::Enter)));
    }

    #[test]
    fn the_drill_passes_everything_else_to_update() {
        let mut m = model();
        panicking_update(&mut m, Msg::Resize(100, 40));
        assert_eq!(m.size, (100, 40));
    }
}
