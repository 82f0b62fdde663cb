//! Every screen's footer and help come from one key table: in each state a screen can be in,
//! every key the footer shows is in the help with what it does, and pressing it does
//! something (the model changes, or an effect is asked for). The help opens on every
//! screen, the Drift screen included, and fits an 80x24 terminal.

mod wizard_support;

use crossterm::event::KeyCode::{self, *};
use crossterm::event::{KeyEvent, KeyModifiers};
use rackstrap::provision::{Event, EventKind, StageId};
use rackstrap::tui::model::{Model, Msg, Step};
use rackstrap::tui::popups::Popup;
use rackstrap::tui::screens;
use rackstrap::tui::update::update;
use wizard_support::Driver;

fn akash_at(step: Step) -> Driver {
    let mut d = Driver::demo("akash");
    if step == Step::Access {
        return d;
    }
    d.key(Enter);
    if step == Step::Discover {
        return d;
    }
    d.key(Enter).key(Char('a')).key(Enter);
    d.enter_until(step, |d| {
        d.akash_storage();
    });
    d
}

fn recovery() -> Driver {
    let (mut m, lab) = rackstrap::cli::demo::recovery_model().expect("recovery demo");
    m.theme.color = false;
    let mut d = Driver::new(m, lab);
    d.send(Msg::Opened);
    d
}

/// Every state a screen draws a different footer in.
fn states() -> Vec<(&'static str, Model)> {
    let mut out = Vec::new();
    out.push(("access", akash_at(Step::Access).m));
    let mut d = akash_at(Step::Discover);
    out.push(("discover targets", d.m.clone()));
    d.key(Enter);
    out.push(("discover table", d.m.clone()));
    for step in [Step::Hosts, Step::Roles, Step::Storage, Step::Network] {
        out.push((step.title(), akash_at(step).m));
    }
    let mut d = akash_at(Step::Review);
    out.push(("review findings", d.m.clone()));
    d.key(Tab).key(Tab);
    out.push(("review commands", d.m.clone()));
    d.key(Char('/'));
    out.push(("review search", d.m.clone()));
    let mut d = akash_at(Step::Provision);
    out.push(("provision before", d.m.clone()));
    d.start_run().play_runs_limited(3);
    out.push(("provision running", d.m.clone()));
    let mut stalled = d.m.clone();
    update(
        &mut stalled,
        Msg::Provision(vec![Event {
            host: "node1".into(),
            stage: StageId::Preflight,
            kind: EventKind::Stalled {
                command: "sleep 9999".into(),
                quiet_secs: 600,
                limit_secs: 600,
                asking: true,
            },
        }]),
    );
    out.push(("provision stalled", stalled));
    d.key(Char('a')).key(Char('y'));
    out.push(("provision failed", d.m.clone()));
    let mut d = akash_at(Step::Provision);
    d.start_run().play_runs();
    out.push(("provision finished", d.m.clone()));
    d.key(Enter);
    out.push(("done", d.m.clone()));
    let mut d = recovery();
    out.push(("drift", d.m.clone()));
    d.keys(&[Down, Down, Down, Char('a')]);
    out.push(("drift refused", d.m.clone()));
    d.key(Esc).key(Down).key(Char('k'));
    out.push(("drift new key", d.m.clone()));
    out
}

/// Whether pressing `code` does anything: changes the model or asks for an effect.
fn does_something(m: &Model, code: KeyCode) -> bool {
    let mut after = m.clone();
    let effect = update(
        &mut after,
        Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
    );
    effect.is_some() || format!("{after:?}") != format!("{m:?}")
}

#[test]
fn every_footer_key_is_in_the_help_and_does_something() {
    for (name, m) in states() {
        assert!(m.popup.is_none(), "{name}: {:?}", m.popup);
        let footer = screens::keys(&m);
        let table = screens::commands(&m);
        let help = screens::help(&m);
        assert!(!footer.is_empty(), "{name}");
        for hint in &footer {
            let listed: Vec<_> = table.iter().filter(|c| c.footer == Some(*hint)).collect();
            assert!(!listed.is_empty(), "{name}: {hint:?} is in no table entry");
            for c in listed {
                let said = format!("{} {}", c.key, c.help);
                assert!(help.contains(&said), "{name}: help lacks {said:?}:\n{help}");
                // Pressed in this state, or after the screen's other footer keys (Up does
                // nothing at the top until Down moved).
                let handled = c.codes.iter().any(|k| does_something(&m, *k))
                    || c.codes.iter().any(|k| {
                        let mut moved = m.clone();
                        for other in table.iter().filter(|o| o.footer.is_some()) {
                            for o in other.codes.iter().filter(|o| !c.codes.contains(o)) {
                                if matches!(o, Down | PageDown | Tab) {
                                    update(
                                        &mut moved,
                                        Msg::Key(KeyEvent::new(*o, KeyModifiers::NONE)),
                                    );
                                }
                            }
                        }
                        moved.popup = None;
                        does_something(&moved, *k)
                    });
                assert!(handled, "{name}: {hint:?} ({:?}) does nothing", c.codes);
            }
        }
    }
}

#[test]
fn help_opens_on_every_screen_and_fits_80x24() {
    for (name, mut m) in states() {
        let key = if screens::is_text_focus(&m) {
            F(1)
        } else {
            Char('?')
        };
        update(&mut m, Msg::Key(KeyEvent::new(key, KeyModifiers::NONE)));
        assert!(
            matches!(m.popup, Some(Popup::Help)),
            "{name}: {:?}",
            m.popup
        );
        let screen = rackstrap::tui::render_to_string(&m, 80, 24);
        assert!(
            screen.contains("any key closes this help"),
            "{name}: the help is cut at 80x24:\n{screen}"
        );
    }
}

/// The help names the figures the core works with, not prose that could drift from them.
#[test]
fn help_names_the_cores_figures() {
    use rackstrap::plan::check::hardware::{FLOORS, Resource, Tier};
    let hosts = rackstrap::tui::text::help(Step::Hosts);
    for f in FLOORS
        .iter()
        .filter(|f| f.tier == Tier::GuideMinimum && f.resource == Resource::Cpus)
    {
        assert!(hosts.contains(&format!("{} CPU", f.need_text())), "{hosts}");
    }
    let network = rackstrap::tui::text::help(Step::Network);
    let overhead = rackstrap::plan::release::CALICO_VXLAN_OVERHEAD;
    assert!(
        network.contains(&format!("Calico runs {overhead} below it")),
        "{network}"
    );
    let provision = rackstrap::tui::text::help(Step::Provision);
    for limit in [
        rackstrap::provision::stall::STALL_SLOW,
        rackstrap::provision::stall::STALL_PACKAGES,
        rackstrap::provision::stall::STALL_DEFAULT,
        rackstrap::provision::stages::kubespray::KUBESPRAY_STALL,
    ] {
        let said = rackstrap::text::span(limit);
        assert!(provision.contains(&said), "{said}: {provision}");
    }
}
