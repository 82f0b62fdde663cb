//! Gathering facts over SSH: one exec of one script whose output has named sections, then the
//! pure parsers of [`super::parse`]. One round trip per host, whatever the number of facts.

#[cfg(test)]
use super::parse::SECTION_MARKER;
use super::parse::{self, ParseError};
use super::{HostFacts, Installed};
use crate::ssh::{Session, SshError};

/// The gathering script. Runs as root (blkid needs it). Each section starts with
/// `::rackstrap:: <name>`; optional tools are allowed to be missing.
///
/// "Which disk holds `/`" is the device whose `lsblk` mount points include `/` (directly or
/// through partitions, LVM or md below it): `BlockDevice::holds_root`.
pub const SCRIPT: &str = r#"export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
s() { printf '\n::rackstrap:: %s\n' "$1"; }
s hostname; hostname 2>/dev/null || cat /proc/sys/kernel/hostname
s os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
s kernel; uname -r
s arch; uname -m
s nproc; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
s cpu-model; grep -m1 -iE '^(model name|cpu model|hardware)[[:space:]]*:' /proc/cpuinfo 2>/dev/null; lscpu 2>/dev/null | grep -m1 '^Model name:'
s meminfo; cat /proc/meminfo
s cgroup; stat -fc %T /sys/fs/cgroup 2>/dev/null
s lsblk; lsblk -J -b -o NAME,TYPE,SIZE,ROTA,TRAN,MODEL,SERIAL,FSTYPE,MOUNTPOINTS 2>/dev/null || lsblk -J -b -o NAME,TYPE,SIZE,ROTA,TRAN,MODEL,SERIAL,FSTYPE,MOUNTPOINT
s blkid; devs=$(lsblk -pnr -o NAME 2>/dev/null); [ -n "$devs" ] && blkid -o export $devs 2>/dev/null
s mdstat; cat /proc/mdstat 2>/dev/null
s ip-addr; ip -j addr 2>/dev/null
s ip-route; ip -j route show default 2>/dev/null
s timesync; timeout 5 timedatectl show -p NTPSynchronized --value 2>/dev/null
s installed; for t in kubelet containerd kubeadm; do command -v "$t" >/dev/null 2>&1 && echo "$t"; done
s packages; for p in mdadm:mdadm xfsprogs:mkfs.xfs e2fsprogs:mkfs.ext4 python3:python3; do n=${p%%:*}; t=${p#*:}; { [ "$(dpkg-query -W -f='${db:Status-Status}' "$n" 2>/dev/null)" = installed ] || command -v "$t" >/dev/null 2>&1; } && echo "$n"; done
s end
"#;

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
    let output = session.run(SCRIPT).await?;
    let sections = parse::parse_sections(&output.stdout);
    if !sections.contains_key("end") {
        return Err(FactsError::Script {
            status: output.status,
            stderr: output.stderr.trim().to_string(),
        });
    }
    from_sections(&sections)
}

/// Build `HostFacts` from the script's sections (pure; tested on captured output).
pub fn from_sections(
    sections: &std::collections::BTreeMap<String, String>,
) -> Result<HostFacts, FactsError> {
    let get = |name: &str| sections.get(name).map(String::as_str).unwrap_or("");
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
            packages: sections.get("packages").map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            }),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_to_facts() {
        let text = format!(
            "{m}hostname\nnode1\n{m}os-release\nID=ubuntu\nVERSION_ID=\"22.04\"\n{m}kernel\n5.15.0-91-generic\n{m}arch\nx86_64\n\
             {m}nproc\n32\n{m}cpu-model\nmodel name\t: AMD EPYC 7443P 24-Core Processor\n{m}meminfo\nMemTotal: 1024 kB\nSwapTotal: 0 kB\n\
             {m}cgroup\ncgroup2fs\n{m}lsblk\n{lsblk}\n{m}blkid\n{m}mdstat\n{m}ip-addr\n[]\n{m}ip-route\n[]\n{m}timesync\nyes\n\
             {m}installed\ncontainerd\n{m}packages\ne2fsprogs\npython3\n{m}end\n",
            m = SECTION_MARKER,
            lsblk = include_str!("../../tests/fixtures/facts/lsblk-nvme-lvm.json")
        );
        let facts = from_sections(&parse::parse_sections(&text)).unwrap();
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
