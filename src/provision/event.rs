//! The typed protocol between the provisioning runner and whoever watches it: the wizard's
//! Provision screen, `rackstrap apply`'s one-line-per-output-line printing, and the demo lab's
//! scripted runs all speak these events.
//!
//! How output flows: a command's output arrives from the host in chunks (one read from the
//! connection); each chunk's complete lines go to the host's log file in one write and to the
//! watcher as ONE [`EventKind::Log`] event carrying them all. The lines in flight to the
//! watcher are bounded ([`Backlog`], shared by every step of a run): each [`Lines`] holds its
//! share of the bound until the watcher drops it (or takes the lines out), so a watcher slower
//! than the hosts holds at most the bound, not a growing queue. Lines that find the bound full
//! are not queued for display; the step later sends one marker line saying how many were not
//! shown and which log file has them. Control events (`Started`, `Progress`, `Finished`,
//! `Stalled`) are never held back, and the log file always gets every line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::stages::STAGES;
pub use super::stages::StageId;

impl StageId {
    /// Every stage in run order (the stage list).
    pub const ALL: [StageId; STAGES.len()] = {
        let mut all = [StageId::Preflight; STAGES.len()];
        let mut i = 0;
        while i < STAGES.len() {
            all[i] = STAGES[i].0;
            i += 1;
        }
        all
    };

    /// This stage's row of the stage list (rows are in declaration order: a test holds it).
    fn entry(self) -> &'static (StageId, &'static str, &'static str) {
        &STAGES[self as usize]
    }

    /// The name used on the command line (`--stage host-prep`) and in state files.
    pub fn as_str(self) -> &'static str {
        self.entry().1
    }

    pub fn title(self) -> &'static str {
        self.entry().2
    }

    pub fn parse(s: &str) -> Option<StageId> {
        StageId::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one stage stands on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    #[default]
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Done => "done",
            StepState::Failed => "failed",
            StepState::Skipped => "skipped",
        }
    }
}

/// One thing that happened during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The plan's host name.
    pub host: String,
    pub stage: StageId,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The stage began on this host.
    Started,
    /// Output lines as they arrived together, all from stdout or all from stderr (ANSI colour
    /// kept, no trailing newlines). Also rackstrap's own remarks and the marker of lines held
    /// back by the [`Backlog`].
    Log { lines: Lines, stderr: bool },
    /// Progress within the stage, e.g. Ansible tasks seen so far for this host.
    Progress {
        done: u32,
        total: Option<u32>,
        text: String,
    },
    /// The stage ended on this host; `message` says why when it failed or was skipped,
    /// or "nothing to do" when it was already done.
    Finished { state: StepState, message: String },
    /// A command printed nothing and did not exit for `quiet_secs`, past its limit
    /// (`limit_secs`; see `stall`): `command` is its first line. `asking`: the run waits for
    /// the watcher's answer (`StallDecisions`); otherwise it keeps waiting another
    /// `limit_secs` on its own (`--on-stall wait`). Under `--on-stall fail` no such event
    /// comes: the step fails with the stalled message.
    Stalled {
        command: String,
        quiet_secs: u64,
        limit_secs: u64,
        asking: bool,
    },
}

impl EventKind {
    /// The event with its text safe to show ([`crate::text`]): output lines keep their
    /// colour, every other control character is escaped. Events carry remote text (command
    /// output, error messages that quote it) to panes and headless lines.
    pub fn printable(self) -> Self {
        use crate::text::{printable, printable_sgr};
        match self {
            EventKind::Started => EventKind::Started,
            EventKind::Log { mut lines, stderr } => {
                for line in lines.lines.iter_mut() {
                    if let std::borrow::Cow::Owned(shown) = printable_sgr(line) {
                        *line = shown;
                    }
                }
                EventKind::Log { lines, stderr }
            }
            EventKind::Progress { done, total, text } => EventKind::Progress {
                done,
                total,
                text: printable(&text).into_owned(),
            },
            EventKind::Finished { state, message } => EventKind::Finished {
                state,
                message: printable(&message).into_owned(),
            },
            EventKind::Stalled {
                command,
                quiet_secs,
                limit_secs,
                asking,
            } => EventKind::Stalled {
                command: printable(&command).into_owned(),
                quiet_secs,
                limit_secs,
                asking,
            },
        }
    }
}

/// How many output lines may be on their way to a watcher at once, across every host and step
/// of a run. A line is about 100-200 bytes in memory, so the bound holds a watcher's queue to a
/// few megabytes; a watcher that keeps up (Kubespray prints well under a megabyte a second)
/// never reaches it.
pub const LINES_IN_FLIGHT: usize = 50_000;

/// The count of output lines sent to a watcher and not yet taken in, against its bound. The
/// sender reserves room before it queues lines ([`Backlog::reserve`]); the [`Lines`] it sends
/// give their room back when the watcher drops them.
#[derive(Debug)]
pub struct Backlog {
    queued: AtomicUsize,
    bound: usize,
}

impl Backlog {
    pub fn new(bound: usize) -> Arc<Self> {
        Arc::new(Self {
            queued: AtomicUsize::new(0),
            bound,
        })
    }

    /// Lines queued and not yet taken in by the watcher.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Reserves room for up to `want` lines and says how many got room (0 when full).
    pub fn reserve(&self, want: usize) -> usize {
        let mut got = 0;
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                got = want.min(self.bound.saturating_sub(queued));
                (got > 0).then_some(queued + got)
            });
        got
    }

    fn release(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
    }

    /// `lines` holding `reserved` lines of room in this backlog until they are dropped.
    /// `reserved` must be what [`Backlog::reserve`] gave for them.
    pub fn hold(self: &Arc<Self>, lines: Vec<String>, reserved: usize) -> Lines {
        Lines {
            lines,
            held: (reserved > 0).then(|| Held {
                backlog: self.clone(),
                n: reserved,
            }),
        }
    }
}

/// The lines of an [`EventKind::Log`]. Compared, cloned and serialised as a list of lines; the
/// ones a step sent hold room in the run's [`Backlog`] until dropped or taken out
/// ([`IntoIterator`]), and a clone holds none.
#[derive(Debug, Default)]
pub struct Lines {
    lines: Vec<String>,
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    backlog: Arc<Backlog>,
    n: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.backlog.release(self.n);
    }
}

impl Lines {
    /// Takes the lines out, giving their room in the backlog back.
    pub fn into_vec(mut self) -> Vec<String> {
        // The room goes back now, not when `self` is dropped: the lines are the watcher's.
        drop(self.held.take());
        std::mem::take(&mut self.lines)
    }
}

impl std::ops::Deref for Lines {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.lines
    }
}

impl From<Vec<String>> for Lines {
    fn from(lines: Vec<String>) -> Self {
        Self { lines, held: None }
    }
}

impl From<String> for Lines {
    fn from(line: String) -> Self {
        vec![line].into()
    }
}

impl From<&str> for Lines {
    fn from(line: &str) -> Self {
        line.to_string().into()
    }
}

impl Clone for Lines {
    fn clone(&self) -> Self {
        self.lines.clone().into()
    }
}

impl PartialEq for Lines {
    fn eq(&self, other: &Self) -> bool {
        self.lines == other.lines
    }
}

impl Eq for Lines {}

impl IntoIterator for Lines {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a> IntoIterator for &'a Lines {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.lines.iter()
    }
}

impl Serialize for Lines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.lines.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Lines {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Lines::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list is in declaration (run) order, each stage once, and its names are the ones
    /// the plan, the state files and the command line read (serde's).
    #[test]
    fn the_stage_list_is_in_order_and_its_names_are_serdes() {
        for (i, (id, name, title)) in STAGES.iter().enumerate() {
            assert_eq!(*id as usize, i, "{name}");
            assert_eq!(id.as_str(), *name);
            assert_eq!(id.title(), *title);
            assert_eq!(StageId::parse(name), Some(*id));
            let yaml = serde_yaml::to_string(id).expect("serialise");
            assert_eq!(yaml.trim(), *name);
        }
        assert_eq!(StageId::ALL.len(), STAGES.len());
        assert!(StageId::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn lines_hold_room_in_the_backlog_until_the_watcher_drops_them() {
        let backlog = Backlog::new(10);
        assert_eq!(backlog.reserve(4), 4);
        let first = backlog.hold(vec!["a".into(); 4], 4);
        assert_eq!(backlog.reserve(8), 6, "only what is left of the bound");
        let second = backlog.hold(vec!["b".into(); 6], 6);
        assert_eq!(backlog.reserve(1), 0, "full");
        assert_eq!(backlog.queued(), 10);
        let copy = first.clone();
        drop(first);
        assert_eq!(backlog.queued(), 6, "a clone holds no room");
        assert_eq!(copy.len(), 4);
        let taken = second.into_vec();
        assert_eq!(taken.len(), 6);
        assert_eq!(
            backlog.queued(),
            0,
            "taking the lines out gives their room back"
        );
    }
}
