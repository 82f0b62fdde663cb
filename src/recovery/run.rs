//! Running a prepared action in the Kubespray tree: each step writes its inventory into
//! `inventory/<name>/` (with the pinned host keys, as the kubespray stage does), then runs its
//! command with Ansible's host key checks on rackstrap's pins and the fact cache in a
//! directory rackstrap owns. The first step that fails stops the action; the plan is saved
//! by the caller only when every step succeeded.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::plan::Plan;
use crate::provision::ansible::Parser;
use crate::provision::cmd::quote;
use crate::provision::log::StepLog;
use crate::provision::stages::kubespray::{
    KNOWN_HOSTS_FILE, PLAYBOOK, host_key_env, pinned_keys, shell_path,
};
use crate::render::RenderedFile;
use crate::ssh::known_hosts::KnownHosts;

use super::actions::{Prepared, Step};

/// Kubespray's fact cache, inside `inventory/<name>/` rather than `ansible.cfg`'s `/tmp`
/// (cleared on reboot and shared by every inventory on the machine). A dotdir: Ansible skips
/// it when reading the inventory directory.
pub const FACT_CACHE_DIR: &str = ".facts";

/// `ANSIBLE_CACHE_PLUGIN_CONNECTION`: the environment beats `ansible.cfg`'s
/// `fact_caching_connection`.
pub fn fact_cache_env(dir: &str) -> (&'static str, String) {
    ("ANSIBLE_CACHE_PLUGIN_CONNECTION", dir.to_string())
}

fn inventory_dir(plan: &Plan, tree: &str) -> String {
    format!(
        "{}/inventory/{}",
        tree.trim_end_matches('/'),
        plan.cluster.name
    )
}

/// A step's command as the operator would type it in the tree (paths as the plan names them).
pub fn shown_line(plan: &Plan, step: &Step) -> String {
    let inv = inventory_dir(plan, &plan.cluster.kubespray.path);
    let mut env: Vec<(String, String)> = host_key_env(&format!("{inv}/{KNOWN_HOSTS_FILE}"))
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let (k, v) = fact_cache_env(&format!("{inv}/{FACT_CACHE_DIR}"));
    env.push((k.to_string(), v));
    let env: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            if k == "ANSIBLE_CACHE_PLUGIN_CONNECTION" {
                format!("{k}={}", shell_path(v))
            } else {
                format!("{k}={}", quote(v))
            }
        })
        .collect();
    let words: Vec<String> = step
        .argv
        .iter()
        .map(|w| match w.strip_prefix("--private-key=~/") {
            Some(rest) => format!("--private-key=~/{}", quote(rest)),
            None => quote(w),
        })
        .collect();
    format!("{} {}", env.join(" "), words.join(" "))
}

/// Everything an action does, as text: the verdict, then per step its title, the inventory
/// it writes and its command line (`--dry-run`, the wizard's review, the golden tests).
pub fn describe(plan: &Plan, prepared: &Prepared, with_inventory: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {}",
        prepared.kind.as_str(),
        prepared.node,
        prepared.verdict.message()
    );
    let _ = writeln!(out, "Kubespray's guide: {}", prepared.doc);
    let mut last_inventory: Option<&[RenderedFile]> = None;
    for (i, s) in prepared.steps.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, s.title);
        if with_inventory && last_inventory != Some(s.inventory.as_slice()) {
            for f in &s.inventory {
                if f.path == Path::new(crate::render::HOSTS_FILE) {
                    let _ = writeln!(
                        out,
                        "   writes inventory/{}/{}:",
                        plan.cluster.name,
                        f.path.display()
                    );
                    for l in f.contents.lines() {
                        let _ = writeln!(out, "     {l}");
                    }
                }
            }
            last_inventory = Some(s.inventory.as_slice());
        }
        let _ = writeln!(out, "   $ {}", shown_line(plan, s));
    }
    out
}

/// Runs every step of `prepared`; `Err` names the step that failed and why.
pub async fn execute(
    plan: &Plan,
    prepared: &Prepared,
    known: Option<&KnownHosts>,
    pane: &mut StepLog,
) -> Result<(), String> {
    let tree = crate::paths::expand_home(&plan.cluster.kubespray.path);
    if !(tree.join(PLAYBOOK).is_file() && tree.join("inventory/sample").is_dir()) {
        return Err(format!(
            "{} is not a Kubespray tree (no {PLAYBOOK} or inventory/sample); set cluster.kubespray.path",
            tree.display()
        ));
    }
    let pinned = pinned_keys(plan, known).map_err(|missing| {
        format!(
            "no pinned host key for {}: discover the hosts first (Ansible checks keys against rackstrap's pins)",
            missing.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
        )
    })?;
    let inv_dir = tree.join("inventory").join(&plan.cluster.name);
    if !inv_dir.is_dir() {
        pane.command(&format!(
            "cp -rfp inventory/sample {}",
            quote(&format!("inventory/{}", plan.cluster.name))
        ));
        crate::render::copy_dir(&tree.join("inventory/sample"), &inv_dir)
            .map_err(|e| format!("copying inventory/sample: {e}"))?;
    }
    crate::render::create_private_dir(&inv_dir)
        .map_err(|e| format!("{}: {e}", inv_dir.display()))?;
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p).display().to_string();
    let known_file = abs(inv_dir.join(KNOWN_HOSTS_FILE));
    let cache = abs(inv_dir.join(FACT_CACHE_DIR));
    for (i, step) in prepared.steps.iter().enumerate() {
        let mut files = step.inventory.clone();
        files.push(RenderedFile {
            path: PathBuf::from(KNOWN_HOSTS_FILE),
            contents: pinned.clone(),
        });
        crate::render::write(&files, &inv_dir)
            .map_err(|e| format!("writing the inventory into {}: {e}", inv_dir.display()))?;
        pane.note(&format!("step {}: {}", i + 1, step.title));
        pane.command(&shown_line(plan, step));
        let mut argv: Vec<String> = step
            .argv
            .iter()
            .map(|w| match w.strip_prefix("--private-key=") {
                Some(p) => format!("--private-key={}", crate::paths::expand_home(p).display()),
                None => w.clone(),
            })
            .collect();
        // `venv/bin/ansible-playbook` is the tree's own virtualenv: named from the tree.
        if argv[0].contains('/') {
            argv[0] = tree.join(&argv[0]).display().to_string();
        }
        let env = crate::kubespray::Tree::of(plan).ansible_env();
        let status = run_streamed(&argv, &tree, &env, &known_file, &cache, pane).await?;
        if status != 0 {
            return Err(format!(
                "step {} ({}) failed: {} exited {status}",
                i + 1,
                step.title,
                argv[0]
            ));
        }
    }
    Ok(())
}

async fn run_streamed(
    argv: &[String],
    tree: &Path,
    env: &[(String, String)],
    known_file: &str,
    cache: &str,
    pane: &mut StepLog,
) -> Result<i32, String> {
    let mut child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(tree)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(host_key_env(known_file))
        .env("ANSIBLE_CACHE_PLUGIN_CONNECTION", cache)
        .env("ANSIBLE_STDOUT_CALLBACK", "default")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "False")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start {}: {e}; install ansible-core (Kubespray's requirements.txt)",
                argv[0]
            )
        })?;
    let mut rx = crate::provision::stages::kubespray::output_lines(&mut child);
    let mut parser = Parser::new();
    while let Some(chunk) = rx.recv().await {
        for line in &chunk.lines {
            parser.feed(line);
        }
        pane.lines(chunk.lines, chunk.stderr);
    }
    let status = child.wait().await.ok().and_then(|s| s.code()).unwrap_or(-1);
    for (host, f) in &parser.failures {
        pane.note(&format!("{host}: {f}"));
    }
    pane.note(&format!("{} exited {status}", argv[0]));
    Ok(status)
}
