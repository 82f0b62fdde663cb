//! Run state: where each stage stands on each host, kept beside the plan so that
//! `rackstrap apply` resumes where it stopped and `rackstrap status` can show it.
//!
//! Layout, for a plan `dir/cluster.yaml`:
//!
//! ```text
//! dir/.rackstrap/cluster/state.yaml          stage x host: state, times, reason, log file;
//!                                            the node actions run (`rackstrap node ...`)
//! dir/.rackstrap/cluster/lock                held by the run under way, with its pid
//! dir/.rackstrap/cluster/logs/<run>/<host>.log   one complete log per host per run
//! dir/.rackstrap/cluster/logs/<run>/ansible.log  Kubespray's Ansible output
//! ```
//!
//! The state file is rewritten atomically (temporary file in the same directory, then
//! rename) after every change, so a crash leaves the previous or the next version, never half
//! a file. A step found `running` on load was interrupted: it counts as not done.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use color_eyre::eyre::{Context, Result};
use serde::{Deserialize, Serialize};

use super::event::{StageId, StepState};

pub const STATE_VERSION: u32 = 1;

/// The largest state file read, in bytes. A run on 500 hosts writes a few hundred kilobytes;
/// the bound keeps a state file that is a link to `/dev/zero` or a disk image from being read
/// without end.
pub const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;

/// What a step found `running` by a process that is gone says.
pub const INTERRUPTED: &str = "interrupted: the run stopped while this step ran";

/// The directory holding state and logs for a plan file. It is named by the plan's file
/// stem byte for byte: two plans whose names are not UTF-8 must not share one directory.
/// The plan's path is resolved first (symlinks, `..`), so every name of one plan file
/// (`ln -s plan.yaml alias.yaml`) has the same state and the same lock; a path that does not
/// exist yet is taken as given.
pub fn state_dir(plan_path: &Path) -> PathBuf {
    let resolved = std::fs::canonicalize(plan_path).ok();
    let plan_path = resolved.as_deref().unwrap_or(plan_path);
    let dir = plan_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stem = plan_path
        .file_stem()
        .unwrap_or(std::ffi::OsStr::new("plan"));
    dir.join(".rackstrap").join(stem)
}

/// The lock file in a state directory: held by the run that owns the state, naming its pid.
pub const LOCK_FILE: &str = "lock";

/// One run at a time per plan: an exclusive lock (`flock`) on `<state dir>/lock`, held while
/// the run lasts, wizard and headless alike. Two applies on one plan would format a disk
/// twice, write fstab lines twice and overwrite each other's state, so the second refuses
/// and names the process that holds the lock. The kernel drops the lock when its holder
/// dies, so a lock file left by a killed run (a dead pid in it) is simply taken over.
///
/// A plan file copied under another name in the same directory describes the same cluster:
/// [`RunLock::acquire_for`] also takes a lock per cluster name beside the state directories
/// (`.rackstrap/cluster-<name>.lock`), so a run from the copy is refused as well.
#[derive(Debug)]
pub struct RunLock {
    _files: Vec<std::fs::File>,
}

impl RunLock {
    /// Takes the lock of `state_dir` (created if missing), writes this process's pid in it,
    /// then removes temporary files that a killed save left behind.
    pub fn acquire(state_dir: &Path) -> Result<Self> {
        create_private_dir(state_dir)?;
        let file = take_lock(&state_dir.join(LOCK_FILE), "this plan")?;
        remove_stale_temp_files(state_dir);
        Ok(Self { _files: vec![file] })
    }

    /// [`RunLock::acquire`], then the lock of the plan's cluster `cluster` among the plans
    /// whose state directories share a parent.
    pub fn acquire_for(state_dir: &Path, cluster: &str) -> Result<Self> {
        let mut lock = Self::acquire(state_dir)?;
        let parent = state_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let path = parent.join(format!("cluster-{}.lock", file_name_part(cluster)));
        let what = format!(
            "cluster {} from another plan file",
            crate::text::printable(cluster)
        );
        lock._files.push(take_lock(&path, &what)?);
        Ok(lock)
    }

    /// Whether a run holds the lock of `state_dir` now: `Some` with the pid written in the
    /// lock file (`None` inside when it cannot be read), `None` when no run holds it. It
    /// looks with a shared lock taken and dropped at once, so a run starting in that instant
    /// may be refused as if another one held the lock; it never takes the lock from a run.
    pub fn holder(state_dir: &Path) -> Option<Option<u32>> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let path = state_dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                None
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = (&mut file).take(64).read_to_string(&mut text);
                Some(text.trim().parse().ok())
            }
            Err(std::fs::TryLockError::Error(_)) => None,
        }
    }
}

/// Opens (or makes, 0600) the lock file at `path` and takes its exclusive lock without
/// waiting, writing this process's pid in it; held by another process, the error names it
/// and `what` it runs.
fn take_lock(path: &Path, what: &str) -> Result<std::fs::File> {
    use std::io::{Read, Seek};
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .wrap_err_with(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = (&mut file).take(64).read_to_string(&mut holder);
            let who = match holder.trim() {
                "" => "another rackstrap process".to_string(),
                pid => format!(
                    "another rackstrap process (pid {})",
                    crate::text::printable(pid)
                ),
            };
            color_eyre::eyre::bail!(
                "{} is already running {} (lock {}); wait for it to finish or stop it, then run again",
                who,
                what,
                path.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).wrap_err_with(|| format!("locking {}", path.display()));
        }
    }
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .and_then(|_| file.set_len(0))
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
        .wrap_err_with(|| format!("writing {}", path.display()))?;
    Ok(file)
}

/// `name` as part of a file name: letters, digits, `.`, `_` and `-` as they are, every other
/// byte as `%XX`, so two names never share a file and none leaves the directory.
fn file_name_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The state directory (and `.rackstrap` above it), mode 0700 when made here whatever the
/// umask: it holds the state, the logs and the lock, which nobody else may replace.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .wrap_err_with(|| format!("creating state directory {}", dir.display()))
}

/// Temporary files of a save that never finished (`.tmpXXXXXX` from a killed process). Only
/// called under the run lock, when no save of this state can be under way.
fn remove_stale_temp_files(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let is_temp = name.to_string_lossy().starts_with(".tmp");
        if is_temp && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Step {
    pub state: StepState,
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Why it failed or was skipped; what it did when done.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The log file of the run that last touched this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<String>,
    /// stage -> host -> step.
    #[serde(default)]
    pub steps: BTreeMap<StageId, BTreeMap<String, Step>>,
    /// The node actions run on this plan's cluster (add, remove, replace), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<NodeAction>,
}

/// One node action (docs/recovery.md): which, on what host, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAction {
    /// `add`, `remove` or `replace`.
    pub action: String,
    pub node: String,
    pub run: String,
    /// RFC 3339, UTC.
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// `running`, `done` or `failed`; a `running` one found on load was interrupted.
    pub state: StepState,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Ansible's output of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
}

impl Default for RunState {
    fn default() -> Self {
        Self {
            version: STATE_VERSION,
            last_run: None,
            steps: BTreeMap::new(),
            actions: Vec::new(),
        }
    }
}

impl RunState {
    /// Loads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<Self> {
        let mut state = Self::load_as_left(path)?;
        state.mark_interrupted(INTERRUPTED);
        Ok(state)
    }

    /// The state file as the last run left it: steps it was running still say `running`.
    /// Read within bounds, as plans are ([`MAX_STATE_BYTES`], flow nesting): a file that is
    /// too large, nested without end, a FIFO, or of a `version` this build does not know is
    /// an error, and the file is left as it is.
    pub fn load_as_left(path: &Path) -> Result<Self> {
        use crate::plan::load::{BoundedRead, MAX_FLOW_DEPTH, read_bounded, too_deep};
        let shown = path.display();
        let bytes = match read_bounded(path, MAX_STATE_BYTES) {
            Ok(b) => b,
            Err(BoundedRead::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self::default());
            }
            Err(e) => color_eyre::eyre::bail!("{shown}: cannot read the run state: {e}"),
        };
        let Ok(text) = String::from_utf8(bytes) else {
            color_eyre::eyre::bail!("{shown}: not a rackstrap run state (not UTF-8 text)");
        };
        if let Some((line, col)) = too_deep(&text, MAX_FLOW_DEPTH) {
            color_eyre::eyre::bail!(
                "{shown}:{line}:{col}: nested more than {MAX_FLOW_DEPTH} levels of `[` or `{{`: not a rackstrap run state"
            );
        }
        let value: serde_yaml::Value = serde_yaml::from_str(&text)
            .wrap_err_with(|| format!("{shown}: not a rackstrap run state"))?;
        match value.get("version") {
            Some(v) if v.as_u64() == Some(u64::from(STATE_VERSION)) => {}
            Some(v) => {
                let v = serde_yaml::to_string(v).unwrap_or_default();
                color_eyre::eyre::bail!(
                    "{shown}: run state version {}; this build reads version {STATE_VERSION} and leaves the file as it is (was it written by a newer rackstrap?)",
                    crate::text::printable(v.trim())
                );
            }
            None => {}
        }
        serde_yaml::from_value(value)
            .wrap_err_with(|| format!("{shown}: not a rackstrap run state"))
    }

    /// Steps found `running` failed with `why`: the run that ran them is gone.
    pub fn mark_interrupted(&mut self, why: &str) {
        for hosts in self.steps.values_mut() {
            for step in hosts.values_mut() {
                if step.state == StepState::Running {
                    step.state = StepState::Failed;
                    step.message = why.into();
                }
            }
        }
        for a in &mut self.actions {
            if a.state == StepState::Running {
                a.state = StepState::Failed;
                a.message = why.into();
            }
        }
    }

    /// Writes the state atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir)?;
        let text = serde_yaml::to_string(self).wrap_err("serialising run state")?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .wrap_err_with(|| format!("creating a temporary file in {}", dir.display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .wrap_err("writing run state")?;
        tmp.persist(path)
            .wrap_err_with(|| format!("replacing {}", path.display()))?;
        Ok(())
    }

    pub fn get(&self, stage: StageId, host: &str) -> Option<&Step> {
        self.steps.get(&stage).and_then(|h| h.get(host))
    }

    pub fn state_of(&self, stage: StageId, host: &str) -> StepState {
        self.get(stage, host).map(|s| s.state).unwrap_or_default()
    }

    pub fn step_mut(&mut self, stage: StageId, host: &str) -> &mut Step {
        self.steps
            .entry(stage)
            .or_default()
            .entry(host.to_string())
            .or_default()
    }

    /// The stage x host table `rackstrap status` prints, then the reasons of what did not
    /// finish.
    pub fn table(&self, hosts: &[String]) -> String {
        self.table_where(hosts, |_, _| true)
    }

    /// [`Self::table`], with `-` where `applies(stage, host)` says the stage never reports on
    /// that host (verify on a worker), so a finished run has no "pending" left in it.
    pub fn table_where(&self, hosts: &[String], applies: impl Fn(StageId, &str) -> bool) -> String {
        self.table_live(hosts, applies, None)
    }

    /// [`Self::table_where`] while the run that holds the plan's lock is under way (`live`:
    /// its pid, when known): the steps it is running are noted "running (pid N)".
    pub fn table_live(
        &self,
        hosts: &[String],
        applies: impl Fn(StageId, &str) -> bool,
        live: Option<Option<u32>>,
    ) -> String {
        use crate::text::{pad, printable, width};
        let stage_w = StageId::ALL
            .iter()
            .map(|s| s.as_str().len())
            .max()
            .unwrap_or(5)
            .max("stage".len());
        // Host names head the columns: shown escaped, each column as wide as its name up to
        // `HOST_COLUMN_CAP` cells (longer names are cut with `…`), at least as wide as a state.
        let shown: Vec<String> = hosts.iter().map(|h| printable(h).into_owned()).collect();
        let col_w: Vec<usize> = shown
            .iter()
            .map(|h| width(h).clamp(7, HOST_COLUMN_CAP))
            .collect();
        let mut out = pad("stage", stage_w);
        for (h, w) in shown.iter().zip(&col_w) {
            out.push_str("  ");
            out.push_str(&pad(h, *w));
        }
        let mut out = out.trim_end().to_string();
        out.push('\n');
        let mut notes = Vec::new();
        for stage in StageId::ALL {
            let mut line = pad(stage.as_str(), stage_w);
            for ((h, name), w) in hosts.iter().zip(&shown).zip(&col_w) {
                let step = self.get(stage, h);
                let st = step.map(|s| s.state).unwrap_or_default();
                line.push_str("  ");
                if step.is_none() && !applies(stage, h) {
                    line.push_str(&pad("-", *w));
                    continue;
                }
                line.push_str(&pad(st.as_str(), *w));
                if st == StepState::Running
                    && let Some(pid) = live
                {
                    notes.push(match pid {
                        Some(pid) => format!("{name} {stage}: running (pid {pid})"),
                        None => format!("{name} {stage}: running"),
                    });
                }
                if let Some(step) = step
                    && matches!(st, StepState::Failed | StepState::Skipped)
                {
                    let mut note = format!(
                        "{name} {stage}: {} {}",
                        st.as_str(),
                        printable(&step.message)
                    );
                    if let Some(log) = &step.log {
                        note.push_str(&format!(" (log: {})", printable(&log.to_string_lossy())));
                    }
                    notes.push(note);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !notes.is_empty() {
            out.push('\n');
            for n in notes {
                out.push_str(&n);
                out.push('\n');
            }
        }
        if !self.actions.is_empty() {
            out.push_str("\nnode actions:\n");
            for a in &self.actions {
                let mut line = format!(
                    "{} node {} {}: {}",
                    a.started,
                    a.action,
                    printable(&a.node),
                    a.state.as_str()
                );
                if !a.message.is_empty() {
                    line.push_str(&format!(" {}", printable(&a.message)));
                }
                if let Some(log) = &a.log {
                    line.push_str(&format!(" (log: {})", printable(&log.to_string_lossy())));
                }
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }
}

/// The widest a host's column in [`RunState::table`] gets, in cells.
const HOST_COLUMN_CAP: usize = 32;

/// Now, as RFC 3339 UTC (`2024-05-01T12:00:00Z`).
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc().replace_nanosecond(0);
    let t = t.unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A run id that sorts by time and names a log directory: `20240501T120000Z`.
pub fn run_id() -> String {
    now().replace(['-', ':'], "")
}

/// `base` (a [`run_id`]) made unique among the runs whose logs are under `logs`: a second run
/// started within the same second gets `-2` (then `-3`, ...), so it never appends to the
/// log files of the run before it.
pub fn fresh_run_id(base: String, logs: &Path) -> String {
    if !logs.join(&base).exists() {
        return base;
    }
    (2u32..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !logs.join(id).exists())
        .unwrap_or(base)
}

#[cfg(test)]
mod tests;
