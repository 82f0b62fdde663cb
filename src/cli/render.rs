//! `rackstrap render PLAN --out DIR`: write the Kubespray inventory and extras.
//!
//! Exit codes as `check`: 0 written, 1 the plan has errors (they are printed, nothing is
//! written), 2 the plan could not be read or the files could not be written.

use std::process::ExitCode;

use color_eyre::eyre::WrapErr;

use crate::plan;
use crate::render::{self, RenderError};

pub fn run(args: super::RenderArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let files = match render::render(&plan) {
        Ok(files) => files,
        Err(RenderError::PlanHasErrors(errors)) => {
            eprint!("{}", super::common::format_text(&errors));
            eprintln!("nothing written");
            return Ok(ExitCode::from(1));
        }
    };
    for f in crate::plan::release::release_findings(&plan) {
        if f.code == plan::Code::W_KUBESPRAY_VERSION {
            eprintln!("warning: {}", f.message);
        }
    }
    render::write(&files, &args.out)
        .wrap_err_with(|| format!("writing to {}", args.out.display()))?;
    for f in &files {
        super::output::println(&args.out.join(&f.path).display().to_string());
    }
    Ok(ExitCode::SUCCESS)
}
