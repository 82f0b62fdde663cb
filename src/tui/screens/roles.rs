//! Roles: control plane / etcd / worker per host, with the live quorum panel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};

use crate::tui::app::{Model, ROLE_COLUMNS};
use crate::tui::widgets::{Look, quorum, style};

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
    f.render_widget(
        Paragraph::new(vec![Line::from(Span::styled(
            "etcd wants an odd member count",
            style(m.theme, Look::Dim),
        ))]),
        note,
    );
    let panel = Paragraph::new(quorum::panel(m.theme, &m.plan))
        .block(Block::default().borders(Borders::LEFT).title(" Quorum "));
    f.render_widget(panel, right);
}
