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
