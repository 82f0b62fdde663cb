//! The command lists: what runs on the host for a target the plan decided to make, mount or
//! relocate onto, in the order of the Akash guide "Kubernetes Cluster for Akash Providers"
//! (https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/),
//! "STEP 7 - Provider Ephemeral Storage Config". Decisions are [`super::plan`]'s.

use super::FS_LABEL;
use super::plan::{Move, Target};
use super::view::HostView;
use crate::plan::{Discard, Filesystem, Level};
use crate::provision::cmd::{Cmd, quote};

/// The fstab backup the operator can diff against (the Akash guide's
/// `cp -p /etc/fstab /etc/fstab.1`).
pub const FSTAB_BACKUP: &str = "/etc/fstab.1";
/// Debian/Ubuntu's generator for mdadm.conf (the Akash guide's storage step 9).
pub const MKCONF: &str = "/usr/share/mdadm/mkconf";
pub const MDADM_CONF: &str = "/etc/mdadm/mdadm.conf";
/// The Akash guide runs `update-initramfs -c -k all`; `-c` fails where the image already exists
/// (every installed system), `-u -k all` rebuilds the existing images for all kernels,
/// which is what the step is for: the new mdadm.conf inside the initramfs.
pub const UPDATE_INITRAMFS: &str = "update-initramfs -u -k all";

/// A target made from nothing: `wipefs -a` of members that carry anything (only with
/// `wipe: true`), `mdadm --create` (md levels), `mkfs` with [`FS_LABEL`], then
/// [`fstab_and_mount`].
pub(super) fn make(t: &Target<'_>, view: &HostView) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    if t.layout.wipe {
        for m in &t.members {
            if super::plan::needs_wipe(m, view) {
                cmds.push(Cmd::words(["wipefs", "-a", &format!("/dev/{m}")]));
            }
        }
    }
    if t.layout.level.is_md() {
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
        // answer is yes, without it the plan's refusal already stopped us.
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
    cmds
}

/// A target already in fstab: the mount point and the mount.
pub(super) fn mount(t: &Target<'_>) -> Vec<Cmd> {
    vec![
        Cmd::words(["mkdir", "-p", &t.mount]),
        Cmd::words(["mount", &t.mount]),
    ]
}

/// Once per host that made an md array: mdadm.conf, then the initramfs that carries it.
pub(super) fn md_conf() -> Vec<Cmd> {
    vec![
        Cmd::new(format!("{MKCONF} > {MDADM_CONF}")),
        Cmd::new(UPDATE_INITRAMFS),
    ]
}

/// The relocation: kubelet and containerd stopped and disabled first (kubelet first, as the
/// Akash guide does, and only those installed), then each directory moved; one that does
/// not exist yet (a fresh host) is created instead. Kubespray enables and starts both again
/// with the new paths.
pub(super) fn relocate(moves: &[Move], view: &HostView) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    if moves.is_empty() {
        return cmds;
    }
    for unit in ["kubelet", "containerd"] {
        if view.units.contains(unit) {
            cmds.push(Cmd::words(["systemctl", "stop", unit]));
            cmds.push(Cmd::words(["systemctl", "disable", unit]));
        }
    }
    for m in moves {
        if view.dirs.contains(m.from) {
            cmds.push(Cmd::words(["mv", m.from, &m.to]));
        } else {
            cmds.push(Cmd::words(["mkdir", "-p", &m.to]));
        }
    }
    cmds
}

/// Mount options: `defaults,discard` only when discard is on, or auto and every member is
/// known to be non-rotational (the Akash guide: "Remove ,discard after defaults if you are NOT using SSD/NVME disks!").
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

/// After mkfs: fstab backup, the fstab line by UUID, the mount point, the mount.
pub(super) fn fstab_and_mount(t: &Target<'_>, view: &HostView) -> Vec<Cmd> {
    vec![
        Cmd::words(["cp", "-p", "/etc/fstab", FSTAB_BACKUP]),
        fstab_append(t, view),
        Cmd::words(["mkdir", "-p", &t.mount]),
        Cmd::words(["mount", &t.mount]),
    ]
}

/// `UUID=<uuid> <mount> <fs> <options> 0 0` appended to /etc/fstab, the UUID read from the
/// new filesystem on the host (the Akash guide uses `blkid ... -s UUID -o value` the same way).
/// The host's fstab is read again when the line is written: a line for the same mount point
/// that is already there (this very line, from a run that stopped after writing it) is kept
/// and nothing is added; a line for another device fails the step instead of adding a second
/// one, which would leave the mount to whichever line comes first.
fn fstab_append(t: &Target<'_>, view: &HostView) -> Cmd {
    Cmd::new(format!(
        "uuid=\"$(blkid {dev} -s UUID -o value)\" && [ -n \"$uuid\" ] && \
         held=\"$(awk -v m={mount} '$1 !~ /^#/ {{ p = $2; sub(/\\/+$/, \"\", p); if (p == m) {{ print $1; exit }} }}' /etc/fstab)\" && \
         if [ -z \"$held\" ]; then printf 'UUID=%s  %s  %s  %s  0 0\\n' \"$uuid\" {mount} {fs} {opts} >> /etc/fstab; \
         elif [ \"$held\" != \"UUID=$uuid\" ]; then echo \"/etc/fstab already mounts $held at \"{mount} >&2; false; fi",
        dev = quote(&t.device),
        mount = quote(&t.mount),
        fs = t.layout.filesystem.as_str(),
        opts = mount_options(t, view),
    ))
}

/// mdadm's name for a level (`raid0`); the kernel reports the same in
/// `/sys/block/mdN/md/level`.
pub(super) fn mdadm_level(level: Level) -> &'static str {
    match level {
        Level::Raid0 => "raid0",
        Level::Raid1 => "raid1",
        Level::Raid5 => "raid5",
        Level::Raid6 => "raid6",
        Level::Raid10 => "raid10",
        Level::Single | Level::PerDisk => "",
    }
}
