//! What several subcommands share: the SSH options for a plan's hosts and the findings
//! table. Each subcommand's module takes these from here, not from another subcommand.

use crate::plan::{Finding, Severity};

/// The SSH options the commands that reach a plan's hosts (`apply`, `drift`, `node`) connect
/// with: the core's
/// [`connect_options`](crate::provision::remote::connect_options) for the plan, the same the
/// wizard runs with, plus `--accept-new`.
pub fn connect_options(
    plan: &crate::plan::Plan,
    known_hosts: Option<&std::path::Path>,
    accept_new: bool,
) -> crate::ssh::ConnectOptions {
    let mut base = crate::provision::remote::connect_options(&plan.access, known_hosts);
    base.accept_new = accept_new;
    base
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
