//! End to end: the real binary in tmux on the demo lab, through every screen to a finished
//! Provision, reading the screen at each step; then quit and find the terminal restored.
//! A second test makes `update` panic and finds the terminal restored and the report printed.
//!
//! Each test runs its own tmux server (`tmux -L <unique>`) at a fixed 100x30 and kills it
//! at the end, also when the test fails.

mod common;

use std::process::Command;

use common::tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_rackstrap");

/// A 100x30 pane running `cmd` in a fresh directory (kept while the pane lives).
fn demo_pane(name: &str, cmd: &str) -> (tempfile::TempDir, Tmux) {
    assert!(
        Tmux::available(),
        "tmux is required (tests/ci.sh installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start(name, 100, 30, cmd, dir.path());
    (dir, t)
}

#[test]
fn demo_walks_every_screen_to_a_finished_provision_and_restores_the_terminal() {
    let (dir, t) = demo_pane(
        "e2e",
        &format!("RACKSTRAP_DEMO_SPEED=40 {BIN} demo; echo rackstrap-exit=$?"),
    );

    let s = t.wait_for("1/9 Access");
    assert!(s.contains("DEMO: simulated lab, nothing is touched"), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("2/9 Discover");
    t.keys(&["Enter"]);
    let s = t.wait_for("6 answered, 0 with SSH and facts");
    assert!(s.contains("auth failed") && s.contains("no SSH"), "{s}");
    // Every key is new: accepting pins them and the hosts are scanned again for facts.
    assert!(s.contains("new key"), "{s}");
    t.keys(&["a"]);
    t.wait_for("4 accepted");
    t.keys(&["Enter"]);
    let s = t.wait_for("3/9 Hosts");
    for host in ["node1", "node2", "node3", "node4"] {
        assert!(s.contains(host), "{s}");
    }
    t.keys(&["Enter"]);
    let s = t.wait_for("4/9 Roles");
    assert!(s.contains("etcd members      1"), "{s}");
    // Below 80x24 the wizard says so; back at full size it redraws the screen.
    t.cmd(&["resize-window", "-t", "main", "-x", "70", "-y", "20"]);
    let s = t.wait_for("needs a terminal of at least 80x24");
    assert!(s.contains("this one is 70x20"), "{s}");
    t.cmd(&["resize-window", "-t", "main", "-x", "100", "-y", "30"]);
    t.wait_for("4/9 Roles");
    t.keys(&["Enter"]);
    t.wait_for("5/9 Storage");
    t.keys(&["Tab", "Down", "Down", "Down", "Space", "Down", "Space"]);
    t.wait_for("raid0 over 2 × 1.5T → 3T usable");
    t.keys(&["a", "A"]);
    t.wait_for("applied to node3");
    t.keys(&["Enter"]);
    t.wait_for("6/9 Network");
    t.keys(&["Down", "End"]);
    t.run(", 10.0.10.x");
    let s = t.wait_for("column 57: unexpected `x`");
    assert!(
        s.contains("6/9 Network"),
        "Enter must not pass an error: {s}"
    );
    t.keys(&["BSpace"; 11]);
    t.wait_for("20 addresses");
    t.keys(&["Enter"]);
    let s = t.wait_for("7/9 Review");
    assert!(s.contains("not saved yet"), "{s}");
    t.keys(&["s"]);
    t.wait_for("Save the plan to:");
    t.keys(&["Enter"]);
    t.wait_for("saved: akash.yaml");
    assert!(dir.path().join("akash.yaml").exists());
    t.keys(&["Enter"]);
    t.wait_for("8/9 Provision");
    t.keys(&["Enter"]);
    // The storage stage formats node2's and node3's NVMe disks: each name is typed.
    for host in ["node2", "node3"] {
        t.wait_for(&format!("Type the host name ({host})"));
        t.run(host);
    }
    // node3 fails its preflight; the healthy hosts go on until Kubespray, which waits.
    let s = t.wait_for("r retry");
    assert!(
        s.contains("Preflight failed: clock not synchronised"),
        "{s}"
    );
    assert!(s.contains("Kubespray: waiting: node3"), "{s}");
    t.keys(&["r"]);
    let s = t.wait_for("every stage finished");
    assert!(s.contains("PLAY RECAP") || s.contains("MetalLB"), "{s}");
    assert!(!s.contains('✗'), "{s}");
    t.keys(&["Enter"]);
    let s = t.wait_for("9/9 Done");
    assert!(s.contains("Cluster akash is up."), "{s}");
    t.keys(&["q", "y"]);
    let s = t.wait_for("rackstrap-exit=0");
    assert!(s.contains("plan saved: akash.yaml"), "{s}");
    assert_terminal_restored(&t);
    t.run("echo shell-is-back");
    t.wait_for("shell-is-back");

    // The saved plan reopens on the Drift screen (recovery / reinstall); `c` goes on to
    // Review. The demo's addresses answer nothing here: the survey need not finish first.
    t.run(&format!(
        "clear; {BIN} --plan akash.yaml; echo reopen-exit=$?"
    ));
    t.wait_for("Drift: what changed since the plan was saved");
    t.keys(&["c"]);
    let s = t.wait_for("7/9 Review");
    assert!(
        s.contains("cluster akash") && s.contains("saved: akash.yaml"),
        "{s}"
    );
    assert!(!s.contains("DEMO"), "a reopened plan is not the demo: {s}");
    t.keys(&["Tab", "Tab"]);
    // What changes per host comes first, in words; then the commands, preflight's read-only
    // checks folded to one line per host.
    t.wait_for("What changes, per host");
    t.keys(&["PageDown"; 2]);
    let s = t.wait_for("── Preflight on node2");
    assert!(s.contains("read-only check"), "{s}");
    // Long commands wrap, so later stages are further down.
    t.keys(&["PageDown"]);
    t.wait_for("── Host prep on node");
    t.keys(&["q", "y"]);
    t.wait_for("reopen-exit=0");
    assert_terminal_restored(&t);
}

#[test]
fn a_panic_in_update_restores_the_terminal_and_prints_the_report() {
    let (_dir, t) = demo_pane(
        "panic",
        &format!("RUST_BACKTRACE=0 RACKSTRAP_TEST_PANIC=1 {BIN} demo; echo rackstrap-exit=$?"),
    );
    t.wait_for("1/9 Access");
    t.keys(&["Enter"]);
    let s = t.wait_for("rackstrap-exit=");
    assert!(s.contains("panicking inside update on purpose"), "{s}");
    assert!(!s.contains("rackstrap-exit=0"), "{s}");
    assert!(
        !s.contains("1/9 Access"),
        "the alternate screen must be gone: {s}"
    );
    assert_terminal_restored(&t);
}

#[test]
fn sigterm_restores_the_terminal() {
    let (dir, t) = demo_pane(
        "sigterm",
        &format!("{BIN} demo & echo $! > wizard.pid; fg; echo rackstrap-exit=$?"),
    );
    t.wait_for("1/9 Access");
    let pid = std::fs::read_to_string(dir.path().join("wizard.pid")).unwrap();
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .unwrap();
    assert!(killed.success());
    let s = t.wait_for("rackstrap-exit=");
    assert!(
        !s.contains("1/9 Access"),
        "the alternate screen must be gone: {s}"
    );
    assert_terminal_restored(&t);
}

/// `stty -a` in the pane shows canonical mode and echo again (raw mode turns both off).
fn assert_terminal_restored(t: &Tmux) {
    // The quotes keep the marker out of the echoed command line.
    t.run("echo \"mo\"\"des=$(stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo -e -icanon -e -echo | tr '\\n' ' ')\"");
    let s = t.wait_for("modes=");
    let line = s
        .lines()
        .find(|l| l.starts_with("modes="))
        .unwrap_or_default();
    assert!(
        line.contains("icanon") && !line.contains("-icanon"),
        "terminal left in raw mode: {s}"
    );
    assert!(
        line.contains("echo") && !line.contains("-echo"),
        "terminal left without echo: {s}"
    );
}

#[test]
fn no_color_draws_without_colours() {
    assert!(
        Tmux::available(),
        "tmux is required (tests/ci.sh installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    for (no_color, expect_colour) in [(true, false), (false, true)] {
        let prefix = if no_color { "NO_COLOR=1 " } else { "" };
        let t = Tmux::start(
            if no_color { "mono" } else { "colour" },
            100,
            30,
            &format!("{prefix}{BIN} demo --lab ais"),
            dir.path(),
        );
        t.wait_for("1/9 Access");
        // -e keeps the escape sequences: foreground colours are SGR 30-37, 90-97 or 38;...
        let out = t.cmd(&["capture-pane", "-p", "-e", "-t", "main"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let coloured = text.split("\x1b[").skip(1).any(|seq| {
            let params = seq.split('m').next().unwrap_or("");
            params
                .split(';')
                .any(|p| matches!(p.parse::<u8>(), Ok(30..=38 | 90..=97)))
        });
        assert_eq!(coloured, expect_colour, "NO_COLOR={no_color}: {text:?}");
        t.keys(&["C-c", "y"]);
    }
}

/// The recovery demo: the Drift screen shows each host's states, refuses removing the last
/// control plane with the numbers, runs nothing on a rekeyed host until its new key is
/// confirmed by typing its name, and shows a replacement's commands before the typed name
/// runs it (in the demo, only says what would run).
#[test]
fn drift_screen_on_the_recovery_demo() {
    let (_dir, t) = demo_pane(
        "drift",
        &format!("{BIN} demo --lab recovery; echo rackstrap-exit=$?"),
    );
    let s = t.wait_for("node4    10.0.10.9       not in the cluster");
    assert!(
        s.contains("Drift: what changed since the plan was saved"),
        "{s}"
    );
    assert!(
        s.contains("node2    10.0.10.239     host key changed, reinstalled, NotReady"),
        "{s}"
    );
    assert!(
        s.contains("node3    10.0.10.253     unreachable, NotReady"),
        "{s}"
    );
    assert!(
        s.contains("node node9 is in the cluster but not in the plan"),
        "{s}"
    );

    // node1 is the only control plane: refused, nothing to confirm.
    t.keys(&["Down", "r"]);
    t.wait_for("remove node2: node2's host key changed: confirm the new key first");
    t.keys(&["Escape"]);
    t.keys(&["Up"]);
    t.keys(&["r"]);
    let s =
        t.wait_for("node1 is the last control plane: removing it leaves no API server; refused");
    assert!(!s.contains("Enter to run"), "{s}");
    t.keys(&["Escape"]);

    // node2's new key: the name must be typed; a wrong one pins nothing.
    t.keys(&["Down", "k"]);
    t.wait_for("Type node2 and Enter to pin it");
    t.keys(&["n", "o", "d", "e", "1", "Enter"]);
    t.wait_for("type node2 to pin its new key");
    t.keys(&["BSpace", "2", "Enter"]);
    t.wait_for("node2    10.0.10.239     reinstalled, NotReady");

    // Replace: the verdict and the commands first, run only with the name typed.
    t.keys(&["p"]);
    let s = t.wait_for("replace node2: node2 is removed from the cluster and joins again");
    assert!(s.contains("Type node2 and Enter to run"), "{s}");
    assert!(s.contains("remove_node.yml -e"), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("type node2 to run this action");
    t.keys(&["n", "o", "d", "e", "2", "Enter"]);
    let s = t.wait_for("replace node2: done");
    assert!(s.contains("demo, not run: join node2 as a worker"), "{s}");

    t.keys(&["c"]);
    t.wait_for("7/9 Review");
    t.keys(&["q", "y"]);
    t.wait_for("rackstrap-exit=0");
    assert_terminal_restored(&t);
}
