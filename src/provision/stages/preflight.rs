//! Preflight: a read-only look at each host before anything changes on it: it answers as
//! root (sudo works), what OS and kernel it runs, cgroup v2, swap, time sync, whether the
//! Kubernetes ports are free, and whether the plan's disks still look as planned (the storage
//! stage's own safety rules, run early so a bad disk stops the host before host prep).
//!
//! Errors fail the host; warnings are logged and the stage still passes.

use async_trait::async_trait;

use super::storage::{self, HostView};
use crate::facts::probe::{self, Script};
use crate::provision::cmd::{Cmd, StepError};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Stage};

/// Etcd client and peer, API server, kubelet (TCP): the control-plane ports of the Akash
/// guide "Kubernetes Cluster for Akash Providers", "STEP 10 - Review Firewall Policies"
/// (https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/).
pub const KUBE_PORTS: [u16; 4] = [2379, 2380, 6443, 10250];

pub struct Preflight;

/// The read-only probe: one command in the host-probe protocol ([`crate::facts::probe`]).
pub fn probe_command() -> Cmd {
    Cmd::new(probe_script().one_line())
}

/// The probe of a host in the plan: [`probe_command`], and for a host with planned disks the
/// storage stage's probe in the same command, so the host is looked at once; the storage
/// stage plans from that look ([`crate::provision::stage::Looks`]).
pub fn host_probe_command(host: &crate::plan::Host) -> Cmd {
    if host.storage.is_empty() {
        probe_command()
    } else {
        Cmd::new(storage::probe_sections(probe_script(), host).one_line())
    }
}

fn probe_script() -> Script {
    Script::new()
        .section("uid", "id -u")
        .section("os", "cat /etc/os-release")
        .section("kernel", "uname -r")
        .section("cgroup", "stat -fc %T /sys/fs/cgroup")
        .section("swap", "tail -n +2 /proc/swaps")
        .section(
            "time",
            "timeout 5 timedatectl show -p NTPSynchronized --value 2>/dev/null",
        )
        .section("listen", "ss -Htln 2>/dev/null")
        .section(
            "kube",
            "[ -e /etc/kubernetes/kubelet.conf ] && echo installed; true",
        )
}

/// What the probe found, as findings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub ok: Vec<String>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
}

pub fn assess(out: &str) -> Report {
    let sec = probe::split(out);
    let get = |k: &str| sec.text(k).lines().collect::<Vec<_>>();
    let mut r = Report::default();

    match get("uid").first().map(|s| s.trim()) {
        Some("0") => r.ok.push("commands run as root".into()),
        other => r.errors.push(format!(
            "commands do not run as root (uid {}); give the login passwordless sudo",
            other.unwrap_or("unknown")
        )),
    }

    let os = get("os");
    let field = |k: &str| {
        os.iter()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let (id, pretty) = (field("ID"), field("PRETTY_NAME"));
    if id == "ubuntu" || id == "debian" {
        r.ok.push(format!("OS {pretty}"));
    } else {
        r.warnings.push(format!(
            "OS {} is not Ubuntu or Debian; the Akash provider guide uses Ubuntu 22.04",
            if pretty.is_empty() {
                "unknown"
            } else {
                &pretty
            }
        ));
    }
    if let Some(k) = get("kernel").first() {
        r.ok.push(format!("kernel {}", k.trim()));
    }
    match get("cgroup").first().map(|s| s.trim()) {
        Some("cgroup2fs") => r.ok.push("cgroup v2".into()),
        other => r.warnings.push(format!(
            "cgroup v1 ({}); recent Kubernetes and containerd expect cgroup v2",
            other.unwrap_or("unknown")
        )),
    }
    let swaps: Vec<&str> = get("swap")
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if swaps.is_empty() {
        r.ok.push("swap off".into());
    } else {
        r.warnings.push(format!(
            "swap is on ({}); Kubespray turns it off",
            swaps
                .iter()
                .filter_map(|l| l.split_whitespace().next())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    match get("time").first().map(|s| s.trim()) {
        Some("yes") => r.ok.push("clock synchronised".into()),
        Some("no") => r
            .warnings
            .push("clock not synchronised; etcd and TLS need correct time".into()),
        _ => r
            .warnings
            .push("could not tell whether the clock is synchronised (no timedatectl)".into()),
    }
    let installed = get("kube").iter().any(|l| l.trim() == "installed");
    let listening = get("listen");
    let busy: Vec<u16> = KUBE_PORTS
        .into_iter()
        .filter(|p| {
            listening.iter().any(|l| {
                l.split_whitespace()
                    .nth(3)
                    .and_then(|local| local.rsplit(':').next())
                    .and_then(|port| port.parse::<u16>().ok())
                    == Some(*p)
            })
        })
        .collect();
    if busy.is_empty() {
        r.ok.push("ports 2379, 2380, 6443, 10250 free".into());
    } else if installed {
        r.ok.push(format!(
            "ports {busy:?} in use by the Kubernetes already installed here"
        ));
    } else {
        r.errors.push(format!(
            "port(s) {} already in use; Kubernetes needs them",
            busy.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    r
}

#[async_trait]
impl Stage for Preflight {
    fn id(&self) -> StageId {
        StageId::Preflight
    }

    fn between_hosts(&self) -> Option<crate::provision::probe::BetweenHosts> {
        Some(crate::provision::probe::preflight)
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        Ok(vec![host_probe_command(ctx.host)])
    }

    async fn check(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        let out = remote.capture(&host_probe_command(ctx.host).shell).await?;
        let mut report = assess(&out.stdout);
        if !ctx.host.storage.is_empty() {
            let view = HostView::from_probe(&out, log)?;
            if let Some(looks) = ctx.looks {
                looks.keep(view.clone());
            }
            match storage::plan_host(ctx.host, &view) {
                Ok(cmds) if cmds.is_empty() => {
                    report.ok.push("disks already laid out as planned".into())
                }
                Ok(_) => report.ok.push("planned disks present and free".into()),
                Err(e) => report.errors.push(format!("disks: {e}")),
            }
        }
        for l in &report.ok {
            log.note(&format!("ok: {l}"));
        }
        for l in &report.warnings {
            log.note(&format!("warning: {l}"));
        }
        for l in &report.errors {
            log.note(&format!("error: {l}"));
        }
        if report.errors.is_empty() {
            Ok(Vec::new())
        } else {
            Err(StepError::Check(report.errors.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_becomes_findings() {
        let out = "::rackstrap:: uid\n0\n::rackstrap:: os\nID=ubuntu\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n\
                   ::rackstrap:: kernel\n5.15.0-1\n::rackstrap:: cgroup\ncgroup2fs\n::rackstrap:: swap\n\
                   /swap.img file 100 0 -2\n::rackstrap:: time\nyes\n::rackstrap:: listen\n\
                   LISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*\nLISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n::rackstrap:: kube\n";
        let r = assess(out);
        assert_eq!(
            r.errors,
            vec!["port(s) 2379 already in use; Kubernetes needs them"]
        );
        assert_eq!(
            r.warnings,
            vec!["swap is on (/swap.img); Kubespray turns it off"]
        );
        assert!(r.ok.contains(&"OS Ubuntu 22.04.4 LTS".to_string()));
        let installed = out.replace("::rackstrap:: kube\n", "::rackstrap:: kube\ninstalled\n");
        assert!(assess(&installed).errors.is_empty());
        let user = out.replace("uid\n0", "uid\n1000");
        // An os-release crafted to look like the probe's next section stays os-release
        // when the run has a token.
        let tokened: String = out
            .lines()
            .map(|l| match l.strip_prefix("::rackstrap:: ") {
                Some(name) => format!("::rackstrap:: {name} 4e1f2a3b-5c6d\n"),
                None if l == "ID=ubuntu" => "ID=ubuntu\n::rackstrap:: uid\n1000\n".to_string(),
                None => format!("{l}\n"),
            })
            .collect();
        let r = assess(&tokened);
        assert!(r.ok.contains(&"commands run as root".to_string()), "{r:?}");
        assert!(assess(&user).errors[0].starts_with("commands do not run as root (uid 1000)"));
    }
}
