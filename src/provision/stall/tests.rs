use super::*;
use crate::provision::event::Event;

#[test]
fn slow_commands_get_longer_before_they_count_as_stalled() {
    assert_eq!(stall_limit("mkfs.xfs -f -L data /dev/md0"), STALL_SLOW);
    assert_eq!(
        stall_limit("mdadm --create /dev/md0 --level=raid0"),
        STALL_SLOW
    );
    assert_eq!(
        stall_limit("DEBIAN_FRONTEND=noninteractive apt-get install -y xfsprogs"),
        STALL_PACKAGES
    );
    assert_eq!(stall_limit("sysctl --system"), STALL_DEFAULT);
    assert_eq!(
        stalled_message("mkfs.xfs /dev/loop3\nmore", STALL_SLOW),
        "stalled: `mkfs.xfs /dev/loop3` printed nothing and did not exit for 30 min; rackstrap stopped waiting (it may still run on the host)"
    );
}

#[test]
fn one_limit_for_every_command_replaces_the_kinds() {
    let policy = StallPolicy {
        after: Some(Duration::from_secs(7)),
        on_stall: OnStall::Fail,
    };
    assert_eq!(policy.limit("mkfs.xfs /dev/sdb"), Duration::from_secs(7));
    assert_eq!(policy.limit_or(STALL_SLOW), Duration::from_secs(7));
}

#[test]
fn spans_read_seconds_and_units_and_refuse_the_rest() {
    assert_eq!(parse_span("90"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_span("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_span("30m"), Ok(Duration::from_secs(1800)));
    assert_eq!(parse_span(" 2h "), Ok(Duration::from_secs(7200)));
    for bad in [
        "0",
        "",
        "m",
        "-5",
        "1.5",
        "5 days",
        "abc",
        "99999999999999999999h",
    ] {
        let err = parse_span(bad).expect_err(bad);
        assert!(err.contains(&format!("{bad:?}")), "{err}");
    }
    assert_eq!(span(Duration::from_secs(120)), "2 min");
    assert_eq!(span(Duration::from_secs(90)), "90 s");
}

/// A host whose command sleeps, prints, sleeps... as scripted, then exits 0.
struct Scripted(Vec<(u64, Option<&'static str>)>);

#[async_trait]
impl Remote for Scripted {
    async fn exec(
        &self,
        _command: &str,
        _stdin: Option<Vec<u8>>,
        on_output: &mut (dyn FnMut(OutLines) + Send),
    ) -> Result<u32, RemoteError> {
        for (ms, line) in &self.0 {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            if let Some(text) = line {
                on_output(OutLines {
                    lines: vec![text.to_string()],
                    stderr: false,
                });
            }
        }
        Ok(0)
    }
}

const FOREVER: u64 = 3_600_000;

fn watched(
    script: Vec<(u64, Option<&'static str>)>,
    on_stall: OnStall,
) -> (Watched, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let log = StepLog::new("node1", StageId::Storage, tx, None);
    let policy = StallPolicy {
        after: Some(Duration::from_millis(300)),
        on_stall,
    };
    (Watched::new(Arc::new(Scripted(script)), policy, log), rx)
}

fn stalls(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<bool> {
    let mut asking = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let EventKind::Stalled {
            command, asking: a, ..
        } = ev.kind
        {
            assert_eq!(command, "mkfs.ext4 /dev/loop0");
            asking.push(a);
        }
    }
    asking
}

#[tokio::test]
async fn fail_ends_the_command_with_the_stalled_message_and_says_nothing_else() {
    let (remote, mut rx) = watched(vec![(FOREVER, None)], OnStall::Fail);
    let err = remote
        .capture("mkfs.ext4 /dev/loop0\nmore")
        .await
        .expect_err("stalled");
    assert!(
        err.to_string().starts_with(
            "stalled: `mkfs.ext4 /dev/loop0` printed nothing and did not exit for 0 s"
        ),
        "{err}"
    );
    assert!(stalls(&mut rx).is_empty());
}

#[tokio::test]
async fn wait_keeps_waiting_and_says_so_each_period() {
    // Quiet for 1 s with a limit of 0.3 s: three periods pass, then it prints and exits.
    let (remote, mut rx) = watched(vec![(1000, Some("done")), (10, None)], OnStall::Wait);
    let out = remote.capture("mkfs.ext4 /dev/loop0").await.expect("ran");
    assert_eq!(out.stdout, "done\n");
    assert_eq!(stalls(&mut rx), vec![false, false, false]);
}

#[tokio::test]
async fn a_question_is_answered_wait_then_fail() {
    let decisions = StallDecisions::default();
    let (remote, mut rx) = watched(vec![(FOREVER, None)], OnStall::Ask(decisions.clone()));
    let answers = decisions.clone();
    let watcher = tokio::spawn(async move {
        let mut asked = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let EventKind::Stalled { asking, .. } = ev.kind {
                asked.push(asking);
                let answer = if asked.len() == 1 {
                    StallAnswer::Wait
                } else {
                    StallAnswer::Fail
                };
                // The run waits while nobody answers.
                tokio::time::sleep(Duration::from_millis(400)).await;
                assert_eq!(
                    answers.open(),
                    vec![("node1".to_string(), StageId::Storage)]
                );
                assert!(answers.answer("node1", StageId::Storage, answer));
            }
        }
        asked
    });
    let started = Instant::now();
    let err = remote
        .capture("mkfs.ext4 /dev/loop0")
        .await
        .expect_err("failed by the answer");
    // Asked at 0.3 s, answered at 0.7 s; asked again 0.3 s later, answered 0.4 s after.
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert!(err.to_string().contains("did not exit for 1 s"), "{err}");
    drop(remote);
    assert_eq!(watcher.await.expect("watcher"), vec![true, true]);
    assert!(decisions.open().is_empty());
}

#[tokio::test]
async fn output_while_asking_withdraws_the_question() {
    let decisions = StallDecisions::default();
    let (remote, mut rx) = watched(
        vec![(500, Some("50% done")), (100, Some("100% done"))],
        OnStall::Ask(decisions.clone()),
    );
    let out = remote.capture("mkfs.ext4 /dev/loop0").await.expect("ran");
    assert_eq!(out.stdout, "50% done\n100% done\n");
    assert_eq!(stalls(&mut rx), vec![true]);
    assert!(decisions.open().is_empty(), "{decisions:?}");
    assert!(!decisions.answer("node1", StageId::Storage, StallAnswer::Fail));
}
