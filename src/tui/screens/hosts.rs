//! Hosts: facts per host with requirement badges and a capacity estimate.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use crate::facts::HostFacts;
use crate::facts::human_bytes;
use crate::tui::domain::{CONTROL_PLANE_MIN, CONTROL_PLANE_RECOMMENDED, WORKER_MIN};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::Hint;
use crate::tui::update::next;
use crate::tui::widgets::{Look, fit, style, wrap};

const GIB: u64 = 1 << 30;

/// CPUs a worker keeps for the system and Kubernetes itself (kubelet, containerd, calico).
const SYSTEM_RESERVED_CPUS: u32 = 2;
/// Memory each 1-CPU deployment is assumed to take alongside its CPU, GiB.
const GIB_PER_DEPLOYMENT: u64 = 2;

fn root_disk_bytes(f: &HostFacts) -> u64 {
    f.disks
        .iter()
        .filter(|d| d.holds_root())
        .map(|d| d.size_bytes)
        .fold(0, u64::saturating_add)
}

/// (badge, look) for a role's requirements: "rec" meets the recommendation, "min" only the
/// minimum, "low" misses it.
fn badge(
    f: &HostFacts,
    min: (u32, u64, u64),
    rec: Option<(u32, u64, u64)>,
) -> (&'static str, Look) {
    let mem = f.mem_bytes.saturating_add(GIB / 2) / GIB;
    let disk = root_disk_bytes(f) / GIB;
    let meets = |r: (u32, u64, u64)| f.cpus >= r.0 && mem >= r.1 && disk >= r.2;
    match rec {
        Some(r) if meets(r) => ("rec", Look::Ok),
        _ if meets(min) && rec.is_none() => ("ok", Look::Ok),
        _ if meets(min) => ("min", Look::Warn),
        _ => ("low", Look::Error),
    }
}

/// How many 1-CPU deployments a worker can take: CPUs left after the system reserve,
/// bounded by memory.
pub fn deployments(f: &HostFacts) -> u64 {
    let cpu = f.cpus.saturating_sub(SYSTEM_RESERVED_CPUS) as u64;
    let mem = (f.mem_bytes / GIB).saturating_sub(4) / GIB_PER_DEPLOYMENT;
    cpu.min(mem)
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
            let (cp, cp_look) = badge(facts, CONTROL_PLANE_MIN, Some(CONTROL_PLANE_RECOMMENDED));
            let (wk, wk_look) = badge(facts, WORKER_MIN, None);
            let row = Row::new(vec![
                Line::from(if included { "✓" } else { "–" }),
                Line::from(facts.hostname.clone()),
                Line::from(r.found.address.clone()),
                Line::from(fit(&format!("{} {}", facts.os.id, facts.os.version_id), 12)),
                Line::from(facts.cpus.to_string()),
                Line::from(human_bytes(facts.mem_bytes)),
                Line::from(human_bytes(root_disk_bytes(facts))),
                Line::from(Span::styled(cp, style(m.theme, cp_look))),
                Line::from(Span::styled(wk, style(m.theme, wk_look))),
                Line::from(format!("~{}", deployments(facts))),
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

/// What the badges and the estimate mean, from the same constants the badges use.
fn legend_text() -> [String; 3] {
    let (c, r, d) = CONTROL_PLANE_MIN;
    let (rc, rr, rd) = CONTROL_PLANE_RECOMMENDED;
    let (wc, wr, wd) = WORKER_MIN;
    [
        format!("CP: control plane min {c} CPU/{r} GB/{d} GB, recommended {rc}/{rr}/{rd}"),
        format!("Worker: min {wc} CPU/{wr} GB/{wd} GB"),
        format!(
            "Deploy: 1-CPU deployments a worker can take ({SYSTEM_RESERVED_CPUS} CPU kept for the system)"
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
