//! Provision: stage x host states on top, one live log pane per host below (up to four at a
//! time, the focused one first).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::provision::{StageId, StepState};
use crate::tui::app::Model;
use crate::tui::widgets::{Look, fit, log_pane, style};

fn mark(s: StepState) -> (&'static str, Look) {
    match s {
        StepState::Pending => ("·", Look::Dim),
        StepState::Running => ("▶", Look::Warn),
        StepState::Done => ("✓", Look::Ok),
        StepState::Failed => ("✗", Look::Error),
        StepState::Skipped => ("–", Look::Dim),
    }
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let p = &m.provision;
    let grid_rows = (p.panes.len().min(4) + 1) as u16;
    let [grid, panes_area] =
        Layout::vertical([Constraint::Length(grid_rows), Constraint::Min(4)]).areas(area);
    let col = if area.width >= 110 { 14 } else { 10 };
    let mut lines = Vec::new();
    let mut head = vec![Span::styled(
        format!("{:<10}", "host"),
        style(m.theme, Look::Title),
    )];
    for s in StageId::ALL {
        // The last title has the rest of the row ("Load balancer" reads whole at 80).
        let room = if s == StageId::LoadBalancer {
            usize::from(area.width).saturating_sub(10 + col * (StageId::ALL.len() - 1))
        } else {
            col - 1
        };
        head.push(Span::styled(
            format!("{:<col$}", fit(s.title(), room)),
            style(m.theme, Look::Title),
        ));
    }
    lines.push(Line::from(head));
    let start = p
        .focus
        .saturating_sub(3)
        .min(p.panes.len().saturating_sub(4));
    for pane in p.panes.iter().skip(start).take(4) {
        let mut row = vec![Span::raw(format!("{:<10}", fit(&pane.host, 9)))];
        for s in StageId::ALL {
            let (sym, look) = mark(p.state(&pane.host, s));
            let extra = match (s, pane.progress) {
                (StageId::Kubespray, Some((d, Some(t))))
                    if p.state(&pane.host, s) == StepState::Running =>
                {
                    format!(" {d}/{t}")
                }
                _ => String::new(),
            };
            row.push(Span::styled(
                format!("{:<col$}", format!("{sym}{extra}")),
                style(m.theme, look),
            ));
        }
        lines.push(Line::from(row));
    }
    f.render_widget(Paragraph::new(lines), grid);

    if !p.started {
        let mut l = vec![
            Line::from("Nothing has run yet. Enter starts every stage on every host:"),
            Line::from(
                StageId::ALL
                    .iter()
                    .map(|s| s.title())
                    .collect::<Vec<_>>()
                    .join(" → "),
            ),
        ];
        if m.is_demo() {
            l.push(Line::from(Span::styled(
                "Demo: the lab plays recorded output; nothing is touched.",
                style(m.theme, Look::Warn),
            )));
        }
        f.render_widget(Paragraph::new(l), panes_area);
        return;
    }
    let shown: Vec<usize> = (start..p.panes.len()).take(4).collect();
    let cols = if shown.len() > 1 { 2 } else { 1 };
    let nrows = shown.len().div_ceil(cols).max(1);
    let rows = Layout::vertical(vec![Constraint::Ratio(1, nrows as u32); nrows]).split(panes_area);
    for (k, idx) in shown.iter().enumerate() {
        let r = rows[k / cols];
        let cells = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols]).split(r);
        let cell = cells[k % cols];
        let pane = &p.panes[*idx];
        let focused = *idx == p.focus;
        let state = if pane.follow { "follow" } else { "paused" };
        let title = format!(
            " {} · {} · {} lines ",
            pane.host,
            state,
            pane.lines.len() + pane.dropped
        );
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                style(m.theme, Look::Key)
            } else {
                style(m.theme, Look::Dim)
            })
            .title(title);
        let inner = block.inner(cell);
        let text = log_pane::visible(
            m.theme,
            pane,
            inner.height as usize,
            inner.width as usize,
            p.search.as_deref(),
        );
        f.render_widget(Paragraph::new(text).block(block), cell);
    }
}
