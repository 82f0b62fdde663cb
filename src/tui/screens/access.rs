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
    // Under the key field: what the file holds, and what the ssh-agent offers.
    let typed = a.identity.value().trim();
    match &a.key_check {
        Some((path, check)) if path == typed => {
            let look = if check.is_unusable() {
                Look::Error
            } else {
                Look::Ok
            };
            let mark = if check.is_unusable() { "✗" } else { "✓" };
            lines.push(Line::from(Span::styled(
                format!("  {mark} {}", check.describe()),
                style(m.theme, look),
            )));
        }
        _ => {}
    }
    if let Some(agent) = &a.agent {
        let what = match agent.len() {
            0 => "ssh-agent: no agent or no keys in it".to_string(),
            n => format!(
                "ssh-agent holds {n} key{}: {} (leave Private key empty to use them)",
                if n == 1 { "" } else { "s" },
                agent.join("; ")
            ),
        };
        lines.push(Line::from(Span::styled(
            format!("  {what}"),
            style(m.theme, Look::Dim),
        )));
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
    let was = AccessField::ALL[f.focus];
    match key.code {
        KeyCode::Enter => return next(m),
        KeyCode::Tab | KeyCode::Down | KeyCode::BackTab | KeyCode::Up => {
            let n = AccessField::ALL.len();
            f.focus = if matches!(key.code, KeyCode::Tab | KeyCode::Down) {
                (f.focus + 1) % n
            } else {
                (f.focus + n - 1) % n
            };
            let now = AccessField::ALL[f.focus];
            // The key file is checked where it is typed: when the cursor leaves the field.
            if was == AccessField::Identity && now != was {
                let path = f.identity.value().trim().to_string();
                if !path.is_empty() {
                    return Some(Effect::CheckKey { path });
                }
            }
            // Arriving at the field, the agent's identities are offered.
            if now == AccessField::Identity && f.agent.is_none() && !m.is_demo() {
                return Some(Effect::ListAgent);
            }
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
