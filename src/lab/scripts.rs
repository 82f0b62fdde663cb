//! What the demo plays for each stage: the lab file's script with the plan's own values, or
//! for the storage stage the runner's own dry run for the host.

use super::LabLine;
use crate::plan::Plan;
use crate::provision::StageId;

/// Stages whose demo output the lab makes from the plan (the layouts the storage stage
/// formats) rather than from a script in the lab file.
pub fn scripted_from_plan(stage: StageId) -> bool {
    stage == StageId::Storage
}

/// Stages that run on each host on its own; the others need the whole cluster ready. The
/// runner's own stage declarations decide, so the demo cannot drift from it.
pub(super) fn per_host(stage: StageId) -> bool {
    crate::provision::stages::stage(stage).scope() == crate::provision::stage::Scope::EachHost
}

/// The scripted lines with the plan's own values where a script names them: the sysctl
/// file's lines, the MetalLB pools and the upstream DNS servers. The demo plays what the
/// plan says, not what the lab's script was written with.
pub(super) fn with_plan_values(plan: &Plan, lines: Vec<LabLine>) -> Vec<LabLine> {
    let mut out = Vec::with_capacity(lines.len());
    let mut in_sysctl = false;
    for l in lines {
        let plain = l.line.clone();
        if in_sysctl {
            if !plain.contains("sysctl -p") {
                continue;
            }
            in_sysctl = false;
        }
        if plain.contains("cat > /etc/sysctl.d/99-rackstrap.conf") {
            out.push(l.clone());
            for (key, value) in &plan.tuning.sysctl {
                out.push(LabLine {
                    ms: 100,
                    line: format!("{key} = {value}"),
                    stderr: false,
                });
            }
            in_sysctl = true;
            continue;
        }
        if plain.starts_with("MetalLB: IPAddressPool ") {
            for pool in &plan.network.load_balancer.pools {
                out.push(LabLine {
                    line: format!(
                        "MetalLB: IPAddressPool {} ({})",
                        pool.name,
                        pool.addresses.join(", ")
                    ),
                    ..l.clone()
                });
            }
            continue;
        }
        if plain.starts_with("CoreDNS forwards to ") {
            out.push(LabLine {
                line: format!(
                    "CoreDNS forwards to {}: ok",
                    plan.network.upstream_dns.join(" ")
                ),
                ..l
            });
            continue;
        }
        out.push(l);
    }
    out
}

/// The storage stage's output is the provisioning runner's own dry run for this host (the
/// commands the real stage would run), played with plausible timings.
pub(super) fn storage_script(plan: &Plan, host: &str) -> Vec<LabLine> {
    let mut out = Vec::new();
    for step in crate::provision::runner::dry_run(plan, None) {
        if step.stage != StageId::Storage || step.host != host {
            continue;
        }
        for cmd in step.commands.unwrap_or_default() {
            let first = cmd.lines().next().unwrap_or("").to_string();
            // mkfs, mdadm and initramfs take a while on real disks; the rest is quick.
            let ms = if ["mkfs", "mdadm --create", "update-initramfs"]
                .iter()
                .any(|p| first.starts_with(p))
            {
                1200
            } else {
                250
            };
            out.push(LabLine {
                ms: 150,
                line: format!("\x1b[36m$\x1b[0m {first}"),
                stderr: false,
            });
            out.push(LabLine {
                ms,
                line: "ok".into(),
                stderr: false,
            });
        }
    }
    out
}
