//! Rules about one value, shared by `check` and the wizard's forms: a mount point, a
//! network field, a name, a disk. Each is one function here; `check` turns a failure into a
//! finding at the value's path, the wizard shows it under the field with its column.

use std::net::IpAddr;

use super::messages as msg;
use crate::facts::BlockDevice;
use crate::net::{self, ParseError};

/// MTU bounds: 1280 is the least IPv6 (and Calico's encapsulation) works with; 9216 is the
/// largest jumbo frame common switches carry.
pub const MTU_MIN: u32 = 1280;
pub const MTU_MAX: u32 = 9216;
/// Node prefix (`kube_network_node_prefix`) bounds a value may take on its own: a prefix
/// length of an IPv4 network, the only family the plan supports. Whether it fits the pod
/// CIDR and leaves room for kubelet's pods is a relation `check` judges with the pod CIDR.
pub const NODE_PREFIX_MIN: u8 = 0;
pub const NODE_PREFIX_MAX: u8 = 32;

fn error(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

/// Leading blanks, in characters: positions are reported in the text as typed.
fn lead(text: &str) -> usize {
    text.chars().take_while(|c| c.is_whitespace()).count()
}

/// Where the first character that is not a digit is, if any.
fn non_digit(text: &str) -> Option<usize> {
    let body = text.trim();
    if body.is_empty() {
        return Some(lead(text));
    }
    body.chars()
        .position(|c| !c.is_ascii_digit())
        .map(|p| lead(text) + p)
}

/// `None` when `mtu` is inside [`MTU_MIN`]..=[`MTU_MAX`]; otherwise the message.
pub fn mtu_problem(mtu: u32) -> Option<String> {
    (!(MTU_MIN..=MTU_MAX).contains(&mtu)).then(|| msg::bad_mtu(mtu))
}

/// The Network form's MTU field: a whole number inside the MTU bounds.
pub fn parse_mtu(text: &str) -> Result<u32, ParseError> {
    if let Some(p) = non_digit(text) {
        return Err(error(p, msg::mtu_expected()));
    }
    let mtu: u32 = text
        .trim()
        .parse()
        .map_err(|_| error(lead(text), msg::mtu_expected()))?;
    match mtu_problem(mtu) {
        Some(m) => Err(error(lead(text), m)),
        None => Ok(mtu),
    }
}

/// The node prefix field: a whole number inside the node prefix bounds.
pub fn parse_node_prefix(text: &str) -> Result<u8, ParseError> {
    let expected = || error(lead(text), msg::node_prefix_expected());
    if let Some(p) = non_digit(text) {
        return Err(error(p, msg::node_prefix_expected()));
    }
    let prefix: u8 = text.trim().parse().map_err(|_| expected())?;
    if (NODE_PREFIX_MIN..=NODE_PREFIX_MAX).contains(&prefix) {
        Ok(prefix)
    } else {
        Err(expected())
    }
}

/// A MetalLB pool name: a DNS label (lower-case letters, digits and `-`, neither first nor
/// last, at most 63), as Kubernetes object names are. `None` when it is one.
pub fn pool_name_error(name: &str) -> Option<ParseError> {
    if name.is_empty() {
        return Some(error(0, msg::POOL_NEEDS_NAME));
    }
    if let Some((i, _)) = name
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(error(i, msg::POOL_NAME_CHARS));
    }
    if name.starts_with('-') {
        return Some(error(0, msg::POOL_NAME_DASH));
    }
    if name.ends_with('-') {
        return Some(error(name.chars().count() - 1, msg::POOL_NAME_DASH));
    }
    if name.len() > net::MAX_LABEL_LEN {
        return Some(error(net::MAX_LABEL_LEN, msg::pool_name_long()));
    }
    None
}

/// The VIP: one address (not a range or network), blanks around it allowed.
pub fn parse_vip(text: &str) -> Result<IpAddr, ParseError> {
    net::parse_addr(text.trim()).map_err(|e| e.shifted(lead(text)))
}

/// A list of single addresses (upstream DNS), separated by commas or blanks, each with
/// its position in the whole text.
pub fn parse_addr_list(text: &str) -> Result<Vec<IpAddr>, ParseError> {
    net::split_list(text)
        .into_iter()
        .map(|(at, item)| net::parse_addr(item).map_err(|e| e.shifted(at)))
        .collect()
}

/// Why a disk cannot be offered for a data layout without consent to destroy what is on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskInUse {
    /// It holds the root filesystem: never offered, wipe or not.
    HoldsRoot,
    /// It, or a partition on it, is mounted.
    Mounted,
    /// It carries a filesystem, a partition table or an md member signature.
    HasData,
}

impl DiskInUse {
    /// A few words for a disk list (`holds /`).
    pub fn label(self) -> &'static str {
        match self {
            DiskInUse::HoldsRoot => "holds /",
            DiskInUse::Mounted => "mounted",
            DiskInUse::HasData => "has data",
        }
    }
}

/// `None` when the disk is free: not the root disk, not mounted, nothing on it.
pub fn disk_in_use(dev: &BlockDevice) -> Option<DiskInUse> {
    if dev.holds_root() {
        Some(DiskInUse::HoldsRoot)
    } else if dev.is_mounted() {
        Some(DiskInUse::Mounted)
    } else if dev.is_in_use() {
        Some(DiskInUse::HasData)
    } else {
        None
    }
}

/// Kubespray's hostname rule (preinstall "Stop if bad hostname"), also fine for domains.
pub fn is_dns_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= net::MAX_NAME_LEN && s.split('.').all(is_dns_label)
}

pub(super) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= net::MAX_LABEL_LEN
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Kubernetes label syntax: `[prefix/]name` and value, each name/value at most 63
/// characters (a DNS label's length, [`net::MAX_LABEL_LEN`]) of alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn label_problem(key: &str, value: &str) -> Option<String> {
    fn ok_part(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() <= net::MAX_LABEL_LEN
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
            && b.first().is_none_or(|c| c.is_ascii_alphanumeric())
            && b.last().is_none_or(|c| c.is_ascii_alphanumeric())
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if name.is_empty() || !ok_part(name) || prefix.is_some_and(|p| !is_dns_name(p)) {
        return Some(msg::bad_label_key(key));
    }
    if !ok_part(value) {
        return Some(msg::bad_label_value(key, value));
    }
    None
}

/// Node labels as an operator types them: `key=value` pairs, comma separated (empty: none).
/// Each pair passes [`label_problem`]; the error names the pair and what is wrong.
pub fn parse_labels(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut out = std::collections::BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("`{pair}` is not key=value"));
        };
        let (key, value) = (key.trim(), value.trim());
        if let Some(problem) = label_problem(key, value) {
            return Err(problem);
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// Mount points a data layout must never take, with what mounting a new filesystem there
/// would hide. Directories under the first group are refused too (`/etc/x`, `/usr/local`).
const SYSTEM_TREES: [(&str, &str); 12] = [
    ("/boot", "the kernels and the boot loader"),
    ("/etc", "the system's configuration"),
    ("/usr", "the installed programs"),
    ("/proc", "the kernel's process view"),
    ("/sys", "the kernel's device view"),
    ("/dev", "the device nodes"),
    ("/run", "the running services' state"),
    ("/bin", "the installed programs"),
    ("/sbin", "the installed programs"),
    ("/lib", "the system libraries"),
    ("/lib32", "the system libraries"),
    ("/lib64", "the system libraries"),
];
const SYSTEM_DIRS: [(&str, &str); 10] = [
    ("/", "the whole system"),
    ("/var", "logs, package state and service data"),
    ("/var/lib", "dpkg's and every service's state"),
    ("/var/log", "the system's logs"),
    ("/var/cache", "apt's package cache"),
    ("/var/tmp", "temporary files kept across reboots"),
    ("/home", "the users' home directories"),
    ("/root", "root's home directory"),
    ("/tmp", "temporary files (often a tmpfs)"),
    ("/opt", "installed software"),
];

/// What a new filesystem mounted at `mount` would hide, when `mount` is a system directory.
fn system_dir(mount: &str) -> Option<&'static str> {
    if let Some((_, what)) = SYSTEM_DIRS.iter().find(|(d, _)| *d == mount) {
        return Some(what);
    }
    SYSTEM_TREES
        .iter()
        .find(|(d, _)| mount == *d || mount.starts_with(&format!("{d}/")))
        .map(|(_, what)| *what)
}

/// Why a mount point cannot be used: the message and, when there is one obvious fix, a hint.
/// One rule for `check`, the wizard's mount field and the storage stage: fstab separates
/// fields by blanks, and a path that is not written the one plain way (`..`, `//`, a
/// trailing `/`) would slip past the system-directory and collision checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountProblem {
    pub message: String,
    pub hint: Option<String>,
}

/// `None` when `mount` is an absolute, plainly written path other than a system directory.
pub fn mount_problem(mount: &str) -> Option<MountProblem> {
    let problem = |message: String, hint: Option<String>| Some(MountProblem { message, hint });
    if !mount.starts_with('/') {
        let instead = format!("/{}", mount.trim_start_matches("./"));
        return problem(
            msg::mount_not_absolute(mount),
            (!mount.trim().is_empty()).then(|| msg::did_you_mean(&instead)),
        );
    }
    if mount.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return problem(msg::mount_blank(mount), None);
    }
    if mount.split('/').any(|part| part == "." || part == "..") {
        return problem(msg::mount_dots(mount), None);
    }
    if mount.len() > 1 && (mount.ends_with('/') || mount.contains("//")) {
        let plain: Vec<&str> = mount.split('/').filter(|p| !p.is_empty()).collect();
        let plain = format!("/{}", plain.join("/"));
        return problem(
            msg::mount_not_plain(mount),
            Some(msg::write_instead(&plain)),
        );
    }
    if let Some(what) = system_dir(mount) {
        return problem(
            msg::mount_system(mount, what),
            Some(msg::mount_elsewhere().into()),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtu_field_takes_the_bounds_and_points_at_the_bad_character() {
        assert_eq!(parse_mtu(&MTU_MIN.to_string()), Ok(MTU_MIN));
        assert_eq!(parse_mtu(&format!(" {MTU_MAX}")), Ok(MTU_MAX));
        let e = parse_mtu(&(MTU_MAX + 1).to_string()).unwrap_err();
        assert_eq!(
            (e.position, e.message.as_str()),
            (0, "MTU 9217 is outside 1280-9216")
        );
        assert!(parse_mtu(&(MTU_MIN - 1).to_string()).is_err());
        assert_eq!(parse_mtu("15x0").unwrap_err().position, 2);
        assert_eq!(parse_mtu("").unwrap_err().position, 0);
        assert!(parse_mtu("99999999999").is_err());
    }

    #[test]
    fn node_prefix_field_is_an_ipv4_prefix_length() {
        assert_eq!(parse_node_prefix("0"), Ok(0));
        assert_eq!(parse_node_prefix("24"), Ok(24));
        assert_eq!(parse_node_prefix("32"), Ok(32));
        let e = parse_node_prefix("33").unwrap_err();
        assert_eq!(e.message, "a prefix length 0-32");
        assert_eq!(parse_node_prefix("2a").unwrap_err().position, 1);
        assert!(parse_node_prefix("300").is_err());
    }

    #[test]
    fn pool_names_are_dns_labels() {
        assert_eq!(pool_name_error("default"), None);
        assert_eq!(pool_name_error("pool-1"), None);
        assert_eq!(pool_name_error("").unwrap().message, "a pool needs a name");
        assert_eq!(pool_name_error("Pool").unwrap().position, 0);
        assert_eq!(pool_name_error("ab_c").unwrap().position, 2);
        assert_eq!(pool_name_error("-ab").unwrap().position, 0);
        assert_eq!(pool_name_error("ab-").unwrap().position, 2);
        assert_eq!(pool_name_error(&"a".repeat(64)).unwrap().position, 63);
        assert_eq!(pool_name_error(&"a".repeat(63)), None);
        for name in ["default", "", "Pool", "-ab", "ab-", "a.b", &"a".repeat(64)] {
            assert_eq!(
                pool_name_error(name).is_none(),
                is_dns_label(name),
                "{name}"
            );
        }
    }

    #[test]
    fn vip_and_address_lists_keep_positions_in_the_whole_text() {
        assert!(parse_vip(" 10.0.0.5 ").is_ok());
        assert_eq!(parse_vip("  10.0.0.x").unwrap_err().position, 9);
        assert!(parse_vip("10.0.0.0/28").is_err());
        assert_eq!(parse_addr_list("8.8.8.8, 1.1.1.1").unwrap().len(), 2);
        assert_eq!(parse_addr_list("8.8.8.8 1.1.1.1").unwrap().len(), 2);
        assert_eq!(parse_addr_list("").unwrap().len(), 0);
        assert_eq!(
            parse_addr_list("8.8.8.8, 1.1.x.1").unwrap_err().position,
            13
        );
    }

    #[test]
    fn disks_in_use_say_why() {
        let mut d = BlockDevice {
            name: "sdb".into(),
            kind: "disk".into(),
            ..Default::default()
        };
        assert_eq!(disk_in_use(&d), None);
        d.fstype = Some("xfs".into());
        assert_eq!(disk_in_use(&d), Some(DiskInUse::HasData));
        d.mountpoints = vec!["/mnt".into()];
        assert_eq!(disk_in_use(&d), Some(DiskInUse::Mounted));
        d.mountpoints = vec!["/".into()];
        assert_eq!(disk_in_use(&d).map(DiskInUse::label), Some("holds /"));
    }
}
