//! The plan: model, load/save, checks. No UI and no IO beyond reading and writing files.

pub mod model;

pub use model::*;
