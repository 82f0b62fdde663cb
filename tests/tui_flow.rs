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
    d.akash_storage();
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
    // Network: the akash pool as seeded, plus the MTU lowered to 1450 (a 9000 MTU on the lab's 1500 links is an error).
    assert_eq!(d.m.step, Step::Network);
    d.times(Down, 7)
        .times(Backspace, 4)
        .chars("1450")
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

/// Walks the akash demo to Provision (node2's NVMe pair as RAID0, applied to node3).
fn demo_at_provision() -> Driver {
    let mut d = Driver::demo("akash");
    d.walk_to_hosts();
    while d.m.step < Step::Provision {
        if d.m.step == Step::Storage && d.m.plan.hosts.iter().all(|h| h.storage.is_empty()) {
            d.akash_storage();
        }
        let before = d.m.step;
        d.key(Enter);
        if d.m.step == before {
            d.key(Char('s')).key(Enter);
            d.key(Enter);
        }
        assert!(
            d.m.step > before,
            "stuck on {before:?}: {}",
            d.screen(100, 30)
        );
    }
    d
}

#[test]
fn provision_runs_only_the_stages_and_hosts_left_in() {
    use rackstrap::provision::{StageId, StepState};
    let mut d = demo_at_provision();
    // Storage only, on node2 (a reinstalled node): leave out every other stage and host.
    d.keys(&[
        Char('1'),
        Char('2'),
        Char('4'),
        Char('5'),
        Char('6'),
        Char(' '),
        Down,
        Down,
        Char(' '),
        Down,
        Char(' '),
    ]);
    let screen = d.screen(100, 30);
    assert!(
        screen.contains("Enter starts 1 stage on 1 host")
            && screen.contains("4 Kubespray (left out)"),
        "{screen}"
    );
    d.start_run();
    assert!(
        d.m.popup.is_none(),
        "only node2 is asked for: {:?}",
        d.m.popup
    );
    d.play_runs();
    let p = &d.m.provision;
    assert_eq!(p.state("node2", StageId::Storage), StepState::Done, "{p:?}");
    for (host, stage) in [
        ("node2", StageId::Preflight),
        ("node2", StageId::Kubespray),
        ("node3", StageId::Storage),
        ("node1", StageId::Preflight),
    ] {
        assert_eq!(p.state(host, stage), StepState::Skipped, "{host} {stage}");
    }
    // Nothing at all chosen: Enter says so instead of starting.
    let mut d = demo_at_provision();
    d.key(Char('3'));
    d.keys(&[Char('1'), Char('2'), Char('4'), Char('5'), Char('6')]);
    d.key(Enter);
    assert!(!d.m.provision.started);
    assert!(
        d.m.status
            .as_deref()
            .is_some_and(|s| s.starts_with("nothing chosen to run")),
        "{:?}",
        d.m.status
    );
}

#[test]
fn a_stage_that_cannot_run_here_is_said_on_review_and_stops_the_start_until_left_out() {
    use rackstrap::provision::readiness::Blocker;
    use rackstrap::provision::{Selection, StageId};
    let mut d = demo_at_provision();
    let missing = vec![Blocker {
        stage: StageId::Kubespray,
        problem: "/nowhere is not a Kubespray tree".into(),
        fix: "clone Kubespray there".into(),
    }];
    d.m.review.machine = missing.clone();
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("✗ Kubespray cannot run on this machine: /nowhere is not a Kubespray tree")
            && screen.contains("what to do: clone Kubespray there"),
        "{screen}"
    );
    d.key(Esc);
    assert_eq!(d.m.step, Step::Review);
    let screen = d.screen(120, 40);
    assert!(screen.contains("W_CANNOT_RUN_HERE"), "{screen}");
    d.key(Enter);
    d.key(Enter);
    assert!(!d.m.provision.started, "refused before anything runs");
    assert!(
        d.m.status
            .as_deref()
            .is_some_and(|s| s.contains("leave the stage out")),
        "{:?}",
        d.m.status
    );
    // The refusal looked at the machine again (the test driver's machine has everything, as
    // after a fix): the next Enter would start.
    assert!(d.m.review.machine.is_empty(), "checked again");
    // Still missing: leaving Kubespray (and what needs the cluster) out, the rest runs.
    d.m.review.machine = missing;
    d.key(Enter);
    assert!(!d.m.provision.started);
    d.keys(&[Char('4'), Char('5'), Char('6')]);
    let mut expect = Selection::all(&d.m.plan);
    for s in [StageId::Kubespray, StageId::Verify, StageId::LoadBalancer] {
        expect.toggle_stage(s);
    }
    assert_eq!(d.m.run_selection(), expect);
    d.start_run();
    assert!(d.m.provision.started);
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
