//! The lab itself: hosts come up as separate machines with their own names, `/etc` and disks.

mod common;

use common::lab::{DiskSpec, HostSpec, Lab, Os};

const GIB: u64 = 1 << 30;

#[test]
fn hosts_have_their_own_hostname_etc_and_disks() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("alpha").disk(10 * GIB).disk(20 * GIB),
        HostSpec::new("beta").os(Os::Debian12).disk(3 * GIB),
        HostSpec::new("gamma")
            .disk_spec(DiskSpec::mounted(GIB, "ext4", "/"))
            .disk_spec(DiskSpec::mounted(2 * GIB, "ext4", "/mnt/data"))
            .disk_spec(DiskSpec::formatted(GIB, "ext4")),
    ]);
    for host in lab.hosts() {
        assert_eq!(lab.exec_ok(&host.name, "hostname").trim(), host.name);
        let os = lab.exec_ok(&host.name, ". /etc/os-release; echo $ID");
        assert_eq!(os.trim(), host.os.id());
        let listed = lab.exec_ok(&host.name, "lsblk -dnbo NAME,SIZE");
        let mut seen: Vec<(String, u64)> = listed
            .lines()
            .map(|l| {
                let mut p = l.split_whitespace();
                (
                    p.next().unwrap().to_string(),
                    p.next().unwrap().parse().unwrap(),
                )
            })
            .collect();
        seen.sort();
        let mut expected: Vec<(String, u64)> = host
            .disks
            .iter()
            .map(|d| (d.name.clone(), d.size))
            .collect();
        expected.sort();
        assert_eq!(
            seen, expected,
            "{}: lsblk shows exactly its own disks",
            host.name
        );
    }
    // Over real SSH with the OpenSSH client, as ansible will use it.
    let out = std::process::Command::new("ssh")
        .args(lab.ssh_args("beta"))
        .arg("hostname; cat /etc/hostname")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "beta\nbeta\n");

    // Mounts stay inside the host: gamma's root disk and /mnt/data are gamma's alone.
    let gamma = lab.host("gamma");
    let root = lab.exec_ok("gamma", "findmnt -n -o SOURCE /");
    assert!(
        root.lines()
            .any(|l| l.trim() == gamma.disks[0].device.to_str().unwrap()),
        "{root}"
    );
    assert!(
        lab.exec_in("alpha", "mountpoint -q /mnt/data")
            .status
            .code()
            != Some(0)
    );
    assert_eq!(
        lab.exec_ok("gamma", "findmnt -n -o SOURCE /mnt/data")
            .trim(),
        gamma.disks[1].device.to_str().unwrap()
    );
    // /etc writes stay in the host.
    lab.exec_ok("alpha", "echo lab-only >> /etc/fstab");
    assert!(
        !std::fs::read_to_string("/etc/fstab")
            .unwrap_or_default()
            .contains("lab-only")
    );
    assert!(!lab.exec_ok("beta", "cat /etc/fstab").contains("lab-only"));

    let backing: Vec<_> = lab
        .hosts()
        .iter()
        .flat_map(|h| h.disks.iter().map(|d| d.backing.clone()))
        .collect();
    let dir = lab.dir.clone();
    drop(lab);
    let listed = String::from_utf8_lossy(
        &std::process::Command::new("losetup")
            .args(["-l", "-n", "-O", "BACK-FILE"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    for file in backing {
        assert!(
            !listed.contains(file.to_str().unwrap()),
            "loop device left for {}",
            file.display()
        );
    }
    assert!(!dir.exists(), "lab dir removed");
}

#[test]
fn sessions_leave_no_zombies_and_failed_tests_clean_up() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("reaper")]);
    for _ in 0..5 {
        let out = std::process::Command::new("ssh")
            .args(lab.ssh_args("reaper"))
            .arg("true")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let states = lab.exec_ok("reaper", "ps -eo stat= ");
    assert!(
        !states.lines().any(|s| s.starts_with('Z')),
        "zombies: {states}"
    );

    // A panicking test still tears its lab down.
    let dir = std::panic::catch_unwind(|| {
        let lab = Lab::start(vec![HostSpec::new("doomed").disk(GIB)]);
        let dir = lab.dir.clone();
        std::panic::panic_any(dir);
    })
    .unwrap_err()
    .downcast::<std::path::PathBuf>()
    .unwrap();
    assert!(!dir.exists());
    let listed = String::from_utf8_lossy(
        &std::process::Command::new("losetup")
            .args(["-l", "-n", "-O", "BACK-FILE"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(!listed.contains(dir.to_str().unwrap()), "{listed}");
}
