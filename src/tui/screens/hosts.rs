//! Hosts: facts per host with requirement badges and a capacity estimate, and below the
//! table the host under the cursor in detail: its disks and what is on them, its NICs, the
//! default route, clock sync and the Kubernetes pieces already installed.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use crate::facts::{HostFacts, human_bytes};
use crate::plan::check::hardware::{FLOORS, Floor, Resource, Tier};
use crate::plan::{Code, Finding, Subject};
use crate::plan::{Fit, HwRole, role_fit, root_disk_bytes, worker_deployment_estimate};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::{Command, Screen, back, back_command, step_title};
use crate::tui::text;
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
    let usable: Vec<&crate::tui::model::Row> = m.rows.iter().filter(|r| r.usable()).collect();
    let table_rows = u16::try_from(usable.len() + 1).unwrap_or(u16::MAX);
    let [table_area, detail_area, legend] = Layout::vertical([
        Constraint::Length(table_rows.min(area.height / 2)),
        Constraint::Min(3),
        Constraint::Length(3),
    ])
    .areas(area);
    if let Some(r) = usable.get(m.hosts_cursor) {
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(style(m.theme, Look::Dim))
            .title(match &r.found.facts {
                Some(facts) => format!(" {} · {} ", facts.hostname, r.found.address),
                None => format!(" {} ", r.found.address),
            });
        let inner = block.inner(detail_area);
        f.render_widget(block, detail_area);
        let lines = match &r.found.facts {
            Some(facts) => detail_lines(m, facts, inner.width as usize),
            None => vec![Line::from(Span::styled(
                "no facts yet: discover again to see this host's disks and network",
                style(m.theme, Look::Warn),
            ))],
        };
        f.render_widget(Paragraph::new(lines), inner);
    }
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

/// What is on a disk, in words: the root filesystem, mounts, a filesystem, partitions, or
/// nothing (blank: a layout can use it).
fn disk_use(d: &crate::facts::BlockDevice) -> String {
    if d.holds_root() {
        return "holds / (the system disk)".into();
    }
    let mounts = d.mounted_at();
    if !mounts.is_empty() {
        return format!("mounted at {}", mounts.join(", "));
    }
    if !d.children.is_empty() {
        let parts: Vec<String> = d
            .children
            .iter()
            .map(|c| match &c.fstype {
                Some(fs) => format!("{} {fs}", c.name),
                None => c.name.clone(),
            })
            .collect();
        return format!("partitions {}", parts.join(", "));
    }
    match &d.fstype {
        Some(fs) => format!("carries {fs}"),
        None => "blank".into(),
    }
}

/// The detail pane: disks with sizes and what is on them, NICs with addresses and MTU, the
/// default route, clock sync and Kubernetes pieces already installed.
fn detail_lines(m: &Model, facts: &HostFacts, width: usize) -> Vec<Line<'static>> {
    let dim = style(m.theme, Look::Dim);
    let head = |t: &str| Span::styled(format!("{t:<9}"), style(m.theme, Look::Title));
    let mut out = Vec::new();
    out.push(Line::from(vec![
        head("System"),
        Span::raw(fit(
            &format!(
                "{} · kernel {} · {}",
                facts.os.pretty_name, facts.kernel, facts.arch
            ),
            width.saturating_sub(9),
        )),
    ]));
    out.push(Line::from(vec![
        head("CPU, RAM"),
        Span::raw(fit(
            &format!(
                "{} × {} · {} RAM · swap {} · cgroup {}",
                facts.cpus,
                facts.cpu_model,
                human_bytes(facts.mem_bytes),
                if facts.swap_bytes == 0 {
                    "off".to_string()
                } else {
                    human_bytes(facts.swap_bytes)
                },
                if facts.cgroup_v2 { "v2" } else { "v1" },
            ),
            width.saturating_sub(9),
        )),
    ]));
    for (i, d) in facts.disks.iter().enumerate() {
        let kind = match (d.transport.as_deref(), d.rotational) {
            (Some(t), false) => format!("{t} ssd"),
            (Some(t), true) => format!("{t} hdd"),
            (None, false) => "ssd".into(),
            (None, true) => "hdd".into(),
        };
        let text = format!(
            "{:<9} {:>6}  {:<9} {}",
            d.name,
            human_bytes(d.size_bytes),
            kind,
            disk_use(d)
        );
        out.push(Line::from(vec![
            head(if i == 0 { "Disks" } else { "" }),
            Span::raw(fit(&text, width.saturating_sub(9))),
        ]));
    }
    for (i, n) in facts.interfaces.iter().enumerate() {
        let text = format!(
            "{:<9} mtu {:<5} {}",
            n.name,
            n.mtu,
            if n.addresses.is_empty() {
                "no address".to_string()
            } else {
                n.addresses.join(", ")
            }
        );
        out.push(Line::from(vec![
            head(if i == 0 { "NICs" } else { "" }),
            Span::raw(fit(&text, width.saturating_sub(9))),
        ]));
    }
    let route = match &facts.default_route {
        Some(r) => match &r.gateway {
            Some(g) => format!("default via {g} dev {}", r.interface),
            None => format!("default dev {}", r.interface),
        },
        None => "no default route".into(),
    };
    let clock = match facts.time_synced {
        Some(true) => "clock synchronised",
        Some(false) => "clock NOT synchronised",
        None => "clock sync unknown",
    };
    let k = &facts.installed;
    let tools: Vec<&str> = [
        (k.kubelet, "kubelet"),
        (k.containerd, "containerd"),
        (k.kubeadm, "kubeadm"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let kube = if tools.is_empty() {
        "no Kubernetes tools installed".to_string()
    } else {
        format!("installed: {}", tools.join(", "))
    };
    out.push(Line::from(vec![
        head("Network"),
        Span::raw(fit(&format!("{route} · {clock}"), width.saturating_sub(9))),
    ]));
    out.push(Line::from(vec![
        head("Kube"),
        Span::styled(fit(&kube, width.saturating_sub(9)), dim),
    ]));
    out
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

pub const SCREEN: Screen = Screen {
    name: "Hosts",
    title: |m| step_title(m, "What the hosts have"),
    about,
    commands: key_table,
    on_key: key_hosts,
    render,
    findings,
    text_focus: |_| false,
};

/// What the badges mean, with the core's floors.
fn about() -> String {
    format!(
        "Facts per host with requirement badges: control plane min {} (recommended {}), worker min {}. A host left out keeps its roles and layouts and gets them back when taken back.",
        guide(HwRole::ControlPlane, Tier::GuideMinimum),
        guide(HwRole::ControlPlane, Tier::GuideRecommended),
        guide(HwRole::Worker, Tier::GuideMinimum),
    )
}

/// The screen's keys, most important first.
fn key_table(_: &Model) -> Vec<Command> {
    use KeyCode::*;
    vec![
        Command::new(&[Up, Down], "Up/Down", "pick a host").footer("↑↓", "host"),
        Command::new(&[Char(' ')], "Space", "leaves it out or takes it back")
            .footer("Space", "include"),
        Command::new(&[Enter], "Enter", "next").footer("Enter", "next"),
        back_command(),
    ]
}

/// No host left, and the hosts' hardware against the floors.
fn findings(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    if m.plan.hosts.is_empty() {
        out.push(Finding::error(
            Code::E_NO_HOSTS,
            "hosts",
            text::NEED_HOST.into(),
        ));
    }
    out.extend(m.plan_findings_about(&[Subject::Hardware]));
    out
}

pub(crate) fn key_hosts(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let list: Vec<String> = m
        .rows
        .iter()
        .filter(|r| r.usable())
        .map(|r| r.found.address.clone())
        .collect();
    match key.code {
        KeyCode::Esc => return back(m),
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
