//! What a person reads when a command is given bad input: one clear message that says where
//! and what, exit 2, and no source locations or backtraces (those are for bugs).

use std::process::{Command, Output};

fn rackstrap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .args(args)
        // A developer's environment often has these set; the message must not change.
        .env("RUST_BACKTRACE", "1")
        .env_remove("RACKSTRAP_DEBUG")
        .output()
        .expect("run rackstrap")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_target_points_at_its_character() {
    let out = rackstrap(&["discover", "10.0.0.1", "10.0.0.1-10.0.0.x"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "rackstrap: bad target `10.0.0.1-10.0.0.x`: unexpected `x` in IPv4 address `10.0.0.x`",
            "  10.0.0.1 10.0.0.1-10.0.0.x",
            "                           ^ character 26",
        ],
        "{text}"
    );
    // The caret stands under the `x`.
    let col = lines[2].find('^').unwrap();
    assert_eq!(&lines[1][col..col + 1], "x");
}

#[test]
fn a_missing_key_file_is_named_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("no-such-key");
    let key = key.to_str().unwrap();
    let out = rackstrap(&["discover", "127.0.0.1", "--identity", key]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!("rackstrap: --identity {key}: no such file\n")
    );
}

#[test]
fn a_scan_too_large_says_what_to_do() {
    let out = rackstrap(&["discover", "10.0.0.0/8"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("or force the scan (--force)"),
        "{}",
        stderr(&out)
    );
    let out = rackstrap(&["discover", "--force", "fd00::/64"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(
        text.contains("even forced") && !text.contains("--force"),
        "{text}"
    );
}

#[test]
fn a_missing_plan_is_one_line_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("cluster.yaml");
    let out = rackstrap(&["--plan", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("rackstrap: cannot reopen the plan: "),
        "{text}"
    );
    assert!(text.contains("cluster.yaml: cannot read"), "{text}");
    assert!(
        !text.contains("Location") && !text.contains("BACKTRACE"),
        "{text}"
    );
}

/// Bad stall limits and answers are refused before anything runs, naming the flag and what
/// it accepts; the help lists the flags.
#[test]
fn bad_stall_and_facts_limits_name_their_flag() {
    for (args, flag) in [
        (
            vec!["apply", "cluster.yaml", "--stall-after", "soon"],
            "--stall-after <SPAN>",
        ),
        (
            vec!["apply", "cluster.yaml", "--stall-after", "0"],
            "--stall-after <SPAN>",
        ),
        (
            vec!["discover", "127.0.0.1", "--facts-timeout", "3 weeks"],
            "--facts-timeout <SPAN>",
        ),
        // The wizard takes both too.
        (vec!["--stall-after", "later"], "--stall-after <SPAN>"),
        (vec!["--facts-timeout", "1.5m"], "--facts-timeout <SPAN>"),
    ] {
        let out = rackstrap(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let text = stderr(&out);
        assert!(text.contains(flag), "{args:?}: {text}");
        assert!(
            text.contains("give whole seconds above 0 (`90`), or minutes or hours (`30m`, `2h`)"),
            "{args:?}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    let out = rackstrap(&["apply", "cluster.yaml", "--on-stall", "maybe"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    assert!(text.contains("--on-stall <WHAT>"), "{text}");
    assert!(text.contains("[possible values: fail, wait]"), "{text}");

    let help = String::from_utf8_lossy(&rackstrap(&["apply", "--help"]).stdout).into_owned();
    for want in [
        "--stall-after <SPAN>",
        "--on-stall <WHAT>",
        "[default: fail]",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
    let help = String::from_utf8_lossy(&rackstrap(&["discover", "--help"]).stdout).into_owned();
    assert!(help.contains("--facts-timeout <SPAN>"), "{help}");
    let help = String::from_utf8_lossy(&rackstrap(&["--help"]).stdout).into_owned();
    for want in ["--stall-after <SPAN>", "--facts-timeout <SPAN>"] {
        assert!(help.contains(want), "{want}: {help}");
    }
}
