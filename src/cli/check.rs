//! `rackstrap check PLAN [--format json] [--facts FILE]`: load, check, print every finding.
//!
//! Without `--facts` only the plan itself is checked; with a file saved by `rackstrap
//! discover --json` the hardware and disk checks run too, on the hosts the file matches.
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
    let findings = plan::check(&plan, facts.as_ref());
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        print!("{}", format_text(&findings));
    }
    Ok(exit_code(&findings))
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
    let path_w = findings.iter().map(|f| f.path.len()).max().unwrap_or(0);
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{:sev_w$}  {:code_w$}  {:path_w$}  {}\n",
            f.severity.as_str(),
            f.code,
            f.path,
            f.message
        ));
        if let Some(h) = &f.hint {
            out.push_str(&format!("{:indent$}hint: {h}\n", "", indent = sev_w + 2));
        }
    }
    out.push_str(&summary(findings));
    out.push('\n');
    out
}

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
