use super::*;
use crate::tui::model::{Mode, Msg, Step};
use crate::tui::update::update;
use crossterm::event::KeyModifiers;

fn key(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn at_review() -> Model {
    let mut plan: crate::plan::Plan =
        serde_yaml::from_str(include_str!("../../../assets/examples/homelab.yaml")).expect("plan");
    plan.cluster.name = "c".into();
    plan.cluster.kubespray.path = "/nonexistent/ks".into();
    plan.cluster.kubespray.version = "v2.31.0".into();
    Model::reopen(Mode::Live, plan, "/nonexistent/c.yaml".into())
}

#[test]
fn enter_on_review_offers_then_y_runs_the_core_prepare() {
    let mut m = at_review();
    assert_eq!(update(&mut m, Msg::KubesprayNeed(Some(Need::Clone))), None);
    assert_eq!(update(&mut m, key(KeyCode::Enter)), None);
    assert!(matches!(m.popup, Some(Popup::Prepare)));
    assert_eq!(m.step, Step::Review, "the offer comes before Provision");
    let Some(Effect::PrepareKubespray {
        url, python, log, ..
    }) = update(&mut m, key(KeyCode::Char('y')))
    else {
        panic!("y starts prepare");
    };
    assert_eq!(url, prepare::UPSTREAM);
    assert_eq!(python, "python3");
    assert_eq!(
        log.as_deref(),
        Some(std::path::Path::new(
            "/nonexistent/.rackstrap/c/kubespray-prepare.log"
        ))
    );
    assert!(m.prepare.running);
    // Keys do not close it while it runs.
    assert_eq!(update(&mut m, key(KeyCode::Esc)), None);
    assert!(matches!(m.popup, Some(Popup::Prepare)));
    for e in [
        PrepareEvent::Step("git clone".into()),
        PrepareEvent::Log("==> git clone".into()),
    ] {
        assert_eq!(update(&mut m, Msg::Preparing(e)), None);
    }
    assert_eq!(m.prepare.step.as_deref(), Some("git clone"));
    assert_eq!(m.prepare.pane.lines.len(), 1);
    // Success re-checks the tree so Review's findings are the tree's as it is now.
    let again = update(
        &mut m,
        Msg::Preparing(PrepareEvent::Ended(Ok("ready".into()))),
    );
    assert!(matches!(again, Some(Effect::CheckKubespray { .. })));
    assert_eq!(m.prepare.need, None);
    assert!(!m.prepare.running);
    update(&mut m, key(KeyCode::Enter));
    assert!(m.popup.is_none());
    assert_eq!(m.status.as_deref(), Some(crate::tui::text::PREPARED));
}

#[test]
fn a_failure_is_shown_and_the_offer_comes_back() {
    let mut m = at_review();
    update(&mut m, Msg::KubesprayNeed(Some(Need::Virtualenv)));
    update(&mut m, key(KeyCode::Enter));
    update(&mut m, key(KeyCode::Char('y')));
    let none = update(
        &mut m,
        Msg::Preparing(PrepareEvent::Ended(Err("pip failed".into()))),
    );
    assert_eq!(none, None, "nothing changed: no re-check");
    assert_eq!(m.prepare.need, Some(Need::Virtualenv));
    let screen = crate::tui::render_to_string(&m, 80, 24);
    assert!(screen.contains("pip failed"), "{screen}");
    update(&mut m, key(KeyCode::Esc));
    assert!(m.popup.is_none());
    update(&mut m, key(KeyCode::Enter));
    assert!(
        matches!(m.popup, Some(Popup::Prepare)),
        "Enter offers again"
    );
}

#[test]
fn n_goes_on_without_and_esc_stays() {
    let mut m = at_review();
    update(&mut m, Msg::KubesprayNeed(Some(Need::Clone)));
    update(&mut m, key(KeyCode::Enter));
    assert_eq!(update(&mut m, key(KeyCode::Esc)), None);
    assert!(m.popup.is_none());
    assert_eq!(m.step, Step::Review);
    update(&mut m, key(KeyCode::Enter));
    update(&mut m, key(KeyCode::Char('n')));
    assert!(m.prepare.declined);
    assert_eq!(m.step, Step::Provision, "n goes on as Enter would");
}

#[test]
fn the_demo_never_offers() {
    let mut m = at_review();
    m.mode = Mode::Demo {
        lab: "akash".into(),
        title: "t".into(),
    };
    update(&mut m, Msg::KubesprayNeed(Some(Need::Clone)));
    assert!(!offer(&mut m));
}
