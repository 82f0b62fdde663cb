//! MetalLB manifests for the Helm path (Akash "IP Leases - Provider Enablement", option 1): the namespace with the pod
//! security labels MetalLB needs, one `IPAddressPool` per plan pool and one
//! `L2Advertisement` for all of them, in the `metallb.io/v1beta1` API.

use std::fmt::Write as _;

use super::scalar;
use crate::plan::Plan;

pub(super) fn render(plan: &Plan) -> Option<String> {
    let pools = &plan.network.load_balancer.pools;
    if pools.is_empty() {
        return None;
    }
    let mut out = format!(
        "# Written by rackstrap for cluster `{}`: kubectl apply -f after installing MetalLB with Helm.\n",
        plan.cluster.name
    );
    out.push_str(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: metallb-system\n  labels:\n",
    );
    for mode in ["enforce", "audit", "warn"] {
        let _ = writeln!(out, "    pod-security.kubernetes.io/{mode}: privileged");
    }
    for pool in pools {
        out.push_str("---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n");
        let _ = writeln!(out, "  name: {}", scalar(&pool.name));
        out.push_str("  namespace: metallb-system\nspec:\n  addresses:\n");
        for a in &pool.addresses {
            let _ = writeln!(out, "    - {}", scalar(&crate::net::canonical_entry(a)));
        }
        let _ = writeln!(out, "  autoAssign: {}", pool.auto_assign);
        out.push_str("  avoidBuggyIPs: false\n");
    }
    out.push_str("---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: l2advertisement1\n  namespace: metallb-system\nspec:\n  ipAddressPools:\n");
    for pool in pools {
        let _ = writeln!(out, "    - {}", scalar(&pool.name));
    }
    Some(out)
}
