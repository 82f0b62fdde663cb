//! Copying one host's storage layouts to every other host with the same disks, and the
//! safety rule that comes with it: a wipe never travels. The operator decided to wipe after
//! looking at this host's disks, not at the others', so the copies never wipe, and a host
//! whose disk of the same name holds data, is mounted or holds `/` is skipped and named
//! (docs/wizard.md, "Apply to all hosts with the same disks").

use std::collections::BTreeMap;

use super::{DiskInUse, Plan, Severity, StorageLayout, check, disk_in_use};
use crate::facts::Facts;

/// What copying did, host by host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SameDisks {
    /// Hosts that got the layouts.
    pub applied: Vec<String>,
    /// Hosts whose disks of those names differ in size or kind (or are missing).
    pub differ: Vec<String>,
    /// Hosts skipped because a disk is not blank there: (host, disk, why).
    pub not_blank: Vec<(String, String, DiskInUse)>,
    /// Hosts with layouts of their own that would be replaced. While any is listed nothing
    /// was changed: the caller asks, then copies again with `replace`.
    pub replacing: Vec<String>,
    /// What `check` refuses on the hosts that got the layouts.
    pub refused: Vec<String>,
}

/// Copies host `from`'s layouts (without `wipe`) to every other host whose devices of the
/// same names have the same sizes and kind and are blank. Hosts with layouts of their own
/// are replaced only with `replace`. `None` when `from` is no host or has no facts.
pub fn apply_to_same(
    plan: &mut Plan,
    facts: &Facts,
    from: usize,
    replace: bool,
) -> Option<SameDisks> {
    let src = plan.hosts.get(from)?.clone();
    let src_facts = facts.get(&src.name)?;
    let layouts: Vec<StorageLayout> = src
        .storage
        .iter()
        .map(|l| StorageLayout {
            wipe: false,
            ..l.clone()
        })
        .collect();
    let devices: Vec<&String> = layouts.iter().flat_map(|l| l.devices.iter()).collect();
    let before: BTreeMap<String, Vec<StorageLayout>> = plan
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.storage.clone()))
        .collect();
    let mut out = SameDisks::default();
    for (i, host) in plan.hosts.iter_mut().enumerate() {
        if i == from {
            continue;
        }
        let Some(f) = facts.get(&host.name) else {
            continue;
        };
        let same = devices
            .iter()
            .all(|d| match (src_facts.device(d), f.device(d)) {
                (Some(a), Some(b)) => a.size_bytes == b.size_bytes && a.rotational == b.rotational,
                _ => false,
            });
        if !same {
            out.differ.push(host.name.clone());
            continue;
        }
        let blocked = devices.iter().find_map(|d| {
            f.device(d)
                .and_then(disk_in_use)
                .map(|why| (d.to_string(), why))
        });
        if let Some((disk, why)) = blocked {
            out.not_blank.push((host.name.clone(), disk, why));
            continue;
        }
        if !replace && !host.storage.is_empty() && host.storage != layouts {
            out.replacing.push(host.name.clone());
            continue;
        }
        host.storage = layouts.clone();
        out.applied.push(host.name.clone());
    }
    if !out.replacing.is_empty() {
        // Nothing changes until the operator agrees to replace those hosts' own layouts.
        for h in plan.hosts.iter_mut() {
            if let Some(had) = before.get(&h.name) {
                h.storage = had.clone();
            }
        }
        return Some(out);
    }
    out.refused = check(plan, Some(facts))
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .filter(|f| {
            out.applied.iter().any(|name| {
                plan.hosts
                    .iter()
                    .position(|h| &h.name == name)
                    .is_some_and(|i| f.path.starts_with(&format!("hosts[{i}].storage")))
            })
        })
        .map(|f| f.message)
        .collect();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{BlockDevice, HostFacts};
    use crate::plan::{Discard, Filesystem, Host, Level, Role};

    fn disk(name: &str, fstype: Option<&str>, size: u64) -> BlockDevice {
        BlockDevice {
            name: name.into(),
            kind: "disk".into(),
            size_bytes: size,
            fstype: fstype.map(str::to_string),
            ..Default::default()
        }
    }

    fn layout(wipe: bool) -> StorageLayout {
        StorageLayout {
            level: Level::Single,
            devices: vec!["sdb".into()],
            wipe,
            filesystem: Filesystem::Ext4,
            mount: "/data".into(),
            discard: Discard::Auto,
            relocate: vec![],
        }
    }

    /// node1's sdb holds an old filesystem the operator marked for wiping; node2's is blank,
    /// node3's holds ext4 nobody looked at, node4's is another size.
    fn cluster() -> (Plan, Facts) {
        let mut plan = Plan::new("t");
        let mut facts = Facts::new();
        for (i, (name, fs, size)) in [
            ("node1", Some("ext4"), 8 << 30),
            ("node2", None, 8 << 30),
            ("node3", Some("ext4"), 8 << 30),
            ("node4", None, 16 << 30),
        ]
        .into_iter()
        .enumerate()
        {
            plan.hosts.push(Host {
                name: name.into(),
                address: format!("10.0.0.{}", i + 1),
                roles: vec![Role::Worker],
                labels: Default::default(),
                storage: vec![],
                etcd_member_name: None,
            });
            let f = HostFacts {
                hostname: name.into(),
                disks: vec![disk("sdb", fs, size)],
                ..Default::default()
            };
            facts.insert(name.into(), f);
        }
        plan.hosts[0].storage = vec![layout(true)];
        (plan, facts)
    }

    #[test]
    fn a_wipe_never_travels_and_a_disk_with_data_elsewhere_is_left_alone() {
        let (mut plan, facts) = cluster();
        let out = apply_to_same(&mut plan, &facts, 0, false).expect("node1 has facts");
        assert_eq!(out.applied, ["node2"]);
        assert_eq!(out.differ, ["node4"]);
        assert_eq!(
            out.not_blank,
            [("node3".to_string(), "sdb".to_string(), DiskInUse::HasData)]
        );
        assert!(
            out.replacing.is_empty() && out.refused.is_empty(),
            "{out:?}"
        );
        assert!(plan.hosts[0].storage[0].wipe, "node1's own choice stays");
        assert_eq!(
            plan.hosts[1].storage,
            [layout(false)],
            "copied without wipe"
        );
        assert!(plan.hosts[2].storage.is_empty() && plan.hosts[3].storage.is_empty());
        // The plan's checks agree: nothing would format node3's filesystem.
        assert!(
            !check(&plan, Some(&facts))
                .iter()
                .any(|f| f.severity == Severity::Error && f.path.starts_with("hosts[2].storage")),
        );
    }

    #[test]
    fn a_hosts_own_layouts_are_replaced_only_when_asked() {
        let (mut plan, facts) = cluster();
        let own = StorageLayout {
            mount: "/srv".into(),
            ..layout(false)
        };
        plan.hosts[1].storage = vec![own.clone()];
        let out = apply_to_same(&mut plan, &facts, 0, false).expect("node1 has facts");
        assert_eq!(out.replacing, ["node2"]);
        assert_eq!(
            plan.hosts[1].storage,
            [own],
            "nothing changed before the answer"
        );
        let out = apply_to_same(&mut plan, &facts, 0, true).expect("node1 has facts");
        assert_eq!(out.applied, ["node2"]);
        assert_eq!(plan.hosts[1].storage, [layout(false)]);
    }

    #[test]
    fn no_source_host_or_no_facts_copies_nothing() {
        let (mut plan, mut facts) = cluster();
        assert_eq!(apply_to_same(&mut plan, &facts, 9, false), None);
        facts.remove("node1");
        assert_eq!(apply_to_same(&mut plan, &facts, 0, false), None);
    }
}
