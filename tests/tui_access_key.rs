//! Access checks the key file where it is typed: a missing file is an error on the spot, an
//! encrypted key asks for its passphrase right there (and stays unlocked for the session),
//! and the ssh-agent's identities are offered when the cursor reaches the field.

mod common;

use common::live::{key, live_executor, pump_until};
use crossterm::event::KeyCode;
use rackstrap::plan::Plan;
use rackstrap::ssh::auth::KeyCheck;
use rackstrap::tui::model::{Mode, Model};
use rackstrap::tui::popups::Popup;

#[test]
fn the_key_file_is_checked_where_it_is_typed() {
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("id_locked");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret", "-f"])
        .arg(&locked)
        .status()
        .unwrap();
    assert!(st.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (mut exec, mut rx) = live_executor(dir.path().join("known_hosts"), Default::default());
    let mut plan = Plan::new("lab");
    plan.access.identity = dir.path().join("missing").display().to_string();
    let mut m = Model::new(Mode::Live, plan, "");
    m.theme.color = false;

    // Down to the key field: the agent is asked; down again: the file is checked.
    for _ in 0..3 {
        key(&mut m, &mut exec, KeyCode::Down);
    }
    pump_until(&rt, &mut m, &mut exec, &mut rx, |m| {
        m.access.agent.is_some()
    });
    key(&mut m, &mut exec, KeyCode::Down);
    pump_until(&rt, &mut m, &mut exec, &mut rx, |m| {
        m.access.key_check.is_some()
    });
    assert_eq!(
        m.access.key_check.as_ref().map(|(_, c)| c),
        Some(&KeyCheck::Missing)
    );
    let screen = rackstrap::tui::render_to_string(&m, 100, 30);
    assert!(screen.contains("✗ no such file"), "{screen}");
    assert!(m.has_errors(), "a missing key blocks Next");
    key(&mut m, &mut exec, KeyCode::Enter);
    assert_eq!(m.step, rackstrap::tui::model::Step::Access);

    // The encrypted key: typed, then leaving the field asks for its passphrase at once.
    key(&mut m, &mut exec, KeyCode::Up);
    for _ in 0..200 {
        key(&mut m, &mut exec, KeyCode::Backspace);
    }
    for c in locked.display().to_string().chars() {
        key(&mut m, &mut exec, KeyCode::Char(c));
    }
    key(&mut m, &mut exec, KeyCode::Down);
    pump_until(&rt, &mut m, &mut exec, &mut rx, |m| {
        matches!(m.popup, Some(Popup::Passphrase { .. }))
    });
    assert!(matches!(
        m.access.key_check.as_ref().map(|(_, c)| c),
        Some(KeyCheck::Encrypted)
    ));
    for c in "secret".chars() {
        key(&mut m, &mut exec, KeyCode::Char(c));
    }
    key(&mut m, &mut exec, KeyCode::Enter);
    pump_until(&rt, &mut m, &mut exec, &mut rx, |m| {
        matches!(
            m.access.key_check.as_ref().map(|(_, c)| c),
            Some(KeyCheck::Ready { .. })
        )
    });
    let screen = rackstrap::tui::render_to_string(&m, 100, 30);
    assert!(
        screen.contains("✓ ssh-ed25519 (unlocked) key SHA256:"),
        "{screen}"
    );
    assert!(!m.has_errors(), "{:?}", m.findings());
    assert!(!format!("{m:?}").contains("secret\""));
}
