//! What the host has: one read-only probe (in the host-probe protocol, [`crate::facts::probe`])
//! read into a [`HostView`], or the same view built from discovery facts for the dry run.
//! lsblk and blkid are read by the facts parsers; fstab, mounts, md arrays, unit files and
//! data directories here.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::relocated_dir;
use super::{CONTAINERD_DIR, KUBELET_DIR};
use crate::facts::gather::LSBLK;
use crate::facts::probe::{self, Script};
use crate::facts::{Blkid, BlockDevice, HostFacts, parse_blkid, parse_lsblk};
use crate::plan::Host;
use crate::provision::cmd::{Cmd, StepError, quote};
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;

/// Unit directories where an installed kubelet/containerd leaves its unit file.
const UNIT_DIRS: [&str; 3] = [
    "/etc/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

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
        Self::from_probe(&out, log)
    }

    /// The view from the output of a script that has the probe's sections
    /// ([`probe_sections`]), alone or after others (preflight's).
    pub fn from_probe(
        out: &crate::provision::remote::Captured,
        log: &mut StepLog,
    ) -> Result<Self, StepError> {
        if !out.ok() || !probe::split(&out.stdout).complete() {
            let why = match out.stderr.trim() {
                "" if out.ok() => "the probe stopped before its end".to_string(),
                "" => format!("the probe exited with status {}", out.status),
                stderr => stderr.to_string(),
            };
            return Err(StepError::Check(format!(
                "could not read the host's disks: {why}"
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

/// The probe's sections for `host`: the planned devices and relocation targets are named in
/// it, so the script depends on the plan.
pub(super) fn probe_script(host: &Host) -> Script {
    probe_sections(Script::new(), host)
}

/// `script` with the probe's sections for `host` added after its own: one command that
/// looks at the disks and at whatever else `script` asks (preflight's checks). The probe's
/// section names: lsblk, blkid, md, fstab, mounts, units, dirs.
pub fn probe_sections(script: Script, host: &Host) -> Script {
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
    script
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
pub(super) fn unescape_mount(s: &str) -> String {
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

/// The lsblk tree below `name` as the facts describe it, rebuilt from the flattened view.
/// `path` holds the names above, so a malformed probe naming a device under itself ends.
pub(super) fn subtree(view: &HostView, name: &str, path: &mut Vec<String>) -> BlockDevice {
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
pub(super) fn descendants(view: &HostView, name: &str) -> BTreeSet<String> {
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
