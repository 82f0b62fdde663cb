//! `rackstrap apply`.

use std::process::ExitCode;

pub fn run(_args: super::ApplyArgs) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("`apply` is not built yet"))
}
