//! What the discovery and waits benches share about the clients they compare: the options
//! rackstrap connects to the lab with, one discovery scan through the library collected
//! whole, and where Ansible really is.

use std::path::PathBuf;
use std::process::Command;

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

/// Ansible's version line and the path of its real executable: a version manager's shim in
/// front of it would add its own start-up to every run.
pub(crate) fn ansible() -> Option<(String, PathBuf)> {
    let out = Command::new("ansible").arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next().unwrap_or("ansible").trim().to_string();
    let executable = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("executable location = "))
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("ansible"));
    Some((version, executable))
}
