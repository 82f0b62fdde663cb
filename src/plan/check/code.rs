//! Finding codes: one enum, written in `rackstrap check` output and its JSON exactly as the
//! variant is named (`E_BAD_MOUNT`), so the names are the contract and grep finds both.
//!
//! `E_...` errors block, `W_...` warnings inform, `I_...` facts worth showing. Each code
//! belongs to a [`Subject`], which the wizard uses to show a step only its own findings.

use std::fmt;

use serde::{Serialize, Serializer};

/// What a finding is about: the plan's subjects, in the order the wizard visits them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// Cluster name, domain, plugins, Kubespray version, SSH access.
    Cluster,
    /// Host names, addresses and labels; a plan without hosts.
    Hosts,
    /// Control planes, workers, etcd membership.
    Roles,
    /// CPUs, memory, root disk against the floors of [`super::hardware`].
    Hardware,
    /// A single network value that does not parse or is out of range (the wizard shows
    /// these under the field itself).
    NetworkField,
    /// Relations between network values: overlaps, sizes, MTU against the hosts.
    Network,
    /// Storage layouts, their devices and mount points.
    Storage,
    /// Sysctl settings.
    Tuning,
    /// The Kubespray tree on this machine, its Ansible and Kubespray's own inventory checks
    /// (the `kubespray` module): only when the tree is present, never from the plan alone.
    Kubespray,
    /// The wizard's own form and stage messages; `check` never emits these.
    Wizard,
}

macro_rules! codes {
    ($($subject:ident $name:ident,)*) => {
        /// A finding's stable code.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $($name,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The code as written in `rackstrap check` output, e.g. `E_BAD_MOUNT`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$name => stringify!($name),)*
                }
            }

            pub fn subject(self) -> Subject {
                match self {
                    $(Code::$name => Subject::$subject,)*
                }
            }
        }
    };
}

codes! {
    Cluster E_BAD_CLUSTER_NAME,
    Cluster E_RESERVED_CLUSTER_NAME,
    Cluster E_BAD_DOMAIN,
    Cluster E_UNKNOWN_NETWORK_PLUGIN,
    Cluster E_UNKNOWN_CONTAINER_MANAGER,
    Cluster W_KUBESPRAY_VERSION,
    Cluster W_KUBESPRAY_OLD_RELEASE,
    Cluster E_NETWORK_PLUGIN_RELEASE,
    Kubespray E_KUBESPRAY_TREE_VERSION,
    Kubespray E_ANSIBLE_MISSING,
    Kubespray E_ANSIBLE_VERSION,
    Kubespray E_KUBESPRAY_INVENTORY,
    Kubespray W_KUBESPRAY_CHECK,
    Cluster E_BAD_USER,
    Cluster E_BAD_PORT,
    Hosts E_BAD_HOST_NAME,
    Hosts E_DUPLICATE_HOST_NAME,
    Hosts E_BAD_ADDRESS,
    Hosts E_DUPLICATE_ADDRESS,
    Hosts W_ADDRESS_NOT_IP,
    Roles W_HOST_NO_ROLES,
    Hosts E_BAD_LABEL,
    Hosts E_NO_HOSTS,
    Roles E_NO_CONTROL_PLANE,
    Roles E_NO_WORKER,
    Roles E_NO_ETCD,
    Roles E_EVEN_ETCD,
    Roles W_TWO_CONTROL_PLANES,
    Roles W_ETCD_OVER_SEVEN,
    Roles I_QUORUM,
    Hosts W_NO_FACTS,
    Hardware E_CPU_BELOW_MIN,
    Hardware E_RAM_BELOW_MIN,
    Hardware W_CPU_BELOW_GUIDE_MIN,
    Hardware W_RAM_BELOW_GUIDE_MIN,
    Hardware W_DISK_BELOW_GUIDE_MIN,
    Hardware W_CPU_BELOW_RECOMMENDED,
    Hardware W_RAM_BELOW_RECOMMENDED,
    Hardware W_DISK_BELOW_RECOMMENDED,
    Hardware I_WORKER_CAPACITY,
    Network E_HOST_MTU_BELOW_PLAN,
    NetworkField E_BAD_SERVICE_CIDR,
    NetworkField E_BAD_POD_CIDR,
    Network E_SERVICE_POD_OVERLAP,
    Network E_BAD_NODE_PREFIX,
    Network W_POD_CIDR_TOO_SMALL,
    Network E_POD_CIDR_TOO_SMALL,
    Network W_NODE_PREFIX_TOO_LONG,
    Network E_NODE_PREFIX_TOO_LONG,
    Network E_HOST_IN_CLUSTER_CIDR,
    NetworkField E_BAD_DNS,
    NetworkField E_BAD_MTU,
    Network E_CALICO_MTU,
    NetworkField E_BAD_POOL_NAME,
    Network E_DUPLICATE_POOL,
    Network E_EMPTY_POOL,
    NetworkField E_BAD_POOL_ENTRY,
    Network E_POOL_OVERLAP,
    Network E_POOL_HAS_NODE_ADDRESS,
    Network E_POOL_IN_CLUSTER_CIDR,
    Network I_POOL_SIZE,
    Network E_AKASH_POOL_NAME,
    Network E_IPV6_NOT_SUPPORTED,
    NetworkField E_BAD_VIP,
    Network E_VIP_IS_NODE,
    Network E_VIP_IN_POOL,
    Network E_VIP_IN_CLUSTER_CIDR,
    Network E_DNS_IN_CLUSTER_CIDR,
    Network E_POOL_HAS_DNS,
    Network E_GATEWAY_IN_CLUSTER_CIDR,
    Network E_POOL_HAS_GATEWAY,
    Network W_POOL_OFF_SUBNET,
    Network E_VIP_OFF_SUBNET,
    Storage E_TOO_FEW_DEVICES,
    Storage E_SINGLE_MANY_DEVICES,
    Storage E_BAD_DEVICE_NAME,
    Storage E_DEVICE_USED_TWICE,
    Storage E_UNKNOWN_DEVICE,
    Storage E_DEVICE_OVERLAP,
    Storage E_DEVICE_HOLDS_ROOT,
    Storage E_DEVICE_MOUNTED,
    Storage E_DEVICE_IN_USE,
    Storage E_BAD_MOUNT,
    Storage E_MOUNT_COLLISION,
    Storage E_RELOCATE_PER_DISK,
    Storage E_RELOCATE_TWICE,
    Storage E_RELOCATE_CONTAINERD,
    Storage W_MIXED_SIZES,
    Storage W_DISCARD_ROTATIONAL,
    Storage I_CAPACITY,
    Tuning E_BAD_SYSCTL,
    Wizard E_BAD_TARGETS,
    Wizard E_NO_REACHABLE_HOST,
    Wizard E_BAD_FIELD,
    Wizard E_STAGE_FAILED,
    Wizard E_BAD_KEY,
    Wizard W_CANNOT_RUN_HERE,
    Wizard E_SCAN_RUNNING,
    Wizard W_NOT_CONTACTED,
    Wizard W_STEP_NOT_FINISHED,
}

impl Code {
    /// The codes `check` can emit on a plan alone (all but the wizard's own and those about
    /// the Kubespray tree on this machine).
    pub fn checked() -> impl Iterator<Item = Code> {
        Code::ALL
            .iter()
            .copied()
            .filter(|c| !matches!(c.subject(), Subject::Wizard | Subject::Kubespray))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.starts_with("E_") || s.starts_with("W_") || s.starts_with("I_"),
                "{s}"
            );
            assert_eq!(serde_json::to_string(c).unwrap(), format!("\"{s}\""));
        }
    }
}
