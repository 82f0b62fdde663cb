//! Shared test support: the lab of real sshd hosts (see `lab.rs`), the real Kubespray
//! releases and their Ansible (`kubespray.rs`), and the recovery scenarios (`recovery.rs`).

// Each test binary uses a part of these.
#[allow(dead_code)]
pub mod kubespray;
pub mod lab;
#[allow(dead_code)]
pub mod recovery;
