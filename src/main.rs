//! The `rackstrap` command line: parse, install error hooks, dispatch. Each subcommand lives
//! in `rackstrap::cli::<name>` so that this file stays a table of contents.

use std::process::ExitCode;

use clap::Parser;
use rackstrap::cli::{Cli, Command};

fn main() -> ExitCode {
    if let Err(err) = color_eyre::install() {
        eprintln!("rackstrap: {err}");
        return ExitCode::from(2);
    }
    // A write to stdout that fails outside `cli::output` (a closed pipe, a full disk) ends
    // with a message, never a backtrace.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if let Some(code) = rackstrap::cli::output::panic_exit(message) {
            std::process::exit(code);
        }
        hook(info);
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        None => {
            rackstrap::cli::wizard::run(cli.plan.as_deref(), cli.stall_after, cli.facts_timeout)
        }
        Some(Command::Demo(args)) => rackstrap::cli::demo::run(args),
        Some(Command::Discover(args)) => rackstrap::cli::discover::run(args),
        Some(Command::Check(args)) => rackstrap::cli::check::run(args),
        Some(Command::Render(args)) => rackstrap::cli::render::run(args),
        Some(Command::Apply(args)) => rackstrap::cli::apply::run(args),
        Some(Command::Status(args)) => rackstrap::cli::status::run(args),
        Some(Command::Drift(args)) => rackstrap::cli::drift::run(args),
        Some(Command::Node(args)) => rackstrap::cli::node::run(args),
        Some(Command::Kubespray(rackstrap::cli::KubesprayCommand::Prepare(args))) => {
            rackstrap::cli::kubespray::prepare(args)
        }
    };
    match result {
        Ok(code) => rackstrap::cli::output::finish(code),
        Err(report) => {
            eprintln!("rackstrap: {}", rackstrap::cli::error_text(&report));
            rackstrap::cli::output::finish(ExitCode::from(2))
        }
    }
}
