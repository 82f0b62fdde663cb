//! Access: the cluster name and how rackstrap logs in.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::effects::Effect;
use crate::tui::model::AccessField;
use crate::tui::model::Model;
use crate::tui::screens::Hint;
use crate::tui::text;
use crate::tui::update::{handle_input, next};
use crate::tui::widgets::{Look, style};

const LABEL: u16 = 22;

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let a = &m.access;
    let password = a.sudo_password.shown();
    let fields: [(&str, &str, &str, &tui_input::Input); 5] = [
        (
            "Cluster name",
            a.cluster.value(),
            "inventory/<name> in Kubespray",
            &a.cluster,
        ),
        (
            "SSH user",
            a.user.value(),
            "root, or a user with sudo",
            &a.user,
        ),
        ("SSH port", a.port.value(), "", &a.port),
        (
            "Private key",
            a.identity.value(),
            "ssh-agent is tried first",
            &a.identity,
        ),
        (
            "Sudo password",
            &password,
            text::SUDO_PASSWORD_HINT,
            &a.sudo_password.0,
        ),
    ];
    let mut lines = vec![Line::from(text::ACCESS_INTRO), Line::from("")];
    for (i, (label, value, note, input)) in fields.iter().enumerate() {
        let focus = i == a.focus;
        let mark = if focus { "▸ " } else { "  " };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{mark}{label:<w$}", w = LABEL as usize - 2),
                style(m.theme, if focus { Look::Key } else { Look::Dim }),
            ),
            Span::styled(
                format!("{value:<24}"),
                if focus {
                    style(m.theme, Look::Focus)
                } else {
                    Default::default()
                },
            ),
            Span::styled(format!("  {note}"), style(m.theme, Look::Dim)),
        ]));
        lines.push(Line::from(""));
        if focus {
            let x = area.x + LABEL + input.visual_cursor() as u16;
            f.set_cursor_position((
                x.min(area.right().saturating_sub(1)),
                area.y + 2 + 2 * i as u16,
            ));
        }
    }
    if m.is_demo() {
        lines.push(Line::from(Span::styled(
            "In the demo these are only shown: the simulated hosts answer any key.",
            style(m.theme, Look::Warn),
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// The footer's keys for this screen, most important first.
pub fn hints(_: &Model) -> Vec<Hint> {
    vec![("Tab/↑↓", "field"), ("Enter", "next")]
}

pub(crate) fn key_access(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let f = &mut m.access;
    match key.code {
        KeyCode::Enter => return next(m),
        KeyCode::Tab | KeyCode::Down => f.focus = (f.focus + 1) % AccessField::ALL.len(),
        KeyCode::BackTab | KeyCode::Up => {
            f.focus = (f.focus + AccessField::ALL.len() - 1) % AccessField::ALL.len()
        }
        _ => {
            let target = match AccessField::ALL[f.focus] {
                AccessField::Cluster => &mut f.cluster,
                AccessField::User => &mut f.user,
                AccessField::Port => &mut f.port,
                AccessField::Identity => &mut f.identity,
                AccessField::SudoPassword => &mut f.sudo_password.0,
            };
            handle_input(target, key);
            m.sync_access();
        }
    }
    None
}
