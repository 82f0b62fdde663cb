//! rackstrap's own discovery on the lab, through the library, for the benches that need it:
//! the options they connect with and one scan collected whole.

use std::path::PathBuf;

use rackstrap::discover::Discovered;
use rackstrap::ssh::ConnectOptions;

use super::common::lab::{LAB_PORT, Lab};

/// Root with the lab's key on the lab's port, new host keys accepted into `known_hosts`, no
/// ssh-agent.
pub(crate) fn lab_options(lab: &Lab, known_hosts: PathBuf) -> ConnectOptions {
    ConnectOptions {
        port: LAB_PORT,
        identity: Some(lab.key_path().to_path_buf()),
        known_hosts,
        extra_known_hosts: Vec::new(),
        accept_new: true,
        use_agent: false,
        ..ConnectOptions::default()
    }
}

/// Discovers `targets` at the default concurrency and returns every answer, in the order
/// they came, once the scan has ended.
pub(crate) fn discover_all(
    runtime: &tokio::runtime::Runtime,
    targets: Vec<String>,
    opts: ConnectOptions,
) -> Vec<Discovered> {
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let scan = tokio::spawn(rackstrap::discover::discover(
            targets,
            opts,
            rackstrap::discover::DEFAULT_CONCURRENCY,
            tx,
        ));
        let mut found = Vec::new();
        while let Some(d) = rx.recv().await {
            found.push(d);
        }
        let _ = scan.await;
        found
    })
}
