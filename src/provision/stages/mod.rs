//! The stages of DESIGN.md ("Provisioning stages"), one module each, in run order.

pub mod host_prep;
pub mod kubespray;
pub mod load_balancer;
pub mod preflight;
pub mod storage;
pub mod verify;
