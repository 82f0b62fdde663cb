//! The headless commands against what breaks tools: a second run on the same plan, files
//! written under a careless umask, and a process killed while it saves.

use std::path::Path;
use std::process::Command;

use rackstrap::provision::state;

const PLAN: &str = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: node1\n    address: 127.77.250.1\n    roles: [control_plane, etcd, worker]\naccess: { user: root, port: 2222 }\n";

fn rackstrap(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap()
}

#[test]
fn a_second_apply_on_one_plan_refuses_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("cluster.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    // This test process plays the first apply: it holds the plan's run lock.
    let held = state::RunLock::acquire(&state::state_dir(&plan)).unwrap();
    let out = rackstrap(
        dir.path(),
        &["apply", "cluster.yaml", "--stage", "preflight", "--yes"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains(&format!(
            "another rackstrap process (pid {}) is already running this plan",
            std::process::id()
        )),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    let status = std::fs::read_to_string(dir.path().join(".rackstrap/cluster/state.yaml"));
    assert!(status.is_err(), "the refused run wrote state: {status:?}");
    drop(held);
    // Free again: the run goes ahead (and fails on the closed port, which is not the point).
    let out = rackstrap(
        dir.path(),
        &["apply", "cluster.yaml", "--stage", "preflight", "--yes"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("node1 preflight started"), "{stdout}");
    assert_eq!(stdout.matches("failed:").count(), 1, "{stdout}");
}

mod common;

use common::lab::{HostSpec, Lab};

const MIB: u64 = 1 << 20;

/// A plan for lab hosts, each with one ext4 filesystem on its first disk.
fn lab_plan(lab: &Lab, dir: &Path, hosts: &[&str]) -> std::path::PathBuf {
    let mut y = format!(
        "version: 1\ncluster: {{name: lab}}\naccess: {{user: root, port: {}, identity: {}}}\nhosts:\n",
        lab.hosts()[0].port,
        lab.key_path().display()
    );
    for (i, name) in hosts.iter().enumerate() {
        let role = if i == 0 {
            "[control_plane, etcd, worker]"
        } else {
            "[worker]"
        };
        y.push_str(&format!(
            "  - name: {name}\n    address: {}\n    roles: {role}\n    storage:\n      - {{level: single, devices: [{}], filesystem: ext4, mount: /mnt/data}}\n",
            lab.host(name).address,
            lab.host(name).disks[0].name
        ));
    }
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, y).unwrap();
    path
}

/// A stand-in for a tool that never returns.
const NEVER_RETURNS: &str = "#!/bin/sh\nexec sleep 100000\n";

/// `rackstrap apply PLAN --stage storage --yes --accept-new` with its known_hosts in `dir` and
/// no ssh-agent; the caller adds its own flags and runs it.
fn apply_storage(plan: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    cmd.arg("apply")
        .arg(plan)
        .args([
            "--stage",
            "storage",
            "--yes",
            "--accept-new",
            "--known-hosts",
        ])
        .arg(dir.join("known_hosts"))
        .env_remove("SSH_AUTH_SOCK");
    cmd
}

/// `mkfs.ext4` that never returns on one host: with `--on-stall fail --stall-after 2` the
/// storage step there fails naming the stuck command after 2 s (the flag wins over
/// `RACKSTRAP_STALL_SECS`), the other host finishes, and apply ends instead of waiting for ever.
#[test]
fn a_stuck_command_fails_its_host_and_the_run_ends() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("stuck").disk(64 * MIB),
        HostSpec::new("fine").disk(64 * MIB),
    ]);
    let dir = tempfile::tempdir().unwrap();
    lab.replace_tool("stuck", "mkfs.ext4", NEVER_RETURNS, dir.path());
    let plan = lab_plan(&lab, dir.path(), &["stuck", "fine"]);
    let started = std::time::Instant::now();
    let out = apply_storage(&plan, dir.path())
        .args(["--on-stall", "fail", "--stall-after", "2"])
        .env("RACKSTRAP_STALL_SECS", "600")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let disk = &lab.host("stuck").disks[0].name;
    assert!(
        stdout.contains(&format!(
            "stuck storage failed: stalled: `mkfs.ext4 -L rackstrap /dev/{disk}` printed nothing and did not exit for 2 s; rackstrap stopped waiting"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("fine storage done"), "{stdout}");
    let status = rackstrap(dir.path(), &["status", "cluster.yaml"]);
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(
        table.contains("stuck storage: failed stalled: `mkfs.ext4"),
        "{table}"
    );
}

/// `mkfs.ext4` that stays quiet for 5 s, then makes the filesystem: with `--on-stall wait
/// --stall-after 2` apply says so each time the command passes its limit again, naming it,
/// keeps waiting, and the step succeeds when the command ends.
#[test]
fn a_slow_command_is_waited_for_with_on_stall_wait() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("slow").disk(64 * MIB),
        HostSpec::new("fine").disk(64 * MIB),
    ]);
    let dir = tempfile::tempdir().unwrap();
    // `mkfs.ext4` is a link to `mke2fs` (the bind mount lands on it): a copy does the work.
    let real = dir.path().join("mke2fs.real");
    let found = Command::new("sh")
        .args(["-c", "readlink -f \"$(command -v mkfs.ext4)\""])
        .output()
        .unwrap();
    std::fs::copy(String::from_utf8_lossy(&found.stdout).trim(), &real).unwrap();
    lab.replace_tool(
        "slow",
        "mkfs.ext4",
        &format!(
            "#!/bin/sh\nsleep 5\nexec {} -t ext4 \"$@\"\n",
            real.display()
        ),
        dir.path(),
    );
    let plan = lab_plan(&lab, dir.path(), &["slow", "fine"]);
    let out = apply_storage(&plan, dir.path())
        .args(["--on-stall", "wait", "--stall-after", "2"])
        .env_remove("RACKSTRAP_STALL_SECS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let disk = &lab.host("slow").disks[0].name;
    let command = format!("mkfs.ext4 -L rackstrap /dev/{disk}");
    for quiet in [2, 4] {
        let line = format!(
            "slow storage stalled: `{command}` printed nothing and did not exit for {quiet} s; waiting another 2 s"
        );
        assert!(stdout.contains(&line), "no {line:?} in {stdout}");
    }
    assert!(!stdout.contains("for 6 s"), "{stdout}");
    assert!(stdout.contains("slow storage done"), "{stdout}");
    assert!(stdout.contains("fine storage done"), "{stdout}");
    assert!(!stdout.contains("fine storage stalled"), "{stdout}");
}

/// `cmd` run under umask 000, the most careless one.
fn under_umask_000(cmd: &mut Command) -> std::process::Output {
    let program = cmd.get_program().to_owned();
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(program)
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        sh.current_dir(dir);
    }
    sh.output().unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn run_state_and_logs_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.yaml"), PLAN).unwrap();
    let mut apply = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    apply
        .current_dir(dir.path())
        .args(["apply", "cluster.yaml", "--stage", "preflight", "--yes"]);
    let out = under_umask_000(&mut apply);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let state_dir = dir.path().join(".rackstrap/cluster");
    assert_eq!(mode(&dir.path().join(".rackstrap")), 0o700);
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(&state_dir.join("state.yaml")), 0o600);
    assert_eq!(mode(&state_dir.join("lock")), 0o600);
    let run = std::fs::read_dir(state_dir.join("logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&run), 0o700);
    assert_eq!(mode(&run.join("node1.log")), 0o600);
}

/// SIGKILL at every moment of a run that saves its state: the state file is always a whole
/// state, and the next run leaves no temporary file behind.
#[test]
fn killing_apply_while_it_saves_never_leaves_a_broken_state() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.yaml"), PLAN).unwrap();
    let state_file = dir.path().join(".rackstrap/cluster/state.yaml");
    for i in 0..30u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
            .current_dir(dir.path())
            .args(["apply", "cluster.yaml", "--yes"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(i % 10 * 3));
        let _ = child.kill();
        let _ = child.wait();
        if state_file.exists() {
            let loaded = state::RunState::load(&state_file);
            assert!(loaded.is_ok(), "after kill {i}: {loaded:?}");
        }
    }
    let out = rackstrap(dir.path(), &["apply", "cluster.yaml", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let leftovers: Vec<String> = std::fs::read_dir(dir.path().join(".rackstrap/cluster"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    state::RunState::load(&state_file).unwrap();
}

/// Pinning host keys: under umask 000 the file is 0644, and a discover killed at any moment
/// leaves only whole lines.
#[test]
fn known_hosts_is_0644_and_whole_after_kills() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("a"), HostSpec::new("b")]);
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("pins/known_hosts");
    let discover = |c: &mut Command| {
        c.arg("discover")
            .args(["--port", &common::lab::LAB_PORT.to_string()])
            .arg("--identity")
            .arg(lab.key_path())
            .arg("--known-hosts")
            .arg(&known)
            .args(["--accept-new", &lab.address(1), &lab.address(2)])
            .env_remove("SSH_AUTH_SOCK");
    };
    for i in 0..12u64 {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
        discover(&mut c);
        let mut child = c
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20 + i * 25));
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&known).unwrap_or_default();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "after kill {i}: {text:?}"
        );
        for line in text.lines() {
            assert_eq!(line.split(' ').count(), 3, "after kill {i}: {line:?}");
        }
        // Start over so that every round pins again.
        let _ = std::fs::remove_file(&known);
    }
    let _ = std::fs::remove_dir_all(dir.path().join("pins"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    discover(&mut c);
    let out = under_umask_000(&mut c);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(mode(&known), 0o644);
    assert_eq!(mode(known.parent().unwrap()), 0o755);
    assert_eq!(std::fs::read_to_string(&known).unwrap().lines().count(), 2);
}

/// Two applies on one plan started together: one formats and writes fstab, the other refuses
/// (or, started late enough, finds the work done); the host ends with one fstab line.
#[test]
fn two_applies_started_together_format_once_and_write_one_fstab_line() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("solo").disk(64 * MIB)]);
    let dir = tempfile::tempdir().unwrap();
    let plan = lab_plan(&lab, dir.path(), &["solo"]);
    let start = || {
        apply_storage(&plan, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let texts: Vec<String> = outs
        .iter()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .collect();
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert!(ok >= 1, "{texts:?}");
    let mkfs_runs: usize = texts.iter().map(|t| t.matches("$ mkfs.ext4").count()).sum();
    assert_eq!(mkfs_runs, 1, "{texts:?}");
    for (o, t) in outs.iter().zip(&texts) {
        assert!(
            o.status.success() || t.contains("is already running this plan"),
            "{t}"
        );
    }
    let fstab = lab.exec_ok("solo", "cat /etc/fstab");
    assert_eq!(
        fstab.lines().filter(|l| l.contains("/mnt/data")).count(),
        1,
        "{fstab}"
    );
}

/// A server that accepts TCP but never says a word, and one that sends an SSH banner and then
/// stalls in the handshake: each ends as a clear state within the connect timeout, and a
/// closed port beside them is reported as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_stalling_servers_end_within_the_connect_timeout() {
    use rackstrap::discover::{self, HostState};
    use std::time::{Duration, Instant};
    const PORT: u16 = 2222;
    let mute = tokio::net::TcpListener::bind(("127.78.0.1", PORT))
        .await
        .unwrap();
    let stalls = tokio::net::TcpListener::bind(("127.78.0.2", PORT))
        .await
        .unwrap();
    let servers = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                Ok((s, _)) = mute.accept() => held.push(s),
                Ok((mut s, _)) = stalls.accept() => {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
                    held.push(s);
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let opts = rackstrap::ssh::ConnectOptions {
        port: PORT,
        known_hosts: dir.path().join("known_hosts"),
        accept_new: true,
        use_agent: false,
        connect_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    discover::discover(
        vec![
            "127.78.0.1".into(),
            "127.78.0.2".into(),
            "127.78.0.3".into(),
        ],
        opts,
        8,
        tx,
    )
    .await;
    let elapsed = started.elapsed();
    servers.abort();
    let mut found = std::collections::BTreeMap::new();
    while let Ok(d) = rx.try_recv() {
        found.insert(d.address.clone(), d);
    }
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(found.len(), 3, "{found:?}");
    let mute = &found["127.78.0.1"];
    assert_eq!(mute.state, HostState::NotSsh, "{mute:?}");
    assert!(mute.message.contains("no SSH greeting"), "{mute:?}");
    let stalled = &found["127.78.0.2"];
    assert_ne!(stalled.state, HostState::Ok, "{stalled:?}");
    assert!(!stalled.message.is_empty(), "{stalled:?}");
    assert_eq!(found["127.78.0.3"].state, HostState::PortClosed);
}

/// SIGINT or SIGTERM while a step runs: apply exits with the signal's code and the run state
/// names the step that was running as interrupted by that signal.
#[test]
fn a_signal_during_a_step_leaves_the_state_saying_where_it_stopped() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("slow").disk(64 * MIB)]);
    let dir = tempfile::tempdir().unwrap();
    lab.replace_tool("slow", "mkfs.ext4", NEVER_RETURNS, dir.path());
    let plan = lab_plan(&lab, dir.path(), &["slow"]);
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let mut child = apply_storage(&plan, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("$ mkfs.ext4") {
                break;
            }
        }
        assert!(seen.contains("$ mkfs.ext4"), "{seen}");
        let kill = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("stopped by SIG{signal}")),
            "{stderr}"
        );
        let status = rackstrap(dir.path(), &["status", "cluster.yaml"]);
        let table = String::from_utf8_lossy(&status.stdout);
        assert!(
            table.contains(&format!(
                "slow storage: failed interrupted by SIG{signal}: the run stopped while this step ran"
            )),
            "{table}"
        );
    }
}

/// Output that is not UTF-8 and a line of a megabyte, through the same exec the stages use
/// (with its stall detector): both arrive whole, the invalid bytes replaced, and the watcher
/// sees them escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_are_not_utf8_and_megabyte_lines_pass_through_exec() {
    require_lab!();
    use rackstrap::provision::remote::{OutLines, Remote};
    let lab = Lab::start(vec![HostSpec::new("noisy")]);
    let dir = tempfile::tempdir().unwrap();
    let opts = rackstrap::ssh::ConnectOptions {
        user: "root".into(),
        port: common::lab::LAB_PORT,
        identity: Some(lab.key_path().to_path_buf()),
        known_hosts: dir.path().join("known_hosts"),
        accept_new: true,
        use_agent: false,
        ..Default::default()
    };
    let session = rackstrap::ssh::Session::connect(&lab.host("noisy").address, &opts)
        .await
        .unwrap();
    let mut lines: Vec<String> = Vec::new();
    let status = Remote::exec(
        &session,
        r"printf 'bad \377\376 \033]0;t\007\n'; head -c 1048576 /dev/zero | tr '\0' x; echo; echo done",
        None,
        &mut |c: OutLines| lines.extend(c.lines),
    )
    .await
    .unwrap();
    assert_eq!(status, 0);
    assert_eq!(
        lines.len(),
        3,
        "{:?}",
        lines.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    assert_eq!(lines[0], "bad \u{fffd}\u{fffd} \u{1b}]0;t\u{7}");
    assert_eq!(lines[1].len(), 1 << 20);
    assert_eq!(lines[2], "done");
    assert_eq!(
        rackstrap::text::printable_sgr(&lines[0]),
        "bad \u{fffd}\u{fffd} \\e]0;t\\x07"
    );
    session.close().await;
}

/// A target with a control character in it is refused with the character shown escaped, and a
/// target of 65,536 characters is refused or reported without a panic.
#[test]
fn bad_and_huge_targets_are_shown_escaped_and_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = rackstrap(dir.path(), &["discover", "10.0.0.1", "ab\u{1b}]0;x\u{7}c"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{stderr:?}"
    );
    assert!(
        stderr.contains(r"bad target `ab\e]0;x\x07c`: unexpected `\e` in host name"),
        "{stderr}"
    );
    let huge = "1".repeat(65_536);
    let out = rackstrap(dir.path(), &["discover", &huge]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        &stderr[..stderr.len().min(400)]
    );
    assert!(
        !stderr.contains("panicked"),
        "{}",
        &stderr[..stderr.len().min(400)]
    );
}
