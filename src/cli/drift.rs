//! `rackstrap drift PLAN [--json] [--accept-new-key HOST]`: what differs between a plan, its
//! hosts and its cluster (`recovery::survey`), with the guided action per host.
//!
//! Exit codes: 0 no drift, 1 drift (or a key that could not be accepted), 2 the plan could
//! not be read.

use std::process::ExitCode;

use color_eyre::eyre::Context;

use crate::plan;
use crate::recovery::{self, drift::Drift};
use crate::text::{printable, printable_lines};

pub fn run(args: super::DriftArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let opts = super::common::connect_options(&plan, args.known_hosts.as_deref(), false);
    if let Err(code) = super::pins::read_known_hosts(&opts) {
        return Ok(code);
    }
    let plan_file = args.plan.display().to_string();
    let rt = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    let report = rt.block_on(async {
        let mut report = recovery::survey(&plan, opts.clone(), &plan_file).await;
        if let Some(name) = &args.accept_new_key {
            let offered = report.host(name).and_then(|h| {
                h.states.iter().find_map(|s| match s {
                    Drift::HostKeyChanged { offered, .. } | Drift::HostKeyNotPinned { offered } => {
                        Some(offered.clone())
                    }
                    _ => None,
                })
            });
            let Some(offered) = offered else {
                return Err(format!(
                    "--accept-new-key {name}: {name} offers no new key (a plan host whose key changed or is not pinned)"
                ));
            };
            let fp = recovery::observe::accept_new_key(&plan, name, &offered, &opts).await?;
            eprintln!("rackstrap: {}: pinned {fp}", printable(name));
            report = recovery::survey(&plan, opts, &plan_file).await;
        }
        Ok(report)
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rackstrap: {}", printable_lines(&e));
            return Ok(ExitCode::from(1));
        }
    };
    if args.json {
        super::output::println(&crate::text::json_escaped(
            serde_json::to_string_pretty(&report).wrap_err("writing the report as JSON")?,
        ));
    } else {
        super::output::print(&report.text());
    }
    Ok(if report.has_drift() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
