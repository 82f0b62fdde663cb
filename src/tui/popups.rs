//! The popups that sit over a screen (help, quit, save path, search, mount point, an SSH
//! key's passphrase, typed consent) and the keys they take. While one is open it gets every
//! key (`super::update::on_key` routes them here); closing it hands keys back to the screen.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use tui_input::Input;

use super::effects::{Action, Effect};
use super::model::Model;
use super::screens::provision::search_next;
use super::screens::storage::mount_message;
use super::secret::{Masked, Reply, Secret};
use super::text;
use super::update::{confirmed, handle_input};

#[derive(Debug, Clone)]
pub enum Popup {
    Help,
    /// Every finding of this screen in full, wrapped (the strip cuts them to one line each).
    Findings,
    Quit,
    SavePath(Input),
    Search(Input),
    Mount(Input),
    /// Node labels of the Roles screen's host, as `key=value, ...`.
    Labels(Input),
    /// An SSH task waits for an encrypted key's passphrase. `retry`: the last answer for this
    /// key did not open it.
    Passphrase {
        key: PathBuf,
        input: Masked,
        reply: Reply,
        retry: bool,
        /// The popup that was open when the request came; it comes back after the answer.
        behind: Option<Box<Popup>>,
    },
    /// The offer to prepare the Kubespray tree, then its progress and log (`super::prepare`).
    Prepare,
    /// A destructive action waits for the operator to type each host's name.
    Confirm {
        action: Action,
        hosts: Vec<String>,
        what: String,
        input: Input,
    },
}

pub(crate) fn on_popup_key(m: &mut Model, popup: Popup, key: KeyEvent) -> Option<Effect> {
    match popup {
        Popup::Help | Popup::Findings => None,
        Popup::Prepare => super::prepare::on_key(m, key),
        Popup::Quit => {
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Enter) {
                m.quit = true;
                if m.provision.running {
                    // As `a` does: what was running counts as failed in the summary.
                    return confirmed(m, Action::Abort);
                }
            }
            None
        }
        Popup::SavePath(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                // `~/` as in the key field and in a shell.
                let path = crate::paths::expand_home(i.value().trim());
                Some(Effect::SavePlan {
                    path,
                    plan: m.plan.clone(),
                })
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::SavePath(i));
                None
            }
        },
        Popup::Mount(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                let value = i.value().trim().to_string();
                match crate::plan::mount_problem(&value) {
                    // Refused here, with the reason, rather than at `a`: the same rule as
                    // `check` and the storage stage.
                    Some(problem) => {
                        m.storage.message = Some(mount_message(problem));
                        m.popup = Some(Popup::Mount(i));
                    }
                    None => {
                        m.storage.mount = i;
                        m.storage.message = None;
                    }
                }
                None
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::Mount(i));
                None
            }
        },
        Popup::Labels(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                // The core's label rule, refused here with the reason.
                match crate::plan::parse_labels(i.value()) {
                    Ok(labels) => {
                        if let Some(h) = m.plan.hosts.get_mut(m.roles_cursor.0) {
                            h.labels = labels;
                        }
                    }
                    Err(e) => {
                        m.status = Some(e);
                        m.popup = Some(Popup::Labels(i));
                    }
                }
                None
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::Labels(i));
                None
            }
        },
        Popup::Passphrase {
            key: path,
            input,
            reply,
            retry,
            behind,
        } => on_passphrase_key(m, path, input, reply, retry, behind, key),
        Popup::Search(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                m.provision.search = Some(i.value().to_string());
                search_next(m);
                None
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::Search(i));
                None
            }
        },
        Popup::Confirm {
            action,
            hosts,
            what,
            input,
        } => on_confirm_key(m, action, hosts, what, input, key),
    }
}

/// The passphrase popup: Enter answers the waiting task, Esc cancels; the popup that was
/// open before comes back.
fn on_passphrase_key(
    m: &mut Model,
    path: PathBuf,
    mut input: Masked,
    reply: Reply,
    retry: bool,
    behind: Option<Box<Popup>>,
    key: KeyEvent,
) -> Option<Effect> {
    match key.code {
        KeyCode::Esc => {
            m.popup = behind.map(|b| *b);
            Some(Effect::AnswerPassphrase {
                reply,
                passphrase: None,
            })
        }
        KeyCode::Enter => {
            m.passphrase_answered = Some(path);
            m.popup = behind.map(|b| *b);
            Some(Effect::AnswerPassphrase {
                reply,
                passphrase: Some(Secret(input.value().to_string())),
            })
        }
        _ => {
            handle_input(&mut input.0, key);
            m.popup = Some(Popup::Passphrase {
                key: path,
                input,
                reply,
                retry,
                behind,
            });
            None
        }
    }
}

/// Typed consent: each host's name in turn (or y/n when no host is asked for).
fn on_confirm_key(
    m: &mut Model,
    action: Action,
    mut hosts: Vec<String>,
    what: String,
    mut input: Input,
    key: KeyEvent,
) -> Option<Effect> {
    match key.code {
        KeyCode::Esc => None,
        KeyCode::Char('n') if hosts.is_empty() => None,
        KeyCode::Char('y') | KeyCode::Enter if hosts.is_empty() => confirmed(m, action),
        KeyCode::Enter => {
            if hosts.first().map(String::as_str) == Some(input.value().trim()) {
                m.provision.consent.push(hosts.remove(0));
                if hosts.is_empty() {
                    return confirmed(m, action);
                }
                input = Input::default();
            } else {
                m.status = Some(text::NAME_MISMATCH.into());
            }
            m.popup = Some(Popup::Confirm {
                action,
                hosts,
                what,
                input,
            });
            None
        }
        _ => {
            handle_input(&mut input, key);
            m.popup = Some(Popup::Confirm {
                action,
                hosts,
                what,
                input,
            });
            None
        }
    }
}
