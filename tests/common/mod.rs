//! Shared test support: the lab of real sshd hosts (see `lab.rs`), a tmux pane for the built
//! binary (`tmux.rs`), a stand-in kubectl for the cluster stages (`fake_k8s.rs`), the real
//! Kubespray releases and their Ansible (`kubespray.rs`), the recovery scenarios
//! (`recovery.rs`), a lab's own network of namespaces (`netlab.rs`), fixture copying and tool checks (`fs.rs`), and the wizard's model driven
//! by hand with the live executor (`live.rs`).

pub mod fake_k8s;
pub mod fs;
// Each test binary uses a part of these.
#[allow(dead_code)]
pub mod kubespray;
pub mod lab;
pub mod live;
#[allow(dead_code)]
pub mod netlab;
#[allow(dead_code)]
pub mod recovery;
pub mod tmux;
