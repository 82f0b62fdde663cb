//! Gathering facts over SSH: one exec of one script whose output has named sections, then the
//! pure parsers of [`super::parse`]. One round trip per host, whatever the number of facts.

use std::sync::LazyLock;

use super::parse::{self, ParseError};
use super::probe::{self, Script, Sections};
use super::{HostFacts, Installed};
use crate::ssh::{Session, SshError};

/// The gathering script's sections, in order: name and the command printing it. Runs as
/// root (blkid needs it); optional tools are allowed to be missing.
///
/// "Which disk holds `/`" is the device whose `lsblk` mount points include `/` (directly or
/// through partitions, LVM or md below it): `BlockDevice::holds_root`.
const SECTIONS: [(&str, &str); 16] = [
    (
        "hostname",
        "hostname 2>/dev/null || cat /proc/sys/kernel/hostname",
    ),
    (
        "os-release",
        "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null",
    ),
    ("kernel", "uname -r"),
    ("arch", "uname -m"),
    ("nproc", "nproc 2>/dev/null || getconf _NPROCESSORS_ONLN"),
    (
        "cpu-model",
        "grep -m1 -iE '^(model name|cpu model|hardware)[[:space:]]*:' /proc/cpuinfo 2>/dev/null; lscpu 2>/dev/null | grep -m1 '^Model name:'",
    ),
    ("meminfo", "cat /proc/meminfo"),
    ("cgroup", "stat -fc %T /sys/fs/cgroup 2>/dev/null"),
    ("lsblk", LSBLK),
    (
        "blkid",
        "devs=$(lsblk -pnr -o NAME 2>/dev/null); [ -n \"$devs\" ] && blkid -o export $devs 2>/dev/null",
    ),
    ("mdstat", "cat /proc/mdstat 2>/dev/null"),
    ("ip-addr", "ip -j addr 2>/dev/null"),
    ("ip-route", "ip -j route show default 2>/dev/null"),
    (
        "timesync",
        "timeout 5 timedatectl show -p NTPSynchronized --value 2>/dev/null",
    ),
    (
        "installed",
        "for t in kubelet containerd kubeadm; do command -v \"$t\" >/dev/null 2>&1 && echo \"$t\"; done",
    ),
    (
        "packages",
        "for p in mdadm:mdadm xfsprogs:mkfs.xfs e2fsprogs:mkfs.ext4 python3:python3; do n=${p%%:*}; t=${p#*:}; { [ \"$(dpkg-query -W -f='${db:Status-Status}' \"$n\" 2>/dev/null)\" = installed ] || command -v \"$t\" >/dev/null 2>&1; } && echo \"$n\"; done",
    ),
];

/// A known locale and PATH before anything runs (sudo's PATH may lack the sbin directories).
const ENV: &str =
    "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `lsblk` as JSON in bytes with the columns [`parse::parse_lsblk`] reads. MOUNTPOINTS (every
/// mount of a device) came with util-linux 2.37; older lsblk (Ubuntu 20.04 has 2.34, Debian
/// 11 2.36) only knows MOUNTPOINT, which the parser reads as well.
pub const LSBLK: &str = "lsblk -J -b -o NAME,TYPE,SIZE,ROTA,TRAN,MODEL,SERIAL,FSTYPE,UUID,LABEL,MOUNTPOINTS 2>/dev/null \
     || lsblk -J -b -o NAME,TYPE,SIZE,ROTA,TRAN,MODEL,SERIAL,FSTYPE,UUID,LABEL,MOUNTPOINT";

/// The gathering script, in the host-probe protocol ([`probe`]): one section per line.
pub static SCRIPT: LazyLock<String> = LazyLock::new(|| {
    SECTIONS
        .iter()
        .fold(Script::new().setup(ENV), |s, (name, command)| {
            s.section(name, *command)
        })
        .lines()
});

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("the facts script failed ({status}): {stderr}")]
    Script { status: u32, stderr: String },
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Run the gathering script on `session` and parse what it printed.
pub async fn gather(session: &Session) -> Result<HostFacts, FactsError> {
    let output = session.run(&SCRIPT).await?;
    let sections = probe::split(&output.stdout);
    if !sections.complete() {
        return Err(FactsError::Script {
            status: output.status,
            stderr: output.stderr.trim().to_string(),
        });
    }
    from_sections(&sections)
}

/// Build `HostFacts` from the script's sections (pure; tested on captured output).
pub fn from_sections(sections: &Sections) -> Result<HostFacts, FactsError> {
    let get = |name: &str| sections.text(name);
    let (mem_bytes, swap_bytes) = parse::parse_meminfo(get("meminfo"));
    let mut disks = parse::parse_lsblk(get("lsblk"))?;
    parse::apply_blkid(&mut disks, get("blkid"));
    let installed = get("installed");
    let has = |tool: &str| installed.lines().any(|l| l.trim() == tool);
    Ok(HostFacts {
        hostname: get("hostname").trim().to_string(),
        os: parse::parse_os_release(get("os-release")),
        kernel: get("kernel").trim().to_string(),
        arch: get("arch").trim().to_string(),
        cpus: get("nproc").trim().parse().unwrap_or(0),
        cpu_model: parse::parse_cpu_model(get("cpu-model")),
        mem_bytes,
        swap_bytes,
        cgroup_v2: get("cgroup").trim() == "cgroup2fs",
        disks,
        md_arrays: parse::parse_mdstat(get("mdstat")),
        interfaces: if get("ip-addr").trim().is_empty() {
            Vec::new()
        } else {
            parse::parse_ip_addr(get("ip-addr"))?
        },
        default_route: parse::parse_default_route(get("ip-route")),
        time_synced: parse::parse_time_synced(get("timesync")),
        installed: Installed {
            kubelet: has("kubelet"),
            containerd: has("containerd"),
            kubeadm: has("kubeadm"),
            packages: sections
                .contains("packages")
                .then(|| sections.words("packages").map(String::from).collect()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script runs to its end in this machine's `sh` (read-only), every section of it
    /// present: none of its commands disturbs the markers (a loop variable named like the
    /// token's once did).
    #[test]
    fn script_runs_to_its_end_in_sh() {
        let run = std::process::Command::new("sh")
            .arg("-c")
            .arg(SCRIPT.as_str())
            .output()
            .expect("sh runs");
        let sections = probe::split_bytes(&run.stdout);
        assert!(
            sections.complete(),
            "{}",
            String::from_utf8_lossy(&run.stdout)
        );
        for (name, _) in SECTIONS {
            assert!(sections.contains(name), "{name}");
        }
        assert!(!sections.text("kernel").is_empty());
    }

    #[test]
    fn sections_to_facts() {
        let text = format!(
            "{m}hostname\nnode1\n{m}os-release\nID=ubuntu\nVERSION_ID=\"22.04\"\n{m}kernel\n5.15.0-91-generic\n{m}arch\nx86_64\n\
             {m}nproc\n32\n{m}cpu-model\nmodel name\t: AMD EPYC 7443P 24-Core Processor\n{m}meminfo\nMemTotal: 1024 kB\nSwapTotal: 0 kB\n\
             {m}cgroup\ncgroup2fs\n{m}lsblk\n{lsblk}\n{m}blkid\n{m}mdstat\n{m}ip-addr\n[]\n{m}ip-route\n[]\n{m}timesync\nyes\n\
             {m}installed\ncontainerd\n{m}packages\ne2fsprogs\npython3\n{m}end\n",
            m = probe::MARKER,
            lsblk = include_str!("../../tests/fixtures/facts/lsblk-nvme-lvm.json")
        );
        let facts = from_sections(&probe::split(&text)).unwrap();
        assert_eq!(facts.hostname, "node1");
        assert_eq!(facts.cpus, 32);
        assert_eq!(facts.mem_bytes, 1024 * 1024);
        assert!(facts.cgroup_v2);
        assert_eq!(facts.time_synced, Some(true));
        assert_eq!(
            facts.installed,
            Installed {
                kubelet: false,
                containerd: true,
                kubeadm: false,
                packages: Some(vec!["e2fsprogs".into(), "python3".into()]),
            }
        );
        assert_eq!(facts.root_disk().map(|d| d.name.as_str()), Some("nvme0n1"));
        assert_eq!(facts.os.version_id, "22.04");
    }
}
