//! Renders: plan -> the files rackstrap writes, as data.
//!
//! [`render`] turns a plan that passes [`crate::plan::check`] into [`RenderedFile`]s with
//! paths relative to an output directory; nothing here touches the disk except [`write`].
//! The same plan always gives byte-identical files (maps are ordered, nothing depends on
//! time or the machine), so the Review screen can show them and a test can pin them.
//!
//! Layout (what `rackstrap render PLAN --out DIR` writes):
//!
//! | path | what |
//! | --- | --- |
//! | `hosts.yaml` | Kubespray inventory in the Akash guide's shape |
//! | `host_vars/<host>.yml` | per-host Kubespray variables, only where hosts differ |
//! | `group_vars/all/zz-rackstrap.yml` | cluster-wide settings Kubespray reads for every host |
//! | `group_vars/k8s_cluster/zz-rackstrap.yml` | Kubernetes settings, MetalLB and kube-vip, Calico MTU |
//! | `extras/metallb.yaml` | MetalLB IPAddressPool + L2Advertisement for the Helm path |
//! | `extras/99-rackstrap.conf` | the sysctl file host prep installs in `/etc/sysctl.d/` |
//! | `extras/ports.md` | the ports each host must accept, and from where, for the firewall |
//!
//! The group_vars files carry only what the plan decides. They sit beside the files copied
//! once from the release's `inventory/sample` (never overwritten, so the sample's settings and
//! an operator's own edits stay) and, read last, win where both set a variable; Kubespray's
//! role defaults supply everything else.

use std::io;
use std::path::{Path, PathBuf};

use crate::plan::{Finding, Plan, check};

mod kubespray;
mod metallb;
mod ports;
pub mod validate;

pub use kubespray::{
    ALL_VARS_FILE, CLUSTER_VARS_FILE, CONTAINERD_DEFAULT_DIR, KUBELET_DEFAULT_DIR,
};

/// Inventory file, relative to the output directory.
pub const HOSTS_FILE: &str = "hosts.yaml";
/// MetalLB manifests for the Helm path (Akash "IP Leases - Provider Enablement", option 1).
pub const METALLB_FILE: &str = "extras/metallb.yaml";
/// The sysctl file; host prep installs it as `/etc/sysctl.d/99-rackstrap.conf`.
pub const SYSCTL_FILE: &str = "extras/99-rackstrap.conf";
/// Where host prep installs [`SYSCTL_FILE`] on each host.
pub const SYSCTL_REMOTE_PATH: &str = "/etc/sysctl.d/99-rackstrap.conf";
/// The ports between nodes, per host (`crate::plan::ports`), for whoever runs the firewall.
pub const PORTS_FILE: &str = "extras/ports.md";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative to the output directory (or the Kubespray inventory directory).
    pub path: PathBuf,
    pub contents: String,
}

impl RenderedFile {
    fn new(path: impl Into<PathBuf>, contents: String) -> Self {
        Self {
            path: path.into(),
            contents,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Rendering a plan with errors would write an inventory Kubespray refuses, or worse,
    /// one it accepts. The findings are the errors.
    #[error("the plan has {} error(s); `rackstrap check` lists them", .0.len())]
    PlanHasErrors(Vec<Finding>),
}

/// A group an operation adds to the inventory beside the plan's own (Kubespray's
/// recover-control-plane.yml reads `broken_etcd` and `broken_kube_control_plane`): its name
/// and its hosts, written after the plan's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraGroup {
    pub name: &'static str,
    pub hosts: Vec<String>,
}

fn refuse_errors(plan: &Plan) -> Result<(), RenderError> {
    let errors: Vec<Finding> = check(plan, None)
        .into_iter()
        .filter(|f| f.is_error())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(RenderError::PlanHasErrors(errors))
    }
}

/// Every file for the plan, in a fixed order.
pub fn render(plan: &Plan) -> Result<Vec<RenderedFile>, RenderError> {
    refuse_errors(plan)?;
    let mut files = kubespray::render(plan, &[]);
    if let Some(m) = metallb::render(plan) {
        files.push(RenderedFile::new(METALLB_FILE, m));
    }
    files.push(RenderedFile::new(SYSCTL_FILE, sysctl(plan)));
    files.push(RenderedFile::new(PORTS_FILE, ports::render(plan)));
    Ok(files)
}

/// The Kubespray inventory alone (`hosts.yaml`, group_vars, host_vars; not the extras), with
/// `groups` added to `hosts.yaml`; groups without hosts are left out.
pub fn inventory(plan: &Plan, groups: &[ExtraGroup]) -> Result<Vec<RenderedFile>, RenderError> {
    refuse_errors(plan)?;
    Ok(kubespray::render(plan, groups))
}

/// The sysctl file: `key = value` lines, sorted by key (the Akash guide's sysctl format).
pub fn sysctl(plan: &Plan) -> String {
    let mut out = format!(
        "# Written by rackstrap for cluster `{}`. Applied with `sysctl --system`.\n",
        plan.cluster.name
    );
    for (key, value) in &plan.tuning.sysctl {
        out.push_str(&format!("{key} = {value}\n"));
    }
    out
}

/// Mode of rendered files.
const RENDERED_MODE: u32 = 0o644;

/// Mode of the directories a render makes: other tools read the inventory, only its owner
/// writes it. Given to mkdir(2), so a umask can only make it stricter, never 0777.
const DIR_MODE: u32 = 0o755;

/// `dir` and the directories above it that are missing, made [`DIR_MODE`].
pub fn create_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

/// `dir` (made if missing, with [`create_dirs`] above it) as a directory only its owner
/// enters, 0700: the inventory directory holding `.known_hosts`, the pins Ansible's strict
/// host key checking relies on, which nobody else may replace.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dirs(parent)?;
    }
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Copies the directory `from` into `to` (files and directories, symlinks followed), the
/// directories made [`DIR_MODE`]: a Kubespray inventory sample into the cluster's inventory.
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    create_dirs(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Write the files under `dir`, creating directories ([`DIR_MODE`]); each file is written
/// atomically.
pub fn write(files: &[RenderedFile], dir: &Path) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    for file in files {
        let target = dir.join(&file.path);
        let parent = target.parent().unwrap_or(dir);
        create_dirs(parent)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".rackstrap-")
            .tempfile_in(parent)?;
        tmp.write_all(file.contents.as_bytes())?;
        // tempfile creates 0600; an inventory holds no secrets and other tools (a CI user,
        // a reviewer) read it, so it gets the usual 0644.
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(RENDERED_MODE))?;
        tmp.persist(&target).map_err(|e| e.error)?;
    }
    Ok(())
}

/// A YAML scalar for `s`, quoted only when YAML needs it (the plan's own writer: plan files
/// and inventories quote alike).
pub(crate) use crate::plan::yaml_scalar as scalar;
