//! `rackstrap status`.

use std::process::ExitCode;

pub fn run(_args: super::StatusArgs) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("`status` is not built yet"))
}
