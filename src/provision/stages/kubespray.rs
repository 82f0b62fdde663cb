//! Kubespray: the inventory goes into the Kubespray tree and `cluster.yml` runs through
//! `ansible-playbook` from this machine, as seed 001 steps 4 and 8 do by hand:
//!
//! ```text
//! cd <kubespray>
//! cp -rfp inventory/sample inventory/<name>        (only when it does not exist yet)
//! <rendered hosts.yaml and group_vars written into inventory/<name>/>
//! ansible-playbook -i inventory/<name>/hosts.yaml -b -v --private-key=<identity> cluster.yml
//! ```
//!
//! The inventory lives inside the tree because Kubespray misbehaves with inventories outside
//! it (seed 004). Ansible's output streams line by line into the `ansible` log pane and
//! `ansible.log`; `ansible::Parser` turns it into per-host progress and, from the PLAY RECAP
//! and the failing task, each host's result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::plan::{Host, Plan};
use crate::provision::ansible::{Parser, Update};
use crate::provision::cmd::{Cmd, StepError, quote};
use crate::provision::event::{EventKind, StageId, StepState};
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Scope, Stage};
use crate::render::RenderedFile;

/// The pseudo-host name under which Ansible's whole output is logged and shown.
pub const ANSIBLE_PANE: &str = "ansible";
/// Kubespray's playbook that builds a cluster (seed 001 step 8).
pub const PLAYBOOK: &str = "cluster.yml";

pub struct KubesprayStage;

/// `~/x` -> `$HOME/x`.
pub fn expand_tilde(path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(path)
}

/// The inventory files the renderer makes for the Kubespray tree (extras stay out of it).
pub fn inventory_files(plan: &Plan) -> Result<Vec<RenderedFile>, StepError> {
    let files = crate::render::render(plan).map_err(|e| StepError::Check(e.to_string()))?;
    Ok(files
        .into_iter()
        .filter(|f| !f.path.starts_with("extras"))
        .collect())
}

/// The `ansible-playbook` command line, run with the Kubespray tree as working directory.
/// `expand`: the key path with `~` resolved (to run it) or as the plan wrote it (to show it,
/// as seed 001 does: Ansible resolves `~` in `--private-key` itself).
pub fn playbook_command(plan: &Plan, expand: bool) -> Vec<String> {
    let identity = if expand {
        expand_tilde(&plan.access.identity).display().to_string()
    } else {
        plan.access.identity.clone()
    };
    vec![
        "ansible-playbook".into(),
        "-i".into(),
        format!("inventory/{}/hosts.yaml", plan.cluster.name),
        "-b".into(),
        "-v".into(),
        format!("--private-key={identity}"),
        PLAYBOOK.into(),
    ]
}

/// A path for a shell line, `~/` left unquoted so the shell still expands it.
fn shell_path(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("~/{}", quote(rest)),
        None => quote(path),
    }
}

/// `ANSIBLE_HOST_KEY_CHECKING=False ansible-playbook ...` as an operator would type it.
fn playbook_line(words: &[String]) -> String {
    let shown: Vec<String> = words
        .iter()
        .map(|w| match w.strip_prefix("--private-key=~/") {
            Some(rest) => format!("--private-key=~/{}", quote(rest)),
            None => quote(w),
        })
        .collect();
    format!("ANSIBLE_HOST_KEY_CHECKING=False {}", shown.join(" "))
}

/// Everything the stage does, as the commands an operator would type in the tree.
pub fn commands(plan: &Plan, inventory_exists: bool) -> Result<Vec<Cmd>, StepError> {
    let inv = format!("inventory/{}", plan.cluster.name);
    let mut cmds = vec![Cmd::new(format!(
        "cd {}",
        shell_path(&plan.cluster.kubespray.path)
    ))];
    if !inventory_exists {
        cmds.push(Cmd::words(["cp", "-rfp", "inventory/sample", &inv]));
    }
    let mut made = std::collections::BTreeSet::new();
    for f in inventory_files(plan)? {
        let path = format!("{inv}/{}", f.path.display());
        if let Some(parent) = Path::new(&path).parent()
            && parent != Path::new(&inv)
            && made.insert(parent.to_path_buf())
        {
            cmds.push(Cmd::words(["mkdir", "-p", &parent.to_string_lossy()]));
        }
        cmds.push(Cmd::write_file(&path, &f.contents));
    }
    cmds.push(Cmd::new(playbook_line(&playbook_command(plan, false))));
    Ok(cmds)
}

#[async_trait]
impl Stage for KubesprayStage {
    fn id(&self) -> StageId {
        StageId::Kubespray
    }

    fn scope(&self) -> Scope {
        Scope::Cluster
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        let tree = expand_tilde(&ctx.plan.cluster.kubespray.path);
        let exists = tree.join("inventory").join(&ctx.plan.cluster.name).is_dir();
        commands(ctx.plan, exists)
    }

    async fn check(
        &self,
        _ctx: &Ctx<'_>,
        _remote: &dyn Remote,
        _log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        Err(StepError::Check(
            "Kubespray runs once for the cluster from this machine, not per host".into(),
        ))
    }
}

/// Runs Kubespray for `hosts` (the plan hosts that take part), reporting through `pane`
/// (Ansible's whole output) and `per_host` (progress and the result of each host).
/// Returns each host's result: `Ok(summary)` or the failure.
pub async fn run(
    plan: &Plan,
    hosts: &[&Host],
    dry_run: bool,
    pane: &mut StepLog,
    per_host: &BTreeMap<String, StepLog>,
) -> BTreeMap<String, Result<String, StepError>> {
    let all_fail = |e: StepError| -> BTreeMap<String, Result<String, StepError>> {
        hosts
            .iter()
            .map(|h| (h.name.clone(), Err(e.clone())))
            .collect()
    };
    let tree = expand_tilde(&plan.cluster.kubespray.path);
    let inv_dir = tree.join("inventory").join(&plan.cluster.name);
    if !tree.join(PLAYBOOK).is_file() || !tree.join("inventory/sample").is_dir() {
        return all_fail(StepError::Check(format!(
            "{} is not a Kubespray tree (no {PLAYBOOK} or inventory/sample); set cluster.kubespray.path",
            tree.display()
        )));
    }
    let exists = inv_dir.is_dir();
    if dry_run {
        match commands(plan, exists) {
            Ok(cmds) => {
                for c in cmds {
                    pane.note(&format!("would run: {}", c.shell));
                }
                return hosts
                    .iter()
                    .map(|h| (h.name.clone(), Ok("dry run".to_string())))
                    .collect();
            }
            Err(e) => return all_fail(e),
        }
    }
    let files = match inventory_files(plan) {
        Ok(f) => f,
        Err(e) => return all_fail(e),
    };
    if !exists {
        let cp = ["cp", "-rfp", "inventory/sample"];
        pane.command(&format!(
            "{} {}",
            cp.join(" "),
            quote(&format!("inventory/{}", plan.cluster.name))
        ));
        let status = tokio::process::Command::new(cp[0])
            .args(&cp[1..])
            .arg(format!("inventory/{}", plan.cluster.name))
            .current_dir(&tree)
            .status()
            .await;
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                return all_fail(StepError::Command {
                    command: "cp -rfp inventory/sample".into(),
                    status: s.code().unwrap_or(-1) as u32,
                    detail: String::new(),
                });
            }
            Err(e) => return all_fail(StepError::Check(format!("cp: {e}"))),
        }
    }
    for f in &files {
        pane.note(&format!(
            "writing inventory/{}/{}",
            plan.cluster.name,
            f.path.display()
        ));
    }
    if let Err(e) = crate::render::write(&files, &inv_dir) {
        return all_fail(StepError::Check(format!(
            "writing the inventory into {}: {e}",
            inv_dir.display()
        )));
    }

    let words = playbook_command(plan, true);
    pane.command(&playbook_line(&words));
    let child = tokio::process::Command::new(&words[0])
        .args(&words[1..])
        .current_dir(&tree)
        .env("ANSIBLE_HOST_KEY_CHECKING", "False")
        .env("ANSIBLE_FORCE_COLOR", "1")
        .env("ANSIBLE_STDOUT_CALLBACK", "default")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return all_fail(StepError::Check(format!(
                "cannot start ansible-playbook: {e}; install ansible-core (Kubespray's requirements.txt)"
            )));
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, bool)>();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send((l, false));
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send((l, true));
            }
        });
    }
    drop(tx);

    let mut parser = Parser::new();
    let mut last_err = String::new();
    while let Some((line, stderr)) = rx.recv().await {
        pane.line(&line, stderr);
        if stderr && !line.trim().is_empty() {
            last_err = crate::provision::log::strip_ansi(line.trim());
        }
        for u in parser.feed(&line) {
            match u {
                Update::HostResult {
                    host,
                    status,
                    task,
                    tasks_done,
                } => {
                    if let Some(l) = per_host.get(&host) {
                        l.progress(tasks_done, None, &format!("{status}: {task}"));
                    }
                }
                Update::HostFailed { host, failure } => {
                    if let Some(l) = per_host.get(&host) {
                        l.emit(EventKind::Log {
                            line: format!("failed: {failure}"),
                            stderr: true,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    let status = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
    pane.note(&format!("ansible-playbook exited {status}"));

    hosts
        .iter()
        .map(|h| {
            let r = match (parser.recap.get(&h.name), parser.failures.get(&h.name)) {
                (_, Some(f)) => Err(StepError::Check(f.to_string())),
                (Some(r), None) if r.success() => Ok(format!(
                    "ok={} changed={} failed=0 unreachable=0",
                    r.ok, r.changed
                )),
                (Some(r), None) => Err(StepError::Check(format!(
                    "PLAY RECAP: failed={} unreachable={}",
                    r.failed, r.unreachable
                ))),
                (None, None) => Err(StepError::Check(format!(
                    "not in Ansible's PLAY RECAP (ansible-playbook exited {status}){}",
                    if last_err.is_empty() {
                        String::new()
                    } else {
                        format!(": {last_err}")
                    }
                ))),
            };
            (h.name.clone(), r)
        })
        .collect()
}

/// The state a host's Kubespray result becomes.
pub fn state_of(r: &Result<String, StepError>) -> StepState {
    if r.is_ok() {
        StepState::Done
    } else {
        StepState::Failed
    }
}
