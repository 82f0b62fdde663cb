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

use crate::facts::{self, Facts};
use crate::plan::{self, Finding, Severity};

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
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        print!("{}", format_text(&findings));
    }
    Ok(exit_code(&findings))
}

/// `--ports`: the matrix on stdout (text or JSON); the plan's errors, when it has any, on
/// stderr, since a matrix of a plan with errors may be wrong.
fn ports(plan: &plan::Plan, findings: &[Finding], format: &str) -> color_eyre::Result<ExitCode> {
    let m = plan::ports::matrix(plan);
    if format == "json" {
        println!("{}", serde_json::to_string_pretty(&m.report())?);
    } else {
        print!("{}", m.table());
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

/// One line per finding (`error  E_CODE  path  message`), its hint indented below, then a
/// summary line. Columns are aligned over the list so it reads as a table.
pub fn format_text(findings: &[Finding]) -> String {
    use crate::text::{pad, printable, width};
    let sev_w = findings
        .iter()
        .map(|f| f.severity.as_str().len())
        .max()
        .unwrap_or(0);
    let code_w = findings
        .iter()
        .map(|f| f.code.as_str().len())
        .max()
        .unwrap_or(0);
    // Paths and messages quote the plan and the hosts' facts: shown escaped, and the path
    // column cut at `PATH_COLUMN_CAP` cells (padding by a format width panics past 65535).
    let path_w = findings
        .iter()
        .map(|f| width(&printable(&f.path)).min(PATH_COLUMN_CAP))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}  {}  {}  {}\n",
            pad(f.severity.as_str(), sev_w),
            pad(f.code.as_str(), code_w),
            pad(&printable(&f.path), path_w),
            printable(&f.message)
        ));
        if let Some(h) = &f.hint {
            out.push_str(&format!(
                "{}hint: {}\n",
                " ".repeat(sev_w + 2),
                printable(h)
            ));
        }
    }
    out.push_str(&summary(findings));
    out.push('\n');
    out
}

/// The widest the path column of [`format_text`] gets, in cells.
const PATH_COLUMN_CAP: usize = 48;

/// `2 errors, 1 warning`, or `no errors, no warnings`.
pub fn summary(findings: &[Finding]) -> String {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let plural = |n: usize, word: &str| match n {
        0 => format!("no {word}s"),
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    };
    format!(
        "{}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning")
    )
}
