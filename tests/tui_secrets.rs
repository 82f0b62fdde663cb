//! Secrets in the wizard: an encrypted key's passphrase asked in a masked popup and sent
//! back to the waiting SSH task; the sudo password typed on Access reaches the SSH options
//! and never the plan, the saved file or the model's debug output.

mod wizard_support;

use std::path::PathBuf;

use crossterm::event::KeyCode::*;
use rackstrap::plan::Access;
use rackstrap::tui::effects::{Credentials, Effect, discover_options};
use rackstrap::tui::model::{Msg, Step};
use rackstrap::tui::popups::Popup;
use rackstrap::tui::secret::{Reply, Secret};
use rackstrap::tui::update::update;
use wizard_support::Driver;

const KEY: &str = "/home/op/.ssh/id_ed25519";

fn ask(d: &mut Driver) -> tokio::sync::oneshot::Receiver<Option<String>> {
    let (reply, rx) = Reply::new();
    d.send(Msg::PassphraseNeeded {
        key: PathBuf::from(KEY),
        reply,
    });
    rx
}

#[test]
fn the_passphrase_popup_masks_and_answers_the_waiting_task() {
    let mut d = Driver::demo("akash");
    d.key(Enter);
    assert_eq!(d.m.step, Step::Discover);

    let mut rx = ask(&mut d);
    d.chars("secret");
    for (w, h) in [(80, 24), (120, 40)] {
        let screen = d.screen(w, h);
        assert!(
            screen.contains(&format!("Passphrase for {KEY}")),
            "{screen}"
        );
        assert!(screen.contains("> ••••••"), "{screen}");
        assert!(!screen.contains("secret"), "typed characters are masked");
        insta::assert_snapshot!(format!("passphrase_popup_{w}x{h}"), screen);
    }
    assert!(!format!("{:?}", d.m).contains("secret"));
    // Typing went into the popup, not into the targets field behind it.
    assert!(!d.m.discover.targets.value().contains("secret"));

    d.key(Enter);
    assert!(d.m.popup.is_none(), "the popup closes on Enter");
    assert_eq!(rx.try_recv().unwrap().as_deref(), Some("secret"));
    assert!(
        !format!("{:?}", d.m).contains("secret"),
        "the passphrase does not stay in the model"
    );

    // Asked again for the same key: the last answer was wrong, and the popup says so.
    let mut rx = ask(&mut d);
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("that passphrase did not open the key; try again"),
        "{screen}"
    );
    // Esc cancels: the task gets no passphrase (its hosts fail with the SSH layer's message).
    d.key(Esc);
    assert!(d.m.popup.is_none());
    assert_eq!(d.m.step, Step::Discover, "Esc closes the popup only");
    assert_eq!(rx.try_recv().unwrap(), None);
}

#[test]
fn the_popup_that_was_open_comes_back_after_the_answer() {
    let mut d = Driver::demo("akash");
    // Scanned: the table has focus, so q asks to quit.
    d.key(Enter).key(Enter);
    d.key(Char('q'));
    assert!(matches!(d.m.popup, Some(Popup::Quit)));
    let mut rx = ask(&mut d);
    assert!(matches!(d.m.popup, Some(Popup::Passphrase { .. })));
    d.chars("pw").key(Enter);
    assert_eq!(rx.try_recv().unwrap().as_deref(), Some("pw"));
    assert!(matches!(d.m.popup, Some(Popup::Quit)), "{:?}", d.m.popup);
    assert!(!d.m.quit);
}

#[test]
fn a_second_request_replaces_an_open_prompt_and_cancels_it() {
    let mut d = Driver::demo("akash");
    let mut first = ask(&mut d);
    let _second = ask(&mut d);
    assert!(matches!(d.m.popup, Some(Popup::Passphrase { .. })));
    assert!(
        matches!(
            first.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed)
        ),
        "the first prompt's task sees a cancelled prompt"
    );
}

#[test]
fn the_sudo_password_goes_to_ssh_and_never_into_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    let mut d = Driver::demo("akash");
    // Access: the user "ops" and a sudo password.
    d.key(Down).times(Backspace, 10).chars("ops");
    d.times(Down, 3).chars("s3cret-pw");
    let screen = d.screen(80, 24);
    assert!(screen.contains("Sudo password"), "{screen}");
    assert!(screen.contains("•••••••••"), "{screen}");
    assert!(!screen.contains("s3cret-pw"), "{screen}");
    assert!(!format!("{:?}", d.m).contains("s3cret-pw"));
    d.key(Enter);
    assert_eq!(d.m.step, Step::Discover);

    // The scan carries it to the SSH options.
    let effect = update(&mut d.m, Msg::Key(Enter.into())).expect("a scan");
    let Effect::Discover {
        access,
        sudo_password,
        ..
    } = effect
    else {
        panic!("expected a scan, got {effect:?}");
    };
    assert_eq!(sudo_password, Some(Secret("s3cret-pw".into())));
    assert!(!format!("{sudo_password:?}").contains("s3cret-pw"));
    let opts = discover_options(
        &access,
        Credentials {
            sudo_password,
            passphrase: None,
        },
        vec![],
        None,
    );
    assert_eq!(opts.user, "ops");
    assert_eq!(opts.sudo_password.as_deref(), Some("s3cret-pw"));
    assert_eq!(
        access,
        Access {
            user: "ops".into(),
            ..d.m.plan.access.clone()
        }
    );

    // Neither the plan's YAML nor the saved file has it.
    assert!(!rackstrap::plan::to_yaml(&d.m.plan).contains("s3cret"));
    d.send(Msg::DiscoveryDone);
    rackstrap::tui::effects::save_plan(&path, &d.m.plan).unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(saved.contains("user: ops"), "{saved}");
    assert!(!saved.contains("s3cret"), "{saved}");
    assert!(!saved.to_lowercase().contains("password"), "{saved}");
}
