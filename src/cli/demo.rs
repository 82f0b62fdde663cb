//! `rackstrap demo`.

use std::process::ExitCode;

pub fn run(_args: super::DemoArgs) -> color_eyre::Result<ExitCode> {
    Err(color_eyre::eyre::eyre!("`demo` is not built yet"))
}
