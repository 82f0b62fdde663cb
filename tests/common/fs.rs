//! Fixture files and tools the lab tests share.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Copies the directory `from` into `to`, recursively (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Fails the test when `ansible-playbook` cannot run.
pub fn require_ansible() {
    if Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        panic!("ansible-playbook is not installed (tests/ci.sh installs ansible-core)");
    }
}
