//! Every wizard screen drawn into ratatui's TestBackend at 80x24 and 120x40, snapshotted
//! with insta. The model is driven with keys exactly as the event loop would.

mod wizard_support;

use crossterm::event::KeyCode::{self, *};
use rackstrap::tui::model::Step;
use rackstrap::tui::screens::storage::preview;
use wizard_support::Driver;

fn snap(name: &str, d: &Driver) {
    for (w, h) in [(80, 24), (120, 40)] {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), d.screen(w, h));
    }
}

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

#[test]
fn access() {
    snap("access", &akash_at(Step::Access));
}

#[test]
fn discover_before_and_after_scan() {
    let mut d = akash_at(Step::Discover);
    // A target list longer than the row scrolls so the cursor's end stays in view.
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("Targets: …") && screen.contains("10.0.10.20-10.0.10.21 "),
        "{screen}"
    );
    snap("discover_ready", &d);
    d.key(Enter);
    snap("discover_scanned", &d);
    d.key(Down).key(Char(' '));
    snap("discover_one_accepted", &d);
}

#[test]
fn discover_points_at_a_bad_target() {
    let mut d = akash_at(Step::Discover);
    d.times(Backspace, 100).chars("10.0.10.0/28, 10.0.1O.7");
    let screen = d.screen(80, 24);
    assert!(screen.contains("column 21: unexpected `O`"), "{screen}");
    snap("discover_bad_target", &d);
}

#[test]
fn hosts() {
    snap("hosts", &akash_at(Step::Hosts));
}

/// The detail pane follows the cursor: node2's NVMe pair, blank, and its NIC.
#[test]
fn hosts_detail_pane_shows_the_host_under_the_cursor() {
    let mut d = akash_at(Step::Hosts);
    d.key(Down);
    let screen = d.screen(80, 24);
    assert!(screen.contains(" node2 · 10.0.10.239 "), "{screen}");
    assert!(screen.contains("blank"), "{screen}");
    snap("hosts_detail", &d);
}

#[test]
fn roles_default_one_control_plane() {
    snap("roles", &akash_at(Step::Roles));
}

#[test]
fn roles_two_control_planes_warn_and_suggest_a_third_etcd() {
    let mut d = Driver::demo("homelab");
    d.walk_to_hosts().key(Enter);
    assert_eq!(d.m.step, Step::Roles, "{}", d.screen(120, 40));
    // The homelab suggestion: cp1 and cp2 run the control plane and etcd (two etcd members:
    // no quorum after one failure).
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("2 control planes tolerate no more failures than 1"),
        "{screen}"
    );
    assert!(
        screen.contains("is an even number: Kubespray refuses it"),
        "{screen}"
    );
    assert!(screen.contains("add `etcd` to one worker"), "{screen}");
    snap("roles_two_control_planes", &d);
    // The fix: a third etcd member on a worker.
    d.keys(&[Down, Down, Char('e')]);
    let screen = d.screen(80, 24);
    assert!(screen.contains("failures tolerated 1"), "{screen}");
    assert!(!screen.contains("even number"), "{screen}");
    snap("roles_third_etcd_on_worker", &d);
}

#[test]
fn storage_capacity_preview_and_unsafe_disks() {
    let mut d = akash_at(Step::Roles);
    d.key(Enter);
    assert_eq!(d.m.step, Step::Storage);
    d.key(Tab)
        .keys(&[Down, Down, Down, Char(' '), Down, Char(' ')]);
    // The preview follows the selection live, before `a` adds the layout.
    assert_eq!(
        preview(&d.m).0,
        "raid0 over 2 × 1.5T → 3T usable, discard on (all non-rotational)"
    );
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("raid0 over 2 × 1.5T → 3T usable,"),
        "{screen}"
    );
    // At 80 columns MODEL is left out of the table rather than cut to a letter; the line
    // under the table says everything about the disk under the cursor.
    assert!(
        !screen.contains("MO…") && !screen.contains(" K…"),
        "{screen}"
    );
    assert!(
        screen.contains("nvme1n1 · KIOXIA KCD6XLUL1T53 · nvme · 1.5T · non-rotational"),
        "{screen}"
    );
    let wide = d.screen(120, 40);
    assert!(wide.contains("MODEL"), "{wide}");
    // The two layout boxes share one top border, joined where they meet.
    assert!(
        screen.contains("├ New layout ─") && screen.contains("┬ Layouts on this host"),
        "{screen}"
    );
    assert!(screen.contains("┴"), "{screen}");
    snap("storage_preview_raid0", &d);
    d.key(Char('l'));
    assert!(
        preview(&d.m)
            .0
            .starts_with("raid1 over 2 × 1.5T → 1.5T usable")
    );
    // One disk too few: said before `a`, and `a` says it too.
    d.key(Char(' '));
    assert_eq!(preview(&d.m).0, "raid1 needs at least 2 disks; 1 selected");
    d.key(Char('a'));
    assert!(d.m.plan.hosts[1].storage.is_empty());
    assert!(
        d.screen(80, 24)
            .contains("raid1 needs at least 2 disks; 1 selected"),
        "{}",
        d.screen(80, 24)
    );
    d.key(Char(' '));
    // Back to raid0: with two disks `l` goes raid0 -> raid1 -> per-disk -> raid0.
    d.keys(&[Char('l'), Char('l')]);
    // Root disk: refused, and never wipeable.
    d.keys(&[Up, Up, Up, Up, Char(' ')]);
    assert!(d.screen(80, 24).contains("holds the root filesystem"));
    snap("storage_root_refused", &d);
    d.keys(&[Down, Down, Down, Char('a'), Char('A')]);
    let screen = d.screen(120, 40);
    assert!(
        screen.contains(
            "applied to node3; disks differ on node1; node4: nvme1n1 holds data; mark it for wiping on node4 itself"
        ),
        "{screen}"
    );
    snap("storage_applied_to_same_disks", &d);
}

#[test]
fn storage_ais_per_disk_xfs() {
    let mut d = Driver::demo("ais");
    d.walk_to_hosts().keys(&[Enter, Enter]);
    assert_eq!(d.m.step, Step::Storage);
    d.key(Down);
    for _ in 0..10 {
        d.keys(&[Down, Down]).key(Char(' '));
        d.key(Up);
    }
    // l cycles raid0 -> raid1 -> raid5 -> raid6 -> raid10 -> per-disk (5 presses), f ext4 ->
    // xfs, r off, m /ais; then add the layout and apply it to the other two nodes (AIStore
    // "Deploying AIS on k8s": one XFS filesystem per data disk).
    d.times(Char('l'), 5)
        .key(Char('f'))
        .key(Char('r'))
        .key(Char('m'))
        .times(Backspace, 10)
        .chars("/ais")
        .key(Enter);
    assert_eq!(
        preview(&d.m).0,
        "per-disk: 10 × 9.1T → 10 filesystems, 91T usable, discard off (a rotational disk)"
    );
    let screen = d.screen(80, 24);
    assert!(screen.contains("mount /ais/<disk>"), "{screen}");
    snap("storage_ais_per_disk", &d);
    d.key(Char('a')).key(Char('A'));
    let screen = d.screen(120, 40);
    assert!(screen.contains("applied to cpu02, cpu03"), "{screen}");
    assert!(screen.contains("per-disk xfs /ais 91T sda,sdb"), "{screen}");
    snap("storage_ais_applied", &d);
}

fn network(d: &mut Driver) {
    while d.m.step < Step::Network {
        d.key(Enter);
    }
}

fn akash_network() -> Driver {
    akash_at(Step::Network)
}

#[test]
fn network_overlapping_pool_points_at_the_entry() {
    let mut d = akash_network();
    // A third entry that overlaps the first one.
    d.key(Down)
        .key(End)
        .chars(", 144.217.30.200-144.217.30.210");
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("^ column 49: 144.217.30.200-144.217.30.210 overlaps"),
        "{screen}"
    );
    assert!(
        screen.contains("error pool default: column 49:"),
        "{screen}"
    );
    snap("network_pool_overlap", &d);
    // An entry holding a node's own address, pointed at too.
    d.times(Backspace, 31).chars(", 10.0.10.0/28");
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("^ column 49: 10.0.10.0-10.0.10.15 contains node4"),
        "{screen}"
    );
    snap("network_pool_has_node", &d);
    // Errors block Next.
    d.key(Enter);
    assert_eq!(d.m.step, Step::Network);
}

/// The pool note counts the whole list, not the part scrolled into view: at 80 columns a
/// long list scrolls sideways and the note still says its full total (20 + 3 x 16).
#[test]
fn pool_note_counts_the_whole_list_while_it_scrolls() {
    let mut d = akash_network();
    d.key(Down)
        .key(End)
        .chars(", 203.0.113.0/28, 203.0.113.16/28, 203.0.113.32/28");
    let screen = d.screen(80, 24);
    assert!(
        !screen.contains("144.217.30.192/28"),
        "the field has scrolled: {screen}"
    );
    assert!(screen.contains("68 addresses"), "{screen}");
    // Moving the cursor back to the start scrolls the other way; the total stays.
    d.key(Home);
    let screen = d.screen(80, 24);
    assert!(screen.contains("144.217.30.192/28"), "{screen}");
    assert!(screen.contains("68 addresses"), "{screen}");
}

#[test]
fn network_parse_error_points_at_the_character() {
    let mut d = akash_network();
    d.keys(&[Down, Down, Down])
        .times(Backspace, 20)
        .chars("10.233.0.0/18x");
    let screen = d.screen(80, 24);
    assert!(screen.contains("^ column 14: unexpected `x`"), "{screen}");
    snap("network_bad_character", &d);
}

#[test]
fn review_tabs() {
    let mut d = akash_at(Step::Review);
    snap("review_findings", &d);
    d.key(Tab);
    snap("review_files", &d);
    d.key(Tab);
    // Scroll until the storage stage's mdadm line is on screen: how far that is depends on
    // the length of the commands before it, which is not what this test is about.
    let mdadm = "mdadm --create /dev/md0 --level=raid0 --metadata=1.2 --raid-devices=2 /dev/nvme0n1 /dev/nvme1n1";
    for _ in 0..200 {
        if d.screen(120, 40).contains(mdadm) {
            break;
        }
        d.key(Down);
    }
    let screen = d.screen(120, 40);
    assert!(screen.contains(mdadm), "{screen}");
    snap("review_commands", &d);
}

#[test]
fn provision_four_live_panes() {
    let mut d = akash_at(Step::Provision);
    let screen = d.screen(80, 24);
    assert!(screen.contains("Verify    Load balancer"), "{screen}");
    snap("provision_ready", &d);
    d.start_run();
    assert!(d.m.provision.running);
    d.play_runs_limited(14);
    snap("provision_four_panes_running", &d);
}

/// A stalled command asks on Provision: the host, the command, how long it has been quiet,
/// and the keys. w keeps waiting, x fails that host; the focused pane's question is the one
/// answered; output from the stalled step closes its question.
#[test]
fn provision_stalled_command_asks() {
    use rackstrap::provision::{Event, EventKind, StageId, StallAnswer};
    use rackstrap::tui::effects::Effect;
    use rackstrap::tui::model::Msg;
    let stalled = |host: &str, command: &str| Event {
        host: host.into(),
        stage: StageId::Storage,
        kind: EventKind::Stalled {
            command: command.into(),
            quiet_secs: 1800,
            limit_secs: 1800,
            asking: true,
        },
    };
    let press = |d: &mut Driver, c: char| {
        rackstrap::tui::update::update(
            &mut d.m,
            Msg::Key(crossterm::event::KeyEvent::from(Char(c))),
        )
    };
    let mut d = akash_at(Step::Provision);
    d.start_run();
    d.play_runs_limited(3);
    assert_eq!(press(&mut d, 'w'), None, "no question, no answer");
    d.send(Msg::Provision(vec![stalled(
        "node1",
        "mkfs.ext4 -L rackstrap /dev/nvme1n1",
    )]));
    let screen = d.screen(120, 40);
    for want in [
        "⚠ node1 · Storage · stalled, quiet for 30 min: `mkfs.ext4 -L rackstrap /dev/nvme1n1`",
        "w keep waiting (another 30 min)   x fail node1 (the other hosts go on)",
        "w keep waiting",
        "x fail host",
        "stalled: `mkfs.ext4 -L rackstrap /dev/nvme1n1` printed",
    ] {
        assert!(screen.contains(want), "{want:?} not in\n{screen}");
    }
    snap("provision_stalled", &d);
    assert_eq!(
        press(&mut d, 'w'),
        Some(Effect::AnswerStall {
            host: "node1".into(),
            stage: StageId::Storage,
            answer: StallAnswer::Wait,
        })
    );
    assert!(d.m.provision.stalls.is_empty());
    assert!(!d.screen(120, 40).contains("⚠ node1"));

    // Two open: the focused pane's (node1) is asked first, x fails it, node3's remains.
    d.send(Msg::Provision(vec![
        stalled("node3", "mdadm --create /dev/md0"),
        stalled("node1", "mkfs.ext4 -L rackstrap /dev/nvme1n1"),
    ]));
    assert_eq!(d.m.provision.panes[d.m.provision.focus].host, "node1");
    assert!(d.screen(120, 40).contains("(1 more stalled)"));
    assert_eq!(
        press(&mut d, 'x'),
        Some(Effect::AnswerStall {
            host: "node1".into(),
            stage: StageId::Storage,
            answer: StallAnswer::Fail,
        })
    );
    assert!(
        d.screen(120, 40)
            .contains("⚠ node3 · Storage · stalled, quiet for 30 min: `mdadm --create /dev/md0`")
    );
    // node3's command printed: no longer stalled, nothing left to answer.
    d.send(Msg::Provision(vec![Event {
        host: "node3".into(),
        stage: StageId::Storage,
        kind: EventKind::Log {
            lines: "mdadm: array /dev/md0 started.".into(),
            stderr: false,
        },
    }]));
    assert!(d.m.provision.stalls.is_empty());
    assert_eq!(press(&mut d, 'x'), None);

    // Kubespray's playbook stalls under its pane: x fails the stage, on every host.
    d.send(Msg::Provision(vec![Event {
        host: "ansible".into(),
        stage: StageId::Kubespray,
        kind: EventKind::Stalled {
            command: "ansible-playbook".into(),
            quiet_secs: 2700,
            limit_secs: 2700,
            asking: true,
        },
    }]));
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("w keep waiting (another 45 min)   x fail Kubespray on every host"),
        "{screen}"
    );
}

#[test]
fn provision_failure_then_retry_then_done() {
    let mut d = akash_at(Step::Provision);
    d.start_run();
    d.play_runs();
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("node3: Preflight failed: clock not synchronised"),
        "{screen}"
    );
    snap("provision_failed", &d);
    d.key(Char('r'));
    d.play_runs();
    assert!(d.m.provision.finished(), "{:?}", d.m.provision.grid);
    snap("provision_finished", &d);
    d.key(Enter);
    assert_eq!(d.m.step, Step::Done);
    snap("done", &d);
}

#[test]
fn provision_scroll_and_search() {
    let mut d = akash_at(Step::Provision);
    d.start_run();
    d.play_runs();
    d.key(Char('r'));
    d.play_runs();
    d.key(Char('/')).chars("strictarp").key(Enter);
    assert!(!d.m.provision.panes[0].follow);
    d.key(Char('/')).chars("Download item").key(Enter);
    let screen = d.screen(120, 40);
    assert!(screen.contains("paused"), "{screen}");
    snap("provision_search", &d);
}

#[test]
fn destructive_storage_asks_for_the_host_name() {
    let mut d = akash_at(Step::Roles);
    d.key(Enter);
    // node4's nvme1n1 carries an old ext4: refused until marked for wiping.
    d.keys(&[Tab, Tab, Tab, Down, Down, Down, Char(' '), Down, Char(' ')]);
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("press w to mark it for wiping first"),
        "{screen}"
    );
    d.keys(&[Char('w'), Char(' '), Char('a')]);
    assert!(d.m.plan.hosts[3].storage[0].wipe);
    network(&mut d);
    d.keys(&[Enter, Enter]);
    assert_eq!(d.m.step, Step::Provision);
    d.key(Enter);
    snap("confirm_wipe", &d);
    d.chars("node3").key(Enter);
    assert!(!d.m.provision.started, "a wrong name must not start");
    d.times(Backspace, 5).chars("node4").key(Enter);
    assert!(d.m.provision.started);
    assert_eq!(d.pending_runs.len(), 1);
}

#[test]
fn help_quit_and_too_small() {
    let mut d = akash_at(Step::Roles);
    d.key(Char('?'));
    snap("help_roles", &d);
    d.key(Esc).key(Char('q'));
    snap("quit_asks", &d);
    d.key(Char('n'));
    assert!(!d.m.quit);
    insta::assert_snapshot!("too_small_60x20", d.screen(60, 20));
    d.key(Char('q')).key(Char('y'));
    assert!(d.m.quit);
}

#[test]
fn esc_goes_back_without_losing_input() {
    let mut d = akash_network();
    d.keys(&[Down]).chars(", 203.0.113.7");
    d.key(KeyCode::Esc).key(KeyCode::Esc);
    assert_eq!(d.m.step, Step::Roles);
    d.keys(&[Enter, Enter]);
    assert_eq!(d.m.step, Step::Network);
    assert!(
        d.screen(120, 40)
            .contains("194.28.98.219-194.28.98.222, 203.0.113.7")
    );
    assert_eq!(
        d.m.plan.hosts[1].storage.len(),
        1,
        "node2's layout survived going back"
    );
}

#[test]
fn abort_asks_then_stops_and_retry_resumes() {
    let mut d = akash_at(Step::Provision);
    d.start_run();
    d.play_runs_limited(3);
    assert_eq!(
        d.m.provision
            .state("node1", rackstrap::provision::StageId::Preflight),
        rackstrap::provision::StepState::Running
    );
    d.key(Char('a'));
    assert!(d.screen(80, 24).contains("Abort the run?"));
    d.key(Char('n'));
    assert!(d.m.provision.running, "n keeps it running");
    d.key(Char('a')).key(Char('y'));
    assert!(!d.m.provision.running);
    assert_eq!(
        d.m.provision
            .state("node1", rackstrap::provision::StageId::Preflight),
        rackstrap::provision::StepState::Failed
    );
    snap("provision_aborted", &d);
    d.key(Char('r'));
    assert!(
        d.m.popup.is_none(),
        "names typed before are not asked again"
    );
    assert!(d.m.provision.running);
    assert_eq!(d.pending_runs.len(), 1);
}

/// Review's Commands open on what changes per host, in words, before any command.
#[test]
fn review_summary_says_per_host_what_changes() {
    let mut d = akash_at(Step::Review);
    d.key(Tab).key(Tab);
    let screen = d.screen(200, 40);
    assert!(
        screen.contains(
            "node2: raid0 array over nvme0n1 + nvme1n1, ext4, mounted at /data by UUID, kubelet and containerd data moved there"
        ),
        "{screen}"
    );
    snap("review_summary", &d);
}

#[test]
fn review_reads_whole_at_80_columns() {
    let mut d = akash_at(Step::Review);
    // A tall screen shows every row the tab scrolls through.
    let tall = d.screen(80, 200);
    for f in d.m.plan_findings() {
        let head = format!("{:<8}{}", f.severity.as_str(), f.code);
        assert!(tall.contains(&head), "{head}\n{tall}");
        assert!(tall.contains(&f.path), "{}\n{tall}", f.path);
        for word in f.message.split_whitespace() {
            assert!(tall.contains(word), "{word}\n{tall}");
        }
    }
    // Files: every rendered file, not only the plan.
    d.key(Tab);
    let tall = d.screen(80, 600);
    let rendered = rackstrap::render::render(&d.m.plan).unwrap();
    assert!(rendered.len() >= 4);
    for f in rendered {
        let head = format!("── inventory/akash/{}", f.path.display());
        assert!(tall.contains(&head), "{head}\n{tall}");
    }
    // Commands: every word of every command is on screen (wrapped, not cut); preflight's
    // read-only checks are folded to one line until e.
    d.key(Tab);
    let tall = d.screen(80, 1000);
    let steps = rackstrap::provision::runner::dry_run(&d.m.plan, Some(&d.m.facts));
    assert!(tall.contains("── Preflight on node1: "), "{tall}");
    assert!(tall.contains("read-only check"), "{tall}");
    let mut heredocs = 0;
    for step in steps.clone() {
        if step.stage == rackstrap::provision::StageId::Preflight {
            continue;
        }
        for cmd in step.commands.unwrap_or_default() {
            heredocs += usize::from(cmd.lines().count() > 1);
            for word in cmd.lines().next().unwrap_or("").split_whitespace() {
                assert!(tall.contains(word), "{word}\n{tall}");
            }
        }
    }
    assert!(heredocs > 0);
    assert!(tall.contains("more lines, e shows them"), "{tall}");
    assert!(!tall.contains("  fs.inotify.max_user_watches = 1048576"));
    // e shows the here-document bodies.
    d.key(Char('e'));
    let tall = d.screen(80, 1000);
    assert!(!tall.contains("more lines"), "{tall}");
    assert!(
        tall.contains("      fs.inotify.max_user_watches = 1048576"),
        "{tall}"
    );
    for step in steps {
        for cmd in step.commands.unwrap_or_default() {
            for word in cmd.lines().next().unwrap_or("").split_whitespace() {
                assert!(tall.contains(word), "{word}\n{tall}");
            }
        }
    }
    let narrow = d.screen(80, 24);
    let footer = narrow.lines().last().unwrap();
    for key in ["e fold", "Enter provision", "Esc back", "? help", "q quit"] {
        assert!(footer.contains(key), "{key}: {footer}");
    }
}

#[test]
fn hosts_legend_and_discover_details_read_whole() {
    let mut d = akash_at(Step::Discover);
    d.key(Enter);
    // Wide enough: the detail column takes the room there is.
    let wide = d.screen(100, 30);
    assert!(wide.contains("publickey rejected for root"), "{wide}");
    // At 80 columns the selected row's message is said in full under the table.
    d.times(Down, 5);
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("10.0.10.21: auth failed: publickey rejected for root"),
        "{screen}"
    );
    d.key(Char('a')).key(Enter);
    assert_eq!(d.m.step, Step::Hosts);
    let screen = d.screen(80, 24);
    assert!(screen.contains("Worker: min 4 CPU/8 GB/100 GB"), "{screen}");
    assert!(
        screen.contains("CP: Akash guide min 2 CPU/4 GB/30 GB, recommended 4 CPU/8 GB/40 GB"),
        "{screen}"
    );
}

#[test]
fn demo_failure_holds_only_the_cluster_stages() {
    use rackstrap::provision::{StageId::*, StepState::*};
    let mut d = akash_at(Step::Provision);
    d.start_run();
    d.play_runs();
    let p = &d.m.provision;
    // Like the real runner: healthy hosts go on with the per-host stages...
    for h in ["node1", "node2", "node4"] {
        assert_eq!(p.state(h, HostPrep), Done, "{h}");
        assert_ne!(p.state(h, Storage), Pending, "{h}");
    }
    // ...node3 waits from its failure on, and Kubespray waits for node3 everywhere.
    assert_eq!(p.state("node3", Preflight), Failed);
    assert_eq!(p.state("node3", HostPrep), Pending);
    for h in ["node1", "node2", "node3", "node4"] {
        assert_eq!(p.state(h, Kubespray), Pending, "{h}");
    }
    let screen = d.screen(80, 24);
    assert!(screen.contains("Kubespray: waiting: node3:"), "{screen}");
    // The failure reads whole in node3's pane at 80x24 (wrapped, not cut).
    assert!(screen.contains("✗ Preflight failed: clock not"), "{screen}");
    assert!(
        screen.contains("  synchronised (chrony not running)"),
        "{screen}"
    );
    // Retry: node3 catches up, the others do not play their finished steps again.
    d.key(Char('r'));
    d.play_runs();
    assert!(d.m.provision.finished(), "{:?}", d.m.provision.grid);
    let log = |h: &str| -> String {
        let pane = d.m.provision.panes.iter().find(|p| p.host == h).unwrap();
        pane.lines.iter().cloned().collect::<Vec<_>>().join("\n")
    };
    assert!(log("node1").contains("Host prep: done in an earlier run"));
    assert_eq!(log("node1").matches("── Host prep ──").count(), 1);
    // kubectl's ROLES column follows the plan's roles.
    assert!(
        log("node1").contains("node1   Ready    control-plane"),
        "{}",
        log("node1")
    );
    assert!(
        log("node2").contains("node2   Ready    <none>"),
        "{}",
        log("node2")
    );
    // Host prep writes the sysctl file where the real stage does.
    let sysctl = format!("cat > {}", rackstrap::render::SYSCTL_REMOTE_PATH);
    assert!(log("node1").contains(&sysctl), "{}", log("node1"));
}

#[test]
fn text_fields_keep_q_and_the_footer_says_what_works() {
    let mut d = akash_at(Step::Access);
    assert!(d.screen(80, 24).contains("F1 help  ^C quit"));
    d.key(Char('q'));
    assert!(d.m.popup.is_none(), "q is typed into the field");
    assert_eq!(d.m.access.cluster.value(), "akashq");
    d.key(Backspace).key(F(1));
    let screen = d.screen(80, 24);
    assert!(
        screen.contains("A text field has focus, so ? and q"),
        "{screen}"
    );
    d.key(Esc);
    // Network: on Auto-assign (no text field) ? and q work, and the footer says so.
    let mut d = akash_network();
    d.keys(&[Down, Down]);
    let screen = d.screen(80, 24);
    assert!(screen.contains("? help  q quit"), "{screen}");
    d.key(Char('?'));
    assert!(matches!(
        d.m.popup,
        Some(rackstrap::tui::popups::Popup::Help)
    ));
    d.key(Esc).key(Down);
    assert!(d.screen(80, 24).contains("F1 help  ^C quit"));
}

#[test]
fn review_scrolls_no_further_than_its_last_row() {
    use rackstrap::tui::screens::review::max_scroll;
    let mut d = akash_at(Step::Review);
    d.key(Tab);
    let max = max_scroll(&d.m);
    assert!(max > 0, "the files do not fit on 80x24");
    d.times(PageDown, 500);
    assert_eq!(d.m.review.scroll, max);
    // The last row of the last file sits at the bottom of the view, no blank rows under it.
    let screen = d.screen(80, 24);
    let rows: Vec<&str> = screen.lines().collect();
    let saved_row = rows
        .iter()
        .position(|l| l.contains("not saved yet"))
        .unwrap();
    let last = rows[saved_row - 1].trim_matches(|c| c == '│' || c == ' ');
    assert!(!last.is_empty(), "{screen}");
    let (_, body) = rackstrap::tui::screens::review::files(&d.m.plan)
        .pop()
        .unwrap();
    let tail = body.lines().last().unwrap().trim();
    assert!(
        last.ends_with(tail) || tail.ends_with(last),
        "{last:?} vs {tail:?}\n{screen}"
    );
    // One Up moves one row at once (no presses lost past the end).
    d.key(Up);
    assert_eq!(d.m.review.scroll, max - 1);
    // A taller terminal shows more: the scroll shrinks with it.
    d.send(rackstrap::tui::model::Msg::Resize(80, 60));
    let taller = max_scroll(&d.m);
    assert!(taller < max - 1, "{taller} vs {max}");
    assert_eq!(d.m.review.scroll, taller);
    // Findings fit on the screen: Down does not scroll at all.
    d.key(BackTab);
    assert_eq!(max_scroll(&d.m), 0);
    d.times(Down, 5);
    assert_eq!(d.m.review.scroll, 0);
}

#[test]
fn pool_size_note_counts_in_words_that_agree() {
    let mut d = akash_network();
    // Replace the pool with one address, then two.
    d.key(Down)
        .key(End)
        .times(Backspace, 200)
        .chars("144.217.30.200");
    let screen = d.screen(120, 40);
    assert!(screen.contains("144.217.30.200  1 address"), "{screen}");
    d.chars(", 144.217.30.201");
    let screen = d.screen(120, 40);
    assert!(screen.contains("2 addresses"), "{screen}");
}

/// The Drift screen of the recovery demo: the survey, then an addition's verdict and
/// commands waiting for the host's name.
#[test]
fn drift_on_the_recovery_demo() {
    let (mut m, lab) = rackstrap::cli::demo::recovery_model().expect("recovery demo");
    m.theme.color = false;
    let mut d = Driver::new(m, lab);
    d.send(rackstrap::tui::model::Msg::Opened);
    snap("drift_survey", &d);
    // node2's new key trusted by name first: until then every action is refused, and the
    // refusal says how to trust it here.
    d.keys(&[Down, Down, Down, Char('a')]);
    let screen = d.screen(120, 40);
    assert!(
        screen.contains(
            "node2's host key changed: confirm the new key first (select node2 and press k)"
        ),
        "{screen}"
    );
    assert!(!screen.contains("--accept-new-key"), "{screen}");
    d.keys(&[Esc, Up, Up, Up]);
    d.keys(&[
        Down,
        Char('k'),
        Char('n'),
        Char('o'),
        Char('d'),
        Char('e'),
        Char('2'),
        Enter,
    ]);
    d.keys(&[Down, Down, Char('a')]);
    snap("drift_add_node4", &d);
    // The commands do not fit in 80x24: they scroll (PgDn) instead of being cut.
    let screen = d.screen(80, 24);
    assert!(!screen.contains("scale.yml"), "{screen}");
    assert!(screen.contains("PgUp PgDn scroll"), "{screen}");
    d.keys(&[PageDown, PageDown, PageDown]);
    let scrolled = d.screen(80, 24);
    assert!(scrolled.contains("scale.yml --limit=node4"), "{scrolled}");
    insta::assert_snapshot!("drift_add_node4_scrolled_80x24", scrolled);
    d.keys(&[PageUp, PageUp, PageUp]);
    assert_eq!(d.screen(80, 24), screen);
}

/// The Drift screen offers `l` (re-lay the disks) only where the core allows it: refused with
/// the reason for a host with no storage in the plan; for the reinstalled host, once its key
/// is trusted and the plan gives it storage, it waits for the host's name, then runs.
#[test]
fn drift_relay_waits_for_the_hosts_name() {
    let (mut m, lab) = rackstrap::cli::demo::recovery_model().expect("recovery demo");
    m.theme.color = false;
    let node2 = m
        .plan
        .hosts
        .iter_mut()
        .find(|h| h.name == "node2")
        .expect("node2");
    node2.storage = rackstrap::plan::from_yaml(
        "version: 1\ncluster: {name: c}\nhosts:\n\
         \x20 - name: x\n    address: 10.0.0.9\n    roles: [worker]\n    storage:\n\
         \x20     - {level: single, devices: [sdb], mount: /mnt/data}\n",
        "test",
    )
    .expect("storage")
    .hosts[0]
        .storage
        .clone();
    let mut d = Driver::new(m, lab);
    d.send(rackstrap::tui::model::Msg::Opened);
    d.keys(&[Char('l')]);
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("relay refused: node1 has no storage in the plan"),
        "{screen}"
    );
    // node2's key changed: refused until it is trusted.
    d.keys(&[Down, Char('l')]);
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("relay refused: node2: host key changed"),
        "{screen}"
    );
    d.keys(&[
        Char('k'),
        Char('n'),
        Char('o'),
        Char('d'),
        Char('e'),
        Char('2'),
        Enter,
    ]);
    // The demo's node2 has no sdb: refused as `disks differ`. Surveyed with the disk there,
    // the screen offers the re-lay.
    d.keys(&[Char('l')]);
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("relay refused: node2: disks differ: no sdb on the host"),
        "{screen}"
    );
    let report =
        d.m.drift
            .as_mut()
            .and_then(|x| x.report.as_mut())
            .expect("report");
    report.hosts[1]
        .states
        .retain(|s| !matches!(s, rackstrap::recovery::drift::Drift::DisksDiffer { .. }));
    let screen = d.screen(120, 40);
    assert!(screen.contains("→ l: re-lay its disks"), "{screen}");
    d.keys(&[Char('l'), Enter]);
    let screen = d.screen(120, 40);
    assert!(screen.contains("Type node2 and Enter to run"), "{screen}");
    assert!(!screen.contains("demo, not run"), "{screen}");
    d.keys(&[Char('n'), Char('o'), Char('d'), Char('e'), Char('2'), Enter]);
    let screen = d.screen(120, 40);
    assert!(
        screen.contains("demo, not run: the storage stage on node2"),
        "{screen}"
    );
}
