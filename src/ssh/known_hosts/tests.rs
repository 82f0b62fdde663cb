use super::*;

fn key(seed: u8) -> PublicKey {
    let private = russh::keys::PrivateKey::from(
        russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]),
    );
    private.public_key().clone()
}

/// Re-pinning a reinstalled host: its old pins go from rackstrap's own file only, other
/// hosts' (and the same address on another port) stay.
#[test]
fn forget_drops_one_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let known = KnownHosts {
        own: dir.path().join("known_hosts"),
        extra: vec![],
    };
    assert_eq!(known.forget("10.0.0.1", 22).unwrap(), 0, "no file yet");
    known.pin("10.0.0.1", 2222, &key(1)).unwrap();
    known.pin("10.0.0.1", 22, &key(2)).unwrap();
    known.pin("10.0.0.2", 2222, &key(3)).unwrap();
    assert_eq!(known.forget("10.0.0.1", 2222).unwrap(), 1);
    assert!(matches!(
        known.check("10.0.0.1", 2222, &key(4)),
        Verdict::Unknown { .. }
    ));
    assert_eq!(known.check("10.0.0.1", 22, &key(2)), Verdict::Trusted);
    assert_eq!(known.check("10.0.0.2", 2222, &key(3)), Verdict::Trusted);
}

#[test]
fn a_pin_on_a_full_disk_leaves_no_half_line() {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(dir.path())
        .status();
    if !ok.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot mount a tmpfs here");
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let known = KnownHosts {
        own: dir.path().join("known_hosts"),
        extra: Vec::new(),
    };
    // The file's last page has room for part of a line only; nothing else is free.
    let first = format!("# {}\n", "x".repeat(4096 - 40 - 3));
    std::fs::write(&known.own, &first).unwrap();
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(dir.path().join("filler")).unwrap();
        while filler
            .write_all(&[0u8; 4096])
            .and_then(|_| filler.sync_all())
            .is_ok()
        {}
    }
    assert!(
        known.pin("10.0.0.1", 22, &key(1)).is_err(),
        "the disk is full"
    );
    assert_eq!(std::fs::read_to_string(&known.own).unwrap(), first);
}

#[test]
fn pins_then_trusts_then_detects_change() {
    let dir = tempfile::tempdir().unwrap();
    let known = KnownHosts {
        own: dir.path().join("sub/known_hosts"),
        extra: vec![dir.path().join("missing")],
    };
    let (a, b) = (key(1), key(2));
    assert!(matches!(
        known.check("10.0.0.1", 22, &a),
        Verdict::Unknown { .. }
    ));
    known.pin("10.0.0.1", 22, &a).unwrap();
    known.pin("10.0.0.1", 22, &a).unwrap();
    let text = std::fs::read_to_string(&known.own).unwrap();
    assert_eq!(text.lines().count(), 1, "pinned once: {text}");
    assert!(text.starts_with("10.0.0.1 ssh-ed25519 "));
    assert_eq!(known.check("10.0.0.1", 22, &a), Verdict::Trusted);
    assert_eq!(
        known.check("10.0.0.1", 22, &b),
        Verdict::Changed {
            pinned: fingerprint(&a),
            offered: fingerprint(&b)
        }
    );
    // Another port is another host entry.
    assert!(matches!(
        known.check("10.0.0.1", 2222, &a),
        Verdict::Unknown { .. }
    ));
    known.pin("10.0.0.1", 2222, &b).unwrap();
    assert_eq!(
        known.openssh_lines("10.0.0.1", 2222),
        vec![format!("[10.0.0.1]:2222 {}", b.to_openssh().unwrap())]
    );
    assert!(known.openssh_lines("10.0.0.2", 22).is_empty());
    assert!(
        std::fs::read_to_string(&known.own)
            .unwrap()
            .contains("[10.0.0.1]:2222 ssh-ed25519")
    );
}

/// Patterns as sshd(8) describes them: wildcards, negation, case, hashed names; markers
/// and lines rackstrap does not understand.
#[test]
fn reads_lines_as_openssh_does() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("known_hosts");
    let (a, b, c) = (key(1), key(2), key(3));
    let hashed = {
        use russh::keys::ssh_encoding::base64::{Base64, Encoding};
        let salt = [7u8; 20];
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&k, b"[10.0.0.5]:2222");
        format!(
            "|1|{}|{}",
            Base64::encode_string(&salt),
            Base64::encode_string(tag.as_ref())
        )
    };
    let mut text = b"# caf\xe9\n\xff broken\n".to_vec();
    text.extend(
            format!(
                "10.0.0.*,!10.0.0.7 {}\n\t NODE9.lab\t{} comment\n{hashed} {}\n\
                 @revoked * {}\n@cert-authority *.lab {}\n@unknown x {}\nonly-two-fields ssh-ed25519\n\
                 10.0.0.8 ssh-ed25519 AAAAnotbase64\n",
                a.to_openssh().unwrap(),
                b.to_openssh().unwrap(),
                c.to_openssh().unwrap(),
                b.to_openssh().unwrap(),
                a.to_openssh().unwrap(),
                a.to_openssh().unwrap(),
            )
            .as_bytes(),
        );
    std::fs::write(&own, &text).unwrap();
    let known = KnownHosts { own, extra: vec![] };
    assert_eq!(known.check("10.0.0.1", 22, &a), Verdict::Trusted);
    assert!(matches!(
        known.check("10.0.0.7", 22, &a),
        Verdict::Unknown { .. }
    ));
    assert!(matches!(
        known.check("10.0.0.1", 2222, &a),
        Verdict::Unknown { .. }
    ));
    assert_eq!(known.check("10.0.0.5", 2222, &c), Verdict::Trusted);
    // b is pinned for node9 but revoked everywhere.
    assert!(matches!(
        known.check("node9.lab", 22, &b),
        Verdict::Revoked { ref at, .. } if at.ends_with(":6")
    ));
    assert!(known.recorded("node9.lab", 22).is_empty());
    assert!(known.openssh_lines("node9.lab", 22).is_empty());
    let notes = known.audit().unwrap();
    assert_eq!(notes.len(), 5, "{notes:#?}");
    for (note, want) in notes.iter().zip([
        ":2: not UTF-8 text",
        ":7: @cert-authority line not used",
        ":8: unknown marker `@unknown`",
        ":9: expected `hosts key-type base64-key`",
        ":10: not a public key",
    ]) {
        assert!(note.contains(want), "{note} lacks {want}");
    }
    // Forgetting the hashed host drops its line only; the rest stays byte for byte.
    assert_eq!(known.forget("10.0.0.5", 2222).unwrap(), 1);
    let after = std::fs::read(&known.own).unwrap();
    assert_eq!(
        after.len(),
        text.len() - (hashed.len() + 1 + c.to_openssh().unwrap().len() + 1)
    );
    assert!(after.starts_with(b"# caf\xe9\n\xff broken\n"));
    assert!(matches!(
        known.check("10.0.0.5", 2222, &c),
        Verdict::Unknown { .. }
    ));
}

#[test]
fn a_file_that_cannot_be_read_names_itself_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let known = KnownHosts {
        own: dir.path().join("own"),
        extra: vec![dir.path().to_path_buf()],
    };
    let e = known.audit().unwrap_err();
    assert_eq!(e.path, dir.path());
    assert_eq!(e.line, Some(1));
    assert!(matches!(
        known.check("10.0.0.1", 22, &key(1)),
        Verdict::Unreadable(_)
    ));
    assert!(
        known.pin("10.0.0.1", 22, &key(1)).is_ok(),
        "own file is fine"
    );
    let broken = KnownHosts {
        own: dir.path().to_path_buf(),
        extra: vec![],
    };
    assert!(broken.pin("10.0.0.1", 22, &key(1)).is_err());
    assert!(broken.forget("10.0.0.1", 22).is_err());
}

#[test]
fn honours_extra_files() {
    let dir = tempfile::tempdir().unwrap();
    let user_file = dir.path().join("user_known_hosts");
    let a = key(3);
    std::fs::write(
        &user_file,
        format!("# comment\nother,10.0.0.9 {}\n", a.to_openssh().unwrap()),
    )
    .unwrap();
    let known = KnownHosts {
        own: dir.path().join("own"),
        extra: vec![user_file],
    };
    assert_eq!(known.check("10.0.0.9", 22, &a), Verdict::Trusted);
    assert!(matches!(
        known.check("10.0.0.9", 22, &key(4)),
        Verdict::Changed { .. }
    ));
    assert_eq!(
        known.preferred_algorithms("10.0.0.9", 22)[0],
        russh::keys::Algorithm::Ed25519
    );
}
