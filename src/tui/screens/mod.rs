//! One module per wizard step: what the body shows and which keys the footer lists. Key
//! handling itself lives in `app::update` so every state change stays in one place.

pub mod access;
pub mod discover;
pub mod done;
pub mod hosts;
pub mod network;
pub mod provision;
pub mod review;
pub mod roles;
pub mod storage;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::model::{Model, ReviewTab, Step};
use super::update::is_text_focus;

pub fn title(m: &Model) -> String {
    let n = Step::ALL.iter().position(|s| *s == m.step).unwrap_or(0) + 1;
    let what = match m.step {
        Step::Access => "How rackstrap logs in",
        Step::Discover => "Find the hosts",
        Step::Hosts => "What the hosts have",
        Step::Roles => "Who does what",
        Step::Storage => "Disks and layouts",
        Step::Network => "Addresses",
        Step::Review => "What will happen",
        Step::Provision => "Provisioning",
        Step::Done => "Cluster ready",
    };
    format!("{n}/9 {}: {what}", m.step.title())
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    match m.step {
        Step::Access => access::render(m, f, area),
        Step::Discover => discover::render(m, f, area),
        Step::Hosts => hosts::render(m, f, area),
        Step::Roles => roles::render(m, f, area),
        Step::Storage => storage::render(m, f, area),
        Step::Network => network::render(m, f, area),
        Step::Review => review::render(m, f, area),
        Step::Provision => provision::render(m, f, area),
        Step::Done => done::render(m, f, area),
    }
}

/// The footer's keys for the current screen and focus.
pub fn keys(m: &Model) -> Vec<(&'static str, &'static str)> {
    let mut k: Vec<(&str, &str)> = match m.step {
        Step::Access => vec![("Tab/↑↓", "field"), ("Enter", "next")],
        Step::Discover if !m.discover.table_focus => vec![("Enter", "scan"), ("Tab", "table")],
        Step::Discover => vec![
            ("↑↓", "host"),
            ("Space", "accept"),
            ("a", "accept all"),
            ("r", "rescan"),
            ("Enter", "next"),
        ],
        Step::Hosts => vec![("↑↓", "host"), ("Space", "include"), ("Enter", "next")],
        Step::Roles => vec![
            ("↑↓←→", "move"),
            ("Space", "toggle"),
            ("c/e/w", "role"),
            ("Enter", "next"),
        ],
        // In order of importance: a narrow footer drops keys from the end. `w` is also said
        // where it is needed (selecting a disk that holds data).
        Step::Storage => vec![
            ("Tab", "host"),
            ("Space", "select"),
            ("l/f/d/r/m", "set"),
            ("a", "add"),
            ("w", "wipe"),
            ("A", "all same"),
            ("Enter", "next"),
        ],
        Step::Network => vec![("Tab/↑↓", "field"), ("Space", "toggle"), ("Enter", "next")],
        Step::Review if m.review.tab == ReviewTab::Commands => vec![
            ("Tab", "tab"),
            ("↑↓", "scroll"),
            ("e", if m.review.expand { "fold" } else { "expand" }),
            ("s", "save"),
            ("Enter", "provision"),
        ],
        Step::Review => vec![
            ("Tab", "tab"),
            ("↑↓", "scroll"),
            ("s", "save"),
            ("Enter", "provision"),
        ],
        Step::Provision if !m.provision.started => vec![("Enter", "start")],
        Step::Provision if m.provision.running => vec![
            ("Tab", "pane"),
            ("↑↓", "scroll"),
            ("f", "follow"),
            ("/", "search"),
            ("a", "abort"),
        ],
        Step::Provision if m.provision.finished() => vec![
            ("Tab", "pane"),
            ("↑↓", "scroll"),
            ("/", "search"),
            ("Enter", "done"),
        ],
        Step::Provision => vec![
            ("Tab", "pane"),
            ("↑↓", "scroll"),
            ("/", "search"),
            ("r", "retry"),
            ("s", "skip"),
        ],
        Step::Done => vec![("Enter", "quit")],
    };
    // Where a text field has focus `?` and `q` are typed into it (app::is_text_focus).
    let text_focus = is_text_focus(m);
    let can_go_back = match m.step {
        Step::Access | Step::Done => false,
        Step::Provision => !m.provision.started,
        _ => true,
    };
    if can_go_back {
        k.push(("Esc", "back"));
    }
    if text_focus {
        k.push(("F1", "help"));
        k.push(("^C", "quit"));
    } else {
        k.push(("?", "help"));
        k.push(("q", "quit"));
    }
    k
}
