//! The storage stage's golden command sequences, refusals and probe parsing.

use super::commands::*;
use super::plan::*;
use super::view::*;
use super::*;
use crate::plan::{Discard, Filesystem, Level, Relocate, StorageLayout};
use pretty_assertions::assert_eq;

/// The protocol's marker (output written by hand carries no token).
const M: &str = crate::facts::probe::MARKER;

fn host(layouts: Vec<StorageLayout>) -> Host {
    Host {
        name: "node1".into(),
        address: "10.0.10.136".into(),
        roles: vec![],
        labels: Default::default(),
        storage: layouts,
        etcd_member_name: None,
    }
}

fn layout(level: Level, devices: &[&str], fs: Filesystem, mount: &str) -> StorageLayout {
    StorageLayout {
        level,
        devices: devices.iter().map(|s| s.to_string()).collect(),
        filesystem: fs,
        mount: mount.into(),
        discard: Discard::Auto,
        relocate: vec![],
        wipe: false,
    }
}

fn blank(names: &[&str], rotational: bool) -> HostView {
    let mut v = HostView::default();
    v.devices.insert(
        "sda".into(),
        DeviceView {
            kind: "disk".into(),
            rotational: Some(false),
            children: vec!["sda1".into()],
            holds_root: true,
            ..Default::default()
        },
    );
    v.devices.insert(
        "sda1".into(),
        DeviceView {
            kind: "part".into(),
            fstype: Some("ext4".into()),
            mountpoints: vec!["/".into()],
            holds_root: true,
            ..Default::default()
        },
    );
    for n in names {
        v.devices.insert(
            n.to_string(),
            DeviceView {
                kind: "disk".into(),
                rotational: Some(rotational),
                ..Default::default()
            },
        );
    }
    v.fstab = "UUID=1111 / ext4 defaults 0 1\n".into();
    v
}

fn shells(cmds: &[Cmd]) -> Vec<String> {
    cmds.iter().map(|c| c.shell.clone()).collect()
}

#[test]
fn akash_guide_raid0_ext4_with_relocation_on_an_installed_node() {
    let mut l = layout(
        Level::Raid0,
        &["nvme0n1", "nvme1n1"],
        Filesystem::Ext4,
        "/data",
    );
    l.relocate = vec![Relocate::Kubelet, Relocate::Containerd];
    let h = host(vec![l]);
    let mut v = blank(&["nvme0n1", "nvme1n1"], false);
    v.units.insert("kubelet".into());
    v.units.insert("containerd".into());
    v.dirs.insert(KUBELET_DIR.into());
    v.dirs.insert(CONTAINERD_DIR.into());
    let cmds = plan_host(&h, &v).expect("plan");
    assert_eq!(
        shells(&cmds),
        vec![
            "mdadm --create /dev/md0 --level=raid0 --metadata=1.2 --raid-devices=2 /dev/nvme0n1 /dev/nvme1n1",
            "mkfs.ext4 -L rackstrap /dev/md0",
            "cp -p /etc/fstab /etc/fstab.1",
            "uuid=\"$(blkid /dev/md0 -s UUID -o value)\" && [ -n \"$uuid\" ] && held=\"$(awk -v m=/data '$1 !~ /^#/ { p = $2; sub(/\\/+$/, \"\", p); if (p == m) { print $1; exit } }' /etc/fstab)\" && if [ -z \"$held\" ]; then printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /data ext4 defaults,discard >> /etc/fstab; elif [ \"$held\" != \"UUID=$uuid\" ]; then echo \"/etc/fstab already mounts $held at \"/data >&2; false; fi",
            "mkdir -p /data",
            "mount /data",
            "/usr/share/mdadm/mkconf > /etc/mdadm/mdadm.conf",
            "update-initramfs -u -k all",
            "systemctl stop kubelet",
            "systemctl disable kubelet",
            "systemctl stop containerd",
            "systemctl disable containerd",
            "mv /var/lib/kubelet /data/kubelet",
            "mv /var/lib/containerd /data/containerd",
        ]
    );
}

#[test]
fn raid1_and_raid10_golden_sequences() {
    let h = host(vec![
        layout(Level::Raid1, &["sdb", "sdc"], Filesystem::Xfs, "/mirror"),
        layout(
            Level::Raid10,
            &["sdd", "sde", "sdf", "sdg"],
            Filesystem::Ext4,
            "/fast",
        ),
    ]);
    let v = blank(&["sdb", "sdc", "sdd", "sde", "sdf", "sdg"], true);
    let cmds = plan_host(&h, &v).expect("plan");
    assert_eq!(
        shells(&cmds),
        vec![
            "mdadm --create /dev/md0 --level=raid1 --metadata=1.2 --raid-devices=2 /dev/sdb /dev/sdc",
            "mkfs.xfs -L rackstrap /dev/md0",
            "cp -p /etc/fstab /etc/fstab.1",
            "uuid=\"$(blkid /dev/md0 -s UUID -o value)\" && [ -n \"$uuid\" ] && held=\"$(awk -v m=/mirror '$1 !~ /^#/ { p = $2; sub(/\\/+$/, \"\", p); if (p == m) { print $1; exit } }' /etc/fstab)\" && if [ -z \"$held\" ]; then printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /mirror xfs defaults >> /etc/fstab; elif [ \"$held\" != \"UUID=$uuid\" ]; then echo \"/etc/fstab already mounts $held at \"/mirror >&2; false; fi",
            "mkdir -p /mirror",
            "mount /mirror",
            "mdadm --create /dev/md1 --level=raid10 --metadata=1.2 --raid-devices=4 /dev/sdd /dev/sde /dev/sdf /dev/sdg",
            "mkfs.ext4 -L rackstrap /dev/md1",
            "cp -p /etc/fstab /etc/fstab.1",
            "uuid=\"$(blkid /dev/md1 -s UUID -o value)\" && [ -n \"$uuid\" ] && held=\"$(awk -v m=/fast '$1 !~ /^#/ { p = $2; sub(/\\/+$/, \"\", p); if (p == m) { print $1; exit } }' /etc/fstab)\" && if [ -z \"$held\" ]; then printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /fast ext4 defaults >> /etc/fstab; elif [ \"$held\" != \"UUID=$uuid\" ]; then echo \"/etc/fstab already mounts $held at \"/fast >&2; false; fi",
            "mkdir -p /fast",
            "mount /fast",
            "/usr/share/mdadm/mkconf > /etc/mdadm/mdadm.conf",
            "update-initramfs -u -k all",
        ]
    );
}

#[test]
fn per_disk_xfs_mounts_each_disk_under_the_prefix() {
    let h = host(vec![layout(
        Level::PerDisk,
        &["sdb", "sdc"],
        Filesystem::Xfs,
        "/ais",
    )]);
    let cmds = plan_host(&h, &blank(&["sdb", "sdc"], true)).expect("plan");
    let s = shells(&cmds);
    assert_eq!(s[0], "mkfs.xfs -L rackstrap /dev/sdb");
    assert!(s[2].contains("/ais/sdb xfs defaults >>"), "{}", s[2]);
    assert_eq!(s[4], "mount /ais/sdb");
    assert_eq!(s[5], "mkfs.xfs -L rackstrap /dev/sdc");
    assert_eq!(s[9], "mount /ais/sdc");
    assert_eq!(s.len(), 10);
    assert!(!s.iter().any(|c| c.contains("mdadm")));
}

#[test]
fn discard_follows_rotation_unless_forced() {
    let mut l = layout(Level::Single, &["sdb"], Filesystem::Ext4, "/data");
    let rot = blank(&["sdb"], true);
    let ssd = blank(&["sdb"], false);
    let h0 = host(vec![l.clone()]);
    let t = targets(&h0, &rot).expect("targets")[0].clone();
    assert_eq!(mount_options(&t, &rot), "defaults");
    assert_eq!(mount_options(&t, &ssd), "defaults,discard");
    l.discard = Discard::On;
    let h = host(vec![l]);
    let t = targets(&h, &rot).expect("targets")[0].clone();
    assert_eq!(mount_options(&t, &rot), "defaults,discard");
    // Unknown rotation (dry run without facts) stays off under auto.
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/d",
    )]);
    let t = targets(&h, &rot).expect("targets")[0].clone();
    assert_eq!(mount_options(&t, &HostView::unknown(&h)), "defaults");
}

#[test]
fn refusals_name_the_device_and_the_reason() {
    let v = blank(&["sdb"], true);
    let root = host(vec![layout(
        Level::Single,
        &["sda"],
        Filesystem::Ext4,
        "/x",
    )]);
    let err = plan_host(&root, &v).expect_err("root disk");
    assert_eq!(
        err.to_string(),
        "refused: /dev/sda holds the root filesystem"
    );

    let mut formatted = blank(&["sdb"], true);
    if let Some(d) = formatted.devices.get_mut("sdb") {
        d.fstype = Some("xfs".into());
    }
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/x",
    )]);
    let err = plan_host(&h, &formatted).expect_err("formatted");
    assert_eq!(
        err.to_string(),
        "refused: /dev/sdb holds a xfs signature; set `wipe: true` on this layout to destroy it"
    );
    let mut wipe = h.clone();
    wipe.storage[0].wipe = true;
    let cmds = shells(&plan_host(&wipe, &formatted).expect("wipe consented"));
    assert_eq!(cmds[0], "wipefs -a /dev/sdb");

    let mut mounted = blank(&["sdb"], true);
    if let Some(d) = mounted.devices.get_mut("sdb") {
        d.mountpoints = vec!["/mnt/old".into()];
    }
    let err = plan_host(&wipe, &mounted).expect_err("mounted even with wipe");
    assert_eq!(
        err.to_string(),
        "refused: /dev/sdb is mounted at /mnt/old; unmount it first"
    );

    let missing = host(vec![layout(
        Level::Single,
        &["sdz"],
        Filesystem::Ext4,
        "/x",
    )]);
    assert_eq!(
        plan_host(&missing, &v).expect_err("missing").to_string(),
        "refused: /dev/sdz is not on this host"
    );
}

#[test]
fn a_refusal_anywhere_means_no_command_for_the_host() {
    let h = host(vec![
        layout(Level::Single, &["sdb"], Filesystem::Ext4, "/ok"),
        layout(Level::Single, &["sda"], Filesystem::Ext4, "/bad"),
    ]);
    assert!(plan_host(&h, &blank(&["sdb"], true)).is_err());
}

#[test]
fn done_targets_produce_nothing_and_half_done_ones_only_mount() {
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/data",
    )]);
    let mut v = blank(&["sdb"], true);
    if let Some(d) = v.devices.get_mut("sdb") {
        d.fstype = Some("ext4".into());
        d.uuid = Some("abcd".into());
    }
    v.fstab.push_str("UUID=abcd  /data  ext4  defaults  0 0\n");
    assert_eq!(
        shells(&plan_host(&h, &v).expect("half")),
        vec!["mkdir -p /data", "mount /data"]
    );
    v.mounts.insert("/data".into(), "/dev/sdb".into());
    assert!(plan_host(&h, &v).expect("done").is_empty());
}

/// A run that stopped between mkfs and the fstab line: the labelled filesystem is taken
/// as the stage's own and the rest follows; anything else on the disk is still refused.
#[test]
fn own_labelled_filesystem_resumes_and_foreign_one_is_refused() {
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/data",
    )]);
    let formatted = |label: Option<&str>, fs: &str| {
        let mut v = blank(&["sdb"], false);
        if let Some(d) = v.devices.get_mut("sdb") {
            d.fstype = Some(fs.into());
            d.uuid = Some("u-123".into());
            d.label = label.map(Into::into);
        }
        v
    };
    let s = shells(&plan_host(&h, &formatted(Some(FS_LABEL), "ext4")).expect("resume"));
    assert_eq!(s.len(), 4, "{s:?}");
    assert_eq!(s[0], "cp -p /etc/fstab /etc/fstab.1");
    assert!(s[1].starts_with("uuid=\"$(blkid /dev/sdb -s UUID -o value)\""));
    assert_eq!(&s[2..], ["mkdir -p /data", "mount /data"]);
    assert!(
        !s.iter()
            .any(|c| c.starts_with("mkfs") || c.starts_with("wipefs"))
    );

    let refused =
        "refused: /dev/sdb holds a ext4 signature; set `wipe: true` on this layout to destroy it";
    for v in [
        formatted(None, "ext4"),
        formatted(Some("data"), "ext4"),
        // Ours, but the plan now wants another filesystem type: not taken over.
        formatted(Some(FS_LABEL), "xfs"),
    ] {
        let e = plan_host(&h, &v).expect_err("foreign");
        assert!(
            e.to_string().starts_with("refused: /dev/sdb holds a"),
            "{e}"
        );
    }
    assert_eq!(
        plan_host(&h, &formatted(None, "ext4"))
            .expect_err("foreign")
            .to_string(),
        refused
    );
    // Ours, but already in fstab for another mount point: in use, refused.
    let mut elsewhere = formatted(Some(FS_LABEL), "ext4");
    elsewhere
        .fstab
        .push_str("UUID=u-123 /old ext4 defaults 0 0\n");
    assert!(plan_host(&h, &elsewhere).is_err());

    // An md array made and formatted by the stage: fstab, mount, then mdadm.conf.
    let md = host(vec![layout(
        Level::Raid1,
        &["sdb", "sdc"],
        Filesystem::Xfs,
        "/data",
    )]);
    let mut v = blank(&["sdb", "sdc"], false);
    for m in ["sdb", "sdc"] {
        if let Some(d) = v.devices.get_mut(m) {
            d.fstype = Some("linux_raid_member".into());
            d.children = vec!["md0".into()];
        }
    }
    v.devices.insert(
        "md0".into(),
        DeviceView {
            kind: "raid1".into(),
            fstype: Some("xfs".into()),
            uuid: Some("u-md".into()),
            label: Some(FS_LABEL.into()),
            ..Default::default()
        },
    );
    let s = shells(&plan_host(&md, &v).expect("resume md"));
    assert!(
        !s.iter()
            .any(|c| c.starts_with("mdadm --create") || c.starts_with("mkfs")),
        "{s:?}"
    );
    assert_eq!(
        s.last().map(String::as_str),
        Some("update-initramfs -u -k all")
    );
    v.devices.get_mut("md0").expect("md0").label = None;
    assert_eq!(
        plan_host(&md, &v).expect_err("foreign md").to_string(),
        "refused: /dev/md0 already exists on the host; the plan wants to create it"
    );
}

#[test]
fn relocation_on_a_fresh_host_creates_directories_and_is_then_done() {
    let mut l = layout(Level::Single, &["sdb"], Filesystem::Ext4, "/data");
    l.relocate = vec![Relocate::Kubelet];
    let h = host(vec![l]);
    let mut v = blank(&["sdb"], true);
    let s = shells(&plan_host(&h, &v).expect("plan"));
    assert_eq!(s.last().map(String::as_str), Some("mkdir -p /data/kubelet"));
    assert!(!s.iter().any(|c| c.starts_with("systemctl")));
    v.dirs.insert("/data/kubelet".into());
    if let Some(d) = v.devices.get_mut("sdb") {
        d.fstype = Some("ext4".into());
        d.uuid = Some("u1".into());
    }
    v.fstab.push_str("UUID=u1 /data ext4 defaults 0 0\n");
    v.mounts.insert("/data".into(), "/dev/sdb".into());
    assert!(plan_host(&h, &v).expect("done").is_empty());
}

#[test]
fn probe_output_parses_lsblk_fstab_mounts_units_and_dirs() {
    let out = r#"::rackstrap:: lsblk
{"blockdevices": [
 {"name":"loop3", "size":0,"type":"loop","rota":false,"fstype":"ext4","uuid":"u-3","mountpoints":["/data"]},
 {"name":"sda", "size":0,"type":"disk","rota":"1","fstype":null,"uuid":null,"mountpoints":[null],
  "children":[{"name":"sda1", "size":0,"type":"part","rota":"1","fstype":"ext4","uuid":"r","mountpoints":["/"]}]}
]}
::rackstrap:: blkid
DEVNAME=/dev/loop3
UUID=u-3
TYPE=ext4

DEVNAME=/dev/sda
PTTYPE=gpt
::rackstrap:: fstab
UUID=u-3 /data ext4 defaults,discard 0 0
::rackstrap:: mounts
/ /dev/sda1
/data /dev/loop3
/mnt/a\x20b /dev/x
::rackstrap:: units
kubelet
::rackstrap:: dirs
/var/lib/kubelet
"#;
    let v = parse_probe(out).expect("parse");
    assert_eq!(v.devices["loop3"].rotational, Some(false));
    assert_eq!(v.devices["sda"].rotational, Some(true));
    assert!(v.devices["sda"].holds_root);
    assert_eq!(v.devices["sda"].children, vec!["sda1"]);
    assert_eq!(
        v.devices["sda"].fstype.as_deref(),
        Some("gpt partition table")
    );
    assert_eq!(v.devices["loop3"].uuid.as_deref(), Some("u-3"));
    assert_eq!(v.mounts["/data"], "/dev/loop3");
    assert_eq!(v.mounts["/mnt/a b"], "/dev/x");
    assert!(v.units.contains("kubelet"));
    assert!(v.dirs.contains("/var/lib/kubelet"));
    assert_eq!(
        fstab_entry(&v.fstab, "/data"),
        Some(("UUID=u-3", "defaults,discard"))
    );
}

/// An fstab line that looks like the probe's marker is part of the fstab: it neither
/// ends the section nor invents a mount, since it lacks the run's token.
#[test]
fn marker_looking_fstab_lines_do_not_split_the_probe() {
    let t = "0b6e7c1d-2f3a-4b5c-8d9e-0f1a2b3c4d5e";
    let out = format!(
        "\n{M}lsblk {t}\n{{\"blockdevices\": [{{\"name\":\"sdb\", \"size\":1, \"type\":\"disk\", \"rota\":false}}]}}\n\
         {M}fstab {t}\n# {M}mounts {t}\n{M}mounts\n/data /dev/sdz\n{M}end\nUUID=x /srv ext4 defaults 0 0\n\
         {M}mounts {t}\n/ /dev/sda1\n{M}end {t}\n"
    );
    let v = parse_probe(&out).expect("probe");
    assert_eq!(v.mounts.get("/data"), None, "{:?}", v.mounts);
    assert_eq!(v.mounts["/"], "/dev/sda1");
    assert!(
        v.fstab
            .contains("/data /dev/sdz\n::rackstrap:: end\nUUID=x /srv")
    );
    assert_eq!(fstab_entry(&v.fstab, "/srv"), Some(("UUID=x", "defaults")));
    // No lsblk section, or lsblk that is not JSON: the view cannot be trusted.
    assert_eq!(
        parse_probe(&format!("{M}fstab\n")).expect_err("no lsblk"),
        "the probe printed no lsblk section"
    );
    assert!(
        parse_probe(&format!("{M}lsblk\nlsblk: unknown column\n"))
            .expect_err("not JSON")
            .starts_with("could not read lsblk's answer: lsblk: not JSON")
    );
}

/// What lsblk prints for a disk whose partition carries an LVM volume, and two disks whose
/// partitions form an md array (listed under each member), each mounted two levels down.
const NESTED_LSBLK: &str = r#"::rackstrap:: lsblk
{"blockdevices": [
 {"name":"sda", "size":0,"type":"disk","rota":false,"fstype":null,"uuid":null,"mountpoints":[null],
  "children":[{"name":"sda1", "size":0,"type":"part","rota":false,"fstype":"ext4","uuid":"r","mountpoints":["/"]}]},
 {"name":"sdb", "size":0,"type":"disk","rota":true,"fstype":null,"uuid":null,"mountpoints":[null],
  "children":[{"name":"sdb1", "size":0,"type":"part","rota":true,"fstype":"LVM2_member","uuid":"pv","mountpoints":[null],
   "children":[{"name":"vg0-data", "size":0,"type":"lvm","rota":true,"fstype":"xfs","uuid":"lv","mountpoints":["/srv"]}]}]},
 {"name":"sdc", "size":0,"type":"disk","rota":true,"fstype":null,"uuid":null,"mountpoints":[null],
  "children":[{"name":"sdc1", "size":0,"type":"part","rota":true,"fstype":"linux_raid_member","uuid":"m","mountpoints":[null],
   "children":[{"name":"md0", "size":0,"type":"raid1","rota":true,"fstype":"ext4","uuid":"a","mountpoints":["/data"]}]}]},
 {"name":"sdd", "size":0,"type":"disk","rota":true,"fstype":null,"uuid":null,"mountpoints":[null],
  "children":[{"name":"sdd1", "size":0,"type":"part","rota":true,"fstype":"linux_raid_member","uuid":"m","mountpoints":[null],
   "children":[{"name":"md0", "size":0,"type":"raid1","rota":true,"fstype":"ext4","uuid":"a","mountpoints":["/data"]}]}]},
 {"name":"sde", "size":0,"type":"disk","rota":true,"fstype":null,"uuid":null,"mountpoints":[null],
  "children":[{"name":"sde1", "size":0,"type":"part","rota":true,"fstype":"LVM2_member","uuid":"pv2","mountpoints":[null],
   "children":[{"name":"vg1-old", "size":0,"type":"lvm","rota":true,"fstype":"ext4","uuid":"lv2","mountpoints":[null]}]}]}
]}
::rackstrap:: fstab
::rackstrap:: mounts
/ /dev/sda1
/srv /dev/mapper/vg0-data
/data /dev/md0
"#;

#[test]
fn a_volume_or_array_mounted_below_a_partition_is_refused_even_with_wipe() {
    let v = parse_probe(NESTED_LSBLK).expect("parse");
    let wiped = |dev: &str| {
        let mut l = layout(Level::Single, &[dev], Filesystem::Ext4, "/new");
        l.wipe = true;
        host(vec![l])
    };
    for (dev, at) in [("sdb", "/srv"), ("sdc", "/data"), ("sdd", "/data")] {
        assert_eq!(
            plan_host(&wiped(dev), &v)
                .expect_err("mounted below")
                .to_string(),
            format!("refused: /dev/{dev} is mounted at {at}; unmount it first")
        );
    }
    // The same semantics as the facts: the rebuilt tree is mounted exactly when lsblk's is.
    let tree = subtree(&v, "sdc", &mut Vec::new());
    assert!(tree.is_mounted());
    assert_eq!(tree.mounted_at(), vec!["/data"]);
    // Nothing mounted anywhere below: wiping is allowed.
    let cmds = shells(&plan_host(&wiped("sde"), &v).expect("unmounted, wipe consented"));
    assert_eq!(cmds[0], "wipefs -a /dev/sde");
}

#[test]
fn a_device_listed_under_itself_does_not_loop() {
    let mut v = blank(&["sdb"], true);
    if let Some(d) = v.devices.get_mut("sdb") {
        d.children = vec!["sdb".into()];
    }
    assert!(!subtree(&v, "sdb", &mut Vec::new()).is_mounted());
}

/// util-linux 2.34/2.36 (Ubuntu 20.04, Debian 11) have no MOUNTPOINTS column: the probe
/// falls back to MOUNTPOINT, whose output the parser reads the same way.
#[test]
fn probe_falls_back_to_mountpoint_on_old_lsblk() {
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/data",
    )]);
    let script = probe_command(&h).shell;
    let new = script
        .find("LABEL,MOUNTPOINTS 2>/dev/null ||")
        .expect("new column first");
    let old = script
        .find("LABEL,MOUNTPOINT ||")
        .expect("old column as fallback");
    let exit = script.find("|| exit 1").expect("exit when both fail");
    assert!(new < old && old < exit, "{script}");

    // lsblk 2.34 prints ROTA as a string and one MOUNTPOINT per device.
    let out = format!(
        r#"{M}lsblk
{{"blockdevices": [
  {{"name":"sda", "size":0, "type":"disk", "rota":"0", "fstype":null, "uuid":null, "mountpoint":null,
"children": [
  {{"name":"sda1", "size":0, "type":"part", "rota":"0", "fstype":"ext4", "uuid":"1111", "mountpoint":"/"}},
  {{"name":"sda2", "size":0, "type":"part", "rota":"0", "fstype":"ext4", "uuid":"2222", "mountpoint":"/srv"}}
]}},
  {{"name":"sdb", "size":0, "type":"disk", "rota":"1", "fstype":null, "uuid":null, "mountpoint":null}}
]}}
{M}fstab
{M}mounts
"#
    );
    let v = parse_probe(&out).expect("old lsblk output");
    assert_eq!(v.devices["sda1"].mountpoints, ["/"]);
    assert_eq!(v.devices["sda2"].mountpoints, ["/srv"]);
    assert!(v.devices["sda"].holds_root);
    assert_eq!(v.devices["sda"].rotational, Some(false));
    assert_eq!(v.devices["sdb"].rotational, Some(true));
    assert!(v.devices["sdb"].mountpoints.is_empty());
    assert_eq!(v.mounts.get("/srv").map(String::as_str), Some("/dev/sda2"));
    let cmds = shells(&plan_host(&h, &v).expect("sdb is free"));
    assert_eq!(cmds[0], "mkfs.ext4 -L rackstrap /dev/sdb");
}

#[test]
fn mount_paths_from_findmnt_keep_utf8_and_survive_bad_escapes() {
    assert_eq!(unescape_mount("/mnt/dé"), "/mnt/dé");
    assert_eq!(unescape_mount(r"/mnt/d\xc3\xa9"), "/mnt/dé");
    assert_eq!(unescape_mount(r"/mnt/my\x20disk"), "/mnt/my disk");
    assert_eq!(unescape_mount(r"/mnt/a\x5cb"), r"/mnt/a\b");
    // Malformed or cut-off escapes are kept as written, never a panic.
    for s in [
        r"/mnt/x\x",
        r"/mnt/x\x2",
        r"/mnt/x\",
        r"/mnt/\xzz",
        r"/mnt/\xé",
        r"/mnt/\x2é",
    ] {
        assert_eq!(unescape_mount(s), s);
    }

    // The guard "already a mount point" sees the non-ASCII mount.
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/mnt/dé",
    )]);
    let out = format!(
        "{M}lsblk\n{{\"blockdevices\": [{{\"name\":\"sdb\", \"size\":0, \"type\":\"disk\", \"rota\":false}}]}}\n\
         {M}mounts\n/ /dev/sda1\n/mnt/d\\xc3\\xa9 /dev/sdc1\n"
    );
    let v = parse_probe(&out).expect("probe");
    assert_eq!(
        plan_host(&h, &v).expect_err("mounted").to_string(),
        "refused: /mnt/dé is already a mount point (of /dev/sdc1)"
    );
}

/// The host's fstab may write `/data/` where the plan says `/data`: the same mount point,
/// so a finished layout is done. The plan itself must write it plainly (the core's rule).
#[test]
fn trailing_slash_mounts_compare_as_the_host_reports_them() {
    assert_eq!(normalize_mount("/data/"), "/data");
    assert_eq!(normalize_mount("//data//x//"), "/data/x");
    assert_eq!(normalize_mount("/"), "/");
    assert_eq!(normalize_mount("///"), "/");
    let mut l = layout(Level::Single, &["sdb"], Filesystem::Ext4, "/data");
    l.relocate = vec![Relocate::Kubelet];
    let h = host(vec![l]);

    let mut v = blank(&["sdb"], true);
    if let Some(d) = v.devices.get_mut("sdb") {
        d.fstype = Some("ext4".into());
        d.uuid = Some("abcd".into());
    }
    v.fstab.push_str("UUID=abcd  /data/  ext4  defaults  0 0\n");
    v.mounts.insert("/data".into(), "/dev/sdb".into());
    v.dirs.insert("/data/kubelet".into());
    assert_eq!(plan_host(&h, &v).expect("done"), vec![]);

    let mut slash = h.clone();
    slash.storage[0].mount = "/data/".into();
    assert_eq!(
        plan_host(&slash, &blank(&["sdb"], true))
            .expect_err("not plain")
            .to_string(),
        "refused: mount point `/data/` has a trailing or doubled `/` (write /data)"
    );
    // A root-only mount written oddly is still refused.
    let root = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "//",
    )]);
    assert!(plan_host(&root, &blank(&["sdb"], true)).is_err());
}

/// One mount rule: every mount point `rackstrap check` refuses (plan::mount_problem) is
/// refused by the stage with the same words, before any command. The stage's own rule
/// took all of these but the blank.
#[test]
fn mount_points_check_refuses_are_refused_by_the_stage() {
    for mount in [
        "/etc",
        "/var",
        "/boot/efi",
        "/data/../etc",
        "/data/./x",
        "/data//x",
        "/data/",
        "data",
        "/my data",
    ] {
        let problem = crate::plan::mount_problem(mount).expect("check refuses it");
        for level in [Level::Single, Level::PerDisk] {
            let h = host(vec![layout(level, &["sdb"], Filesystem::Ext4, mount)]);
            let e = plan_host(&h, &blank(&["sdb"], true)).expect_err(mount);
            assert!(
                e.to_string()
                    .starts_with(&format!("refused: {}", problem.message)),
                "{mount}: {e}"
            );
        }
    }
    // What check takes, the stage takes.
    for mount in ["/data", "/mnt/dé", "/srv/ais"] {
        assert_eq!(crate::plan::mount_problem(mount), None);
        let h = host(vec![layout(
            Level::Single,
            &["sdb"],
            Filesystem::Ext4,
            mount,
        )]);
        assert!(plan_host(&h, &blank(&["sdb"], true)).is_ok(), "{mount}");
    }
}

/// A rented server with its root on `/dev/md0` (RAID1 over two partitions): the plan's
/// array gets the first free name, in the dry run (facts' lsblk tree) and the run
/// (probe with sysfs) alike.
#[test]
fn md_arrays_take_the_first_name_the_host_does_not_have() {
    let h = host(vec![
        layout(Level::Raid0, &["sdc", "sdd"], Filesystem::Ext4, "/data"),
        layout(Level::Raid1, &["sde", "sdf"], Filesystem::Xfs, "/mirror"),
    ]);
    let out = format!(
        r#"{M}lsblk
{{"blockdevices": [
  {{"name":"sda", "size":0, "type":"disk", "rota":false, "children": [
{{"name":"sda1", "size":0, "type":"part", "rota":false, "fstype":"linux_raid_member", "children": [
  {{"name":"md0", "size":0, "type":"raid1", "rota":false, "fstype":"ext4", "mountpoints":["/"]}}]}}]}},
  {{"name":"sdb", "size":0, "type":"disk", "rota":false, "children": [
{{"name":"sdb1", "size":0, "type":"part", "rota":false, "fstype":"linux_raid_member", "children": [
  {{"name":"md0", "size":0, "type":"raid1", "rota":false, "fstype":"ext4", "mountpoints":["/"]}}]}}]}},
  {{"name":"sdc", "size":0, "type":"disk", "rota":false}},
  {{"name":"sdd", "size":0, "type":"disk", "rota":false}},
  {{"name":"sde", "size":0, "type":"disk", "rota":false}},
  {{"name":"sdf", "size":0, "type":"disk", "rota":false}}
]}}
{M}md
md0 raid1 sda1 sdb1 
md2 inactive sdg 
{M}fstab
{M}mounts
/ /dev/md0
"#
    );
    let v = parse_probe(&out).expect("probe");
    assert_eq!(
        v.md["md0"],
        MdView {
            level: "raid1".into(),
            members: vec!["sda1".into(), "sdb1".into()]
        }
    );
    let names: Vec<String> = targets(&h, &v)
        .expect("names")
        .into_iter()
        .map(|t| t.device)
        .collect();
    assert_eq!(names, ["/dev/md1", "/dev/md3"]);
    let cmds = shells(&plan_host(&h, &v).expect("plan"));
    assert_eq!(
        cmds[0],
        "mdadm --create /dev/md1 --level=raid0 --metadata=1.2 --raid-devices=2 /dev/sdc /dev/sdd"
    );
    assert!(cmds.iter().any(|c| c == "mkfs.xfs -L rackstrap /dev/md3"));

    // Without the sysfs section (the dry run's facts) the lsblk tree tells the same.
    let no_sysfs = out.replace("md0 raid1 sda1 sdb1 \nmd2 inactive sdg \n", "");
    let v2 = parse_probe(&no_sysfs).expect("probe");
    assert_eq!(v2.arrays()["md0"], v.md["md0"]);
    let names: Vec<String> = targets(&h, &v2)
        .expect("names")
        .into_iter()
        .map(|t| t.device)
        .collect();
    assert_eq!(names, ["/dev/md1", "/dev/md2"]);

    // The probe asks sysfs for every array's level and members.
    let script = probe_command(&h).shell;
    assert!(script.contains("/sys/block/md*"), "{script}");
    assert!(script.contains("$m/md/level") && script.contains("$m/slaves"));
}

/// An array is the plan's only when level and members match: a leftover raid0 over other
/// disks at the planned mount is refused, one of the planned shape is taken as done.
#[test]
fn an_existing_array_of_another_shape_is_refused_and_one_of_the_planned_shape_is_kept() {
    let h = host(vec![layout(
        Level::Raid1,
        &["sdb", "sdc"],
        Filesystem::Ext4,
        "/data",
    )]);
    let view = |level: &str, members: &[&str]| {
        let mut v = blank(&["sdb", "sdc", "nvme0n1", "nvme1n1"], false);
        for m in members {
            if let Some(d) = v.devices.get_mut(*m) {
                d.fstype = Some("linux_raid_member".into());
                d.children = vec!["md0".into()];
            }
        }
        v.devices.insert(
            "md0".into(),
            DeviceView {
                kind: level.into(),
                fstype: Some("ext4".into()),
                uuid: Some("u-md".into()),
                label: Some(FS_LABEL.into()),
                mountpoints: vec!["/data".into()],
                ..Default::default()
            },
        );
        v.mounts.insert("/data".into(), "/dev/md0".into());
        v.fstab.push_str("UUID=u-md /data ext4 defaults 0 0\n");
        v.md.insert(
            "md0".into(),
            MdView {
                level: level.into(),
                members: members.iter().map(|m| m.to_string()).collect(),
            },
        );
        v
    };
    assert_eq!(
        plan_host(&h, &view("raid0", &["nvme0n1", "nvme1n1"]))
            .expect_err("other array")
            .to_string(),
        "refused: md0 is raid0 over nvme0n1, nvme1n1; the plan wants raid1 over sdb, sdc"
    );
    // Same members, other level: refused too (and before anything touches the members).
    assert_eq!(
        plan_host(&h, &view("raid0", &["sdb", "sdc"]))
            .expect_err("other level")
            .to_string(),
        "refused: md0 is raid0 over sdb, sdc; the plan wants raid1 over sdb, sdc"
    );
    // The planned shape: done, nothing to do.
    assert_eq!(
        plan_host(&h, &view("raid1", &["sdb", "sdc"])).expect("done"),
        vec![]
    );
}

/// After Kubespray, kubeadm has written /var/lib/kubelet again next to the moved
/// <mount>/kubelet: a rerun on the finished layout is nothing to do, with a note; on a
/// layout not yet in place both existing is still refused.
#[test]
fn relocation_is_done_when_kubeadm_refilled_the_source_after_deployment() {
    let mut l = layout(Level::Single, &["sdb"], Filesystem::Ext4, "/data");
    l.relocate = vec![Relocate::Kubelet, Relocate::Containerd];
    let h = host(vec![l]);
    let mut v = blank(&["sdb"], true);
    if let Some(d) = v.devices.get_mut("sdb") {
        d.fstype = Some("ext4".into());
        d.uuid = Some("u1".into());
    }
    v.fstab.push_str("UUID=u1 /data ext4 defaults 0 0\n");
    v.units
        .extend(["kubelet".to_string(), "containerd".to_string()]);
    v.dirs.extend(
        ["/data/kubelet", "/data/containerd", KUBELET_DIR]
            .into_iter()
            .map(String::from),
    );
    // Not mounted yet: which copy is the real one is unclear, refused.
    assert_eq!(
        plan_host(&h, &v).expect_err("both").to_string(),
        "refused: both /var/lib/kubelet and /data/kubelet exist; move one aside before relocating kubelet data"
    );
    v.mounts.insert("/data".into(), "/dev/sdb".into());
    assert_eq!(plan_host(&h, &v).expect("done"), vec![]);
    let notes = relocation_notes(&h, &v);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with(
            "kubelet data already moved to /data/kubelet; /var/lib/kubelet exists again"
        ),
        "{}",
        notes[0]
    );
}

/// Layout A wipes sdb and sdc, layout B formats sdb1: refused before any command.
#[test]
fn a_disk_and_its_own_partition_both_planned_are_refused() {
    let mut a = layout(Level::Raid1, &["sdb", "sdc"], Filesystem::Ext4, "/data");
    a.wipe = true;
    let b = layout(Level::Single, &["sdb1"], Filesystem::Xfs, "/other");
    let mut v = blank(&["sdb", "sdc"], false);
    if let Some(d) = v.devices.get_mut("sdb") {
        d.children = vec!["sdb1".into()];
    }
    v.devices.insert(
        "sdb1".into(),
        DeviceView {
            kind: "part".into(),
            rotational: Some(false),
            ..Default::default()
        },
    );
    let expected = "refused: /dev/sdb1 is part of /dev/sdb; the plan names both, use one of them";
    for h in [host(vec![a.clone(), b.clone()]), host(vec![b, a])] {
        assert_eq!(plan_host(&h, &v).expect_err("nested").to_string(), expected);
    }
    // Each alone is fine.
    let mut a = layout(Level::Raid1, &["sdb", "sdc"], Filesystem::Ext4, "/data");
    a.wipe = true;
    assert!(plan_host(&host(vec![a]), &v).is_ok());
}

/// A host whose probe printed this and exited with that status.
struct Canned(u32, String, String);

#[async_trait::async_trait]
impl crate::provision::remote::Remote for Canned {
    async fn exec(
        &self,
        _command: &str,
        _stdin: Option<Vec<u8>>,
        on_output: &mut (dyn FnMut(crate::provision::remote::OutLines) + Send),
    ) -> Result<u32, crate::provision::remote::RemoteError> {
        for (text, stderr) in [(&self.1, false), (&self.2, true)] {
            on_output(crate::provision::remote::OutLines {
                lines: text.lines().map(str::to_string).collect(),
                stderr,
            });
        }
        Ok(self.0)
    }
}

/// The live probe is trusted only when it ran to its end marker: a cut-off output (the
/// connection lost mid-way, a shell that stopped) is an error, not a host with fewer disks.
#[tokio::test]
async fn a_probe_cut_short_is_an_error_not_a_smaller_host() {
    let h = host(vec![layout(
        Level::Single,
        &["sdb"],
        Filesystem::Ext4,
        "/data",
    )]);
    let lsblk = format!(
        "{M}lsblk\n{{\"blockdevices\": [{{\"name\":\"sdb\", \"size\":1, \"type\":\"disk\", \"rota\":false}}]}}\n"
    );
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut log = crate::provision::log::StepLog::new("node1", StageId::Storage, tx, None);
    let probe = |status, out: &str, err: &str| Canned(status, out.to_string(), err.to_string());

    let whole = probe(0, &format!("{lsblk}{M}fstab\n{M}end\n"), "");
    let v = HostView::probe(&h, &whole, &mut log).await.expect("whole");
    assert!(v.devices.contains_key("sdb"));

    let cut = probe(0, &lsblk, "");
    assert_eq!(
        HostView::probe(&h, &cut, &mut log)
            .await
            .expect_err("cut")
            .to_string(),
        "could not read the host's disks: the probe stopped before its end"
    );
    let failed = probe(1, "", "lsblk: not found");
    assert!(
        HostView::probe(&h, &failed, &mut log)
            .await
            .expect_err("failed")
            .to_string()
            .ends_with("could not read the host's disks: lsblk: not found")
    );
}
