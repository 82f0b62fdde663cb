//! What the wizard leaves behind when it exits: the summary printed on stdout (what ran,
//! what failed or was skipped, the kubeconfig, the plan and state files) and the exit code.
//! Done shows the same facts; both read them from here so they cannot disagree.

use std::path::PathBuf;

use super::model::{Model, Problem};
use crate::provision::StageId;

/// How the session ended, for the exit code (docs/wizard.md, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No stage was started: the wizard only built (and maybe saved) a plan.
    NotRun,
    /// Every stage finished on every host.
    Complete,
    /// A stage failed, was skipped after failing, or never ran (aborted, or quit early).
    Incomplete,
}

impl Outcome {
    /// 0 when nothing ran or everything finished, 1 when the cluster is not complete.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::NotRun | Outcome::Complete => 0,
            Outcome::Incomplete => 1,
        }
    }
}

pub fn outcome(m: &Model) -> Outcome {
    let p = &m.provision;
    if !p.started {
        Outcome::NotRun
    } else if p.problems().is_empty() && p.finished() {
        Outcome::Complete
    } else {
        Outcome::Incomplete
    }
}

/// Where Kubespray leaves the cluster's admin kubeconfig on the machine that runs it.
pub fn kubeconfig(m: &Model) -> String {
    format!(
        "{}/inventory/{}/artifacts/admin.conf",
        m.plan.cluster.kubespray.path.trim_end_matches('/'),
        m.plan.cluster.name
    )
}

/// The run's state file, next to the saved plan (`None` before the plan has a file).
pub fn state_file(m: &Model) -> Option<PathBuf> {
    m.plan_path
        .as_deref()
        .filter(|_| !m.is_demo())
        .map(|p| crate::provision::state::state_dir(p).join("state.yaml"))
}

/// The headline Done and the summary share: the cluster is up only when every stage finished.
pub fn headline(m: &Model) -> String {
    let name = &m.plan.cluster.name;
    match outcome(m) {
        Outcome::NotRun => format!("Cluster {name}: nothing was run."),
        Outcome::Complete => format!("Cluster {name} is up."),
        Outcome::Incomplete => {
            let problems = m.provision.problems();
            let count = |f: fn(&Problem) -> bool| problems.iter().filter(|p| f(p)).count();
            let failed = count(|p| matches!(p.kind, super::model::ProblemKind::Failed(_)));
            let skipped = count(|p| matches!(p.kind, super::model::ProblemKind::Skipped(_)));
            let not_run = count(|p| p.kind == super::model::ProblemKind::NotRun);
            let mut parts = Vec::new();
            for (n, what) in [
                (failed, "failed"),
                (skipped, "skipped"),
                (not_run, "not run"),
            ] {
                match n {
                    0 => {}
                    1 => parts.push(format!("1 step {what}")),
                    n => parts.push(format!("{n} steps {what}")),
                }
            }
            format!("Cluster {name} is not complete: {}.", parts.join(", "))
        }
    }
}

/// The text printed on stdout when the wizard exits.
pub fn summary(m: &Model) -> String {
    let mut out = vec![headline(m)];
    let p = &m.provision;
    if p.started {
        let stages: Vec<&str> = StageId::ALL
            .iter()
            .filter(|s| {
                p.panes
                    .iter()
                    .any(|h| p.state(&h.host, **s) != crate::provision::StepState::Pending)
            })
            .map(|s| s.title())
            .collect();
        let hosts: Vec<&str> = p.panes.iter().map(|h| h.host.as_str()).collect();
        out.push(format!(
            "  ran: {} on {}",
            if stages.is_empty() {
                "nothing".to_string()
            } else {
                stages.join(", ")
            },
            hosts.join(", ")
        ));
        for problem in p.problems() {
            out.push(format!("  ! {problem}"));
        }
        if m.is_demo() {
            out.push(format!(
                "kubeconfig (demo: on real hosts it would be): {}",
                kubeconfig(m)
            ));
        } else {
            out.push(format!("kubeconfig: {}", kubeconfig(m)));
        }
    }
    out.push(plan_line(m));
    if let (Some(state), true) = (state_file(m), p.started) {
        out.push(format!("run state: {}", state.display()));
    }
    out.join("\n")
}

/// What became of the plan file: written in this session, left as it was, or not saved.
pub fn plan_line(m: &Model) -> String {
    let unsaved = m.review.on_disk.as_deref() != Some(&m.plan);
    match (&m.review.saved, m.review.written, unsaved) {
        (Some(path), true, false) => format!("plan saved: {}", path.display()),
        (Some(path), false, false) => format!("plan unchanged: {}", path.display()),
        (Some(path), _, true) => format!(
            "plan: {} (the changes made since it was last saved are not in it)",
            path.display()
        ),
        (None, _, _) => "plan not saved".to_string(),
    }
}
