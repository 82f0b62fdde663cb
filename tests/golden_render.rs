//! Golden renders: each example plan, for each Kubespray release rackstrap knows, renders to
//! the files checked in under `tests/golden/render/<release>/<example>/`, byte for byte.
//! `UPDATE_GOLDEN=1 cargo test --test golden_render` rewrites them after an intended change
//! (review the diff).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rackstrap::kubespray::RELEASES;
use rackstrap::plan;
use rackstrap::render::{self, RenderedFile};

const EXAMPLES: [&str; 3] = ["akash", "homelab", "ais"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn render_example(name: &str) -> Vec<RenderedFile> {
    let p = plan::load(&root().join(format!("assets/examples/{name}.yaml"))).unwrap();
    render::render(&p).unwrap()
}

/// The example with its Kubespray release set to `tag`.
fn render_for(name: &str, tag: &str) -> Vec<RenderedFile> {
    let mut p = plan::load(&root().join(format!("assets/examples/{name}.yaml"))).unwrap();
    p.cluster.kubespray.version = tag.to_string();
    render::render(&p).unwrap()
}

fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out
}

#[test]
fn examples_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, release) in EXAMPLES
        .iter()
        .flat_map(|n| RELEASES.iter().map(move |r| (*n, r.tag)))
    {
        let dir = root().join("tests/golden/render").join(release).join(name);
        let files = render_for(name, release);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            render::write(&files, &dir).unwrap();
        }
        let rendered: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            rendered,
            files_under(&dir),
            "{release}/{name}: the set of files differs"
        );
        for f in &files {
            let golden = std::fs::read_to_string(dir.join(&f.path)).unwrap();
            pretty_assertions::assert_eq!(
                golden,
                f.contents,
                "{release}/{name}: {}",
                f.path.display()
            );
        }
    }
}

#[test]
fn renders_are_deterministic() {
    for name in EXAMPLES {
        assert_eq!(render_example(name), render_example(name));
        // A save/load round trip of the plan changes nothing either.
        let p = plan::load(&root().join(format!("assets/examples/{name}.yaml"))).unwrap();
        let again = plan::from_yaml(&plan::to_yaml(&p), "round-trip").unwrap();
        assert_eq!(render::render(&again).unwrap(), render_example(name));
    }
}

#[test]
fn examples_pass_kubespray_inventory_validation() {
    for name in EXAMPLES {
        let problems = render::validate::validate(&render_example(name));
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

/// `rackstrap render assets/examples/akash.yaml --out DIR` writes a hosts.yaml whose hosts
/// and groups are the example of Akash's "Kubernetes Cluster for Akash Providers", plus the
/// `etcd_member_name` of each etcd host (Kubespray's own default, written out).
#[test]
fn akash_hosts_yaml_equals_the_akash_guide() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .arg("render")
        .arg(root().join("assets/examples/akash.yaml"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut ours: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(out.path().join("hosts.yaml")).unwrap())
            .unwrap();
    for (i, node) in ["node1", "node2", "node3"].iter().enumerate() {
        let host = ours["all"]["hosts"][*node].as_mapping_mut().unwrap();
        let name = host.remove("etcd_member_name").unwrap();
        assert_eq!(name.as_str(), Some(format!("etcd{}", i + 1).as_str()));
    }
    assert!(
        ours["all"]["hosts"]["node4"]
            .get("etcd_member_name")
            .is_none()
    );
    let guide: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/akash-guide-hosts.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(ours["all"]["hosts"], guide["all"]["hosts"]);
    assert_eq!(ours["all"]["children"], guide["all"]["children"]);
    assert_eq!(ours["all"]["vars"], guide["all"]["vars"]);
    // And it is the whole file: nothing beyond the guide's keys.
    assert_eq!(ours, guide);
}

#[test]
fn akash_group_vars_carry_the_guides_settings() {
    let files = render_example("akash");
    let get = |p: &str| -> serde_yaml::Value {
        let f = files.iter().find(|f| f.path == Path::new(p)).unwrap();
        serde_yaml::from_str(&f.contents).unwrap()
    };
    let all = get(render::ALL_VARS_FILE);
    assert_eq!(
        all["upstream_dns_servers"],
        serde_yaml::from_str::<serde_yaml::Value>("[8.8.8.8, 8.8.4.4]").unwrap()
    );
    let k8s = get(render::CLUSTER_VARS_FILE);
    assert_eq!(k8s["container_manager"].as_str(), Some("containerd"));
    assert_eq!(
        k8s["containerd_storage_dir"].as_str(),
        Some("/data/containerd")
    );
    assert_eq!(
        k8s["kubelet_custom_flags"][0].as_str(),
        Some("--root-dir=/data/kubelet")
    );
    assert_eq!(k8s["kube_proxy_strict_arp"].as_bool(), Some(true));
    let addons = get(render::CLUSTER_VARS_FILE);
    // MetalLB: the role's own nodeselector defaults are not repeated, and no
    // `metallb_protocol`, which no release reads.
    assert!(
        addons["metallb_config"]["speaker"]
            .get("nodeselector")
            .is_none()
    );
    assert!(
        addons["metallb_config"]["controller"]
            .get("nodeselector")
            .is_none()
    );
    assert!(addons.get("metallb_protocol").is_none());
    assert_eq!(addons["metallb_enabled"].as_bool(), Some(true));
    assert_eq!(
        addons["metallb_config"]["layer2"][0].as_str(),
        Some("default")
    );
    assert_eq!(
        addons["metallb_config"]["address_pools"]["default"]["ip_range"][4].as_str(),
        Some("194.28.98.219-194.28.98.222")
    );
    let sysctl = files
        .iter()
        .find(|f| f.path == Path::new(render::SYSCTL_FILE))
        .unwrap();
    assert!(
        sysctl
            .contents
            .contains("\nfs.inotify.max_user_watches = 1048576\n")
    );
    // MetalLB manifests for the Helm path parse as three documents of the v1beta1 API.
    let m = files
        .iter()
        .find(|f| f.path == Path::new(render::METALLB_FILE))
        .unwrap();
    let kinds: Vec<String> = m
        .contents
        .split("\n---\n")
        .skip(1)
        .map(|d| {
            serde_yaml::from_str::<serde_yaml::Value>(d).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, ["Namespace", "IPAddressPool", "L2Advertisement"]);
}

#[test]
fn per_host_relocation_goes_to_host_vars() {
    let mut p = plan::load(&root().join("assets/examples/akash.yaml")).unwrap();
    p.hosts[3].storage.clear();
    let files = render::render(&p).unwrap();
    let k8s = files
        .iter()
        .find(|f| f.path == Path::new(render::CLUSTER_VARS_FILE))
        .unwrap();
    assert!(!k8s.contents.contains("containerd_storage_dir"));
    let node1 = files
        .iter()
        .find(|f| f.path == Path::new("host_vars/node1.yml"))
        .unwrap();
    assert!(
        node1
            .contents
            .contains("containerd_storage_dir: /data/containerd\n")
    );
    assert!(
        !files
            .iter()
            .any(|f| f.path == Path::new("host_vars/node4.yml"))
    );
    assert!(render::validate::validate(&files).is_empty());
}

/// A pool entry in the short range form is written out in full for MetalLB and Kubespray,
/// which only read `first-last` with two whole addresses.
#[test]
fn short_range_pool_entries_render_in_full() {
    let mut p = plan::load(&root().join("assets/examples/akash.yaml")).unwrap();
    p.network.load_balancer.pools[0].addresses = vec!["10.0.20.5-20".into()];
    let files = render::render(&p).unwrap();
    let find = |path: &str| {
        files
            .iter()
            .find(|f| f.path == Path::new(path))
            .unwrap()
            .contents
            .clone()
    };
    assert!(find(render::CLUSTER_VARS_FILE).contains("        - 10.0.20.5-10.0.20.20\n"));
    assert!(find("extras/metallb.yaml").contains("    - 10.0.20.5-10.0.20.20\n"));
    assert!(render::validate::validate(&files).is_empty());
}

#[test]
fn plans_with_errors_are_not_rendered() {
    let mut p = plan::load(&root().join("assets/examples/akash.yaml")).unwrap();
    p.hosts[2].roles = vec![plan::Role::Worker];
    match render::render(&p) {
        Err(render::RenderError::PlanHasErrors(e)) => assert_eq!(e[0].code, "E_EVEN_ETCD"),
        Ok(_) => panic!("rendered a plan with an even etcd count"),
    }
}

#[test]
fn saved_plan_reads_like_the_contract() {
    let p = plan::load(&root().join("assets/examples/homelab.yaml")).unwrap();
    let text = plan::to_yaml(&p);
    assert!(
        text.starts_with("version: 1\ncluster:\n  name: homelab\n"),
        "{text}"
    );
    assert!(text.contains("\n  vip: 192.168.1.10\n"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    plan::save(&p, &path).unwrap();
    assert_eq!(plan::load(&path).unwrap(), p);
}

/// Calico's MTU follows Kubespray's default VXLAN mode: 50 bytes below a 9000 host MTU.
#[test]
fn ais_calico_mtu_leaves_room_for_vxlan() {
    let files = render_example("ais");
    let k8s = files
        .iter()
        .find(|f| f.path == Path::new(render::CLUSTER_VARS_FILE))
        .unwrap();
    let v: serde_yaml::Value = serde_yaml::from_str(&k8s.contents).unwrap();
    assert_eq!(v["calico_mtu"].as_u64(), Some(8950));
}

/// rackstrap writes only files of its own into group_vars: none of a release's
/// `inventory/sample` files is replaced, so the sample's settings survive.
#[test]
fn group_vars_never_replace_a_sample_file() {
    for name in EXAMPLES {
        for f in render_example(name) {
            if f.path.starts_with("group_vars") {
                assert!(
                    f.path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("zz-rackstrap")),
                    "{name}: {}",
                    f.path.display()
                );
            }
        }
    }
}
