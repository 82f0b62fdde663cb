use super::*;

const MINIMAL: &str = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: node1\n    address: 10.0.0.1\n    roles: [control_plane, etcd, worker]\n";

#[test]
fn minimal_plan_gets_defaults() {
    let plan = from_yaml(MINIMAL, "p.yaml").unwrap();
    assert_eq!(plan.cluster.domain, "cluster.local");
    assert_eq!(
        plan.cluster.kubespray.version,
        crate::plan::release::DEFAULT_TAG
    );
    assert_eq!(plan.network.service_cidr, "10.233.0.0/18");
    assert_eq!(plan.access.port, 22);
}

#[test]
fn unknown_key_has_line_and_column() {
    let text = MINIMAL.replace("address:", "adress:");
    let err = from_yaml(&text, "cluster.yaml").unwrap_err().to_string();
    assert!(
        err.starts_with("cluster.yaml:6:5: hosts[0]: unknown key `adress`, expected one of"),
        "{err}"
    );
}

/// A message quoting the plan (an unknown key) shows its control characters escaped.
#[test]
fn errors_quote_the_plan_escaped() {
    let text = MINIMAL.replace("address:", "\"ad\\e]0;x\\a\\u009bress\":");
    let err = from_yaml(&text, "c\u{1b}.yaml").unwrap_err().to_string();
    assert!(
        err.starts_with("c\\e.yaml:6:5: hosts[0]: unknown key `ad\\e]0;x\\x07\\u{9b}ress`"),
        "{err}"
    );
}

/// The YAML library reports control characters at line 1, column 1 with a byte offset in
/// the words; the error points at the character itself.
#[test]
fn a_control_character_is_located_where_it_is() {
    let text = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: né\0de1\n";
    let err = from_yaml(text, "p.yaml").unwrap_err().to_string();
    assert_eq!(
        err,
        "p.yaml:5:13: control character \\x00 is not allowed in YAML text"
    );
    let err = from_yaml("version: 1\n# a\u{85}b\u{9b}\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "p.yaml:2:6: control character \\u{9b} is not allowed in YAML text"
    );
}

const COMMENTED: &str = "# Lab cluster, rack 4\nversion: 1\ncluster:\n  name: lab # the lab\nhosts:\n  # first box\n  - name: node1\n    address: 10.0.0.1\n    roles: [control_plane, etcd, worker]\n\n  # the flaky one\n  - name: node2\n    # its second NIC\n    address: 10.0.0.2\n    roles: [worker]\n  - name: node3\n    address: 10.0.0.3 # spare\n    roles: [worker]\n# access below\naccess: {user: root}\n";

/// A node action removes or moves one host: the rest of the file, comments included,
/// stays as the operator wrote it; the comments and blank lines above a host go with it.
#[test]
fn a_host_removed_or_moved_keeps_the_comments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, COMMENTED).unwrap();
    let plan = load(&path).unwrap();
    let mut removed = plan.clone();
    removed.hosts.remove(1);
    assert!(save_keeping_comments(&removed, &path).unwrap());
    let want = COMMENTED.replace(
            "\n  # the flaky one\n  - name: node2\n    # its second NIC\n    address: 10.0.0.2\n    roles: [worker]\n",
            "",
        );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
    assert_eq!(load(&path).unwrap(), removed);

    // Moved last, with the etcd member name the action records.
    let mut moved = removed.clone();
    let mut first = moved.hosts.remove(0);
    first.etcd_member_name = Some("etcd1".into());
    moved.hosts.push(first);
    assert!(save_keeping_comments(&moved, &path).unwrap());
    let want = "# Lab cluster, rack 4\nversion: 1\ncluster:\n  name: lab # the lab\nhosts:\n  - name: node3\n    address: 10.0.0.3 # spare\n    roles: [worker]\n  # first box\n  - name: node1\n    address: 10.0.0.1\n    roles: [control_plane, etcd, worker]\n    etcd_member_name: etcd1\n# access below\naccess: {user: root}\n";
    assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
    assert_eq!(load(&path).unwrap(), moved);
}

/// Hosts the text edit cannot place (a flow sequence): the plan is written whole, and the
/// caller is told its comments went.
#[test]
fn a_plan_that_cannot_be_edited_in_place_is_rewritten_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(
            &path,
            "# mine\nversion: 1\ncluster: {name: lab}\nhosts: [{name: a, address: 10.0.0.1, roles: [worker]}, {name: b, address: 10.0.0.2, roles: [worker]}]\n",
        )
        .unwrap();
    let mut plan = load(&path).unwrap();
    plan.hosts.remove(0);
    assert!(!save_keeping_comments(&plan, &path).unwrap());
    assert_eq!(load(&path).unwrap(), plan);
}

#[test]
fn wrong_version_is_refused() {
    let text = MINIMAL.replace("version: 1", "version: 2");
    let err = from_yaml(&text, "p.yaml").unwrap_err().to_string();
    assert_eq!(
        err,
        "p.yaml:1:1: version: unsupported plan version 2; this build reads version 1"
    );
    let err = from_yaml("cluster: {name: x}\n", "p.yaml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "p.yaml: missing key `version` (this build reads `version: 1`)"
    );
}

#[test]
fn save_is_atomic_0600_and_round_trips() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    let plan = from_yaml(MINIMAL, "p.yaml").unwrap();
    save(&plan, &path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(load(&path).unwrap(), plan);
    // Saving twice gives the same bytes, and leaves no temporary files behind.
    let first = std::fs::read(&path).unwrap();
    save(&plan, &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let with_bom = format!("\u{feff}{MINIMAL}");
    assert_eq!(
        from_yaml(&with_bom, "p.yaml").unwrap(),
        from_yaml(MINIMAL, "p.yaml").unwrap()
    );
}

#[test]
fn a_number_beyond_64_bits_reads_like_any_out_of_range_port() {
    let text = format!("{MINIMAL}access: {{ user: root, port: 99999999999999999999999 }}\n");
    let err = from_yaml(&text, "p.yaml").unwrap_err().to_string();
    assert_eq!(
        err,
        "p.yaml:8:29: access.port: wrong value: found integer `99999999999999999999999`, \
             expected a whole number from 0 to 65535"
    );
}

#[test]
fn deep_flow_nesting_is_refused_quickly_with_its_place() {
    for open in ["[", "{a: ", "- ["] {
        let text = format!("version: 1\nx: {}\n", open.repeat(100_000));
        let started = std::time::Instant::now();
        let err = from_yaml(&text, "p.yaml").unwrap_err().to_string();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{open}: {:?}",
            started.elapsed()
        );
        assert!(err.starts_with("p.yaml:2:"), "{err}");
        assert!(err.ends_with("nested more than 32 levels of `[` or `{`: this is not a plan"));
    }
    // Brackets inside plain text, quotes and comments are not nesting.
    let text = format!(
        "{MINIMAL}# {}\nsysctl: {{ a.b: \"{}\", c.d: x{} }}\n",
        "[".repeat(100),
        "{".repeat(100),
        "[".repeat(100)
    );
    let err = from_yaml(&text, "p.yaml")
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(!err.contains("nested"), "{err}");
}

#[test]
fn an_endless_or_huge_file_is_refused_after_a_bounded_read() {
    let err = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert_eq!(
        err,
        "/dev/zero: larger than 4 MiB: this is not a plan (a plan is a YAML file of a few kilobytes)"
    );
}

#[test]
fn bytes_that_are_not_utf8_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, b"version: 1\ncluster:\n  name: \"\xff\"\n").unwrap();
    let err = load(&path).unwrap_err().to_string();
    assert!(
        err.ends_with("p.yaml:3:10: not UTF-8 text: a plan is a YAML file in UTF-8"),
        "{err}"
    );
}

#[test]
fn a_save_removes_what_a_killed_save_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(".rackstrap-plan-AbC123");
    let fresh = dir.path().join(".rackstrap-plan-XyZ789");
    std::fs::write(&old, "version: 1\ncl").unwrap();
    std::fs::write(&fresh, "version: 1\ncl").unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let plan = from_yaml(MINIMAL, "p.yaml").unwrap();
    save(&plan, &dir.path().join("cluster.yaml")).unwrap();
    assert!(!old.exists(), "a stale temporary file stays");
    assert!(
        fresh.exists(),
        "a save under way in another process lost its file"
    );
}

#[test]
fn unreadable_file_says_so() {
    let err = load(Path::new("/nonexistent/plan.yaml")).unwrap_err();
    assert!(matches!(err, PlanError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/plan.yaml: cannot read: ")
    );
}
