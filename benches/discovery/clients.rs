//! The clients measured: rackstrap (binary and library), OpenSSH and Ansible, each run
//! the way the module docs of `main.rs` describe, and checked before it is timed.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rackstrap::discover::{Discovered, HostState};
use rackstrap::ssh::Session;

use super::common::lab::LAB_PORT;
use super::measure::{Sample, run_measured, tail};
use super::report::ms;
use super::shared::{discover_all, lab_options};
use super::{Bench, COMMANDS};

impl Bench<'_> {
    /// `rackstrap discover FIRST-LAST --json` with a fresh known_hosts; every host must end
    /// `ok` with facts.
    pub(crate) fn run_rackstrap_binary(&self) -> Sample {
        let hosts = self.lab.hosts();
        let range = format!("{}-{}", hosts[0].address, hosts[hosts.len() - 1].address);
        let known = self.fresh_known_hosts("rackstrap");
        let out = known.with_file_name("out.jsonl");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
        cmd.args([
            "discover",
            &range,
            "--port",
            &LAB_PORT.to_string(),
            "--identity",
        ])
        .arg(self.lab.key_path())
        .arg("--known-hosts")
        .arg(&known)
        .args(["--accept-new", "--json"]);
        let sample = run_measured("rackstrap discover", vec![cmd], &out);
        let text = fs::read_to_string(&out).expect("rackstrap output");
        let found: Vec<Discovered> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("rackstrap discover --json line"))
            .collect();
        self.check_discovered(&found, "rackstrap discover");
        sample
    }

    pub(crate) fn run_rackstrap_library(&self, runtime: &tokio::runtime::Runtime) -> Sample {
        let opts = lab_options(self.lab, self.fresh_known_hosts("library"));
        let targets = self.addresses();
        let start = Instant::now();
        let found = discover_all(runtime, targets, opts);
        let wall = start.elapsed();
        eprintln!("  {:<20} {}", "rackstrap library", ms(wall));
        self.check_discovered(&found, "rackstrap library");
        Sample {
            wall,
            ..Sample::default()
        }
    }

    pub(crate) fn check_discovered(&self, found: &[Discovered], who: &str) {
        assert_eq!(found.len(), self.hosts, "{who}: one result per host");
        for d in found {
            assert_eq!(
                d.state,
                HostState::Ok,
                "{who}: {}: {}",
                d.address,
                d.message
            );
            let facts = d
                .facts
                .as_ref()
                .unwrap_or_else(|| panic!("{who}: {}: no facts: {}", d.address, d.message));
            let host = self
                .lab
                .hosts()
                .iter()
                .find(|h| h.address == d.address)
                .unwrap_or_else(|| panic!("{who}: unexpected address {}", d.address));
            assert_eq!(
                facts.hostname, host.name,
                "{who}: hostname of {}",
                d.address
            );
            assert!(
                facts.disks.len() >= host.disks.len(),
                "{who}: {} shows {} disks",
                d.address,
                facts.disks.len()
            );
        }
    }

    /// The OpenSSH client options shared by every `ssh` run here: no config files (so the
    /// machine's ssh_config changes nothing), only the lab key, no agent, no prompts.
    pub(crate) fn ssh_base(&self, known_hosts: &Path, kex: Kex) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null", "-i"])
            .arg(self.lab.key_path())
            .args(["-p", &LAB_PORT.to_string()])
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=accept-new", "-o"])
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args(["-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"]);
        if let Kex::Curve25519 = kex {
            cmd.args(["-o", "KexAlgorithms=curve25519-sha256"]);
        }
        cmd
    }

    /// One `ssh` per host at once, each running the facts script as rackstrap does
    /// (`sh -c '<script>'`), pinning into a fresh known_hosts.
    pub(crate) fn run_openssh_facts(&self, kex: Kex) -> Sample {
        let known = self.fresh_known_hosts("openssh");
        let remote = format!(
            "sh -c {}",
            shlex::try_quote(&rackstrap::facts::gather::SCRIPT).expect("script has no NUL")
        );
        let mut commands = Vec::new();
        for host in self.lab.hosts() {
            let mut cmd = self.ssh_base(&known, kex);
            cmd.arg(format!("root@{}", host.address)).arg(&remote);
            commands.push(cmd);
        }
        let dir = known.parent().expect("known_hosts has a directory");
        let out = dir.join("out");
        let label = match kex {
            Kex::Default => "ssh",
            Kex::Curve25519 => "ssh (curve25519)",
        };
        let sample = run_measured(label, commands, &out);
        // Every process appended to one file: one `end` marker per host means every script
        // ran to its end.
        let text = fs::read_to_string(&out).expect("ssh output");
        let ends = text.matches("::rackstrap:: end").count();
        assert_eq!(ends, self.hosts, "ssh: every host ran the whole script");
        sample
    }

    pub(crate) fn ansible_inventory(&self) -> PathBuf {
        let dir = self.work.join("ansible");
        fs::create_dir_all(&dir).expect("ansible directory");
        let mut text = String::from("[lab]\n");
        for host in self.lab.hosts() {
            writeln!(text, "{} ansible_host={}", host.name, host.address).ok();
        }
        writeln!(
            text,
            "\n[all:vars]\nansible_port={LAB_PORT}\nansible_user=root\n\
             ansible_ssh_private_key_file={}\nansible_python_interpreter=/usr/bin/python3\n\
             ansible_ssh_common_args='-F /dev/null -o IdentitiesOnly=yes -o BatchMode=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'",
            self.lab.key_path().display()
        )
        .ok();
        let path = dir.join("hosts.ini");
        fs::write(&path, text).expect("write inventory");
        path
    }

    /// `ansible all -m setup -o`; every host must answer `SUCCESS`.
    pub(crate) fn run_ansible_setup(&self, inventory: &Path) -> Sample {
        let dir = inventory.parent().expect("inventory directory");
        let mut cmd = Command::new(self.ansible.as_deref().unwrap_or(Path::new("ansible")));
        cmd.args(["all", "-i"])
            .arg(inventory)
            .args(["-m", "setup", "-o", "-f", &self.hosts.to_string()])
            // Only this directory's settings: no ansible.cfg from elsewhere, state kept here.
            .env("ANSIBLE_CONFIG", dir.join("none.cfg"))
            .env("ANSIBLE_HOME", dir.join("home"))
            .env("ANSIBLE_LOCAL_TEMP", dir.join("tmp"))
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_PIPELINING", "True")
            // The default (`ControlPersist=60s`) would keep connections from one round for
            // the next; every client here starts cold.
            .env("ANSIBLE_SSH_ARGS", "-o ControlMaster=no")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "False");
        let out = dir.join("out");
        let sample = run_measured("ansible", vec![cmd], &out);
        let text = fs::read_to_string(&out).expect("ansible output");
        let ok = text.lines().filter(|l| l.contains("| SUCCESS =>")).count();
        assert_eq!(
            ok,
            self.hosts,
            "ansible: every host SUCCESS:\n{}",
            tail(&text, 4000)
        );
        sample
    }

    /// Connect once (timed apart), then run `true` [`COMMANDS`] times, one after another.
    pub(crate) fn session_commands(
        &self,
        runtime: &tokio::runtime::Runtime,
        address: &str,
    ) -> (Duration, Duration) {
        let opts = lab_options(self.lab, self.fresh_known_hosts("session"));
        runtime.block_on(async {
            let start = Instant::now();
            let session = Session::connect(address, &opts)
                .await
                .unwrap_or_else(|e| panic!("session to {address}: {e}"));
            let connected = start.elapsed();
            let start = Instant::now();
            for _ in 0..COMMANDS {
                let out = session.run("true").await.expect("exec over the session");
                assert_eq!(out.status, 0, "`true` over the session");
            }
            let commands = start.elapsed();
            session.close().await;
            (connected, commands)
        })
    }

    /// A master `ssh -M -N` held as our child, then [`COMMANDS`] `ssh -S <socket> true`.
    pub(crate) fn openssh_mux_commands(&self, address: &str) -> Duration {
        let known = self.fresh_known_hosts("mux");
        let socket = known.with_file_name("master.sock");
        let target = format!("root@{address}");
        let mut master = self
            .ssh_base(&known, Kex::Default)
            .args(["-M", "-N", "-S"])
            .arg(&socket)
            .args(["-o", "ControlPersist=no"])
            .arg(&target)
            .stdin(Stdio::null())
            .spawn()
            .expect("ssh master");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh master socket never appeared"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let start = Instant::now();
        for _ in 0..COMMANDS {
            let status = self
                .ssh_base(&known, Kex::Default)
                .args(["-S"])
                .arg(&socket)
                .args(["-o", "ControlMaster=no"])
                .arg(&target)
                .arg("true")
                .stdin(Stdio::null())
                .status()
                .expect("ssh through the master");
            assert!(status.success(), "ssh -S true: {status}");
        }
        let elapsed = start.elapsed();
        let _ = master.kill();
        let _ = master.wait();
        elapsed
    }

    /// [`COMMANDS`] separate `ssh ... true`, each its own connection (keys pinned once before).
    pub(crate) fn openssh_separate_commands(&self, address: &str, kex: Kex) -> Duration {
        let known = self.fresh_known_hosts("separate");
        let target = format!("root@{address}");
        let run = || {
            let status = self
                .ssh_base(&known, kex)
                .arg(&target)
                .arg("true")
                .stdin(Stdio::null())
                .status()
                .expect("ssh");
            assert!(status.success(), "ssh true: {status}");
        };
        run();
        let start = Instant::now();
        for _ in 0..COMMANDS {
            run();
        }
        start.elapsed()
    }
}

/// Key exchange of the OpenSSH client. OpenSSH 9.x prefers the post-quantum hybrid
/// `sntrup761x25519-sha512`; rackstrap (russh) offers `mlkem768x25519-sha256` first, which
/// sshd before 9.9 does not know, and so settles on `curve25519-sha256`. Both are measured.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kex {
    /// The client's own preference.
    Default,
    /// `-o KexAlgorithms=curve25519-sha256`: what rackstrap negotiates with such a server.
    Curve25519,
}
