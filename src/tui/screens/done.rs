//! Done: where the kubeconfig is and what was verified.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::provision::{StageId, StepState};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::Hint;
use crate::tui::widgets::{Look, style};

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let p = &m.provision;
    let kubeconfig = format!(
        "{}/inventory/{}/artifacts/admin.conf",
        m.plan.cluster.kubespray.path.trim_end_matches('/'),
        m.plan.cluster.name
    );
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Cluster {} is up.", m.plan.cluster.name),
            style(m.theme, Look::Ok),
        )),
        Line::from(""),
    ];
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
        let v = p.state(&h.name, StageId::Verify);
        let mark = if v == StepState::Done { "✓" } else { "–" };
        lines.push(Line::from(format!(
            "  {mark} {:<10} node Ready, its kube-system pods Running",
            h.name
        )));
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
    let lb = m
        .plan
        .network
        .load_balancer
        .pools
        .iter()
        .map(|p| format!("{} ({})", p.name, p.addresses.join(", ")))
        .collect::<Vec<_>>()
        .join("; ");
    if !lb.is_empty() {
        lines.push(Line::from(format!("  ✓ MetalLB pools: {lb}")));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        "Next: kubectl --kubeconfig <that file> get nodes",
    ));
    f.render_widget(Paragraph::new(lines), area);
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
