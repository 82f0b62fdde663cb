//! The wizard's view of the domain: quorum arithmetic, capacity, and the findings the
//! screens show.
//!
//! Data flow: screens read the `Plan` and the gathered `Facts` from the model and call the
//! functions here; nothing here knows about the terminal. `findings` is the single place the
//! wizard turns a plan into errors (which block "Next") and warnings (which do not).

use crate::facts::{BlockDevice, Facts};
use crate::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// A suggestion that goes with a warning or error.
    Hint,
    /// A fact worth seeing (quorum, capacity, pool size); listed on Review only.
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Hint => "hint",
            Severity::Info => "info",
        }
    }
}

/// One thing the operator should know about the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    /// Where in the plan (`hosts[1].roles`, `network.load_balancer.pools[0].addresses[1]`).
    pub path: String,
    pub message: String,
    /// What to do about it, when the check knows.
    pub hint: Option<String>,
}

impl Finding {
    fn new(
        severity: Severity,
        code: &'static str,
        path: impl Into<String>,
        message: String,
    ) -> Self {
        Self {
            severity,
            code,
            path: path.into(),
            message,
            hint: None,
        }
    }
}

pub use crate::plan::{
    MountProblem, Quorum, mount_problem, overlap_holder, quorum, total_bytes, usable_bytes,
};

/// A disk the wizard must not offer unless it is marked for wiping, and why.
pub fn unsafe_reason(dev: &BlockDevice) -> Option<&'static str> {
    if dev.holds_root() {
        Some("holds /")
    } else if dev.is_mounted() {
        Some("mounted")
    } else if dev.is_in_use() {
        Some("has data")
    } else {
        None
    }
}

/// Minimum and recommended resources per role (CPUs, GiB RAM, GiB disk), after
/// Akash "Kubernetes Cluster for Akash Providers"'s hardware requirements.
pub const CONTROL_PLANE_MIN: (u32, u64, u64) = (2, 4, 30);
pub const CONTROL_PLANE_RECOMMENDED: (u32, u64, u64) = (4, 8, 40);
pub const WORKER_MIN: (u32, u64, u64) = (4, 8, 100);

/// Every finding for the plan from the core checks (the same list `rackstrap check`
/// prints), most severe first. A core hint becomes its own `Hint` line so the strip shows
/// the suggestion (a third etcd member) next to the warning; pool findings say
/// the column of the entry they are about, so the Network screen can point at it.
pub fn findings(plan: &Plan, facts: &Facts) -> Vec<Finding> {
    let facts = (!facts.is_empty()).then_some(facts);
    let mut out = Vec::new();
    for f in crate::plan::check(plan, facts) {
        let severity = match f.severity {
            crate::plan::Severity::Error => Severity::Error,
            crate::plan::Severity::Warning => Severity::Warning,
            crate::plan::Severity::Info => Severity::Info,
        };
        let message = match pool_entry_column(plan, &f.path) {
            Some((pool, col)) => format!("pool {pool}: column {col}: {}", f.message),
            None => f.message.clone(),
        };
        let suggestion = SUGGESTIONS.contains(&f.code);
        let mut finding = Finding::new(severity, f.code, f.path.clone(), message);
        if !suggestion {
            finding.hint = f.hint.clone();
        }
        out.push(finding);
        if let (Some(h), true) = (f.hint, suggestion) {
            out.push(Finding::new(Severity::Hint, f.code, f.path, h));
        }
    }
    out.sort_by_key(|f| f.severity);
    out
}

/// A core finding as the wizard shows it.
pub fn from_core(f: crate::plan::Finding) -> Finding {
    let severity = match f.severity {
        crate::plan::Severity::Error => Severity::Error,
        crate::plan::Severity::Warning => Severity::Warning,
        crate::plan::Severity::Info => Severity::Info,
    };
    let mut finding = Finding::new(severity, f.code, f.path, f.message);
    finding.hint = f.hint;
    finding
}

/// Findings whose hint is a suggestion worth its own line.
const SUGGESTIONS: [&str; 2] = ["W_TWO_CONTROL_PLANES", "E_EVEN_ETCD"];

/// `network.load_balancer.pools[P].addresses[E]` -> (pool name, 1-based column of entry E
/// in the addresses as the Network screen shows them, joined by ", ").
fn pool_entry_column(plan: &Plan, path: &str) -> Option<(String, usize)> {
    let rest = path.strip_prefix("network.load_balancer.pools[")?;
    let (p, rest) = rest.split_once(']')?;
    let e = rest.strip_prefix(".addresses[")?.strip_suffix(']')?;
    let pool = plan
        .network
        .load_balancer
        .pools
        .get(p.parse::<usize>().ok()?)?;
    let e: usize = e.parse().ok()?;
    let col = pool
        .addresses
        .iter()
        .take(e)
        .map(|a| a.chars().count() + 2)
        .sum::<usize>()
        + 1;
    Some((pool.name.clone(), col))
}
