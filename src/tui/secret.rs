//! Secrets the operator types into the wizard: the sudo password on Access and an encrypted
//! key's passphrase asked while connecting. They never reach the plan, the state files or a
//! log, and `Debug` never shows them (the model is `Debug`).
//!
//! ```text
//!  SSH task ─► PassphraseCallback ─► Msg::PassphraseNeeded { key, reply } ─► update ─► Popup::Passphrase
//!      ▲                                                                                  │ Enter / Esc
//!      └─────────────────────── oneshot ◄── Reply::answer(Some(secret) / None) ◄──────────┘
//! ```

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tui_input::Input;

use super::model::Msg;
use crate::ssh::PassphraseCallback;

/// A text field whose value is a secret: drawn as `•`, hidden from `Debug`.
#[derive(Clone, Default)]
pub struct Masked(pub Input);

impl Masked {
    pub fn value(&self) -> &str {
        self.0.value()
    }

    /// What the screen shows: one `•` per character typed.
    pub fn shown(&self) -> String {
        "•".repeat(self.0.value().chars().count())
    }

    /// The value, or `None` when nothing was typed.
    pub fn secret(&self) -> Option<Secret> {
        (!self.0.value().is_empty()).then(|| Secret(self.0.value().to_string()))
    }
}

impl std::fmt::Debug for Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masked(<hidden>)")
    }
}

/// A secret on its way to the SSH layer inside an `Effect`: compared and cloned like any
/// value, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// The answer channel of one passphrase prompt; the SSH task waits on the other end.
/// Messages and the model are `Clone`, so the sender is shared: the first answer takes it,
/// later ones do nothing. Dropped without an answer, the task sees a cancelled prompt.
#[derive(Clone)]
pub struct Reply(Arc<Mutex<Option<oneshot::Sender<Option<String>>>>>);

impl Reply {
    pub fn new() -> (Reply, oneshot::Receiver<Option<String>>) {
        let (tx, rx) = oneshot::channel();
        (Reply(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    /// Sends the passphrase (`None`: the operator cancelled).
    pub fn answer(&self, passphrase: Option<String>) {
        let sender = match self.0.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(tx) = sender {
            // The task may have given up (scan restarted); nobody to tell then.
            let _ = tx.send(passphrase);
        }
    }
}

/// The same prompt (effects are compared in tests).
impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reply")
    }
}

/// The SSH layer's passphrase callback for the wizard: each call becomes a
/// `Msg::PassphraseNeeded` and waits for the popup's answer. Once the operator cancels, later
/// calls from the same scan or run get `None` at once, so a scan of many hosts with the same
/// key asks once, not once per host.
pub fn passphrase_callback(tx: UnboundedSender<Msg>) -> PassphraseCallback {
    let declined = Arc::new(std::sync::atomic::AtomicBool::new(false));
    Arc::new(move |key: PathBuf| {
        let tx = tx.clone();
        let declined = declined.clone();
        Box::pin(async move {
            use std::sync::atomic::Ordering;
            if declined.load(Ordering::SeqCst) {
                return None;
            }
            let (reply, rx) = Reply::new();
            tx.send(Msg::PassphraseNeeded { key, reply }).ok()?;
            let answer = rx.await.ok().flatten();
            if answer.is_none() {
                declined.store(true, Ordering::SeqCst);
            }
            answer
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let masked = Masked(Input::new("hunter2".into()));
        assert_eq!(masked.shown(), "•••••••");
        assert!(!format!("{masked:?}").contains("hunter2"));
        let secret = masked.secret().map(|s| format!("{s:?}"));
        assert_eq!(secret.as_deref(), Some("Secret(<hidden>)"));
        assert_eq!(Masked::default().secret(), None);
    }

    #[tokio::test]
    async fn the_callback_asks_through_a_message_and_a_cancel_is_remembered() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ask = passphrase_callback(tx);
        let first = tokio::spawn(ask(PathBuf::from("/k")));
        let Some(Msg::PassphraseNeeded { key, reply }) = rx.recv().await else {
            panic!("expected a passphrase request");
        };
        assert_eq!(key, PathBuf::from("/k"));
        reply.answer(Some("pw".into()));
        reply.answer(Some("ignored".into()));
        assert_eq!(first.await.unwrap().as_deref(), Some("pw"));

        let second = tokio::spawn(ask(PathBuf::from("/k")));
        let Some(Msg::PassphraseNeeded { reply, .. }) = rx.recv().await else {
            panic!("expected a passphrase request");
        };
        reply.answer(None);
        assert_eq!(second.await.unwrap(), None);
        // Cancelled once: not asked again.
        assert_eq!(ask(PathBuf::from("/k")).await, None);
        assert!(rx.try_recv().is_err());
    }
}
