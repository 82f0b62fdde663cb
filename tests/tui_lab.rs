//! The wizard's discovery against the real lab (sshd hosts on loopback with loop-device
//! disks): new host keys are shown, accepted and pinned, and the Storage screen shows each
//! host's own disks.

mod common;

use std::path::Path;
use std::time::Duration;

use common::lab::{DiskSpec, HostSpec, LAB_PORT, Lab, Sudo, UserSpec};
use common::live::{apply_next, key, live_executor, pump_through, pump_until, type_text};
use crossterm::event::KeyCode;
use rackstrap::discover::HostState;
use rackstrap::plan::{Discard, Filesystem, Level, Plan, StorageLayout};
use rackstrap::tui::effects::{Executor, Limits};
use rackstrap::tui::model::{LogPane, Mode, Model, Msg, Step};
use rackstrap::tui::popups::Popup;
use tokio::sync::mpsc::UnboundedReceiver;

const GIB: u64 = 1 << 30;

fn discovery_ended(msg: &Msg) -> bool {
    matches!(msg, Msg::DiscoveryDone | Msg::DiscoveryFailed(_))
}

/// Feeds messages to the model until discovery has finished.
fn pump(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
) {
    pump_through(
        rt,
        m,
        exec,
        rx,
        Duration::from_secs(150),
        "discovery answers in time (gathering facts can take a minute in the lab)",
        discovery_ended,
    );
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
    let (mut exec, mut rx) = live_executor(dir.path().join("known_hosts"), Default::default());
    let mut plan = Plan::new("lab");
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

    // The disks are what this test is about, so go straight to Storage with the accepted
    // hosts.
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
            let size = rackstrap::facts::human_bytes(d.size);
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

/// A plan for the lab's hosts the run can take through storage: no kernel parameters (the lab
/// shares this machine's kernel) and no Kubespray tree, so the run stops at the Kubespray
/// stage with that reason.
fn storage_plan(lab: &Lab, dir: &Path) -> Plan {
    let mut plan = Plan::new("lab");
    plan.access.port = LAB_PORT;
    plan.access.identity = lab.key_path().display().to_string();
    plan.tuning.sysctl.clear();
    plan.cluster.kubespray.path = dir.join("no-kubespray").display().to_string();
    plan
}

/// From Access: scans the targets, accepts every new host key, and takes the found hosts
/// into the plan.
fn discover_and_accept(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
) {
    key(m, exec, KeyCode::Enter);
    key(m, exec, KeyCode::Enter);
    pump(rt, m, exec, rx);
    key(m, exec, KeyCode::Char('a'));
    pump(rt, m, exec, rx);
    m.sync_hosts();
}

/// One ext4 filesystem on the whole of `disk`, mounted at `/mnt/data`.
fn ext4_data(disk: &str) -> StorageLayout {
    StorageLayout {
        level: Level::Single,
        devices: vec![disk.to_string()],
        filesystem: Filesystem::Ext4,
        mount: "/mnt/data".into(),
        discard: Discard::Auto,
        relocate: vec![],
        wipe: false,
    }
}

/// Saves the plan as `dir/lab.yaml` from Review (a live run keeps its state and logs next to
/// the plan), then opens Provision with a following log pane for each of `hosts`; the steps
/// between are not what these tests are about.
fn save_and_open_provision(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
    dir: &Path,
    hosts: &[&str],
) {
    m.step = Step::Review;
    key(m, exec, KeyCode::Char('s'));
    for _ in 0..20 {
        key(m, exec, KeyCode::Backspace);
    }
    type_text(m, exec, &dir.join("lab.yaml").display().to_string());
    key(m, exec, KeyCode::Enter);
    apply_next(
        rt,
        m,
        exec,
        rx,
        Duration::from_secs(10),
        "the plan is saved in time",
        |_| true,
    );
    assert!(m.review.saved.is_some(), "{:?}", m.review.save_error);
    m.step = Step::Provision;
    m.provision.panes = hosts
        .iter()
        .map(|h| LogPane {
            host: h.to_string(),
            follow: true,
            ..Default::default()
        })
        .collect();
}

/// Feeds messages to the model until the run has ended.
fn pump_run(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
) {
    pump_through(
        rt,
        m,
        exec,
        rx,
        Duration::from_secs(300),
        "the run ends in time",
        |msg| matches!(msg, Msg::RunEnded),
    );
}

#[test]
fn wizard_provision_runs_the_real_stages_on_the_lab_with_live_panes() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("solo").disk(256 << 20)]);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (mut exec, mut rx) = live_executor(dir.path().join("known_hosts"), Default::default());
    let solo = &lab.hosts()[0];
    let mut m = Model::new(Mode::Live, storage_plan(&lab, dir.path()), &solo.address);
    m.theme.color = false;
    discover_and_accept(&rt, &mut m, &mut exec, &mut rx);
    let disk = solo.disks[0].name.clone();
    m.plan.hosts[0].storage.push(ext4_data(&disk));
    save_and_open_provision(&rt, &mut m, &mut exec, &mut rx, dir.path(), &["solo"]);
    // Formatting a disk needs the host's name typed.
    key(&mut m, &mut exec, KeyCode::Enter);
    assert!(!m.provision.running, "asks first");
    type_text(&mut m, &mut exec, "solo");
    key(&mut m, &mut exec, KeyCode::Enter);
    assert!(m.provision.running);
    pump_run(&rt, &mut m, &mut exec, &mut rx);

    use rackstrap::provision::{StageId, StepState};
    let p = &m.provision;
    for stage in [StageId::Preflight, StageId::HostPrep, StageId::Storage] {
        assert_eq!(
            p.state("solo", stage),
            StepState::Done,
            "{stage:?}: {:?}",
            p.messages
        );
    }
    let log: Vec<String> = p.panes[0]
        .lines
        .iter()
        .map(|l| rackstrap::provision::log::strip_ansi(l))
        .collect();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("mkfs.ext4 -L rackstrap /dev/{disk}"))),
        "the storage stage's commands stream into the host's pane: {log:#?}"
    );
    assert_eq!(
        p.state("solo", StageId::Kubespray),
        StepState::Failed,
        "{:?}",
        p.messages
    );
    let screen = rackstrap::tui::render_to_string(&m, 120, 40);
    assert!(screen.contains("Kubespray failed"), "{screen}");
    // The disk really carries the filesystem now (blkid reads the disk; lsblk asks udev).
    let fs = lab.exec_ok("solo", &format!("blkid -o value -s TYPE /dev/{disk}"));
    assert_eq!(fs.trim(), "ext4");
}

/// `pump`, answering each passphrase prompt with the next of `answers` typed into the popup
/// (Esc when none is left). Returns how many prompts were shown.
fn pump_answering(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
    answers: &mut std::collections::VecDeque<&str>,
) -> usize {
    let mut prompts = 0;
    loop {
        let done = apply_next(
            rt,
            m,
            exec,
            rx,
            Duration::from_secs(150),
            "discovery answers in time",
            discovery_ended,
        );
        if let Some(Popup::Passphrase { retry, .. }) = &m.popup {
            prompts += 1;
            assert_eq!(
                *retry,
                prompts > 1,
                "a second prompt says the first answer was wrong"
            );
            let screen = rackstrap::tui::render_to_string(m, 80, 24);
            assert!(screen.contains("Passphrase for"), "{screen}");
            match answers.pop_front() {
                Some(answer) => {
                    for c in answer.chars() {
                        key(m, exec, KeyCode::Char(c));
                    }
                    let screen = rackstrap::tui::render_to_string(m, 80, 24);
                    assert!(!screen.contains(answer), "masked: {screen}");
                    key(m, exec, KeyCode::Enter);
                }
                None => key(m, exec, KeyCode::Esc),
            }
        }
        if done {
            return prompts;
        }
    }
}

#[test]
fn wizard_asks_an_encrypted_keys_passphrase_and_a_sudo_password() {
    require_lab!();
    let lab =
        Lab::start(vec![HostSpec::new("gamma").user(
            UserSpec::new("dev", Sudo::WithPassword).password("s3cret-pw"),
        )]);
    let dir = tempfile::tempdir().unwrap();
    // Two encrypted ed25519 keys, both authorised for root on the host.
    let locked = |name: &str| {
        let key_file = dir.path().join(name);
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "secret", "-C", name, "-f"])
            .arg(&key_file)
            .status()
            .unwrap();
        assert!(st.success());
        let public = std::fs::read_to_string(key_file.with_extension("pub")).unwrap();
        let authorized = lab.host("gamma").dir.join("authorized_keys/root");
        lab.exec_ok(
            "gamma",
            &format!(
                "printf '%s\\n' {} >> {}",
                shlex::try_quote(public.trim()).unwrap(),
                shlex::try_quote(&authorized.display().to_string()).unwrap()
            ),
        );
        key_file
    };
    let (key_file, other_key) = (locked("id_locked"), locked("id_other"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let (mut exec, mut rx) = live_executor(dir.path().join("known_hosts"), Default::default());
    let address = lab.host("gamma").address.clone();
    let live_model = |user: &str, identity: &std::path::Path| {
        let mut plan = Plan::new("lab");
        plan.access.user = user.into();
        plan.access.port = LAB_PORT;
        plan.access.identity = identity.display().to_string();
        let mut m = Model::new(Mode::Live, plan, &address);
        m.theme.color = false;
        m
    };

    // First contact: the host key is checked before any key is loaded, so no prompt yet.
    let mut m = live_model("root", &key_file);
    key(&mut m, &mut exec, KeyCode::Enter);
    key(&mut m, &mut exec, KeyCode::Enter);
    let prompts = pump_answering(&rt, &mut m, &mut exec, &mut rx, &mut Default::default());
    assert_eq!(prompts, 0);
    assert_eq!(
        m.rows[0].found.state,
        HostState::UnknownHostKey,
        "{:?}",
        m.rows
    );

    // Accepting it logs in: a wrong passphrase, then the right one, and the host answers.
    let mut answers = ["wrong", "secret"].into();
    key(&mut m, &mut exec, KeyCode::Char('a'));
    let prompts = pump_answering(&rt, &mut m, &mut exec, &mut rx, &mut answers);
    assert_eq!(prompts, 2);
    assert_eq!(m.rows[0].found.state, HostState::Ok, "{:?}", m.rows);
    assert_eq!(
        m.rows[0].found.facts.as_ref().map(|f| f.hostname.as_str()),
        Some("gamma")
    );
    assert!(!format!("{m:?}").contains("secret"));
    // Scanning again needs no passphrase: the key stays loaded for this session.
    key(&mut m, &mut exec, KeyCode::Char('r'));
    let prompts = pump_answering(&rt, &mut m, &mut exec, &mut rx, &mut Default::default());
    assert_eq!(prompts, 0);
    assert_eq!(m.rows[0].found.state, HostState::Ok, "{:?}", m.rows);

    // Esc on the prompt: the host fails and says why.
    let mut m = live_model("root", &other_key);
    key(&mut m, &mut exec, KeyCode::Enter);
    key(&mut m, &mut exec, KeyCode::Enter);
    let prompts = pump_answering(&rt, &mut m, &mut exec, &mut rx, &mut Default::default());
    assert_eq!(prompts, 1);
    assert_eq!(m.rows[0].found.state, HostState::AuthFailed, "{:?}", m.rows);
    assert!(
        m.rows[0]
            .found
            .message
            .contains("passphrase prompt was cancelled"),
        "{:?}",
        m.rows[0].found
    );
    let screen = rackstrap::tui::render_to_string(&m, 120, 40);
    assert!(screen.contains("auth failed"), "{screen}");

    // A user whose sudo asks for a password: refused without it, discovered with it.
    let mut m = live_model("dev", lab.key_path());
    key(&mut m, &mut exec, KeyCode::Enter);
    key(&mut m, &mut exec, KeyCode::Enter);
    pump(&rt, &mut m, &mut exec, &mut rx);
    assert_eq!(
        m.rows[0].found.state,
        HostState::SudoNeedsPassword,
        "{:?}",
        m.rows
    );

    let mut m = live_model("dev", lab.key_path());
    for _ in 0..4 {
        key(&mut m, &mut exec, KeyCode::Down);
    }
    for c in "s3cret-pw".chars() {
        key(&mut m, &mut exec, KeyCode::Char(c));
    }
    key(&mut m, &mut exec, KeyCode::Enter);
    key(&mut m, &mut exec, KeyCode::Enter);
    pump(&rt, &mut m, &mut exec, &mut rx);
    assert_eq!(m.rows[0].found.state, HostState::Ok, "{:?}", m.rows);
    assert!(m.rows[0].found.facts.is_some());
    let saved = rackstrap::plan::to_yaml(&m.plan);
    assert!(!saved.contains("s3cret"), "{saved}");
}

/// A stalled command on the lab asks on Provision (the wizard given `--stall-after 2`):
/// `w` keeps waiting and the same command is asked about again, quieter for longer, while
/// the other host finishes its storage; `x` fails that host's step with the stalled message.
#[test]
fn wizard_asks_about_a_stalled_command_and_each_key_does_what_it_says() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("stuck").disk(64 << 20),
        HostSpec::new("fine").disk(64 << 20),
    ]);
    let dir = tempfile::tempdir().unwrap();
    lab.replace_tool(
        "stuck",
        "mkfs.ext4",
        "#!/bin/sh\nexec sleep 100000\n",
        dir.path(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let limits = Limits {
        stall_after: Some(Duration::from_secs(2)),
        facts_timeout: None,
    };
    let (mut exec, mut rx) = live_executor(dir.path().join("known_hosts"), limits);
    let targets: Vec<String> = lab.hosts().iter().map(|h| h.address.clone()).collect();
    let mut m = Model::new(
        Mode::Live,
        storage_plan(&lab, dir.path()),
        &targets.join(", "),
    );
    m.theme.color = false;
    discover_and_accept(&rt, &mut m, &mut exec, &mut rx);
    for host in m.plan.hosts.iter_mut() {
        host.storage
            .push(ext4_data(&lab.host(&host.name).disks[0].name));
    }
    save_and_open_provision(
        &rt,
        &mut m,
        &mut exec,
        &mut rx,
        dir.path(),
        &["stuck", "fine"],
    );
    key(&mut m, &mut exec, KeyCode::Enter);
    // Formatting needs each host's name typed.
    while let Some(Popup::Confirm { hosts, .. }) = &m.popup {
        let Some(name) = hosts.first().cloned() else {
            break;
        };
        type_text(&mut m, &mut exec, &name);
        key(&mut m, &mut exec, KeyCode::Enter);
    }
    assert!(m.provision.running);

    use rackstrap::provision::{StageId, StepState};
    let disk = &lab.host("stuck").disks[0].name;
    let asked = |m: &Model| !m.provision.stalls.is_empty();
    pump_until(&rt, &mut m, &mut exec, &mut rx, asked);
    let q = m.provision.stalls[0].clone();
    assert_eq!((q.host.as_str(), q.stage), ("stuck", StageId::Storage));
    assert_eq!(q.command, format!("mkfs.ext4 -L rackstrap /dev/{disk}"));
    let screen = rackstrap::tui::render_to_string(&m, 120, 40);
    assert!(
        screen.contains(&format!(
            "⚠ stuck · Storage · stalled, quiet for 2 s: `mkfs.ext4 -L rackstrap /dev/{disk}`"
        )),
        "{screen}"
    );
    assert!(
        screen.contains("w keep waiting (another 2 s)   x fail stuck"),
        "{screen}"
    );

    // w: it waits another 2 s, then asks again; the other host went on meanwhile.
    key(&mut m, &mut exec, KeyCode::Char('w'));
    assert!(m.provision.stalls.is_empty());
    pump_until(&rt, &mut m, &mut exec, &mut rx, asked);
    let again = &m.provision.stalls[0];
    assert_eq!(again.host, "stuck");
    assert!(again.quiet_secs >= 4, "{again:?}");
    assert_eq!(
        m.provision.state("stuck", StageId::Storage),
        StepState::Running
    );
    assert_eq!(
        m.provision.state("fine", StageId::Storage),
        StepState::Done,
        "{:?}",
        m.provision.messages
    );

    // x: the step fails with the stalled message; the run ends (Kubespray waits for it).
    key(&mut m, &mut exec, KeyCode::Char('x'));
    pump_run(&rt, &mut m, &mut exec, &mut rx);
    assert_eq!(
        m.provision.state("stuck", StageId::Storage),
        StepState::Failed
    );
    let message = &m.provision.messages[&("stuck".to_string(), StageId::Storage)];
    assert!(
        message.starts_with(&format!(
            "stalled: `mkfs.ext4 -L rackstrap /dev/{disk}` printed nothing and did not exit for"
        )),
        "{message}"
    );
}
