//! Shared test support: the lab of real sshd hosts (see `lab.rs`).

pub mod lab;
