//! Provisioning: stages, the runner, run state and resume, and the Kubespray/Ansible runner.

pub mod event;

pub use event::{Event, EventKind, StageId, StepState};
