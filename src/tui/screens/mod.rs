//! One module per wizard step (and the Drift screen beside them). Each module owns all of
//! its screen and hands it over as one [`Screen`] table: its title, what it draws, its key
//! table ([`Command`]s: the footer and the help are both made from it, so a key that works
//! is in both), what its keys do (Esc included), the help's words on its fields, its
//! findings and whether a text field has focus. `super::update` routes a key here when no
//! popup is open; [`current`] is the one place that picks the screen.

pub mod access;
pub mod discover;
pub mod done;
pub mod drift;
pub mod hosts;
pub mod network;
pub mod provision;
pub mod review;
pub mod roles;
pub mod storage;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::effects::Effect;
use super::model::{Model, Step};
use crate::plan::Finding;

/// A footer entry: the key, then what it does.
pub type Hint = (&'static str, &'static str);

/// One screen: everything the frame, the footer, the help and `update` ask of it.
pub struct Screen {
    /// The step bar's name ("Access").
    pub name: &'static str,
    /// The body's title.
    pub title: fn(&Model) -> String,
    /// The help's first part: what the screen shows and what its fields mean.
    pub about: fn() -> String,
    /// The key table, in the footer's order of importance.
    pub commands: fn(&Model) -> Vec<Command>,
    /// Every key no popup and no frame-wide key took, Esc included.
    pub on_key: fn(&mut Model, KeyEvent) -> Option<Effect>,
    pub render: fn(&Model, &mut Frame, Rect),
    /// The findings that matter here (the strip and F2 show them; errors block Enter).
    pub findings: fn(&Model) -> Vec<Finding>,
    /// A text field has focus: `?` and `q` are typed into it, F1 and Ctrl+C stand in.
    pub text_focus: fn(&Model) -> bool,
}

/// One key of a screen's table.
#[derive(Debug, Clone)]
pub struct Command {
    /// The terminal keys it stands for (empty for typing into a field).
    pub codes: &'static [KeyCode],
    /// The key as the help names it ("Up/Down", "l / L").
    pub key: &'static str,
    /// What it does, as the help says it.
    pub help: String,
    /// The footer's entry while the key works in the screen's present state; `None`: only
    /// the help lists it (it works in another state, or the footer has no room for it).
    pub footer: Option<Hint>,
}

impl Command {
    pub fn new(codes: &'static [KeyCode], key: &'static str, help: impl Into<String>) -> Self {
        Command {
            codes,
            key,
            help: help.into(),
            footer: None,
        }
    }

    /// Shown in the footer as `key what`.
    pub fn footer(mut self, key: &'static str, what: &'static str) -> Self {
        self.footer = Some((key, what));
        self
    }

    /// Shown in the footer as `key what` when `on`.
    pub fn footer_if(self, on: bool, key: &'static str, what: &'static str) -> Self {
        if on { self.footer(key, what) } else { self }
    }
}

/// The screen of a step.
pub fn of(step: Step) -> &'static Screen {
    match step {
        Step::Access => &access::SCREEN,
        Step::Discover => &discover::SCREEN,
        Step::Hosts => &hosts::SCREEN,
        Step::Roles => &roles::SCREEN,
        Step::Storage => &storage::SCREEN,
        Step::Network => &network::SCREEN,
        Step::Review => &review::SCREEN,
        Step::Provision => &provision::SCREEN,
        Step::Done => &done::SCREEN,
    }
}

/// The screen shown now: Drift over the steps while a reopened plan's drift is reviewed,
/// else the step's.
pub fn current(m: &Model) -> &'static Screen {
    if m.drift.is_some() {
        &drift::SCREEN
    } else {
        of(m.step)
    }
}

/// `n/9 Name: what`, the title of a step's body.
pub(crate) fn step_title(m: &Model, what: &str) -> String {
    let n = Step::ALL.iter().position(|s| *s == m.step).unwrap_or(0) + 1;
    format!("{n}/{} {}: {what}", Step::ALL.len(), m.step.title())
}

pub fn title(m: &Model) -> String {
    (current(m).title)(m)
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    (current(m).render)(m, f, area)
}

/// A text field of the current screen has focus.
pub fn is_text_focus(m: &Model) -> bool {
    (current(m).text_focus)(m)
}

/// Esc on a step: back one step, keeping what was typed.
pub(crate) fn back(m: &mut Model) -> Option<Effect> {
    m.step = m.step.prev();
    None
}

/// The Esc entry of a step that goes back one step.
pub(crate) fn back_command() -> Command {
    Command::new(&[KeyCode::Esc], "Esc", "back, keeping what you typed").footer("Esc", "back")
}

/// The keys every screen shares, after its own: help, every finding, quit. Where a text
/// field has focus `?` and `q` are typed into it, so the footer names F1 and Ctrl+C.
pub fn shared(m: &Model) -> Vec<Command> {
    let text = is_text_focus(m);
    vec![
        Command::new(
            &[KeyCode::F(1), KeyCode::Char('?')],
            "F1, ?",
            "this help (? only outside text fields)",
        )
        .footer(if text { "F1" } else { "?" }, "help"),
        Command::new(
            &[KeyCode::F(2)],
            "F2",
            "every finding of this screen in full",
        ),
        Command::new(
            &[KeyCode::Char('q')],
            "q",
            "quit, asks first (Ctrl+C anywhere, text fields and popups included)",
        )
        .footer(if text { "^C" } else { "q" }, "quit"),
    ]
}

/// The current screen's table, then the shared keys.
pub fn commands(m: &Model) -> Vec<Command> {
    let mut all = (current(m).commands)(m);
    all.extend(shared(m));
    all
}

/// The footer's keys for the current screen and focus: the table's entries that have one,
/// each once, in the table's order.
pub fn keys(m: &Model) -> Vec<Hint> {
    let mut out: Vec<Hint> = Vec::new();
    for hint in commands(m).into_iter().filter_map(|c| c.footer) {
        if !out.contains(&hint) {
            out.push(hint);
        }
    }
    out
}

/// The help of a screen: what it is about, then its keys from its table, then the keys
/// every screen shares. Keys run on as sentences (not a row each) so the help of the
/// busiest screen still fits 80x24.
pub fn help_of(screen: &Screen, m: &Model) -> String {
    let said = |list: Vec<Command>| -> String {
        list.iter()
            .map(|c| format!("{} {}", c.key, c.help))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "{}\nKeys: {}.\nOn every screen: {}. Enter goes on only when the screen has no errors (warnings do not block).",
        (screen.about)(),
        said((screen.commands)(m)),
        said(shared(m)),
    )
}

/// The help of the screen shown now.
pub fn help(m: &Model) -> String {
    help_of(current(m), m)
}
