//! The quorum panel: etcd members, quorum size and failures tolerated, live.

use ratatui::text::{Line, Span};

use super::{Look, style};
use crate::plan::quorum;
use crate::plan::{Plan, Role};
use crate::tui::model::Theme;

pub fn panel(theme: Theme, plan: &Plan) -> Vec<Line<'static>> {
    let q = quorum(plan);
    let cps = plan.count_role(Role::ControlPlane);
    let workers = plan.count_role(Role::Worker);
    let tol_look = if q.members == 0 || q.members.is_multiple_of(2) {
        Look::Error
    } else if q.tolerated == 0 {
        Look::Warn
    } else {
        Look::Ok
    };
    vec![
        Line::from(vec![
            Span::raw("etcd members      "),
            Span::styled(q.members.to_string(), style(theme, Look::Title)),
        ]),
        Line::from(format!("quorum            {}", q.quorum)),
        Line::from(vec![
            Span::raw("failures tolerated "),
            Span::styled(q.tolerated.to_string(), style(theme, tol_look)),
        ]),
        Line::from(""),
        Line::from(format!("control planes    {cps}")),
        Line::from(format!("workers           {workers}")),
        Line::from(""),
        Line::from(Span::styled("quorum = n/2 + 1", style(theme, Look::Dim))),
    ]
}
