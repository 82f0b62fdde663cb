//! Golden tests of the recovery actions: for each Kubespray release rackstrap knows, the
//! quorum verdict, the inventory each step writes and the exact command lines of every
//! action, in `tests/golden/recovery/<release>.txt` (`UPDATE_GOLDEN=1` rewrites them; read the
//! diff). Every inventory a step writes passes the same validation as a first install's.

#[allow(dead_code)]
mod common;

use std::path::PathBuf;

use common::recovery::{BASE, in_cluster, names, plan, scenarios};
use rackstrap::recovery::actions::{Kind, Standing, prepare};
use rackstrap::recovery::quorum::{Etcd, Verdict};
use rackstrap::recovery::run::describe;

#[test]
fn every_action_per_release_matches_its_golden_file() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/recovery");
    for release in rackstrap::recovery::releases::all() {
        let version = release.tag;
        let mut out = String::new();
        for (title, hosts, standing, kind, node) in scenarios() {
            let p = plan(version, &hosts);
            out.push_str(&format!("## {title}\n"));
            match prepare(&p, &standing, kind, node) {
                Ok(prepared) => {
                    for step in &prepared.steps {
                        let problems = rackstrap::render::validate::validate(&step.inventory);
                        assert!(problems.is_empty(), "{title}: {}: {problems:?}", step.title);
                    }
                    if matches!(prepared.verdict, Verdict::Refuse(_)) {
                        assert!(prepared.steps.is_empty(), "{title}: refused but has steps");
                    }
                    out.push_str(&describe(&p, &prepared, true));
                }
                Err(e) => out.push_str(&format!("error: {e}\n")),
            }
            out.push('\n');
        }
        let path = dir.join(format!("{}.txt", release.tag));
        if update {
            std::fs::create_dir_all(&dir).expect("golden dir");
            std::fs::write(&path, &out).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        assert_eq!(
            out,
            want,
            "{} differs (UPDATE_GOLDEN=1 rewrites it; read the diff)",
            path.display()
        );
    }
}

/// Extra vars go as one JSON object: as `key=value`, `false` would be the string "false",
/// which Kubespray's `when: not allow_ungraceful_removal` reads as true.
#[test]
fn remove_passes_its_extra_vars_as_json_booleans() {
    let p = plan("v2.31.0", BASE);
    let prepared = prepare(&p, &in_cluster(&["node4"]), Kind::Remove, "node4").expect("prepared");
    let step = prepared.steps.last().expect("remove step");
    let e = step.argv.iter().position(|w| w == "-e").expect("-e");
    let vars: serde_json::Value = serde_json::from_str(&step.argv[e + 1]).expect("JSON");
    assert_eq!(
        vars,
        serde_json::json!({"node": "node4", "reset_nodes": true, "allow_ungraceful_removal": false, "skip_confirmation": true})
    );
    assert_eq!(step.argv.iter().filter(|w| *w == "-e").count(), 1);
    assert!(prepared.plan_after.hosts.iter().all(|h| h.name != "node4"));
}

/// A blank host is never `kube_control_plane[0]`: whatever the plan's order, a control plane
/// that joins is last in every inventory the action writes.
#[test]
fn a_joining_control_plane_is_never_first() {
    for kind in [Kind::Add, Kind::Replace] {
        let hosts = if kind == Kind::Add {
            format!(
                "  - {{name: node5, address: 10.0.10.5, roles: [control_plane, worker]}}\n{BASE}"
            )
        } else {
            BASE.to_string()
        };
        let node = if kind == Kind::Add { "node5" } else { "node1" };
        let p = plan("v2.30.0", &hosts);
        let standing = Standing {
            broken: names(&[node]),
            ..in_cluster(&["node1", "node2", "node3", "node4"])
        };
        let prepared = prepare(&p, &standing, kind, node).expect("prepared");
        let joins = prepared
            .steps
            .iter()
            .skip_while(|s| !s.title.starts_with("join"))
            .collect::<Vec<_>>();
        assert!(!joins.is_empty(), "{kind:?}: no join step");
        for s in joins {
            let hosts = &s.inventory[0].contents;
            let cp = hosts
                .split("    kube_control_plane:\n      hosts:\n")
                .nth(1)
                .expect("group");
            let first = cp
                .lines()
                .next()
                .expect("a member")
                .trim()
                .trim_end_matches(':');
            assert_ne!(
                first, node,
                "{kind:?}: {} first in kube_control_plane",
                node
            );
        }
        let first_cp = prepared
            .plan_after
            .hosts
            .iter()
            .find(|h| h.has_role(rackstrap::plan::Role::ControlPlane))
            .expect("a control plane");
        assert_ne!(first_cp.name, node, "{kind:?}: saved plan");
    }
}

/// Moving the first control plane to the end of its groups renames no etcd member: every
/// inventory the action writes keeps the names the cluster has (`etcd<position>` of the plan
/// as given).
#[test]
fn reordering_renames_no_etcd_member() {
    let p = plan("v2.31.0", BASE);
    let prepared = prepare(
        &p,
        &in_cluster(&["node1", "node2", "node3", "node4"]),
        Kind::Remove,
        "node1",
    )
    .expect("prepared");
    assert!(prepared.steps.len() >= 2, "reorder, then remove");
    for step in &prepared.steps {
        let hosts = &step.inventory[0].contents;
        let yaml: serde_yaml::Value = serde_yaml::from_str(hosts).expect("yaml");
        let order: Vec<&str> = yaml["all"]["children"]["etcd"]["hosts"]
            .as_mapping()
            .expect("etcd group")
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(order, ["node2", "node3", "node1"], "{}", step.title);
        for (host, member) in [("node1", "etcd1"), ("node2", "etcd2"), ("node3", "etcd3")] {
            assert_eq!(
                yaml["all"]["hosts"][host]["etcd_member_name"].as_str(),
                Some(member),
                "{}: {host}",
                step.title
            );
        }
    }
}

/// The saved plan carries the member names, so later runs (an `apply`, the next action)
/// render them too; a joining member takes its own host's name, never an existing one's.
#[test]
fn the_saved_plan_keeps_member_names_and_a_new_member_takes_its_own() {
    let p = plan("v2.31.0", BASE);
    let prepared = prepare(
        &p,
        &in_cluster(&["node1", "node2", "node3", "node4"]),
        Kind::Remove,
        "node1",
    )
    .expect("prepared");
    let names: Vec<(String, Option<String>)> = prepared
        .plan_after
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.etcd_member_name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("node2".to_string(), Some("etcd2".to_string())),
            ("node3".into(), Some("etcd3".into())),
            ("node4".into(), None)
        ]
    );
    // (Two etcd members: `rackstrap check` asks for a third before the next apply.)

    // node3 joins etcd, listed first in the plan: it must not become etcd1.
    let hosts = "  - {name: node3, address: 10.0.10.3, roles: [control_plane, etcd, worker]}\n\
                 \x20 - {name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}\n\
                 \x20 - {name: node2, address: 10.0.10.2, roles: [control_plane, etcd, worker]}\n\
                 \x20 - {name: node4, address: 10.0.10.4, roles: [worker]}\n";
    let standing = Standing {
        etcd: Some(Etcd {
            members: 2,
            healthy: 2,
        }),
        ..in_cluster(&["node1", "node2", "node4"])
    };
    let prepared =
        prepare(&plan("v2.31.0", hosts), &standing, Kind::Add, "node3").expect("prepared");
    let member = |n: &str| {
        prepared
            .plan_after
            .hosts
            .iter()
            .find(|h| h.name == n)
            .and_then(|h| h.etcd_member_name.clone())
    };
    assert_eq!(member("node1").as_deref(), Some("etcd1"));
    assert_eq!(member("node2").as_deref(), Some("etcd2"));
    assert_eq!(member("node3").as_deref(), Some("node3"));
}
