//! The wizard's discovery against the real lab (sshd hosts on loopback with loop-device
//! disks): new host keys are shown, accepted and pinned, and the Storage screen shows each
//! host's own disks.

mod common;

use std::time::Duration;

use common::lab::{DiskSpec, HostSpec, LAB_PORT, Lab};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rackstrap::discover::HostState;
use rackstrap::tui::app::{Mode, Model, Msg, Step, empty_plan, update};
use rackstrap::tui::effects::{Backend, Executor};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

const GIB: u64 = 1 << 30;

fn key(m: &mut Model, exec: &mut Executor, code: KeyCode) {
    if let Some(e) = update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))) {
        exec.execute(e);
    }
}

/// Feeds messages to the model until discovery has finished.
fn pump(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
) {
    loop {
        let msg = rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(150), rx.recv()).await })
            .expect("discovery answers in time (gathering facts can take a minute in the lab)")
            .expect("channel open");
        let done = matches!(msg, Msg::DiscoveryDone | Msg::DiscoveryFailed(_));
        if let Some(e) = update(m, msg) {
            exec.execute(e);
        }
        if done {
            return;
        }
    }
}

#[test]
fn wizard_discovery_on_the_lab_shows_each_hosts_own_disks() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("alpha").disk(3 * GIB).disk(5 * GIB),
        HostSpec::new("beta").disk_spec(DiskSpec::formatted(7 * GIB, "xfs")),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (tx, mut rx) = unbounded_channel();
    let mut exec = Executor::new(
        Backend::Live {
            known_hosts: Some(dir.path().join("known_hosts")),
        },
        tx,
    );
    let mut plan = empty_plan("lab");
    plan.access.user = "root".into();
    plan.access.port = LAB_PORT;
    plan.access.identity = lab.key_path().display().to_string();
    let targets: Vec<String> = lab.hosts().iter().map(|h| h.address.clone()).collect();
    let mut m = Model::new(Mode::Live, plan, &targets.join(", "));
    m.theme.color = false;

    key(&mut m, &mut exec, KeyCode::Enter); // Access -> Discover
    assert_eq!(m.step, Step::Discover);
    key(&mut m, &mut exec, KeyCode::Enter); // scan
    pump(&rt, &mut m, &mut exec, &mut rx);
    assert_eq!(m.rows.len(), 2, "{:?}", m.rows);
    for r in &m.rows {
        assert_eq!(
            r.found.state,
            HostState::UnknownHostKey,
            "first contact asks: {:?}",
            r.found
        );
        assert!(
            r.found
                .fingerprint
                .as_deref()
                .is_some_and(|f| f.starts_with("SHA256:"))
        );
    }
    let screen = rackstrap::tui::render_to_string(&m, 120, 40);
    assert!(screen.contains("new key"), "{screen}");

    // Accept every fingerprint: the hosts are scanned again and pinned.
    key(&mut m, &mut exec, KeyCode::Char('a'));
    pump(&rt, &mut m, &mut exec, &mut rx);
    for r in &m.rows {
        assert_eq!(r.found.state, HostState::Ok, "{:?}", r.found);
        assert!(r.accepted && r.found.newly_pinned, "{:?}", r.found);
    }
    let pins = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    for t in &targets {
        assert!(pins.contains(t.as_str()), "{t} pinned: {pins}");
    }

    // The lab's CPUs may be below the worker minimum (an error on Hosts); the disks are what
    // this test is about, so go straight to Storage with the accepted hosts.
    m.sync_hosts();
    m.step = Step::Storage;
    assert_eq!(
        m.plan
            .hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>(),
        ["alpha", "beta"]
    );
    for (i, host) in lab.hosts().iter().enumerate() {
        assert_eq!(m.storage.host, i);
        let screen = rackstrap::tui::render_to_string(&m, 120, 40);
        assert!(screen.contains(&format!("▸{}", host.name)), "{screen}");
        for d in &host.disks {
            let size = rackstrap::tui::domain::human_bytes(d.size);
            let row = screen
                .lines()
                .find(|l| l.contains(&format!(" {} ", d.name)));
            let row = row.unwrap_or_else(|| panic!("{}: {} missing:\n{screen}", host.name, d.name));
            assert!(row.contains(&size), "{row}");
            if d.spec.fs.is_some() {
                assert!(
                    row.contains("xfs") && row.contains(" ✗ "),
                    "a formatted disk is refused: {row}"
                );
            } else {
                assert!(row.contains("[ ]"), "a blank disk can be chosen: {row}");
            }
        }
        for other in lab.hosts().iter().filter(|o| o.name != host.name) {
            for d in &other.disks {
                assert!(
                    !screen.contains(&format!(" {} ", d.name)),
                    "{}'s {} shown on {}:\n{screen}",
                    other.name,
                    d.name,
                    host.name
                );
            }
        }
        key(&mut m, &mut exec, KeyCode::Tab);
    }
}
