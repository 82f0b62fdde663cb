//! Recovery and reinstall: a saved plan reopened against the hosts and cluster it built.
//!
//! ```text
//! plan ──► observe (ssh: each host, then kubectl/etcdctl on a control plane) ──► Observed
//!      ──► drift::assess ──► Report (per host: states + the guided action)
//!                                   │
//!  `rackstrap node add|remove|replace` / the wizard's Drift screen
//!      ──► actions::prepare (quorum verdict, steps: inventory + ansible-playbook lines,
//!                            the plan once done)
//!      ──► run::execute (in the Kubespray tree) ──► plan saved only when every step succeeded
//! ```
//!
//! Every rule (what counts as drift, the quorum arithmetic, what each action runs for which
//! Kubespray release) lives here; the wizard and the CLI only show and confirm.
//! docs/recovery.md describes each state and action.

pub mod actions;
pub mod drift;
pub mod observe;
pub mod quorum;
pub mod releases;
pub mod run;

pub use actions::{Kind, Prepared, Standing, prepare};
pub use drift::{Observed, Report, assess};
pub use quorum::Verdict;
