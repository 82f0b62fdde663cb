//! Property: whatever plan `check` lets through renders to an inventory that passes our
//! restatement of Kubespray's own validation. Plans are built from random role
//! assignments, node prefixes, pod CIDR sizes, plugins and pools.

use proptest::prelude::*;
use rackstrap::plan::{self, Pool, Role};
use rackstrap::render;

fn base() -> plan::Plan {
    plan::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/examples/akash.yaml"
    )))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn check_clean_plans_render_kubespray_valid(
        roles in proptest::collection::vec(0u8..8, 1..7),
        node_prefix in 16u8..30,
        pod_prefix in 14u8..26,
        flannel in any::<bool>(),
        pools in 0usize..3,
        vip in any::<bool>(),
        relocate_first_only in any::<bool>(),
    ) {
        let mut p = base();
        let template = p.hosts[0].clone();
        p.hosts.clear();
        for (i, bits) in roles.iter().enumerate() {
            let mut h = template.clone();
            h.name = format!("node{}", i + 1);
            h.address = format!("10.0.10.{}", i + 1);
            h.roles = [(1, Role::ControlPlane), (2, Role::Etcd), (4, Role::Worker)]
                .iter()
                .filter(|(b, _)| bits & b != 0)
                .map(|(_, r)| *r)
                .collect();
            if relocate_first_only && i > 0 {
                h.storage.clear();
            }
            p.hosts.push(h);
        }
        p.network.node_prefix = node_prefix;
        p.network.pod_cidr = format!("10.{}.0.0/{pod_prefix}", 64 + pod_prefix);
        if flannel {
            p.cluster.network_plugin = "flannel".into();
        }
        p.cluster.profile = None;
        p.network.load_balancer.pools = (0..pools)
            .map(|k| Pool { name: format!("pool{k}"), addresses: vec![format!("10.0.{}.0/28", 20 + k)], auto_assign: k == 0 })
            .collect();
        p.network.vip = vip.then(|| "10.0.10.200".to_string());
        let errors: Vec<_> = plan::check(&p, None).into_iter().filter(|f| f.is_error()).collect();
        match render::render(&p) {
            Ok(files) => {
                prop_assert!(errors.is_empty());
                let problems = render::validate::validate(&files);
                prop_assert!(problems.is_empty(), "{:?}\n{:#?}", problems, p);
            }
            Err(render::RenderError::PlanHasErrors(e)) => {
                prop_assert!(!e.is_empty());
                prop_assert_eq!(e, errors);
            }
        }
    }
}
