//! `rackstrap check PLAN [--format json] [--facts FILE] [--ports]`: load, check, print every
//! finding; with `--ports`, the port matrix between nodes instead (`crate::plan::ports`).
//!
//! When the plan's Kubespray tree exists, the tree's release and the Ansible that would run
//! it are checked too, and Kubespray's own inventory checks run on the render
//! (`crate::kubespray`). Without `--facts` only the plan itself is checked; with a file
//! saved by `rackstrap discover --json` the hardware and disk checks run too, on the hosts
//! the file matches.
//!
//! Exit codes (docs/plan.md, "Checks"): 0 no errors, 1 errors, 2 the plan (or the facts file) could not
//! be read.

use std::path::Path;
use std::process::ExitCode;

use super::common::format_text;
use crate::facts::{self, Facts};
use crate::plan::{self, Finding};

pub fn run(args: super::CheckArgs) -> color_eyre::Result<ExitCode> {
    let plan = match plan::load(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let facts = match &args.facts {
        Some(path) => match read_facts(path, &plan) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
        },
        None => None,
    };
    let mut findings = plan::check(&plan, facts.as_ref());
    findings.extend(crate::kubespray::tree_findings(&plan, &findings));
    if args.ports {
        return ports(&plan, &findings, &args.format);
    }
    if args.format == "json" {
        super::output::println(&crate::text::json_escaped(serde_json::to_string_pretty(
            &findings,
        )?));
    } else {
        super::output::print(&format_text(&findings));
    }
    Ok(exit_code(&findings))
}

/// `--ports`: the matrix on stdout (text or JSON); the plan's errors, when it has any, on
/// stderr, since a matrix of a plan with errors may be wrong.
fn ports(plan: &plan::Plan, findings: &[Finding], format: &str) -> color_eyre::Result<ExitCode> {
    let m = plan::ports::matrix(plan);
    if format == "json" {
        super::output::println(&serde_json::to_string_pretty(&m.report())?);
    } else {
        super::output::print(&m.table());
    }
    let errors: Vec<Finding> = findings.iter().filter(|f| f.is_error()).cloned().collect();
    if !errors.is_empty() {
        eprint!("{}", format_text(&errors));
    }
    Ok(exit_code(findings))
}

/// The facts file's entries keyed by the plan's host names; the error names the file.
fn read_facts(path: &Path, plan: &plan::Plan) -> Result<Facts, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = facts::file::read(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(plan::facts_for(plan, &entries))
}

/// 1 when any finding is an error, else 0.
pub fn exit_code(findings: &[Finding]) -> ExitCode {
    if findings.iter().any(Finding::is_error) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
