//! Drawing: the one frame every screen shares (title, step bar, body, findings strip,
//! footer) and the popups on top. Only reads the model.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::model::{MIN_HEIGHT, MIN_WIDTH, Mode, Model};
use super::popups::Popup;
use super::screens;
use super::text;
use super::widgets::{Look, findings, footer, step_bar, style};

pub fn render(m: &Model, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let mut lines = vec![
            Line::from(text::TOO_SMALL),
            Line::from(format!(
                "this one is {}x{}: make it larger",
                area.width, area.height
            )),
        ];
        // No room for a popup: the quit question is asked here, where it can be read.
        if matches!(m.popup, Some(Popup::Quit)) {
            lines.push(Line::from(""));
            lines.push(Line::from(text::QUIT_SMALL));
            if m.provision.running {
                lines.push(Line::from(text::QUIT_WHILE_RUNNING));
            }
        }
        let msg = Text::from(lines);
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let list = m.findings();
    let [title, steps, body, strip, keys] = frame_areas(m, list.len(), area);
    let strip_rows = strip.height;

    let mut t = vec![
        Span::styled(format!(" {} ", text::APP), style(m.theme, Look::Title)),
        Span::raw(format!(" cluster {} ", m.plan.cluster.name)),
    ];
    if let Mode::Demo { lab, .. } = &m.mode {
        t.push(Span::styled(
            format!(" {} ({lab}) ", text::DEMO_BANNER),
            style(m.theme, Look::Warn),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(t)), title);
    f.render_widget(Paragraph::new(step_bar::step_bar(m)), steps);

    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        format!(" {} ", screens::title(m)),
        style(m.theme, Look::Title),
    ));
    let inner = block.inner(body);
    f.render_widget(block, body);
    screens::render(m, f, inner);

    let lines = findings::strip(
        m.theme,
        m.status.as_deref(),
        &list,
        strip_rows as usize,
        area.width as usize,
    );
    f.render_widget(Paragraph::new(lines), strip);
    f.render_widget(
        Paragraph::new(footer::footer(
            m.theme,
            &screens::keys(m),
            area.width as usize,
        )),
        keys,
    );

    if let Some(p) = &m.popup {
        popup(m, p, f, area);
    }
}

/// The frame's rows: title, step bar, body, findings strip (up to 4 rows), footer.
fn frame_areas(m: &Model, findings: usize, area: Rect) -> [Rect; 5] {
    let strip_rows = (findings + usize::from(m.status.is_some())).clamp(1, 4) as u16;
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(strip_rows),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// Where a screen's body is drawn (inside the body's border) on a terminal of `m.size`:
/// what `update` needs to know how far a screen can scroll.
pub fn body_inner(m: &Model) -> Rect {
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    let [_, _, body, _, _] = frame_areas(m, m.findings().len(), area);
    Block::default().borders(Borders::ALL).inner(body)
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// This screen's help, the keys every screen shares, and (while a text field has focus)
/// why `?` and `q` are typed instead.
fn help_lines(m: &Model) -> Vec<Line<'static>> {
    let mut l: Vec<Line> = screens::help(m)
        .lines()
        .map(|s| Line::from(s.to_string()))
        .collect();
    if screens::is_text_focus(m) {
        l.push(Line::from(""));
        l.extend(
            text::HELP_TEXT_FOCUS
                .lines()
                .map(|s| Line::from(Span::styled(s.to_string(), style(m.theme, Look::Warn)))),
        );
    }
    l.push(Line::from(""));
    l.push(Line::from(Span::styled(
        "any key closes this help",
        style(m.theme, Look::Dim),
    )));
    l
}

fn popup(m: &Model, p: &Popup, f: &mut Frame, area: Rect) {
    if let Popup::Prepare = p {
        return super::prepare::render_popup(m, f, area);
    }
    let (title, lines, cursor_input): (&str, Vec<Line>, Option<(&tui_input::Input, u16)>) = match p
    {
        Popup::Help => ("Help", help_lines(m), None),
        Popup::Prepare => return,
        Popup::Findings => ("Findings", findings::full(m.theme, &m.findings()), None),
        Popup::Quit => {
            let mut lines = vec![Line::from("Quit rackstrap? Unsaved choices are lost.")];
            if m.provision.running {
                lines.push(Line::from(Span::styled(
                    text::QUIT_WHILE_RUNNING,
                    style(m.theme, Look::Warn),
                )));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(vec![
                Span::styled("y", style(m.theme, Look::Key)),
                Span::raw(" quit   "),
                Span::styled("any other key", style(m.theme, Look::Key)),
                Span::raw(" stay"),
            ]));
            ("Quit", lines, None)
        }
        Popup::SavePath(i) => (
            "Save plan",
            vec![
                Line::from("Save the plan to:"),
                Line::from(format!("> {}", i.value())),
                Line::from(""),
                Line::from("Enter save   Esc cancel"),
            ],
            Some((i, 1)),
        ),
        Popup::Search(i) => (
            "Search the log",
            vec![
                Line::from(format!("/ {}", i.value())),
                Line::from(""),
                Line::from("Enter find   n next match   Esc cancel"),
            ],
            Some((i, 0)),
        ),
        Popup::Mount(i) => (
            "Mount point",
            vec![
                Line::from("Mount point (per-disk: a prefix, each disk at <mount>/<device>):"),
                Line::from(format!("> {}", i.value())),
                Line::from(""),
                Line::from("Enter keep   Esc cancel"),
            ],
            Some((i, 1)),
        ),
        Popup::Labels(i) => {
            let host = m
                .plan
                .hosts
                .get(m.roles_cursor.0)
                .map(|h| h.name.as_str())
                .unwrap_or_default();
            let mut lines = vec![
                Line::from(format!(
                    "Node labels of {host} (key=value, comma separated):"
                )),
                Line::from(format!("> {}", i.value())),
                Line::from(""),
            ];
            if let Some(e) = &m.status {
                lines[2] = Line::from(Span::styled(e.clone(), style(m.theme, Look::Error)));
            }
            lines.push(Line::from("Enter keep   Esc cancel"));
            ("Labels", lines, Some((i, 1)))
        }
        Popup::Passphrase {
            key, input, retry, ..
        } => {
            let mut lines = vec![
                Line::from(format!("Passphrase for {}", key.display())),
                Line::from(format!("> {}", input.shown())),
                Line::from(""),
                Line::from(format!("Enter submit   {}", text::PASSPHRASE_CANCEL)),
            ];
            if *retry {
                lines.insert(
                    0,
                    Line::from(Span::styled(
                        text::PASSPHRASE_RETRY,
                        style(m.theme, Look::Warn),
                    )),
                );
            }
            let row = if *retry { 2 } else { 1 };
            ("Key passphrase", lines, Some((&input.0, row)))
        }
        Popup::Confirm {
            hosts, what, input, ..
        } => confirm_popup(m, hosts, what, input),
    };
    let width =
        (lines.iter().map(|l| l.width()).max().unwrap_or(20).max(30) as u16 + 4).min(area.width);
    // Long lines wrap inside the popup; count the rows they take.
    let inner_width = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            super::widgets::wrap(&text, inner_width, "", "")
                .len()
                .max(1)
        })
        .sum();
    let rect = centered(area, width, rows as u16 + 2);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {title} "));
    let inner = block.inner(rect);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
    if let Some((input, row)) = cursor_input {
        let x = inner.x + 2 + input.visual_cursor() as u16;
        f.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y + row));
    }
}

/// A destructive action's question: y/n, or each host's name typed with what it formats.
fn confirm_popup<'a>(
    m: &Model,
    hosts: &[String],
    what: &str,
    input: &'a tui_input::Input,
) -> (
    &'static str,
    Vec<Line<'static>>,
    Option<(&'a tui_input::Input, u16)>,
) {
    if hosts.is_empty() {
        (
            "Confirm",
            vec![
                Line::from(what.to_string()),
                Line::from(""),
                Line::from("y yes   n/Esc no"),
            ],
            None,
        )
    } else {
        let layouts: Vec<&crate::plan::StorageLayout> = m
            .plan
            .hosts
            .iter()
            .filter(|h| h.name == hosts[0])
            .flat_map(|h| h.storage.iter())
            .collect();
        let formats: Vec<String> = layouts.iter().flat_map(|l| l.devices.clone()).collect();
        let wipes: Vec<String> = layouts
            .iter()
            .filter(|l| l.wipe)
            .flat_map(|l| l.devices.clone())
            .collect();
        let mut detail = format!("{}: formats {}", hosts[0], formats.join(", "));
        if !wipes.is_empty() {
            detail.push_str(&format!("; wipes the data on {}", wipes.join(", ")));
        }
        (
            "Format disks?",
            vec![
                Line::from(what.to_string()),
                Line::from(detail),
                Line::from(Span::styled(
                    format!("Type the host name ({}) to go on:", hosts[0]),
                    style(m.theme, Look::Warn),
                )),
                Line::from(format!("> {}", input.value())),
                // Said here: the strip under the popup is easy to miss.
                if m.status.as_deref() == Some(text::NAME_MISMATCH) {
                    Line::from(Span::styled(
                        format!("`{}` is not {}", input.value().trim(), hosts[0]),
                        style(m.theme, Look::Error),
                    ))
                } else {
                    Line::from("")
                },
                Line::from("Enter confirm   Esc cancel"),
            ],
            Some((input, 3)),
        )
    }
}
