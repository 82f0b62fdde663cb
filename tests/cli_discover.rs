//! `rackstrap discover` end to end against the lab.

mod common;

use std::process::Command;

use common::lab::{HostSpec, Lab};

const GIB: u64 = 1 << 30;

fn rackstrap(lab: &Lab, known: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("discover")
        .args(["--port", &common::lab::LAB_PORT.to_string()])
        .arg("--identity")
        .arg(lab.key_path())
        .arg("--known-hosts")
        .arg(known)
        .args(extra)
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .unwrap()
}

#[test]
fn table_json_and_exit_codes() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("left").disk(5 * GIB),
        HostSpec::new("right").disk(GIB).disk(2 * GIB),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known_hosts");
    let range = format!("{}-{}", lab.address(1), lab.address(3));

    // Without --accept-new: nothing pinned, fingerprints shown, exit 1 (nothing usable).
    let out = rackstrap(&lab, &known, &[&range]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("unknown host key") && text.contains("new key SHA256:"),
        "{text}"
    );
    assert!(text.contains("--accept-new"));
    assert!(!known.exists());

    // Table with facts.
    let out = rackstrap(&lab, &known, &["--accept-new", &range]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ADDRESS"));
    assert!(
        lines[1].starts_with(&lab.address(1))
            && lines[1].contains(" ok ")
            && lines[1].contains("left"),
        "{text}"
    );
    assert!(
        lines[1].contains(&format!("{} 5G", lab.host("left").disks[0].name)),
        "{text}"
    );
    assert!(
        lines[2].contains("right") && lines[2].contains("Ubuntu 22.04.4 LTS"),
        "{text}"
    );
    assert!(
        lines[3].starts_with(&lab.address(3)) && lines[3].contains("port closed"),
        "{text}"
    );

    // JSON lines.
    let out = rackstrap(&lab, &known, &["--json", &range]);
    assert_eq!(out.status.code(), Some(0));
    let objects: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 3);
    let right = objects
        .iter()
        .find(|o| o["address"] == lab.address(2).as_str())
        .unwrap();
    assert_eq!(right["state"]["state"], "ok");
    assert_eq!(right["facts"]["hostname"], "right");
    assert_eq!(right["facts"]["disks"].as_array().unwrap().len(), 2);
    assert_eq!(right["newly_pinned"], false);

    // Only closed ports: exit 1. Bad ranges: an error naming the token.
    assert_eq!(
        rackstrap(&lab, &known, &[&lab.address(50)]).status.code(),
        Some(1)
    );
    let out = rackstrap(&lab, &known, &["10.0.0.0/33"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("10.0.0.0/33"));
    let out = rackstrap(&lab, &known, &["10.0.0.0/8"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("more than 65536"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A host that reports a hostile hostname and a 70,000-character `PRETTY_NAME` with the C1 CSI
/// in it: the table and the JSON lines show both escaped and cut, and the healthy host's
/// results are there too.
#[test]
fn hostile_and_huge_facts_are_escaped_cut_and_do_not_sink_the_rest() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("hostile"), HostSpec::new("fine")]);
    lab.exec_ok(
        "hostile",
        r#"printf 'lab1\033]0;owned\007$(id)' > /proc/sys/kernel/hostname"#,
    );
    let pretty = format!("\u{9b}31m\u{1b}[2J{}", "U".repeat(70_000));
    lab.exec_ok(
        "hostile",
        &format!(
            "printf 'ID=ubuntu\\nVERSION_ID=\"22.04\"\\nPRETTY_NAME=\"%s\"\\n' '{pretty}' > /etc/os-release"
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known_hosts");
    let range = format!("{}-{}", lab.address(1), lab.address(2));

    let out = rackstrap(&lab, &known, &["--accept-new", &range]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains(r"lab1\e]0;owned\x07$(id)"), "{text}");
    assert!(text.contains(r"\u{9b}31m\e[2JUUU"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() < 400), "{text}");
    assert!(text.contains("fine"), "{text}");

    let out = rackstrap(&lab, &known, &["--json", &range]);
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(
        !raw.contains('\u{9b}') && !raw.contains('\u{1b}'),
        "{raw:?}"
    );
    let hostnames: Vec<String> = raw
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|o| o["facts"]["hostname"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        hostnames.iter().any(|h| h == r"lab1\e]0;owned\x07$(id)"),
        "{hostnames:?}"
    );
    assert!(hostnames.iter().any(|h| h == "fine"), "{hostnames:?}");
    assert!(!hostnames.iter().any(|h| h.chars().any(char::is_control)));
}

/// A host whose `nproc` never returns: with a short facts timeout it is reported as stalled,
/// the healthy host's facts are there, and the table and the JSON lines both finish.
#[test]
fn a_host_that_hangs_in_facts_is_reported_stalled_and_the_rest_shown() {
    require_lab!();
    let lab = Lab::start(vec![HostSpec::new("stuck"), HostSpec::new("fine")]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("nproc");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 100000\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    lab.exec_ok(
        "stuck",
        &format!("mount --bind {} \"$(command -v nproc)\"", script.display()),
    );
    let known = dir.path().join("known_hosts");
    let range = format!("{}-{}", lab.address(1), lab.address(2));
    // The table with RACKSTRAP_FACTS_TIMEOUT=3; --json also with --facts-timeout 2, which wins.
    for extra in [&[][..], &["--json", "--facts-timeout", "2"][..]] {
        let started = std::time::Instant::now();
        let mut args = vec!["--accept-new"];
        args.extend_from_slice(extra);
        args.push(&range);
        let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
            .arg("discover")
            .args(["--port", &common::lab::LAB_PORT.to_string()])
            .arg("--identity")
            .arg(lab.key_path())
            .arg("--known-hosts")
            .arg(&known)
            .args(&args)
            .env_remove("SSH_AUTH_SOCK")
            .env("RACKSTRAP_FACTS_TIMEOUT", "3")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(0), "{text}");
        if extra.is_empty() {
            let stuck = text
                .lines()
                .find(|l| l.starts_with(&lab.address(1)))
                .unwrap();
            assert!(
                stuck.contains("stalled") && stuck.contains("no answer within 3 s"),
                "{text}"
            );
            assert!(text.contains("fine"), "{text}");
        } else {
            let states: Vec<(String, String)> = text
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .map(|o| {
                    (
                        o["address"].as_str().unwrap_or("").to_string(),
                        o["state"]["state"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            assert!(
                states.contains(&(lab.address(1), "stalled".into())),
                "{states:?}"
            );
            assert!(
                text.contains("facts: no answer within 2 s"),
                "the flag wins over the environment: {text}"
            );
            assert!(
                states.contains(&(lab.address(2), "ok".into())),
                "{states:?}"
            );
        }
    }
}
