//! Host key pinning in OpenSSH `known_hosts` format.
//!
//! rackstrap keeps its own file (`~/.config/rackstrap/known_hosts` by default) and also honours
//! the user's `~/.ssh/known_hosts`. A host is looked up as OpenSSH writes it: `addr` on port 22,
//! `[addr]:port` otherwise (hashed `|1|` entries match too). The verdict:
//!
//! - a recorded key equals the offered key: trusted;
//! - keys are recorded for the host but none equals the offered one: changed, nothing runs;
//! - nothing recorded: unknown; pinned into rackstrap's file only when the caller accepts new keys.
//!
//! "Changed" also covers a host that used to offer an ed25519 key and now offers only an RSA
//! one: the connection asks for the pinned algorithms first (see `preferred_algorithms`), so a
//! host that still has its old key always gets the chance to present it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use russh::keys::{HashAlg, PublicKey};

/// Serialises appends to the known_hosts file within this process: discovery pins many hosts
/// concurrently and interleaved writes would corrupt lines.
static PIN_LOCK: Mutex<()> = Mutex::new(());

/// `SHA256:...` as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// What the known_hosts files say about an offered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Trusted,
    /// Keys are pinned for this host but not the offered one.
    Changed {
        pinned: String,
        offered: String,
    },
    Unknown {
        fingerprint: String,
    },
}

/// The known_hosts files to consult: rackstrap's own (also the one new keys are pinned into),
/// then extra read-only ones such as `~/.ssh/known_hosts`.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    pub own: PathBuf,
    pub extra: Vec<PathBuf>,
}

impl KnownHosts {
    fn files(&self) -> impl Iterator<Item = &Path> {
        std::iter::once(self.own.as_path()).chain(self.extra.iter().map(PathBuf::as_path))
    }

    /// Every key recorded for `host:port` in any file. Unreadable or malformed files count as
    /// empty for that file: a broken `~/.ssh/known_hosts` must not block rackstrap's own pins.
    pub fn recorded(&self, host: &str, port: u16) -> Vec<PublicKey> {
        self.files()
            .flat_map(|path| {
                russh::keys::known_hosts::known_host_keys_path(host, port, path)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, key)| key)
            })
            .collect()
    }

    pub fn check(&self, host: &str, port: u16, offered: &PublicKey) -> Verdict {
        let recorded = self.recorded(host, port);
        if recorded.iter().any(|k| k.key_data() == offered.key_data()) {
            return Verdict::Trusted;
        }
        // Prefer reporting a pinned key of the same algorithm: that is the one that changed.
        let pinned = recorded
            .iter()
            .find(|k| k.algorithm() == offered.algorithm())
            .or(recorded.first());
        match pinned {
            Some(pinned) => Verdict::Changed {
                pinned: fingerprint(pinned),
                offered: fingerprint(offered),
            },
            None => Verdict::Unknown {
                fingerprint: fingerprint(offered),
            },
        }
    }

    /// Append `host:port key` to rackstrap's own file (created with its directory).
    pub fn pin(&self, host: &str, port: u16, key: &PublicKey) -> Result<(), russh::keys::Error> {
        let _guard = PIN_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A concurrent connection may have pinned the same key meanwhile.
        let already = russh::keys::known_hosts::known_host_keys_path(host, port, &self.own)
            .unwrap_or_default()
            .iter()
            .any(|(_, k)| k.key_data() == key.key_data());
        if already {
            return Ok(());
        }
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        if let Some(parent) = self.own.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)?;
        }
        let existing = std::fs::read(&self.own).unwrap_or_default();
        let mut line = String::new();
        if existing.last().is_some_and(|&b| b != b'\n') {
            line.push('\n');
        }
        line.push_str(&host_pattern(host, port));
        line.push(' ');
        line.push_str(&key.to_openssh()?);
        line.push('\n');
        use std::io::Write;
        let created = !self.own.exists();
        // One write of one line with O_APPEND: a process killed while pinning leaves the file
        // as it was or with the whole line, and pins of other processes are never lost.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o644)
            .open(&self.own)?;
        // Host key pins that anyone can rewrite are no pins. A new file is 0644 whatever the
        // umask (as OpenSSH's own); an existing one loses group and other write, and keeps
        // whatever stricter mode its owner chose.
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        let wanted = if created { 0o644 } else { mode & !0o022 };
        if mode != wanted {
            file.set_permissions(std::fs::Permissions::from_mode(wanted))?;
        }
        // A full disk can take part of the line: what was written of it goes again, so the
        // file never ends in half a pin.
        let before = file.metadata()?.len();
        if let Err(e) = file.write_all(line.as_bytes()) {
            let _ = file.set_len(before);
            return Err(e.into());
        }
        Ok(())
    }

    /// Drops every key pinned for `host:port` from rackstrap's own file (the other files are
    /// read-only). The first step of re-pinning a reinstalled host, after the operator
    /// confirmed its new key; returns how many lines went.
    pub fn forget(&self, host: &str, port: u16) -> std::io::Result<usize> {
        let _guard = PIN_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let text = match std::fs::read_to_string(&self.own) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let pattern = host_pattern(host, port);
        let mut kept = String::new();
        let mut dropped = 0;
        for line in text.lines() {
            let hosts = line.split_whitespace().next().unwrap_or("");
            if hosts.split(',').any(|h| h == pattern) {
                dropped += 1;
            } else {
                kept.push_str(line);
                kept.push('\n');
            }
        }
        if dropped > 0 {
            let tmp = self.own.with_extension("rackstrap-tmp");
            std::fs::write(&tmp, kept)?;
            std::fs::rename(&tmp, &self.own)?;
        }
        Ok(dropped)
    }

    /// The keys recorded for `host:port` as OpenSSH `known_hosts` lines (hashed entries come
    /// out in plain form), for handing rackstrap's pins to OpenSSH itself (Ansible).
    pub fn openssh_lines(&self, host: &str, port: u16) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for key in self.recorded(host, port) {
            if let Ok(text) = key.to_openssh() {
                let line = format!("{} {text}", host_pattern(host, port));
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
        }
        lines
    }

    /// Host key algorithms to ask for: the ones already pinned for this host first, so that a
    /// host keeping its old key presents it (OpenSSH's client does the same).
    pub fn preferred_algorithms(&self, host: &str, port: u16) -> Vec<russh::keys::Algorithm> {
        let defaults = russh::Preferred::default().key.to_vec();
        let mut pinned: Vec<russh::keys::Algorithm> = Vec::new();
        for key in self.recorded(host, port) {
            let algorithm = key.algorithm();
            if algorithm.clone().is_rsa() {
                // An RSA key is offered under its SHA-2 signature names.
                for a in defaults.iter().filter(|a| (*a).clone().is_rsa()) {
                    if !pinned.contains(a) {
                        pinned.push(a.clone());
                    }
                }
            } else if !pinned.contains(&algorithm) {
                pinned.push(algorithm);
            }
        }
        let rest: Vec<_> = defaults
            .into_iter()
            .filter(|a| !pinned.contains(a))
            .collect();
        pinned.extend(rest);
        pinned
    }
}

/// How OpenSSH names a host in `known_hosts`: `addr` on port 22, `[addr]:port` otherwise.
pub fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

#[cfg(test)]
mod tests {
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
}
