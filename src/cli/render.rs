//! `rackstrap render`.

use std::process::ExitCode;

pub fn run(_args: super::RenderArgs) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("`render` is not built yet"))
}
