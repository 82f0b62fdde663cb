//! rackstrap: from bare-metal Ubuntu hosts reachable over SSH to a verified Kubernetes cluster.
//!
//! The crate is a library with a thin binary on top so that `tests/` and `benches/` drive the
//! real code. Data flows one way:
//!
//! ```text
//! plan (YAML) ──► plan::check ◄── facts (parsed from what hosts report over ssh)
//!      │                │
//!      ▼                ▼
//!   render          findings ──► CLI `check` / the wizard's findings strip
//!      │
//!      ▼
//!  provision (stages over ssh, Kubespray through ansible) ──► run state, logs
//! ```
//!
//! The wizard (`tui`) is a front end over the same plan, checks, renders and stages as the
//! headless commands, so a plan saved from the wizard applies headless and the other way.

pub mod cli;
pub mod cluster;
pub mod discover;
pub mod facts;
pub mod kubespray;
pub mod lab;
pub mod net;
pub mod paths;
pub mod plan;
pub mod provision;
pub mod recovery;
pub mod render;
pub mod ssh;
pub mod text;
pub mod tui;
