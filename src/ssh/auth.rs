//! Credentials: private keys from files (asking for a passphrase through a callback, once per
//! key per process), the ssh-agent, and the default key files OpenSSH would try.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use russh::keys::PrivateKey;
use tokio::sync::Mutex;

use russh::client;

use super::exec::quote;
use super::{Client, ConnectOptions, Credential, Line, Session, SshError};

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

/// Authenticates `handle` with keys: the identity file, or the ssh-agent's keys then the
/// default key files.
pub(super) async fn authenticate_with_keys(
    handle: &mut client::Handle<Client>,
    opts: &ConnectOptions,
) -> Result<(), SshError> {
    let lost = |e: russh::Error| SshError::Disconnected(e.to_string());
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    let mut tried = Vec::new();

    let files = match &opts.identity {
        Some(path) => vec![path.clone()],
        None => {
            let agent = match (&opts.use_agent, &opts.agent_socket) {
                (false, _) => None,
                (true, Some(socket)) => {
                    russh::keys::agent::client::AgentClient::connect_uds(socket)
                        .await
                        .ok()
                }
                (true, None) => russh::keys::agent::client::AgentClient::connect_env()
                    .await
                    .ok(),
            };
            if let Some(mut agent) = agent {
                let identities = agent.request_identities().await.unwrap_or_default();
                for identity in identities {
                    let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = identity else {
                        continue;
                    };
                    let hash = if key.algorithm().is_rsa() {
                        rsa_hash
                    } else {
                        None
                    };
                    match handle
                        .authenticate_publickey_with(opts.user.clone(), key, hash, &mut agent)
                        .await
                    {
                        Ok(result) if result.success() => return Ok(()),
                        _ => {}
                    }
                }
                tried.push("ssh-agent".to_string());
            }
            default_identities()
        }
    };
    if files.is_empty() && tried.is_empty() {
        return Err(SshError::AuthFailed(
            "no key to offer: give an identity file or start ssh-agent".into(),
        ));
    }
    let explicit = opts.identity.is_some();
    for path in files {
        let key = match load_key(&path, opts.passphrase.as_ref()).await {
            Ok(key) => key,
            // A key the operator named must load; a default key that does not is skipped.
            Err(e) if explicit => return Err(e),
            Err(_) => continue,
        };
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        let result = handle
            .authenticate_publickey(
                opts.user.clone(),
                russh::keys::PrivateKeyWithHashAlg::new(key, hash),
            )
            .await
            .map_err(lost)?;
        if result.success() {
            return Ok(());
        }
        tried.push(path.display().to_string());
    }
    Err(SshError::AuthFailed(format!(
        "{} refused {}",
        opts.user,
        if tried.is_empty() {
            "every key".to_string()
        } else {
            tried.join(", ")
        }
    )))
}

/// The `ssh-copy-id` step: log in with a password once and append `public_key` (one line of
/// an `.pub` file) to the user's `~/.ssh/authorized_keys`, unless it is already there, with
/// the permissions sshd requires (700 on `~/.ssh`, 600 on the file). Host key pinning applies
/// as for any connection. The password is used for this login only and kept nowhere.
pub async fn install_public_key(
    address: &str,
    opts: &ConnectOptions,
    password: &str,
    public_key: &str,
) -> Result<(), SshError> {
    let line = public_key.trim();
    if line.is_empty() || line.contains('\n') {
        return Err(SshError::Key {
            path: PathBuf::from("<public key>"),
            message: "expected exactly one public key line".into(),
        });
    }
    let session = Session::open(address, opts, Credential::Password(password), false).await?;
    // The key travels on stdin so that it is data, never part of the command.
    let script = r#"set -e
umask 077
key=$(cat)
mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
touch "$HOME/.ssh/authorized_keys"
chmod 600 "$HOME/.ssh/authorized_keys"
if ! grep -qxF -- "$key" "$HOME/.ssh/authorized_keys"; then
  if [ -s "$HOME/.ssh/authorized_keys" ] && [ "$(tail -c1 "$HOME/.ssh/authorized_keys" | od -An -c | tr -d ' ')" != '\n' ]; then
    echo >> "$HOME/.ssh/authorized_keys"
  fi
  printf '%s\n' "$key" >> "$HOME/.ssh/authorized_keys"
fi"#;
    let mut stderr = String::new();
    let status = session
        .exec_unprivileged(
            &format!("sh -c {}", quote(script)),
            Some(format!("{line}\n").into_bytes()),
            |l| {
                if let Line::Stderr(l) = l {
                    stderr.push_str(&l);
                }
            },
        )
        .await?;
    session.close().await;
    if status != 0 {
        return Err(SshError::Io(std::io::Error::other(format!(
            "installing the key failed ({status}): {stderr}"
        ))));
    }
    Ok(())
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
