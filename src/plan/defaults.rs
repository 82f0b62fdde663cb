//! What a new plan starts with: the cluster defaults of [`super::model`], the kernel
//! parameters an Akash provider sets, and the roles hosts get when the operator has not
//! chosen any. The wizard and the demo lab start from these; a plan file states its own.

use std::collections::BTreeMap;

use super::model::{
    Access, Cluster, Kubespray, Network, PLAN_VERSION, Plan, Role, SysctlValue, Tuning,
};

/// The kernel parameters a new plan sets on every host, as Akash's "Kubernetes Cluster for
/// Akash Providers" guide gives them in "STEP 9 - Custom Kernel Parameters"
/// (`/etc/sysctl.d/90-akash.conf`, against "too many open files"):
/// <https://akash.network/docs/providers/build-a-cloud-provider/kubernetes-cluster-for-akash-providers/>.
pub const DEFAULT_SYSCTL: [(&str, i64); 3] = [
    ("fs.inotify.max_user_instances", 512),
    ("fs.inotify.max_user_watches", 1_048_576),
    ("vm.max_map_count", 1_000_000),
];

/// [`DEFAULT_SYSCTL`] as the plan keeps it.
pub fn default_sysctl() -> BTreeMap<String, SysctlValue> {
    DEFAULT_SYSCTL
        .iter()
        .map(|(k, v)| (k.to_string(), SysctlValue::Int(*v)))
        .collect()
}

/// The roles of the host at `index` (0-based, in plan order) when nobody chose: the first
/// host runs the control plane and etcd, and every host is a worker. The Akash guide above
/// ("Additional Cluster Sizing Considerations") finds a single control plane enough for a
/// provider whose control plane is easily recovered; the Roles screen changes it.
pub fn default_roles(index: usize) -> Vec<Role> {
    if index == 0 {
        vec![Role::ControlPlane, Role::Etcd, Role::Worker]
    } else {
        vec![Role::Worker]
    }
}

impl Plan {
    /// A plan named `name` with every default and no hosts.
    pub fn new(name: &str) -> Plan {
        Plan {
            version: PLAN_VERSION,
            cluster: Cluster::new(name),
            access: Access::default(),
            hosts: Vec::new(),
            network: Network::default(),
            tuning: Tuning {
                sysctl: default_sysctl(),
            },
        }
    }
}

impl Cluster {
    /// A cluster named `name` with the defaults a plan file may leave out.
    pub fn new(name: &str) -> Cluster {
        Cluster {
            name: name.to_string(),
            domain: super::model::default_domain(),
            kubespray: Kubespray::default(),
            network_plugin: super::model::default_network_plugin(),
            container_manager: super::model::default_container_manager(),
            profile: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_plan_is_what_a_minimal_file_loads_to_plus_the_sysctl_set() {
        let loaded =
            crate::plan::from_yaml("version: 1\ncluster: { name: edge }\n", "test").unwrap();
        let mut new = Plan::new("edge");
        assert_eq!(new.tuning.sysctl.len(), 3);
        assert_eq!(
            new.tuning.sysctl.get("vm.max_map_count"),
            Some(&SysctlValue::Int(1_000_000))
        );
        new.tuning.sysctl.clear();
        assert_eq!(new, loaded);
    }

    #[test]
    fn first_host_leads_the_others_work() {
        assert_eq!(
            default_roles(0),
            vec![Role::ControlPlane, Role::Etcd, Role::Worker]
        );
        assert_eq!(default_roles(1), vec![Role::Worker]);
        assert_eq!(default_roles(7), vec![Role::Worker]);
    }
}
