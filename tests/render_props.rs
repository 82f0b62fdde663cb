//! Property: whatever plan `check` lets through renders to an inventory that passes our
//! restatement of Kubespray's own validation. Plans are built from random role
//! assignments, node prefixes, pod CIDR sizes, plugins and pools; the test counts how many
//! of them rendered and fails when too few did.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rackstrap::plan::{self, Pool, Role};
use rackstrap::render;

fn base() -> plan::Plan {
    plan::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/examples/akash.yaml"
    )))
    .unwrap()
}

/// Cases per run, and how many of them must get through `check` and render: a generator
/// that only makes plans `check` refuses would test the renderer on nothing.
const CASES: u32 = 300;
const MIN_RENDERED: usize = (CASES / 5) as usize;

#[derive(Debug, Clone)]
struct Shape {
    roles: Vec<u8>,
    node_prefix: u8,
    pod_prefix: u8,
    flannel: bool,
    pools: usize,
    vip: bool,
    relocate_first_only: bool,
    /// Give the last host etcd (or take it away) when the count is even.
    odd_etcd: bool,
}

fn shapes() -> impl Strategy<Value = Shape> {
    (
        // Role bits (1 control plane, 2 etcd, 4 worker): mostly the shapes real clusters
        // have, so that enough plans get through `check`, and any combination now and then.
        proptest::collection::vec(
            prop_oneof![3 => Just(7u8), 3 => Just(4u8), 2 => 0u8..8],
            1..7,
        ),
        // The node prefix relative to the pod CIDR's: mostly inside it (as any working
        // plan has it), sometimes shorter than the pod prefix (refused).
        prop_oneof![4 => 0u8..12, 1 => Just(0u8).prop_map(|_| 255u8)],
        14u8..26,
        any::<bool>(),
        0usize..3,
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.75),
    )
        .prop_map(
            |(roles, offset, pod_prefix, flannel, pools, vip, relocate_first_only, odd_etcd)| {
                Shape {
                    roles,
                    // 255: two shorter than the pod prefix.
                    node_prefix: if offset == 255 {
                        pod_prefix - 2
                    } else {
                        (pod_prefix + offset).min(30)
                    },
                    pod_prefix,
                    flannel,
                    pools,
                    vip,
                    relocate_first_only,
                    odd_etcd,
                }
            },
        )
}

fn plan_of(s: &Shape) -> plan::Plan {
    let mut p = base();
    let template = p.hosts[0].clone();
    p.hosts.clear();
    for (i, bits) in s.roles.iter().enumerate() {
        let mut h = template.clone();
        h.name = format!("node{}", i + 1);
        h.address = format!("10.0.10.{}", i + 1);
        h.roles = [(1, Role::ControlPlane), (2, Role::Etcd), (4, Role::Worker)]
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, r)| *r)
            .collect();
        if s.relocate_first_only && i > 0 {
            h.storage.clear();
        }
        p.hosts.push(h);
    }
    let etcd = p.count_role(Role::Etcd);
    if s.odd_etcd
        && etcd.is_multiple_of(2)
        && let Some(last) = p.hosts.last_mut()
    {
        if last.has_role(Role::Etcd) {
            last.roles.retain(|r| *r != Role::Etcd);
        } else {
            last.roles.push(Role::Etcd);
        }
    }
    p.network.node_prefix = s.node_prefix;
    p.network.pod_cidr = format!("10.64.0.0/{}", s.pod_prefix);
    if s.flannel {
        p.cluster.network_plugin = "flannel".into();
    }
    p.cluster.profile = None;
    p.network.load_balancer.pools = (0..s.pools)
        .map(|k| Pool {
            name: format!("pool{k}"),
            addresses: vec![format!("10.0.{}.0/28", 20 + k)],
            auto_assign: k == 0,
        })
        .collect();
    p.network.vip = s.vip.then(|| "10.0.10.200".to_string());
    p
}

#[test]
fn check_clean_plans_render_kubespray_valid() {
    let rendered = AtomicUsize::new(0);
    let config = ProptestConfig {
        cases: CASES,
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    let result = TestRunner::new(config).run(&shapes(), |s| {
        let p = plan_of(&s);
        let errors: Vec<_> = plan::check(&p, None)
            .into_iter()
            .filter(|f| f.is_error())
            .collect();
        match render::render(&p) {
            Ok(files) => {
                prop_assert!(errors.is_empty());
                let problems = render::validate::validate(&files);
                prop_assert!(problems.is_empty(), "{:?}\n{:#?}", problems, p);
                rendered.fetch_add(1, Ordering::Relaxed);
            }
            Err(render::RenderError::PlanHasErrors(e)) => {
                prop_assert!(!e.is_empty());
                prop_assert_eq!(e, errors);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let rendered = rendered.into_inner();
    eprintln!("{rendered} of {CASES} generated plans rendered");
    assert!(
        rendered >= MIN_RENDERED,
        "only {rendered} of {CASES} generated plans rendered; the property tested too little"
    );
}
