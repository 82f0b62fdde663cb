//! The run state and its lock against what breaks them: endless or hostile state files, a
//! plan reached by two names, `status` during a live run, a full disk under a run, a
//! `kubespray prepare` that must be stopped or bounded, and how many commands the host
//! stages send to each host.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rackstrap::provision::state;

const PLAN: &str = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: node1\n    address: 127.77.250.1\n    roles: [control_plane, etcd, worker]\naccess: { user: root, port: 2222 }\n";

fn rackstrap() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    cmd.env("NO_COLOR", "1").env_remove("SSH_AUTH_SOCK");
    cmd
}

/// Waits for `child` at most `limit`; a child still running then is killed and the test
/// fails saying what it was doing.
fn wait_at_most(mut child: Child, limit: Duration, what: &str) -> Output {
    let start = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => return child.wait_with_output().expect("output"),
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("output");
                panic!(
                    "{what}: still running after {limit:?}\nstdout: {}\nstderr: {}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rackstrap")
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// `status` on a state file that is a symlink to /dev/zero: a clear error and exit 2, in
/// bounded memory (the process may not use more than 1 GiB here; unbounded it grew to 23 GB).
#[test]
fn status_on_an_endless_state_file_says_so_and_exits_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(&plan, PLAN).expect("plan");
    let sdir = state::state_dir(&plan);
    std::fs::create_dir_all(&sdir).expect("mkdir");
    std::os::unix::fs::symlink("/dev/zero", sdir.join("state.yaml")).expect("symlink");
    let mut cmd = rackstrap();
    cmd.arg("status").arg(&plan);
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let out = wait_at_most(piped(&mut cmd), Duration::from_secs(20), "status");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("state.yaml"), "{stderr}");
    assert!(stderr.contains("larger than"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A FIFO as the plan (nobody writing to it) or as the state file fails at once.
#[test]
fn a_fifo_as_plan_or_state_fails_at_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let fifo = dir.path().join("fifo.yaml");
    mkfifo(&fifo);
    let out = wait_at_most(
        piped(rackstrap().arg("check").arg(&fifo)),
        Duration::from_secs(10),
        "check on a FIFO",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");

    let plan = dir.path().join("cluster.yaml");
    std::fs::write(&plan, PLAN).expect("plan");
    let sdir = state::state_dir(&plan);
    std::fs::create_dir_all(&sdir).expect("mkdir");
    mkfifo(&sdir.join("state.yaml"));
    let out = wait_at_most(
        piped(rackstrap().arg("status").arg(&plan)),
        Duration::from_secs(10),
        "status on a FIFO state",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");
}

/// `status` while a run holds the lock: the step it is running reads "running (pid N)", not
/// "failed interrupted"; once the lock is free the same file reads interrupted.
#[test]
fn status_during_a_live_run_says_running_with_the_pid() {
    let dir = tempfile::tempdir().expect("tmp");
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(&plan, PLAN).expect("plan");
    let sdir = state::state_dir(&plan);
    // This test process plays the live run: it holds the lock and has a step running.
    let held = state::RunLock::acquire(&sdir).expect("lock");
    std::fs::write(
        sdir.join("state.yaml"),
        "version: 1\nlast_run: 20261207T230000Z\nsteps:\n  preflight:\n    node1:\n      state: running\n      started: 2026-12-07T23:00:00Z\n",
    )
    .expect("state");
    let out = rackstrap()
        .arg("status")
        .arg(&plan)
        .output()
        .expect("status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("preflight"))
        .unwrap_or_default();
    assert!(row.ends_with("running"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "node1 preflight: running (pid {})",
            std::process::id()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("interrupted"), "{stdout}");
    drop(held);
    let out = rackstrap()
        .arg("status")
        .arg(&plan)
        .output()
        .expect("status");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("node1 preflight: failed interrupted"),
        "{stdout}"
    );
}

/// `node relay` takes the plan's run lock before it looks at any host: with another run
/// holding it, it refuses at once and names the holder.
#[test]
fn node_relay_takes_the_lock_before_it_looks_at_hosts() {
    let dir = tempfile::tempdir().expect("tmp");
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(&plan, PLAN).expect("plan");
    let held = state::RunLock::acquire(&state::state_dir(&plan)).expect("lock");
    let out = rackstrap()
        .args(["node", "relay"])
        .arg(&plan)
        .args(["node1", "--yes"])
        .output()
        .expect("relay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another rackstrap process (pid {}) is already running this plan",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("relay refused"), "{stderr}");
    drop(held);
}

/// A `--from` "server" on 127.0.0.1 that takes connections and never answers.
fn silent_server() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
            if held.len() > 16 {
                break;
            }
        }
    });
    (addr, handle)
}

fn prepare_plan(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let tree = dir.join("ks");
    let plan = dir.join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\ncluster: {{name: c, kubespray: {{path: '{}', version: v2.31.0}}}}\n",
            tree.display()
        ),
    )
    .expect("plan");
    (plan, tree)
}

/// The processes whose command line mentions `needle` (git and its helpers talking to the
/// silent server).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && !text.contains("state_hardening") {
                found.push(format!("{}: {text}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// A clone from a server that never answers ends at its time limit with a clear error, and
/// leaves nothing behind that the next run would refuse.
#[test]
fn a_clone_that_never_ends_stops_at_its_time_limit() {
    let (addr, _server) = silent_server();
    let dir = tempfile::tempdir().expect("tmp");
    let (plan, tree) = prepare_plan(dir.path());
    let url = format!("http://{addr}/kubespray.git");
    let started = Instant::now();
    let out = wait_at_most(
        piped(
            rackstrap()
                .args(["kubespray", "prepare"])
                .arg(&plan)
                .args(["--from", &url])
                .env("RACKSTRAP_PREPARE_CLONE_SECS", "2"),
        ),
        Duration::from_secs(30),
        "prepare against a silent server",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr.contains("did not finish within 2 s"), "{stderr}");
    assert!(stderr.contains("RACKSTRAP_PREPARE_CLONE_SECS"), "{stderr}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        processes_mentioning(&addr.to_string()),
        Vec::<String>::new()
    );
    assert!(
        !tree.exists() || std::fs::read_dir(&tree).expect("dir").next().is_none(),
        "the interrupted clone left files behind"
    );
}

/// Ctrl-C (SIGINT, even when rackstrap was started with SIGINT ignored, as a background job
/// is) and SIGTERM stop prepare and its children at once: exit 130 / 143, no git left, and
/// no half clone that the next run would refuse.
#[test]
fn prepare_stops_with_its_children_on_sigint_and_sigterm() {
    let (addr, _server) = silent_server();
    let dir = tempfile::tempdir().expect("tmp");
    let (plan, tree) = prepare_plan(dir.path());
    let url = format!("http://{addr}/kubespray.git");
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let mut cmd = rackstrap();
        cmd.args(["kubespray", "prepare"])
            .arg(&plan)
            .args(["--from", &url]);
        // SAFETY: signal() is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
        let child = piped(&mut cmd);
        // Until git is talking to the server.
        let start = Instant::now();
        while processes_mentioning(&addr.to_string()).is_empty()
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: a plain kill(2) of our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let out = wait_at_most(child, Duration::from_secs(15), "prepare after a signal");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.contains("stopped"), "{stderr}");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            processes_mentioning(&addr.to_string()),
            Vec::<String>::new()
        );
        assert!(
            !tree.exists() || std::fs::read_dir(&tree).expect("dir").next().is_none(),
            "the interrupted clone left files behind"
        );
    }
}

use common::lab::{HostSpec, Lab};

const MIB: u64 = 1 << 20;

/// A tmpfs of 64 KiB mounted at `at` for as long as it lives.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path) -> Self {
        std::fs::create_dir_all(at).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(ok.success(), "mount tmpfs");
        SmallDisk(at.to_path_buf())
    }

    /// Fills what is left with a file until the kernel says the disk is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).expect("filler");
        let block = [0u8; 4096];
        loop {
            if let Err(e) = f.write_all(&block).and_then(|_| f.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The state directory on a full disk: `apply --stage storage --yes` must not report
/// success. Nothing runs on the host (its disk stays blank), the exit is non-zero with the
/// reason, and the state file still says what it said before.
#[test]
fn a_full_state_disk_stops_the_run_before_it_changes_a_host() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("full").disk(64 * MIB)]);
    let dir = tempfile::tempdir().expect("tmp");
    let disk = lab.host("full").disks[0].name.clone();
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\ncluster: {{name: lab}}\naccess: {{user: root, port: {}, identity: {}}}\nhosts:\n  - name: full\n    address: {}\n    roles: [control_plane, etcd, worker]\n    storage:\n      - {{level: single, devices: [{disk}], filesystem: ext4, mount: /mnt/data}}\n",
            lab.hosts()[0].port,
            lab.key_path().display(),
            lab.host("full").address,
        ),
    )
    .expect("plan");
    let small = SmallDisk::mount(&dir.path().join(".rackstrap"));
    let sdir = state::state_dir(&plan);
    std::fs::create_dir_all(&sdir).expect("state dir");
    std::fs::write(sdir.join("lock"), "1\n").expect("lock");
    std::fs::write(sdir.join("state.yaml"), "version: 1\n").expect("state");
    small.fill();
    let out = rackstrap()
        .arg("apply")
        .arg(&plan)
        .args([
            "--stage",
            "storage",
            "--yes",
            "--accept-new",
            "--known-hosts",
        ])
        .arg(dir.path().join("known_hosts"))
        .output()
        .expect("apply");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("No space left on device"),
        "{stdout}{stderr}"
    );
    assert!(!stdout.contains("storage done"), "{stdout}");
    let blkid = Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(format!("/dev/{disk}"))
        .output()
        .expect("blkid");
    assert!(
        String::from_utf8_lossy(&blkid.stdout).trim().is_empty(),
        "the disk was formatted: {}",
        String::from_utf8_lossy(&blkid.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(sdir.join("state.yaml")).expect("state"),
        "version: 1\n"
    );
    drop(small);
}

/// Every command the stages send to a host, counted on its way to real SSH.
mod counting {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use rackstrap::plan::{Access, Host};
    use rackstrap::provision::remote::{Connector, OutLines, Remote, RemoteError, SshConnector};

    pub type Sent = Arc<Mutex<BTreeMap<String, Vec<String>>>>;

    pub struct Counting {
        pub inner: SshConnector,
        pub sent: Sent,
    }

    struct Counted {
        host: String,
        inner: Arc<dyn Remote>,
        sent: Sent,
    }

    #[async_trait]
    impl Connector for Counting {
        async fn connect(
            &self,
            host: &Host,
            access: &Access,
        ) -> Result<Arc<dyn Remote>, RemoteError> {
            let inner = self.inner.connect(host, access).await?;
            Ok(Arc::new(Counted {
                host: host.name.clone(),
                inner,
                sent: self.sent.clone(),
            }))
        }
    }

    #[async_trait]
    impl Remote for Counted {
        async fn exec(
            &self,
            command: &str,
            stdin: Option<Vec<u8>>,
            on_output: &mut (dyn FnMut(OutLines) + Send),
        ) -> Result<u32, RemoteError> {
            if let Ok(mut m) = self.sent.lock() {
                m.entry(self.host.clone())
                    .or_default()
                    .push(command.to_string());
            }
            self.inner.exec(command, stdin, on_output).await
        }
    }
}

/// Preflight, host prep and storage look at a host once each: one probe for preflight (the
/// disks included), one for host prep (the sysctl file, the live values and the packages),
/// none for storage's check (preflight's look at the disks is still good: nothing was
/// applied in between) and one for its verification after it changed the disks. A second
/// run that finds everything in place sends two commands in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_stages_send_each_probe_once_per_host() {
    use rackstrap::provision::{Consent, EventKind, RunOptions, StageId, StepState};
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("count").disk(64 * MIB)]);
    common::fake_k8s::private_sysctl(&lab, "count", &["vm.max_map_count"]);
    let disk = lab.host("count").disks[0].name.clone();
    let y = format!(
        "version: 1\ncluster: {{name: lab}}\naccess: {{user: root, port: {}, identity: {}}}\ntuning: {{sysctl: {{vm.max_map_count: 1000001}}}}\nhosts:\n  - name: count\n    address: {}\n    roles: [control_plane, etcd, worker]\n    storage:\n      - {{level: single, devices: [{disk}], filesystem: ext4, mount: /mnt/data}}\n",
        lab.hosts()[0].port,
        lab.key_path().display(),
        lab.host("count").address,
    );
    let plan: rackstrap::plan::Plan = serde_yaml::from_str(&y).expect("plan");
    let sent: counting::Sent = Default::default();
    let run = |sent: counting::Sent| {
        let base = rackstrap::ssh::ConnectOptions {
            known_hosts: lab.dir.join("known_hosts"),
            extra_known_hosts: Vec::new(),
            accept_new: true,
            use_agent: false,
            ..Default::default()
        };
        let mut o = RunOptions::new(std::sync::Arc::new(counting::Counting {
            inner: rackstrap::provision::remote::SshConnector { base },
            sent,
        }));
        o.stages = vec![StageId::Preflight, StageId::HostPrep, StageId::Storage];
        o.consent = Consent::All;
        o
    };
    // Commands a stage applied are logged as `$ command`; the rest are its looks.
    let applied = |events: &[rackstrap::provision::Event]| {
        events
            .iter()
            .filter(|e| e.host == "count")
            .filter_map(|e| match &e.kind {
                EventKind::Log { lines, .. } => {
                    Some(lines.iter().filter(|l| l.starts_with("$ ")).count())
                }
                _ => None,
            })
            .sum::<usize>()
    };
    for (round, probes) in [(1, 3), (2, 2)] {
        sent.lock().expect("sent").clear();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let collect = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(e) = rx.recv().await {
                all.push(e);
            }
            all
        });
        let summary = rackstrap::provision::run(&plan, run(sent.clone()), tx)
            .await
            .expect("run");
        let events = collect.await.expect("events");
        assert!(
            summary.steps.iter().all(|s| s.2 == StepState::Done),
            "round {round}: {:?}",
            summary.steps
        );
        let commands = sent
            .lock()
            .expect("sent")
            .get("count")
            .cloned()
            .unwrap_or_default();
        let applied = applied(&events);
        assert_eq!(
            commands.len() - applied,
            probes,
            "round {round}: {} commands, {applied} applied:\n{}",
            commands.len(),
            commands.join("\n")
        );
        if round == 2 {
            assert_eq!(applied, 0, "{}", commands.join("\n"));
        }
    }
}

/// A host whose new key cannot be pinned (known_hosts on a full disk) answered: `discover`
/// says its key was not pinned, names the file and the reason, in the table and in the JSON
/// lines, and never calls it "no answer". The file is left without half a line.
#[test]
fn discover_names_a_pin_that_cannot_be_written_and_not_no_answer() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("pin")]);
    let dir = tempfile::tempdir().expect("tmp");
    let small = SmallDisk::mount(&dir.path().join("ssh"));
    let known = dir.path().join("ssh").join("known_hosts");
    small.fill();
    let discover = |json: bool| {
        let mut cmd = rackstrap();
        cmd.arg("discover")
            .args(["--port", &lab.hosts()[0].port.to_string()])
            .arg("--identity")
            .arg(lab.key_path())
            .arg("--known-hosts")
            .arg(&known)
            .arg("--accept-new");
        if json {
            cmd.arg("--json");
        }
        cmd.arg(&lab.host("pin").address);
        cmd.output().expect("discover")
    };

    let out = discover(false);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}{stderr}");
    let row = text
        .lines()
        .find(|l| l.starts_with(&lab.host("pin").address))
        .unwrap_or_else(|| panic!("no row for the host: {text}{stderr}"));
    assert!(row.contains("key not pinned"), "{text}");
    assert!(!row.contains("no answer"), "{text}");

    let out = discover(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or_default();
    let found: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(found["state"]["state"], "pin_failed", "{found}");
    assert_eq!(
        found["state"]["file"],
        known.display().to_string(),
        "{found}"
    );
    let reason = found["state"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("No space left on device"), "{found}");
    let message = found["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&known.display().to_string())
            && message.contains("No space left on device"),
        "{found}"
    );
    assert!(
        found["fingerprint"]
            .as_str()
            .is_some_and(|f| f.starts_with("SHA256:")),
        "{found}"
    );
    let pins = std::fs::read_to_string(&known).unwrap_or_default();
    assert!(
        pins.is_empty() || pins.ends_with('\n'),
        "half a line: {pins:?}"
    );
}
