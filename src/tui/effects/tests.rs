use super::*;
use crate::provision::{EventKind, StageId};

#[test]
fn live_runs_carry_the_sessions_credentials() {
    let (tx, _rx) = unbounded_channel();
    let access = Access::default();
    let opts = run_connect_options(
        &access,
        Some(PathBuf::from("pins")),
        Credentials {
            sudo_password: Some(Secret("s3cret-pw".into())),
            passphrase: Some(passphrase_callback(tx)),
        },
    );
    assert_eq!(opts.sudo_password.as_deref(), Some("s3cret-pw"));
    assert!(opts.passphrase.is_some());
    assert_eq!(opts.known_hosts, PathBuf::from("pins"));
    assert!(!format!("{opts:?}").contains("s3cret-pw"));
    let none = run_connect_options(
        &access,
        None,
        Credentials {
            sudo_password: None,
            passphrase: None,
        },
    );
    assert_eq!(none.sudo_password, None);
}

#[tokio::test]
async fn runner_events_arrive_in_batches() {
    let (etx, erx) = unbounded_channel();
    let (tx, mut rx) = unbounded_channel();
    let forward = tokio::spawn(batch_events(erx, tx));
    for i in 0..300 {
        etx.send(Event {
            host: "node1".into(),
            stage: StageId::Preflight,
            kind: EventKind::Log {
                lines: format!("{i}").into(),
                stderr: false,
            },
        })
        .unwrap();
    }
    drop(etx);
    forward.await.unwrap();
    let mut batches = 0;
    let mut events = 0;
    while let Ok(Msg::Provision(b)) = rx.try_recv() {
        batches += 1;
        events += b.len();
    }
    assert_eq!(events, 300);
    assert_eq!(
        batches, 1,
        "300 lines sent at once make one redraw, not 300"
    );
}
