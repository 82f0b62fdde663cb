//! The whole journey driven by key messages, from Access to a saved plan: the plan the wizard
//! writes passes `rackstrap check` and is exactly the expected file.

mod wizard_support;

use std::process::Command;

use crossterm::event::KeyCode::*;
use rackstrap::tui::model::Step;
use wizard_support::Driver;

#[test]
fn keys_from_access_to_a_saved_plan_that_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("akash.yaml");
    let mut d = Driver::demo("akash");

    // Access: a user of our own; the cluster name stays "akash".
    d.keys(&[Down])
        .times(Backspace, 10)
        .chars("ubuntu")
        .key(Enter);
    assert_eq!(d.m.step, Step::Discover);
    // Discover: scan the lab's targets, accept every host that answered.
    d.key(Enter);
    assert_eq!(d.m.rows.len(), 6);
    d.key(Enter);
    assert_eq!(
        d.m.step,
        Step::Discover,
        "Next is blocked until a host is accepted"
    );
    d.key(Char('a')).key(Enter);
    // Hosts: all four.
    assert_eq!(d.m.step, Step::Hosts);
    d.key(Enter);
    // Roles: the Akash provider guide's layout, one control plane (node1, also etcd and worker).
    assert_eq!(d.m.step, Step::Roles);
    d.key(Enter);
    // Storage: node2's NVMe pair as RAID0 on /data with kubelet+containerd moved ("Kubernetes
    // Cluster for Akash Providers", STEP 7 - Provider Ephemeral Storage Config), applied to
    // node3 which has the same disks.
    assert_eq!(d.m.step, Step::Storage);
    d.key(Tab).keys(&[
        Down,
        Down,
        Down,
        Char(' '),
        Down,
        Char(' '),
        Char('a'),
        Char('A'),
    ]);
    // node4: only its clean NVMe (the other carries an old filesystem), single, xfs at
    // /scratch, no relocation.
    d.keys(&[Tab, Tab, Up, Up, Down, Down, Down, Char(' ')]);
    // One disk selected: `l` goes over the levels one disk allows (single, per-disk).
    d.key(Char('l')).key(Char('f')).key(Char('r'));
    d.key(Char('m'))
        .times(Backspace, 10)
        .chars("/scratch")
        .key(Enter)
        .key(Char('a'));
    d.key(Enter);
    // Network: the akash pool as seeded, plus the MTU raised to 9000.
    assert_eq!(d.m.step, Step::Network);
    d.times(Down, 7)
        .times(Backspace, 4)
        .chars("9000")
        .key(Enter);
    // Review: save.
    assert_eq!(d.m.step, Step::Review);
    d.key(Char('s'))
        .times(Backspace, 40)
        .chars(path.to_str().unwrap())
        .key(Enter);
    assert_eq!(
        d.m.review.saved.as_deref(),
        Some(path.as_path()),
        "{:?}",
        d.m.review.save_error
    );

    let saved = std::fs::read_to_string(&path).unwrap();
    if std::env::var_os("WRITE_EXPECTED").is_some() {
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/wizard-akash.yaml"
            ),
            &saved,
        )
        .unwrap();
    }
    let expected = include_str!("fixtures/wizard-akash.yaml");
    pretty_assertions::assert_eq!(saved, expected);

    let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rackstrap check: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Reopening the plan lands on Review with the same plan.
    let plan = rackstrap::plan::load(&path).unwrap();
    let m = rackstrap::tui::model::Model::reopen(
        rackstrap::tui::model::Mode::Live,
        plan.clone(),
        path.clone(),
    );
    assert_eq!(m.step, Step::Review);
    assert_eq!(m.plan, plan);

    // Going back to Hosts and forward again keeps every host, layout and role, although
    // the reopened hosts have not been scanned yet.
    let mut m = m;
    let press = |m: &mut rackstrap::tui::model::Model, code| {
        rackstrap::tui::update::update(
            m,
            rackstrap::tui::model::Msg::Key(crossterm::event::KeyEvent::from(code)),
        )
    };
    for _ in 0..4 {
        press(&mut m, Esc);
    }
    assert_eq!(m.step, Step::Hosts);
    let screen = rackstrap::tui::render_to_string(&m, 80, 24);
    assert!(
        screen.contains("node4") && screen.contains("no facts"),
        "{screen}"
    );
    for _ in 0..4 {
        press(&mut m, Enter);
    }
    assert_eq!(m.step, Step::Review, "{:?}", m.findings());
    assert_eq!(m.plan, plan);
}

/// A plan reopened at Review asks Kubespray's tree what it says; a tree of another release
/// is an error among Review's findings, and Provision stays closed.
#[test]
fn review_shows_what_the_kubespray_tree_says() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("kubespray");
    std::fs::create_dir_all(tree.join("inventory/sample")).unwrap();
    std::fs::write(tree.join("cluster.yml"), "---\n").unwrap();
    std::fs::write(tree.join("galaxy.yml"), "version: 2.30.0\n").unwrap();
    let mut plan = rackstrap::plan::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/akash.yaml"),
    )
    .unwrap();
    plan.cluster.kubespray.path = tree.display().to_string();
    let mut m = rackstrap::tui::model::Model::reopen(
        rackstrap::tui::model::Mode::Live,
        plan,
        dir.path().join("akash.yaml"),
    );
    let Some(rackstrap::tui::effects::Effect::CheckKubespray { plan }) =
        rackstrap::tui::update::on_start(&mut m)
    else {
        panic!("no Kubespray check on opening at Review");
    };
    let own = rackstrap::plan::check(&plan, None);
    let findings = rackstrap::kubespray::tree_findings(&plan, &own);
    rackstrap::tui::update::update(
        &mut m,
        rackstrap::tui::model::Msg::KubesprayChecked(findings),
    );
    let shown = m.findings();
    assert!(
        shown
            .iter()
            .any(|f| f.code == "E_KUBESPRAY_TREE_VERSION" && f.message.contains("is v2.30.0")),
        "{shown:#?}"
    );
    rackstrap::tui::update::update(
        &mut m,
        rackstrap::tui::model::Msg::Key(crossterm::event::KeyEvent::from(Enter)),
    );
    assert_eq!(m.step, Step::Review);
}
