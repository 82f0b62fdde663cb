use super::*;

#[test]
fn a_run_started_in_the_same_second_gets_logs_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    let base = "20261201T031500Z".to_string();
    assert_eq!(fresh_run_id(base.clone(), &logs), base);
    std::fs::create_dir_all(logs.join(&base)).expect("mkdir");
    assert_eq!(fresh_run_id(base.clone(), &logs), format!("{base}-2"));
    std::fs::create_dir_all(logs.join(format!("{base}-2"))).expect("mkdir");
    assert_eq!(fresh_run_id(base.clone(), &logs), format!("{base}-3"));
}

#[test]
fn state_round_trips_atomically_and_interrupted_steps_are_not_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_dir(&dir.path().join("cluster.yaml")).join("state.yaml");
    assert_eq!(
        RunState::load(&path).expect("missing is empty"),
        RunState::default()
    );
    let mut s = RunState::default();
    s.step_mut(StageId::Storage, "node1").state = StepState::Done;
    s.step_mut(StageId::Storage, "node2").state = StepState::Running;
    s.save(&path).expect("save");
    let loaded = RunState::load(&path).expect("load");
    assert_eq!(loaded.state_of(StageId::Storage, "node1"), StepState::Done);
    assert_eq!(
        loaded.state_of(StageId::Storage, "node2"),
        StepState::Failed
    );
    assert_eq!(
        loaded.state_of(StageId::Verify, "node1"),
        StepState::Pending
    );
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("state.yaml")]);
}

#[test]
fn a_second_run_on_one_plan_is_refused_with_the_holder_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = RunLock::acquire(dir.path()).expect("first lock");
    let err = RunLock::acquire(dir.path())
        .expect_err("second lock")
        .to_string();
    assert!(
        err.starts_with(&format!(
            "another rackstrap process (pid {}) is already running this plan",
            std::process::id()
        )),
        "{err}"
    );
    drop(first);
    RunLock::acquire(dir.path()).expect("free again");
}

#[test]
fn a_lock_left_by_a_dead_process_is_taken_over_and_stale_temp_files_go() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(LOCK_FILE), "4194304\n").expect("stale lock");
    std::fs::write(dir.path().join(".tmpA1b2C3"), "version: 1\nst").expect("stale tmp");
    std::fs::write(dir.path().join("state.yaml"), "version: 1\n").expect("state");
    let _lock = RunLock::acquire(dir.path()).expect("taken over");
    let lock = dir.path().join(LOCK_FILE);
    assert_eq!(
        std::fs::read_to_string(&lock).expect("lock"),
        format!("{}\n", std::process::id())
    );
    assert_eq!(
        std::fs::metadata(&lock).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["lock", "state.yaml"]);
}

#[test]
fn a_state_file_larger_than_any_state_is_refused_after_a_bounded_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.yaml");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(MAX_STATE_BYTES + 1).expect("sparse");
    let err = format!("{:#}", RunState::load(&path).expect_err("too large"));
    assert!(err.contains("larger than"), "{err}");
    assert!(err.starts_with(&path.display().to_string()), "{err}");
    // The endless file of the report: a symlink to /dev/zero.
    std::fs::remove_file(&path).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
    let err = format!("{:#}", RunState::load(&path).expect_err("endless"));
    assert!(err.contains("larger than"), "{err}");
}

#[test]
fn a_state_file_nested_without_end_is_refused_before_parsing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.yaml");
    std::fs::write(&path, format!("version: 1\nsteps: {}\n", "[".repeat(5000))).expect("write");
    let err = format!("{:#}", RunState::load(&path).expect_err("deep"));
    assert!(err.contains("nested more than"), "{err}");
}

#[test]
fn a_fifo_as_state_file_fails_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.yaml");
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let p = path.clone();
    std::thread::spawn(move || {
        let _ = tx.send(RunState::load(&p).map_err(|e| format!("{e:#}")));
    });
    let got = rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("load of a FIFO did not return within 5 s");
    let err = got.expect_err("a FIFO is no state file");
    assert!(err.contains("FIFO"), "{err}");
}

#[test]
fn a_state_file_of_an_unknown_version_is_refused_not_rewritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.yaml");
    let text = "version: 2\nsteps:\n  storage:\n    node1: {state: done}\nnew_key: kept\n";
    std::fs::write(&path, text).expect("write");
    let err = format!("{:#}", RunState::load(&path).expect_err("version 2"));
    assert!(err.contains("version 2"), "{err}");
    assert!(err.contains(&format!("version {STATE_VERSION}")), "{err}");
    let err = format!(
        "{:#}",
        RunState::load_as_left(&path).expect_err("version 2")
    );
    assert!(err.contains("version 2"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
}

#[test]
fn a_plan_reached_through_a_symlink_shares_the_state_and_the_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = dir.path().join("plan.yaml");
    std::fs::write(&plan, "version: 1\n").expect("plan");
    let alias = dir.path().join("alias.yaml");
    std::os::unix::fs::symlink(&plan, &alias).expect("symlink");
    assert_eq!(state_dir(&alias), state_dir(&plan));
    let _held = RunLock::acquire(&state_dir(&plan)).expect("first");
    let err = RunLock::acquire(&state_dir(&alias))
        .expect_err("second")
        .to_string();
    assert!(err.contains("is already running this plan"), "{err}");
}

#[test]
fn two_plan_files_of_one_cluster_are_one_run_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = state_dir(&dir.path().join("plan.yaml"));
    let b = state_dir(&dir.path().join("copy.yaml"));
    assert_ne!(a, b);
    let _held = RunLock::acquire_for(&a, "lab").expect("first");
    let err = RunLock::acquire_for(&b, "lab")
        .expect_err("second")
        .to_string();
    assert!(err.contains("is already running cluster lab"), "{err}");
    RunLock::acquire_for(&b, "other").expect("another cluster");
}

#[test]
fn the_holder_of_a_live_run_is_known_without_taking_its_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(RunLock::holder(dir.path()), None);
    let held = RunLock::acquire(dir.path()).expect("lock");
    assert_eq!(RunLock::holder(dir.path()), Some(Some(std::process::id())));
    // Still held by us after the look.
    assert!(RunLock::acquire(dir.path()).is_err());
    drop(held);
    assert_eq!(RunLock::holder(dir.path()), None);
}

#[test]
fn state_dir_sits_beside_the_plan() {
    assert_eq!(
        state_dir(Path::new("site/akash.yaml")),
        PathBuf::from("site/.rackstrap/akash")
    );
    assert_eq!(
        state_dir(Path::new("akash.yaml")),
        PathBuf::from("./.rackstrap/akash")
    );
}

#[test]
fn plans_with_names_that_are_not_utf8_get_their_own_state() {
    use std::os::unix::ffi::OsStrExt;
    let a = state_dir(Path::new(std::ffi::OsStr::from_bytes(b"c_\xff.yaml")));
    let b = state_dir(Path::new(std::ffi::OsStr::from_bytes(b"c_\xfe.yaml")));
    assert_ne!(a, b);
    assert_eq!(a.file_name().map(|n| n.as_bytes()), Some(&b"c_\xff"[..]));
}

#[test]
fn table_shows_states_and_reasons() {
    let mut s = RunState::default();
    s.step_mut(StageId::Preflight, "node1").state = StepState::Done;
    let st = s.step_mut(StageId::Preflight, "node2");
    st.state = StepState::Failed;
    st.message = "connection lost: eof".into();
    let t = s.table(&["node1".into(), "node2".into()]);
    assert!(
        t.starts_with("stage          node1    node2\npreflight      done     failed\n"),
        "{t}"
    );
    assert!(
        t.contains("node2 preflight: failed connection lost: eof"),
        "{t}"
    );
    // A stage that never reports on a host reads "-" there, not "pending".
    let t = s.table_where(&["node1".into(), "node2".into()], |stage, host| {
        !(stage == StageId::Verify && host == "node2")
    });
    let verify = t
        .lines()
        .find(|l| l.starts_with("verify"))
        .unwrap_or_default();
    assert_eq!(verify, "verify         pending  -");
}

#[test]
fn node_actions_round_trip_are_listed_and_an_unfinished_one_was_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.yaml");
    let action = |node: &str, state: StepState| NodeAction {
        action: "remove".into(),
        node: node.into(),
        run: "20260101T000000Z".into(),
        started: "2026-01-01T00:00:00Z".into(),
        finished: None,
        state,
        message: String::new(),
        log: Some(PathBuf::from("logs/20260101T000000Z/ansible.log")),
    };
    let mut s = RunState::default();
    s.actions.push(action("node4", StepState::Done));
    s.actions.push(action("node2", StepState::Running));
    s.save(&path).expect("save");
    let loaded = RunState::load(&path).expect("load");
    assert_eq!(loaded.actions[0], action("node4", StepState::Done));
    assert_eq!(loaded.actions[1].state, StepState::Failed);
    assert!(loaded.actions[1].message.starts_with("interrupted"));
    let t = loaded.table(&["node1".into()]);
    assert!(
        t.contains(
            "node actions:\n2026-01-01T00:00:00Z node remove node4: done \
                 (log: logs/20260101T000000Z/ansible.log)\n"
        ),
        "{t}"
    );
    // A state file written before node actions were recorded still loads.
    std::fs::write(&path, "version: 1\nsteps: {}\n").expect("write");
    assert!(RunState::load(&path).expect("old file").actions.is_empty());
}

#[test]
fn table_escapes_and_cuts_huge_or_hostile_names() {
    let huge = "n".repeat(70_000);
    let hostile = "lab1\u{1b}]0;owned\u{7}".to_string();
    let mut s = RunState::default();
    s.step_mut(StageId::Storage, &huge).state = StepState::Done;
    let st = s.step_mut(StageId::Storage, &hostile);
    st.state = StepState::Failed;
    st.message = "mkfs: \u{9b}2J".into();
    let t = s.table(&[huge.clone(), hostile]);
    assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
    assert!(t.lines().all(|l| l.chars().count() < 200), "{t}");
    assert!(t.starts_with("stage          nnnn"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("storage        done") && l.ends_with("failed")),
        "{t}"
    );
    assert!(
        t.contains("lab1\\e]0;owned\\x07 storage: failed mkfs: \\u{9b}2J"),
        "{t}"
    );
}
