//! Shared test support: the lab of real sshd hosts (see `lab.rs`), a tmux pane for the built
//! binary (`tmux.rs`), a stand-in kubectl for the cluster stages (`fake_k8s.rs`), the real
//! Kubespray releases and their Ansible (`kubespray.rs`), and the recovery scenarios
//! (`recovery.rs`).

pub mod fake_k8s;
// Each test binary uses a part of these.
#[allow(dead_code)]
pub mod kubespray;
pub mod lab;
#[allow(dead_code)]
pub mod recovery;
pub mod tmux;
