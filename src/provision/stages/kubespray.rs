//! Kubespray: the inventory goes into the Kubespray tree and `cluster.yml` runs through
//! `ansible-playbook` from this machine, as Akash "Kubernetes Cluster for Akash Providers"
//! (<https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/>)
//! does by hand in its "STEP 4 - Ansible Inventory" and "STEP 8 - Create Kubernetes
//! Cluster":
//!
//! ```text
//! cd <kubespray>
//! cp -rfp inventory/sample inventory/<name>        (only when it does not exist yet)
//! <rendered hosts.yaml, host_vars and group_vars/*/zz-rackstrap.yml into inventory/<name>/>
//! <pinned host keys of the plan's hosts written to inventory/<name>/.known_hosts>
//! ansible-playbook -i inventory/<name>/hosts.yaml playbooks/boilerplate.yml
//!   -e ansible_connection=local                    (Kubespray's own inventory checks, v2.28+)
//! ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS='... -o UserKnownHostsFile=<that file>
//!   -o StrictHostKeyChecking=yes' ansible-playbook -i inventory/<name>/hosts.yaml -b -v
//!   --private-key=<identity> [--limit <hosts>] cluster.yml
//! ```
//!
//! Before anything runs, the tree must be the plan's release and its Ansible inside that
//! release's range (`crate::kubespray::tree`); `ansible-playbook` is the tree's virtualenv's
//! (`rackstrap kubespray prepare`) when it has one. The sample's files are copied once and
//! never overwritten: rackstrap's values are in files of its own.
//!
//! Ansible opens its own OpenSSH connections, so rackstrap's host key pins are handed to
//! OpenSSH: the keys pinned for the plan's hosts (see `ssh::known_hosts`) are the only ones
//! it trusts, and a host whose key changed is unreachable for Ansible, never run on. A plan
//! host with no pinned key is refused before Ansible starts. Kubespray's own `ansible.cfg`
//! turns checking off (`host_key_checking=False`, `UserKnownHostsFile=/dev/null` in
//! `ssh_args`); environment variables take precedence over `ansible.cfg`, and Ansible puts
//! `ssh_args` first on ssh's command line where OpenSSH keeps the first value of an option,
//! so `ANSIBLE_SSH_ARGS` (not `--ssh-common-args`) is what replaces them.
//!
//! The inventory lives inside the tree because Kubespray misbehaves with inventories outside
//! it (AIStore's "Deploying AIS on k8s" warns of "all sorts of subtle failures"). Ansible's
//! output streams line by line into the `ansible` log pane and `ansible.log`;
//! `ansible::Parser` turns it into per-host progress and, from the PLAY RECAP and the failing
//! task, each host's result. With `apply --host`, Kubespray's facts playbook runs over every
//! host first and `cluster.yml` gets `--limit`.

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
use crate::provision::remote::OutLines;
use crate::provision::stage::{ClusterCtx, ClusterResults, Ctx, Scope, Stage};
use crate::provision::stall::StallAnswer;
use crate::render::RenderedFile;
use crate::ssh::known_hosts::KnownHosts;

/// How long Ansible may print nothing before the Kubespray stage counts as stalled: a slow
/// task (image pulls on a thin link, etcd waiting for its peers) stays quiet for minutes.
pub const KUBESPRAY_STALL: std::time::Duration = std::time::Duration::from_secs(45 * 60);

/// The pseudo-host name under which Ansible's whole output is logged and shown.
pub const ANSIBLE_PANE: &str = "ansible";
/// Kubespray's playbook that builds a cluster.
pub const PLAYBOOK: &str = crate::kubespray::tree::CLUSTER_PLAYBOOK;

/// The file, inside `inventory/<name>`, holding the pinned host keys Ansible's ssh checks
/// against. A dotfile: Ansible skips those when an inventory directory is read.
pub const KNOWN_HOSTS_FILE: &str = ".known_hosts";

pub struct KubesprayStage;

/// The OpenSSH options of Ansible's connections (`ANSIBLE_SSH_ARGS`), replacing the
/// `ssh_args` of Kubespray's `ansible.cfg`: its connection reuse, but only the pinned keys in
/// `known_hosts` are trusted (no global file, no first-contact acceptance).
pub fn ssh_args(known_hosts: &str) -> String {
    format!(
        "-o ControlMaster=auto -o ControlPersist=30m -o UserKnownHostsFile={} \
         -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes",
        // Ansible splits these like a shell; OpenSSH expands a leading `~` itself.
        shell_path(known_hosts)
    )
}

/// The environment `ansible-playbook` runs with for host key checking; the environment
/// overrides `ansible.cfg`'s `host_key_checking = False`.
pub fn host_key_env(known_hosts: &str) -> [(&'static str, String); 2] {
    [
        ("ANSIBLE_HOST_KEY_CHECKING", "True".to_string()),
        ("ANSIBLE_SSH_ARGS", ssh_args(known_hosts)),
    ]
}

/// The pinned keys of the plan's hosts as an OpenSSH `known_hosts` file, or the plan hosts
/// that have no pinned key (with no pins at all, every host).
pub fn pinned_keys<'p>(
    plan: &'p Plan,
    known: Option<&KnownHosts>,
) -> Result<String, Vec<&'p Host>> {
    let mut text = String::from("# Host keys rackstrap pinned for this cluster's hosts\n");
    let mut missing = Vec::new();
    for h in &plan.hosts {
        let lines = known
            // Looked up as rackstrap's connections pin it: an IPv6 address without brackets.
            .map(|k| {
                let addr = h.address.trim_start_matches('[').trim_end_matches(']');
                k.openssh_lines(addr, plan.access.port)
            })
            .unwrap_or_default();
        if lines.is_empty() {
            missing.push(h);
        }
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
    }
    if missing.is_empty() {
        Ok(text)
    } else {
        Err(missing)
    }
}

/// Why a host without a pinned key is refused.
fn unpinned_message(plan: &Plan, h: &Host) -> String {
    format!(
        "no pinned host key for {} ({}); Ansible checks host keys against rackstrap's pins: \
         discover it first (rackstrap discover {} --port {} --accept-new, or accept its key \
         in the wizard)",
        h.name,
        crate::ssh::known_hosts::host_pattern(&h.address, plan.access.port),
        h.address,
        plan.access.port
    )
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
/// `expand`: the program and key path resolved (to run it) or as an operator in the tree
/// types them (to show it, as the Akash guide does: Ansible resolves `~` in `--private-key`
/// itself). `limit`: the plan hosts to run on when not all (`apply --host`).
pub fn playbook_command(plan: &Plan, expand: bool, limit: &[String]) -> Vec<String> {
    let tree = crate::kubespray::Tree::of(plan);
    let (program, identity) = if expand {
        (
            tree.ansible_program().display().to_string(),
            crate::paths::expand_home(&plan.access.identity)
                .display()
                .to_string(),
        )
    } else {
        (shown_program(&tree), plan.access.identity.clone())
    };
    let mut words = vec![
        program,
        "-i".into(),
        format!("inventory/{}/hosts.yaml", plan.cluster.name),
        "-b".into(),
        "-v".into(),
        format!("--private-key={identity}"),
    ];
    if !limit.is_empty() {
        words.push(format!("--limit={}", limit.join(",")));
    }
    words.push(PLAYBOOK.into());
    words
}

/// The release's facts playbook with the options of `cluster_words`, without `--limit`.
fn facts_command(plan: &Plan, cluster_words: &[String]) -> Vec<String> {
    let facts = crate::kubespray::release_of(plan)
        .map(|r| r.facts_playbook)
        .unwrap_or("playbooks/facts.yml");
    let mut words: Vec<String> = cluster_words
        .iter()
        .filter(|w| !w.starts_with("--limit="))
        .cloned()
        .collect();
    if let Some(last) = words.last_mut() {
        *last = facts.to_string();
    }
    words
}

/// `venv/bin/ansible-playbook` when the tree has its virtualenv, else `ansible-playbook`.
fn shown_program(tree: &crate::kubespray::Tree) -> String {
    match tree.venv_ansible() {
        Some(_) => format!("{}/bin/ansible-playbook", crate::kubespray::tree::VENV_DIR),
        None => "ansible-playbook".into(),
    }
}

/// The hosts to pass to `--limit`: the selected ones when they are not every plan host.
pub fn limit_of(plan: &Plan, selected: &[String]) -> Vec<String> {
    let all: Vec<&str> = plan
        .hosts
        .iter()
        .filter(|h| !h.roles.is_empty())
        .map(|h| h.name.as_str())
        .collect();
    let chosen: Vec<String> = all
        .iter()
        .filter(|h| selected.iter().any(|s| s == *h))
        .map(|h| h.to_string())
        .collect();
    if selected.is_empty() || chosen.len() == all.len() {
        Vec::new()
    } else {
        chosen
    }
}

/// A path for a shell line, `~/` left unquoted so the shell still expands it.
pub fn shell_path(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("~/{}", quote(rest)),
        None => quote(path),
    }
}

/// `ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_SSH_ARGS=... ansible-playbook ...` as an operator
/// would type it; `known_hosts` is the pinned-keys file as shown.
fn playbook_line(words: &[String], known_hosts: &str) -> String {
    let shown: Vec<String> = words
        .iter()
        .map(|w| match w.strip_prefix("--private-key=~/") {
            Some(rest) => format!("--private-key=~/{}", quote(rest)),
            None => quote(w),
        })
        .collect();
    let env: Vec<String> = host_key_env(known_hosts)
        .iter()
        .map(|(k, v)| format!("{k}={}", quote(v)))
        .collect();
    format!("{} {}", env.join(" "), shown.join(" "))
}

/// The pinned-keys file as the plan names the tree (`~` kept: OpenSSH expands it itself).
fn shown_known_hosts(plan: &Plan) -> String {
    format!(
        "{}/inventory/{}/{KNOWN_HOSTS_FILE}",
        plan.cluster.kubespray.path.trim_end_matches('/'),
        plan.cluster.name
    )
}

/// Everything the stage does, as the commands an operator would type in the tree.
/// `pinned`: the pinned-keys file's contents when known (else the step is described).
pub fn commands(
    plan: &Plan,
    inventory_exists: bool,
    pinned: Option<&str>,
    limit: &[String],
) -> Result<Vec<Cmd>, StepError> {
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
    let known_path = format!("{inv}/{KNOWN_HOSTS_FILE}");
    cmds.push(match pinned {
        Some(text) => Cmd::write_file(&known_path, text),
        None => Cmd::new(format!(
            "# write the host keys pinned for the plan's hosts to {}",
            quote(&known_path)
        )),
    });
    if crate::kubespray::inventory::has_checks(plan) {
        let tree = crate::kubespray::Tree::of(plan);
        let mut words = crate::kubespray::inventory::command(
            &tree,
            Path::new(&format!("{inv}/{}", crate::render::HOSTS_FILE)),
        );
        words[0] = shown_program(&tree);
        cmds.push(Cmd::words(words.iter().map(String::as_str)));
    }
    let words = playbook_command(plan, false, limit);
    if !limit.is_empty() {
        cmds.push(Cmd::new(playbook_line(
            &facts_command(plan, &words),
            &shown_known_hosts(plan),
        )));
    }
    cmds.push(Cmd::new(playbook_line(&words, &shown_known_hosts(plan))));
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
        let tree = crate::paths::expand_home(&ctx.plan.cluster.kubespray.path);
        let exists = tree.join("inventory").join(&ctx.plan.cluster.name).is_dir();
        commands(ctx.plan, exists, None, &[])
    }

    fn pane(&self) -> Option<&'static str> {
        Some(ANSIBLE_PANE)
    }

    async fn run_cluster(&self, ctx: ClusterCtx<'_>, pane: &mut StepLog) -> ClusterResults {
        run(
            ctx.plan,
            ctx.hosts,
            &limit_of(ctx.plan, ctx.selected),
            ctx.dry_run,
            ctx.known_hosts,
            pane,
            ctx.per_host,
            ctx.stall,
        )
        .await
    }
}

/// Runs Kubespray for `hosts` (the plan hosts that take part), reporting through `pane`
/// (Ansible's whole output) and `per_host` (progress and the result of each host). `known`:
/// rackstrap's known_hosts files, whose pins for the plan's hosts Ansible's ssh checks.
/// `stall`: how long `ansible-playbook` may stay quiet and what happens then
/// ([`KUBESPRAY_STALL`] unless the run sets one limit for every command).
/// Returns each host's result: `Ok(summary)` or the failure.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    plan: &Plan,
    hosts: &[&Host],
    limit: &[String],
    dry_run: bool,
    known: Option<&KnownHosts>,
    pane: &mut StepLog,
    per_host: &BTreeMap<String, StepLog>,
    stall_policy: &crate::provision::stall::StallPolicy,
) -> BTreeMap<String, Result<String, StepError>> {
    let all_fail = |e: StepError| -> BTreeMap<String, Result<String, StepError>> {
        hosts
            .iter()
            .map(|h| (h.name.clone(), Err(e.clone())))
            .collect()
    };
    let tree = crate::paths::expand_home(&plan.cluster.kubespray.path);
    let inv_dir = tree.join("inventory").join(&plan.cluster.name);
    let is_tree = tree.join(PLAYBOOK).is_file() && tree.join("inventory/sample").is_dir();
    let not_a_tree = || {
        format!(
            "{} is not a Kubespray tree (no {PLAYBOOK} or inventory/sample); set cluster.kubespray.path",
            tree.display()
        )
    };
    let pinned = pinned_keys(plan, known);
    let exists = inv_dir.is_dir();
    if dry_run {
        // A dry run lists what apply would do even where it would refuse: the refusals are
        // warnings here, so the stages after this one are listed too.
        if !is_tree {
            pane.note(&format!("warning: {}", not_a_tree()));
        }
        if let Err(missing) = &pinned {
            for h in missing {
                pane.note(&format!("warning: {}", unpinned_message(plan, h)));
            }
        }
        return match commands(plan, exists, pinned.as_deref().ok(), limit) {
            Ok(cmds) => {
                for c in cmds {
                    pane.note(&format!("would run: {}", c.shell));
                }
                hosts
                    .iter()
                    .map(|h| (h.name.clone(), Ok("dry run".to_string())))
                    .collect()
            }
            Err(e) => all_fail(e),
        };
    }
    if !is_tree {
        return all_fail(StepError::Check(format!(
            "{}; `rackstrap kubespray prepare PLAN` clones the plan's release there",
            not_a_tree()
        )));
    }
    // The tree's release and its Ansible, before anything runs.
    let p = plan.clone();
    let refusals: Vec<String> =
        tokio::task::spawn_blocking(move || crate::kubespray::tree::findings(&p))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|f| match f.hint {
                Some(h) => format!("{} ({h})", f.message),
                None => f.message,
            })
            .collect();
    if !refusals.is_empty() {
        for r in &refusals {
            pane.note(&format!("refused: {r}"));
        }
        return all_fail(StepError::Check(refusals.join("; ")));
    }
    // Every plan host is in the inventory, so one host without a pin stops the whole run.
    let pinned = match pinned {
        Ok(text) => text,
        Err(missing) => {
            let names: Vec<&str> = missing.iter().map(|h| h.name.as_str()).collect();
            return hosts
                .iter()
                .map(|h| {
                    let msg = if names.contains(&h.name.as_str()) {
                        unpinned_message(plan, h)
                    } else {
                        format!(
                            "not run: Ansible needs every host's key pinned first ({} not pinned)",
                            names.join(", ")
                        )
                    };
                    (h.name.clone(), Err(StepError::Check(msg)))
                })
                .collect();
        }
    };
    let mut files = match inventory_files(plan) {
        Ok(f) => f,
        Err(e) => return all_fail(e),
    };
    files.push(RenderedFile {
        path: PathBuf::from(KNOWN_HOSTS_FILE),
        contents: pinned,
    });
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
    if let Err(e) = crate::render::create_private_dir(&inv_dir)
        .and_then(|()| crate::render::write(&files, &inv_dir))
    {
        return all_fail(StepError::Check(format!(
            "writing the inventory into {}: {e}",
            inv_dir.display()
        )));
    }

    // Ansible's ssh does not run in the tree: the pinned-keys file is named absolutely.
    let known_file = std::path::absolute(inv_dir.join(KNOWN_HOSTS_FILE))
        .unwrap_or_else(|_| inv_dir.join(KNOWN_HOSTS_FILE))
        .display()
        .to_string();
    // Kubespray's own inventory checks (connection local, no host touched).
    if crate::kubespray::inventory::has_checks(plan) {
        let t = crate::kubespray::Tree::of(plan);
        pane.command(
            &crate::kubespray::inventory::command(
                &t,
                Path::new(&format!(
                    "inventory/{}/{}",
                    plan.cluster.name,
                    crate::render::HOSTS_FILE
                )),
            )
            .iter()
            .map(|w| quote(w))
            .collect::<Vec<_>>()
            .join(" "),
        );
        let (p, f) = (plan.clone(), files.clone());
        let checked = tokio::task::spawn_blocking(move || {
            crate::kubespray::inventory::check_files(&p, &crate::kubespray::Tree::of(&p), &f)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match checked {
            Ok(findings) if findings.is_empty() => {
                pane.note("Kubespray accepts the inventory");
            }
            Ok(findings) => {
                let msgs: Vec<String> = findings.into_iter().map(|f| f.message).collect();
                for m in &msgs {
                    pane.note(&format!("refused: {m}"));
                }
                return all_fail(StepError::Check(msgs.join("; ")));
            }
            Err(e) => return all_fail(StepError::Check(e)),
        }
    }
    // Kubespray asks for the facts of every node before a limited run
    // (docs/operations/nodes.md: "Before using `--limit` run playbook `facts.yml` without the
    // limit"): with `--host`, its facts playbook runs over the whole inventory first.
    let words = playbook_command(plan, true, limit);
    let mut runs = Vec::new();
    if !limit.is_empty() {
        runs.push(facts_command(plan, &words));
    }
    runs.push(words);
    let last_run = runs.len() - 1;
    let mut parser = Parser::new();
    let mut last_err = String::new();
    // Kubespray prints a line per task and host; silence this long means it hangs (a host
    // that stopped answering mid-task, a prompt nobody sees).
    let stall = stall_policy.limit_or(KUBESPRAY_STALL);
    let mut status = -1;
    for (run_no, words) in runs.iter().enumerate() {
        pane.command(&playbook_line(words, &known_file));
        parser = Parser::new();
        last_err.clear();
        let child = tokio::process::Command::new(&words[0])
            .args(&words[1..])
            .current_dir(&tree)
            .envs(crate::kubespray::Tree::of(plan).ansible_env())
            .envs(host_key_env(&known_file))
            .env("ANSIBLE_FORCE_COLOR", "1")
            .env("ANSIBLE_STDOUT_CALLBACK", "default")
            // ansible-core 2.18 prints results over several lines unless told not to; the parser
            // reads the one-line JSON after `=>`.
            .env("ANSIBLE_CALLBACK_FORMAT_PRETTY", "false")
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
                    "cannot start {}: {e}; `rackstrap kubespray prepare PLAN` makes the tree's \
                     virtualenv with Kubespray's requirements.txt",
                    words[0]
                )));
            }
        };
        let mut rx = output_lines(&mut child);

        let mut heard = tokio::time::Instant::now();
        loop {
            let next = match tokio::time::timeout(stall, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    // Quiet for the limit: the run's policy says fail, wait again, or ask.
                    let quiet = heard.elapsed();
                    let mut question = stall_policy.stalled(pane, "ansible-playbook", quiet, stall);
                    tokio::select! {
                        answer = question.answer() => match answer {
                            StallAnswer::Wait => continue,
                            StallAnswer::Fail => {
                                drop(question);
                                let _ = child.kill().await;
                                let message = crate::provision::stall::stalled_message(
                                    "ansible-playbook",
                                    heard.elapsed(),
                                );
                                pane.note(&message);
                                return all_fail(StepError::Check(message));
                            }
                        },
                        next = rx.recv() => next,
                    }
                }
            };
            heard = tokio::time::Instant::now();
            let Some(OutLines { lines, stderr }) = next else {
                break;
            };
            if stderr && let Some(l) = lines.iter().rfind(|l| !l.trim().is_empty()) {
                last_err = crate::provision::log::strip_ansi(l.trim());
            }
            let updates: Vec<Update> = lines.iter().flat_map(|l| parser.feed(l)).collect();
            pane.lines(lines, stderr);
            for u in updates {
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
                                lines: format!("failed: {failure}").into(),
                                stderr: true,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        status = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
        pane.note(&format!("ansible-playbook exited {status}"));
        if run_no < last_run && status != 0 {
            return all_fail(StepError::Check(format!(
                "{} (run over every host before a --limit run) exited {status}{}",
                words[words.len() - 1],
                if last_err.is_empty() {
                    String::new()
                } else {
                    format!(": {last_err}")
                }
            )));
        }
    }

    hosts
        .iter()
        .map(|h| {
            let r = match (parser.recap.get(&h.name), parser.failures.get(&h.name)) {
                (_, Some(f)) if f.unreachable && is_host_key_failure(&f.message) => {
                    Err(StepError::Check(format!(
                        "host key changed: {} no longer offers the key pinned for it, so Ansible \
                         ran nothing there (reinstalled? re-discover it and accept the new key \
                         only if you expected the change): {f}",
                        h.address
                    )))
                }
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

/// OpenSSH's words for a host key that does not match the pinned one.
fn is_host_key_failure(message: &str) -> bool {
    message.contains("Host key verification failed")
        || message.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
}

/// The state a host's Kubespray result becomes.
pub fn state_of(r: &Result<String, StepError>) -> StepState {
    if r.is_ok() {
        StepState::Done
    } else {
        StepState::Failed
    }
}

/// The child's stdout and stderr as one stream of batches of lines, each batch the lines of
/// one stream that were read together (what one read from the pipe completed); the stream
/// ends when both are closed. Every `ansible-playbook` run reads it so.
pub fn output_lines(
    child: &mut tokio::process::Child,
) -> tokio::sync::mpsc::UnboundedReceiver<OutLines> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<OutLines>();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_batches(out, false, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_batches(err, true, tx));
    }
    rx
}

async fn read_batches(
    pipe: impl tokio::io::AsyncRead + Unpin,
    stderr: bool,
    tx: tokio::sync::mpsc::UnboundedSender<OutLines>,
) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(first)) = lines.next_line().await {
        let mut batch = vec![first];
        // Complete lines already read from the pipe arrived with the first: one batch.
        while memchr::memchr(b'\n', lines.get_ref().buffer()).is_some() {
            match lines.next_line().await {
                Ok(Some(l)) => batch.push(l),
                _ => break,
            }
        }
        if tx
            .send(OutLines {
                lines: batch,
                stderr,
            })
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(port: u16) -> Plan {
        serde_yaml::from_str(&format!(
            "version: 1\ncluster: {{name: c, kubespray: {{path: ~/ks}}}}\n\
             access: {{user: root, port: {port}, identity: ~/.ssh/id}}\nhosts:\n\
             \x20 - {{name: a, address: 10.0.0.1, roles: [control_plane, etcd, worker]}}\n\
             \x20 - {{name: b, address: 10.0.0.2, roles: [worker]}}\n"
        ))
        .expect("plan")
    }

    fn key(seed: u8) -> russh::keys::PublicKey {
        russh::keys::PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
            &[seed; 32],
        ))
        .public_key()
        .clone()
    }

    #[test]
    fn pinned_keys_are_the_plan_hosts_pins_or_the_hosts_without_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let known = KnownHosts {
            own: dir.path().join("known_hosts"),
            extra: vec![],
        };
        let p = plan(2222);
        let names = |r: Result<String, Vec<&Host>>| -> Vec<String> {
            r.expect_err("missing")
                .iter()
                .map(|h| h.name.clone())
                .collect()
        };
        assert_eq!(names(pinned_keys(&p, None)), ["a", "b"]);
        known.pin("10.0.0.1", 2222, &key(1)).expect("pin");
        // Pinned for another port is not pinned for this one.
        known.pin("10.0.0.2", 22, &key(2)).expect("pin");
        assert_eq!(names(pinned_keys(&p, Some(&known))), ["b"]);
        known.pin("10.0.0.2", 2222, &key(2)).expect("pin");
        known.pin("10.0.0.9", 2222, &key(3)).expect("pin");
        let text = pinned_keys(&p, Some(&known)).expect("all pinned");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                format!("[10.0.0.1]:2222 {}", key(1).to_openssh().expect("key")),
                format!("[10.0.0.2]:2222 {}", key(2).to_openssh().expect("key")),
            ]
        );
        // Port 22: plain addresses, as OpenSSH looks them up.
        assert_eq!(names(pinned_keys(&plan(22), Some(&known))), ["a"]);
    }

    #[test]
    fn selected_hosts_become_a_limit_only_when_not_all() {
        let p = plan(22);
        assert_eq!(limit_of(&p, &[]), Vec::<String>::new());
        assert_eq!(
            limit_of(&p, &["a".to_string(), "b".to_string()]),
            Vec::<String>::new()
        );
        assert_eq!(limit_of(&p, &["b".to_string()]), ["b"]);
        let words = playbook_command(&p, false, &limit_of(&p, &["b".to_string()]));
        assert_eq!(words[words.len() - 2], "--limit=b");
        assert_eq!(words[words.len() - 1], "cluster.yml");
        assert!(
            !playbook_command(&p, false, &[])
                .iter()
                .any(|w| w.starts_with("--limit"))
        );
        // A limited run gathers every host's facts first, as Kubespray asks.
        let cmds = commands(&p, true, None, &["b".to_string()]).expect("commands");
        let n = cmds.len();
        assert!(
            cmds[n - 2]
                .shell
                .ends_with("--private-key=~/.ssh/id playbooks/facts.yml"),
            "{}",
            cmds[n - 2].shell
        );
        assert!(cmds[n - 1].shell.ends_with("--limit=b cluster.yml"));
        let cmds = commands(&p, true, None, &[]).expect("commands");
        assert!(!cmds.iter().any(|c| c.shell.contains("facts.yml")));
    }

    #[test]
    fn ansible_runs_with_strict_checking_against_the_pins_only() {
        let env = host_key_env("/k s/.known_hosts");
        assert_eq!(env[0], ("ANSIBLE_HOST_KEY_CHECKING", "True".to_string()));
        assert_eq!(env[1].0, "ANSIBLE_SSH_ARGS");
        let args = shlex::split(&env[1].1).expect("ssh args split like Ansible does");
        assert!(args.contains(&"UserKnownHostsFile=/k s/.known_hosts".to_string()));
        assert!(args.contains(&"StrictHostKeyChecking=yes".to_string()));
        assert!(args.contains(&"GlobalKnownHostsFile=/dev/null".to_string()));
        let line = commands(&plan(22), true, None, &[])
            .expect("commands")
            .pop()
            .expect("playbook line")
            .shell;
        let words = shlex::split(&line).expect("a shell line");
        assert_eq!(words[0], "ANSIBLE_HOST_KEY_CHECKING=True");
        assert!(words[1].starts_with("ANSIBLE_SSH_ARGS=-o ControlMaster=auto"));
        assert!(words[1].contains("UserKnownHostsFile=~/ks/inventory/c/.known_hosts"));
        assert_eq!(words[2], "ansible-playbook");
    }
}
