//! Host prep: the kernel parameters of "STEP 9 - Custom Kernel Parameters" in Akash's
//! "Kubernetes Cluster for Akash Providers" guide (docs/sources.md) written to a sysctl file and loaded,
//! and the packages the later stages need (mdadm for md levels, xfsprogs for XFS, e2fsprogs
//! for ext4, python3 for Ansible on every Kubespray node).
//!
//! Check compares the live file, the live values and the packages present (`dpkg-query`, or
//! the package's tool on the PATH) with what the plan needs, in one read-only probe
//! ([`check_script`]), so a second run finds nothing to do and `apt-get` runs only for what
//! is missing. The dry run uses the same answer when
//! discovery's facts carry it (`Installed::packages`).

use async_trait::async_trait;

use crate::plan::{Filesystem, Host, Plan};
use crate::provision::cmd::{Cmd, StepError, quote};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Stage};

pub struct HostPrep;

/// The sysctl file's path on the host (the renderer's; the Akash guide's own file is
/// `/etc/sysctl.d/90-akash.conf`, rackstrap's is named after the tool so the two never clash).
pub fn sysctl_path(_plan: &Plan) -> String {
    crate::render::SYSCTL_REMOTE_PATH.to_string()
}

/// The sysctl file's contents (rendered, the Akash guide's `key = value` lines); `None` when
/// the plan sets no kernel parameters.
pub fn sysctl_contents(plan: &Plan) -> Option<String> {
    if plan.tuning.sysctl.is_empty() {
        None
    } else {
        Some(crate::render::sysctl(plan))
    }
}

/// A Debian package a later stage needs, and the command that shows it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Package {
    pub name: &'static str,
    pub tool: &'static str,
}

/// mdadm: the storage stage's md arrays (`mdadm --create`, `mkconf`).
pub const MDADM: Package = Package {
    name: "mdadm",
    tool: "mdadm",
};
/// xfsprogs: `mkfs.xfs` for XFS layouts.
pub const XFSPROGS: Package = Package {
    name: "xfsprogs",
    tool: "mkfs.xfs",
};
/// e2fsprogs: `mkfs.ext4` for ext4 layouts.
pub const E2FSPROGS: Package = Package {
    name: "e2fsprogs",
    tool: "mkfs.ext4",
};
/// python3: Ansible runs its modules with the managed host's Python, so every Kubespray
/// node needs an interpreter (Kubespray's requirements for target servers).
pub const PYTHON3: Package = Package {
    name: "python3",
    tool: "python3",
};

/// Every package host prep may install; the facts script probes the same list
/// (`facts::gather::SCRIPT`, section `packages`).
pub const KNOWN: [Package; 4] = [MDADM, XFSPROGS, E2FSPROGS, PYTHON3];

/// The packages this host needs: python3 for Ansible on every host, and the tools of its
/// storage layouts.
pub fn packages(host: &Host) -> Vec<Package> {
    let mut p = Vec::new();
    if host.storage.iter().any(|l| l.level.is_md()) {
        p.push(MDADM);
    }
    if host.storage.iter().any(|l| l.filesystem == Filesystem::Xfs) {
        p.push(XFSPROGS);
    }
    if host
        .storage
        .iter()
        .any(|l| l.filesystem == Filesystem::Ext4)
    {
        p.push(E2FSPROGS);
    }
    p.push(PYTHON3);
    p
}

/// Shell that prints the name of each package that is present: dpkg-query says it is
/// installed, or its tool is on the PATH (an interpreter or tool installed another way
/// serves the later stages as well). Read-only.
pub fn probe(pkgs: &[Package]) -> String {
    let pairs: Vec<String> = pkgs
        .iter()
        .map(|p| format!("{}:{}", p.name, p.tool))
        .collect();
    format!(
        "for p in {}; do n=${{p%%:*}}; t=${{p#*:}}; {{ [ \"$(dpkg-query -W -f='${{db:Status-Status}}' \"$n\" 2>/dev/null)\" = installed ] || command -v \"$t\" >/dev/null 2>&1; }} && echo \"$n\"; done",
        pairs.join(" ")
    )
}

/// The wanted packages that `present` (the probe's output lines) lacks, in `wanted`'s order.
pub fn missing<'a, S: AsRef<str>>(wanted: &'a [Package], present: &[S]) -> Vec<&'a str> {
    wanted
        .iter()
        .filter(|p| !present.iter().any(|l| l.as_ref().trim() == p.name))
        .map(|p| p.name)
        .collect()
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

/// The last line of the probe's `sysctl` section when `sysctl -n` succeeded.
const SYSCTL_OK: &str = "rackstrap-sysctl-ok";

/// Host prep's look at a host, one command in the host-probe protocol
/// ([`crate::facts::probe`]): whether the sysctl file holds exactly what the plan renders
/// (`cmp` against the rendered text), the live values of the plan's keys, and which of the
/// `wanted` packages are present ([`probe`]).
pub fn check_script(plan: &Plan, wanted: &[Package]) -> crate::facts::probe::Script {
    let mut script = crate::facts::probe::Script::new();
    if let Some(want) = sysctl_contents(plan) {
        let keys: Vec<String> = plan.tuning.sysctl.keys().map(|k| quote(k)).collect();
        script = script
            .section(
                "sysctl_file",
                format!(
                    "printf '%s' {} | cmp -s - {} && echo same; true",
                    quote(&want),
                    quote(&sysctl_path(plan))
                ),
            )
            .section(
                "sysctl",
                format!(
                    "v=\"$(sysctl -n {} 2>/dev/null)\" && printf '%s\\n{SYSCTL_OK}\\n' \"$v\"; true",
                    keys.join(" ")
                ),
            );
    }
    script.section("packages", probe(wanted))
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

    /// Writing and loading the kernel parameters leaves the disks as they were; installing
    /// packages may not (mdadm's package assembles the arrays it finds).
    fn changes_looks(&self, ctx: &Ctx<'_>, cmds: &[Cmd]) -> bool {
        let sysctl = sysctl_cmds(ctx.plan);
        cmds.iter().any(|c| !sysctl.contains(c))
    }

    /// The kernel parameters and the packages, in words.
    fn summary(&self, ctx: &Ctx<'_>) -> Vec<String> {
        let mut out = Vec::new();
        if !ctx.plan.tuning.sysctl.is_empty() {
            out.push(format!(
                "{} kernel parameters set in {}",
                ctx.plan.tuning.sysctl.len(),
                sysctl_path(ctx.plan)
            ));
        }
        let wanted = packages(ctx.host);
        match ctx.facts.and_then(|f| f.installed.packages.as_ref()) {
            Some(present) => {
                let missing = missing(&wanted, present);
                if !missing.is_empty() {
                    out.push(format!("packages installed: {}", missing.join(", ")));
                }
            }
            None => out.push(format!(
                "packages installed where missing: {}",
                wanted.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
            )),
        }
        out
    }

    /// With facts that list the present packages (discovery probes them), only the missing
    /// ones are installed; without, every package the host needs is listed.
    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        let wanted = packages(ctx.host);
        let pkgs = match ctx.facts.and_then(|f| f.installed.packages.as_ref()) {
            Some(present) => missing(&wanted, present),
            None => wanted.iter().map(|p| p.name).collect(),
        };
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
        let wanted = packages(ctx.host);
        let out = remote
            .capture(&check_script(ctx.plan, &wanted).one_line())
            .await?;
        let sections = crate::facts::probe::split(&out.stdout);
        if !sections.complete() {
            let why = match out.stderr.trim() {
                "" => format!("the probe stopped before its end (status {})", out.status),
                stderr => stderr.to_string(),
            };
            return Err(StepError::Check(format!(
                "could not look at the host: {why}"
            )));
        }
        if sysctl_contents(ctx.plan).is_some() {
            let path = sysctl_path(ctx.plan);
            let file_ok = sections.words("sysctl_file").any(|l| l == "same");
            let live: Vec<&str> = sections.text("sysctl").lines().collect();
            let live_ok = live.last().map(|l| l.trim()) == Some(SYSCTL_OK)
                && live
                    .iter()
                    .zip(ctx.plan.tuning.sysctl.values())
                    .all(|(l, v)| normalise(l) == normalise(&v.to_string()));
            if !(file_ok && live_ok) {
                cmds.extend(sysctl_cmds(ctx.plan));
            } else {
                log.note(&format!("{path} is in place and loaded"));
            }
        }
        let present: Vec<&str> = sections.words("packages").collect();
        let missing = missing(&wanted, &present);
        let names: Vec<&str> = wanted.iter().map(|p| p.name).collect();
        if missing.is_empty() {
            log.note(&format!(
                "packages {} present: nothing to install",
                names.join(", ")
            ));
        } else {
            log.note(&format!("to install: {}", missing.join(", ")));
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

    fn host(storage: &str) -> Host {
        serde_yaml::from_str(&format!(
            "{{name: n1, address: 10.0.0.1, roles: [worker], storage: {storage}}}"
        ))
        .expect("host")
    }

    #[test]
    fn package_set_follows_the_layouts() {
        let names = |h: &Host| packages(h).iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(&host("[]")), ["python3"]);
        assert_eq!(
            names(&host(
                "[{level: raid0, devices: [a, b], mount: /data}, {level: per-disk, devices: [c], filesystem: xfs, mount: /ais}]"
            )),
            ["mdadm", "xfsprogs", "e2fsprogs", "python3"]
        );
    }

    #[test]
    fn missing_is_what_the_probe_did_not_print() {
        let wanted = [MDADM, E2FSPROGS, PYTHON3];
        assert_eq!(missing(&wanted, &["e2fsprogs", "python3"]), ["mdadm"]);
        assert!(missing(&wanted, &["python3", "mdadm", "e2fsprogs", ""]).is_empty());
        assert_eq!(missing(&wanted, &[] as &[&str]).len(), 3);
    }

    /// The facts script probes the same packages, the same way, as the stage's check.
    #[test]
    fn facts_script_probes_the_known_packages() {
        let line = crate::facts::gather::SCRIPT
            .lines()
            .find(|l| l.starts_with("s packages; "))
            .expect("packages section");
        assert_eq!(line.trim_start_matches("s packages; "), probe(&KNOWN));
    }

    /// The probe really runs (here, on this machine's shell) and names only present packages.
    #[test]
    fn probe_runs_in_sh() {
        let fake = Package {
            name: "rackstrap-no-such-package",
            tool: "rackstrap-no-such-tool",
        };
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(probe(&[
                fake,
                Package {
                    name: "sh-tool",
                    tool: "sh",
                },
            ]))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "sh-tool\n");
    }

    #[test]
    fn akash_guide_sysctl_file() {
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
