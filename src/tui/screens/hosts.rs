//! Hosts: facts per host with requirement badges and a capacity estimate.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use crate::facts::human_bytes;
use crate::plan::check::hardware::{FLOORS, Floor, Resource, Tier};
use crate::plan::{Fit, HwRole, role_fit, root_disk_bytes, worker_deployment_estimate};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::Hint;
use crate::tui::update::next;
use crate::tui::widgets::{Look, fit, style, wrap};

/// (badge, look) for how a host fits a role, from the core's floors (the same `check`
/// reports): "rec" meets the recommendation, "min" only the minimum, "ok" a role without a
/// recommendation, "low" below the Akash guide (a warning), "fail" below what Kubespray or
/// kubeadm accept (an error).
fn badge(fit: Fit, has_recommendation: bool) -> (&'static str, Look) {
    match fit {
        Fit::Meets if has_recommendation => ("rec", Look::Ok),
        Fit::Meets => ("ok", Look::Ok),
        Fit::GuideMinimum => ("min", Look::Warn),
        Fit::BelowGuide => ("low", Look::Warn),
        Fit::Fails => ("fail", Look::Error),
    }
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let [table_area, legend] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(area);
    let rows = m
        .rows
        .iter()
        .filter(|r| r.usable())
        .enumerate()
        .map(|(i, r)| {
            let included = !m.excluded.contains(&r.found.address);
            let Some(facts) = r.found.facts.as_ref() else {
                // Reopened from a plan and not scanned yet.
                let name = m
                    .plan
                    .hosts
                    .iter()
                    .find(|h| h.address == r.found.address)
                    .map(|h| h.name.clone())
                    .unwrap_or_default();
                let row = Row::new(vec![
                    Line::from(if included { "✓" } else { "–" }),
                    Line::from(name),
                    Line::from(r.found.address.clone()),
                    Line::from(Span::styled("no facts", style(m.theme, Look::Warn))),
                ]);
                return if i == m.hosts_cursor {
                    row.style(style(m.theme, Look::Focus))
                } else {
                    row
                };
            };
            let (cp, cp_look) = badge(role_fit(facts, HwRole::ControlPlane), true);
            let (wk, wk_look) = badge(role_fit(facts, HwRole::Worker), false);
            let row = Row::new(vec![
                Line::from(if included { "✓" } else { "–" }),
                Line::from(facts.hostname.clone()),
                Line::from(r.found.address.clone()),
                Line::from(fit(&format!("{} {}", facts.os.id, facts.os.version_id), 12)),
                Line::from(facts.cpus.to_string()),
                Line::from(human_bytes(facts.mem_bytes)),
                Line::from(root_disk_bytes(facts).map(human_bytes).unwrap_or_default()),
                Line::from(Span::styled(cp, style(m.theme, cp_look))),
                Line::from(Span::styled(wk, style(m.theme, wk_look))),
                Line::from(format!(
                    "~{}",
                    worker_deployment_estimate(facts).deployments
                )),
            ]);
            if i == m.hosts_cursor {
                row.style(style(m.theme, Look::Focus))
            } else if !included {
                row.style(style(m.theme, Look::Dim))
            } else {
                row
            }
        });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(10),
        Constraint::Length(14),
        Constraint::Length(12),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(6),
    ];
    let header = Row::new(vec![
        "", "Host", "Address", "OS", "CPU", "RAM", "Root", "CP", "Worker", "Deploy",
    ])
    .style(style(m.theme, Look::Title));
    f.render_widget(Table::new(rows, widths).header(header), table_area);
    // The legend's parts share a row when they fit, and wrap (indented) when even one
    // does not, so nothing is cut at 80 columns.
    let w = legend.width as usize;
    let [cp, worker, deploy] = legend_text();
    let mut rows = Vec::new();
    if cp.chars().count() + 3 + worker.chars().count() <= w {
        rows.push(format!("{cp}   {worker}"));
    } else {
        rows.push(cp);
        rows.push(worker);
    }
    rows.push(deploy);
    let legend_lines: Vec<Line> = rows
        .iter()
        .flat_map(|l| wrap(l, w, "", "  "))
        .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim))))
        .collect();
    f.render_widget(Paragraph::new(legend_lines), legend);
}

/// The guide's figures for a role and tier, as `2 CPU/4 GB/30 GB`, from the core's floors.
fn guide(role: HwRole, tier: Tier) -> String {
    let need = |r: Resource| {
        FLOORS
            .iter()
            .find(|f: &&Floor| f.role == role && f.tier == tier && f.resource == r)
            .map(|f| f.need_text())
            .unwrap_or_default()
    };
    format!(
        "{} CPU/{}/{}",
        need(Resource::Cpus),
        need(Resource::Memory),
        need(Resource::RootDisk)
    )
}

/// What the badges and the estimate mean, from the same floors the badges use.
fn legend_text() -> [String; 3] {
    use crate::plan::check::hardware::{SYSTEM_RESERVED_CPUS, SYSTEM_RESERVED_MEMORY_GIB};
    [
        format!(
            "CP: Akash guide min {}, recommended {}",
            guide(HwRole::ControlPlane, Tier::GuideMinimum),
            guide(HwRole::ControlPlane, Tier::GuideRecommended)
        ),
        format!(
            "Worker: min {}; low = below the guide, fail = installer refuses",
            guide(HwRole::Worker, Tier::GuideMinimum)
        ),
        format!(
            "Deploy: 1-CPU deployments a worker takes, after {SYSTEM_RESERVED_CPUS} CPU/{SYSTEM_RESERVED_MEMORY_GIB} GiB for the system"
        ),
    ]
}

/// The footer's keys for this screen, most important first.
pub fn hints(_: &Model) -> Vec<Hint> {
    vec![("↑↓", "host"), ("Space", "include"), ("Enter", "next")]
}

pub(crate) fn key_hosts(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let list: Vec<String> = m
        .rows
        .iter()
        .filter(|r| r.usable())
        .map(|r| r.found.address.clone())
        .collect();
    match key.code {
        KeyCode::Up => m.hosts_cursor = m.hosts_cursor.saturating_sub(1),
        KeyCode::Down => m.hosts_cursor = (m.hosts_cursor + 1).min(list.len().saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some(a) = list.get(m.hosts_cursor) {
                if !m.excluded.remove(a) {
                    m.excluded.insert(a.clone());
                }
                m.sync_hosts();
            }
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}
