//! Pure parsers: the text a host printed in, plain data out. Each is tested on fixtures of
//! real shapes (tests/fixtures/facts/). Tolerant of the older shapes of the same tools
//! (`lsblk` before util-linux 2.33 printed every JSON value as a string and had `mountpoint`
//! instead of `mountpoints`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{BlockDevice, Interface, MdArray, OsRelease, Route};

/// A section the parsers could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{section}: {message}")]
pub struct ParseError {
    pub section: String,
    pub message: String,
}

fn error(section: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        section: section.into(),
        message: message.into(),
    }
}

/// `/etc/os-release`: `KEY=value` lines, values optionally quoted.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = shlex::split(value)
            .and_then(|v| v.into_iter().next())
            .unwrap_or_else(|| value.trim_matches('"').to_string());
        match key {
            "ID" => os.id = value,
            "VERSION_ID" => os.version_id = value,
            "PRETTY_NAME" => os.pretty_name = value,
            _ => {}
        }
    }
    os
}

/// `/proc/meminfo` -> (`MemTotal`, `SwapTotal`) in bytes (the file counts in KiB).
pub fn parse_meminfo(text: &str) -> (u64, u64) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map(|kib| kib.saturating_mul(1024))
            .unwrap_or(0)
    };
    (field("MemTotal"), field("SwapTotal"))
}

/// The CPU model from `/proc/cpuinfo` lines (`model name`, or `Hardware`/`cpu model` on ARM
/// and others) or from `lscpu`'s `Model name:`.
pub fn parse_cpu_model(text: &str) -> String {
    text.lines()
        .find_map(|l| {
            let (key, value) = l.split_once(':')?;
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            (["model name", "cpu model", "hardware"].contains(&key.as_str()) && !value.is_empty())
                .then(|| value.to_string())
        })
        .unwrap_or_default()
}

/// `lsblk -J -b -o NAME,TYPE,SIZE,ROTA,TRAN,MODEL,SERIAL,FSTYPE,UUID,LABEL,MOUNTPOINTS` (or
/// `MOUNTPOINT`); the columns after SIZE may be missing.
pub fn parse_lsblk(json: &str) -> Result<Vec<BlockDevice>, ParseError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| error("lsblk", format!("not JSON: {e}")))?;
    let devices = value
        .get("blockdevices")
        .and_then(Value::as_array)
        .ok_or_else(|| error("lsblk", "no \"blockdevices\" list"))?;
    devices.iter().map(block_device).collect()
}

fn block_device(v: &Value) -> Result<BlockDevice, ParseError> {
    let text = |key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let name = text("name").ok_or_else(|| error("lsblk", "a device without a name"))?;
    let size_bytes = match v.get("size") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        error(
            "lsblk",
            format!("{name}: size is not a byte count (was -b given?)"),
        )
    })?;
    let rotational = match v.get("rota") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim() == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    };
    let mut mountpoints: Vec<String> = match v.get("mountpoints") {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => text("mountpoint").into_iter().collect(),
    };
    mountpoints.retain(|m| !m.is_empty());
    let children = match v.get("children") {
        Some(Value::Array(list)) => list.iter().map(block_device).collect::<Result<_, _>>()?,
        _ => Vec::new(),
    };
    Ok(BlockDevice {
        kind: text("type").unwrap_or_default(),
        size_bytes,
        rotational,
        transport: text("tran"),
        model: text("model"),
        serial: text("serial"),
        fstype: text("fstype"),
        uuid: text("uuid"),
        label: text("label"),
        mountpoints,
        children,
        name,
    })
}

/// What `blkid -o export` says about one device. Every field is `None` where blkid printed
/// nothing for it (a blank device).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blkid {
    /// Filesystem or signature type (`ext4`, `linux_raid_member`).
    pub fstype: Option<String>,
    /// Partition table type (`gpt`, `dos`); only `blkid -p` reports it for a whole disk.
    pub pttype: Option<String>,
    pub uuid: Option<String>,
    pub label: Option<String>,
}

/// `blkid -o export` for any number of devices: a record per device, records separated by
/// blank lines, each naming its device by `DEVNAME=`. A `DEVNAME` naming another device also
/// starts a new record. Keyed by kernel name (`/dev/` dropped); a record without `DEVNAME`
/// is ignored, and a device named again merges into its first record.
pub fn parse_blkid(export: &str) -> BTreeMap<String, Blkid> {
    let mut out: BTreeMap<String, Blkid> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in export.lines() {
        let line = line.trim();
        if line.is_empty() {
            current = None;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        if key == "DEVNAME" {
            let name = value.trim_start_matches("/dev/").to_string();
            if name.is_empty() {
                current = None;
                continue;
            }
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(record) = current.as_ref().and_then(|n| out.get_mut(n)) else {
            continue;
        };
        let value = (!value.is_empty()).then(|| value.to_string());
        let field = match key {
            "TYPE" => &mut record.fstype,
            "PTTYPE" => &mut record.pttype,
            "UUID" => &mut record.uuid,
            "LABEL" => &mut record.label,
            _ => continue,
        };
        if field.is_none() {
            *field = value;
        }
    }
    out
}

/// Fill `fstype`, `uuid` and `label` from `blkid -o export` where lsblk had none: without
/// udev (containers, minimal systems) lsblk cannot tell a formatted disk from a blank one,
/// blkid can.
pub fn apply_blkid(devices: &mut [BlockDevice], export: &str) {
    fn fill(list: &mut [BlockDevice], found: &BTreeMap<String, Blkid>) {
        for device in list {
            if let Some(b) = found.get(&device.name) {
                for (have, blkid) in [
                    (&mut device.fstype, &b.fstype),
                    (&mut device.uuid, &b.uuid),
                    (&mut device.label, &b.label),
                ] {
                    if have.is_none() {
                        have.clone_from(blkid);
                    }
                }
            }
            fill(&mut device.children, found);
        }
    }
    fill(devices, &parse_blkid(export));
}

/// `/proc/mdstat`: each array with its level and member devices (partition or disk names,
/// without the `[n]` slot and `(F)`/`(S)` flags). Inactive arrays have level `inactive`.
pub fn parse_mdstat(text: &str) -> Vec<MdArray> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(" : ")?;
            let name = name.trim();
            if !name.starts_with("md") {
                return None;
            }
            let mut words = rest.split_whitespace();
            let state = words.next()?;
            let mut words = words.peekable();
            // "active (auto-read-only) raid1 ..."
            while words.peek().is_some_and(|w| w.starts_with('(')) {
                words.next();
            }
            let level = if state == "inactive" {
                "inactive".to_string()
            } else {
                words.next()?.to_string()
            };
            let members = words
                .map(|w| w.split('[').next().unwrap_or(w).to_string())
                .filter(|w| !w.is_empty())
                .collect();
            Some(MdArray {
                name: name.to_string(),
                level,
                members,
            })
        })
        .collect()
}

/// `ip -j addr`: interfaces with MTU and addresses (`addr/prefix`), loopback included.
pub fn parse_ip_addr(json: &str) -> Result<Vec<Interface>, ParseError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| error("ip addr", format!("not JSON: {e}")))?;
    let list = value
        .as_array()
        .ok_or_else(|| error("ip addr", "not a list"))?;
    Ok(list
        .iter()
        .filter_map(|link| {
            let name = link.get("ifname")?.as_str()?.to_string();
            let mtu = link.get("mtu").and_then(Value::as_u64).unwrap_or(0) as u32;
            let addresses = link
                .get("addr_info")
                .and_then(Value::as_array)
                .map(|infos| {
                    infos
                        .iter()
                        .filter_map(|a| {
                            let local = a.get("local")?.as_str()?;
                            let prefix = a.get("prefixlen")?.as_u64()?;
                            Some(format!("{local}/{prefix}"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(Interface {
                name,
                mtu,
                addresses,
            })
        })
        .collect())
}

/// `ip -j route show default`: the first default route.
pub fn parse_default_route(json: &str) -> Option<Route> {
    let value: Value = serde_json::from_str(json).ok()?;
    let route = value.as_array()?.first()?;
    Some(Route {
        gateway: route
            .get("gateway")
            .and_then(Value::as_str)
            .map(str::to_string),
        interface: route
            .get("dev")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

/// `timedatectl show -p NTPSynchronized --value`: `yes`/`no`, anything else unknown.
pub fn parse_time_synced(text: &str) -> Option<bool> {
    match text.trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const NVME: &str = include_str!("../../tests/fixtures/facts/lsblk-nvme-lvm.json");
    const SATA: &str = include_str!("../../tests/fixtures/facts/lsblk-sata-md-usb.json");
    const OLD: &str = include_str!("../../tests/fixtures/facts/lsblk-old-strings.json");

    fn find<'a>(list: &'a [BlockDevice], name: &str) -> &'a BlockDevice {
        list.iter().find(|d| d.name == name).unwrap()
    }

    #[test]
    fn nvme_with_lvm_root() {
        let disks = parse_lsblk(NVME).unwrap();
        let names: Vec<_> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["loop0", "nvme0n1", "nvme1n1", "nvme2n1"]);
        let boot = find(&disks, "nvme0n1");
        assert_eq!(boot.size_bytes, 1_920_383_410_176);
        assert_eq!(
            boot.model.as_deref(),
            Some("SAMSUNG MZQL21T9HCJR-00A07"),
            "trailing blanks trimmed"
        );
        assert_eq!(boot.transport.as_deref(), Some("nvme"));
        assert!(!boot.rotational);
        assert!(boot.holds_root(), "/ is on an LV inside nvme0n1p3");
        assert!(boot.is_in_use());
        let lv = &boot.children[2].children[0];
        assert_eq!(
            (lv.kind.as_str(), lv.mountpoints.clone()),
            ("lvm", vec!["/".to_string()])
        );
        assert_eq!(
            lv.uuid.as_deref(),
            Some("9d2e4b71-05c3-4f8a-b6e2-7c1a3f5d8e90")
        );
        assert_eq!(lv.label, None, "an empty label is no label");
        assert_eq!(
            boot.children[1].uuid.as_deref(),
            Some("3c5f1e0a-7b42-4d8e-9f61-2a9d0c4b7e15")
        );
        assert_eq!(boot.uuid, None, "lsblk without the column: none");
        let data = find(&disks, "nvme1n1");
        assert!(!data.holds_root() && !data.is_mounted() && !data.is_in_use());
        assert_eq!(data.serial.as_deref(), Some("S64HNE0T800001"));
        let snap = find(&disks, "loop0");
        assert_eq!(snap.kind, "loop");
        assert_eq!(snap.fstype.as_deref(), Some("squashfs"));
        assert!(snap.is_mounted());
    }

    #[test]
    fn sata_md_usb_rom() {
        let disks = parse_lsblk(SATA).unwrap();
        let sda = find(&disks, "sda");
        assert!(sda.rotational);
        assert_eq!(sda.transport.as_deref(), Some("sata"));
        assert!(sda.holds_root(), "/ is on md0 over sda1");
        assert_eq!(sda.children[0].fstype.as_deref(), Some("linux_raid_member"));
        assert_eq!(sda.children[0].children[0].kind, "raid1");
        let ssd = find(&disks, "sdc");
        assert!(!ssd.rotational && ssd.is_mounted() && !ssd.holds_root());
        assert_eq!(ssd.fstype.as_deref(), Some("xfs"));
        let usb = find(&disks, "sdd");
        assert_eq!(usb.transport.as_deref(), Some("usb"));
        assert!(usb.is_in_use() && !usb.is_mounted());
        assert_eq!(find(&disks, "sr0").kind, "rom");
        assert_eq!(find(&disks, "sr0").serial, None);
    }

    #[test]
    fn old_lsblk_with_strings_and_mountpoint() {
        let disks = parse_lsblk(OLD).unwrap();
        let sda = find(&disks, "sda");
        assert_eq!(sda.size_bytes, 500_107_862_016);
        assert!(sda.rotational);
        assert!(sda.holds_root());
        assert_eq!(sda.children[0].mountpoints, ["/boot/efi"]);
        assert_eq!(sda.children[0].uuid.as_deref(), Some("1A2B-3C4D"));
        assert_eq!(sda.children[1].label.as_deref(), Some("root"));
        let sdb = find(&disks, "sdb");
        assert!(!sdb.rotational);
        assert_eq!(sdb.mountpoints, ["[SWAP]"]);
        assert!(sdb.is_mounted());
    }

    #[test]
    fn lsblk_errors_say_what() {
        assert_eq!(parse_lsblk("nope").unwrap_err().section, "lsblk");
        let e = parse_lsblk(r#"{"blockdevices":[{"name":"sda","size":"1.8T"}]}"#).unwrap_err();
        assert!(e.message.contains("sda: size"), "{e}");
        assert!(
            parse_lsblk(r#"{"x":1}"#)
                .unwrap_err()
                .message
                .contains("blockdevices")
        );
    }

    #[test]
    fn blkid_fills_missing_fstype() {
        let mut disks = parse_lsblk(
            r#"{"blockdevices":[{"name":"loop3","type":"loop","size":1,"fstype":null},
                {"name":"loop4","type":"loop","size":1,"fstype":"btrfs"},
                {"name":"loop5","type":"loop","size":1}]}"#,
        )
        .unwrap();
        apply_blkid(
            &mut disks,
            include_str!("../../tests/fixtures/facts/blkid.txt"),
        );
        assert_eq!(disks[0].fstype.as_deref(), Some("ext4"));
        assert_eq!(
            disks[1].fstype.as_deref(),
            Some("btrfs"),
            "lsblk's answer wins"
        );
        assert_eq!(disks[2].fstype, None);
    }

    #[test]
    fn blkid_fills_uuid_and_label_and_reads_every_record() {
        let mut disks = parse_lsblk(
            r#"{"blockdevices":[{"name":"loop3","type":"loop","size":1,"uuid":"from-lsblk"},
                {"name":"loop4","type":"loop","size":1}]}"#,
        )
        .unwrap();
        apply_blkid(
            &mut disks,
            include_str!("../../tests/fixtures/facts/blkid.txt"),
        );
        assert_eq!(disks[0].uuid.as_deref(), Some("from-lsblk"));
        assert_eq!(
            disks[1].uuid.as_deref(),
            Some("0c4e5b0e-1111-4a7e-9d0a-aaaaaaaaaaaa")
        );

        // `blkid -p` on a labelled filesystem, a partitioned disk, a blank device and a
        // second device without a blank line between.
        let found = parse_blkid(
            "DEVNAME=/dev/sdb\nLABEL=rackstrap\nUUID=u-1\nVERSION=1.0\nTYPE=ext4\nUSAGE=filesystem\n\n\
             DEVNAME=/dev/sdc\nPTTYPE=gpt\n\nDEVNAME=/dev/sdd\n\nUUID=orphan\n\n\
             DEVNAME=/dev/md0\nTYPE=xfs\nDEVNAME=/dev/md1\nTYPE=ext4\nLABEL=\n",
        );
        assert_eq!(
            found["sdb"],
            Blkid {
                fstype: Some("ext4".into()),
                pttype: None,
                uuid: Some("u-1".into()),
                label: Some("rackstrap".into()),
            }
        );
        assert_eq!(found["sdc"].pttype.as_deref(), Some("gpt"));
        assert_eq!(found["sdd"], Blkid::default(), "named, blank");
        assert_eq!(found["md0"].fstype.as_deref(), Some("xfs"));
        assert_eq!(found["md1"].fstype.as_deref(), Some("ext4"));
        assert_eq!(found["md1"].label, None);
        assert_eq!(found.len(), 5, "the record without DEVNAME is dropped");
    }

    #[test]
    fn mdstat_arrays() {
        let arrays = parse_mdstat(include_str!("../../tests/fixtures/facts/mdstat.txt"));
        assert_eq!(
            arrays,
            [
                MdArray {
                    name: "md1".into(),
                    level: "raid0".into(),
                    members: vec!["nvme2n1".into(), "nvme1n1".into()]
                },
                MdArray {
                    name: "md0".into(),
                    level: "raid1".into(),
                    members: vec!["sdb1".into(), "sda1".into()]
                },
                MdArray {
                    name: "md127".into(),
                    level: "inactive".into(),
                    members: vec!["sdc".into()]
                },
            ]
        );
        assert!(parse_mdstat("Personalities : \nunused devices: <none>\n").is_empty());
    }

    #[test]
    fn network() {
        let interfaces =
            parse_ip_addr(include_str!("../../tests/fixtures/facts/ip-addr.json")).unwrap();
        assert_eq!(interfaces.len(), 3);
        assert_eq!(interfaces[1].name, "eno1");
        assert_eq!(interfaces[1].mtu, 9000);
        assert_eq!(
            interfaces[1].addresses,
            ["10.0.10.136/24", "fe80::3eec:efff:fe12:3456/64"]
        );
        assert!(interfaces[2].addresses.is_empty());
        let route =
            parse_default_route(include_str!("../../tests/fixtures/facts/ip-route.json")).unwrap();
        assert_eq!(
            route,
            Route {
                gateway: Some("10.0.10.1".into()),
                interface: "eno1".into()
            }
        );
        assert_eq!(parse_default_route("[]"), None);
        assert!(parse_ip_addr("{").is_err());
    }

    #[test]
    fn small_files() {
        let os = parse_os_release(
            "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n",
        );
        assert_eq!(
            os,
            OsRelease {
                id: "ubuntu".into(),
                version_id: "22.04".into(),
                pretty_name: "Ubuntu 22.04.4 LTS".into()
            }
        );
        let (mem, swap) = parse_meminfo(
            "MemTotal:       65747632 kB\nMemFree:  1 kB\nSwapTotal:       8388604 kB\n",
        );
        assert_eq!((mem, swap), (65_747_632 * 1024, 8_388_604 * 1024));
        // The host writes these numbers; one past u64::MAX / 1024 saturates, never panics.
        let (mem, _) = parse_meminfo("MemTotal: 18446744073709551615 kB\n");
        assert_eq!(mem, u64::MAX);
        assert_eq!(
            parse_cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7443P 24-Core Processor\n"),
            "AMD EPYC 7443P 24-Core Processor"
        );
        assert_eq!(
            parse_cpu_model("Model name:            Neoverse-N1\n"),
            "Neoverse-N1"
        );
        assert_eq!(parse_time_synced("yes\n"), Some(true));
        assert_eq!(parse_time_synced(""), None);
    }
}
