//! The plan's inventory inside the Kubespray tree, as the Kubespray stage and the recovery
//! actions lay it: `inventory/<name>` copied from the release's `inventory/sample` once
//! (never overwritten: rackstrap's values are in files of its own), the rendered files over
//! it, and the host keys pinned for the plan's hosts in `inventory/<name>/.known_hosts`, the
//! only keys Ansible's ssh trusts (`runner::host_key_env`).
//!
//! The inventory lives inside the tree because Kubespray misbehaves with inventories outside
//! it (AIStore's "Deploying AIS on k8s" warns of "all sorts of subtle failures").

use std::path::{Path, PathBuf};

use crate::plan::{Host, Plan};
use crate::render::RenderedFile;
use crate::ssh::known_hosts::KnownHosts;

/// The file, inside `inventory/<name>`, holding the pinned host keys Ansible's ssh checks
/// against. A dotfile: Ansible skips those when an inventory directory is read.
pub const KNOWN_HOSTS_FILE: &str = ".known_hosts";

/// Kubespray's fact cache, inside `inventory/<name>/` rather than `ansible.cfg`'s `/tmp`
/// (cleared on reboot and shared by every inventory on the machine). A dotdir: Ansible skips
/// it when reading the inventory directory.
pub const FACT_CACHE_DIR: &str = ".facts";

/// `inventory/<name>`, relative to the tree.
pub fn inventory_rel(plan: &Plan) -> String {
    format!("inventory/{}", plan.cluster.name)
}

/// A file of the plan's inventory as the plan names the tree (`~` kept: OpenSSH and the
/// shell expand it), e.g. the pinned-keys file for a shown command line.
pub fn shown_path(plan: &Plan, file: &str) -> String {
    format!(
        "{}/{}/{file}",
        plan.cluster.kubespray.path.trim_end_matches('/'),
        inventory_rel(plan)
    )
}

/// The pinned keys of the plan's hosts as an OpenSSH `known_hosts` file, or the plan hosts
/// that have no pinned key (with no pins at all, every host).
pub fn pinned_keys<'p>(
    plan: &'p Plan,
    known: Option<&KnownHosts>,
) -> Result<String, Vec<&'p Host>> {
    let mut text = String::from("# Host keys rackstrap pinned for this cluster's hosts\n");
    let mut missing = Vec::new();
    for h in &plan.hosts {
        let lines = known
            // Looked up as rackstrap's connections pin it: an IPv6 address without brackets.
            .map(|k| {
                let addr = h.address.trim_start_matches('[').trim_end_matches(']');
                k.openssh_lines(addr, plan.access.port)
            })
            .unwrap_or_default();
        if lines.is_empty() {
            missing.push(h);
        }
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
    }
    if missing.is_empty() {
        Ok(text)
    } else {
        Err(missing)
    }
}

/// Why a host without a pinned key is refused.
pub fn unpinned_message(plan: &Plan, h: &Host) -> String {
    format!(
        "no pinned host key for {} ({}); Ansible checks host keys against rackstrap's pins: \
         discover it first (rackstrap discover {} --port {} --accept-new, or accept its key \
         in the wizard)",
        h.name,
        crate::ssh::known_hosts::host_pattern(&h.address, plan.access.port),
        h.address,
        plan.access.port
    )
}

/// `inventory/sample` copied to `inventory/<name>` in `tree` when that does not exist yet;
/// whether it copied.
pub fn copy_sample(tree: &Path, plan: &Plan) -> Result<bool, String> {
    let inv = tree.join(inventory_rel(plan));
    if inv.is_dir() {
        return Ok(false);
    }
    copy_dir(&tree.join("inventory/sample"), &inv)
        .map(|()| true)
        .map_err(|e| format!("copying inventory/sample to {}: {e}", inv.display()))
}

/// `files` and the pinned keys written into `inventory/<name>` in `tree`.
pub fn write(tree: &Path, plan: &Plan, files: &[RenderedFile], pinned: &str) -> Result<(), String> {
    let inv = tree.join(inventory_rel(plan));
    // The directory holding the pins Ansible's strict checking relies on: only its owner
    // may enter it, whatever the umask.
    crate::render::create_private_dir(&inv).map_err(|e| format!("{}: {e}", inv.display()))?;
    let mut all = files.to_vec();
    all.push(RenderedFile {
        path: PathBuf::from(KNOWN_HOSTS_FILE),
        contents: pinned.to_string(),
    });
    crate::render::write(&all, &inv)
        .map_err(|e| format!("writing the inventory into {}: {e}", inv.display()))
}

/// Copies `from` into `to`, directories 0755 whatever the umask (the render's own copy).
pub use crate::render::copy_dir;

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(port: u16) -> Plan {
        serde_yaml::from_str(&format!(
            "version: 1\ncluster: {{name: c, kubespray: {{path: ~/ks}}}}\n\
             access: {{user: root, port: {port}, identity: ~/.ssh/id}}\nhosts:\n\
             \x20 - {{name: a, address: 10.0.0.1, roles: [control_plane, etcd, worker]}}\n\
             \x20 - {{name: b, address: 10.0.0.2, roles: [worker]}}\n"
        ))
        .expect("plan")
    }

    fn key(seed: u8) -> russh::keys::PublicKey {
        russh::keys::PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
            &[seed; 32],
        ))
        .public_key()
        .clone()
    }

    #[test]
    fn pinned_keys_are_the_plan_hosts_pins_or_the_hosts_without_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let known = KnownHosts {
            own: dir.path().join("known_hosts"),
            extra: vec![],
        };
        let p = plan(2222);
        let names = |r: Result<String, Vec<&Host>>| -> Vec<String> {
            r.expect_err("missing")
                .iter()
                .map(|h| h.name.clone())
                .collect()
        };
        assert_eq!(names(pinned_keys(&p, None)), ["a", "b"]);
        known.pin("10.0.0.1", 2222, &key(1)).expect("pin");
        // Pinned for another port is not pinned for this one.
        known.pin("10.0.0.2", 22, &key(2)).expect("pin");
        assert_eq!(names(pinned_keys(&p, Some(&known))), ["b"]);
        known.pin("10.0.0.2", 2222, &key(2)).expect("pin");
        known.pin("10.0.0.9", 2222, &key(3)).expect("pin");
        let text = pinned_keys(&p, Some(&known)).expect("all pinned");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                format!("[10.0.0.1]:2222 {}", key(1).to_openssh().expect("key")),
                format!("[10.0.0.2]:2222 {}", key(2).to_openssh().expect("key")),
            ]
        );
        // Port 22: plain addresses, as OpenSSH looks them up.
        assert_eq!(names(pinned_keys(&plan(22), Some(&known))), ["a"]);
    }
}
