//! Shared test support: the lab of real sshd hosts (see `lab.rs`), a tmux pane for the built
//! binary (`tmux.rs`), a stand-in kubectl for the cluster stages (`fake_k8s.rs`), fixture
//! copying and tool checks (`fs.rs`), and the wizard's model driven by hand with the live
//! executor (`live.rs`).

pub mod fake_k8s;
pub mod fs;
pub mod lab;
pub mod live;
pub mod tmux;
