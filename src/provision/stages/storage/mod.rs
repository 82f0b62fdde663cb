//! Storage: turns the plan's layouts into mounted filesystems, the way the Akash guide
//! "Kubernetes Cluster for Akash Providers"
//! (https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/),
//! "STEP 7 - Provider Ephemeral Storage Config", does by hand, and one XFS per disk at
//! `<mount>/<device>` as AIStore's "Deploying AIS on k8s" ("Playbook 4: Make Data
//! Filesystems") does.
//!
//! Three rooms: `view` is what the host has (one read-only probe, or the discovery facts
//! in a dry run), `plan` what to do about it (targets, progress, refusals), `commands`
//! the command lists that do it.
//!
//! Data flow: the host is looked at once (`HostView`: its block devices from `lsblk`, its
//! `/etc/fstab`, its mounts, which kube services and data directories exist), either live
//! over SSH or from discovery facts for the dry run. `plan_host` turns the plan plus that view
//! into the commands still needed, or a refusal. Refusals happen before any command runs on
//! the host. A target already laid out as planned (filesystem of the planned type, mounted at
//! the planned place, fstab entry by its UUID) produces no commands, so a second run changes
//! nothing. A run that stopped after mkfs (host lost before the fstab line) left a
//! filesystem labelled `rackstrap` on the planned device and nothing else: the next run
//! takes it as its own and goes on with the fstab line, the mount and the relocation, while a
//! filesystem without that label is refused as before.
//!
//! md arrays take the first `/dev/mdN` the host does not have, unless an array of the
//! planned level over exactly the planned members exists (then it is the plan's); an array
//! of another shape on a planned device or at the planned mount is refused.
//!
//! Per target the commands are, in order (the Akash guide's storage steps):
//! `wipefs -a` (only with `wipe: true`), `mdadm --create ... --metadata=1.2` (md levels),
//! `mkfs.ext4`/`mkfs.xfs` with the label `rackstrap` (`-L`), `cp -p /etc/fstab /etc/fstab.1`, the fstab line by UUID
//! (`defaults,discard` only when every member is non-rotational), `mkdir -p`, `mount`; then
//! once per host with md arrays `/usr/share/mdadm/mkconf > /etc/mdadm/mdadm.conf` and
//! `update-initramfs`; then the kubelet/containerd relocation: both services stopped and
//! disabled first (Kubespray enables and starts them again with the new paths, which the
//! renderer puts into `containerd_storage_dir` and `kubelet_custom_flags`), data moved.

mod commands;
mod plan;
mod view;

#[cfg(test)]
mod tests;

use async_trait::async_trait;

pub use commands::{FSTAB_BACKUP, MDADM_CONF, MKCONF, UPDATE_INITRAMFS, mount_options};
pub use plan::{Target, normalize_mount, plan_host, relocated_dir, relocation_notes, targets};
pub use view::{DeviceView, HostView, MdView, parse_probe, probe_command, probe_sections};

use crate::plan::{Host, Plan};
use crate::provision::cmd::{Cmd, StepError};
use crate::provision::event::StageId;
use crate::provision::log::StepLog;
use crate::provision::remote::Remote;
use crate::provision::stage::{Ctx, Stage};

/// Where kubelet and containerd keep their data before relocation (the Akash guide moves both):
/// the directories the renderer knows when nothing moves them.
pub use crate::render::{
    CONTAINERD_DEFAULT_DIR as CONTAINERD_DIR, KUBELET_DEFAULT_DIR as KUBELET_DIR,
};
/// The label every filesystem the stage makes gets (`mkfs -L`), so a rerun after a host died
/// between mkfs and the fstab line recognises the filesystem as its own and finishes the
/// remaining steps instead of refusing a formatted disk. 9 characters: XFS labels hold at
/// most 12, ext4 labels 16.
pub const FS_LABEL: &str = "rackstrap";
pub struct Storage;

#[async_trait]
impl Stage for Storage {
    fn id(&self) -> StageId {
        StageId::Storage
    }

    fn concerns(&self, _plan: &Plan, host: &Host) -> bool {
        !host.storage.is_empty()
    }

    fn destructive(&self) -> bool {
        true
    }

    fn dry_run(&self, ctx: &Ctx<'_>) -> Result<Vec<Cmd>, StepError> {
        let view = match ctx.facts {
            Some(f) => HostView::from_facts(f),
            None => HostView::unknown(ctx.host),
        };
        plan_host(ctx.host, &view)
    }

    async fn check(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<Vec<Cmd>, StepError> {
        let view = look(ctx, remote, log).await?;
        let cmds = plan_host(ctx.host, &view)?;
        for note in relocation_notes(ctx.host, &view) {
            log.note(&note);
        }
        Ok(cmds)
    }

    async fn verify(
        &self,
        ctx: &Ctx<'_>,
        remote: &dyn Remote,
        log: &mut StepLog,
    ) -> Result<(), StepError> {
        // After commands ran, the runner has forgotten the earlier look: this one is fresh.
        let view = look(ctx, remote, log).await?;
        let left = plan_host(ctx.host, &view)?;
        if left.is_empty() {
            Ok(())
        } else {
            Err(StepError::Check(format!(
                "after applying, {} command(s) would still be needed, first: {}",
                left.len(),
                left[0]
            )))
        }
    }
}

/// The host's disks: the run's last look when nothing changed the host since (preflight's
/// probe, or this stage's check before its verification), else a fresh probe, kept for the
/// steps after.
async fn look(
    ctx: &Ctx<'_>,
    remote: &dyn Remote,
    log: &mut StepLog,
) -> Result<HostView, StepError> {
    if let Some(view) = ctx.looks.and_then(|l| l.get::<HostView>()) {
        log.note("the disks as this run last looked at them (nothing changed them since)");
        return Ok(view);
    }
    let view = HostView::probe(ctx.host, remote, log).await?;
    if let Some(looks) = ctx.looks {
        looks.keep(view.clone());
    }
    Ok(view)
}
