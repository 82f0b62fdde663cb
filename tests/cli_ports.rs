//! `rackstrap check PLAN --ports` as a user runs it: the matrix of each example plan as text
//! and JSON, byte for byte against `tests/golden/ports/` (`UPDATE_GOLDEN=1` rewrites them
//! after an intended change; review the diff), and `render`'s `extras/ports.md` agreeing with
//! it.

use std::path::PathBuf;
use std::process::{Command, Output};

const EXAMPLES: [&str; 3] = ["akash", "homelab", "ais"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rackstrap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run rackstrap")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn golden(name: &str, got: &str) {
    let path = root().join("tests/golden/ports").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, got).expect("write golden");
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    pretty_assertions::assert_eq!(want, got, "{name}");
}

#[test]
fn check_ports_prints_the_matrix_of_each_example() {
    for name in EXAMPLES {
        let plan = format!("assets/examples/{name}.yaml");
        let out = rackstrap(&["check", &plan, "--ports"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        golden(&format!("{name}.txt"), &text(&out.stdout));
        let out = rackstrap(&["check", &plan, "--ports", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(v["entries"].as_array().is_some_and(|e| !e.is_empty()));
        golden(&format!("{name}.json"), &text(&out.stdout));
    }
}

/// What each example's plan chooses shows in its matrix.
#[test]
fn the_examples_choices_show() {
    let akash = text(&rackstrap(&["check", "assets/examples/akash.yaml", "--ports"]).stdout);
    assert!(akash.contains("[reachable from outside]"), "{akash}");
    assert!(akash.contains("8443") && akash.contains("MetalLB memberlist"));
    assert!(akash.contains("udp   4789         Calico VXLAN"), "{akash}");
    let ais = text(&rackstrap(&["check", "assets/examples/ais.yaml", "--ports"]).stdout);
    assert!(
        ais.contains("51080-51083") && !ais.contains("8443"),
        "{ais}"
    );
    let homelab = text(&rackstrap(&["check", "assets/examples/homelab.yaml", "--ports"]).stdout);
    assert!(!homelab.contains("51080") && !homelab.contains("8443"));
}

#[test]
fn a_plan_with_errors_still_shows_the_matrix_and_exits_one() {
    let out = rackstrap(&["check", "tests/golden/bad/18_even_etcd.yaml", "--ports"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("Ports between nodes for cluster"));
    assert!(
        text(&out.stderr).contains("error  E_EVEN_ETCD"),
        "{}",
        text(&out.stderr)
    );
    let out = rackstrap(&["check", "tests/golden/bad/no-such-plan.yaml", "--ports"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn render_writes_the_firewall_sheet() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_s = dir.path().to_string_lossy().to_string();
    let out = rackstrap(&["render", "assets/examples/akash.yaml", "--out", &out_s]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let sheet = std::fs::read_to_string(dir.path().join("extras/ports.md")).expect("ports.md");
    let table = text(&rackstrap(&["check", "assets/examples/akash.yaml", "--ports"]).stdout);
    assert!(sheet.contains(&table), "the sheet carries the same table");
    assert!(sheet.contains(
        "## node4 (10.0.10.9) accepts\n- tcp 10250 from 10.0.10.136, 10.0.10.239, 10.0.10.253: kubelet API\n"
    ), "{sheet}");
}
