//! Done: whether the cluster is up, what did not finish, where the kubeconfig is and what
//! was verified.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::plan::{Code, Finding, Severity};
use crate::provision::{StageId, StepState};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::{Command, Screen, step_title};
use crate::tui::summary::{self, Outcome};
use crate::tui::widgets::{Look, style};

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let p = &m.provision;
    let kubeconfig = summary::kubeconfig(m);
    let complete = summary::outcome(m) == Outcome::Complete;
    let mut lines = vec![
        Line::from(Span::styled(
            summary::headline(m),
            style(m.theme, if complete { Look::Ok } else { Look::Warn }),
        )),
        Line::from(""),
    ];
    // What did not finish comes first: it is what the operator has to act on.
    for problem in p.problems() {
        lines.push(Line::from(Span::styled(
            format!("! {problem}"),
            style(m.theme, Look::Warn),
        )));
    }
    if !complete {
        lines.push(Line::from(""));
    }
    if m.is_demo() {
        lines.push(Line::from(Span::styled(
            "This was the demo: no host was touched (only a plan you saved was written).",
            style(m.theme, Look::Warn),
        )));
        lines.push(Line::from("On real hosts the kubeconfig would be at"));
        lines.push(Line::from(format!("  {kubeconfig}")));
    } else {
        lines.push(Line::from(format!("kubeconfig: {kubeconfig}")));
    }
    if let Some(path) = &m.review.saved {
        lines.push(Line::from(format!(
            "plan: {}  (rackstrap --plan {} reopens it)",
            path.display(),
            path.display()
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Verified:",
        style(m.theme, Look::Title),
    )));
    for h in &m.plan.hosts {
        let (mark, what) = match p.state(&h.name, StageId::Verify) {
            StepState::Done => ("✓", "node Ready, its kube-system pods Running"),
            StepState::Failed => ("✗", "not verified: Verify failed"),
            _ => ("–", "not verified"),
        };
        lines.push(Line::from(format!("  {mark} {:<10} {what}", h.name)));
    }
    let all_verified = m
        .plan
        .hosts
        .iter()
        .all(|h| p.state(&h.name, StageId::Verify) == StepState::Done);
    if all_verified {
        lines.push(Line::from(
            "  ✓ CoreDNS forwards to the upstream DNS, etcd endpoints healthy",
        ));
    }
    let lb_done = m
        .plan
        .hosts
        .iter()
        .any(|h| p.state(&h.name, StageId::LoadBalancer) == StepState::Done);
    let lb = m
        .plan
        .network
        .load_balancer
        .pools
        .iter()
        .map(|p| format!("{} ({})", p.name, p.addresses.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    if !lb.is_empty() && lb_done {
        lines.push(Line::from(format!("  ✓ MetalLB pools: {lb}")));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        "Next: kubectl --kubeconfig <that file> get nodes",
    ));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

pub const SCREEN: Screen = Screen {
    name: "Done",
    title: |m| {
        step_title(
            m,
            if summary::outcome(m) == Outcome::Complete {
                "Cluster ready"
            } else {
                "Cluster not complete"
            },
        )
    },
    about,
    commands: key_table,
    on_key: key_done,
    render,
    findings,
    text_focus: |_| false,
};

fn about() -> String {
    "What the run did: the cluster is up only when every stage finished; a stage that failed or was skipped is listed. The same summary is printed when the wizard exits, and the exit code is 1 when the cluster is not complete.".into()
}

/// The screen's keys: the run is over, there is no going back.
fn key_table(_: &Model) -> Vec<Command> {
    vec![Command::new(&[KeyCode::Enter], "Enter", "quits").footer("Enter", "quit")]
}

/// Done lists what did not finish; the strip agrees with it.
fn findings(m: &Model) -> Vec<Finding> {
    m.provision
        .problems()
        .into_iter()
        .map(|problem| {
            Finding::new(
                Severity::Warning,
                Code::W_STEP_NOT_FINISHED,
                problem.host.clone(),
                problem.to_string(),
            )
        })
        .collect()
}

/// Enter leaves the wizard.
pub(crate) fn key_done(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    if key.code == KeyCode::Enter {
        m.quit = true;
    }
    None
}
