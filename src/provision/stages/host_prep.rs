//! Host prep: the kernel parameters of seed 001 step 9 written to a sysctl file and loaded,
//! and the packages the storage stage needs (mdadm for md levels, xfsprogs for XFS).
//!
//! Check compares the live file and the installed tools with what the plan needs, so a second
//! run finds nothing to do.

use async_trait::async_trait;

use crate::plan::{Filesystem, Host, Plan};
use crate::provision::cmd::{Cmd, StepError, quote};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Stage};

pub struct HostPrep;

/// The sysctl file's path on the host (the renderer's; seed 001 names it after the cluster).
pub fn sysctl_path(_plan: &Plan) -> String {
    crate::render::SYSCTL_REMOTE_PATH.to_string()
}

/// The sysctl file's contents (rendered, seed 001 step 9's `key = value` lines); `None` when
/// the plan sets no kernel parameters.
pub fn sysctl_contents(plan: &Plan) -> Option<String> {
    if plan.tuning.sysctl.is_empty() {
        None
    } else {
        Some(crate::render::sysctl(plan))
    }
}

/// Packages (Debian names) and the command each provides, needed by this host's layouts.
pub fn packages(host: &Host) -> Vec<(&'static str, &'static str)> {
    let mut p = Vec::new();
    if host.storage.iter().any(|l| l.level.is_md()) {
        p.push(("mdadm", "mdadm"));
    }
    if host.storage.iter().any(|l| l.filesystem == Filesystem::Xfs) {
        p.push(("xfsprogs", "mkfs.xfs"));
    }
    if host
        .storage
        .iter()
        .any(|l| l.filesystem == Filesystem::Ext4)
    {
        p.push(("e2fsprogs", "mkfs.ext4"));
    }
    p
}

fn install(pkgs: &[&str]) -> Vec<Cmd> {
    if pkgs.is_empty() {
        return Vec::new();
    }
    let mut words = vec![
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
    ];
    words.extend(pkgs);
    vec![Cmd::new("apt-get update"), Cmd::words(words)]
}

fn sysctl_cmds(plan: &Plan) -> Vec<Cmd> {
    match sysctl_contents(plan) {
        Some(c) => {
            let path = sysctl_path(plan);
            vec![
                Cmd::write_file(&path, &c),
                Cmd::words(["sysctl", "-p", &path]),
            ]
        }
        None => Vec::new(),
    }
}

#[async_trait]
impl Stage for HostPrep {
    fn id(&self) -> StageId {
        StageId::HostPrep
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        let pkgs: Vec<&str> = packages(ctx.host).iter().map(|p| p.0).collect();
        let mut cmds = sysctl_cmds(ctx.plan);
        cmds.extend(install(&pkgs));
        Ok(cmds)
    }

    async fn check(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        let mut cmds = Vec::new();
        if let Some(want) = sysctl_contents(ctx.plan) {
            let path = sysctl_path(ctx.plan);
            let have = remote.capture(&format!("cat {}", quote(&path))).await?;
            let keys: Vec<&str> = ctx.plan.tuning.sysctl.keys().map(String::as_str).collect();
            let live = remote
                .capture(&format!(
                    "sysctl -n {}",
                    keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(" ")
                ))
                .await?;
            let live_ok = live.ok()
                && live
                    .stdout
                    .lines()
                    .zip(ctx.plan.tuning.sysctl.values())
                    .all(|(l, v)| normalise(l) == normalise(&v.to_string()));
            if !(have.ok() && have.stdout == want && live_ok) {
                cmds.extend(sysctl_cmds(ctx.plan));
            } else {
                log.note(&format!("{path} is in place and loaded"));
            }
        }
        let mut missing = Vec::new();
        for (pkg, tool) in packages(ctx.host) {
            let found = remote
                .capture(&format!(
                    "command -v {tool} || [ -x /usr/sbin/{tool} ] || [ -x /sbin/{tool} ]"
                ))
                .await?;
            if found.ok() {
                log.note(&format!("{tool} present"));
            } else {
                missing.push(pkg);
            }
        }
        cmds.extend(install(&missing));
        Ok(cmds)
    }
}

/// sysctl prints tabs between multi-value fields.
fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_001_sysctl_file() {
        let plan: Plan = serde_yaml::from_str(
            "version: 1\ncluster: {name: akash}\ntuning:\n  sysctl: {fs.inotify.max_user_instances: 512, fs.inotify.max_user_watches: 1048576, vm.max_map_count: 1000000}\n",
        )
        .expect("plan");
        let cmds = sysctl_cmds(&plan);
        assert_eq!(
            cmds[0].shell,
            "cat > /etc/sysctl.d/99-rackstrap.conf <<'RACKSTRAP_EOF'\n# Written by rackstrap for cluster `akash`. Applied with `sysctl --system`.\n\
             fs.inotify.max_user_instances = 512\nfs.inotify.max_user_watches = 1048576\nvm.max_map_count = 1000000\nRACKSTRAP_EOF"
        );
        assert_eq!(cmds[1].shell, "sysctl -p /etc/sysctl.d/99-rackstrap.conf");
    }
}
