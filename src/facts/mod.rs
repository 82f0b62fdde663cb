//! What a host reports about itself, parsed into plain data.
//!
//! The SSH layer runs one gathering script per host and hands its raw sections to the
//! parsers here; the parsers are pure functions (text in, data out) so they are tested on
//! fixtures of real shapes. The checks, the wizard and the stages only ever see `HostFacts`.
//!
//! - [`probe`] is the protocol every host probe speaks: a script of named sections, its
//!   output split back by section (facts here, the preflight and storage stages too);
//! - [`gather`] runs the script over a [`crate::ssh::Session`] (one exec per host);
//! - [`parse`] holds the parsers (`parse_lsblk`, `parse_mdstat`, `parse_ip_addr`, ...);
//! - [`units`] formats sizes the way `lsblk` does, for every screen and message;
//! - [`file`] reads facts saved by `rackstrap discover --json` and matches them to a plan.
//!
//! Which disk holds `/`: the top-level device whose `lsblk` mount points, or those of anything
//! below it (partition, LVM volume, md array), include `/` ([`HostFacts::root_disk`]).

pub mod file;
pub mod gather;
pub mod parse;
pub mod probe;
pub mod units;

pub use gather::{FactsError, gather};
pub use parse::{
    Blkid, ParseError, apply_blkid, parse_blkid, parse_default_route, parse_ip_addr, parse_lsblk,
    parse_mdstat, parse_meminfo, parse_os_release,
};
pub use units::human_bytes;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Facts for the hosts of a plan, keyed by the plan's host name.
pub type Facts = BTreeMap<String, HostFacts>;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: String,
    pub os: OsRelease,
    pub kernel: String,
    pub arch: String,
    pub cpus: u32,
    pub cpu_model: String,
    pub mem_bytes: u64,
    pub swap_bytes: u64,
    /// True when `/sys/fs/cgroup` is the unified (v2) hierarchy.
    pub cgroup_v2: bool,
    /// Top-level block devices from `lsblk`, children nested.
    pub disks: Vec<BlockDevice>,
    pub md_arrays: Vec<MdArray>,
    pub interfaces: Vec<Interface>,
    pub default_route: Option<Route>,
    /// `timedatectl`'s "System clock synchronized", when it could be read.
    pub time_synced: Option<bool>,
    pub installed: Installed,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID` (`ubuntu`, `debian`).
    pub id: String,
    /// `VERSION_ID` (`22.04`).
    pub version_id: String,
    /// `PRETTY_NAME` (`Ubuntu 22.04.4 LTS`).
    pub pretty_name: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BlockDevice {
    /// Kernel name (`nvme0n1`, `sda1`, `md0`).
    pub name: String,
    /// `disk`, `part`, `raid0`, `raid1`, `lvm`, `loop`, `rom`, `crypt`, ...
    pub kind: String,
    pub size_bytes: u64,
    pub rotational: bool,
    /// `nvme`, `sata`, `usb`, `sas`, ... when the kernel knows.
    pub transport: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// Filesystem or signature type (`ext4`, `xfs`, `linux_raid_member`, `LVM2_member`).
    pub fstype: Option<String>,
    /// The filesystem's UUID (what an fstab line names it by). Absent from facts files
    /// written before it was gathered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The filesystem's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub mountpoints: Vec<String>,
    pub children: Vec<BlockDevice>,
}

impl BlockDevice {
    /// This device or anything below it is mounted at `/`.
    pub fn holds_root(&self) -> bool {
        self.mountpoints.iter().any(|m| m == "/") || self.children.iter().any(|c| c.holds_root())
    }

    /// This device or anything below it is mounted somewhere (swap counts).
    pub fn is_mounted(&self) -> bool {
        !self.mountpoints.is_empty() || self.children.iter().any(|c| c.is_mounted())
    }

    /// Every mount point of this device and of everything below it (partitions, md arrays,
    /// LVM volumes, ...): where [`Self::is_mounted`] found it mounted.
    pub fn mounted_at(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.mountpoints.iter().map(String::as_str).collect();
        for c in &self.children {
            for m in c.mounted_at() {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Carries partitions, a filesystem or another signature (md member, LVM PV): data that
    /// a layout would destroy.
    pub fn is_in_use(&self) -> bool {
        self.fstype.is_some() || !self.children.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MdArray {
    /// `md0`
    pub name: String,
    /// `raid0`, `raid1`, ...
    pub level: String,
    /// Member device names (`nvme0n1`).
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    pub mtu: u32,
    /// Addresses with prefix (`10.0.10.136/24`).
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Route {
    pub gateway: Option<String>,
    pub interface: String,
}

/// Kubernetes pieces already on the host: a node that is already part of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Installed {
    pub kubelet: bool,
    pub containerd: bool,
    pub kubeadm: bool,
    /// Which of the packages host prep may install are present (dpkg says installed, or
    /// their tool is on the PATH): `provision::stages::host_prep::KNOWN`. `None` when the
    /// facts did not look (older facts files, the simulated lab).
    #[serde(default)]
    pub packages: Option<Vec<String>>,
}

impl HostFacts {
    /// Every text field with control characters shown as escapes ([`crate::text::printable`]):
    /// facts come from hosts rackstrap does not control, and are shown in tables, findings,
    /// the wizard and `--json`. Called where facts enter (gathered or read from a file).
    pub fn into_printable(mut self) -> Self {
        use crate::text::make_printable as p;
        fn device(d: &mut BlockDevice) {
            for s in [&mut d.name, &mut d.kind] {
                p(s);
            }
            for s in [&mut d.transport, &mut d.model, &mut d.serial, &mut d.fstype]
                .into_iter()
                .flatten()
            {
                p(s);
            }
            d.mountpoints.iter_mut().for_each(p);
            d.children.iter_mut().for_each(device);
        }
        for s in [
            &mut self.hostname,
            &mut self.kernel,
            &mut self.arch,
            &mut self.cpu_model,
            &mut self.os.id,
            &mut self.os.version_id,
            &mut self.os.pretty_name,
        ] {
            p(s);
        }
        self.disks.iter_mut().for_each(device);
        for md in &mut self.md_arrays {
            p(&mut md.name);
            p(&mut md.level);
            md.members.iter_mut().for_each(p);
        }
        for i in &mut self.interfaces {
            p(&mut i.name);
            i.addresses.iter_mut().for_each(p);
        }
        if let Some(r) = &mut self.default_route {
            p(&mut r.interface);
            if let Some(g) = &mut r.gateway {
                p(g);
            }
        }
        if let Some(packages) = &mut self.installed.packages {
            packages.iter_mut().for_each(p);
        }
        self
    }

    /// The top-level device holding the root filesystem, if `lsblk` shows it.
    pub fn root_disk(&self) -> Option<&BlockDevice> {
        self.disks.iter().find(|d| d.holds_root())
    }

    /// Look up a device by kernel name anywhere in the tree.
    pub fn device(&self, name: &str) -> Option<&BlockDevice> {
        fn find<'a>(list: &'a [BlockDevice], name: &str) -> Option<&'a BlockDevice> {
            list.iter().find_map(|d| {
                if d.name == name {
                    Some(d)
                } else {
                    find(&d.children, name)
                }
            })
        }
        find(&self.disks, name)
    }
}

#[cfg(test)]
mod printable_tests {
    use super::*;

    /// Every string anywhere in `v`.
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_text_field_of_facts_is_escaped() {
        let bad = "x\u{1b}]0;t\u{7}\u{9b}2J\r\n".to_string();
        let dev = BlockDevice {
            name: bad.clone(),
            kind: bad.clone(),
            transport: Some(bad.clone()),
            model: Some(bad.clone()),
            serial: Some(bad.clone()),
            fstype: Some(bad.clone()),
            mountpoints: vec![bad.clone()],
            ..Default::default()
        };
        let facts = HostFacts {
            hostname: bad.clone(),
            os: OsRelease {
                id: bad.clone(),
                version_id: bad.clone(),
                pretty_name: bad.clone(),
            },
            kernel: bad.clone(),
            arch: bad.clone(),
            cpu_model: bad.clone(),
            disks: vec![BlockDevice {
                children: vec![dev.clone()],
                ..dev
            }],
            md_arrays: vec![MdArray {
                name: bad.clone(),
                level: bad.clone(),
                members: vec![bad.clone()],
            }],
            interfaces: vec![Interface {
                name: bad.clone(),
                mtu: 1500,
                addresses: vec![bad.clone()],
            }],
            default_route: Some(Route {
                gateway: Some(bad.clone()),
                interface: bad.clone(),
            }),
            installed: Installed {
                packages: Some(vec![bad.clone()]),
                ..Default::default()
            },
            ..Default::default()
        };
        let mut all = Vec::new();
        strings(&serde_json::to_value(&facts).unwrap(), &mut all);
        assert!(all.len() >= 25 && all.iter().all(|s| s == &bad));
        let mut all = Vec::new();
        strings(
            &serde_json::to_value(facts.into_printable()).unwrap(),
            &mut all,
        );
        for s in all {
            assert_eq!(s, r"x\e]0;t\x07\u{9b}2J\r\n");
        }
    }
}
