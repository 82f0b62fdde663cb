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

    // A fingerprint the operator confirmed is pinned; another one is not.
    let fp = match Session::connect(&two, &strict).await {
        Err(SshError::UnknownHostKey { fingerprint }) => fingerprint,
        other => panic!("expected UnknownHostKey, got {other:?}"),
    };
    let confirmed = ConnectOptions {
        accepted_fingerprints: vec![fp.clone()],
        ..strict.clone()
    };
    assert!(matches!(
        Session::connect(&one, &confirmed).await,
        Err(SshError::UnknownHostKey { .. })
    ));
    let s = Session::connect(&two, &confirmed).await.unwrap();
    assert!(s.newly_pinned());
    assert_eq!(s.fingerprint(), fp);
    std::fs::remove_file(&known).unwrap();

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
    // Say what came back instead, so a rare failure under load can be told apart.
    let result = Session::connect(&addr, &wrong).await.map(|_| ());
    assert!(matches!(result, Err(SshError::AuthFailed(_))), "{result:?}");

    // Something accepts but never speaks SSH.
    let silent = tokio::net::TcpListener::bind((lab.address(201).as_str(), common::lab::LAB_PORT))
        .await
        .unwrap();
    let holder = tokio::spawn(async move {
        let held = silent.accept().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(held);
    });
    let quick = ConnectOptions {
        connect_timeout: Duration::from_millis(800),
        ..opts.clone()
    };
    match Session::connect(&lab.address(201), &quick).await {
        Err(SshError::NotSsh(message)) => assert!(message.contains("no SSH greeting"), "{message}"),
        other => panic!("expected NotSsh, got {other:?}"),
    }
    holder.abort();

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

#[tokio::test]
async fn passphrase_agent_and_key_install() {
    require_lab!();
    let lab = Lab::start(vec![
        HostSpec::new("vault").user(
            UserSpec::new("newbie", Sudo::NoPassword)
                .password("first-login")
                .unauthorized(),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&lab, dir.path().join("known_hosts"));
    let addr = lab.host("vault").address.clone();

    // An encrypted key authorised for root: the callback is asked, a wrong answer asks again,
    // and a second connection reuses the decrypted key without asking.
    let locked = dir.path().join("locked");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-N", "open sesame", "-f"])
            .arg(&locked)
            .status()
            .unwrap()
            .success()
    );
    let public = std::fs::read_to_string(locked.with_extension("pub")).unwrap();
    let authorized = lab.host("vault").dir.join("authorized_keys/root");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&public);
    std::fs::write(&authorized, keys).unwrap();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let callback: rackstrap::ssh::PassphraseCallback = std::sync::Arc::new(move |path| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        assert!(path.ends_with("locked"));
        Box::pin(async move {
            Some(if n == 0 {
                "wrong".to_string()
            } else {
                "open sesame".to_string()
            })
        })
    });
    let with_passphrase = ConnectOptions {
        identity: Some(locked.clone()),
        passphrase: Some(callback),
        ..opts.clone()
    };
    Session::connect(&addr, &with_passphrase).await.unwrap();
    Session::connect(&addr, &with_passphrase).await.unwrap();
    assert_eq!(
        asked.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "asked twice (one wrong answer), then cached"
    );
    // Without a callback an encrypted key is a clear error naming the file.
    let other = dir.path().join("locked2");
    std::fs::copy(&locked, &other).unwrap();
    let no_prompt = ConnectOptions {
        identity: Some(other.clone()),
        ..opts.clone()
    };
    match Session::connect(&addr, &no_prompt).await {
        Err(SshError::Key { path, message }) => {
            assert_eq!(path, other);
            assert!(message.contains("encrypted"), "{message}");
        }
        other => panic!("expected a key error, got {other:?}"),
    }
    assert!(public.starts_with("ecdsa-sha2-nistp256 "));

    // An RSA key (signed with SHA-2, as OpenSSH requires).
    let rsa = dir.path().join("rsa");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
            .arg(&rsa)
            .status()
            .unwrap()
            .success()
    );
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&std::fs::read_to_string(rsa.with_extension("pub")).unwrap());
    std::fs::write(&authorized, keys).unwrap();
    let with_rsa = ConnectOptions {
        identity: Some(rsa),
        ..opts.clone()
    };
    assert_eq!(
        Session::connect(&addr, &with_rsa)
            .await
            .unwrap()
            .run("hostname")
            .await
            .unwrap()
            .stdout,
        "vault\n"
    );

    // ssh-agent holding the lab key.
    let socket = dir.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(lab.key_path())
        .env("SSH_AUTH_SOCK", &socket)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let via_agent = ConnectOptions {
        identity: None,
        use_agent: true,
        agent_socket: Some(socket.clone()),
        ..opts.clone()
    };
    let s = Session::connect(&addr, &via_agent).await.unwrap();
    assert_eq!(s.run("hostname").await.unwrap().stdout, "vault\n");
    let _ = agent.kill();
    let _ = agent.wait();

    // The ssh-copy-id step: a password login installs the key once, with sshd's permissions.
    let newbie = ConnectOptions {
        user: "newbie".into(),
        ..opts.clone()
    };
    assert!(matches!(
        Session::connect(&addr, &newbie).await,
        Err(SshError::AuthFailed(_))
    ));
    let wrong =
        rackstrap::ssh::install_public_key(&addr, &newbie, "not-it", &lab.public_key()).await;
    assert!(matches!(wrong, Err(SshError::AuthFailed(_))), "{wrong:?}");
    for _ in 0..2 {
        rackstrap::ssh::install_public_key(&addr, &newbie, "first-login", &lab.public_key())
            .await
            .unwrap();
    }
    let s = Session::connect(&addr, &newbie).await.unwrap();
    assert_eq!(s.run("id -u").await.unwrap().stdout, "0\n");
    let home = lab.host("vault").dir.join("home/newbie");
    let keys = std::fs::read_to_string(home.join(".ssh/authorized_keys")).unwrap();
    assert_eq!(
        keys.matches(lab.public_key().trim()).count(),
        1,
        "appended once: {keys}"
    );
    let modes = lab.exec_ok(
        "vault",
        &format!(
            "stat -c %a {0}/.ssh {0}/.ssh/authorized_keys",
            home.display()
        ),
    );
    assert_eq!(modes, "700\n600\n");
    let owner = lab.exec_ok(
        "vault",
        &format!("stat -c %U {}/.ssh/authorized_keys", home.display()),
    );
    assert_eq!(owner, "newbie\n");
}

#[tokio::test]
async fn signals_and_lost_hosts_end_commands() {
    require_lab!();
    let mut lab = Lab::start(vec![HostSpec::new("flaky")]);
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&lab, dir.path().join("known_hosts"));
    let s = Session::connect(&lab.host("flaky").address, &opts)
        .await
        .unwrap();
    assert!(matches!(
        s.run("kill -9 $$").await,
        Err(SshError::Signalled(_))
    ));
    let running = tokio::spawn({
        let s = s.clone();
        async move { s.run("echo started; sleep 30").await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    lab.kill("flaky");
    let ended = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("exec returns when the host dies")
        .unwrap();
    assert!(matches!(ended, Err(SshError::Disconnected(_))), "{ended:?}");
    lab.restart("flaky");
    // Dropped sessions release their sockets.
    let fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let before = fds();
    let sessions: Vec<Session> = futures::future::join_all(
        (0..20).map(|_| Session::connect(&lab.host("flaky").address, &opts)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert!(fds() >= before + 20);
    drop(sessions);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fds() > before + 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(fds() <= before + 2, "{before} -> {}", fds());
    let again = Session::connect(&lab.host("flaky").address, &opts)
        .await
        .unwrap();
    assert_eq!(again.run("hostname").await.unwrap().stdout, "flaky\n");
}
