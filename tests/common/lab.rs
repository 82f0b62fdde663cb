//! The test lab: real OpenSSH servers on loopback, each pretending to be its own machine.
//!
//! How it works:
//!
//! - A lab takes a *slot*: a `/24` of loopback, `127.77.<slot>.0/24`, locked with an exclusive
//!   file lock in `$TMPDIR/rackstrap-lab/slot-<slot>.lock`, so labs in parallel test processes
//!   never share addresses. Host `i` (from 0) listens on `127.77.<slot>.<i+1>`, all hosts of a
//!   lab on [`LAB_PORT`]. Addresses after the last host are free for "nothing there" cases
//!   ([`Lab::address`]).
//! - Each host is a process tree under `unshare --uts --mount --pid`: its own hostname, its own
//!   `/etc` (an overlay over the machine's `/etc`, so `/etc/os-release`, `fstab`, `passwd`,
//!   `sudoers.d` are its own and writes stay in the lab), its own `/sys/block` (a tmpfs of
//!   symlinks to just its loop devices, so `lsblk` lists only its disks and never the machine's
//!   real ones), and private tmpfs on `/mnt` and `/srv` (mount points for storage tests must live
//!   there, the rest of the root filesystem is the machine's) and on `/root` (root's home is
//!   the host's own, empty at start).
//! - Disks are loop devices over sparse files in the slot directory. A disk can be formatted
//!   (`mkfs`) and mounted inside the host's namespace. A disk "mounted at `/`" is mounted on top
//!   of the namespace's root: processes keep seeing the machine's files, but the mount table
//!   (and so `lsblk`, `findmnt`) says that disk holds `/`. That is how facts' "which disk holds
//!   `/`" (the device whose mount points include `/`) is tested.
//! - `sshd` (Debian `openssh-server`, started as `/usr/sbin/sshd -D -e -f <config>` inside the
//!   namespaces) has its own host key and authorises the lab's client key for root through
//!   `AuthorizedKeysFile <host dir>/authorized_keys/%u`. Extra users get homes in the host dir,
//!   optional passwords (password authentication is on) and sudo rules.
//! - Teardown (`Drop`, also on panic): the namespace's init is killed, which kills every
//!   process in its PID namespace and drops its mounts; the loop devices are detached and the
//!   slot directory removed. If a test process is killed outright, its namespaces' inits see
//!   EOF on their stdin and exit, and the next lab taking the slot detaches leftover loop
//!   devices and kills leftover inits before starting.
//!
//! Needs root, `unshare`/`nsenter`, `losetup`, `ssh-keygen`, `/usr/sbin/sshd`, overlayfs.
//! Tests call [`skip_reason`] (through `require_lab!`) and skip with a printed reason when the
//! machine cannot host a lab; with `CI` set they fail instead, so CI never passes on skipped labs.
//!
//! With [`Lab::start_networked`] each host also gets its own network namespace, joined to a
//! bridge in a namespace of the lab's own, with addresses from 198.18.0.0/15 (`netlab.rs`):
//! hosts are reached from inside that namespace only ([`Lab::in_hub`]).
//!
//! For ansible or the OpenSSH client: [`Lab::ssh_args`] gives
//! `-i <key> -p <port> -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@<addr>`.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The port every lab host listens on (each on its own address).
pub const LAB_PORT: u16 = 2222;
/// Second octet of lab addresses: `127.77.<slot>.<host>`.
const LAB_OCTET: u8 = 77;
const SSHD: &str = "/usr/sbin/sshd";
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Why this machine cannot run the lab, if it cannot.
pub fn skip_reason() -> Option<String> {
    // The effective uid, read from /proc (no libc needed).
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("");
    if euid != "0" {
        return Some("the lab needs root (namespaces, loop devices)".into());
    }
    for tool in ["unshare", "nsenter", "losetup", "ssh-keygen", "lsblk"] {
        if which(tool).is_none() {
            return Some(format!("`{tool}` is not installed"));
        }
    }
    if !Path::new(SSHD).exists() {
        return Some(format!("{SSHD} is missing (install openssh-server)"));
    }
    let probe = Command::new("unshare")
        .args(["--uts", "--mount", "--pid", "--fork", "true"])
        .output();
    match probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "unshare cannot create namespaces here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("unshare: {e}")),
    }
}

/// Skip the calling test (with a printed reason) when the lab cannot run on this machine.
#[macro_export]
macro_rules! require_lab {
    () => {
        if let Some(reason) = $crate::common::lab::skip_reason() {
            // In CI the lab must run: a skipped lab test there would hide a broken machine
            // set-up behind a green run.
            if std::env::var_os("CI").is_some() {
                panic!("the lab cannot start in CI: {reason}");
            }
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// Which `/etc/os-release` a host shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Ubuntu2204,
    Ubuntu2404,
    Debian12,
}

impl Os {
    fn os_release(self) -> &'static str {
        match self {
            Os::Ubuntu2204 => {
                "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=jammy\n"
            }
            Os::Ubuntu2404 => {
                "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nVERSION=\"24.04.1 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\nUBUNTU_CODENAME=noble\n"
            }
            Os::Debian12 => {
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"
            }
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Os::Ubuntu2204 | Os::Ubuntu2404 => "ubuntu",
            Os::Debian12 => "debian",
        }
    }

    pub fn version_id(self) -> &'static str {
        match self {
            Os::Ubuntu2204 => "22.04",
            Os::Ubuntu2404 => "24.04",
            Os::Debian12 => "12",
        }
    }
}

/// One disk of a lab host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    pub size: u64,
    /// `ext4` or `xfs`: formatted before the host starts.
    pub fs: Option<String>,
    /// Mounted inside the host's namespace (needs `fs`). Use paths under `/mnt` or `/srv`, or
    /// `/` to make it the disk that holds the root filesystem.
    pub mount: Option<String>,
}

impl DiskSpec {
    pub fn blank(size: u64) -> Self {
        DiskSpec {
            size,
            fs: None,
            mount: None,
        }
    }

    pub fn formatted(size: u64, fs: &str) -> Self {
        DiskSpec {
            size,
            fs: Some(fs.into()),
            mount: None,
        }
    }

    pub fn mounted(size: u64, fs: &str, at: &str) -> Self {
        DiskSpec {
            size,
            fs: Some(fs.into()),
            mount: Some(at.into()),
        }
    }
}

/// How sudo treats an extra user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sudo {
    None,
    NoPassword,
    /// `user ALL=(ALL) ALL`: sudo asks for the user's password.
    WithPassword,
}

#[derive(Debug, Clone)]
pub struct UserSpec {
    pub name: String,
    /// Login password (also the sudo password); `None`: no password login.
    pub password: Option<String>,
    pub sudo: Sudo,
    /// The lab's client key may log in as this user.
    pub authorized: bool,
}

impl UserSpec {
    pub fn new(name: &str, sudo: Sudo) -> Self {
        UserSpec {
            name: name.into(),
            password: None,
            sudo,
            authorized: true,
        }
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.into());
        self
    }

    pub fn unauthorized(mut self) -> Self {
        self.authorized = false;
        self
    }
}

#[derive(Debug, Clone)]
pub struct HostSpec {
    pub name: String,
    pub os: Os,
    pub disks: Vec<DiskSpec>,
    pub users: Vec<UserSpec>,
    /// Contents of the host's `/etc/fstab` (default: a comment line).
    pub fstab: Option<String>,
}

impl HostSpec {
    pub fn new(name: &str) -> Self {
        HostSpec {
            name: name.into(),
            os: Os::Ubuntu2204,
            disks: Vec::new(),
            users: Vec::new(),
            fstab: None,
        }
    }

    pub fn os(mut self, os: Os) -> Self {
        self.os = os;
        self
    }

    /// A blank disk of `size` bytes.
    pub fn disk(mut self, size: u64) -> Self {
        self.disks.push(DiskSpec::blank(size));
        self
    }

    pub fn disk_spec(mut self, disk: DiskSpec) -> Self {
        self.disks.push(disk);
        self
    }

    pub fn user(mut self, user: UserSpec) -> Self {
        self.users.push(user);
        self
    }

    pub fn fstab(mut self, text: &str) -> Self {
        self.fstab = Some(text.into());
        self
    }
}

/// A disk as the lab made it.
#[derive(Debug, Clone)]
pub struct LabDisk {
    /// Kernel name (`loop3`): what `lsblk` on the host shows.
    pub name: String,
    /// `/dev/loop3`
    pub device: PathBuf,
    /// The sparse file behind it.
    pub backing: PathBuf,
    pub size: u64,
    pub spec: DiskSpec,
}

pub struct LabHost {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub os: Os,
    pub disks: Vec<LabDisk>,
    pub users: Vec<UserSpec>,
    /// The host's private directory (config, host key, logs, user homes).
    pub dir: PathBuf,
    /// PID (in the machine's namespace) of the host's namespace init.
    pub init_pid: u32,
    /// In a network namespace of its own (a networked lab).
    pub net: bool,
    init: Child,
    init_stdin: Option<ChildStdin>,
    sshd: Option<Child>,
}

impl LabHost {
    /// The host's current public host key line (`ssh-ed25519 AAAA...`).
    pub fn host_public_key(&self) -> String {
        fs::read_to_string(self.dir.join("ssh_host_ed25519_key.pub")).unwrap_or_default()
    }

    pub fn sshd_log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

pub struct Lab {
    pub slot: u8,
    pub dir: PathBuf,
    hosts: Vec<LabHost>,
    key: PathBuf,
    /// Hosts in network namespaces of their own on the lab's bridge (`netlab.rs`).
    net: bool,
    _lock: File,
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("lab: cannot run {shown}: {e}"));
    assert!(
        output.status.success(),
        "lab: {shown} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn lab_root() -> PathBuf {
    std::env::temp_dir().join("rackstrap-lab")
}

/// Take the first free slot (a `/24` of loopback and a directory). Every slot found unlocked
/// on the way is swept of what a killed previous owner left behind (loop devices, processes).
fn take_slot() -> (u8, File, PathBuf) {
    let root = lab_root();
    fs::create_dir_all(&root).expect("lab: create lab root");
    let mut taken: Option<(u8, File, PathBuf)> = None;
    for slot in 1..=254u8 {
        let lock_path = root.join(format!("slot-{slot}.lock"));
        let dir = root.join(format!("slot-{slot}"));
        if taken.is_some() && !lock_path.exists() {
            continue;
        }
        let Ok(lock) = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        clean_leftovers(&dir);
        super::netlab::remove_hub(slot);
        if taken.is_none() {
            fs::create_dir_all(&dir).expect("lab: create slot dir");
            taken = Some((slot, lock, dir));
        }
    }
    taken.unwrap_or_else(|| panic!("lab: all 254 slots are busy"))
}

/// Kill inits and detach loop devices that belong to `dir` from a previous, killed owner.
fn clean_leftovers(dir: &Path) {
    if !dir.exists() {
        return;
    }
    let marker = dir.to_string_lossy().to_string();
    if let Ok(pids) = fs::read_to_string(dir.join("pids")) {
        for pid in pids.split_whitespace() {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            // Only a process whose command line names this slot dir is ours.
            if String::from_utf8_lossy(&cmdline).contains(&marker) {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
    }
    detach_loops_under(dir);
    let _ = fs::remove_dir_all(dir);
}

/// Detach every loop device whose backing file lies under `dir`.
fn detach_loops_under(dir: &Path) {
    let Ok(out) = Command::new("losetup")
        .args(["--list", "--noheadings", "--output", "NAME,BACK-FILE"])
        .output()
    else {
        return;
    };
    let prefix = dir.to_string_lossy().to_string();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut parts = line.split_whitespace();
        if let (Some(name), Some(back)) = (parts.next(), parts.next())
            && back.starts_with(&prefix)
        {
            let _ = Command::new("losetup").args(["--detach", name]).status();
        }
    }
}

/// `losetup --find --show`, retried: parallel labs race for the same free device.
fn attach_loop(file: &Path) -> String {
    let mut last = String::new();
    for attempt in 0..20 {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(file)
            .output()
            .expect("lab: run losetup");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        last = String::from_utf8_lossy(&out.stderr).to_string();
        std::thread::sleep(Duration::from_millis(20 * (attempt + 1)));
    }
    panic!(
        "lab: cannot attach a loop device to {}: {last}",
        file.display()
    );
}

fn write_file(path: &Path, text: &str, mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("lab: mkdir");
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("lab: write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("lab: chmod");
}

fn keygen(path: &Path, comment: &str) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path));
}

impl Lab {
    /// Start every host and wait until each sshd accepts connections. Panics (tearing down
    /// what was made) when something cannot be set up.
    pub fn start(specs: Vec<HostSpec>) -> Lab {
        Self::start_with(specs, false)
    }

    /// [`Lab::start`] with each host in a network namespace of its own, on the lab's bridge
    /// (`netlab.rs`); callers check `netlab::skip_reason` too.
    pub fn start_networked(specs: Vec<HostSpec>) -> Lab {
        Self::start_with(specs, true)
    }

    fn start_with(specs: Vec<HostSpec>, net: bool) -> Lab {
        assert!(specs.len() <= 200, "lab: at most 200 hosts per lab");
        let (slot, lock, dir) = take_slot();
        let key = dir.join("client_key");
        keygen(&key, "rackstrap-lab");
        let mut lab = Lab {
            slot,
            dir,
            hosts: Vec::new(),
            key,
            net,
            _lock: lock,
        };
        if net {
            super::netlab::create_hub(slot);
        }
        // Privilege separation directory sshd insists on (the package normally creates it).
        let _ = fs::create_dir_all("/run/sshd");
        for (i, spec) in specs.into_iter().enumerate() {
            let host = lab.make_host(i, spec);
            lab.hosts.push(host);
            lab.record_pids();
        }
        for i in 0..lab.hosts.len() {
            lab.start_sshd(i);
        }
        for i in 0..lab.hosts.len() {
            lab.wait_ready(i);
        }
        lab
    }

    /// `127.77.<slot>.<n>`: host `i` is at `n = i + 1`; higher `n` are free addresses.
    pub fn address(&self, n: u8) -> String {
        if self.net {
            return super::netlab::host_address(self.slot, usize::from(n.saturating_sub(1)));
        }
        format!("127.{LAB_OCTET}.{}.{n}", self.slot)
    }

    /// A networked lab's hub namespace (`netlab.rs`), where its hosts are reached from.
    pub fn hub(&self) -> Option<String> {
        self.net.then(|| super::netlab::hub_name(self.slot))
    }

    /// `program` run where the lab's hosts are reachable: inside the hub of a networked lab.
    pub fn in_hub(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        if self.net {
            super::netlab::in_hub(self.slot, program)
        } else {
            Command::new(program)
        }
    }

    /// A networked lab: the MTU of `host`'s link on the bridge's side.
    pub fn set_link_mtu(&self, host: &str, mtu: u32) {
        assert!(self.net, "lab: set_link_mtu needs a networked lab");
        super::netlab::set_link_mtu(self.slot, self.index(host), mtu);
    }

    /// Whether a TCP connection to `address:port` opens from where the hosts are reached.
    fn can_connect(&self, address: &str, port: u16) -> bool {
        if self.net {
            super::netlab::can_connect(self.slot, address, port)
        } else {
            TcpStream::connect((address, port)).is_ok()
        }
    }

    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    pub fn host(&self, name: &str) -> &LabHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("lab: no host {name}"))
    }

    fn index(&self, name: &str) -> usize {
        self.hosts
            .iter()
            .position(|h| h.name == name)
            .unwrap_or_else(|| panic!("lab: no host {name}"))
    }

    /// The client private key (ed25519, no passphrase) authorised for root on every host.
    pub fn key_path(&self) -> &Path {
        &self.key
    }

    pub fn public_key(&self) -> String {
        fs::read_to_string(self.key.with_extension("pub")).expect("lab: read client public key")
    }

    /// Arguments for the OpenSSH client (or ansible's `ansible_ssh_common_args`) to reach `host`
    /// as root: `-i KEY -p PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    /// root@ADDR`.
    pub fn ssh_args(&self, host: &str) -> Vec<String> {
        let h = self.host(host);
        vec![
            "-i".into(),
            self.key.display().to_string(),
            "-p".into(),
            h.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "BatchMode=yes".into(),
            format!("root@{}", h.address),
        ]
    }

    /// Run `sh -c command` inside `host`'s namespaces (as root, not over SSH): for assertions.
    pub fn exec_in(&self, host: &str, command: &str) -> Output {
        let h = self.host(host);
        nsenter(h.init_pid, h.net)
            .args(["sh", "-c", command])
            .stdin(Stdio::null())
            .output()
            .expect("lab: run nsenter")
    }

    /// `exec_in` that must succeed; returns stdout.
    pub fn exec_ok(&self, host: &str, command: &str) -> String {
        let out = self.exec_in(host, command);
        assert!(
            out.status.success(),
            "lab: `{command}` on {host} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Puts the shell script `body` in place of `tool` on `host` only: the script is written
    /// executable to `dir/<tool>` and bind-mounted over the file `command -v tool` names in the
    /// host's mount namespace (gone with the lab). Returns the script's path.
    pub fn replace_tool(&self, host: &str, tool: &str, body: &str, dir: &Path) -> PathBuf {
        let script = dir.join(tool);
        fs::write(&script, body).expect("lab: write the stand-in script");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755))
            .expect("lab: make the stand-in script executable");
        self.exec_ok(
            host,
            &format!("mount --bind {} \"$(command -v {tool})\"", script.display()),
        );
        script
    }

    /// Kill every process of `host` but its namespace init: sshd and all sessions. The host's
    /// disks and mounts stay; `restart` brings sshd back.
    pub fn kill(&mut self, host: &str) {
        let i = self.index(host);
        let h = &mut self.hosts[i];
        let _ = nsenter(h.init_pid, h.net)
            .args(["sh", "-c", "kill -KILL -1"])
            .status();
        if let Some(mut sshd) = h.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        let addr = (h.address.clone(), h.port);
        let deadline = Instant::now() + READY_TIMEOUT;
        while self.can_connect(&addr.0, addr.1) {
            assert!(
                Instant::now() < deadline,
                "lab: sshd of {host} does not go away"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start `host`'s sshd again (same host key).
    pub fn restart(&mut self, host: &str) {
        let i = self.index(host);
        self.kill(host);
        self.start_sshd(i);
        self.wait_ready(i);
    }

    /// Restart `host`'s sshd with a freshly generated host key (a reinstalled machine, or a
    /// man in the middle).
    pub fn restart_with_new_key(&mut self, host: &str) {
        let i = self.index(host);
        self.kill(host);
        let h = &self.hosts[i];
        keygen(&h.dir.join("ssh_host_ed25519_key"), &h.name);
        self.start_sshd(i);
        self.wait_ready(i);
    }

    fn make_host(&mut self, i: usize, spec: HostSpec) -> LabHost {
        let address = self.address(u8::try_from(i + 1).expect("host index fits"));
        let dir = self.dir.join(&spec.name);
        fs::create_dir_all(&dir).expect("lab: host dir");
        keygen(&dir.join("ssh_host_ed25519_key"), &spec.name);

        // Disks.
        let mut disks = Vec::new();
        for (j, disk) in spec.disks.iter().enumerate() {
            let backing = dir.join(format!("disk{j}.img"));
            let file = File::create(&backing).expect("lab: create disk file");
            file.set_len(disk.size).expect("lab: size disk file");
            drop(file);
            let device = attach_loop(&backing);
            match disk.fs.as_deref() {
                None => {}
                Some("xfs") => {
                    run(Command::new("mkfs.xfs").args(["-q", "-f", &device]));
                }
                Some(fs) => {
                    run(Command::new(format!("mkfs.{fs}")).args(["-q", "-F", &device]));
                }
            }
            let name = device.trim_start_matches("/dev/").to_string();
            disks.push(LabDisk {
                name,
                device: PathBuf::from(&device),
                backing,
                size: disk.size,
                spec: disk.clone(),
            });
        }

        // The host's /etc, as an overlay upper layer.
        let upper = dir.join("etc-upper");
        let work = dir.join("etc-work");
        fs::create_dir_all(&work).expect("lab: overlay workdir");
        write_file(&upper.join("hostname"), &format!("{}\n", spec.name), 0o644);
        let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
        write_file(
            &upper.join("hosts"),
            &format!(
                "{hosts}\n{address}\t{name}\n127.0.1.1\t{name}\n",
                name = spec.name
            ),
            0o644,
        );
        write_file(&upper.join("os-release"), spec.os.os_release(), 0o644);
        write_file(
            &upper.join("fstab"),
            spec.fstab
                .as_deref()
                .unwrap_or("# /etc/fstab: static file system information.\n"),
            0o644,
        );
        let mut sudoers = String::new();
        for user in &spec.users {
            match user.sudo {
                Sudo::None => {}
                Sudo::NoPassword => {
                    sudoers.push_str(&format!("{} ALL=(ALL) NOPASSWD:ALL\n", user.name))
                }
                Sudo::WithPassword => sudoers.push_str(&format!("{} ALL=(ALL) ALL\n", user.name)),
            }
        }
        write_file(&upper.join("sudoers.d/rackstrap-lab"), &sudoers, 0o440);

        // Authorised keys, by user.
        let public = self.public_key();
        write_file(&dir.join("authorized_keys/root"), &public, 0o600);
        for user in spec.users.iter().filter(|u| u.authorized) {
            write_file(
                &dir.join(format!("authorized_keys/{}", user.name)),
                &public,
                0o644,
            );
        }

        write_file(
            &dir.join("sshd_config"),
            &format!(
                "ListenAddress {address}\nPort {LAB_PORT}\nHostKey {dir}/ssh_host_ed25519_key\n\
                 AuthorizedKeysFile .ssh/authorized_keys {dir}/authorized_keys/%u\n\
                 PidFile {dir}/sshd.pid\nUsePAM no\nStrictModes no\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication yes\n\
                 KbdInteractiveAuthentication no\nPrintMotd no\n\
                 MaxStartups 1000:30:2000\nMaxSessions 100\nLoginGraceTime 60\n\
                 Subsystem sftp internal-sftp\n",
                dir = dir.display()
            ),
            0o644,
        );

        // The namespace init: set up mounts, say "ready", then live until stdin closes.
        let mut script = String::from("set -e\n");
        script.push_str(&format!("hostname {}\n", spec.name));
        script.push_str(&format!(
            "mount -t overlay lab-etc -o lowerdir=/etc,upperdir={},workdir={} /etc\n",
            upper.display(),
            work.display()
        ));
        script.push_str("mount -t tmpfs -o mode=755 lab-sysblock /sys/block\n");
        for disk in &disks {
            script.push_str(&format!(
                "ln -s ../devices/virtual/block/{0} /sys/block/{0}\n",
                disk.name
            ));
        }
        script.push_str("mount -t tmpfs -o mode=755 lab-mnt /mnt\n");
        script.push_str("mount -t tmpfs -o mode=755 lab-srv /srv\n");
        // root's own home: login shells must not run the machine's ~/.profile (tool shims,
        // locks), and what a stage writes under ~root stays in this host.
        script.push_str("mount -t tmpfs -o mode=700 lab-root-home /root\n");
        for disk in disks
            .iter()
            .filter(|d| d.spec.mount.as_deref().is_some_and(|m| m != "/"))
        {
            let at = disk.spec.mount.as_deref().unwrap_or_default();
            script.push_str(&format!(
                "mkdir -p {at}\nmount {} {at}\n",
                disk.device.display()
            ));
        }
        // Last: a disk over `/` (later path lookups still resolve in the machine's root).
        for disk in disks
            .iter()
            .filter(|d| d.spec.mount.as_deref() == Some("/"))
        {
            script.push_str(&format!("mount {} /\n", disk.device.display()));
        }
        // Live until stdin closes (EOF: the test process is gone). bash, unlike dash, reaps
        // every exited child while waiting, so orphaned sshd processes do not pile up as
        // zombies under this PID 1.
        script.push_str(&format!(
            "# lab {}\necho ready\nset +e\nwhile :; do read -r -t 1 _; [ $? -gt 128 ] || break; done\n",
            dir.display()
        ));

        let mut init = Command::new("unshare")
            .args(if self.net { &["--net"][..] } else { &[][..] })
            .args([
                "--uts",
                "--mount",
                "--pid",
                "--fork",
                "--mount-proc",
                "--propagation",
                "private",
                "--kill-child",
                "bash",
                "-c",
                &script,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(dir.join("init.log")).expect("lab: init log"))
            .spawn()
            .expect("lab: spawn unshare");
        let init_stdin = init.stdin.take();
        let mut stdout = init.stdout.take().expect("lab: init stdout");
        let mut ready = String::new();
        {
            use std::io::Read;
            let mut byte = [0u8; 1];
            while !ready.ends_with('\n') {
                match stdout.read(&mut byte) {
                    Ok(1) => ready.push(byte[0] as char),
                    _ => break,
                }
            }
        }
        let init_pid = child_of(init.id());
        let mut host = LabHost {
            name: spec.name.clone(),
            address,
            port: LAB_PORT,
            os: spec.os,
            disks,
            users: spec.users.clone(),
            dir: dir.clone(),
            init_pid,
            net: self.net,
            init,
            init_stdin,
            sshd: None,
        };
        if ready.trim() != "ready" {
            let log = fs::read_to_string(dir.join("init.log")).unwrap_or_default();
            teardown_host(&mut host);
            detach_loops_under(&dir);
            panic!("lab: host {} did not come up: {log}", spec.name);
        }
        if self.net {
            super::netlab::plug(self.slot, i, host.init_pid, &host.address);
        }

        // Users, created inside the namespace so passwd/shadow changes land in its /etc.
        let mut setup = String::from("set -e\n");
        // A locked root ("!" in shadow) cannot log in at all when sshd runs without PAM.
        setup.push_str("usermod -p '*' root\n");
        for user in &spec.users {
            let home = dir.join("home").join(&user.name);
            setup.push_str(&format!(
                "useradd -m -d {} -s /bin/sh {}\n",
                home.display(),
                user.name
            ));
            match &user.password {
                Some(_) => {} // set below through stdin, never on a command line
                None => setup.push_str(&format!("usermod -p '*' {}\n", user.name)),
            }
        }
        run(nsenter(host.init_pid, host.net).args(["sh", "-c", &setup]));
        for user in spec.users.iter() {
            if let Some(password) = &user.password {
                let mut child = nsenter(host.init_pid, host.net)
                    .arg("chpasswd")
                    .stdin(Stdio::piped())
                    .spawn()
                    .expect("lab: chpasswd");
                if let Some(mut stdin) = child.stdin.take() {
                    let _ = writeln!(stdin, "{}:{}", user.name, password);
                }
                assert!(
                    child.wait().expect("lab: chpasswd").success(),
                    "lab: chpasswd failed"
                );
            }
        }
        host
    }

    fn start_sshd(&mut self, i: usize) {
        let h = &mut self.hosts[i];
        let log = File::options()
            .create(true)
            .append(true)
            .open(h.dir.join("sshd.log"))
            .expect("lab: sshd log");
        let child = nsenter(h.init_pid, h.net)
            .args([SSHD, "-D", "-e", "-f"])
            .arg(h.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("lab: start sshd");
        h.sshd = Some(child);
    }

    fn wait_ready(&mut self, i: usize) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let (address, port) = (self.hosts[i].address.clone(), self.hosts[i].port);
            if self.can_connect(&address, port) {
                return;
            }
            let h = &mut self.hosts[i];
            if let Some(sshd) = h.sshd.as_mut()
                && let Ok(Some(status)) = sshd.try_wait()
            {
                panic!(
                    "lab: sshd of {} exited ({status}): {}",
                    h.name,
                    h.sshd_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "lab: sshd of {} not ready: {}",
                h.name,
                h.sshd_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn record_pids(&self) {
        let pids: Vec<String> = self.hosts.iter().map(|h| h.init_pid.to_string()).collect();
        let _ = fs::write(self.dir.join("pids"), pids.join("\n"));
    }
}

/// A command inside a host's namespaces (`net`: its network namespace too).
fn nsenter(pid: u32, net: bool) -> Command {
    let mut cmd = Command::new("nsenter");
    // `-r -w`: root and cwd of the init, which predate a disk mounted over `/`.
    cmd.args(["-t", &pid.to_string(), "-u", "-m", "-p", "-r", "-w"]);
    if net {
        cmd.arg("-n");
    }
    cmd.arg("--");
    cmd
}

/// The single child of `pid` (unshare's forked namespace init).
fn child_of(pid: u32) -> u32 {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let children =
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(child) = children
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
        {
            return child;
        }
        assert!(Instant::now() < deadline, "lab: unshare {pid} has no child");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn teardown_host(host: &mut LabHost) {
    // EOF on its stdin ends the init; KILL makes sure. The PID namespace dies with its init.
    host.init_stdin.take();
    let _ = Command::new("kill")
        .args(["-KILL", &host.init_pid.to_string()])
        .stderr(Stdio::null())
        .status();
    let _ = host.init.kill();
    let _ = host.init.wait();
    if let Some(mut sshd) = host.sshd.take() {
        let _ = sshd.kill();
        let _ = sshd.wait();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for host in &mut self.hosts {
            teardown_host(host);
        }
        // Only devices whose backing file is ours: a device name alone may already belong to
        // another lab. One still mounted in a dying namespace is detached when released.
        detach_loops_under(&self.dir);
        if self.net {
            super::netlab::remove_hub(self.slot);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
