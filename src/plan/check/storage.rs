//! Storage checks: layouts, their devices against the host's facts, mount points, the
//! relocation of kubelet and containerd data, and the capacity arithmetic.

use std::collections::BTreeMap;

use super::messages as msg;
use super::rules::mount_problem;
use super::{Code, Finding, Severity};
use crate::facts::{BlockDevice, Facts, HostFacts};
use crate::plan::model::{Discard, Level, Plan, Relocate, StorageLayout};

/// The sum of sizes, saturating: sizes come from the host's lsblk, and a bogus huge value
/// must give a huge total, not an overflow panic.
pub fn total_bytes(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes.into_iter().fold(0, u64::saturating_add)
}

/// Bytes a layout offers over members of the given sizes. md arrays use each member only up
/// to the smallest member's size; raid10 is mdadm's default near-2 layout (half the members).
/// Returns 0 when the level cannot be built from that many members.
pub fn usable_bytes(level: Level, member_sizes: &[u64]) -> u64 {
    let n = member_sizes.len() as u64;
    if (n as usize) < level.min_devices() {
        return 0;
    }
    let smallest = member_sizes.iter().copied().min().unwrap_or(0);
    match level {
        // Saturating, as total_bytes: a bogus huge size gives a huge capacity, not a panic.
        Level::Single | Level::PerDisk => total_bytes(member_sizes.iter().copied()),
        Level::Raid0 => n.saturating_mul(smallest),
        Level::Raid1 => smallest,
        Level::Raid5 => (n - 1).saturating_mul(smallest),
        Level::Raid6 => (n - 2).saturating_mul(smallest),
        Level::Raid10 => (n / 2).saturating_mul(smallest),
    }
}

/// Whether the filesystem gets the `discard` mount option. `auto` means only when facts
/// show every member non-rotational (the Akash guide "Kubernetes Cluster for Akash
/// Providers", https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/:
/// "Remove ,discard ... if you are NOT using SSD/NVME disks!"); without facts `auto` stays
/// off, the safe side.
pub fn resolve_discard(layout: &StorageLayout, facts: Option<&HostFacts>) -> bool {
    match layout.discard {
        Discard::On => true,
        Discard::Off => false,
        Discard::Auto => facts.is_some_and(|f| {
            !layout.devices.is_empty()
                && layout
                    .devices
                    .iter()
                    .all(|d| f.device(d).is_some_and(|dev| !dev.rotational))
        }),
    }
}

/// The mount points a layout creates: one, or one per disk for `per-disk`.
pub fn mount_points(layout: &StorageLayout) -> Vec<String> {
    if layout.level == Level::PerDisk {
        let prefix = layout.mount.trim_end_matches('/');
        layout
            .devices
            .iter()
            .map(|d| format!("{prefix}/{d}"))
            .collect()
    } else {
        vec![layout.mount.clone()]
    }
}

pub(super) fn check_storage(plan: &Plan, facts: Option<&Facts>, out: &mut Vec<Finding>) {
    for (i, host) in plan.hosts.iter().enumerate() {
        let hf = facts.and_then(|f| f.get(&host.name));
        let mut seen = HostSeen::default();
        for (j, layout) in host.storage.iter().enumerate() {
            let at = format!("hosts[{i}].storage[{j}]");
            layout_shape(layout, &at, out);
            let (sizes, all_known) = devices(&host.name, hf, layout, &at, &mut seen, out);
            mount_points_of(layout, &at, &mut seen, out);
            relocation(plan, &host.name, layout, &at, &mut seen, out);
            // Size and discard, when every member is known.
            if all_known && !sizes.is_empty() {
                capacity(layout, hf, &at, &sizes, out);
            }
        }
    }
}

/// What one host's layouts claimed so far: devices, mount points, relocated data.
#[derive(Default)]
struct HostSeen<'a> {
    /// Devices by name, with the path that named them first.
    used: BTreeMap<&'a str, String>,
    /// Devices found in the facts so far, for the overlap check.
    known: Vec<(&'a str, String)>,
    mounts: BTreeMap<String, String>,
    relocated: BTreeMap<Relocate, String>,
}

/// The device count the layout's level needs.
fn layout_shape(layout: &StorageLayout, at: &str, out: &mut Vec<Finding>) {
    let level = layout.level;
    if layout.devices.len() < level.min_devices() {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_TOO_FEW_DEVICES,
                format!("{at}.devices"),
                msg::too_few_devices(level, layout.devices.len()),
            )
            .hint(msg::too_few_hint(level)),
        );
    }
    if level == Level::Single && layout.devices.len() > 1 {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_SINGLE_MANY_DEVICES,
                format!("{at}.devices"),
                msg::single_many(layout.devices.len()),
            )
            .hint("use raid0 to join them, or per-disk for one filesystem each"),
        );
    }
}

/// Each device of the layout: a kernel name, named once, found on the host, not overlapping
/// another, safe to use. Returns the sizes found and whether every device was found.
fn devices<'a>(
    host: &str,
    hf: Option<&HostFacts>,
    layout: &'a StorageLayout,
    at: &str,
    seen: &mut HostSeen<'a>,
    out: &mut Vec<Finding>,
) -> (Vec<(String, u64)>, bool) {
    let mut sizes: Vec<(String, u64)> = Vec::new();
    let mut all_known = true;
    for (k, dev) in layout.devices.iter().enumerate() {
        let path = format!("{at}.devices[{k}]");
        if dev.is_empty() || dev.contains('/') || dev.chars().any(|c| c.is_whitespace()) {
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_BAD_DEVICE_NAME,
                    path.clone(),
                    msg::bad_device_name(dev),
                )
                .hint(format!(
                    "write the kernel name as lsblk shows it, e.g. `{}`",
                    dev.rsplit('/').next().unwrap_or("sdb")
                )),
            );
            all_known = false;
            continue;
        }
        if let Some(first) = seen.used.insert(dev.as_str(), path.clone()) {
            out.push(Finding::new(
                Severity::Error,
                Code::E_DEVICE_USED_TWICE,
                path.clone(),
                msg::device_twice(dev, &first),
            ));
        }
        let Some(hf) = hf else {
            all_known = false;
            continue;
        };
        let Some(bd) = hf.device(dev) else {
            out.push(
                Finding::new(
                    Severity::Error,
                    Code::E_UNKNOWN_DEVICE,
                    path.clone(),
                    msg::unknown_device(host, dev),
                )
                .hint(msg::known_disks(hf)),
            );
            all_known = false;
            continue;
        };
        for (other, first) in &seen.known {
            if let Some(holder) = overlap_holder(hf, dev, other) {
                out.push(
                    Finding::new(
                        Severity::Error,
                        Code::E_DEVICE_OVERLAP,
                        path.clone(),
                        msg::device_overlap(dev, other, first, holder == *other),
                    )
                    .hint("use either the disk or its partitions, not both"),
                );
            }
        }
        seen.known.push((dev.as_str(), path.clone()));
        sizes.push((dev.clone(), bd.size_bytes));
        check_device_safety(host, dev, bd, hf, layout.wipe, &path, out);
    }
    (sizes, all_known)
}

/// The mount point: a valid path, not another layout's.
fn mount_points_of(
    layout: &StorageLayout,
    at: &str,
    seen: &mut HostSeen<'_>,
    out: &mut Vec<Finding>,
) {
    // Mount point.
    if let Some(problem) = mount_problem(&layout.mount) {
        let mut f = Finding::new(
            Severity::Error,
            Code::E_BAD_MOUNT,
            format!("{at}.mount"),
            problem.message,
        );
        f.hint = problem.hint;
        out.push(f);
    }
    for mp in mount_points(layout) {
        let mp = mp.trim_end_matches('/').to_string();
        if let Some(first) = seen.mounts.insert(mp.clone(), at.to_string()) {
            out.push(Finding::new(
                Severity::Error,
                Code::E_MOUNT_COLLISION,
                format!("{at}.mount"),
                msg::mount_collision(&mp, &first),
            ));
        }
    }
}

/// Relocation of kubelet/containerd data onto the layout.
fn relocation(
    plan: &Plan,
    host: &str,
    layout: &StorageLayout,
    at: &str,
    seen: &mut HostSeen<'_>,
    out: &mut Vec<Finding>,
) {
    // Relocation of kubelet/containerd data.
    if !layout.relocate.is_empty() && layout.level == Level::PerDisk {
        out.push(
            Finding::new(Severity::Error, Code::E_RELOCATE_PER_DISK, format!("{at}.relocate"), msg::relocate_per_disk(host, &layout.mount))
                .hint("relocate onto a single, raid0 or raid1 layout (the Akash provider guide uses raid0 at /data)"),
        );
    }
    for r in &layout.relocate {
        if let Some(first) = seen.relocated.insert(*r, at.to_string()) {
            out.push(Finding::new(
                Severity::Error,
                Code::E_RELOCATE_TWICE,
                format!("{at}.relocate"),
                msg::relocate_twice(*r, &first),
            ));
        }
        if *r == Relocate::Containerd && plan.cluster.container_manager != "containerd" {
            out.push(Finding::new(
                Severity::Error,
                Code::E_RELOCATE_CONTAINERD,
                format!("{at}.relocate"),
                msg::relocate_containerd(&plan.cluster.container_manager),
            ));
        }
    }
}

/// Mixed member sizes, discard on spinning disks, and the usable capacity.
fn capacity(
    layout: &StorageLayout,
    hf: Option<&HostFacts>,
    at: &str,
    sizes: &[(String, u64)],
    out: &mut Vec<Finding>,
) {
    let level = layout.level;
    if level.is_md() {
        let min = sizes.iter().map(|s| s.1).min().unwrap_or(0);
        let max = sizes.iter().map(|s| s.1).max().unwrap_or(0);
        if min != max {
            out.push(
                Finding::new(
                    Severity::Warning,
                    Code::W_MIXED_SIZES,
                    format!("{at}.devices"),
                    msg::mixed_sizes(level, sizes, min),
                )
                .hint("use members of one size, or accept the smaller capacity"),
            );
        }
    }
    let bytes: Vec<u64> = sizes.iter().map(|s| s.1).collect();
    let discard = resolve_discard(layout, hf);
    if layout.discard == Discard::On
        && hf.is_some_and(|f| {
            layout
                .devices
                .iter()
                .any(|d| f.device(d).is_some_and(|b| b.rotational))
        })
    {
        out.push(
            Finding::new(
                Severity::Warning,
                Code::W_DISCARD_ROTATIONAL,
                format!("{at}.discard"),
                msg::DISCARD_ROTATIONAL.into(),
            )
            .hint("use `discard: auto`"),
        );
    }
    out.push(Finding::new(
        Severity::Info,
        Code::I_CAPACITY,
        at.to_string(),
        msg::capacity(layout, usable_bytes(level, &bytes), discard),
    ));
}

/// When one of `a`, `b` lies on the other in the host's device tree (a partition on its
/// disk, an array on its members' partitions), the one that holds the other; `None` when
/// they are unrelated or the same name. Two layouts on such a pair would format one over
/// the other, and a name compare alone does not see it.
pub fn overlap_holder<'a>(hf: &HostFacts, a: &'a str, b: &'a str) -> Option<&'a str> {
    fn below(d: &BlockDevice, name: &str) -> bool {
        d.children.iter().any(|c| c.name == name || below(c, name))
    }
    if a == b {
        None
    } else if hf.device(a).is_some_and(|d| below(d, b)) {
        Some(a)
    } else if hf.device(b).is_some_and(|d| below(d, a)) {
        Some(b)
    } else {
        None
    }
}

fn check_device_safety(
    host: &str,
    dev: &str,
    bd: &BlockDevice,
    hf: &HostFacts,
    wipe: bool,
    path: &str,
    out: &mut Vec<Finding>,
) {
    // The root disk is never offered, wipe or not: the host would destroy itself.
    if bd.holds_root() {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_DEVICE_HOLDS_ROOT,
                path,
                msg::holds_root(host, dev),
            )
            .hint("choose another disk; the root disk is never used for data layouts"),
        );
        return;
    }
    let md_member = hf
        .md_arrays
        .iter()
        .find(|m| m.members.iter().any(|x| x == dev));
    // Mounted is refused even with `wipe`, as the storage stage does: consent to destroy
    // data is not consent to pull a filesystem out from under a running host.
    if bd.is_mounted() {
        let hint = if wipe {
            "unmount it first; `wipe: true` does not unmount"
        } else {
            "unmount it and set `wipe: true` if its data may be destroyed"
        };
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_DEVICE_MOUNTED,
                path,
                msg::mounted(host, dev, bd),
            )
            .hint(hint),
        );
        return;
    }
    if wipe {
        return;
    }
    if let Some(md) = md_member {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_DEVICE_IN_USE,
                path,
                msg::md_member(host, dev, &md.name),
            )
            .hint("set `wipe: true` on this layout if that array may be destroyed"),
        );
    } else if bd.is_in_use() {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_DEVICE_IN_USE,
                path,
                msg::in_use(host, dev, bd),
            )
            .hint("set `wipe: true` on this layout if its data may be destroyed"),
        );
    }
}
