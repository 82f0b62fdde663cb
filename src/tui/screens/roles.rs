//! Roles: control plane / etcd / worker per host, with the live quorum panel.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use crate::plan::Subject;
use crate::plan::{Host, Role};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::popups::Popup;
use crate::tui::screens::{Command, Screen, back, back_command, step_title};
use crate::tui::text;
use crate::tui::update::next;
use crate::tui::widgets::{Look, fit, quorum, style};

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(26)]).areas(area);
    let (cr, cc) = m.roles_cursor;
    let rows = m.plan.hosts.iter().enumerate().map(|(i, h)| {
        let mut cells = vec![Line::from(h.name.clone()), Line::from(h.address.clone())];
        for (j, role) in ROLE_COLUMNS.iter().enumerate() {
            let on = if h.has_role(*role) { "[x]" } else { "[ ]" };
            let s = if i == cr && j == cc {
                style(m.theme, Look::Focus)
            } else {
                Default::default()
            };
            cells.push(Line::from(Span::styled(on, s)));
        }
        Row::new(cells)
    });
    let header = Row::new(vec!["Host", "Address", "Control plane", "etcd", "Worker"])
        .style(style(m.theme, Look::Title));
    let widths = [
        Constraint::Length(10),
        Constraint::Length(14),
        Constraint::Length(13),
        Constraint::Length(5),
        Constraint::Length(6),
    ];
    let [table, note] = Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(left);
    f.render_widget(Table::new(rows, widths).header(header), table);
    // The labels of the host under the cursor (AIStore's targets need theirs, e.g.
    // `nvidia.com/ais-target=<release>`).
    let labels = m
        .plan
        .hosts
        .get(cr)
        .map(|h| {
            let list: Vec<String> = h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let list = if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            };
            fit(&format!("{} labels: {list}", h.name), note.width as usize)
        })
        .unwrap_or_default();
    f.render_widget(
        Paragraph::new(vec![
            Line::from(Span::styled(
                "etcd wants an odd member count",
                style(m.theme, Look::Dim),
            )),
            Line::from(labels),
        ]),
        note,
    );
    let panel = Paragraph::new(quorum::panel(m.theme, &m.plan))
        .block(Block::default().borders(Borders::LEFT).title(" Quorum "));
    f.render_widget(panel, right);
}

pub const ROLE_COLUMNS: [Role; 3] = [Role::ControlPlane, Role::Etcd, Role::Worker];

fn toggle_role(host: &mut Host, role: Role) {
    if let Some(i) = host.roles.iter().position(|r| *r == role) {
        host.roles.remove(i);
    } else {
        host.roles.push(role);
        host.roles.sort();
    }
}

pub const SCREEN: Screen = Screen {
    name: "Roles",
    title: |m| step_title(m, "Who does what"),
    about,
    commands: key_table,
    on_key: key_roles,
    render,
    findings: |m| m.plan_findings_about(&[Subject::Roles, Subject::Hardware]),
    text_focus: |_| false,
};

fn about() -> String {
    "etcd needs an odd member count: quorum is n/2+1, failures tolerated n - quorum. A host that answers after the plan was made comes in as a worker. Node labels go to Kubespray's node_labels (AIStore's targets need e.g. nvidia.com/ais-target=<release>).".into()
}

/// The screen's keys, most important first.
fn key_table(_: &Model) -> Vec<Command> {
    use KeyCode::*;
    vec![
        Command::new(&[Up, Down, Left, Right], "arrows", "move").footer("↑↓←→", "move"),
        Command::new(&[Char(' ')], "Space", "toggles the role under the cursor")
            .footer("Space", "toggle"),
        Command::new(
            &[Char('c'), Char('e'), Char('w')],
            "c, e, w",
            "toggle control plane, etcd, worker",
        )
        .footer("c/e/w", "role"),
        Command::new(
            &[Char('l')],
            "l",
            "edits the labels of the host under the cursor",
        )
        .footer("l/L", "labels"),
        Command::new(
            &[Char('L')],
            "L",
            "adds them to every host with the role of the cursor's column",
        )
        .footer("l/L", "labels"),
        Command::new(&[Enter], "Enter", "next").footer("Enter", "next"),
        back_command(),
    ]
}

pub(crate) fn key_roles(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let (row, col) = &mut m.roles_cursor;
    let n = m.plan.hosts.len();
    match key.code {
        KeyCode::Esc => return back(m),
        KeyCode::Up => *row = row.saturating_sub(1),
        KeyCode::Down => *row = (*row + 1).min(n.saturating_sub(1)),
        KeyCode::Left => *col = col.saturating_sub(1),
        KeyCode::Right => *col = (*col + 1).min(2),
        KeyCode::Char(' ') => {
            let role = ROLE_COLUMNS[*col];
            if let Some(h) = m.plan.hosts.get_mut(*row) {
                toggle_role(h, role);
            }
        }
        KeyCode::Char(c @ ('c' | 'e' | 'w')) => {
            let role = match c {
                'c' => Role::ControlPlane,
                'e' => Role::Etcd,
                _ => Role::Worker,
            };
            if let Some(h) = m.plan.hosts.get_mut(*row) {
                toggle_role(h, role);
            }
        }
        KeyCode::Char('l') => {
            if let Some(h) = m.plan.hosts.get(*row) {
                let text: Vec<String> = h.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                m.popup = Some(Popup::Labels(crate::tui::model::input(&text.join(", "))));
            }
        }
        KeyCode::Char('L') => {
            // This host's labels onto every host with the role of the cursor's column.
            let role = ROLE_COLUMNS[*col];
            let src = m.plan.hosts.get(*row).cloned()?;
            let mut to = Vec::new();
            for h in m.plan.hosts.iter_mut() {
                if h.name != src.name && h.has_role(role) {
                    h.labels.extend(src.labels.clone());
                    to.push(h.name.clone());
                }
            }
            let role_name = match role {
                Role::ControlPlane => "control plane",
                Role::Etcd => "etcd member",
                Role::Worker => "worker",
            };
            m.status = Some(text::labels_applied(&src.name, role_name, &to));
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}
