//! The live backend's SSH side: the session's credentials on the core's connect options,
//! the runner's options for a wizard run, discovery over SSH and the key file check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::super::model::Msg;
use super::super::secret::{Secret, passphrase_callback};
use crate::plan::Access;
use crate::provision::{Selection, StageId};

/// What the wizard gives the SSH layer besides the plan's access settings; held in memory
/// only.
pub struct Credentials {
    pub sudo_password: Option<Secret>,
    pub passphrase: Option<crate::ssh::PassphraseCallback>,
}

impl Credentials {
    fn apply(self, opts: &mut crate::ssh::ConnectOptions) {
        opts.sudo_password = self.sudo_password.map(|s| s.0);
        opts.passphrase = self.passphrase;
    }
}

/// The SSH options a live run starts from (the connector sets the plan's user, port and key
/// per host): the core's [`connect_options`](crate::provision::remote::connect_options) and
/// the session's credentials.
pub fn run_connect_options(
    access: &Access,
    known_hosts: Option<PathBuf>,
    credentials: Credentials,
) -> crate::ssh::ConnectOptions {
    let mut base = crate::provision::remote::connect_options(access, known_hosts.as_deref());
    credentials.apply(&mut base);
    base
}

/// The provisioning runner's options for a run started from the wizard: SSH from `base`
/// ([`run_connect_options`]), the chosen stages from `from` on, on the chosen hosts (`hosts`
/// only, when given), state and logs next to the saved plan, consent for the hosts whose
/// names were typed.
pub(super) fn live_run_options(
    from: StageId,
    hosts: Vec<String>,
    selection: &Selection,
    consent: Vec<String>,
    plan_path: Option<PathBuf>,
    facts: crate::facts::Facts,
    base: crate::ssh::ConnectOptions,
) -> crate::provision::runner::RunOptions {
    use crate::provision::runner::{Consent, RunOptions};
    let connector = Arc::new(crate::provision::remote::SshConnector { base });
    let mut opts = RunOptions::new(connector);
    selection.apply(&mut opts, from, &hosts);
    opts.consent = Consent::Hosts(consent.into_iter().collect());
    opts.state_dir = plan_path.as_deref().map(crate::provision::state::state_dir);
    opts.facts = (!facts.is_empty()).then_some(facts);
    opts
}

/// Discovery over SSH with the plan's access settings. Keys come from the identity file or
/// the ssh-agent; an encrypted key's passphrase is asked through the wizard's popup; the
/// sudo password, if given, only goes to the SSH layer.
pub(super) async fn live_discover(
    targets: String,
    access: Access,
    sudo_password: Option<Secret>,
    accept: Vec<String>,
    known_hosts: Option<PathBuf>,
    facts_timeout: Option<Duration>,
    tx: UnboundedSender<Msg>,
) {
    let list = match crate::discover::parse_targets(&targets, false) {
        Ok(list) => list,
        Err(e) => {
            let _ = tx.send(Msg::DiscoveryFailed(e.to_string()));
            return;
        }
    };
    let credentials = Credentials {
        sudo_password,
        passphrase: Some(passphrase_callback(tx.clone())),
    };
    let opts = discover_options(&access, credentials, accept, known_hosts);
    let (dtx, mut drx) = unbounded_channel();
    let scan = tokio::spawn(crate::discover::discover_within(
        list,
        opts,
        crate::discover::DEFAULT_CONCURRENCY,
        facts_timeout.unwrap_or_else(crate::discover::facts_timeout),
        dtx,
    ));
    while let Some(d) = drx.recv().await {
        let _ = tx.send(Msg::Discovered(d));
    }
    let _ = scan.await;
    let _ = tx.send(Msg::DiscoveryDone);
}

/// The SSH options of a wizard scan: the core's
/// [`connect_options`](crate::provision::remote::connect_options), the session's
/// credentials, the fingerprints the operator accepted.
pub fn discover_options(
    access: &Access,
    credentials: Credentials,
    accept: Vec<String>,
    known_hosts: Option<PathBuf>,
) -> crate::ssh::ConnectOptions {
    let mut opts = crate::provision::remote::connect_options(access, known_hosts.as_deref());
    credentials.apply(&mut opts);
    opts.accepted_fingerprints = accept;
    opts
}

/// Says what the key file at `file` holds; an encrypted key is then unlocked through the
/// passphrase popup and stays loaded for the session (`ssh::auth`'s key cache), so discovery
/// does not ask again.
pub(super) async fn check_key(path: String, file: PathBuf, tx: UnboundedSender<Msg>) {
    use crate::ssh::auth::{KeyCheck, inspect_key, load_key};
    let found = {
        let file = file.clone();
        tokio::task::spawn_blocking(move || inspect_key(&file))
            .await
            .unwrap_or_else(|e| KeyCheck::Unreadable(e.to_string()))
    };
    let encrypted = found == KeyCheck::Encrypted;
    let _ = tx.send(Msg::KeyChecked {
        path: path.clone(),
        check: found,
    });
    if !encrypted {
        return;
    }
    let ask = passphrase_callback(tx.clone());
    if let Ok(key) = load_key(&file, Some(&ask)).await {
        let check = KeyCheck::Ready {
            algorithm: format!("{} (unlocked)", key.algorithm()),
            fingerprint: key
                .public_key()
                .fingerprint(russh::keys::HashAlg::Sha256)
                .to_string(),
        };
        let _ = tx.send(Msg::KeyChecked { path, check });
    }
}
