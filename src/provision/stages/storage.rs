//! Storage: turns the plan's layouts into mounted filesystems, the way seed 001 step 7 does
//! by hand, and one XFS per disk at `<mount>/<device>` as seed 004 does.
//!
//! Data flow: the host is looked at once (`HostView`: its block devices from `lsblk`, its
//! `/etc/fstab`, its mounts, which kube services and data directories exist), either live
//! over SSH or from discovery facts for the dry run. `plan_host` turns the plan plus that view
//! into the commands still needed, or a refusal. Refusals happen before any command runs on
//! the host. A target already laid out as planned (filesystem of the planned type, mounted at
//! the planned place, fstab entry by its UUID) produces no commands, so a second run changes
//! nothing. A run that stopped after mkfs (host lost before the fstab line) left a
//! filesystem labelled `rackstrap` on the planned device and nothing else: the next run
//! takes it as its own and goes on with the fstab line, the mount and the relocation, while a
//! filesystem without that label is refused as before.
//!
//! md arrays take the first `/dev/mdN` the host does not have, unless an array of the
//! planned level over exactly the planned members exists (then it is the plan's); an array
//! of another shape on a planned device or at the planned mount is refused.
//!
//! Per target the commands are, in order (seed 001 step 7):
//! `wipefs -a` (only with `wipe: true`), `mdadm --create ... --metadata=1.2` (md levels),
//! `mkfs.ext4`/`mkfs.xfs` with the label `rackstrap` (`-L`), `cp -p /etc/fstab /etc/fstab.1`, the fstab line by UUID
//! (`defaults,discard` only when every member is non-rotational), `mkdir -p`, `mount`; then
//! once per host with md arrays `/usr/share/mdadm/mkconf > /etc/mdadm/mdadm.conf` and
//! `update-initramfs`; then the kubelet/containerd relocation: both services stopped and
//! disabled first (Kubespray enables and starts them again with the new paths, which the
//! renderer puts into `containerd_storage_dir` and `kubelet_custom_flags`), data moved.

use std::collections::{BTreeMap, BTreeSet};

use crate::facts::gather::LSBLK;
use crate::facts::probe::{self, Script};
use crate::facts::{Blkid, BlockDevice, HostFacts, parse_blkid, parse_lsblk};
use crate::plan::{Discard, Filesystem, Host, Level, Plan, Relocate, StorageLayout};
use crate::provision::cmd::{Cmd, StepError, quote};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Stage};
use async_trait::async_trait;

/// Seed 001 step 7: the fstab backup the operator can diff against.
pub const FSTAB_BACKUP: &str = "/etc/fstab.1";
/// Seed 001 step 7 step 9: Debian/Ubuntu's generator for mdadm.conf.
pub const MKCONF: &str = "/usr/share/mdadm/mkconf";
pub const MDADM_CONF: &str = "/etc/mdadm/mdadm.conf";
/// Seed 001 runs `update-initramfs -c -k all`; `-c` fails where the image already exists
/// (every installed system), `-u -k all` rebuilds the existing images for all kernels,
/// which is what the step is for: the new mdadm.conf inside the initramfs.
pub const UPDATE_INITRAMFS: &str = "update-initramfs -u -k all";
/// Where kubelet and containerd keep their data before relocation (seed 001 step 7).
pub const KUBELET_DIR: &str = "/var/lib/kubelet";
pub const CONTAINERD_DIR: &str = "/var/lib/containerd";
/// The label every filesystem the stage makes gets (`mkfs -L`), so a rerun after a host died
/// between mkfs and the fstab line recognises the filesystem as its own and finishes the
/// remaining steps instead of refusing a formatted disk. 9 characters: XFS labels hold at
/// most 12, ext4 labels 16.
pub const FS_LABEL: &str = "rackstrap";
/// Unit directories where an installed kubelet/containerd leaves its unit file.
const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

pub struct Storage;

#[async_trait]
impl Stage for Storage {
    fn id(&self) -> StageId {
        StageId::Storage
    }

    fn concerns(&self, _plan: &Plan, host: &Host) -> bool {
        !host.storage.is_empty()
    }

    fn destructive(&self) -> bool {
        true
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        let view = match ctx.facts {
            Some(f) => HostView::from_facts(f),
            None => HostView::unknown(ctx.host),
        };
        plan_host(ctx.host, &view)
    }

    async fn check(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        let view = HostView::probe(ctx.host, remote, log).await?;
        let cmds = plan_host(ctx.host, &view)?;
        for note in relocation_notes(ctx.host, &view) {
            log.note(&note);
        }
        Ok(cmds)
    }

    async fn verify(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<(), StepError> {
        let view = HostView::probe(ctx.host, remote, log).await?;
        let left = plan_host(ctx.host, &view)?;
        if left.is_empty() {
            Ok(())
        } else {
            Err(StepError::Check(format!(
                "after applying, {} command(s) would still be needed, first: {}",
                left.len(),
                left[0]
            )))
        }
    }
}

/// What the storage stage needs to know about a host's current state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostView {
    /// Block devices by kernel name (every node of the lsblk tree, flattened).
    pub devices: BTreeMap<String, DeviceView>,
    pub fstab: String,
    /// Mount point -> source device, from the host's mount table.
    pub mounts: BTreeMap<String, String>,
    /// Services whose unit files exist (`kubelet`, `containerd`).
    pub units: BTreeSet<String>,
    /// Directories that exist among those the relocation looks at.
    pub dirs: BTreeSet<String>,
    /// md arrays by kernel name (`md0`): level and member devices, from sysfs on a live
    /// host, else from the lsblk tree (an array's parents are its members).
    pub md: BTreeMap<String, MdView>,
}

/// An md array the host already has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MdView {
    /// `raid0`, `raid1`, ... as the kernel names it (`/sys/block/mdN/md/level`).
    pub level: String,
    /// Kernel names of the members, sorted.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceView {
    pub kind: String,
    /// `None` when unknown (dry run without facts).
    pub rotational: Option<bool>,
    pub fstype: Option<String>,
    pub uuid: Option<String>,
    /// The filesystem's label (`blkid`'s `LABEL`).
    pub label: Option<String>,
    pub mountpoints: Vec<String>,
    /// Names of child devices (partitions, md arrays built on it).
    pub children: Vec<String>,
    pub holds_root: bool,
}

impl HostView {
    /// What the dry run assumes when nothing is known: the plan's devices exist, blank,
    /// rotation unknown (so `discard: auto` stays off), no kube services installed yet.
    pub fn unknown(host: &Host) -> Self {
        let mut v = HostView::default();
        for layout in &host.storage {
            for d in &layout.devices {
                v.devices.insert(
                    d.clone(),
                    DeviceView {
                        kind: "disk".into(),
                        ..Default::default()
                    },
                );
            }
        }
        v
    }

    /// The host's md arrays: what sysfs said, and for arrays it did not describe (the dry
    /// run's facts) what the lsblk tree shows: an array is a child of type `raid*` under
    /// each of its members.
    pub fn arrays(&self) -> BTreeMap<String, MdView> {
        let mut all = self.md.clone();
        let mut found: BTreeMap<String, MdView> = BTreeMap::new();
        for (parent, d) in &self.devices {
            for c in &d.children {
                let Some(child) = self.devices.get(c) else {
                    continue;
                };
                if child.kind.starts_with("raid") || child.kind == "linear" {
                    let m = found.entry(c.clone()).or_insert_with(|| MdView {
                        level: child.kind.clone(),
                        members: Vec::new(),
                    });
                    m.members.push(parent.clone());
                }
            }
        }
        // What sysfs said (read before) stays; the tree only fills the gaps.
        for (name, mut m) in found {
            m.members.sort();
            m.members.dedup();
            all.entry(name).or_insert(m);
        }
        all
    }

    /// The block devices of an lsblk tree ([`crate::facts::parse_lsblk`]), flattened: every
    /// device once by kernel name (an md array listed under each member keeps its first
    /// description), each mount point with its device.
    pub fn from_devices(disks: &[BlockDevice]) -> Self {
        fn walk(list: &[BlockDevice], v: &mut HostView) {
            for d in list {
                v.devices
                    .entry(d.name.clone())
                    .or_insert_with(|| DeviceView {
                        kind: d.kind.clone(),
                        rotational: Some(d.rotational),
                        fstype: d.fstype.clone(),
                        uuid: d.uuid.clone(),
                        label: d.label.clone(),
                        mountpoints: d.mountpoints.clone(),
                        children: d.children.iter().map(|c| c.name.clone()).collect(),
                        holds_root: d.holds_root(),
                    });
                for m in &d.mountpoints {
                    v.mounts.insert(m.clone(), format!("/dev/{}", d.name));
                }
                walk(&d.children, v);
            }
        }
        let mut v = HostView::default();
        walk(disks, &mut v);
        v
    }

    /// `blkid -p` read the devices that matter from the disk itself: for those, its answer
    /// replaces lsblk's (udev's database lags behind a fresh mkfs or wipefs), a blank answer
    /// included. A partition table without a filesystem counts as a signature.
    pub fn apply_blkid(&mut self, found: &BTreeMap<String, Blkid>) {
        for (name, b) in found {
            if let Some(dev) = self.devices.get_mut(name) {
                dev.fstype = b
                    .fstype
                    .clone()
                    .or_else(|| b.pttype.as_ref().map(|p| format!("{p} partition table")));
                dev.uuid.clone_from(&b.uuid);
                dev.label.clone_from(&b.label);
            }
        }
    }

    /// What the dry run knows from discovery: the lsblk tree, and kubelet/containerd (with
    /// their data directories) where they are installed.
    pub fn from_facts(facts: &HostFacts) -> Self {
        let mut v = HostView::from_devices(&facts.disks);
        if facts.installed.kubelet {
            v.units.insert("kubelet".into());
            v.dirs.insert(KUBELET_DIR.into());
        }
        if facts.installed.containerd {
            v.units.insert("containerd".into());
            v.dirs.insert(CONTAINERD_DIR.into());
        }
        v
    }

    /// Reads the live state with one read-only script.
    pub async fn probe(
        host: &Host,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Self, StepError> {
        let out = remote.capture(&probe_command(host).shell).await?;
        if !out.ok() || !probe::split(&out.stdout).complete() {
            return Err(StepError::Check(format!(
                "could not read the host's disks: {}",
                out.stderr.trim()
            )));
        }
        let view = parse_probe(&out.stdout).map_err(StepError::Check)?;
        log.note(&format!(
            "looked at {} block device(s), {} mount(s)",
            view.devices.len(),
            view.mounts.len()
        ));
        Ok(view)
    }
}

/// The read-only probe, in the host-probe protocol ([`crate::facts::probe`]): lsblk as
/// JSON, the on-disk signatures, md arrays, fstab, mounts, unit files and data directories.
pub fn probe_command(host: &Host) -> Cmd {
    Cmd::new(probe_script(host).one_line())
}

fn probe_script(host: &Host) -> Script {
    let mut dirs: BTreeSet<String> = [KUBELET_DIR, CONTAINERD_DIR]
        .into_iter()
        .map(String::from)
        .collect();
    for layout in &host.storage {
        for r in &layout.relocate {
            dirs.insert(relocated_dir(&layout.mount, *r));
        }
    }
    // lsblk takes FSTYPE and UUID from udev's database, which lags behind a fresh mkfs (or
    // is absent): the signatures of the devices that matter are read from the disk itself:
    // the planned devices and every md array (which one the plan gets depends on the names
    // already taken, known only after this probe). Each device's record is opened with its
    // name, so a blank device (blkid prints nothing) is known to be blank.
    let mut names: BTreeSet<String> = BTreeSet::new();
    for layout in &host.storage {
        names.extend(layout.devices.iter().cloned());
    }
    let units: Vec<String> = ["kubelet", "containerd"]
        .into_iter()
        .map(|unit| {
            let tests: Vec<String> = UNIT_DIRS
                .iter()
                .map(|d| format!("[ -e {d}/{unit}.service ]"))
                .collect();
            format!("if {}; then echo {unit}; fi", tests.join(" || "))
        })
        .collect();
    Script::new()
        // The facts' lsblk (old util-linux without MOUNTPOINTS included); no lsblk, no look.
        .section("lsblk", format!("{LSBLK} || exit 1"))
        .section(
            "blkid",
            format!(
                "for d in {} $(cd /sys/block 2>/dev/null && ls -d md* 2>/dev/null); do echo; \
                 echo \"DEVNAME=/dev/$d\"; blkid -p -o export \"/dev/$d\" 2>/dev/null; done",
                names.iter().map(|d| quote(d)).collect::<Vec<_>>().join(" ")
            ),
        )
        // Each md array's level and members, so an array is only taken as the plan's when
        // both match (`/sys/block/mdN/md/level`, `/sys/block/mdN/slaves/`).
        .section(
            "md",
            "for m in /sys/block/md*; do [ -e \"$m/md/level\" ] || continue; \
             l=\"$(cat \"$m/md/level\")\"; \
             echo \"${m##*/} ${l:-inactive} $(ls \"$m/slaves\" 2>/dev/null | tr '\\n' ' ')\"; done",
        )
        .section("fstab", "cat /etc/fstab 2>/dev/null")
        .section("mounts", "findmnt -rn -o TARGET,SOURCE")
        .section("units", units.join("; "))
        .section(
            "dirs",
            format!(
                "for d in {}; do [ -d \"$d\" ] && echo \"$d\"; done; true",
                dirs.iter().map(|d| quote(d)).collect::<Vec<_>>().join(" ")
            ),
        )
}

/// The probe's output as a view: lsblk and blkid read by the facts parsers, the rest here.
pub fn parse_probe(out: &str) -> Result<HostView, String> {
    let sections = probe::split(out);
    let lsblk = sections
        .get("lsblk")
        .ok_or("the probe printed no lsblk section")?;
    let disks = parse_lsblk(lsblk).map_err(|e| format!("could not read lsblk's answer: {e}"))?;
    let mut view = HostView::from_devices(&disks);
    if let Some(blkid) = sections.get("blkid") {
        view.apply_blkid(&parse_blkid(blkid));
    }
    for line in sections.text("md").lines() {
        let mut it = line.split_whitespace();
        if let (Some(name), Some(level)) = (it.next(), it.next()) {
            let mut members: Vec<String> = it.map(String::from).collect();
            members.sort();
            view.md.insert(
                name.to_string(),
                MdView {
                    level: level.to_string(),
                    members,
                },
            );
        }
    }
    view.fstab = sections.text("fstab").to_string();
    for line in sections.text("mounts").lines() {
        let mut it = line.split_whitespace();
        if let (Some(target), Some(source)) = (it.next(), it.next()) {
            view.mounts
                .insert(unescape_mount(target), unescape_mount(source));
        }
    }
    view.units.extend(sections.words("units").map(String::from));
    view.dirs.extend(sections.words("dirs").map(String::from));
    Ok(view)
}

/// findmnt -r escapes blanks and backslashes as `\x20`-style sequences, one per byte: the
/// path is rebuilt as bytes and read as UTF-8 at the end, so `/mnt/dé` (printed as is or as
/// `\xc3\xa9`) stays `/mnt/dé`. A backslash not followed by `x` and two hex digits is kept.
fn unescape_mount(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let (Some(hi), Some(lo)) = (
                b.get(i + 2).copied().and_then(hex),
                b.get(i + 3).copied().and_then(hex),
            )
        {
            out.push(hi << 4 | lo);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One filesystem the plan wants: the device it is made on, where it is mounted, and the
/// plan devices underneath it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target<'a> {
    pub layout: &'a StorageLayout,
    /// `/dev/md0`, `/dev/sdb`.
    pub device: String,
    /// Kernel name of `device` (`md0`, `sdb`).
    pub name: String,
    pub mount: String,
    pub members: Vec<String>,
}

/// The filesystems a host's plan asks for, in plan order.
///
/// md arrays: an array the host already has with the planned level over exactly the planned
/// members is the plan's (made by an earlier run) and keeps its name. An array of another
/// shape standing on a planned member or at the planned mount is refused, naming both shapes.
/// Otherwise the array gets the first `/dev/mdN` the host does not have and no earlier layout
/// took: `/dev/md0` on a host without arrays (seed 001), `/dev/md1` where the root
/// filesystem already sits on `/dev/md0`. The choice depends only on the plan and the view,
/// so the dry run and the run agree.
pub fn targets<'a>(host: &'a Host, view: &HostView) -> Result<Vec<Target<'a>>, StepError> {
    let mut out = Vec::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for layout in &host.storage {
        match layout.level {
            Level::PerDisk => {
                for d in &layout.devices {
                    out.push(Target {
                        layout,
                        device: format!("/dev/{d}"),
                        name: d.clone(),
                        mount: normalize_mount(&format!("{}/{}", layout.mount, d)),
                        members: vec![d.clone()],
                    });
                }
            }
            Level::Single => {
                let d = layout.devices.first().cloned().unwrap_or_default();
                out.push(Target {
                    layout,
                    device: format!("/dev/{d}"),
                    name: d.clone(),
                    mount: normalize_mount(&layout.mount),
                    members: vec![d],
                });
            }
            _ => {
                let mount = normalize_mount(&layout.mount);
                let name = md_name(layout, &mount, view, &taken)?;
                taken.insert(name.clone());
                out.push(Target {
                    layout,
                    device: format!("/dev/{name}"),
                    name,
                    mount,
                    members: layout.devices.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// The md array name for an md layout; see [`targets`].
fn md_name(
    layout: &StorageLayout,
    mount: &str,
    view: &HostView,
    taken: &BTreeSet<String>,
) -> Result<String, StepError> {
    let level = mdadm_level(layout.level);
    let mut wanted: Vec<String> = layout.devices.clone();
    wanted.sort();
    let arrays = view.arrays();
    let mut in_the_way = None;
    for (name, md) in &arrays {
        if taken.contains(name) {
            continue;
        }
        if md.level == level && md.members == wanted {
            return Ok(name.clone());
        }
        let on_member = layout
            .devices
            .iter()
            .any(|d| descendants(view, d).contains(name));
        let dev = format!("/dev/{name}");
        let at_mount = view.mounts.get(mount) == Some(&dev)
            || view.devices.get(name).is_some_and(|d| {
                d.mountpoints.iter().any(|m| m == mount)
                    || d.uuid.as_deref().is_some_and(|u| {
                        fstab_entry(&view.fstab, mount).is_some_and(|(field, _)| {
                            field == format!("UUID={u}") || field == format!("UUID=\"{u}\"")
                        })
                    })
            });
        if in_the_way.is_none() && (on_member || at_mount) {
            in_the_way = Some((name, md));
        }
    }
    if let Some((name, md)) = in_the_way {
        return Err(StepError::Refused(format!(
            "{name} is {} over {}; the plan wants {level} over {}",
            md.level,
            md.members.join(", "),
            layout.devices.join(", ")
        )));
    }
    (0u32..)
        .map(|n| format!("md{n}"))
        .find(|n| !taken.contains(n) && !view.devices.contains_key(n) && !arrays.contains_key(n))
        .ok_or_else(|| StepError::Refused("no free md array name".into()))
}

/// A mount path as the kernel reports it (findmnt, lsblk): `//` collapsed, no trailing `/`
/// except for the root itself. The plan may say `/data/`; the host's mount table says
/// `/data`, and every comparison, fstab line and command of the stage uses this form.
pub fn normalize_mount(mount: &str) -> String {
    let mut out = String::with_capacity(mount.len());
    for c in mount.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// `<mount>/kubelet`, `<mount>/containerd` (seed 001: `/data/kubelet`, `/data/containerd`).
pub fn relocated_dir(mount: &str, r: Relocate) -> String {
    let base = normalize_mount(mount);
    let base = base.trim_end_matches('/');
    match r {
        Relocate::Kubelet => format!("{base}/kubelet"),
        Relocate::Containerd => format!("{base}/containerd"),
    }
}

fn mdadm_level(level: Level) -> &'static str {
    match level {
        Level::Raid0 => "raid0",
        Level::Raid1 => "raid1",
        Level::Raid5 => "raid5",
        Level::Raid6 => "raid6",
        Level::Raid10 => "raid10",
        Level::Single | Level::PerDisk => "",
    }
}

/// Mount options: `defaults,discard` only when discard is on, or auto and every member is
/// known to be non-rotational (seed 001: "Remove ,discard ... if you are NOT using SSD/NVME").
pub fn mount_options(target: &Target<'_>, view: &HostView) -> &'static str {
    let discard = match target.layout.discard {
        Discard::On => true,
        Discard::Off => false,
        Discard::Auto => target
            .members
            .iter()
            .all(|m| view.devices.get(m).and_then(|d| d.rotational) == Some(false)),
    };
    if discard {
        "defaults,discard"
    } else {
        "defaults"
    }
}

/// The fstab entry (device field, options) the host has for `mount`, if any.
fn fstab_entry<'v>(fstab: &'v str, mount: &str) -> Option<(&'v str, &'v str)> {
    fstab.lines().find_map(|line| {
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() >= 2 && normalize_mount(f[1]) == mount)
            .then(|| (f[0], f.get(3).copied().unwrap_or("")))
    })
}

/// Where a target stands on the host.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    /// Made, in fstab by UUID, mounted: nothing to do.
    Done,
    /// Made and in fstab by its UUID by an earlier run, not mounted yet.
    NeedsMount,
    /// Made (with [`FS_LABEL`]) by an earlier run that stopped before its fstab line: the
    /// fstab line, mount and what follows are still to do; the filesystem is kept.
    Formatted,
    /// Nothing of it exists yet.
    Fresh,
}

fn assess(target: &Target<'_>, view: &HostView) -> Result<Progress, StepError> {
    let fs = target.layout.filesystem.as_str();
    let dev = view.devices.get(&target.name);
    let entry = fstab_entry(&view.fstab, &target.mount);
    if let Some(dev) = dev
        && dev.fstype.as_deref() == Some(fs)
        && let (Some(uuid), Some((field, _))) = (&dev.uuid, entry)
        && (field == format!("UUID={uuid}") || field == format!("UUID=\"{uuid}\""))
    {
        let mounted = view.mounts.get(&target.mount).map(String::as_str) == Some(&target.device)
            || dev.mountpoints.iter().any(|m| m == &target.mount);
        return Ok(if mounted {
            Progress::Done
        } else {
            Progress::NeedsMount
        });
    }
    if let Some((field, _)) = entry {
        return Err(StepError::Refused(format!(
            "/etc/fstab already mounts something else ({field}) at {}",
            target.mount
        )));
    }
    if let Some(source) = view.mounts.get(&target.mount) {
        return Err(StepError::Refused(format!(
            "{} is already a mount point (of {source})",
            target.mount
        )));
    }
    if let Some(dev) = dev
        && own_filesystem(dev, fs, view)
    {
        return Ok(Progress::Formatted);
    }
    if target.layout.level.is_md() && dev.is_some() {
        return Err(StepError::Refused(format!(
            "{} already exists on the host; the plan wants to create it",
            target.device
        )));
    }
    Ok(Progress::Fresh)
}

/// A filesystem this stage made on the planned device and left before its fstab line: the
/// planned type, rackstrap's label, not mounted anywhere, its UUID in no fstab line. A
/// filesystem without the label (someone else's) is not ours and stays refused unless the
/// layout says `wipe: true`.
fn own_filesystem(dev: &DeviceView, fs: &str, view: &HostView) -> bool {
    dev.fstype.as_deref() == Some(fs)
        && dev.label.as_deref() == Some(FS_LABEL)
        && dev.mountpoints.is_empty()
        && dev.uuid.as_deref().is_some_and(|uuid| {
            !uuid.is_empty()
                && !view
                    .fstab
                    .lines()
                    .any(|l| !l.trim_start().starts_with('#') && l.contains(uuid))
        })
}

/// The lsblk tree below `name` as the facts describe it, rebuilt from the flattened view.
/// `path` holds the names above, so a malformed probe naming a device under itself ends.
fn subtree(view: &HostView, name: &str, path: &mut Vec<String>) -> BlockDevice {
    let mut d = BlockDevice {
        name: name.to_string(),
        ..Default::default()
    };
    let Some(v) = view.devices.get(name) else {
        return d;
    };
    d.mountpoints = v.mountpoints.clone();
    if path.iter().any(|p| p == name) {
        return d;
    }
    path.push(name.to_string());
    d.children = v.children.iter().map(|c| subtree(view, c, path)).collect();
    path.pop();
    d
}

/// Every device below `name` in the probed tree (partitions, arrays, volumes), not `name`.
fn descendants(view: &HostView, name: &str) -> BTreeSet<String> {
    fn collect(d: &BlockDevice, out: &mut BTreeSet<String>) {
        for c in &d.children {
            out.insert(c.name.clone());
            collect(c, out);
        }
    }
    let mut out = BTreeSet::new();
    collect(&subtree(view, name, &mut Vec::new()), &mut out);
    out
}

/// A disk and one of its own partitions (or anything else below it) both named by the plan:
/// wiping or formatting the one destroys the other, so the host is refused.
fn refuse_nested(host: &Host, view: &HostView) -> Result<(), StepError> {
    let planned: BTreeSet<&String> = host.storage.iter().flat_map(|l| &l.devices).collect();
    for outer in &planned {
        let below = descendants(view, outer);
        if let Some(inner) = planned.iter().find(|d| below.contains(d.as_str())) {
            return Err(StepError::Refused(format!(
                "/dev/{inner} is part of /dev/{outer}; the plan names both, use one of them"
            )));
        }
    }
    Ok(())
}

/// The safety rules for one member device of a target that is about to be made.
fn refuse_member(member: &str, layout: &StorageLayout, view: &HostView) -> Result<(), StepError> {
    let Some(dev) = view.devices.get(member) else {
        return Err(StepError::Refused(format!(
            "/dev/{member} is not on this host"
        )));
    };
    if dev.holds_root {
        return Err(StepError::Refused(format!(
            "/dev/{member} holds the root filesystem"
        )));
    }
    // Mounted anywhere below (a partition, the md array or LVM volume on it, ...), with the
    // facts' meaning of "mounted".
    let tree = subtree(view, member, &mut Vec::new());
    if tree.is_mounted() {
        return Err(StepError::Refused(format!(
            "/dev/{member} is mounted at {}; unmount it first",
            tree.mounted_at().join(", ")
        )));
    }
    if !layout.wipe {
        if let Some(fs) = &dev.fstype {
            let what = if fs == "linux_raid_member" {
                "is an md array member".to_string()
            } else {
                format!("holds a {fs} signature")
            };
            return Err(StepError::Refused(format!(
                "/dev/{member} {what}; set `wipe: true` on this layout to destroy it"
            )));
        }
        if !dev.children.is_empty() {
            return Err(StepError::Refused(format!(
                "/dev/{member} has {} ({}); set `wipe: true` on this layout to destroy them",
                if dev.children.len() == 1 {
                    "a child device"
                } else {
                    "child devices"
                },
                dev.children.join(", ")
            )));
        }
    }
    Ok(())
}

/// Whether a member carries anything `wipefs` should clear (only asked with `wipe: true`).
fn needs_wipe(member: &str, view: &HostView) -> bool {
    view.devices
        .get(member)
        .is_some_and(|d| d.fstype.is_some() || !d.children.is_empty())
}

/// Every command the storage stage still needs on `host`, or the refusal. Pure: same plan
/// and view, same commands (the golden tests pin them).
pub fn plan_host(host: &Host, view: &HostView) -> Result<Vec<Cmd>, StepError> {
    for layout in &host.storage {
        refuse_mount(&layout.mount)?;
    }
    refuse_nested(host, view)?;
    let targets = targets(host, view)?;
    // Safety first, for every target, before a single command is produced.
    let mut progress = Vec::with_capacity(targets.len());
    for t in &targets {
        // Per disk, `<mount>/<device>` is a mount point of its own.
        refuse_mount(&t.mount)?;
        let p = assess(t, view)?;
        if p == Progress::Fresh {
            for m in &t.members {
                refuse_member(m, t.layout, view)?;
            }
        }
        progress.push(p);
    }

    let mut cmds = Vec::new();
    let mut made_md = false;
    for (t, p) in targets.iter().zip(&progress) {
        match p {
            Progress::Done => continue,
            Progress::NeedsMount => {
                cmds.push(Cmd::words(["mkdir", "-p", &t.mount]));
                cmds.push(Cmd::words(["mount", &t.mount]));
                continue;
            }
            Progress::Formatted => {
                // An array made by the same run has no mdadm.conf entry yet either.
                made_md |= t.layout.level.is_md();
                cmds.extend(fstab_and_mount(t, view));
                continue;
            }
            Progress::Fresh => {}
        }
        if t.layout.wipe {
            for m in &t.members {
                if needs_wipe(m, view) {
                    cmds.push(Cmd::words(["wipefs", "-a", &format!("/dev/{m}")]));
                }
            }
        }
        if t.layout.level.is_md() {
            made_md = true;
            let level = format!("--level={}", mdadm_level(t.layout.level));
            let count = format!("--raid-devices={}", t.members.len());
            let members: Vec<String> = t.members.iter().map(|m| format!("/dev/{m}")).collect();
            let mut words = vec![
                "mdadm",
                "--create",
                &t.device,
                &level,
                "--metadata=1.2",
                &count,
            ];
            // mdadm asks before creating over old signatures; with consent to wipe the
            // answer is yes, without it the refusal above already stopped us.
            if t.layout.wipe {
                words.push("--run");
            }
            words.extend(members.iter().map(String::as_str));
            cmds.push(Cmd::words(words));
        }
        let mkfs = match t.layout.filesystem {
            Filesystem::Ext4 => "mkfs.ext4",
            Filesystem::Xfs => "mkfs.xfs",
        };
        cmds.push(Cmd::words([mkfs, "-L", FS_LABEL, &t.device]));
        cmds.extend(fstab_and_mount(t, view));
    }
    if made_md {
        cmds.push(Cmd::new(format!("{MKCONF} > {MDADM_CONF}")));
        cmds.push(Cmd::new(UPDATE_INITRAMFS));
    }
    let done = done_mounts(&targets, &progress);
    cmds.extend(relocation(host, view, &done)?.0);
    Ok(cmds)
}

/// Mount points whose filesystem is fully in place (made, in fstab, mounted).
fn done_mounts(targets: &[Target<'_>], progress: &[Progress]) -> BTreeSet<String> {
    targets
        .iter()
        .zip(progress)
        .filter(|(_, p)| **p == Progress::Done)
        .map(|(t, _)| t.mount.clone())
        .collect()
}

/// What the operator should read about the relocation besides the commands (a source
/// directory kubeadm filled again after the move). Empty when the plan is refused.
pub fn relocation_notes(host: &Host, view: &HostView) -> Vec<String> {
    let Ok(targets) = targets(host, view) else {
        return Vec::new();
    };
    let Ok(progress) = targets
        .iter()
        .map(|t| assess(t, view))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Vec::new();
    };
    relocation(host, view, &done_mounts(&targets, &progress))
        .map(|(_, notes)| notes)
        .unwrap_or_default()
}

/// After mkfs: fstab backup, the fstab line by UUID, the mount point, the mount.
fn fstab_and_mount(t: &Target<'_>, view: &HostView) -> Vec<Cmd> {
    vec![
        Cmd::words(["cp", "-p", "/etc/fstab", FSTAB_BACKUP]),
        fstab_append(t, view),
        Cmd::words(["mkdir", "-p", &t.mount]),
        Cmd::words(["mount", &t.mount]),
    ]
}

/// `UUID=<uuid> <mount> <fs> <options> 0 0` appended to /etc/fstab, the UUID read from the
/// new filesystem on the host (seed 001 uses `blkid ... -s UUID -o value` the same way).
fn fstab_append(t: &Target<'_>, view: &HostView) -> Cmd {
    Cmd::new(format!(
        "uuid=\"$(blkid {dev} -s UUID -o value)\" && [ -n \"$uuid\" ] && printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" {mount} {fs} {opts} >> /etc/fstab",
        dev = quote(&t.device),
        mount = quote(&t.mount),
        fs = t.layout.filesystem.as_str(),
        opts = mount_options(t, view),
    ))
}

/// The core's mount rule ([`crate::plan::mount_problem`], the one `rackstrap check` and the
/// wizard apply): refused here too, before anything runs, so an fstab line is never written
/// for a mount point the plan's check rejects.
fn refuse_mount(mount: &str) -> Result<(), StepError> {
    match crate::plan::mount_problem(mount) {
        None => Ok(()),
        Some(p) => Err(StepError::Refused(match p.hint {
            Some(hint) => format!("{} ({hint})", p.message),
            None => p.message,
        })),
    }
}

/// Moving kubelet/containerd data onto the new filesystem (seed 001 step 7): services
/// stopped and disabled first (kubelet, then containerd, as the seed does), then each
/// directory moved; a directory that does not exist yet (a fresh host) is created instead.
///
/// `done` holds the mount points already fully in place. There, a relocated directory that
/// exists means the move is done, even when the source exists again: kubeadm writes
/// `/var/lib/kubelet/config.yaml` and `kubeadm-flags.env` after the cluster is deployed, so
/// refusing would forbid every rerun after Kubespray. Such a case comes back as a note.
fn relocation(
    host: &Host,
    view: &HostView,
    done: &BTreeSet<String>,
) -> Result<(Vec<Cmd>, Vec<String>), StepError> {
    let mut moves: Vec<(&'static str, String, &'static str)> = Vec::new();
    let mut notes = Vec::new();
    for layout in &host.storage {
        for r in &layout.relocate {
            let (from, unit) = match r {
                Relocate::Kubelet => (KUBELET_DIR, "kubelet"),
                Relocate::Containerd => (CONTAINERD_DIR, "containerd"),
            };
            if layout.level == Level::PerDisk {
                return Err(StepError::Refused(format!(
                    "{unit} data cannot move onto a per-disk layout; pick a single filesystem"
                )));
            }
            let to = relocated_dir(&layout.mount, *r);
            let src_exists = view.dirs.contains(from);
            let dst_exists = view.dirs.contains(&to);
            if !src_exists && dst_exists {
                continue; // moved by an earlier run
            }
            if src_exists && dst_exists && done.contains(&normalize_mount(&layout.mount)) {
                notes.push(format!(
                    "{unit} data already moved to {to}; {from} exists again and holds what \
                     kubeadm writes there after deployment (config.yaml, kubeadm-flags.env); \
                     left as it is"
                ));
                continue;
            }
            if src_exists && dst_exists {
                return Err(StepError::Refused(format!(
                    "both {from} and {to} exist; move one aside before relocating {unit} data"
                )));
            }
            moves.push((from, to, unit));
        }
    }
    let mut cmds = Vec::new();
    if moves.is_empty() {
        return Ok((cmds, notes));
    }
    // Seed 001: stop and disable both, kubelet first, before moving either.
    for unit in ["kubelet", "containerd"] {
        if view.units.contains(unit) {
            cmds.push(Cmd::words(["systemctl", "stop", unit]));
            cmds.push(Cmd::words(["systemctl", "disable", unit]));
        }
    }
    for (from, to, _) in moves {
        if view.dirs.contains(from) {
            cmds.push(Cmd::words(["mv", from, &to]));
        } else {
            cmds.push(Cmd::words(["mkdir", "-p", &to]));
        }
    }
    Ok((cmds, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn seed_001_raid0_ext4_with_relocation_on_an_installed_node() {
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
                "uuid=\"$(blkid /dev/md0 -s UUID -o value)\" && [ -n \"$uuid\" ] && printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /data ext4 defaults,discard >> /etc/fstab",
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
                "uuid=\"$(blkid /dev/md0 -s UUID -o value)\" && [ -n \"$uuid\" ] && printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /mirror xfs defaults >> /etc/fstab",
                "mkdir -p /mirror",
                "mount /mirror",
                "mdadm --create /dev/md1 --level=raid10 --metadata=1.2 --raid-devices=4 /dev/sdd /dev/sde /dev/sdf /dev/sdg",
                "mkfs.ext4 -L rackstrap /dev/md1",
                "cp -p /etc/fstab /etc/fstab.1",
                "uuid=\"$(blkid /dev/md1 -s UUID -o value)\" && [ -n \"$uuid\" ] && printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" /fast ext4 defaults >> /etc/fstab",
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

        let refused = "refused: /dev/sdb holds a ext4 signature; set `wipe: true` on this layout to destroy it";
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
        let expected =
            "refused: /dev/sdb1 is part of /dev/sdb; the plan names both, use one of them";
        for h in [host(vec![a.clone(), b.clone()]), host(vec![b, a])] {
            assert_eq!(plan_host(&h, &v).expect_err("nested").to_string(), expected);
        }
        // Each alone is fine.
        let mut a = layout(Level::Raid1, &["sdb", "sdc"], Filesystem::Ext4, "/data");
        a.wipe = true;
        assert!(plan_host(&host(vec![a]), &v).is_ok());
    }
}
