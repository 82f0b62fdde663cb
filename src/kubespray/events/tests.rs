//! The callback's lines read into results, and failures said in one line.

use super::*;
use pretty_assertions::assert_eq;

fn results(lines: &str) -> (Results, Vec<HostUpdate>) {
    let mut r = Results::new();
    let mut updates = Vec::new();
    for l in lines.lines().filter(|l| !l.trim().is_empty()) {
        let e = Event::parse(l).unwrap_or_else(|| panic!("not an event: {l}"));
        updates.extend(r.apply(&e));
    }
    (r, updates)
}

/// Recorded from ansible-core 2.18 (ansible 11.13.0) against a closed port on 127.0.0.1:
/// the `msg` of an unreachable host holds OpenSSH's `-v` output, `\r\n` between lines.
const UNREACHABLE: &str = r#"{"event": "result", "status": "unreachable", "host": "node1", "task": "bootstrap_os : Fetch /etc/os-release", "msg": "Failed to connect to the host via ssh: OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026\r\ndebug1: Reading configuration data /etc/ssh/ssh_config\r\ndebug1: /etc/ssh/ssh_config line 19: include /etc/ssh/ssh_config.d/*.conf matched no files\r\ndebug1: /etc/ssh/ssh_config line 21: Applying options for *\r\ndebug1: Connecting to 127.0.0.1 [127.0.0.1] port 1.\r\ndebug1: connect to address 127.0.0.1 port 1: Connection refused\r\nssh: connect to host 127.0.0.1 port 1: Connection refused"}"#;

#[test]
fn an_unreachable_host_is_said_in_one_line_and_kept_whole() {
    let (r, updates) = results(UNREACHABLE);
    let f = &r.failures["node1"];
    assert!(f.unreachable);
    assert_eq!(
        f.to_string(),
        "task [bootstrap_os : Fetch /etc/os-release] unreachable: Failed to connect to the host \
         via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused"
    );
    assert!(!f.to_string().contains('\r') && !f.to_string().contains('\n'));
    assert!(!f.to_string().contains("\\r\\n") && !f.to_string().contains("debug1"));
    // The whole text stays for the log, line by line.
    assert!(
        f.message
            .contains("debug1: Reading configuration data /etc/ssh/ssh_config")
    );
    assert_eq!(f.message.lines().count(), 7);
    assert!(matches!(&updates[1], HostUpdate::Failed { host, .. } if host == "node1"));
}

#[test]
fn a_changed_host_key_is_said_by_its_last_line() {
    let msg = "Failed to connect to the host via ssh: \
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n\
        @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n\
        @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n\
        IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\n\
        Host key for [127.77.0.2]:22 has changed and you have requested strict checking.\r\n\
        Host key verification failed.";
    let line = serde_json::json!({"event": "result", "status": "unreachable", "host": "n",
        "task": "t", "msg": msg});
    let (r, _) = results(&line.to_string());
    assert_eq!(
        r.failures["n"].summary,
        "Failed to connect to the host via ssh: Host key verification failed."
    );
    assert!(
        r.failures["n"]
            .message
            .contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    );
}

const RUN: &str = r#"
{"event": "play", "name": "k8s_cluster"}
{"event": "task", "name": "kubernetes/preinstall : Check that swap is off"}
{"event": "result", "status": "ok", "host": "node1", "task": "kubernetes/preinstall : Check that swap is off"}
{"event": "result", "status": "ok", "host": "node2", "task": "kubernetes/preinstall : Check that swap is off"}
{"event": "result", "status": "failed", "host": "node3", "task": "kubernetes/preinstall : Check that swap is off", "msg": "Swap is on"}
{"event": "task", "name": "container-engine/containerd : Download"}
{"event": "retry", "host": "node1", "task": "container-engine/containerd : Download", "attempt": 1, "retries": 4}
{"event": "result", "status": "changed", "host": "node1", "task": "container-engine/containerd : Download", "item": "a"}
{"event": "result", "status": "failed", "host": "node1", "task": "container-engine/containerd : Download", "item": "b", "msg": "404 Not Found"}
{"event": "result", "status": "failed", "host": "node1", "task": "container-engine/containerd : Download", "msg": "One or more items failed"}
{"event": "result", "status": "skipped", "host": "node2", "task": "container-engine/containerd : Download"}
{"event": "task", "name": "ignored one"}
{"event": "result", "status": "failed", "host": "node2", "task": "ignored one", "ignored": true, "msg": "non-zero return code", "rc": 1, "stderr": "boom"}
{"event": "recap", "host": "node1", "ok": 1, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0, "rescued": 0, "ignored": 0}
{"event": "recap", "host": "node2", "ok": 1, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 1, "rescued": 0, "ignored": 1}
{"event": "recap", "host": "node3", "ok": 0, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0, "rescued": 0, "ignored": 0}
"#;

#[test]
fn a_run_is_read_into_progress_failures_and_recap() {
    let (r, updates) = results(RUN);
    assert_eq!(r.play, "k8s_cluster");
    assert_eq!(r.tasks_done["node1"], 2, "loop items are not counted apart");
    assert_eq!(r.tasks_done["node2"], 3);
    assert_eq!(
        updates[0],
        HostUpdate::Progress {
            host: "node1".into(),
            done: 1,
            text: "ok: kubernetes/preinstall : Check that swap is off".into()
        }
    );
    assert!(updates.contains(&HostUpdate::Progress {
        host: "node1".into(),
        done: 1,
        text: "retrying (1/4): container-engine/containerd : Download".into()
    }));
    assert!(updates.contains(&HostUpdate::Progress {
        host: "node2".into(),
        done: 2,
        text: "skipping: container-engine/containerd : Download".into()
    }));
    assert_eq!(
        r.failures["node3"].to_string(),
        "task [kubernetes/preinstall : Check that swap is off] failed: Swap is on"
    );
    assert_eq!(
        r.failures["node1"].to_string(),
        "task [container-engine/containerd : Download] failed: One or more items failed \
         (item b: 404 Not Found)"
    );
    assert!(
        !r.failures.contains_key("node2"),
        "an ignored failure counts"
    );
    assert_eq!(r.failure_of("node2"), None);
    assert!(r.recap["node2"].success() && !r.recap["node1"].success());
    assert_eq!(
        r.recap["node2"],
        Recap {
            ok: 1,
            skipped: 1,
            ignored: 1,
            ..Default::default()
        }
    );
    assert_eq!(r.task_failures().count(), 2);
}

#[test]
fn a_rescued_failure_is_not_the_hosts_result() {
    let (r, _) = results(
        r#"{"event": "result", "status": "failed", "host": "h", "task": "t", "msg": "first try"}
{"event": "recap", "host": "h", "ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0, "rescued": 1, "ignored": 0}"#,
    );
    assert!(r.failures.contains_key("h"));
    assert_eq!(r.failure_of("h"), None);
}

#[test]
fn command_failures_carry_the_last_line_of_stderr() {
    let (r, _) = results(
        r#"{"event": "result", "status": "failed", "host": "h", "task": "fixture : must not be marked", "msg": "non-zero return code", "rc": 1, "stderr": "warning: ignored\nmarker present\n"}
{"event": "result", "status": "failed", "host": "g", "task": "quiet", "rc": 3}"#,
    );
    assert_eq!(
        r.failures["h"].to_string(),
        "task [fixture : must not be marked] failed: non-zero return code: marker present"
    );
    assert_eq!(r.failures["g"].to_string(), "task [quiet] failed: exited 3");
}

#[test]
fn lines_that_are_not_events_are_none() {
    assert_eq!(Event::parse("PLAY RECAP ****"), None);
    assert_eq!(Event::parse(r#"{"event": "unheard of"}"#), None);
}
