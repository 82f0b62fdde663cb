//! Recovery actions and re-lays confirmed on the Drift screen, run through the core with
//! their last output lines kept for the screen.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use super::super::model::Msg;
use crate::plan::Plan;

/// Runs a confirmed recovery action through the core (`recovery::perform`), keeping its last
/// output lines for the Drift screen.
pub(super) async fn recover(
    prepared: crate::recovery::Prepared,
    plan: Plan,
    plan_path: Option<PathBuf>,
    known: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
) {
    let Some(path) = plan_path else {
        let _ = tx.send(Msg::RecoveryDone {
            lines: Vec::new(),
            result: Err("save the plan first: the action saves it when it succeeds".into()),
        });
        return;
    };
    let opts = crate::provision::remote::connect_options(&plan.access, known.as_deref());
    let pins = opts.known();
    let (etx, collect) = last_output_lines();
    let result = crate::recovery::perform(&prepared, &plan, &path, Some(&pins), etx).await;
    let lines = collect.await.unwrap_or_default();
    let _ = tx.send(Msg::RecoveryDone { lines, result });
}

/// How many of an action's last output lines the Drift screen shows.
const RECOVERY_LINES: usize = 6;

/// An event sender for a recovery action, and a task that keeps the last
/// [`RECOVERY_LINES`] output lines it carried (colour removed) until the sender is dropped.
fn last_output_lines() -> (
    UnboundedSender<crate::provision::Event>,
    tokio::task::JoinHandle<Vec<String>>,
) {
    let (etx, mut erx) = unbounded_channel::<crate::provision::Event>();
    let collect = tokio::spawn(async move {
        let mut last = std::collections::VecDeque::new();
        while let Some(ev) = erx.recv().await {
            if let crate::provision::EventKind::Log { lines, .. } = ev.kind {
                for line in lines.iter().rev().take(RECOVERY_LINES).rev() {
                    last.push_back(crate::provision::log::strip_ansi(line));
                    if last.len() > RECOVERY_LINES {
                        last.pop_front();
                    }
                }
            }
        }
        last.into_iter().collect()
    });
    (etx, collect)
}

/// Re-lays a host's disks through the core (`recovery::relay::perform`, the runner `apply`
/// uses), the host's typed name as the storage stage's consent, keeping the last output lines
/// for the Drift screen.
pub(super) async fn relay(
    plan: Plan,
    plan_path: Option<PathBuf>,
    name: String,
    known: Option<PathBuf>,
    tx: UnboundedSender<Msg>,
) {
    let Some(path) = plan_path else {
        let _ = tx.send(Msg::RecoveryDone {
            lines: Vec::new(),
            result: Err("save the plan first: its run state is kept beside it".into()),
        });
        return;
    };
    let base = crate::provision::remote::connect_options(&plan.access, known.as_deref());
    let mut opts = crate::provision::runner::RunOptions::new(Arc::new(
        crate::provision::remote::SshConnector { base },
    ));
    opts.consent = crate::provision::runner::Consent::Hosts([name.clone()].into());
    let (etx, collect) = last_output_lines();
    let summary = crate::recovery::relay::perform(&plan, &path, &name, opts, etx).await;
    let mut lines = collect.await.unwrap_or_default();
    let result = match summary {
        Ok(s) if s.all_done() => {
            lines.push(format!("relay {name}: storage done"));
            Ok(())
        }
        Ok(s) => Err(s
            .failed()
            .map(|(stage, host, _, msg)| format!("{host} {stage}: {msg}"))
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(format!("{e:#}")),
    };
    let _ = tx.send(Msg::RecoveryDone { lines, result });
}

/// The demo's answer to a confirmed recovery action: nothing runs; it says what would have.
pub(super) fn demo_recover(prepared: &crate::recovery::Prepared) -> Msg {
    Msg::RecoveryDone {
        lines: prepared
            .steps
            .iter()
            .map(|s| format!("demo, not run: {}", s.title))
            .collect(),
        result: Ok(()),
    }
}

/// The demo's answer to a confirmed re-lay: nothing runs.
pub(super) fn demo_relay(name: &str) -> Msg {
    Msg::RecoveryDone {
        lines: vec![format!("demo, not run: the storage stage on {name}")],
        result: Ok(()),
    }
}
