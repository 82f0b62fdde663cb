//! `rackstrap` with no command: the interactive wizard, optionally reopening a plan.

use std::path::Path;
use std::process::ExitCode;

pub fn run(_plan: Option<&Path>) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("the wizard is not built yet"))
}
