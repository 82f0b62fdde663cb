//! `rackstrap discover`.

use std::process::ExitCode;

pub fn run(_args: super::DiscoverArgs) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("`discover` is not built yet"))
}
