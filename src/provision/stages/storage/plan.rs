//! What to do: the plan's layouts against the [`HostView`], decided into targets, their
//! progress on the host, and the refusals, all before any command is produced. The
//! commands themselves are [`super::commands`].

use std::collections::BTreeSet;

use super::commands::{self, mdadm_level};
use super::view::{DeviceView, HostView, descendants, subtree};
use super::{CONTAINERD_DIR, FS_LABEL, KUBELET_DIR};
use crate::plan::{Host, Level, Relocate, StorageLayout};
use crate::provision::cmd::{Cmd, StepError};

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
/// took: `/dev/md0` on a host without arrays (as in the Akash guide), `/dev/md1` where the root
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
pub(super) fn md_name(
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

/// `<mount>/kubelet`, `<mount>/containerd` (the Akash guide moves them to `/data/kubelet`,
/// `/data/containerd`).
pub fn relocated_dir(mount: &str, r: Relocate) -> String {
    let base = normalize_mount(mount);
    let base = base.trim_end_matches('/');
    match r {
        Relocate::Kubelet => format!("{base}/kubelet"),
        Relocate::Containerd => format!("{base}/containerd"),
    }
}

/// The fstab entry (device field, options) the host has for `mount`, if any.
pub(super) fn fstab_entry<'v>(fstab: &'v str, mount: &str) -> Option<(&'v str, &'v str)> {
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
pub(super) enum Progress {
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

pub(super) fn assess(target: &Target<'_>, view: &HostView) -> Result<Progress, StepError> {
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
pub(super) fn own_filesystem(dev: &DeviceView, fs: &str, view: &HostView) -> bool {
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

/// A disk and one of its own partitions (or anything else below it) both named by the plan:
/// wiping or formatting the one destroys the other, so the host is refused.
pub(super) fn refuse_nested(host: &Host, view: &HostView) -> Result<(), StepError> {
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
pub(super) fn refuse_member(
    member: &str,
    layout: &StorageLayout,
    view: &HostView,
) -> Result<(), StepError> {
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
pub(super) fn needs_wipe(member: &str, view: &HostView) -> bool {
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
            Progress::Done => {}
            Progress::NeedsMount => cmds.extend(commands::mount(t)),
            Progress::Formatted => {
                // An array made by the same run has no mdadm.conf entry yet either.
                made_md |= t.layout.level.is_md();
                cmds.extend(commands::fstab_and_mount(t, view));
            }
            Progress::Fresh => {
                made_md |= t.layout.level.is_md();
                cmds.extend(commands::make(t, view));
            }
        }
    }
    if made_md {
        cmds.extend(commands::md_conf());
    }
    let done = done_mounts(&targets, &progress);
    let (moves, _) = relocation(host, view, &done)?;
    cmds.extend(commands::relocate(&moves, view));
    Ok(cmds)
}

/// Mount points whose filesystem is fully in place (made, in fstab, mounted).
pub(super) fn done_mounts(targets: &[Target<'_>], progress: &[Progress]) -> BTreeSet<String> {
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

/// The core's mount rule ([`crate::plan::mount_problem`], the one `rackstrap check` and the
/// wizard apply): refused here too, before anything runs, so an fstab line is never written
/// for a mount point the plan's check rejects.
pub(super) fn refuse_mount(mount: &str) -> Result<(), StepError> {
    match crate::plan::mount_problem(mount) {
        None => Ok(()),
        Some(p) => Err(StepError::Refused(match p.hint {
            Some(hint) => format!("{} ({hint})", p.message),
            None => p.message,
        })),
    }
}

/// One data directory to move onto the new filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Move {
    /// `/var/lib/kubelet`, `/var/lib/containerd`.
    pub from: &'static str,
    /// `<mount>/kubelet`, `<mount>/containerd`.
    pub to: String,
}

/// Which kubelet/containerd data directories move onto the new filesystems (the commands
/// are [`commands::relocate`]).
///
/// `done` holds the mount points already fully in place. There, a relocated directory that
/// exists means the move is done, even when the source exists again: kubeadm writes
/// `/var/lib/kubelet/config.yaml` and `kubeadm-flags.env` after the cluster is deployed, so
/// refusing would forbid every rerun after Kubespray. Such a case comes back as a note.
pub(super) fn relocation(
    host: &Host,
    view: &HostView,
    done: &BTreeSet<String>,
) -> Result<(Vec<Move>, Vec<String>), StepError> {
    let mut moves: Vec<Move> = Vec::new();
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
            moves.push(Move { from, to });
        }
    }
    Ok((moves, notes))
}
