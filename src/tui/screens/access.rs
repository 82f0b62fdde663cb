//! Access: the cluster name and how rackstrap logs in.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::facts::Facts;
use crate::plan::{Code, Finding};
use crate::tui::effects::Effect;
use crate::tui::model::AccessField;
use crate::tui::model::Model;
use crate::tui::screens::{Command, Screen, step_title};
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

pub const SCREEN: Screen = Screen {
    name: "Access",
    title: |m| step_title(m, "How rackstrap logs in"),
    about,
    commands: key_table,
    on_key: key_access,
    render,
    findings,
    // Every field of the screen is typed into.
    text_focus: |_| true,
};

fn about() -> String {
    "How rackstrap logs in: user, port and private key (ssh-agent is tried first). The cluster name becomes inventory/<name> in Kubespray: letters, digits, -, _ and .\nA user other than root runs commands through sudo. If sudo asks for a password, type it in Sudo password: it goes to sudo -S over SSH, is kept in memory for this session and is never written to the plan, the run state or a log. An encrypted key's passphrase is asked in a popup when a host needs it.".into()
}

/// The screen's keys, most important first. The first step has no Esc.
fn key_table(_: &Model) -> Vec<Command> {
    use KeyCode::*;
    vec![
        Command::new(
            &[Tab, BackTab, Up, Down],
            "Tab, Shift-Tab, Up, Down",
            "move between fields",
        )
        .footer("Tab/↑↓", "field"),
        Command::new(&[], "typing", "edits the field"),
        Command::new(&[Enter], "Enter", "next").footer("Enter", "next"),
    ]
}

/// The name, the user, the port and the key as typed: empty or unusable ones block Enter,
/// and what the core says about the name and user shows before Next.
fn findings(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    if m.access.cluster.value().trim().is_empty() {
        out.push(Finding::error(
            Code::E_BAD_CLUSTER_NAME,
            "cluster.name",
            text::NEED_CLUSTER_NAME.into(),
        ));
    }
    if m.access.user.value().trim().is_empty() {
        out.push(Finding::error(
            Code::E_BAD_USER,
            "access.user",
            text::NEED_USER.into(),
        ));
    }
    let mut typed = m.plan.clone();
    typed.cluster.name = m.access.cluster.value().trim().to_string();
    typed.access.user = m.access.user.value().trim().to_string();
    out.extend(
        crate::tui::widgets::findings::of_plan(&typed, &Facts::new())
            .into_iter()
            .filter(|f| {
                (f.path == "cluster.name" && !typed.cluster.name.is_empty())
                    || (f.path == "access.user" && !typed.access.user.is_empty())
            }),
    );
    if m.access
        .port
        .value()
        .parse::<u16>()
        .map(|p| p == 0)
        .unwrap_or(true)
    {
        out.push(Finding::error(
            Code::E_BAD_PORT,
            "access.port",
            text::BAD_PORT.into(),
        ));
    }
    if let Some((path, check)) = &m.access.key_check
        && path == m.access.identity.value().trim()
        && check.is_unusable()
    {
        out.push(Finding::error(
            Code::E_BAD_KEY,
            "access.identity",
            format!("private key {path}: {}", check.describe()),
        ));
    }
    out
}

pub(crate) fn key_access(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let f = &mut m.access;
    let was = AccessField::ALL[f.focus];
    match key.code {
        KeyCode::Enter => return next(m),
        // The first step: nothing to go back to.
        KeyCode::Esc => {}
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
