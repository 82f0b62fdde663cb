//! Shared test support: the lab of real sshd hosts (see `lab.rs`), a tmux pane for the built
//! binary (`tmux.rs`), and a stand-in kubectl for the cluster stages (`fake_k8s.rs`).

pub mod fake_k8s;
pub mod lab;
pub mod tmux;
