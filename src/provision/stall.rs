//! Stalled commands. A command that prints nothing and does not exit for its limit is
//! stalled: the runner names it and, by the run's [`OnStall`], fails the host's step
//! (headless default), keeps waiting another period of the same limit, or asks the watcher
//! (the wizard's Provision screen) and waits for the answer while the other hosts go on.
//!
//! ```text
//! command quiet for its limit ─► OnStall::Fail ─► the step fails: `stalled: ...`
//!                              ├► OnStall::Wait ─► EventKind::Stalled (asking: false), wait again
//!                              └► OnStall::Ask  ─► EventKind::Stalled (asking: true)
//!                                                  ─► StallDecisions::answer(host, stage, ..)
//! ```
//!
//! The runner wraps every host's [`Remote`] in [`Watched`], so every command of every stage
//! (checks and verifications included) has a limit whatever the transport; the Kubespray
//! stage applies the same policy to `ansible-playbook`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::event::{EventKind, StageId};
use super::log::StepLog;
use super::remote::{OutLines, Remote, RemoteError};
use crate::text::{parse_span, span};

/// The environment variable that sets one limit for every command when no flag does.
pub const STALL_ENV: &str = "RACKSTRAP_STALL_SECS";

/// [`stall_limit`] of most commands.
pub const STALL_DEFAULT: Duration = Duration::from_secs(10 * 60);
/// [`stall_limit`] of package installs.
pub const STALL_PACKAGES: Duration = Duration::from_secs(20 * 60);
/// [`stall_limit`] of mkfs, mdadm and other whole-disk commands.
pub const STALL_SLOW: Duration = Duration::from_secs(30 * 60);

/// How long a command may print nothing and not exit before it counts as stalled, by what it
/// is. Making a filesystem on a large disk or building an md array prints nothing for long
/// stretches; package installs wait on mirrors; everything else rackstrap runs is quick.
/// [`StallPolicy::after`] (`--stall-after`) or `RACKSTRAP_STALL_SECS` replace it for every
/// command.
pub fn stall_limit(command: &str) -> Duration {
    let program = command
        .split_whitespace()
        .find(|w| !w.contains('=') && *w != "sudo" && *w != "env")
        .unwrap_or("");
    let name = program.rsplit('/').next().unwrap_or(program);
    if name.starts_with("mkfs") || name == "mdadm" || name == "wipefs" || name == "sgdisk" {
        STALL_SLOW
    } else if name == "apt-get" || name == "apt" || name == "dpkg" {
        STALL_PACKAGES
    } else {
        STALL_DEFAULT
    }
}

/// What a stalled command's step says: which command, and that it may still be running.
pub fn stalled_message(command: &str, quiet: Duration) -> String {
    let first = command.lines().next().unwrap_or(command);
    format!(
        "stalled: `{first}` printed nothing and did not exit for {}; rackstrap stopped waiting (it may still run on the host)",
        span(quiet)
    )
}

/// What is said when a command passes its limit and the run does not fail it: the command,
/// how long it has been quiet, and what the run does now (`asking`: waits for the answer).
pub fn stall_notice(command: &str, quiet: Duration, limit: Duration, asking: bool) -> String {
    let next = if asking {
        "waiting for an answer".to_string()
    } else {
        format!("waiting another {}", span(limit))
    };
    format!(
        "stalled: `{command}` printed nothing and did not exit for {}; {next}",
        span(quiet)
    )
}

/// The operator's answer to a stalled command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallAnswer {
    /// Wait another period of the same limit.
    Wait,
    /// Fail the host's step with the stalled message; the other hosts carry on.
    Fail,
}

/// The questions open now, one per host and stage, and the side that answers them. The
/// runner opens a question when a command stalls under [`OnStall::Ask`]; the watcher answers
/// with [`StallDecisions::answer`]. A question whose command prints or exits first is
/// withdrawn (the watcher sees the output or the step's end).
#[derive(Clone, Default)]
pub struct StallDecisions {
    open: Arc<Mutex<OpenQuestions>>,
}

/// Who waits for an answer, by host and stage.
type OpenQuestions = BTreeMap<(String, StageId), oneshot::Sender<StallAnswer>>;

impl std::fmt::Debug for StallDecisions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open: Vec<(String, StageId)> = self
            .open
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("StallDecisions")
            .field("open", &open)
            .finish()
    }
}

impl StallDecisions {
    /// Answers the open question of `host`'s `stage`. False when none is open (the command
    /// printed or exited meanwhile, or it was answered already).
    pub fn answer(&self, host: &str, stage: StageId, answer: StallAnswer) -> bool {
        let sender = self
            .open
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&(host.to_string(), stage)));
        sender.is_some_and(|s| s.send(answer).is_ok())
    }

    /// The questions open now.
    pub fn open(&self) -> Vec<(String, StageId)> {
        self.open
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn ask(&self, host: &str, stage: StageId) -> oneshot::Receiver<StallAnswer> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.open.lock() {
            m.insert((host.to_string(), stage), tx);
        }
        rx
    }

    fn withdraw(&self, host: &str, stage: StageId) {
        if let Ok(mut m) = self.open.lock() {
            m.remove(&(host.to_string(), stage));
        }
    }
}

/// What the run does when a command stalls.
#[derive(Debug, Clone, Default)]
pub enum OnStall {
    /// Fail the host's step (headless default: nobody is there to ask).
    #[default]
    Fail,
    /// Keep waiting, saying so each time the command passes its limit again.
    Wait,
    /// Ask the watcher through these decisions (the wizard).
    Ask(StallDecisions),
}

/// The limits and the answer to a stall, for one run.
#[derive(Debug, Clone, Default)]
pub struct StallPolicy {
    /// One limit for every command (`--stall-after`); `None`: `RACKSTRAP_STALL_SECS` when
    /// set, else the limit by command kind ([`stall_limit`]).
    pub after: Option<Duration>,
    pub on_stall: OnStall,
}

impl StallPolicy {
    /// The limit of `command`.
    pub fn limit(&self, command: &str) -> Duration {
        self.limit_or(stall_limit(command))
    }

    /// The limit of a command whose kind's default is `default` (Kubespray's playbook).
    pub fn limit_or(&self, default: Duration) -> Duration {
        self.after
            .or_else(|| {
                std::env::var(STALL_ENV)
                    .ok()
                    .and_then(|v| parse_span(&v).ok())
            })
            .unwrap_or(default)
    }

    /// `command` (on `log`'s host and stage) printed nothing and did not exit for `quiet`,
    /// past its `limit`: says so to the watcher when the policy waits or asks, and returns
    /// the question to wait on. Dropping the question withdraws it.
    pub fn stalled(
        &self,
        log: &StepLog,
        command: &str,
        quiet: Duration,
        limit: Duration,
    ) -> Question {
        let first = super::cmd::first_line(command).to_string();
        let (answer, asking) = match &self.on_stall {
            OnStall::Fail => return Question::settled(StallAnswer::Fail),
            OnStall::Wait => (Answer::Now(StallAnswer::Wait), false),
            OnStall::Ask(decisions) => (
                Answer::Later {
                    rx: decisions.ask(&log.host, log.stage),
                    decisions: decisions.clone(),
                    host: log.host.clone(),
                    stage: log.stage,
                },
                true,
            ),
        };
        log.file_only(&stall_notice(&first, quiet, limit, asking));
        log.emit(EventKind::Stalled {
            command: first,
            quiet_secs: quiet.as_secs(),
            limit_secs: limit.as_secs(),
            asking,
        });
        Question { answer }
    }
}

/// A stall waiting for its answer ([`StallPolicy::stalled`]).
pub struct Question {
    answer: Answer,
}

enum Answer {
    Now(StallAnswer),
    Later {
        rx: oneshot::Receiver<StallAnswer>,
        decisions: StallDecisions,
        host: String,
        stage: StageId,
    },
}

impl Question {
    fn settled(answer: StallAnswer) -> Self {
        Self {
            answer: Answer::Now(answer),
        }
    }

    /// The answer; a question nobody can answer any more counts as "fail".
    pub async fn answer(&mut self) -> StallAnswer {
        match &mut self.answer {
            Answer::Now(a) => *a,
            Answer::Later { rx, .. } => rx.await.unwrap_or(StallAnswer::Fail),
        }
    }
}

impl Drop for Question {
    fn drop(&mut self) {
        if let Answer::Later {
            decisions,
            host,
            stage,
            ..
        } = &self.answer
        {
            decisions.withdraw(host, *stage);
        }
    }
}

/// A host's [`Remote`] with the stall detector around every command: the command's output
/// moves its "last heard" time; one quiet for its limit is handled by the run's policy.
pub struct Watched {
    inner: Arc<dyn Remote>,
    policy: StallPolicy,
    /// The step whose commands these are: where the stall is said.
    log: StepLog,
}

/// How often a command waiting for an answer is looked at for new output.
const ANSWER_POLL: Duration = Duration::from_millis(200);

impl Watched {
    pub fn new(inner: Arc<dyn Remote>, policy: StallPolicy, log: StepLog) -> Self {
        Self { inner, policy, log }
    }
}

#[async_trait]
impl Remote for Watched {
    async fn exec(
        &self,
        command: &str,
        stdin: Option<Vec<u8>>,
        on_output: &mut (dyn FnMut(OutLines) + Send),
    ) -> Result<u32, RemoteError> {
        let limit = self.policy.limit(command);
        let started = Instant::now();
        let last = AtomicU64::new(0);
        let mut heard = |chunk: OutLines| {
            last.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            on_output(chunk);
        };
        let run = self.inner.exec(command, stdin, &mut heard);
        tokio::pin!(run);
        let quiet = || {
            started
                .elapsed()
                .saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)))
        };
        // After "keep waiting", the command is not stalled again before this time (since the
        // start), even if it stays quiet.
        let mut grace = Duration::ZERO;
        loop {
            let q = quiet();
            let now = started.elapsed();
            if q >= limit && now >= grace {
                let mut question = self.policy.stalled(&self.log, command, q, limit);
                loop {
                    tokio::select! {
                        done = &mut run => return done,
                        answer = question.answer() => match answer {
                            StallAnswer::Fail => {
                                return Err(RemoteError::Other(stalled_message(command, quiet())));
                            }
                            StallAnswer::Wait => {
                                grace = started.elapsed() + limit;
                                break;
                            }
                        },
                        _ = tokio::time::sleep(ANSWER_POLL) => {
                            // It printed: no longer stalled, the question is withdrawn.
                            if quiet() < q {
                                break;
                            }
                        }
                    }
                }
                continue;
            }
            let wake = limit.saturating_sub(q).max(grace.saturating_sub(now));
            tokio::select! {
                done = &mut run => return done,
                _ = tokio::time::sleep(wake.max(Duration::from_millis(10))) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
