//! The built binary against hostile or broken local files and outputs: known_hosts files with
//! bytes that are not UTF-8, `@revoked` and `@cert-authority` lines and hashed entries (checked
//! against real sshd hosts of the lab, and with OpenSSH's own `ssh-keygen`), names on the
//! command line that carry terminal controls, inventory directories under umask 000, and a
//! standard output that is closed or full.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::lab::{HostSpec, LAB_PORT, Lab};

/// A plan whose one host listens nowhere (a closed port on the loopback).
const PLAN: &str = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: node1\n    address: 127.77.250.1\n    roles: [control_plane, etcd, worker]\naccess: { user: root, port: 2222 }\n";

fn rackstrap(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rackstrap"));
    c.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RACKSTRAP_DEBUG");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn discover(lab: &Lab, dir: &Path, known: &Path, targets: &[&str]) -> Output {
    rackstrap(dir)
        .arg("discover")
        .args(["--port", &LAB_PORT.to_string()])
        .arg("--identity")
        .arg(lab.key_path())
        .arg("--known-hosts")
        .arg(known)
        .arg("--accept-new")
        .args(targets)
        .output()
        .expect("run rackstrap")
}

/// `address:port key` lines as `ssh-keygen -F` finds them in `known` (hashed ones included).
fn keygen_find(known: &Path, address: &str) -> Vec<String> {
    let o = Command::new("ssh-keygen")
        .arg("-F")
        .arg(format!("[{address}]:{LAB_PORT}"))
        .arg("-f")
        .arg(known)
        .output()
        .expect("ssh-keygen");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The key part (`ssh-ed25519 AAAA...`) of a host's public key line.
fn key_of(lab: &Lab, host: &str) -> String {
    let line = lab.host(host).host_public_key();
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One byte that is not UTF-8 used to make the whole file unreadable, so every pin in it was
/// off: discovery called a changed key "pinned" and appended it again on every run. Now only
/// the line rackstrap cannot read is skipped, with a warning naming it.
#[test]
fn a_byte_that_is_not_utf8_skips_its_line_not_the_file() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("a"), HostSpec::new("b")]);
    let dir = tempfile::tempdir().expect("tmp");
    let known = dir.path().join("kh");
    let (a, b) = (lab.host("a").address.clone(), lab.host("b").address.clone());
    // The reproduction: a comment with a Latin-1 byte, then another host's key
    // recorded for `a`; then a line that is garbage, then `b`'s own pin.
    let mut bytes = b"# caf\xe9\n".to_vec();
    bytes.extend(format!("[{a}]:{LAB_PORT} {}\n", key_of(&lab, "b")).as_bytes());
    bytes.extend(b"\xff\xfe not a line\n");
    bytes.extend(format!("[{b}]:{LAB_PORT} {}\n", key_of(&lab, "b")).as_bytes());
    std::fs::write(&known, &bytes).expect("write");

    for round in 0..2 {
        let o = discover(&lab, dir.path(), &known, &[&a, &b]);
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        let row_a = out.lines().find(|l| l.starts_with(&a)).unwrap_or_default();
        let row_b = out.lines().find(|l| l.starts_with(&b)).unwrap_or_default();
        assert!(
            row_a.contains("host key changed"),
            "round {round}: {out}{err}"
        );
        assert!(
            row_b.contains(" ok ") && !row_b.contains("pinned SHA256"),
            "round {round}: {out}{err}"
        );
        assert!(
            err.contains(&format!("{}:3: not UTF-8", known.display())),
            "round {round}: {err}"
        );
        assert!(!err.contains(":1:"), "a comment is no warning: {err}");
        assert_eq!(std::fs::read(&known).expect("kh"), bytes, "round {round}");
    }

    // Drift on a plan of both hosts: `b` is pinned, `a`'s key changed; neither is "not pinned".
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\ncluster: {{name: lab}}\naccess: {{user: root, port: {LAB_PORT}, identity: {}}}\n\
             hosts:\n  - {{name: a, address: {a}, roles: [control_plane, etcd, worker]}}\n  - {{name: b, address: {b}, roles: [worker]}}\n",
            lab.key_path().display()
        ),
    )
    .expect("plan");
    let o = rackstrap(dir.path())
        .args(["drift", "plan.yaml", "--known-hosts"])
        .arg(&known)
        .output()
        .expect("drift");
    assert!(!text(&o).contains("not pinned"), "{}", text(&o));
    assert!(text(&o).contains("host key changed"), "{}", text(&o));

    // A known_hosts that cannot be read at all stops the run, naming the file and line.
    let unreadable = dir.path().join("dir_kh");
    std::fs::create_dir(&unreadable).expect("dir");
    let o = discover(&lab, dir.path(), &unreadable, &[&a]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("{}:1: cannot read", unreadable.display())),
        "{}",
        text(&o)
    );
    assert!(o.stdout.is_empty(), "{}", text(&o));
}

/// `@revoked` wins over a pin of the same key, as in OpenSSH; a `@cert-authority` line is
/// reported, not silently dropped.
#[test]
fn a_revoked_key_is_refused_even_when_pinned() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("a")]);
    let dir = tempfile::tempdir().expect("tmp");
    let known = dir.path().join("kh");
    let a = lab.host("a").address.clone();
    let key = key_of(&lab, "a");
    std::fs::write(
        &known,
        format!(
            "[{a}]:{LAB_PORT} {key}\n@revoked * {key}\n@cert-authority *.lab {}\n",
            lab.public_key().trim()
        ),
    )
    .expect("write");
    let o = discover(&lab, dir.path(), &known, &[&a]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("REVOKED HOST KEY"), "{}", text(&o));
    assert!(!text(&o).contains(" ok "), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("{}:3: @cert-authority", known.display())),
        "{}",
        text(&o)
    );

    // Revoked and not pinned: --accept-new does not pin it.
    std::fs::write(&known, format!("@revoked * {key}\n")).expect("write");
    let o = discover(&lab, dir.path(), &known, &[&a]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("REVOKED HOST KEY"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&known).expect("kh"),
        format!("@revoked * {key}\n")
    );
}

/// `drift --accept-new-key` on a file hashed by `ssh-keygen -H`: the old hashed line goes, and
/// OpenSSH finds exactly the host's new key.
#[test]
fn accept_new_key_replaces_a_hashed_line() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("a"), HostSpec::new("b")]);
    let dir = tempfile::tempdir().expect("tmp");
    let known = dir.path().join("kh");
    let (a, b) = (lab.host("a").address.clone(), lab.host("b").address.clone());
    // `a` was reinstalled: the file still holds another key for it.
    std::fs::write(
        &known,
        format!(
            "[{a}]:{LAB_PORT} {}\n[{b}]:{LAB_PORT} {}\n",
            key_of(&lab, "b"),
            key_of(&lab, "b")
        ),
    )
    .expect("write");
    let hashed = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&known)
        .output()
        .expect("ssh-keygen -H");
    assert!(hashed.status.success(), "{}", text(&hashed));
    assert!(!std::fs::read_to_string(&known).expect("kh").contains(&a));
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\ncluster: {{name: lab}}\naccess: {{user: root, port: {LAB_PORT}, identity: {}}}\n\
             hosts:\n  - {{name: a, address: {a}, roles: [control_plane, etcd, worker]}}\n  - {{name: b, address: {b}, roles: [worker]}}\n",
            lab.key_path().display()
        ),
    )
    .expect("plan");
    let o = rackstrap(dir.path())
        .args([
            "drift",
            "plan.yaml",
            "--accept-new-key",
            "a",
            "--known-hosts",
        ])
        .arg(&known)
        .output()
        .expect("drift");
    assert!(text(&o).contains("a: pinned SHA256:"), "{}", text(&o));
    let found = keygen_find(&known, &a);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with(&key_of(&lab, "a")), "{found:?}");
    assert_eq!(keygen_find(&known, &b).len(), 1, "b's hashed pin stays");
}

/// Names typed on the command line come back in messages; control characters in them are
/// shown escaped, never sent to the terminal.
#[test]
fn names_from_the_command_line_are_escaped_in_messages() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    let evil = "x\u{1b}]0;owned\u{7}\r\u{9b}31m";
    let raw = |o: &Output| {
        let all = [o.stdout.clone(), o.stderr.clone()].concat();
        let s = String::from_utf8_lossy(&all).into_owned();
        s.chars()
            .any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\r' | '\u{80}'..='\u{9f}'))
    };
    for action in ["remove", "relay", "replace", "add"] {
        let o = rackstrap(dir.path())
            .args(["node", action, "plan.yaml", evil])
            .output()
            .expect("node");
        assert!(!raw(&o), "node {action}: {:?}", text(&o));
        assert!(
            text(&o).contains("x\\e]0;owned"),
            "node {action}: {}",
            text(&o)
        );
    }
    let o = rackstrap(dir.path())
        .args(["drift", "plan.yaml", "--accept-new-key", evil])
        .output()
        .expect("drift");
    assert!(!raw(&o), "{:?}", text(&o));
    assert!(text(&o).contains("x\\e]0;owned"), "{}", text(&o));

    // `check --format json`: C1 controls from the plan come out as JSON escapes.
    std::fs::write(
        dir.path().join("c1.yaml"),
        PLAN.replace("name: lab", "name: \"l\\u009bab\\u0085\""),
    )
    .expect("plan");
    let o = rackstrap(dir.path())
        .args(["check", "c1.yaml", "--format", "json"])
        .output()
        .expect("check");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("\\u009b"), "{out}");
    assert!(!raw(&o), "{out:?}");
    let findings: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert!(findings.to_string().contains('\u{9b}'), "{findings}");
}

/// Directories `render --out` makes are 0755 under umask 000.
#[test]
fn render_out_makes_0755_directories_under_umask_000() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    let o = Command::new("sh")
        .current_dir(dir.path())
        .arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_rackstrap"))
        .args(["render", "plan.yaml", "--out", "inv/lab"])
        .output()
        .expect("render");
    assert!(o.status.success(), "{}", text(&o));
    let mut dirs = vec![dir.path().join("inv")];
    let mut seen = 0;
    while let Some(d) = dirs.pop() {
        if d != dir.path().join("inv") {
            seen += 1;
            assert_eq!(mode(&d), 0o755, "{}", d.display());
        }
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            if e.file_type().expect("type").is_dir() {
                dirs.push(e.path());
            }
        }
    }
    assert!(seen >= 3, "inv/lab, group_vars and below");
    assert_eq!(mode(&dir.path().join("inv")), 0o755);
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Output to a pipe whose reader is gone (`| head`) ends quietly, without a panic.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    for args in [
        &["apply", "plan.yaml", "--dry-run"][..],
        &["check", "plan.yaml"],
        &["render", "plan.yaml", "--out", "out"],
    ] {
        let mut child = rackstrap(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes before anything was written: every write finds the pipe closed.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("stderr");
        let status = child.wait().expect("wait");
        assert_ne!(status.code(), Some(101), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

/// Output to a full device is an error message and a non-zero exit, never a backtrace.
#[test]
fn a_full_stdout_is_an_error_message() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("plan.yaml"), PLAN).expect("plan");
    for args in [
        &["status", "plan.yaml"][..],
        &["check", "plan.yaml"],
        &["check", "plan.yaml", "--format", "json"],
        &["drift", "plan.yaml"],
        &["apply", "plan.yaml", "--dry-run"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let o = rackstrap(dir.path())
            .args(args)
            .stdout(full)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("rackstrap: cannot write to standard output: No space left on device"),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("BACKTRACE"),
            "{args:?}: {err}"
        );
    }
}
