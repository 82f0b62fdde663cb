//! Host key pinning in OpenSSH `known_hosts` format.
//!
//! rackstrap keeps its own file (`~/.config/rackstrap/known_hosts` by default) and also honours
//! the user's `~/.ssh/known_hosts`. A host is looked up as OpenSSH writes it: `addr` on port 22,
//! `[addr]:port` otherwise. Lines are read as sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" describes
//! them: comma-separated patterns with `*`, `?` and `!` negation, hashed `|1|salt|hash` names,
//! and the `@revoked` and `@cert-authority` markers. The verdict:
//!
//! - a line marks the offered key `@revoked` for the host: revoked, nothing runs (even when
//!   another line pins the same key, as OpenSSH's "REVOKED HOST KEY DETECTED");
//! - a recorded key equals the offered key: trusted;
//! - keys are recorded for the host but none equals the offered one: changed, nothing runs;
//! - nothing recorded: unknown; pinned into rackstrap's file only when the caller accepts new keys.
//!
//! A file that cannot be read (a directory, an I/O error, beyond [`MAX_FILE_BYTES`]) is an
//! error naming the file and line: pins silently switched off would make every host "unknown".
//! A line rackstrap does not understand (not UTF-8, too few fields, a key it cannot parse, an
//! unknown marker) is skipped alone; [`KnownHosts::audit`] lists those lines, and the
//! `@cert-authority` ones (rackstrap does not ask for host certificates), for a warning.
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

/// The largest known_hosts file read, in bytes. A line is about 100 bytes, so this is half a
/// million hosts; the bound keeps a file linked to `/dev/zero` from being read without end.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

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
    /// A `@revoked` line names the offered key for this host (`at` is `file:line`).
    Revoked {
        fingerprint: String,
        at: String,
    },
    /// A known_hosts file could not be read: no verdict, nothing runs.
    Unreadable(Unreadable),
}

/// A known_hosts file that could not be read, with the line the read stopped at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: cannot read: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct Unreadable {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// The marker a known_hosts line starts with, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// One line of a known_hosts file, split into its fields (the key not yet parsed).
enum Line<'a> {
    /// Empty or a comment.
    Blank,
    Entry {
        marker: Marker,
        hosts: &'a str,
        key_type: &'a str,
        key: &'a str,
    },
    /// Not a line rackstrap understands: why.
    Skipped(String),
}

fn split_line(bytes: &[u8]) -> Line<'_> {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    // A comment is a comment whatever its bytes (a Latin-1 `café` is common).
    if start == bytes.len() || bytes[start] == b'#' {
        return Line::Blank;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Line::Skipped("not UTF-8 text".into());
    };
    let mut fields = text.split_ascii_whitespace();
    let mut first = fields.next().unwrap_or_default();
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => {
            return Line::Skipped(format!("unknown marker `{}`", crate::text::printable(m)));
        }
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next().unwrap_or_default();
    }
    match (first, fields.next(), fields.next()) {
        (hosts, Some(key_type), Some(key)) if !hosts.is_empty() => Line::Entry {
            marker,
            hosts,
            key_type,
            key,
        },
        _ => Line::Skipped("expected `hosts key-type base64-key`".into()),
    }
}

fn parse_key(key_type: &str, key: &str) -> Result<PublicKey, String> {
    PublicKey::from_openssh(&format!("{key_type} {key}"))
        .map_err(|e| format!("not a public key: {e}"))
}

/// The lines of `path`, or none when it does not exist.
fn read_lines(path: &Path) -> Result<Vec<Vec<u8>>, Unreadable> {
    use std::io::Read;
    let unreadable = |line, message: String| Unreadable {
        path: path.to_path_buf(),
        line,
        message,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(None, e.to_string())),
    };
    let mut bytes = Vec::new();
    // On an error the bytes read so far stay in `bytes`: the line the read stopped at.
    if let Err(e) = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes) {
        let line = memchr::memchr_iter(b'\n', &bytes).count() + 1;
        return Err(unreadable(Some(line), e.to_string()));
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let line = memchr::memchr_iter(b'\n', &bytes).count();
        return Err(unreadable(
            Some(line),
            format!(
                "larger than {} MiB: not a known_hosts file",
                MAX_FILE_BYTES / 1024 / 1024
            ),
        ));
    }
    let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    Ok(lines)
}

/// `*` and `?` glob as OpenSSH's `match_pattern` (bytes, no escapes).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether a hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, host))` is `host`.
fn hashed_is(entry: &str, host: &str) -> bool {
    use russh::keys::ssh_encoding::base64::{Base64, Encoding};
    let mut parts = entry.strip_prefix("|1|").unwrap_or_default().split('|');
    let (Some(salt), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (Base64::decode_vec(salt), Base64::decode_vec(hash)) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, host.as_bytes(), &hash).is_ok()
}

/// Whether a line's host patterns take in `host` (as [`host_pattern`] writes it, lower
/// case): some pattern matches and no negated one does (OpenSSH's `match_hostname`).
fn hosts_match(patterns: &str, host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated.to_ascii_lowercase().as_bytes(), host.as_bytes()) {
                return false;
            }
        } else if pattern.starts_with("|1|") {
            matched |= hashed_is(pattern, host);
        } else {
            matched |= glob(pattern.to_ascii_lowercase().as_bytes(), host.as_bytes());
        }
    }
    matched
}

/// Whether a line names `host` itself (plainly or hashed), not through a wildcard: the lines
/// [`KnownHosts::forget`] drops.
fn names_host(patterns: &str, host: &str) -> bool {
    patterns.split(',').any(|p| {
        if p.starts_with("|1|") {
            hashed_is(p, host)
        } else {
            p.eq_ignore_ascii_case(host)
        }
    })
}

/// A key recorded for a host, with where it was read.
struct Recorded {
    marker: Marker,
    key: PublicKey,
    at: String,
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

    /// Every line of `path` that applies to `host:port` (markers included), in file order.
    /// Lines rackstrap does not understand are left out ([`KnownHosts::audit`] names them).
    fn lookup_in(path: &Path, host: &str, port: u16) -> Result<Vec<Recorded>, Unreadable> {
        let wanted = host_pattern(host, port).to_ascii_lowercase();
        let mut found = Vec::new();
        for (i, bytes) in read_lines(path)?.iter().enumerate() {
            if let Line::Entry {
                marker,
                hosts,
                key_type,
                key,
            } = split_line(bytes)
                && marker != Marker::CertAuthority
                && hosts_match(hosts, &wanted)
                && let Ok(key) = parse_key(key_type, key)
            {
                found.push(Recorded {
                    marker,
                    key,
                    at: format!("{}:{}", path.display(), i + 1),
                });
            }
        }
        Ok(found)
    }

    fn lookup(&self, host: &str, port: u16) -> Result<Vec<Recorded>, Unreadable> {
        let mut found = Vec::new();
        for path in self.files() {
            found.extend(Self::lookup_in(path, host, port)?);
        }
        Ok(found)
    }

    /// Reads every file once and says what rackstrap leaves out of them: `file:line: why` for
    /// each line skipped, and for each `@cert-authority` line. `Err` when a file cannot be
    /// read: callers stop there, before anything connects.
    pub fn audit(&self) -> Result<Vec<String>, Unreadable> {
        let mut notes = Vec::new();
        for path in self.files() {
            for (i, bytes) in read_lines(path)?.iter().enumerate() {
                let why = match split_line(bytes) {
                    Line::Blank => continue,
                    Line::Skipped(why) => why,
                    Line::Entry {
                        marker: Marker::CertAuthority,
                        ..
                    } => "@cert-authority line not used: rackstrap trusts a host by its own \
                          pinned key and does not ask for host certificates"
                        .into(),
                    Line::Entry { key_type, key, .. } => match parse_key(key_type, key) {
                        Ok(_) => continue,
                        Err(e) => e,
                    },
                };
                notes.push(format!("{}:{}: {why}; line skipped", path.display(), i + 1));
            }
        }
        Ok(notes)
    }

    /// Every key trusted for `host:port` in any file: recorded and not revoked. A file that
    /// cannot be read counts as recording nothing here; [`KnownHosts::check`] refuses then.
    pub fn recorded(&self, host: &str, port: u16) -> Vec<PublicKey> {
        let found = self.lookup(host, port).unwrap_or_default();
        trusted(&found).map(|r| r.key.clone()).collect()
    }

    pub fn check(&self, host: &str, port: u16, offered: &PublicKey) -> Verdict {
        let found = match self.lookup(host, port) {
            Ok(found) => found,
            Err(e) => return Verdict::Unreadable(e),
        };
        if let Some(revoked) = found
            .iter()
            .find(|r| r.marker == Marker::Revoked && r.key.key_data() == offered.key_data())
        {
            return Verdict::Revoked {
                fingerprint: fingerprint(offered),
                at: revoked.at.clone(),
            };
        }
        let recorded: Vec<&PublicKey> = trusted(&found).map(|r| &r.key).collect();
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
        // A concurrent connection may have pinned the same key meanwhile. A file that cannot
        // be read is not appended to.
        let already = Self::lookup_in(&self.own, host, port)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .iter()
            .any(|r| r.marker == Marker::None && r.key.key_data() == key.key_data());
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
    /// read-only): the lines naming it, plainly or hashed (`ssh-keygen -H`). Marked lines
    /// (`@revoked` stays revoked), wildcard patterns and lines rackstrap does not understand
    /// stay byte for byte. The first step of re-pinning a reinstalled host, after the operator
    /// confirmed its new key; returns how many lines went.
    pub fn forget(&self, host: &str, port: u16) -> std::io::Result<usize> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let _guard = PIN_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let lines = read_lines(&self.own).map_err(|e| std::io::Error::other(e.to_string()))?;
        let pattern = host_pattern(host, port).to_ascii_lowercase();
        let mut kept = Vec::new();
        let mut dropped = 0;
        for bytes in &lines {
            let names = matches!(
                split_line(bytes),
                Line::Entry { marker: Marker::None, hosts, .. } if names_host(hosts, &pattern)
            );
            if names {
                dropped += 1;
            } else {
                kept.extend_from_slice(bytes);
                kept.push(b'\n');
            }
        }
        if dropped > 0 {
            let dir = match self.own.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let mode = std::fs::metadata(&self.own)?.permissions().mode() & 0o7777 & !0o022;
            let mut tmp = tempfile::Builder::new()
                .prefix(".known_hosts-")
                .tempfile_in(dir)?;
            tmp.write_all(&kept)?;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
            tmp.as_file().sync_all()?;
            tmp.persist(&self.own).map_err(|e| e.error)?;
        }
        Ok(dropped)
    }

    /// The keys recorded for `host:port` as OpenSSH `known_hosts` lines (hashed entries come
    /// out in plain form), for handing rackstrap's pins to OpenSSH itself (Ansible). Keys
    /// revoked for the host follow as `@revoked` lines, so OpenSSH refuses them too.
    pub fn openssh_lines(&self, host: &str, port: u16) -> Vec<String> {
        let found = self.lookup(host, port).unwrap_or_default();
        let pattern = host_pattern(host, port);
        let mut lines: Vec<String> = Vec::new();
        for key in trusted(&found).map(|r| &r.key) {
            if let Ok(text) = key.to_openssh() {
                let line = format!("{pattern} {text}");
                if !lines.contains(&line) {
                    lines.push(line);
                }
            }
        }
        if lines.is_empty() {
            return lines;
        }
        for r in found.iter().filter(|r| r.marker == Marker::Revoked) {
            if let Ok(text) = r.key.to_openssh() {
                let line = format!("@revoked {pattern} {text}");
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

/// The plain (unmarked) lines whose key no `@revoked` line among `found` revokes.
fn trusted(found: &[Recorded]) -> impl Iterator<Item = &Recorded> {
    found.iter().filter(|r| {
        r.marker == Marker::None
            && !found
                .iter()
                .any(|o| o.marker == Marker::Revoked && o.key.key_data() == r.key.key_data())
    })
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
mod tests;
