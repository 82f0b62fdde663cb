//! `rackstrap check`.

use std::process::ExitCode;

pub fn run(_args: super::CheckArgs) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("`check` is not built yet"))
}
