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

/// Every file for the plan, in a fixed order.
pub fn render(plan: &Plan) -> Result<Vec<RenderedFile>, RenderError> {
    let errors: Vec<Finding> = check(plan, None)
        .into_iter()
        .filter(|f| f.is_error())
        .collect();
    if !errors.is_empty() {
        return Err(RenderError::PlanHasErrors(errors));
    }
    let mut files = kubespray::render(plan);
    if let Some(m) = metallb::render(plan) {
        files.push(RenderedFile::new(METALLB_FILE, m));
    }
    files.push(RenderedFile::new(SYSCTL_FILE, sysctl(plan)));
    files.push(RenderedFile::new(PORTS_FILE, ports::render(plan)));
    Ok(files)
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

/// Write the files under `dir`, creating directories; each file is written atomically.
pub fn write(files: &[RenderedFile], dir: &Path) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    for file in files {
        let target = dir.join(&file.path);
        let parent = target.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)?;
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

/// A YAML scalar for `s`, quoted only when YAML needs it.
pub(crate) fn scalar(s: &str) -> String {
    serde_yaml::to_string(s)
        .map(|t| t.trim_end().to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}
