//! The Kubespray releases rackstrap knows, as data: one row per release line, every value
//! read from that release's tree (tag of github.com/kubernetes-sigs/kubespray):
//!
//! | value | where it is in the tree |
//! | --- | --- |
//! | Ansible range | `playbooks/ansible_version.yml` (`minimal_ansible_version`, `maximal_ansible_version`, exclusive) |
//! | `ansible` package | `requirements.txt` |
//! | Python range | `docs/ansible/ansible.md` ("Ansible Python Compatibility"; `docs/ansible.md` in v2.24) |
//! | network plugins, proxy modes | `roles/validate_inventory/tasks/main.yml` ("The selected choice is not supported"); v2.24: `roles/kubernetes/preinstall/tasks/0040-verify-settings.yml` |
//! | Kubernetes versions | `roles/kubespray(_|-)defaults/defaults/main/checksums.yml` (`kubelet_checksums`), default first |
//!
//! Adding a release is adding a row to [`RELEASES`] (and to the tests below). The table is
//! plain data at the plan's layer so that checks and renders read it; the Kubespray tree on
//! the control machine, its Ansible and `prepare` live in the `kubespray` module above.

use std::fmt;

use super::check::{Code, Finding, Severity};
use super::model::Plan;

/// A version as `major.minor.patch`; a missing part reads as 0, and anything after the digits
/// of a part (`2.17.0rc1`) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// `v2.31.0`, `2.18.12`, `2.17`: `None` when the first part is not a number.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let mut parts = text.split('.').map(|p| {
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        });
        let major = parts.next()??;
        let minor = parts.next().flatten().unwrap_or(0);
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Self(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// `min <= v < max`, Kubespray's own shape for its Ansible check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: Version,
    pub max_exclusive: Version,
}

impl Range {
    pub fn contains(&self, v: Version) -> bool {
        self.min <= v && v < self.max_exclusive
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ">={},<{}", self.min, self.max_exclusive)
    }
}

/// One Kubespray release line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The tag rackstrap is tested with; plans naming another patch of the same line
    /// (`v2.30.1`) use this row.
    pub tag: &'static str,
    /// Offered for new clusters; otherwise kept for clusters built with it (render, verify,
    /// recovery).
    pub new_clusters: bool,
    /// `kube_network_plugin` values the release accepts.
    pub network_plugins: &'static [&'static str],
    /// `kube_proxy_mode` values the release accepts.
    pub proxy_modes: &'static [&'static str],
    /// `container_manager` values the release accepts.
    pub container_managers: &'static [&'static str],
    /// ansible-core versions `playbooks/ansible_version.yml` accepts.
    pub ansible_core: Range,
    /// The `ansible` package pinned in `requirements.txt` (with its collections).
    pub ansible_package: &'static str,
    /// Python versions of the machine running Ansible, as the release's docs give them.
    pub python: (Version, Version),
    /// Kubernetes versions the release installs (lowest, highest) and its default.
    pub kubernetes: (&'static str, &'static str),
    pub kubernetes_default: &'static str,
    /// The role holding Kubespray's defaults (renamed with `_` in v2.25).
    pub defaults_role: &'static str,
    /// The facts playbook `cluster.yml` imports, and the one meant to be run on its own.
    pub facts_playbook: &'static str,
    /// The recovery playbooks (docs/recovery.md), as the tree's root names them: every release
    /// has the root files importing `playbooks/*.yml`; from v2.29 the root also has the `_`
    /// names of the files they import, used where they exist.
    pub scale_playbook: &'static str,
    pub upgrade_playbook: &'static str,
    pub remove_node_playbook: &'static str,
    pub recover_playbook: &'static str,
    /// Kubespray's pages "Adding/replacing a node" and "Recovering the control plane"
    /// (under `docs/operations/` from v2.28).
    pub nodes_doc: &'static str,
    pub recover_doc: &'static str,
    /// Whether `roles/validate_inventory` exists (v2.28+) and `roles/dynamic_groups` (v2.29+).
    pub validate_inventory: bool,
    pub dynamic_groups: bool,
}

/// The release for new plans.
pub const DEFAULT_TAG: &str = "v2.31.0";

/// Calico's VXLAN header, which Kubespray's default Calico mode uses in every release here
/// (`calico_vxlan_mode: Always`, `calico_ipip_mode: Never` in
/// `roles/network_plugin/calico_defaults/defaults/main.yml`); the sample's
/// `k8s-net-calico.yml`: "if VXLAN or BPF mode is enabled, subtract 50 from your network MTU".
pub const CALICO_VXLAN_OVERHEAD: u32 = 50;

const PLUGINS_WITH_WEAVE: &[&str] = &[
    "calico",
    "flannel",
    "weave",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
];
const PLUGINS_WITH_WEAVE_AND_NONE: &[&str] = &[
    "calico",
    "flannel",
    "weave",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
    "none",
];
const PLUGINS: &[&str] = &[
    "calico",
    "flannel",
    "cloud",
    "cilium",
    "cni",
    "kube-ovn",
    "kube-router",
    "macvlan",
    "custom_cni",
    "none",
];
/// `container_manager` values every release here accepts.
pub const CONTAINER_MANAGERS: &[&str] = &["docker", "crio", "containerd"];

const PROXY_MODES: &[&str] = &["iptables", "ipvs"];
const PROXY_MODES_WITH_NFTABLES: &[&str] = &["iptables", "ipvs", "nftables"];

const fn v(a: u32, b: u32, c: u32) -> Version {
    Version(a, b, c)
}

/// Where a release's tree keeps its defaults, recovery playbooks and their docs: three
/// shapes across the releases here.
struct Tree {
    defaults_role: &'static str,
    upgrade_playbook: &'static str,
    remove_node_playbook: &'static str,
    nodes_doc: &'static str,
    recover_doc: &'static str,
    validate_inventory: bool,
    dynamic_groups: bool,
}

/// v2.24: `kubespray-defaults`, docs at the top of `docs/`.
const TREE_V2_24: Tree = Tree {
    defaults_role: "kubespray-defaults",
    upgrade_playbook: "upgrade-cluster.yml",
    remove_node_playbook: "remove-node.yml",
    nodes_doc: "docs/nodes.md",
    recover_doc: "docs/recover-control-plane.md",
    validate_inventory: false,
    dynamic_groups: false,
};

/// v2.28: `kubespray_defaults`, docs under `docs/operations/`, `roles/validate_inventory`.
const TREE_V2_28: Tree = Tree {
    defaults_role: "kubespray_defaults",
    upgrade_playbook: "upgrade-cluster.yml",
    remove_node_playbook: "remove-node.yml",
    nodes_doc: "docs/operations/nodes.md",
    recover_doc: "docs/operations/recover-control-plane.md",
    validate_inventory: true,
    dynamic_groups: false,
};

/// v2.29 on: the root's `_` playbook names, `roles/dynamic_groups`.
const TREE_V2_29: Tree = Tree {
    defaults_role: "kubespray_defaults",
    upgrade_playbook: "upgrade_cluster.yml",
    remove_node_playbook: "remove_node.yml",
    nodes_doc: "docs/operations/nodes.md",
    recover_doc: "docs/operations/recover-control-plane.md",
    validate_inventory: true,
    dynamic_groups: true,
};

/// One row of [`RELEASES`]; the values every release shares (facts, scale and recover
/// playbooks, container managers) are filled in here.
#[allow(clippy::too_many_arguments)]
const fn release(
    tag: &'static str,
    new_clusters: bool,
    network_plugins: &'static [&'static str],
    proxy_modes: &'static [&'static str],
    ansible_core: (Version, Version),
    ansible_package: &'static str,
    python: (Version, Version),
    kubernetes: (&'static str, &'static str),
    kubernetes_default: &'static str,
    tree: Tree,
) -> Release {
    Release {
        tag,
        new_clusters,
        network_plugins,
        proxy_modes,
        container_managers: CONTAINER_MANAGERS,
        ansible_core: Range {
            min: ansible_core.0,
            max_exclusive: ansible_core.1,
        },
        ansible_package,
        python,
        kubernetes,
        kubernetes_default,
        defaults_role: tree.defaults_role,
        facts_playbook: "playbooks/facts.yml",
        scale_playbook: "scale.yml",
        upgrade_playbook: tree.upgrade_playbook,
        remove_node_playbook: tree.remove_node_playbook,
        recover_playbook: "recover-control-plane.yml",
        nodes_doc: tree.nodes_doc,
        recover_doc: tree.recover_doc,
        validate_inventory: tree.validate_inventory,
        dynamic_groups: tree.dynamic_groups,
    }
}

/// Every release rackstrap knows, oldest first. Columns: tag, offered for new clusters,
/// network plugins, proxy modes, ansible-core range (max exclusive), `ansible` package,
/// Python range, Kubernetes (lowest, highest), Kubernetes default, tree layout.
#[rustfmt::skip]
pub const RELEASES: &[Release] = &[
    release("v2.24.1", false, PLUGINS_WITH_WEAVE, PROXY_MODES,
        (v(2, 15, 5), v(2, 17, 0)), "ansible==8.5.0", (v(3, 9, 0), v(3, 11, 0)),
        ("1.26", "1.29"), "v1.28.6", TREE_V2_24),
    release("v2.28.1", false, PLUGINS_WITH_WEAVE_AND_NONE, PROXY_MODES_WITH_NFTABLES,
        (v(2, 16, 4), v(2, 17, 0)), "ansible==9.13.0", (v(3, 10, 0), v(3, 12, 0)),
        ("1.30", "1.32"), "v1.32.8", TREE_V2_28),
    release("v2.29.1", true, PLUGINS, PROXY_MODES_WITH_NFTABLES,
        (v(2, 17, 3), v(2, 18, 0)), "ansible==10.7.0", (v(3, 10, 0), v(3, 12, 0)),
        ("1.31", "1.33"), "v1.33.7", TREE_V2_29),
    release("v2.30.0", true, PLUGINS, PROXY_MODES_WITH_NFTABLES,
        (v(2, 17, 3), v(2, 18, 0)), "ansible==10.7.0", (v(3, 10, 0), v(3, 12, 0)),
        ("1.32", "1.34"), "v1.34.3", TREE_V2_29),
    release("v2.31.0", true, PLUGINS, PROXY_MODES_WITH_NFTABLES,
        (v(2, 18, 0), v(2, 19, 0)), "ansible==11.13.0", (v(3, 11, 0), v(3, 13, 0)),
        ("1.33", "1.35"), "v1.35.4", TREE_V2_29),
];

impl Release {
    /// The row for a version as plans and trees write it (`v2.30.1`, `2.30.1`): same
    /// major and minor. `None` for a release rackstrap does not know.
    pub fn find(version: &str) -> Option<&'static Release> {
        let want = Version::parse(version)?;
        RELEASES.iter().find(|r| {
            let have = r.version();
            (have.0, have.1) == (want.0, want.1)
        })
    }

    /// The release new plans get.
    pub fn default_release() -> &'static Release {
        Release::find(DEFAULT_TAG).unwrap_or(&RELEASES[RELEASES.len() - 1])
    }

    pub fn version(&self) -> Version {
        Version::parse(self.tag).unwrap_or(Version(0, 0, 0))
    }

    /// `v2.31`: how messages name the line.
    pub fn line(&self) -> String {
        let v = self.version();
        format!("v{}.{}", v.0, v.1)
    }

    /// The `container_manager` values the release of `version` accepts; every release's when
    /// rackstrap does not know it.
    pub fn container_managers_for(version: &str) -> &'static [&'static str] {
        Release::find(version).map_or(CONTAINER_MANAGERS, |r| r.container_managers)
    }

    pub fn allows_network_plugin(&self, plugin: &str) -> bool {
        self.network_plugins.contains(&plugin)
    }

    /// The releases that accept `plugin`, as `v2.24, v2.28`.
    pub fn lines_allowing(plugin: &str) -> Vec<String> {
        RELEASES
            .iter()
            .filter(|r| r.allows_network_plugin(plugin))
            .map(Release::line)
            .collect()
    }

    /// The tags offered for new clusters.
    pub fn for_new_clusters() -> impl Iterator<Item = &'static Release> {
        RELEASES.iter().filter(|r| r.new_clusters)
    }
}

/// Every network plugin any known release accepts, in table order.
pub fn all_network_plugins() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in RELEASES {
        for p in r.network_plugins {
            if !out.contains(p) {
                out.push(p);
            }
        }
    }
    out
}

/// The version `ansible-playbook --version` reports: its first line is
/// `ansible-playbook [core 2.18.12]` (ansible-core 2.11+) or `ansible-playbook 2.9.27`.
pub fn parse_ansible_version(output: &str) -> Option<Version> {
    let first = output.lines().next()?;
    let rest = first.trim().strip_prefix("ansible-playbook")?.trim();
    let rest = rest.strip_prefix("[core").unwrap_or(rest);
    Version::parse(rest.trim().trim_end_matches(']'))
}

/// The `version:` of a Kubespray tree's `galaxy.yml`.
pub fn parse_galaxy_version(text: &str) -> Option<Version> {
    text.lines().find_map(|l| {
        let v = l.strip_prefix("version:")?;
        Version::parse(v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

// The findings the release table gives a plan; `check` calls them (check/cluster.rs).

fn finding(severity: Severity, code: Code, path: &str, message: String, hint: String) -> Finding {
    Finding {
        severity,
        code,
        path: path.into(),
        message,
        hint: Some(hint),
    }
}

/// The network plugin against the plan's release: `E_UNKNOWN_NETWORK_PLUGIN` when no
/// release knows it, `E_NETWORK_PLUGIN_RELEASE` when the plan's release refuses it
/// (`weave` from v2.29, `none` before v2.28), as Kubespray's own check would ("The selected
/// choice is not supported"). An unknown release is checked against every known one.
pub fn network_plugin_findings(plan: &Plan) -> Vec<Finding> {
    let plugin = plan.cluster.network_plugin.as_str();
    let path = "cluster.network_plugin";
    let known = all_network_plugins();
    if !known.contains(&plugin) {
        return vec![Finding {
            severity: Severity::Error,
            code: Code::E_UNKNOWN_NETWORK_PLUGIN,
            path: path.into(),
            message: format!(
                "unknown network plugin `{plugin}`, expected one of {}",
                known.join(", ")
            ),
            hint: None,
        }];
    }
    match Release::find(&plan.cluster.kubespray.version) {
        Some(r) if !r.allows_network_plugin(plugin) => vec![finding(
            Severity::Error,
            Code::E_NETWORK_PLUGIN_RELEASE,
            path,
            format!(
                "Kubespray {} does not support network plugin `{plugin}` (Kubespray stops with \
                 \"The selected choice is not supported\"); it is in Kubespray {}",
                r.tag,
                Release::lines_allowing(plugin).join(", ")
            ),
            format!(
                "choose one of {} (calico is Kubespray's default)",
                r.network_plugins.join(", ")
            ),
        )],
        _ => Vec::new(),
    }
}

/// The plan's release: `W_KUBESPRAY_VERSION` when rackstrap does not know it,
/// `W_KUBESPRAY_OLD_RELEASE` when it is kept only for clusters already built with it.
pub fn release_findings(plan: &Plan) -> Vec<Finding> {
    let v = &plan.cluster.kubespray.version;
    let path = "cluster.kubespray.version";
    let tags = RELEASES
        .iter()
        .map(|r| r.tag)
        .collect::<Vec<_>>()
        .join(", ");
    match Release::find(&plan.cluster.kubespray.version) {
        None => vec![finding(
            Severity::Warning,
            Code::W_KUBESPRAY_VERSION,
            path,
            format!(
                "Kubespray {v} is not a release rackstrap knows ({tags}); the rendered \
                 variables may not be the ones it reads"
            ),
            format!(
                "use {DEFAULT_TAG}, or compare the render with that release's inventory/sample"
            ),
        )],
        Some(r) if !r.new_clusters => vec![finding(
            Severity::Warning,
            Code::W_KUBESPRAY_OLD_RELEASE,
            path,
            format!(
                "Kubespray {} (Kubernetes {}-{}) is kept for clusters built with it; new \
                 clusters use {}",
                r.tag,
                r.kubernetes.0,
                r.kubernetes.1,
                Release::for_new_clusters()
                    .map(|r| r.tag)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "for a new cluster set {DEFAULT_TAG}; an existing one moves up one minor \
                 release at a time (docs/plan.md)"
            ),
        )],
        Some(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_kubespray_and_ansible_write_them() {
        assert_eq!(Version::parse("v2.31.0"), Some(Version(2, 31, 0)));
        assert_eq!(Version::parse("2.17"), Some(Version(2, 17, 0)));
        assert_eq!(Version::parse("2.17.0rc1"), Some(Version(2, 17, 0)));
        assert_eq!(Version::parse("main"), None);
        assert!(Version(2, 17, 3) < Version(2, 18, 0));
    }

    #[test]
    fn a_release_is_found_by_its_line() {
        assert_eq!(Release::find("v2.30.1").map(|r| r.tag), Some("v2.30.0"));
        assert_eq!(Release::find("2.24.1").map(|r| r.tag), Some("v2.24.1"));
        assert_eq!(Release::find("v2.25.0"), None);
        assert_eq!(Release::find("latest"), None);
        assert_eq!(Release::default_release().tag, DEFAULT_TAG);
        assert!(Release::default_release().new_clusters);
    }

    #[test]
    fn each_release_has_its_ansible_range() {
        let r = |t: &str| Release::find(t).expect(t).ansible_core;
        // v2.24.1 under ansible-core 2.18 (what v2.31 needs) is refused, as Kubespray does.
        assert!(!r("v2.24.1").contains(Version(2, 18, 1)));
        assert!(r("v2.24.1").contains(Version(2, 16, 14)));
        assert!(!r("v2.28.1").contains(Version(2, 16, 3)));
        assert!(r("v2.29.1").contains(Version(2, 17, 14)));
        assert!(!r("v2.30.0").contains(Version(2, 18, 0)));
        assert!(r("v2.31.0").contains(Version(2, 18, 12)));
        assert!(!r("v2.31.0").contains(Version(2, 19, 0)));
        assert_eq!(r("v2.31.0").to_string(), ">=2.18.0,<2.19.0");
    }

    #[test]
    fn weave_ends_with_v2_28_and_none_starts_there() {
        assert_eq!(Release::lines_allowing("weave"), ["v2.24", "v2.28"]);
        assert_eq!(
            Release::lines_allowing("none"),
            ["v2.28", "v2.29", "v2.30", "v2.31"]
        );
        assert!(all_network_plugins().contains(&"weave"));
        assert!(all_network_plugins().contains(&"none"));
    }

    #[test]
    fn new_clusters_get_v2_29_and_later() {
        let tags: Vec<&str> = Release::for_new_clusters().map(|r| r.tag).collect();
        assert_eq!(tags, ["v2.29.1", "v2.30.0", "v2.31.0"]);
    }

    #[test]
    fn ansible_and_galaxy_versions_are_read() {
        let out = "ansible-playbook [core 2.18.12]\n  config file = None\n";
        assert_eq!(parse_ansible_version(out), Some(Version(2, 18, 12)));
        assert_eq!(
            parse_ansible_version("ansible-playbook 2.9.27\n"),
            Some(Version(2, 9, 27))
        );
        assert_eq!(parse_ansible_version("bash: not found"), None);
        let galaxy = "---\nnamespace: kubernetes_sigs\nname: kubespray\nversion: 2.31.0\n";
        assert_eq!(parse_galaxy_version(galaxy), Some(Version(2, 31, 0)));
    }
}

#[cfg(test)]
mod findings_tests {
    use super::*;

    fn plan(version: &str, plugin: &str) -> Plan {
        serde_yaml::from_str(&format!(
            "version: 1\ncluster: {{name: c, network_plugin: {plugin}, kubespray: {{version: {version}}}}}\n"
        ))
        .expect("plan")
    }

    fn codes(f: Vec<Finding>) -> Vec<&'static str> {
        f.into_iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn weave_is_refused_from_v2_29_with_kubesprays_words() {
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.28.1", "weave"))),
            Vec::<&str>::new()
        );
        let f = network_plugin_findings(&plan("v2.29.1", "weave"));
        assert_eq!(f[0].code, "E_NETWORK_PLUGIN_RELEASE");
        assert_eq!(
            f[0].message,
            "Kubespray v2.29.1 does not support network plugin `weave` (Kubespray stops with \
             \"The selected choice is not supported\"); it is in Kubespray v2.24, v2.28"
        );
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.31.0", "weave"))),
            ["E_NETWORK_PLUGIN_RELEASE"]
        );
    }

    #[test]
    fn none_is_accepted_from_v2_28_only() {
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.24.1", "none"))),
            ["E_NETWORK_PLUGIN_RELEASE"]
        );
        assert!(network_plugin_findings(&plan("v2.31.0", "none")).is_empty());
        assert_eq!(
            codes(network_plugin_findings(&plan("v2.31.0", "wave"))),
            ["E_UNKNOWN_NETWORK_PLUGIN"]
        );
    }

    #[test]
    fn unknown_and_old_releases_are_warned_about() {
        assert_eq!(
            codes(release_findings(&plan("v2.25.0", "calico"))),
            ["W_KUBESPRAY_VERSION"]
        );
        assert_eq!(
            codes(release_findings(&plan("v2.24.1", "calico"))),
            ["W_KUBESPRAY_OLD_RELEASE"]
        );
        assert!(release_findings(&plan("v2.30.0", "calico")).is_empty());
        assert!(release_findings(&plan(DEFAULT_TAG, "calico")).is_empty());
    }
}
