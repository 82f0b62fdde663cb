//! A wizard an operator can trust: nothing is lost or claimed silently. Each test walks the
//! demo labs with keys, as the event loop would, and would fail on the behaviour it replaces.

mod wizard_support;

use crossterm::event::KeyCode::*;
use rackstrap::provision::{StageId, StepState};
use rackstrap::tui::model::Step;
use rackstrap::tui::popups::Popup;
use rackstrap::tui::summary::{self, Outcome};
use wizard_support::Driver;

fn snap(name: &str, d: &Driver) {
    insta::assert_snapshot!(format!("{name}_80x24"), d.screen(80, 24));
}

/// Enter through every step up to `step` with what the lab suggests.
fn walk(lab: &str, step: Step) -> Driver {
    let mut d = Driver::demo(lab);
    d.walk_to_hosts().enter_until(step, |_| {});
    d
}

#[test]
fn a_skipped_failure_is_asked_for_shown_apart_and_reported_as_not_complete() {
    let mut d = walk("ais", Step::Provision);
    d.start_run();
    d.play_runs();
    assert_eq!(
        d.m.provision.state("cpu03", StageId::Kubespray),
        StepState::Failed
    );
    // `s` asks first; `n` keeps the failure as it is.
    d.key(Char('s'));
    assert!(
        matches!(&d.m.popup, Some(Popup::Confirm { what, .. }) if what.contains("cpu03")),
        "{:?}",
        d.m.popup
    );
    d.key(Char('n'));
    assert!(d.pending_runs.is_empty(), "n must not skip");
    assert_eq!(
        d.m.provision.state("cpu03", StageId::Kubespray),
        StepState::Failed
    );
    d.key(Char('s')).key(Char('y'));
    d.play_runs();
    // Its own glyph: not "–", which says a stage had nothing to do.
    let screen = d.screen(80, 24);
    let row = screen
        .lines()
        .find(|l| l.contains("cpu03"))
        .unwrap_or_default()
        .to_string();
    assert!(row.contains("↷"), "{screen}");
    d.key(Enter);
    assert_eq!(d.m.step, Step::Done);
    let screen = d.screen(80, 24);
    assert!(!screen.contains("is up"), "{screen}");
    assert!(screen.contains("Cluster ais is not complete"), "{screen}");
    assert!(
        screen.contains("! cpu03: Kubespray skipped after it failed: ansible: cpu03 failed=1"),
        "{screen}"
    );
    snap("done_with_a_skipped_stage", &d);
    assert_eq!(summary::outcome(&d.m), Outcome::Incomplete);
    assert_eq!(summary::outcome(&d.m).exit_code(), 1);
    let text = summary::summary(&d.m);
    assert!(
        text.contains("cpu03: Kubespray skipped after it failed"),
        "{text}"
    );
    assert!(
        text.contains("inventory/ais/artifacts/admin.conf"),
        "{text}"
    );
    assert!(text.contains("plan not saved"), "{text}");
}

#[test]
fn a_run_where_everything_finished_exits_zero_and_one_never_started_too() {
    let mut d = walk("akash", Step::Provision);
    assert_eq!(summary::outcome(&d.m), Outcome::NotRun);
    assert_eq!(summary::outcome(&d.m).exit_code(), 0);
    d.start_run();
    d.play_runs();
    d.key(Char('r'));
    d.play_runs();
    d.key(Enter);
    assert_eq!(d.m.step, Step::Done);
    assert_eq!(summary::outcome(&d.m), Outcome::Complete);
    assert!(d.screen(80, 24).contains("Cluster akash is up."));
    assert!(summary::summary(&d.m).starts_with("Cluster akash is up.\n  ran: Preflight"));
}

#[test]
fn quitting_while_stages_run_warns_and_counts_them_as_not_finished() {
    let mut d = walk("akash", Step::Provision);
    d.start_run();
    d.play_runs_limited(5);
    assert!(d.m.provision.running);
    d.key(Char('q'));
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("Stages are running: quitting aborts them"),
        "{screen}"
    );
    d.key(Char('y'));
    assert!(d.m.quit);
    assert_eq!(summary::outcome(&d.m), Outcome::Incomplete);
    let text = summary::summary(&d.m);
    assert!(text.contains("run aborted"), "{text}");
}

/// Starts the scan the way the event loop does, but lets the test deliver the answers.
fn start_scan(d: &mut Driver) -> Vec<rackstrap::discover::Discovered> {
    use crossterm::event::{KeyEvent, KeyModifiers};
    let targets = d.m.discover.targets.value().to_string();
    let effect = rackstrap::tui::update::update(
        &mut d.m,
        rackstrap::tui::model::Msg::Key(KeyEvent::new(Enter, KeyModifiers::NONE)),
    );
    assert!(matches!(
        effect,
        Some(rackstrap::tui::effects::Effect::Discover { .. })
    ));
    d.lab
        .answers(&targets, &[], &mut d.pinned.lock().unwrap())
        .into_iter()
        .map(|(_, found)| found)
        .collect()
}

#[test]
fn keys_during_a_scan_go_to_the_table_and_late_hosts_get_their_roles() {
    use rackstrap::tui::model::Msg;
    let mut d = Driver::demo("homelab");
    d.key(Enter);
    let targets = d.m.discover.targets.value().to_string();
    let answers = start_scan(&mut d);
    assert!(
        d.m.discover.table_focus,
        "focus moves to the table when a scan starts"
    );
    let (early, late) = answers.split_at(2);
    for found in early {
        d.send(Msg::Discovered(found.clone()));
    }
    // `a` at once: it accepts, it is not typed into the targets.
    d.key(Char('a'));
    assert_eq!(d.m.discover.targets.value(), targets);
    // Next waits for the hosts still answering, and says so.
    d.key(Enter);
    assert_eq!(d.m.step, Step::Discover);
    let screen = d.screen(80, 24);
    assert!(screen.contains("the scan is still running"), "{screen}");
    for found in late {
        d.send(Msg::Discovered(found.clone()));
    }
    d.send(Msg::DiscoveryDone);
    assert!(d.pending_runs.is_empty());
    d.key(Enter).key(Enter);
    assert_eq!(d.m.step, Step::Roles, "{:?}", d.m.findings());
    assert_eq!(d.m.plan.hosts.len(), 4, "{:?}", d.m.plan.hosts);
    for h in &d.m.plan.hosts {
        assert!(!h.roles.is_empty(), "{} lost its roles", h.name);
    }
    let screen = d.screen(80, 24);
    assert!(!screen.contains("has no roles"), "{screen}");
}

#[test]
fn a_host_that_arrives_after_the_plan_was_made_is_a_worker() {
    let mut d = Driver::demo("homelab");
    d.walk_to_hosts();
    let late =
        d.m.rows
            .iter()
            .position(|r| r.found.address.ends_with(".14"));
    // Leave the last host out of the first plan as if it had not answered yet.
    let row = d.m.rows.remove(late.unwrap());
    d.m.sync_hosts();
    assert_eq!(d.m.plan.hosts.len(), 3);
    d.m.rows.push(row);
    d.m.sync_hosts();
    let tower = d.m.plan.hosts.iter().find(|h| h.address.ends_with(".14"));
    assert_eq!(
        tower.map(|h| h.roles.clone()),
        Some(vec![rackstrap::plan::Role::Worker])
    );
}

#[test]
fn a_host_left_out_and_taken_back_gets_its_roles_back() {
    let mut d = Driver::demo("homelab");
    d.walk_to_hosts();
    let before = d.m.plan.hosts[1].clone();
    assert!(!before.roles.is_empty());
    d.keys(&[Down, Char(' ')]);
    assert_eq!(d.m.plan.hosts.len(), 3);
    d.key(Char(' '));
    let after = d.m.plan.hosts.iter().find(|h| h.address == before.address);
    assert_eq!(after, Some(&before));
}

/// `rackstrap --plan FILE`: the wizard as it opens a saved plan.
fn reopened() -> Driver {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wizard-akash.yaml");
    let plan = rackstrap::plan::load(&path).unwrap();
    let mut d = Driver::demo("akash");
    d.m = rackstrap::tui::model::Model::reopen(d.m.mode.clone(), plan, path);
    d.m.theme.color = false;
    d
}

#[test]
fn a_reopened_plan_shows_its_layouts_and_its_hosts_as_not_contacted() {
    let mut d = reopened();
    assert!(
        summary::plan_line(&d.m).starts_with("plan unchanged: "),
        "{}",
        summary::plan_line(&d.m)
    );
    // Storage lists node2's layout although its disks are not known yet.
    d.key(Esc).key(Esc);
    assert_eq!(d.m.step, Step::Storage);
    d.key(Tab);
    let screen = d.screen(80, 24);
    assert!(!screen.contains("none yet"), "{screen}");
    assert!(
        screen.contains("raid0 ext4 /data size ? nvme0n1,"),
        "{screen}"
    );
    snap("storage_reopened", &d);
    // x says what it removed.
    d.key(Char('x'));
    assert!(
        d.screen(80, 24)
            .contains("layout taken back: raid0 at /data")
    );
    assert!(
        summary::plan_line(&d.m).contains("changes made since it was last saved are not in it"),
        "{}",
        summary::plan_line(&d.m)
    );
    // Discover: the plan's hosts have not been contacted.
    d.key(Esc).key(Esc).key(Esc);
    assert_eq!(d.m.step, Step::Discover);
    let screen = d.screen(80, 24);
    assert!(!screen.contains(" ok "), "{screen}");
    assert!(screen.contains("not scanned"), "{screen}");
    assert!(screen.contains("not contacted yet"), "{screen}");
    snap("discover_reopened", &d);
}

#[test]
fn access_says_what_is_wrong_with_the_name_and_user_as_they_are_typed() {
    let mut d = Driver::demo("homelab");
    d.chars(" x/y");
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("cluster name `homelab x/y` cannot be an inventory directory name"),
        "{screen}"
    );
    d.times(Backspace, 4).key(Down).chars(" x");
    let screen = d.screen(80, 24);
    assert!(screen.contains("is not a login name"), "{screen}");
    assert!(!screen.contains("no findings"), "{screen}");
    snap("access_bad_user", &d);
    d.key(Enter);
    assert_eq!(d.m.step, Step::Access, "errors block Next");
}

#[test]
fn a_wrong_host_name_in_format_disks_is_said_in_the_popup() {
    let mut d = walk("akash", Step::Storage);
    d.key(Tab)
        .keys(&[Down, Down, Down, Char(' '), Down, Char(' '), Char('a')]);
    while d.m.step < Step::Provision {
        d.key(Enter);
    }
    d.key(Enter);
    d.chars("node3").key(Enter);
    assert!(!d.m.provision.started);
    let screen = d.screen(80, 24);
    assert!(screen.contains("`node3` is not node2"), "{screen}");
}

#[test]
fn smaller_things() {
    use crossterm::event::{KeyEvent, KeyModifiers};
    use rackstrap::tui::model::Msg;
    // MTU `abc`: no stale calico_mtu beside it.
    let mut d = walk("akash", Step::Network);
    d.times(Down, 7).times(Backspace, 6).chars("abc");
    let screen = d.screen(80, 24);
    assert!(!screen.contains("calico_mtu"), "{screen}");
    // Ctrl+C in the mount popup asks to quit.
    let mut d = walk("akash", Step::Storage);
    d.key(Char('m'));
    assert!(matches!(d.m.popup, Some(Popup::Mount(_))));
    d.send(Msg::Key(KeyEvent::new(Char('c'), KeyModifiers::CONTROL)));
    assert!(matches!(d.m.popup, Some(Popup::Quit)), "{:?}", d.m.popup);
    // `q` on the too-small screen asks where it can be seen.
    d.key(Char('n'));
    d.key(Char('q'));
    let screen = d.screen(60, 20);
    assert!(screen.contains("Quit rackstrap? y quits"), "{screen}");
    d.key(Char('y'));
    assert!(d.m.quit);
    // `~/` in the save dialog is the home directory, as in the key field.
    let home = tempfile::tempdir().unwrap();
    // SAFETY: set before the save, read by it; no other thread of this test reads HOME.
    unsafe { std::env::set_var("HOME", home.path()) };
    let mut d = walk("akash", Step::Review);
    d.key(Char('s'))
        .times(Backspace, 60)
        .chars("~/x.yaml")
        .key(Enter);
    assert_eq!(d.m.review.save_error, None);
    assert!(home.path().join("x.yaml").exists());
}

#[test]
fn a_cut_error_can_be_read_whole_and_enter_on_review_goes_where_it_is_fixed() {
    let mut d = walk("akash", Step::Network);
    // The pool field: a range that starts after it ends.
    d.key(Down)
        .times(Backspace, 80)
        .chars("192.168.1.20-192.168.1.10");
    let strip = d.screen(80, 24);
    let full_message =
        d.m.findings()
            .into_iter()
            .find(|f| f.message.contains("starts after it ends"))
            .map(|f| f.message)
            .unwrap_or_default();
    assert!(!full_message.is_empty(), "{strip}");
    // Under the focused field the error wraps rather than stopping where the fix is said.
    assert!(strip.contains("(192.168.1.20 > 192.168.1.10)"), "{strip}");
    d.key(F(2));
    let screen = d.screen(80, 24);
    // The popup wraps; its text, joined, holds the whole message.
    let joined: String = screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '│' || c == ' ').to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        joined.contains(
            &full_message
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        ),
        "{screen}\n{full_message}"
    );
    snap("findings_popup", &d);
    d.key(Esc);
    assert!(d.m.popup.is_none());

    let mut d = walk("akash", Step::Review);
    d.m.plan.cluster.name = "sample".into();
    d.m.access.cluster = rackstrap::tui::model::Model::new(d.m.mode.clone(), d.m.plan.clone(), "")
        .access
        .cluster;
    d.key(Enter);
    assert_eq!(d.m.step, Step::Access, "{:?}", d.m.status);
    assert_eq!(d.m.access.focus, 0, "on the cluster name");
    assert!(d.screen(80, 24).contains("fix this here"));
}

#[test]
fn system_directories_are_refused_as_mount_points_with_the_reason_and_check_agrees() {
    let mut d = walk("akash", Step::Storage);
    for (typed, says) in [
        ("/var/lib", "hides dpkg's and every service's state"),
        ("/var/log", "hides the system's logs"),
        ("/home", "hides the users' home directories"),
        ("/tmp", "is a system directory"),
        ("data", "did you mean `/data`?"),
    ] {
        d.key(Char('m'))
            .times(Backspace, 20)
            .chars(typed)
            .key(Enter);
        assert!(
            matches!(d.m.popup, Some(Popup::Mount(_))),
            "{typed} must be refused"
        );
        let screen = d.screen(120, 40);
        assert!(screen.contains(says), "{typed}: {screen}");
        d.key(Esc);
        assert_eq!(d.m.storage.mount.value(), "/data");
    }
    // The same rule in `check`: a plan naming /var/lib has an error.
    let mut plan = d.m.plan.clone();
    plan.hosts[1].storage = vec![rackstrap::plan::StorageLayout {
        mount: "/var/lib".into(),
        ..serde_yaml::from_str("{ level: single, devices: [nvme0n1], filesystem: ext4, mount: /x }")
            .unwrap()
    }];
    let found = rackstrap::plan::check(&plan, None);
    assert!(
        found
            .iter()
            .any(|f| f.code.as_str() == "E_BAD_MOUNT" && f.message.contains("/var/lib")),
        "{found:?}"
    );
}

/// Storage on node2 of the akash lab, cursor on its first NVMe disk.
fn akash_storage_node2() -> Driver {
    let mut d = walk("akash", Step::Storage);
    d.key(Tab).keys(&[Down, Down, Down]);
    d
}

#[test]
fn storage_says_per_disk_cannot_hold_moved_data_before_a_and_x_takes_a_layout_back() {
    let mut d = akash_storage_node2();
    // b: every blank disk at once (the two NVMe disks, not the root disk).
    d.key(Char('b'));
    assert_eq!(
        d.m.storage.selected.iter().cloned().collect::<Vec<_>>(),
        vec!["nvme0n1".to_string(), "nvme1n1".to_string()]
    );
    // l and L go both ways; with two disks raid5 and up are not offered.
    assert_eq!(d.m.storage.level, rackstrap::plan::Level::Raid0);
    d.key(Char('l'));
    assert_eq!(d.m.storage.level, rackstrap::plan::Level::Raid1);
    d.key(Char('L')).key(Char('L'));
    assert_eq!(d.m.storage.level, rackstrap::plan::Level::PerDisk);
    // Moving kubelet+containerd data is still on: said before `a`, and `a` refuses.
    let said = rackstrap::tui::screens::storage::preview(&d.m).0;
    assert!(said.contains("per-disk has no single filesystem"), "{said}");
    d.key(Char('a'));
    assert!(d.m.plan.hosts[1].storage.is_empty());
    d.key(Char('r')).key(Char('a'));
    assert_eq!(d.m.plan.hosts[1].storage.len(), 1);
    assert!(d.m.storage.selected.is_empty());
    // x takes it back into the draft, disks still selected, to change and add again.
    d.key(Char('x'));
    assert!(d.m.plan.hosts[1].storage.is_empty());
    assert_eq!(d.m.storage.selected.len(), 2);
    assert_eq!(d.m.storage.level, rackstrap::plan::Level::PerDisk);
    d.key(Char('L')).key(Char('r')).key(Char('a'));
    assert_eq!(
        d.m.plan.hosts[1].storage[0].level,
        rackstrap::plan::Level::Raid1
    );
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("x take back"),
        "the footer lists x: {screen}"
    );
}

#[test]
fn apply_to_all_asks_before_replacing_a_hosts_own_layout() {
    let mut d = akash_storage_node2();
    d.key(Char('b')).key(Char('a')).key(Char('A'));
    assert_eq!(d.m.plan.hosts[2].storage, d.m.plan.hosts[1].storage);
    let first = d.m.plan.hosts[2].storage.clone();
    // node2 changes its layout; A again would replace node3's.
    d.key(Char('x'))
        .key(Char('l'))
        .key(Char('a'))
        .key(Char('A'));
    assert!(
        matches!(&d.m.popup, Some(Popup::Confirm { what, .. }) if what.contains("node3 already has layouts")),
        "{:?}",
        d.m.popup
    );
    d.key(Char('n'));
    assert_eq!(d.m.plan.hosts[2].storage, first, "n keeps node3's own");
    d.key(Char('A')).key(Char('y'));
    assert_eq!(d.m.plan.hosts[2].storage, d.m.plan.hosts[1].storage);
}

#[test]
fn a_per_disk_layout_that_moves_data_names_its_host_in_check() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wizard-akash.yaml");
    let mut plan = rackstrap::plan::load(&path).unwrap();
    plan.hosts[1].storage[0].level = rackstrap::plan::Level::PerDisk;
    let found = rackstrap::plan::check(&plan, None);
    assert!(
        found
            .iter()
            .any(|f| f.code.as_str() == "E_RELOCATE_PER_DISK"
                && f.message.starts_with("node2: ")
                && f.message.contains("/data")),
        "{found:?}"
    );
}

#[test]
fn network_checks_the_cidrs_pools_and_vip_against_where_the_hosts_are() {
    let mut d = Driver::demo("homelab");
    d.walk_to_hosts().key(Enter);
    // Roles: a third etcd member on a worker (two would be refused), then on.
    d.keys(&[Down, Down, Char('e')]);
    d.keys(&[Enter, Enter]);
    assert_eq!(d.m.step, Step::Network, "{:?}", d.m.findings());
    let field = |d: &Driver, f: rackstrap::tui::model::NetField| {
        rackstrap::tui::model::NetField::ALL
            .iter()
            .position(|x| *x == f)
            .unwrap()
            - rackstrap::tui::model::NetField::ALL
                .iter()
                .position(|x| *x == d.m.network.focus)
                .unwrap()
    };
    use rackstrap::tui::model::NetField;
    // Service CIDR 192.168.0.0/16: the nodes and the DNS server are inside it.
    let n = field(&d, NetField::ServiceCidr);
    d.times(Down, n)
        .times(Backspace, 30)
        .chars("192.168.0.0/16");
    let said: Vec<String> = d.m.findings().into_iter().map(|f| f.message).collect();
    assert!(
        said.iter()
            .any(|m| m.contains("cp1's address 192.168.1.11 is inside the service CIDR")),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|m| m.contains("upstream DNS 192.168.1.1 is inside the service CIDR")),
        "{said:#?}"
    );
    d.times(Backspace, 30).chars("10.233.0.0/18");
    // A pool that runs past the nodes' /24, and one holding the DNS server.
    d.times(Up, n - 1)
        .times(Backspace, 60)
        .chars("192.168.1.200-192.168.2.20, 192.168.1.1");
    let said: Vec<String> = d.m.findings().into_iter().map(|f| f.message).collect();
    assert!(
        said.iter()
            .any(|m| m.contains("leaves the nodes' subnet 192.168.1.0/24")),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|m| m.contains("contains the upstream DNS address 192.168.1.1")),
        "{said:#?}"
    );
    d.times(Backspace, 60).chars("192.168.1.200-192.168.1.220");
    // A VIP on another subnet than the control planes.
    let n = field(&d, NetField::Vip);
    d.times(Down, n).times(Backspace, 20).chars("192.168.5.10");
    let said: Vec<String> = d.m.findings().into_iter().map(|f| f.message).collect();
    assert!(
        said.iter().any(|m| m.contains(
            "VIP 192.168.5.10 is not in the control planes' subnet 192.168.1.0/24 (cp1)"
        )),
        "{said:#?}"
    );
}

#[test]
fn the_demo_plays_the_plans_own_pool_and_sysctl_values() {
    let mut d = walk("homelab", Step::Roles);
    d.keys(&[Down, Down, Char('e')]);
    while d.m.step < Step::Network {
        d.key(Enter);
    }
    // The pool renamed on Network; a sysctl the plan does not have.
    d.times(Backspace, 20).chars("lan");
    d.m.plan.tuning.sysctl.remove("vm.max_map_count");
    while d.m.step < Step::Provision {
        d.key(Enter);
    }
    d.start_run();
    d.play_runs();
    // The lab's scripted failure: retried until it behaves.
    for _ in 0..3 {
        if d.m.provision.finished() {
            break;
        }
        d.key(Char('r'));
        d.play_runs();
    }
    assert!(d.m.provision.finished());
    let all: Vec<String> =
        d.m.provision
            .panes
            .iter()
            .flat_map(|p| p.lines.iter().cloned())
            .collect();
    assert!(
        all.iter()
            .any(|l| l.contains("IPAddressPool lan (192.168.1.200-192.168.1.220)")),
        "{all:#?}"
    );
    assert!(
        !all.iter().any(|l| l.contains("IPAddressPool default")),
        "{all:#?}"
    );
    assert!(
        !all.iter().any(|l| l.contains("vm.max_map_count")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|l| l.contains("fs.inotify.max_user_watches = 1048576")),
        "{all:#?}"
    );
}

#[test]
fn help_says_what_the_fields_mean_and_every_key_and_fits_the_width() {
    let mut d = walk("akash", Step::Network);
    d.key(F(1));
    let screen = d.screen(80, 24);
    // Wrapped to the width, nothing cut: the popup ends with its closing line.
    assert!(screen.contains("kube-vip"), "{screen}");
    snap("help_network", &d);
    d.key(Esc);
    let mut d = walk("akash", Step::Storage);
    d.key(Char('?'));
    let text = rackstrap::tui::text::help(Step::Storage);
    for key in ["x takes", "Shift-Tab", "b selects", "l / L"] {
        assert!(text.contains(key), "{key}");
    }
    let screen = d.screen(120, 40);
    assert!(screen.contains("any key closes this help"), "{screen}");
    for (step, keys) in [
        (Step::Discover, &["r scans again", "Tab"][..]),
        (
            Step::Review,
            &["e (on Commands)", "PgUp/PgDn", "Home/End"][..],
        ),
        (Step::Provision, &["n finds the next match", "s skips"][..]),
    ] {
        let text = rackstrap::tui::text::help(step);
        for key in keys {
            assert!(text.contains(key), "{step:?}: {key}");
        }
    }
    // End on Review goes to the last row.
    let mut d = walk("akash", Step::Review);
    d.key(Tab).key(Tab).key(End);
    assert!(d.m.review.scroll > 0);
}

#[test]
fn node_labels_are_set_per_host_and_applied_to_every_host_with_a_role() {
    let mut d = walk("ais", Step::Roles);
    d.key(Char('l')).chars("bad key=x").key(Enter);
    assert!(
        matches!(d.m.popup, Some(Popup::Labels(_))),
        "a bad key is refused"
    );
    let screen = d.screen(80, 24);
    assert!(screen.contains("bad key"), "{screen}");
    d.times(Backspace, 20)
        .chars("nvidia.com/ais-target=v3.24")
        .key(Enter);
    assert!(d.m.popup.is_none());
    assert_eq!(
        d.m.plan.hosts[0]
            .labels
            .get("nvidia.com/ais-target")
            .map(String::as_str),
        Some("v3.24")
    );
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("cpu01 labels: nvidia.com/ais-target=v3.24"),
        "{screen}"
    );
    snap("roles_labels", &d);
    // L on the Worker column: every worker gets them.
    d.keys(&[Right, Right, Char('L')]);
    for h in &d.m.plan.hosts {
        if h.roles.contains(&rackstrap::plan::Role::Worker) {
            assert_eq!(h.labels, d.m.plan.hosts[0].labels, "{}", h.name);
        }
    }
    assert!(d.screen(120, 40).contains("labels added to every worker"));
}

/// The first row of Review's scrolled body as drawn at 80x24 (below the tab row and its gap).
fn review_top_row(d: &Driver) -> String {
    let screen = d.screen(80, 24);
    let body_start = screen
        .lines()
        .position(|l| l.contains("[Commands]") || l.contains("[Findings") || l.contains("[Files]"))
        .expect("tabs row");
    let row = screen.lines().nth(body_start + 2).unwrap_or("");
    row.trim_start_matches('│')
        .trim_end_matches('│')
        .to_string()
}

#[test]
fn review_commands_jump_by_stage_and_host_and_search() {
    let mut d = walk("akash", Step::Review);
    d.key(Tab).key(Tab);
    assert_eq!(d.m.review.tab, rackstrap::tui::model::ReviewTab::Commands);
    // ] goes from section to section (a stage on a host), [ comes back.
    d.key(Char(']'));
    let first = review_top_row(&d);
    assert!(first.starts_with("── "), "{first:?}");
    d.key(Char(']'));
    let second = review_top_row(&d);
    assert!(second.starts_with("── ") && second != first, "{second:?}");
    d.key(Char('['));
    assert_eq!(review_top_row(&d), first);
    // / searches; typing goes into the search (q does not ask to quit), Enter finds.
    d.key(Char('/'));
    for c in "SYSCTL -p".chars() {
        d.key(Char(c));
    }
    assert!(d.m.popup.is_none(), "{:?}", d.m.popup);
    assert!(d.screen(80, 24).contains("/SYSCTL -p"));
    d.key(Enter);
    assert_eq!(
        d.m.step,
        Step::Review,
        "Enter confirms the search, it does not go on"
    );
    let hit = review_top_row(&d);
    // Case does not matter; the row found is at the top.
    assert!(hit.contains("$ sysctl -p"), "{hit:?}\n{}", d.screen(80, 24));
    let at = d.m.review.scroll;
    d.key(Char('n'));
    assert!(d.m.review.scroll > at, "n finds the next host's sysctl -p");
    assert!(review_top_row(&d).contains("$ sysctl -p"));
    d.key(Char('N'));
    assert_eq!(d.m.review.scroll, at, "N finds the previous one");
    // A search that finds nothing says so and stays put; Esc cancels typing, not Review.
    d.key(Char('/'));
    for c in "no-such-thing".chars() {
        d.key(Char(c));
    }
    d.key(Enter);
    assert_eq!(d.m.review.scroll, at);
    assert!(
        d.m.status
            .as_deref()
            .is_some_and(|s| s.contains("`no-such-thing` is not on this tab")),
        "{:?}",
        d.m.status
    );
    d.key(Char('/')).key(Char('q')).key(Esc);
    assert!(d.m.review.search.is_none());
    assert!(d.m.popup.is_none());
    assert_eq!(d.m.step, Step::Review);
    let help = rackstrap::tui::text::help(Step::Review);
    for key in ["] and [", "/ searches", "n / N"] {
        assert!(help.contains(key), "{key}");
    }
}

#[test]
fn a_plan_with_several_pools_keeps_the_others_when_the_first_is_edited() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wizard-akash.yaml");
    let mut plan = rackstrap::plan::load(&path).unwrap();
    let ip_leases = rackstrap::plan::Pool {
        name: "ip-leases".into(),
        addresses: vec!["194.28.98.230-194.28.98.233".into()],
        auto_assign: false,
    };
    plan.network.load_balancer.pools.push(ip_leases.clone());
    let mut d = Driver::demo("akash");
    d.m = rackstrap::tui::model::Model::reopen(d.m.mode.clone(), plan, path);
    d.m.theme.color = false;
    while d.m.step != Step::Network {
        d.key(Esc);
    }
    let screen = d.screen(120, 30);
    assert!(
        screen.contains("+ 1 more pool from the plan file, kept as written (edit them there): ip-leases (194.28.98.230-194.28.98.233)"),
        "{screen}"
    );
    use rackstrap::tui::model::NetField;
    while d.m.network.focus != NetField::PoolAddresses {
        d.key(Down);
    }
    let pools = |d: &Driver| d.m.plan.network.load_balancer.pools.clone();
    // Editing the first pool leaves the second as it was.
    d.times(Backspace, 80).chars("144.217.30.192/29");
    assert_eq!(pools(&d).len(), 2, "{:?}", pools(&d));
    assert_eq!(pools(&d)[0].addresses, ["144.217.30.192/29"]);
    assert_eq!(pools(&d)[1], ip_leases);
    // Emptying it removes only that pool; typing again brings it back before the other.
    d.times(Backspace, 80);
    assert_eq!(pools(&d), std::slice::from_ref(&ip_leases));
    d.chars("144.217.30.200");
    assert_eq!(pools(&d).len(), 2, "{:?}", pools(&d));
    assert_eq!(pools(&d)[0].name, "default");
    assert_eq!(pools(&d)[1], ip_leases);
}
