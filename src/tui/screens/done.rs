//! Done: whether the cluster is up, what did not finish, where the kubeconfig is and what
//! was verified.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::provision::{StageId, StepState};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::Hint;
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

/// The footer's keys for this screen, most important first.
pub fn hints(_: &Model) -> Vec<Hint> {
    vec![("Enter", "quit")]
}

/// Enter leaves the wizard.
pub(crate) fn key_done(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    if key.code == KeyCode::Enter {
        m.quit = true;
    }
    None
}
