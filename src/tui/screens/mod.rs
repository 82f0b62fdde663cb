//! One module per wizard step, each with the three things that make a screen: `render` (the
//! body, drawn from the model), `hints` (the keys its footer lists) and `key_<step>` (what
//! those keys do to the model, and the `Effect` a key may ask for). `super::update` routes a
//! key here when no popup is open; this module only dispatches on the step.

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

use ratatui::Frame;
use ratatui::layout::Rect;

use super::model::{Model, Step};
use super::update::is_text_focus;

/// A footer entry: the key, then what it does.
pub type Hint = (&'static str, &'static str);

pub fn title(m: &Model) -> String {
    if m.drift.is_some() {
        return drift::title().to_string();
    }
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
        Step::Done if super::summary::outcome(m) == super::summary::Outcome::Complete => {
            "Cluster ready"
        }
        Step::Done => "Cluster not complete",
    };
    format!("{n}/9 {}: {what}", m.step.title())
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    if m.drift.is_some() {
        return drift::render(m, f, area);
    }
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
pub fn keys(m: &Model) -> Vec<Hint> {
    if m.drift.is_some() {
        let mut k = drift::hints(m);
        k.push(("q", "quit"));
        return k;
    }
    let mut k = match m.step {
        Step::Access => access::hints(m),
        Step::Discover => discover::hints(m),
        Step::Hosts => hosts::hints(m),
        Step::Roles => roles::hints(m),
        Step::Storage => storage::hints(m),
        Step::Network => network::hints(m),
        Step::Review => review::hints(m),
        Step::Provision => provision::hints(m),
        Step::Done => done::hints(m),
    };
    // Where a text field has focus `?` and `q` are typed into it (update::is_text_focus).
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
