//! The SSH layer against real OpenSSH servers in the lab.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::lab::{HostSpec, Lab, Sudo, UserSpec};
use rackstrap::ssh::{ConnectOptions, Line, Session, SshError};

fn options(lab: &Lab, known_hosts: PathBuf) -> ConnectOptions {
    ConnectOptions {
        user: "root".into(),
        port: common::lab::LAB_PORT,
        identity: Some(lab.key_path().to_path_buf()),
        known_hosts,
        extra_known_hosts: Vec::new(),
        accept_new: true,
        connect_timeout: Duration::from_secs(5),
        use_agent: false,
        ..ConnectOptions::default()
    }
}

#[tokio::test]
async fn connects_pins_and_streams_output() {
    require_lab!();
    let mut lab = Lab::start(vec![HostSpec::new("one"), HostSpec::new("two")]);
    let dir = tempfile::tempdir().unwrap();
    let known = dir.path().join("known_hosts");
    let opts = options(&lab, known.clone());
    let one = lab.host("one").address.clone();
    let two = lab.host("two").address.clone();

    // Unknown key without accept_new: refused, nothing pinned.
    let strict = ConnectOptions {
        accept_new: false,
        ..opts.clone()
    };
    match Session::connect(&one, &strict).await {
        Err(SshError::UnknownHostKey { fingerprint }) => {
            assert!(fingerprint.starts_with("SHA256:"))
        }
        other => panic!("expected UnknownHostKey, got {other:?}"),
    }
    assert!(!known.exists());

    // First contact with accept_new pins; the second contact trusts the pin.
    let session = Session::connect(&one, &opts).await.unwrap();
    assert!(session.newly_pinned());
    let pinned = std::fs::read_to_string(&known).unwrap();
    assert!(
        pinned.starts_with(&format!("[{one}]:{} ssh-ed25519 ", common::lab::LAB_PORT)),
        "{pinned}"
    );
    assert!(
        pinned.contains(
            lab.host("one")
                .host_public_key()
                .split_whitespace()
                .nth(1)
                .unwrap()
        )
    );
    let again = Session::connect(&one, &strict).await.unwrap();
    assert!(!again.newly_pinned());
    assert_eq!(again.fingerprint(), session.fingerprint());

    // Streamed lines, both streams, the exit status after EOF, stdin delivered.
    let mut lines = Vec::new();
    let status = session
        .exec(
            "hostname; echo oops >&2; cat; printf 'no newline'; exit 3",
            Some(b"from stdin\n".to_vec()),
            |l| lines.push(l),
        )
        .await
        .unwrap();
    assert_eq!(status, 3);
    assert!(lines.contains(&Line::Stdout("one".into())), "{lines:?}");
    assert!(lines.contains(&Line::Stderr("oops".into())));
    assert!(lines.contains(&Line::Stdout("from stdin".into())));
    assert!(lines.contains(&Line::Stdout("no newline".into())));

    // Several commands at once on one session.
    let other = session.clone();
    let (a, b, c) = tokio::join!(
        session.run("sleep 0.3; echo a"),
        session.run("echo b"),
        other.run("echo 'c d' | tr ' ' -")
    );
    assert_eq!(a.unwrap().stdout, "a\n");
    assert_eq!(b.unwrap().stdout, "b\n");
    assert_eq!(c.unwrap().stdout, "c-d\n");
    // Quoting: shell metacharacters inside the command reach the remote shell intact.
    let out = session
        .run("printf '%s\\n' \"$(echo 'it''s; $x')\"")
        .await
        .unwrap();
    assert_eq!(out.stdout, "its; $x\n");

    // A restarted host with a new key is refused with both fingerprints; the other host goes on.
    Session::connect(&two, &opts).await.unwrap();
    let old = session.fingerprint().to_string();
    drop((session, again));
    lab.restart_with_new_key("one");
    match Session::connect(&one, &opts).await {
        Err(SshError::HostKeyChanged { pinned, offered }) => {
            assert_eq!(pinned, old);
            assert_ne!(offered, old);
            assert!(offered.starts_with("SHA256:"));
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
    assert_eq!(
        Session::connect(&two, &opts)
            .await
            .unwrap()
            .run("hostname")
            .await
            .unwrap()
            .stdout,
        "two\n"
    );
    // The user's own known_hosts is honoured too: pinned there, trusted here.
    let user_file = dir.path().join("user_known_hosts");
    std::fs::rename(&known, &user_file).unwrap();
    let honour = ConnectOptions {
        accept_new: false,
        extra_known_hosts: vec![user_file],
        ..opts.clone()
    };
    Session::connect(&two, &honour).await.unwrap();
}

#[tokio::test]
async fn wrong_key_and_closed_port_and_sudo() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("box")
            .user(UserSpec::new("ops", Sudo::NoPassword))
            .user(UserSpec::new("dev", Sudo::WithPassword).password("s3cret-pw"))
            .user(UserSpec::new("nobody2", Sudo::None)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&lab, dir.path().join("known_hosts"));
    let addr = lab.host("box").address.clone();

    // A key the host does not know.
    let stranger = dir.path().join("stranger");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(st.success());
    let wrong = ConnectOptions {
        identity: Some(stranger),
        ..opts.clone()
    };
    assert!(matches!(
        Session::connect(&addr, &wrong).await,
        Err(SshError::AuthFailed(_))
    ));

    // Nothing listens on a free lab address.
    assert!(matches!(
        Session::connect(&lab.address(200), &opts).await,
        Err(SshError::PortClosed)
    ));

    // Passwordless sudo: commands run as root.
    let ops = ConnectOptions {
        user: "ops".into(),
        ..opts.clone()
    };
    let s = Session::connect(&addr, &ops).await.unwrap();
    assert_eq!(s.run("id -u").await.unwrap().stdout, "0\n");
    assert_eq!(
        s.exec_unprivileged("id -un", None, |_| {}).await.unwrap(),
        0
    );

    // sudo wanting a password: a clear refusal, then the password on stdin works.
    let dev = ConnectOptions {
        user: "dev".into(),
        ..opts.clone()
    };
    let err = Session::connect(&addr, &dev).await.unwrap_err();
    assert!(matches!(err, SshError::SudoNeedsPassword), "{err:?}");
    assert!(err.to_string().contains("sudo needs a password"));
    let with_pw = ConnectOptions {
        sudo_password: Some("s3cret-pw".into()),
        ..dev.clone()
    };
    let s = Session::connect(&addr, &with_pw).await.unwrap();
    let out = s.run("id -u; cat; ps -eo args").await.unwrap();
    assert!(out.stdout.starts_with("0\n"), "{out:?}");
    assert!(
        !out.stdout.contains("s3cret-pw"),
        "the password reaches neither stdin of the command nor any command line"
    );
    let mut got = Vec::new();
    s.exec("cat", Some(b"payload\n".to_vec()), |l| got.push(l))
        .await
        .unwrap();
    assert_eq!(got, [Line::Stdout("payload".into())]);
    let bad = ConnectOptions {
        sudo_password: Some("wrong".into()),
        ..dev
    };
    assert!(matches!(
        Session::connect(&addr, &bad).await,
        Err(SshError::SudoRefused(_))
    ));

    // No sudo rights at all.
    let none = ConnectOptions {
        user: "nobody2".into(),
        ..opts.clone()
    };
    assert!(matches!(
        Session::connect(&addr, &none).await,
        Err(SshError::SudoRefused(_) | SshError::SudoNeedsPassword)
    ));
}
