use std::collections::BTreeMap;

use crossterm::event::KeyModifiers;

use super::*;
use crate::facts::{BlockDevice, HostFacts};
use crate::plan::{Host, Plan, Role, Severity};
use crate::tui::model::{Mode, Msg, Step};
use crate::tui::popups::Popup;
use crate::tui::update::update;

fn disk(name: &str, fstype: Option<&str>) -> BlockDevice {
    BlockDevice {
        name: name.into(),
        kind: "disk".into(),
        size_bytes: 8 << 30,
        fstype: fstype.map(str::to_string),
        ..Default::default()
    }
}

fn press(m: &mut Model, code: KeyCode) -> Option<Effect> {
    update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

#[test]
fn apply_to_same_disks_never_carries_wipe_to_other_hosts() {
    let mut m = Model::new(Mode::Live, Plan::new("t"), "");
    // node1: sdb holds an old filesystem the operator looked at and marks for wiping.
    // node2: sdb is blank. node3: sdb holds an ext4 filesystem nobody looked at.
    for (name, fs) in [
        ("node1", Some("ext4")),
        ("node2", None),
        ("node3", Some("ext4")),
    ] {
        m.plan.hosts.push(Host {
            name: name.into(),
            address: format!("10.0.0.{}", m.plan.hosts.len() + 1),
            roles: vec![Role::Worker],
            labels: BTreeMap::new(),
            storage: vec![],
            etcd_member_name: None,
        });
        let facts = HostFacts {
            hostname: name.into(),
            disks: vec![disk("sdb", fs)],
            ..Default::default()
        };
        m.facts.insert(name.into(), facts);
    }
    m.step = Step::Storage;
    m.storage.level = Level::Single;
    for k in [KeyCode::Char('w'), KeyCode::Char(' '), KeyCode::Char('a')] {
        press(&mut m, k);
    }
    assert_eq!(m.plan.hosts[0].storage.len(), 1);
    assert!(m.plan.hosts[0].storage[0].wipe, "node1's own choice stays");

    press(&mut m, KeyCode::Char('A'));
    let node2 = &m.plan.hosts[1].storage;
    assert_eq!(node2.len(), 1, "the blank disk gets the layout");
    assert!(!node2[0].wipe, "wipe is never copied");
    assert_eq!(node2[0].devices, ["sdb"]);
    assert!(
        m.plan.hosts[2].storage.is_empty(),
        "node3's disk holds data: left alone"
    );
    assert_eq!(
        m.storage.message.as_deref(),
        Some("applied to node2; node3: sdb holds data; mark it for wiping on node3 itself")
    );
    // The plan's checks agree: nothing would format node3's filesystem.
    assert!(
        !m.plan_findings()
            .iter()
            .any(|f| f.severity == Severity::Error && f.path.contains("node3")),
        "{:?}",
        m.plan_findings()
    );
}

/// The mount popup refuses what `check` and the storage stage refuse, saying why, and
/// keeps the popup open; a plain absolute path is taken.
#[test]
fn mount_popup_refuses_what_check_refuses() {
    let mut m = Model::new(Mode::Live, Plan::new("t"), "");
    m.step = Step::Storage;
    let before = m.storage.mount.value().to_string();
    for (typed, says) in [
        ("/data/", "trailing or doubled `/`: write /data"),
        ("/mnt//x", "write /mnt/x"),
        ("/mnt/my disk", "blank or control character"),
        ("/mnt/../etc", "`..`"),
        ("/", "system directory"),
        ("data", "not an absolute path"),
    ] {
        press(&mut m, KeyCode::Char('m'));
        // Clear the field, type, confirm.
        for _ in 0..40 {
            press(&mut m, KeyCode::Backspace);
        }
        for c in typed.chars() {
            press(&mut m, KeyCode::Char(c));
        }
        press(&mut m, KeyCode::Enter);
        assert!(
            matches!(m.popup, Some(Popup::Mount(_))),
            "{typed}: popup stays open"
        );
        let msg = m.storage.message.clone().unwrap_or_default();
        assert!(msg.contains(says), "{typed}: {msg}");
        assert_eq!(m.storage.mount.value(), before, "{typed} not taken");
        m.popup = None;
    }
    press(&mut m, KeyCode::Char('m'));
    for _ in 0..40 {
        press(&mut m, KeyCode::Backspace);
    }
    for c in "/srv/data".chars() {
        press(&mut m, KeyCode::Char(c));
    }
    press(&mut m, KeyCode::Enter);
    assert!(m.popup.is_none());
    assert_eq!(m.storage.mount.value(), "/srv/data");
}

/// A disk and one of its partitions never both go into layouts, in either order, as
/// `check` refuses with E_DEVICE_OVERLAP.
#[test]
fn storage_refuses_a_partition_of_a_used_disk_and_the_disk_of_a_selected_partition() {
    let model = || {
        let mut m = Model::new(Mode::Live, Plan::new("t"), "");
        m.plan.hosts.push(Host {
            name: "node1".into(),
            address: "10.0.0.1".into(),
            roles: vec![Role::Worker],
            labels: BTreeMap::new(),
            storage: vec![],
            etcd_member_name: None,
        });
        let mut sdb = disk("sdb", None);
        sdb.children = vec![BlockDevice {
            kind: "part".into(),
            ..disk("sdb1", None)
        }];
        let facts = HostFacts {
            hostname: "node1".into(),
            disks: vec![sdb],
            ..Default::default()
        };
        m.facts.insert("node1".into(), facts);
        m.step = Step::Storage;
        m.storage.level = Level::Single;
        m
    };

    // The disk in a layout, then its partition.
    let mut m = model();
    for k in [KeyCode::Char('w'), KeyCode::Char(' '), KeyCode::Char('a')] {
        press(&mut m, k);
    }
    assert_eq!(m.plan.hosts[0].storage[0].devices, ["sdb"]);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Char(' '));
    assert!(m.storage.selected.is_empty());
    assert_eq!(
        m.storage.message.as_deref(),
        Some(
            "sdb1 lies on sdb, which is already in a layout: use the disk or its partitions, not both"
        )
    );

    // The partition selected, then its disk.
    let mut m = model();
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Char(' '));
    assert!(m.storage.selected.contains("sdb1"));
    press(&mut m, KeyCode::Up);
    press(&mut m, KeyCode::Char('w'));
    press(&mut m, KeyCode::Char(' '));
    assert!(!m.storage.selected.contains("sdb"));
    assert_eq!(
        m.storage.message.as_deref(),
        Some("sdb holds sdb1, which is selected: use the disk or its partitions, not both")
    );
}

/// What a device holds decides what Space and `w` do with it.
#[test]
fn space_and_w_follow_what_the_device_holds() {
    let mut m = Model::new(Mode::Live, Plan::new("t"), "");
    m.plan.hosts.push(Host {
        name: "node1".into(),
        address: "10.0.0.1".into(),
        roles: vec![Role::Worker],
        labels: BTreeMap::new(),
        storage: vec![],
        etcd_member_name: None,
    });
    let mounted = |name: &str, at: &str| BlockDevice {
        mountpoints: vec![at.into()],
        ..disk(name, Some("ext4"))
    };
    let facts = HostFacts {
        hostname: "node1".into(),
        disks: vec![
            mounted("sda", "/"),
            mounted("sdb", "/srv"),
            disk("sdc", Some("xfs")),
        ],
        ..Default::default()
    };
    m.facts.insert("node1".into(), facts);
    m.step = Step::Storage;
    let says = |m: &mut Model, k: KeyCode| {
        press(m, k);
        m.storage.message.clone().unwrap_or_default()
    };
    assert_eq!(
        says(&mut m, KeyCode::Char(' ')),
        "sda holds the root filesystem and can never be used"
    );
    assert_eq!(
        says(&mut m, KeyCode::Char('w')),
        "sda holds /: rackstrap never wipes it"
    );
    press(&mut m, KeyCode::Down);
    assert_eq!(
        says(&mut m, KeyCode::Char(' ')),
        "sdb mounted: press w to mark it for wiping first"
    );
    assert_eq!(
        says(&mut m, KeyCode::Char('w')),
        "sdb mounted: rackstrap never wipes it"
    );
    press(&mut m, KeyCode::Down);
    assert_eq!(
        says(&mut m, KeyCode::Char(' ')),
        "sdc has data: press w to mark it for wiping first"
    );
    press(&mut m, KeyCode::Char('w'));
    press(&mut m, KeyCode::Char(' '));
    assert!(m.storage.selected.contains("sdc"));
    assert!(!m.storage.selected.contains("sda") && !m.storage.selected.contains("sdb"));
}
