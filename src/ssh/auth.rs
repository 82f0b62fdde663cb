//! Credentials: private keys from files (asking for a passphrase through a callback, once per
//! key per process), the ssh-agent, and the default key files OpenSSH would try.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use russh::keys::PrivateKey;
use tokio::sync::Mutex;

use super::SshError;

/// Asked for the passphrase of an encrypted key file; `None` means the operator declined.
/// The wizard answers it from a prompt, the CLI from the terminal.
pub type PassphraseCallback =
    Arc<dyn Fn(PathBuf) -> BoxFuture<'static, Option<String>> + Send + Sync>;

/// How many times the passphrase callback is asked before giving up on a key.
const PASSPHRASE_ATTEMPTS: usize = 3;

/// Keys already decrypted in this process, by path and file contents (a file replaced by
/// another key is loaded again): discovery opens hundreds of connections and must ask for a
/// passphrase once, not once per host. The lock is held while asking, so concurrent
/// connections wait for the one prompt instead of opening many.
type CacheKey = (PathBuf, String);
static KEY_CACHE: std::sync::LazyLock<Mutex<HashMap<CacheKey, Arc<PrivateKey>>>> =
    std::sync::LazyLock::new(|| Mutex::new(HashMap::new()));

/// The key files OpenSSH tries when no identity is given, in its order.
pub fn default_identities() -> Vec<PathBuf> {
    let Some(home) = std::env::home_dir() else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .filter(|p| p.is_file())
        .collect()
}

/// Load (and cache) a private key, asking `passphrase` when it is encrypted.
pub async fn load_key(
    path: &Path,
    passphrase: Option<&PassphraseCallback>,
) -> Result<Arc<PrivateKey>, SshError> {
    let key_error = |e: russh::keys::Error| SshError::Key {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| SshError::Key {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    let cache_key = (path.to_path_buf(), text);
    let mut cache = KEY_CACHE.lock().await;
    if let Some(key) = cache.get(&cache_key) {
        return Ok(key.clone());
    }
    let text = &cache_key.1;
    let key = match russh::keys::decode_secret_key(text, None) {
        Ok(key) => key,
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(ask) = passphrase else {
                return Err(SshError::Key {
                    path: path.to_path_buf(),
                    message: "the key is encrypted and no passphrase prompt is available".into(),
                });
            };
            let mut loaded = None;
            let mut declined = false;
            for _ in 0..PASSPHRASE_ATTEMPTS {
                let Some(secret) = ask(path.to_path_buf()).await else {
                    declined = true;
                    break;
                };
                match russh::keys::decode_secret_key(text, Some(&secret)) {
                    Ok(key) => {
                        loaded = Some(key);
                        break;
                    }
                    // Wrong passphrase: the decrypted key fails its check; ask again.
                    Err(_) => continue,
                }
            }
            loaded.ok_or_else(|| SshError::Key {
                path: path.to_path_buf(),
                message: if declined {
                    "the key is encrypted and its passphrase prompt was cancelled".into()
                } else {
                    "wrong passphrase".into()
                },
            })?
        }
        Err(e) => return Err(key_error(e)),
    };
    let key = Arc::new(key);
    cache.insert(cache_key, key.clone());
    Ok(key)
}

/// What a key file the operator named holds, found before any host is contacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    /// No file at that path.
    Missing,
    /// The file is there but cannot be read (permissions, a directory).
    Unreadable(String),
    /// Readable, but not a private key OpenSSH or rackstrap can use.
    NotAKey(String),
    /// A private key protected by a passphrase (asked once per session).
    Encrypted,
    /// A usable key: its algorithm and SHA256 fingerprint.
    Ready {
        algorithm: String,
        fingerprint: String,
    },
}

impl KeyCheck {
    /// Whether connecting with this file would fail before any host is asked.
    pub fn is_unusable(&self) -> bool {
        matches!(
            self,
            KeyCheck::Missing | KeyCheck::Unreadable(_) | KeyCheck::NotAKey(_)
        )
    }

    /// The check in words, for the line under the key field.
    pub fn describe(&self) -> String {
        match self {
            KeyCheck::Missing => "no such file".into(),
            KeyCheck::Unreadable(e) => format!("cannot be read: {e}"),
            KeyCheck::NotAKey(e) => format!("not a private key: {e}"),
            KeyCheck::Encrypted => "encrypted: its passphrase is asked once".into(),
            KeyCheck::Ready {
                algorithm,
                fingerprint,
            } => format!("{algorithm} key {fingerprint}"),
        }
    }
}

/// Reads `path` and says what it holds (never decrypts; see [`load_key`] for that).
pub fn inspect_key(path: &Path) -> KeyCheck {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return KeyCheck::Missing,
        Err(e) => return KeyCheck::Unreadable(e.to_string()),
    };
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => KeyCheck::Ready {
            algorithm: key.algorithm().to_string(),
            fingerprint: key
                .public_key()
                .fingerprint(russh::keys::HashAlg::Sha256)
                .to_string(),
        },
        Err(russh::keys::Error::KeyIsEncrypted) => KeyCheck::Encrypted,
        Err(e) => KeyCheck::NotAKey(e.to_string()),
    }
}

/// The identities the ssh-agent at `$SSH_AUTH_SOCK` holds, as "algorithm fingerprint comment";
/// empty when there is no agent.
pub async fn agent_identities() -> Vec<String> {
    let Ok(mut agent) = russh::keys::agent::client::AgentClient::connect_env().await else {
        return Vec::new();
    };
    agent
        .request_identities()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|identity| match identity {
            russh::keys::agent::AgentIdentity::PublicKey { key, comment } => Some(
                format!(
                    "{} {} {comment}",
                    key.algorithm(),
                    key.fingerprint(russh::keys::HashAlg::Sha256)
                )
                .trim_end()
                .to_string(),
            ),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod key_check_tests {
    use super::*;

    #[test]
    fn a_key_file_is_checked_for_what_it_holds() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(inspect_key(&dir.path().join("nope")), KeyCheck::Missing);
        assert!(matches!(inspect_key(dir.path()), KeyCheck::Unreadable(_)));
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "hello\n").expect("write");
        assert!(matches!(inspect_key(&junk), KeyCheck::NotAKey(_)));
        for (name, pass) in [("plain", ""), ("locked", "secret")] {
            let key = dir.path().join(name);
            let st = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", pass, "-f"])
                .arg(&key)
                .status()
                .expect("ssh-keygen");
            assert!(st.success());
        }
        match inspect_key(&dir.path().join("plain")) {
            KeyCheck::Ready {
                algorithm,
                fingerprint,
            } => {
                assert_eq!(algorithm, "ssh-ed25519");
                assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(inspect_key(&dir.path().join("locked")), KeyCheck::Encrypted);
        assert!(KeyCheck::Missing.is_unusable() && !KeyCheck::Encrypted.is_unusable());
    }
}
