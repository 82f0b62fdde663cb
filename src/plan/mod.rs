//! The plan: model, load/save, checks. No UI and no IO beyond reading and writing files.
//!
//! `load` turns a file into a [`Plan`] (or a [`PlanError`] pointing at the line), `check`
//! turns a plan and optional host facts into [`Finding`]s. Both the wizard and the headless
//! commands use exactly these.

pub mod check;
pub mod defaults;
pub mod facts;
pub mod load;
pub mod model;
pub mod ports;
pub mod release;
pub mod same_disks;

pub use check::{
    Code, DiskInUse, Finding, Fit, HwRole, MountProblem, Quorum, Severity, Subject, akash_figures,
    check, disk_in_use, label_problem, mount_points, mount_problem, overlap_holder, parse_labels,
    quorum, resolve_discard, role_fit, role_fit_for, root_disk_bytes, total_bytes, usable_bytes,
    worker_deployment_estimate,
};
pub use defaults::{DEFAULT_SYSCTL, default_roles, default_sysctl};
pub use facts::facts_for;
pub(crate) use load::yaml_scalar;
pub use load::{PlanError, from_yaml, load, save, save_keeping_comments, to_yaml};
pub use model::*;
