//! Every check: a plan that triggers it and one that does not.
//!
//! The base is the Akash example with facts of healthy hosts; it triggers no error or
//! warning. Each case mutates a copy so that exactly the case's code appears, and (for the
//! "does not trigger" side) the base or a near miss lacks it. A last test makes sure every
//! code the checker can emit has a case here.

use std::collections::BTreeSet;

use rackstrap::facts::{BlockDevice, Facts, HostFacts, Interface, MdArray};
use rackstrap::plan::{self, Discard, Level, Plan, Pool, Relocate, Role, StorageLayout};

const GB: u64 = 1_000_000_000;
const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn base() -> Plan {
    plan::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/examples/akash.yaml"
    )))
    .unwrap()
}

fn disk(name: &str, size: u64, rotational: bool) -> BlockDevice {
    BlockDevice {
        name: name.into(),
        kind: "disk".into(),
        size_bytes: size,
        rotational,
        ..Default::default()
    }
}

fn host_facts(name: &str) -> HostFacts {
    let mut root = disk("sda", 480 * GB, false);
    root.children = vec![BlockDevice {
        name: "sda1".into(),
        kind: "part".into(),
        size_bytes: 480 * GB,
        fstype: Some("ext4".into()),
        mountpoints: vec!["/".into()],
        ..Default::default()
    }];
    HostFacts {
        hostname: name.into(),
        cpus: 16,
        mem_bytes: 64 * GIB,
        disks: vec![
            root,
            disk("nvme0n1", 1_600 * GB, false),
            disk("nvme1n1", 1_600 * GB, false),
            disk("sdb", 4_000 * GB, true),
        ],
        interfaces: vec![Interface {
            name: "eth0".into(),
            mtu: 1500,
            addresses: vec![],
        }],
        ..Default::default()
    }
}

fn base_facts() -> Facts {
    ["node1", "node2", "node3", "node4"]
        .iter()
        .map(|n| (n.to_string(), host_facts(n)))
        .collect()
}

fn codes(plan: &Plan, facts: Option<&Facts>) -> BTreeSet<&'static str> {
    plan::check(plan, facts)
        .into_iter()
        .map(|f| f.code.as_str())
        .collect()
}

type Mutate = fn(&mut Plan, &mut Facts);

fn noop(_: &mut Plan, _: &mut Facts) {}

fn strip_role(p: &mut Plan, role: Role) {
    for h in &mut p.hosts {
        h.roles.retain(|r| *r != role);
    }
}

fn pool(p: &mut Plan) -> &mut Pool {
    &mut p.network.load_balancer.pools[0]
}

fn layout(p: &mut Plan) -> &mut StorageLayout {
    &mut p.hosts[0].storage[0]
}

/// node1's default gateway, in the facts.
fn gateway(f: &mut Facts, gw: &str) {
    f.get_mut("node1").unwrap().default_route = Some(plan_route(gw));
}

fn plan_route(gw: &str) -> rackstrap::facts::Route {
    rackstrap::facts::Route {
        gateway: Some(gw.into()),
        interface: "eth0".into(),
    }
}

/// node1's interface holds its plan address with this prefix (its subnet).
fn on_subnet(f: &mut Facts, cidr: &str) {
    f.get_mut("node1").unwrap().interfaces[0].addresses = vec![cidr.into()];
}

/// node1's `disk` gets one partition `part`, in the facts only.
fn partition(f: &mut Facts, disk: &str, part: &str) {
    let facts = f.get_mut("node1").unwrap();
    if let Some(d) = facts.disks.iter_mut().find(|d| d.name == disk) {
        d.children = vec![BlockDevice {
            name: part.into(),
            kind: "part".into(),
            size_bytes: d.size_bytes,
            ..Default::default()
        }];
    }
}

/// A second layout on node1 over `devices`, mounted at /scratch.
fn second_layout(p: &mut Plan, devices: &[&str]) {
    let mut l = layout(p).clone();
    l.level = if devices.len() == 1 {
        Level::Single
    } else {
        Level::Raid0
    };
    l.devices = devices.iter().map(|d| d.to_string()).collect();
    l.mount = "/scratch".into();
    l.relocate.clear();
    p.hosts[0].storage.push(l);
}

fn extra_host(p: &mut Plan, name: &str, addr: &str, roles: Vec<Role>) {
    let mut h = p.hosts[3].clone();
    h.name = name.into();
    h.address = addr.into();
    h.roles = roles;
    h.storage.clear();
    p.hosts.push(h);
}

/// (code, makes it appear, a near miss that must not make it appear)
const CASES: &[(&str, Mutate, Mutate)] = &[
    (
        "E_BAD_CLUSTER_NAME",
        |p, _| p.cluster.name = "a/b".into(),
        |p, _| p.cluster.name = "a-b_c.d".into(),
    ),
    // Kubespray's own inventories: the kubespray stage would write into inventory/sample.
    (
        "E_RESERVED_CLUSTER_NAME",
        |p, _| p.cluster.name = "sample".into(),
        |p, _| p.cluster.name = "sample2".into(),
    ),
    (
        "E_RESERVED_CLUSTER_NAME",
        |p, _| p.cluster.name = "local".into(),
        |p, _| p.cluster.name = "locals".into(),
    ),
    (
        "E_BAD_DOMAIN",
        |p, _| p.cluster.domain = "Cluster_Local".into(),
        |p, _| p.cluster.domain = "k8s.example.org".into(),
    ),
    (
        "E_UNKNOWN_NETWORK_PLUGIN",
        |p, _| p.cluster.network_plugin = "calicoo".into(),
        |p, _| p.cluster.network_plugin = "cilium".into(),
    ),
    (
        "E_UNKNOWN_CONTAINER_MANAGER",
        |p, _| p.cluster.container_manager = "dockerd".into(),
        |p, _| p.cluster.container_manager = "docker".into(),
    ),
    (
        "W_KUBESPRAY_VERSION",
        |p, _| p.cluster.kubespray.version = "v2.26.0".into(),
        |p, _| p.cluster.kubespray.version = "v2.24.0".into(),
    ),
    (
        "W_KUBESPRAY_OLD_RELEASE",
        |p, _| p.cluster.kubespray.version = "v2.28.1".into(),
        |p, _| p.cluster.kubespray.version = "v2.29.1".into(),
    ),
    (
        "E_NETWORK_PLUGIN_RELEASE",
        |p, _| p.cluster.network_plugin = "weave".into(),
        |p, _| {
            p.cluster.network_plugin = "weave".into();
            p.cluster.kubespray.version = "v2.28.1".into();
        },
    ),
    (
        "E_BAD_USER",
        |p, _| p.access.user = String::new(),
        |p, _| p.access.user = "u".into(),
    ),
    (
        "E_BAD_USER",
        |p, _| p.access.user = "rootadmin x".into(),
        |p, _| p.access.user = "deploy_user-1.a".into(),
    ),
    (
        "E_BAD_PORT",
        |p, _| p.access.port = 0,
        |p, _| p.access.port = 2222,
    ),
    (
        "E_BAD_HOST_NAME",
        |p, f| {
            p.hosts[0].name = "Node1".into();
            f.clear()
        },
        |p, f| {
            p.hosts[0].name = "node-1.rack2".into();
            f.clear()
        },
    ),
    (
        "E_DUPLICATE_HOST_NAME",
        |p, _| p.hosts[1].name = "node1".into(),
        |p, _| p.hosts[1].name = "node1b".into(),
    ),
    (
        "E_BAD_ADDRESS",
        |p, _| p.hosts[0].address = "10.0.10.300".into(),
        |p, _| p.hosts[0].address = "10.0.10.30".into(),
    ),
    (
        "E_DUPLICATE_ADDRESS",
        |p, _| p.hosts[1].address = "10.0.10.136".into(),
        |p, _| p.hosts[1].address = "10.0.10.137".into(),
    ),
    (
        "W_ADDRESS_NOT_IP",
        |p, _| p.hosts[0].address = "node1.lan".into(),
        // Looks like an address with a typo: an error at the character, not this warning.
        |p, _| p.hosts[0].address = "10.0.10.1x6".into(),
    ),
    (
        "W_HOST_NO_ROLES",
        |p, _| extra_host(p, "spare", "10.0.10.50", vec![]),
        |p, _| extra_host(p, "spare", "10.0.10.50", vec![Role::Worker]),
    ),
    (
        "E_BAD_LABEL",
        |p, _| {
            p.hosts[0].labels.insert("bad key".into(), "x".into());
        },
        |p, _| {
            p.hosts[0]
                .labels
                .insert("nvidia.com/ais-target".into(), "demo".into());
        },
    ),
    (
        "E_NO_HOSTS",
        |p, f| {
            p.hosts.clear();
            f.clear()
        },
        |p, _| p.hosts.truncate(1),
    ),
    (
        "E_NO_CONTROL_PLANE",
        |p, _| strip_role(p, Role::ControlPlane),
        |p, _| {
            strip_role(p, Role::ControlPlane);
            p.hosts[3].roles.push(Role::ControlPlane)
        },
    ),
    (
        "E_NO_WORKER",
        |p, _| strip_role(p, Role::Worker),
        |p, _| {
            strip_role(p, Role::Worker);
            p.hosts[3].roles.push(Role::Worker)
        },
    ),
    (
        "E_NO_ETCD",
        |p, _| strip_role(p, Role::Etcd),
        |p, _| {
            strip_role(p, Role::Etcd);
            p.hosts[3].roles.push(Role::Etcd)
        },
    ),
    (
        "E_EVEN_ETCD",
        |p, _| p.hosts[2].roles.retain(|r| *r != Role::Etcd),
        |p, _| {
            p.hosts[2].roles.retain(|r| *r != Role::Etcd);
            p.hosts[1].roles.retain(|r| *r != Role::Etcd)
        },
    ),
    (
        "W_TWO_CONTROL_PLANES",
        |p, _| p.hosts[2].roles.retain(|r| *r != Role::ControlPlane),
        |p, _| p.hosts[3].roles.push(Role::ControlPlane),
    ),
    (
        "W_ETCD_OVER_SEVEN",
        |p, _| {
            for i in 0..6 {
                extra_host(
                    p,
                    &format!("e{i}"),
                    &format!("10.0.10.{}", 60 + i),
                    vec![Role::Etcd, Role::Worker],
                )
            }
        },
        |p, _| {
            for i in 0..4 {
                extra_host(
                    p,
                    &format!("e{i}"),
                    &format!("10.0.10.{}", 60 + i),
                    vec![Role::Etcd, Role::Worker],
                )
            }
        },
    ),
    ("I_QUORUM", noop, |p, _| strip_role(p, Role::Etcd)),
    (
        "W_NO_FACTS",
        |_, f| {
            f.remove("node4");
        },
        // Facts are matched by host name: node4's facts under its new name count.
        |p, f| {
            let facts = f.remove("node4").unwrap();
            f.insert("worker4".into(), facts);
            p.hosts[3].name = "worker4".into()
        },
    ),
    // Installer floors (errors): kubeadm's 2 CPUs and 1700 MiB on a control plane,
    // Kubespray's 1500 MiB on a control plane and 1024 MiB on a node.
    (
        "E_CPU_BELOW_MIN",
        |_, f| f.get_mut("node1").unwrap().cpus = 1,
        |_, f| f.get_mut("node1").unwrap().cpus = 2,
    ),
    (
        "E_RAM_BELOW_MIN",
        |_, f| f.get_mut("node4").unwrap().mem_bytes = 1023 * MIB,
        |_, f| f.get_mut("node4").unwrap().mem_bytes = 1024 * MIB,
    ),
    (
        "E_RAM_BELOW_MIN",
        |_, f| f.get_mut("node1").unwrap().mem_bytes = 1699 * MIB,
        |_, f| f.get_mut("node1").unwrap().mem_bytes = 1700 * MIB,
    ),
    // A 1-CPU worker installs: only the guide's minimum is missed.
    (
        "E_CPU_BELOW_MIN",
        |p, f| {
            p.hosts[3].roles.push(Role::ControlPlane);
            f.get_mut("node4").unwrap().cpus = 1
        },
        |_, f| f.get_mut("node4").unwrap().cpus = 1,
    ),
    // The Akash guide's minimums (warnings).
    (
        "W_CPU_BELOW_GUIDE_MIN",
        |_, f| f.get_mut("node4").unwrap().cpus = 3,
        |_, f| f.get_mut("node4").unwrap().cpus = 4,
    ),
    (
        "W_RAM_BELOW_GUIDE_MIN",
        |_, f| f.get_mut("node4").unwrap().mem_bytes = 7 * GIB,
        |_, f| f.get_mut("node4").unwrap().mem_bytes = 15 * GIB / 2,
    ),
    (
        "W_DISK_BELOW_GUIDE_MIN",
        |_, f| f.get_mut("node4").unwrap().disks[0].size_bytes = 100 * GB - 1,
        |_, f| f.get_mut("node4").unwrap().disks[0].size_bytes = 100 * GB,
    ),
    (
        "W_CPU_BELOW_RECOMMENDED",
        |p, f| {
            p.hosts[0].roles = vec![Role::ControlPlane, Role::Etcd];
            f.get_mut("node1").unwrap().cpus = 3
        },
        |p, f| {
            p.hosts[0].roles = vec![Role::ControlPlane, Role::Etcd];
            f.get_mut("node1").unwrap().cpus = 4
        },
    ),
    (
        "W_RAM_BELOW_RECOMMENDED",
        |p, f| {
            p.hosts[0].roles = vec![Role::ControlPlane, Role::Etcd];
            f.get_mut("node1").unwrap().mem_bytes = 7 * GIB
        },
        |p, f| {
            p.hosts[0].roles = vec![Role::ControlPlane, Role::Etcd];
            f.get_mut("node1").unwrap().mem_bytes = 15 * GIB / 2
        },
    ),
    (
        "W_DISK_BELOW_RECOMMENDED",
        |p, f| {
            p.hosts[0].roles = vec![Role::ControlPlane, Role::Etcd];
            f.get_mut("node1").unwrap().disks[0].size_bytes = 40 * GB - 1
        },
        |p, f| {
            p.hosts[0].roles = vec![Role::ControlPlane, Role::Etcd];
            f.get_mut("node1").unwrap().disks[0].size_bytes = 40 * GB
        },
    ),
    ("I_WORKER_CAPACITY", noop, |p, _| {
        strip_role(p, Role::Worker)
    }),
    (
        "E_HOST_MTU_BELOW_PLAN",
        |p, _| p.network.mtu = 9000,
        |p, f| {
            p.network.mtu = 9000;
            for h in f.values_mut() {
                h.interfaces[0].mtu = 9000
            }
        },
    ),
    (
        "E_BAD_SERVICE_CIDR",
        |p, _| p.network.service_cidr = "10.233.0.0/1x".into(),
        |p, _| p.network.service_cidr = "10.233.0.0/19".into(),
    ),
    (
        "E_BAD_POD_CIDR",
        |p, _| p.network.pod_cidr = "10.233.64.0".into(),
        |p, _| p.network.pod_cidr = "10.233.64.0/19".into(),
    ),
    (
        "E_SERVICE_POD_OVERLAP",
        |p, _| p.network.pod_cidr = "10.233.0.0/17".into(),
        |p, _| p.network.pod_cidr = "10.233.128.0/17".into(),
    ),
    (
        "E_BAD_NODE_PREFIX",
        |p, _| p.network.node_prefix = 16,
        |p, _| p.network.node_prefix = 18,
    ),
    (
        "W_POD_CIDR_TOO_SMALL",
        |p, _| p.network.pod_cidr = "10.233.64.0/23".into(),
        |p, _| p.network.pod_cidr = "10.233.64.0/22".into(),
    ),
    (
        "E_POD_CIDR_TOO_SMALL",
        |p, _| {
            p.cluster.network_plugin = "flannel".into();
            p.network.pod_cidr = "10.233.64.0/23".into()
        },
        |p, _| p.cluster.network_plugin = "flannel".into(),
    ),
    (
        "W_NODE_PREFIX_TOO_LONG",
        |p, _| p.network.node_prefix = 26,
        |p, _| p.network.node_prefix = 25,
    ),
    (
        "E_NODE_PREFIX_TOO_LONG",
        |p, _| {
            p.cluster.network_plugin = "flannel".into();
            p.network.node_prefix = 26
        },
        |p, _| {
            p.cluster.network_plugin = "flannel".into();
            p.network.node_prefix = 25
        },
    ),
    (
        "E_HOST_IN_CLUSTER_CIDR",
        |p, _| p.hosts[3].address = "10.233.70.9".into(),
        |p, _| p.hosts[3].address = "10.233.128.9".into(),
    ),
    (
        "E_BAD_DNS",
        |p, _| p.network.upstream_dns[1] = "8.8.4".into(),
        |p, _| p.network.upstream_dns[1] = "2001:4860:4860::8888".into(),
    ),
    (
        "E_BAD_MTU",
        |p, _| p.network.mtu = 100,
        |p, _| p.network.mtu = 9000,
    ),
    (
        "E_CALICO_MTU",
        |p, _| p.network.calico_mtu = Some(1451),
        |p, _| p.network.calico_mtu = Some(1450),
    ),
    (
        "E_BAD_POOL_NAME",
        |p, _| {
            p.cluster.profile = None;
            pool(p).name = "Default".into()
        },
        |p, _| {
            p.cluster.profile = None;
            pool(p).name = "public-ips".into()
        },
    ),
    (
        "E_DUPLICATE_POOL",
        |p, _| {
            let q = Pool {
                name: "default".into(),
                addresses: vec!["10.1.0.1".into()],
                auto_assign: true,
            };
            p.network.load_balancer.pools.push(q)
        },
        |p, _| {
            let q = Pool {
                name: "second".into(),
                addresses: vec!["10.1.0.1".into()],
                auto_assign: true,
            };
            p.network.load_balancer.pools.push(q)
        },
    ),
    (
        "E_EMPTY_POOL",
        |p, _| pool(p).addresses.clear(),
        |p, _| pool(p).addresses.truncate(1),
    ),
    (
        "E_BAD_POOL_ENTRY",
        |p, _| pool(p).addresses[1] = "198.50.185.112/2x".into(),
        |p, _| pool(p).addresses[1] = "198.50.185.112/29".into(),
    ),
    (
        "E_POOL_OVERLAP",
        |p, _| {
            pool(p)
                .addresses
                .push("144.217.30.200-144.217.30.210".into())
        },
        |p, _| {
            pool(p)
                .addresses
                .push("144.217.30.208-144.217.30.210".into())
        },
    ),
    (
        "E_POOL_HAS_NODE_ADDRESS",
        |p, _| pool(p).addresses.push("10.0.10.0/28".into()),
        |p, _| pool(p).addresses.push("10.0.10.16/28".into()),
    ),
    (
        "E_POOL_IN_CLUSTER_CIDR",
        |p, _| pool(p).addresses.push("10.233.63.250-10.233.64.5".into()),
        |p, _| pool(p).addresses.push("10.233.128.0/28".into()),
    ),
    ("I_POOL_SIZE", noop, |p, _| {
        p.network.load_balancer.pools.clear()
    }),
    (
        "E_AKASH_POOL_NAME",
        |p, _| pool(p).name = "public".into(),
        |p, _| {
            pool(p).name = "public".into();
            p.cluster.profile = None
        },
    ),
    (
        "E_IPV6_NOT_SUPPORTED",
        |p, _| pool(p).addresses.push("fd00:10::/120".into()),
        |p, _| pool(p).addresses.push("10.0.20.0/28".into()),
    ),
    (
        "E_IPV6_NOT_SUPPORTED",
        |p, _| p.network.service_cidr = "fd00:10:233::/112".into(),
        |p, _| p.network.service_cidr = "10.233.192.0/18".into(),
    ),
    (
        "E_IPV6_NOT_SUPPORTED",
        |p, _| p.network.pod_cidr = "fd00:10:234::/64".into(),
        |p, _| p.network.pod_cidr = "10.234.0.0/18".into(),
    ),
    (
        "E_IPV6_NOT_SUPPORTED",
        |p, _| p.hosts[3].address = "fd00::9".into(),
        |p, _| p.hosts[3].address = "10.0.10.10".into(),
    ),
    (
        "E_IPV6_NOT_SUPPORTED",
        |p, _| p.network.vip = Some("fd00::100".into()),
        |p, _| p.network.vip = Some("10.0.10.100".into()),
    ),
    (
        "E_BAD_VIP",
        |p, _| p.network.vip = Some("10.0.10.1000".into()),
        |p, _| p.network.vip = Some("10.0.10.100".into()),
    ),
    (
        "E_VIP_IS_NODE",
        |p, _| p.network.vip = Some("10.0.10.136".into()),
        |p, _| p.network.vip = Some("10.0.10.137".into()),
    ),
    (
        "E_VIP_IN_POOL",
        |p, _| p.network.vip = Some("144.217.30.193".into()),
        |p, _| p.network.vip = Some("144.217.30.208".into()),
    ),
    (
        "E_VIP_IN_CLUSTER_CIDR",
        |p, _| p.network.vip = Some("10.233.0.10".into()),
        |p, _| p.network.vip = Some("10.233.128.10".into()),
    ),
    (
        "E_TOO_FEW_DEVICES",
        |p, _| layout(p).devices.truncate(1),
        |p, _| {
            layout(p).devices.truncate(1);
            layout(p).level = Level::Single
        },
    ),
    (
        "E_SINGLE_MANY_DEVICES",
        |p, _| layout(p).level = Level::Single,
        |p, _| layout(p).level = Level::Raid1,
    ),
    (
        "E_BAD_DEVICE_NAME",
        |p, _| layout(p).devices[1] = "/dev/nvme1n1".into(),
        |p, f| {
            partition(f, "nvme1n1", "nvme1n1p1");
            layout(p).devices[1] = "nvme1n1p1".into()
        },
    ),
    (
        "E_DEVICE_USED_TWICE",
        |p, _| layout(p).devices[1] = "nvme0n1".into(),
        |p, _| second_layout(p, &["sdb"]),
    ),
    (
        "E_UNKNOWN_DEVICE",
        |p, _| layout(p).devices[1] = "nvme7n1".into(),
        |p, f| {
            let d = disk("nvme7n1", 1_600 * GB, false);
            f.get_mut("node1").unwrap().disks.push(d);
            layout(p).devices[1] = "nvme7n1".into()
        },
    ),
    (
        "E_DEVICE_HOLDS_ROOT",
        |p, _| {
            layout(p).devices[1] = "sda".into();
            layout(p).wipe = true
        },
        |p, _| {
            layout(p).devices[1] = "sdb".into();
            layout(p).wipe = true
        },
    ),
    (
        "E_DEVICE_MOUNTED",
        |_, f| f.get_mut("node1").unwrap().disks[1].mountpoints = vec!["/mnt/old".into()],
        |_, f| f.get_mut("node1").unwrap().disks[1].fstype = Some("xfs".into()),
    ),
    // Mounted is refused even with `wipe`, as the storage stage refuses it; formatted but
    // unmounted with `wipe` is consent enough.
    (
        "E_DEVICE_MOUNTED",
        |p, f| {
            f.get_mut("node1").unwrap().disks[1].mountpoints = vec!["/mnt/old".into()];
            layout(p).wipe = true
        },
        |p, f| {
            f.get_mut("node1").unwrap().disks[1].fstype = Some("xfs".into());
            layout(p).wipe = true
        },
    ),
    (
        "E_DEVICE_IN_USE",
        |_, f| f.get_mut("node1").unwrap().disks[2].fstype = Some("xfs".into()),
        |p, f| {
            f.get_mut("node1").unwrap().disks[2].fstype = Some("xfs".into());
            layout(p).wipe = true
        },
    ),
    // A disk and one of its partitions in two layouts: a name compare does not see it.
    (
        "E_DEVICE_OVERLAP",
        |p, f| {
            partition(f, "nvme0n1", "nvme0n1p1");
            second_layout(p, &["nvme0n1p1"]);
        },
        |p, f| {
            partition(f, "sdb", "sdb1");
            second_layout(p, &["sdb1"]);
        },
    ),
    // The partition first, its disk later.
    (
        "E_DEVICE_OVERLAP",
        |p, f| {
            partition(f, "sdb", "sdb1");
            layout(p).devices[1] = "sdb1".into();
            second_layout(p, &["sdb"]);
        },
        |p, f| {
            partition(f, "sdb", "sdb1");
            layout(p).devices[1] = "sdb1".into();
            second_layout(p, &["nvme1n1"]);
        },
    ),
    (
        "E_DNS_IN_CLUSTER_CIDR",
        |p, _| p.network.upstream_dns = vec!["10.233.0.10".into()],
        |p, _| p.network.upstream_dns = vec!["10.234.0.10".into()],
    ),
    (
        "E_POOL_HAS_DNS",
        |p, _| pool(p).addresses.push("8.8.8.8".into()),
        |p, _| pool(p).addresses.push("8.8.8.9".into()),
    ),
    (
        "E_GATEWAY_IN_CLUSTER_CIDR",
        |_, f| gateway(f, "10.233.0.1"),
        |_, f| gateway(f, "10.0.10.1"),
    ),
    (
        "E_POOL_HAS_GATEWAY",
        |_, f| gateway(f, "144.217.30.193"),
        |_, f| gateway(f, "144.217.30.100"),
    ),
    (
        "W_POOL_OFF_SUBNET",
        |p, f| {
            on_subnet(f, "10.0.10.136/24");
            pool(p).addresses = vec!["10.0.10.200-10.0.11.20".into()];
        },
        |p, f| {
            on_subnet(f, "10.0.10.136/24");
            pool(p).addresses = vec!["10.0.10.200-10.0.10.210".into()];
        },
    ),
    (
        "E_VIP_OFF_SUBNET",
        |p, f| {
            on_subnet(f, "10.0.10.136/24");
            p.network.vip = Some("10.0.20.5".into());
        },
        |p, f| {
            on_subnet(f, "10.0.10.136/24");
            p.network.vip = Some("10.0.10.250".into());
        },
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/var/lib".into(),
        |p, _| layout(p).mount = "/var/lib/ais".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/home".into(),
        |p, _| layout(p).mount = "/srv".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/usr/local".into(),
        |p, _| layout(p).mount = "/mnt/disk1".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/var".into(),
        |p, _| layout(p).mount = "/var/lib/data".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/data/".into(),
        |p, _| layout(p).mount = "/data/0".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/mnt//data".into(),
        |p, _| layout(p).mount = "/mnt/data".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/mnt/my data".into(),
        |p, _| layout(p).mount = "/mnt/my_data".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/mnt/../etc".into(),
        |p, _| layout(p).mount = "/mnt/..data".into(),
    ),
    (
        "E_BAD_MOUNT",
        |p, _| layout(p).mount = "/".into(),
        |p, _| layout(p).mount = "/a".into(),
    ),
    (
        "E_MOUNT_COLLISION",
        |p, _| {
            let mut l = layout(p).clone();
            l.devices = vec!["sdb".into()];
            l.level = Level::Single;
            l.relocate.clear();
            p.hosts[0].storage.push(l)
        },
        |p, _| {
            let mut l = layout(p).clone();
            l.devices = vec!["sdb".into()];
            l.level = Level::Single;
            l.relocate.clear();
            l.mount = "/data2".into();
            p.hosts[0].storage.push(l)
        },
    ),
    (
        "E_RELOCATE_PER_DISK",
        |p, _| layout(p).level = Level::PerDisk,
        |p, _| {
            layout(p).level = Level::PerDisk;
            layout(p).relocate.clear()
        },
    ),
    (
        "E_RELOCATE_TWICE",
        |p, _| {
            let mut l = layout(p).clone();
            l.devices = vec!["sdb".into()];
            l.level = Level::Single;
            l.mount = "/data2".into();
            l.relocate = vec![Relocate::Kubelet];
            p.hosts[0].storage.push(l)
        },
        |p, _| {
            let mut l = layout(p).clone();
            l.devices = vec!["sdb".into()];
            l.level = Level::Single;
            l.mount = "/data2".into();
            l.relocate.clear();
            p.hosts[0].storage.push(l)
        },
    ),
    (
        "E_RELOCATE_CONTAINERD",
        |p, _| p.cluster.container_manager = "crio".into(),
        |p, _| {
            p.cluster.container_manager = "crio".into();
            for h in &mut p.hosts {
                for l in &mut h.storage {
                    l.relocate.retain(|r| *r != Relocate::Containerd)
                }
            }
        },
    ),
    (
        "W_MIXED_SIZES",
        |_, f| f.get_mut("node1").unwrap().disks[2].size_bytes = 1_000 * GB,
        |_, f| {
            let node1 = f.get_mut("node1").unwrap();
            node1.disks[1].size_bytes = 1_000 * GB;
            node1.disks[2].size_bytes = 1_000 * GB
        },
    ),
    (
        "W_DISCARD_ROTATIONAL",
        |p, _| {
            layout(p).devices[1] = "sdb".into();
            layout(p).discard = Discard::On
        },
        |p, _| {
            layout(p).devices[1] = "sdb".into();
            layout(p).discard = Discard::Auto
        },
    ),
    ("I_CAPACITY", noop, |p, _| {
        for h in &mut p.hosts {
            h.storage.clear()
        }
    }),
    (
        "E_BAD_SYSCTL",
        |p, _| {
            p.tuning
                .sysctl
                .insert("vm.max map".into(), plan::SysctlValue::Int(1));
        },
        |p, _| {
            p.tuning
                .sysctl
                .insert("net.ipv4.ip_forward".into(), plan::SysctlValue::Int(1));
        },
    ),
];

#[test]
fn base_has_no_errors_or_warnings() {
    let findings = plan::check(&base(), Some(&base_facts()));
    let bad: Vec<_> = findings
        .iter()
        .filter(|f| f.severity != plan::Severity::Info)
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn each_check_triggers_and_its_near_miss_does_not() {
    let mut failures = Vec::new();
    for (code, trigger, miss) in CASES {
        let (mut p, mut f) = (base(), base_facts());
        trigger(&mut p, &mut f);
        if !codes(&p, Some(&f)).contains(code) {
            failures.push(format!(
                "{code}: not triggered; got {:?}",
                codes(&p, Some(&f))
            ));
        }
        let (mut p, mut f) = (base(), base_facts());
        miss(&mut p, &mut f);
        // A near miss that leaves the base as it is shows nothing the base test does not.
        if p == base() && f == base_facts() {
            failures.push(format!("{code}: the near miss is the clean base"));
        }
        if codes(&p, Some(&f)).contains(code) {
            failures.push(format!("{code}: triggered by the near miss"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_code_has_a_case() {
    // The codes `check` can emit, from the enum itself (the wizard's own codes aside).
    let emitted: BTreeSet<&str> = plan::Code::checked().map(|c| c.as_str()).collect();
    assert!(emitted.contains("E_IPV6_NOT_SUPPORTED") && emitted.len() > 70);
    let covered: BTreeSet<&str> = CASES.iter().map(|c| c.0).collect();
    let missing: Vec<_> = emitted.difference(&covered).collect();
    assert!(missing.is_empty(), "codes without a case: {missing:?}");
    let unknown: Vec<_> = covered.difference(&emitted).collect();
    assert!(
        unknown.is_empty(),
        "cases for codes check never emits: {unknown:?}"
    );
}

#[test]
fn findings_are_deterministic_and_located() {
    let (mut p, f) = (base(), base_facts());
    p.hosts[0].storage[0].devices[1] = "nvme7n1".into();
    let a = plan::check(&p, Some(&f));
    assert_eq!(a, plan::check(&p, Some(&f)));
    let unknown = a.iter().find(|x| x.code == "E_UNKNOWN_DEVICE").unwrap();
    assert_eq!(unknown.path, "hosts[0].storage[0].devices[1]");
    assert_eq!(unknown.message, "node1 has no device nvme7n1");
    assert_eq!(
        unknown.hint.as_deref(),
        Some("node1's disks: sda, nvme0n1, nvme1n1, sdb")
    );
}

/// One rule for check, the wizard and the storage stage: the reason, and the plain
/// spelling as the hint when only the slashes are off.
#[test]
fn mount_problems_say_what_and_how_to_fix() {
    let hint = |m: &str| plan::mount_problem(m).and_then(|p| p.hint);
    assert_eq!(hint("/data/").as_deref(), Some("write /data"));
    assert_eq!(hint("//mnt//x/").as_deref(), Some("write /mnt/x"));
    let message = |m: &str| {
        plan::mount_problem(m)
            .map(|p| p.message)
            .unwrap_or_default()
    };
    assert!(message("/a\tb").contains("blank or control character"));
    assert!(message("/a\u{7}").contains("blank or control character"));
    assert!(message("/x/./y").contains("`..`"));
    assert!(message("/").contains("system directory"));
    assert!(message("x").contains("not an absolute path"));
    assert!(message("").contains("not an absolute path"));
    for fine in ["/data", "/mnt/fast-1", "/srv/a.b"] {
        assert_eq!(plan::mount_problem(fine), None, "{fine}");
    }
}

/// The overlap finding names both devices, which one lies on which, and where the first
/// is used; md arrays over partitions count too.
#[test]
fn device_overlap_names_both_devices() {
    let (mut p, mut f) = (base(), base_facts());
    partition(&mut f, "sdb", "sdb1");
    second_layout(&mut p, &["sdb1"]);
    layout(&mut p).devices.push("sdb".into());
    let found = plan::check(&p, Some(&f));
    let overlap: Vec<_> = found
        .iter()
        .filter(|x| x.code == "E_DEVICE_OVERLAP")
        .collect();
    assert_eq!(overlap.len(), 1, "{found:#?}");
    assert_eq!(overlap[0].path, "hosts[0].storage[1].devices[0]");
    assert_eq!(
        overlap[0].message,
        "sdb1 lies on sdb, already used by hosts[0].storage[0].devices[2]"
    );

    let node1 = f.get_mut("node1").unwrap();
    node1.disks[1].children = vec![BlockDevice {
        name: "md0".into(),
        kind: "raid1".into(),
        ..Default::default()
    }];
    assert_eq!(
        plan::overlap_holder(node1, "md0", "nvme0n1"),
        Some("nvme0n1")
    );
    assert_eq!(
        plan::overlap_holder(node1, "nvme0n1", "md0"),
        Some("nvme0n1")
    );
    assert_eq!(plan::overlap_holder(node1, "nvme0n1", "nvme1n1"), None);
    assert_eq!(plan::overlap_holder(node1, "nvme0n1", "nvme0n1"), None);
}

#[test]
fn quorum_arithmetic() {
    let table = [
        (0, 0, 0),
        (1, 1, 0),
        (2, 2, 0),
        (3, 2, 1),
        (4, 3, 1),
        (5, 3, 2),
        (6, 4, 2),
        (7, 4, 3),
    ];
    for (members, quorum, tolerated) in table {
        let q = plan::Quorum::of(members);
        assert_eq!(
            (q.members, q.quorum, q.tolerated),
            (members, quorum, tolerated)
        );
    }
    assert_eq!(plan::quorum(&base()).members, 3);
}

#[test]
fn even_etcd_suggests_a_worker_and_two_control_planes_suggest_third_etcd() {
    let mut p = base();
    p.hosts[2].roles = vec![Role::Worker];
    let f = plan::check(&p, None);
    let even = f.iter().find(|x| x.code == "E_EVEN_ETCD").unwrap();
    assert_eq!(
        even.message,
        "2 etcd members is an even number: Kubespray refuses it, and it tolerates no more failures (0) than 1"
    );
    assert_eq!(
        even.hint.as_deref(),
        Some(
            "before the first install, add `etcd` to one worker's roles, or remove it from one \
             host; on a built cluster, add a new host with the `etcd` role to the plan and run \
             `rackstrap node add PLAN NAME` (Kubespray's docs/operations/nodes.md, \"Adding an \
             etcd node\")"
        )
    );
    let two = f.iter().find(|x| x.code == "W_TWO_CONTROL_PLANES").unwrap();
    assert!(
        two.hint
            .as_deref()
            .unwrap()
            .contains("add `etcd` to one worker's roles")
    );
    // With the third member on a worker (as in a two-control-plane homelab), the error is gone and no hint is needed.
    p.hosts[3].roles.push(Role::Etcd);
    let f = plan::check(&p, None);
    assert!(!f.iter().any(|x| x.code == "E_EVEN_ETCD"));
    assert!(
        f.iter()
            .find(|x| x.code == "W_TWO_CONTROL_PLANES")
            .unwrap()
            .hint
            .is_none()
    );
    let q = f.iter().find(|x| x.code == "I_QUORUM").unwrap();
    assert_eq!(q.message, "etcd: 3 members, quorum 2, tolerates 1 failure");
}

#[test]
fn usable_capacity_per_level() {
    let t = 1_000 * GB;
    let four = [t, t, t, 2 * t];
    assert_eq!(plan::usable_bytes(Level::Raid0, &four), 4 * t);
    assert_eq!(plan::usable_bytes(Level::Raid1, &four), t);
    assert_eq!(plan::usable_bytes(Level::Raid5, &four), 3 * t);
    assert_eq!(plan::usable_bytes(Level::Raid6, &four), 2 * t);
    assert_eq!(plan::usable_bytes(Level::Raid10, &four), 2 * t);
    assert_eq!(plan::usable_bytes(Level::PerDisk, &four), 5 * t);
    assert_eq!(plan::usable_bytes(Level::Single, &[t]), t);
    // Below the level's minimum there is no array.
    assert_eq!(plan::usable_bytes(Level::Raid5, &[t, t]), 0);
    assert_eq!(plan::usable_bytes(Level::Raid6, &[t, t, t]), 0);
}

/// Sizes come from the host's lsblk: values whose sum or product passes `u64::MAX`
/// saturate instead of panicking on overflow.
#[test]
fn usable_capacity_saturates_on_huge_sizes() {
    let huge = [1u64 << 63, 1 << 63];
    for level in [Level::Single, Level::PerDisk, Level::Raid0] {
        assert_eq!(plan::usable_bytes(level, &huge), u64::MAX, "{level:?}");
    }
    let five = [u64::MAX; 5];
    assert_eq!(plan::usable_bytes(Level::Raid5, &five), u64::MAX);
    assert_eq!(plan::usable_bytes(Level::Raid6, &five), u64::MAX);
    assert_eq!(plan::usable_bytes(Level::Raid10, &five), u64::MAX);
    assert_eq!(plan::usable_bytes(Level::Raid1, &huge), 1 << 63);
    assert_eq!(plan::total_bytes(huge), u64::MAX);
    assert_eq!(plan::total_bytes([1, 2]), 3);
}

#[test]
fn discard_auto_follows_rotational_flags() {
    let p = base();
    let mut f = host_facts("node1");
    let mut l = p.hosts[0].storage[0].clone();
    assert!(plan::resolve_discard(&l, Some(&f)));
    assert!(
        !plan::resolve_discard(&l, None),
        "without facts auto stays off"
    );
    f.disks[2].rotational = true;
    assert!(!plan::resolve_discard(&l, Some(&f)));
    l.discard = Discard::On;
    assert!(plan::resolve_discard(&l, Some(&f)));
    l.discard = Discard::Off;
    f.disks[2].rotational = false;
    assert!(!plan::resolve_discard(&l, Some(&f)));
}

#[test]
fn md_member_without_wipe_is_in_use() {
    let (p, mut f) = (base(), base_facts());
    f.get_mut("node2").unwrap().md_arrays = vec![MdArray {
        name: "md127".into(),
        level: "raid0".into(),
        members: vec!["nvme1n1".into()],
    }];
    let found = plan::check(&p, Some(&f));
    let e = found.iter().find(|x| x.code == "E_DEVICE_IN_USE").unwrap();
    assert_eq!(e.path, "hosts[1].storage[0].devices[1]");
    assert_eq!(
        e.message,
        "node2: nvme1n1 is a member of md127 and `wipe` is not set"
    );
}

#[test]
fn capacity_and_mixed_sizes_are_reported() {
    let (p, mut f) = (base(), base_facts());
    f.get_mut("node1").unwrap().disks[2].size_bytes = 1_000 * GB;
    let found = plan::check(&p, Some(&f));
    let mixed = found.iter().find(|x| x.code == "W_MIXED_SIZES").unwrap();
    assert_eq!(
        mixed.message,
        "raid0 members differ in size (nvme0n1 1.5T, nvme1n1 931G): each is used only up to 931G"
    );
    let cap = found
        .iter()
        .find(|x| x.code == "I_CAPACITY" && x.path == "hosts[0].storage[0]")
        .unwrap();
    assert_eq!(
        cap.message,
        "raid0 over 2 devices: 1.8T usable at /data, discard on"
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Whatever text lands in the address-like fields, checking reports and never panics.
        #[test]
        fn check_never_panics(
            addr in "[0-9a-f.:/-]{0,20}",
            cidr in "[0-9a-f.:/]{0,20}",
            entry in "[0-9a-f.:/ -]{0,24}",
            prefix in any::<u8>(),
            mtu in any::<u32>(),
            calico in proptest::option::of(prop_oneof![any::<u32>(), (u32::MAX - 30)..=u32::MAX]),
            dev in "[a-z0-9/ ]{0,8}",
            level in 0usize..7,
        ) {
            let (mut p, f) = (base(), base_facts());
            p.hosts[1].address = addr;
            p.network.pod_cidr = cidr.clone();
            p.network.service_cidr = cidr;
            p.network.node_prefix = prefix;
            p.network.mtu = mtu;
            p.network.calico_mtu = calico;
            p.network.vip = Some(entry.clone());
            p.network.load_balancer.pools[0].addresses.push(entry);
            p.hosts[0].storage[0].devices.push(dev);
            p.hosts[0].storage[0].level = Level::ALL[level];
            let _ = plan::check(&p, Some(&f));
            let _ = plan::check(&p, None);
        }
    }
}

/// Pool entries in the short range form are checked like the long form: overlaps are found,
/// and a bad last octet is reported at its character.
#[test]
fn short_range_pool_entries_are_checked() {
    let mut p = base();
    pool(&mut p).addresses.push("144.217.30.200-210".into());
    let f = plan::check(&p, None);
    let overlap = f.iter().find(|x| x.code == "E_POOL_OVERLAP").unwrap();
    assert!(
        overlap
            .message
            .starts_with("144.217.30.200-144.217.30.210 overlaps"),
        "{}",
        overlap.message
    );
    let mut p = base();
    pool(&mut p).addresses.push("144.217.30.220-2x0".into());
    let f = plan::check(&p, None);
    let bad = f.iter().find(|x| x.code == "E_BAD_POOL_ENTRY").unwrap();
    assert!(bad.message.contains("(character 17)"), "{}", bad.message);
}

/// IPv6 pool entries as large as the whole address space are counted without overflow:
/// `::/0` holds 2^128 addresses, one more than a `u128`, so its count saturates and reads
/// as an order of magnitude, while powers of two read as such.
#[test]
fn huge_ipv6_pools_are_counted_without_overflow() {
    let mut p = base();
    let lb = &mut p.network.load_balancer;
    lb.pools.truncate(1);
    lb.pools[0].addresses = vec!["::/0".into()];
    for (name, entry) in [("half", "::/1"), ("lab", "fd00::/64")] {
        let mut extra = lb.pools[0].clone();
        extra.name = name.into();
        extra.addresses = vec![entry.into()];
        lb.pools.push(extra);
    }
    let f = plan::check(&p, None);
    let sizes: Vec<&str> = f
        .iter()
        .filter(|x| x.code == "I_POOL_SIZE")
        .map(|x| x.message.as_str())
        .collect();
    assert_eq!(
        sizes,
        [
            "pool `default`: more than 10^38 addresses",
            "pool `half`: 2^127 addresses",
            "pool `lab`: 2^64 addresses",
        ]
    );
    let overlaps: Vec<(&str, &str)> = f
        .iter()
        .filter(|x| x.code == "E_POOL_OVERLAP")
        .map(|x| (x.path.as_str(), x.message.as_str()))
        .collect();
    assert_eq!(
        overlaps,
        [
            (
                "network.load_balancer.pools[1].addresses[0]",
                "::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff overlaps network.load_balancer.pools[0].addresses[0] (::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff): 2^127 shared addresses (::-7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff)"
            ),
            (
                "network.load_balancer.pools[2].addresses[0]",
                "fd00::-fd00::ffff:ffff:ffff:ffff overlaps network.load_balancer.pools[0].addresses[0] (::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff): 2^64 shared addresses (fd00::-fd00::ffff:ffff:ffff:ffff)"
            ),
        ]
    );
    // All three in one pool: the sum saturates instead of wrapping.
    let mut p = base();
    pool(&mut p).addresses = vec!["::/0".into(), "::/1".into(), "fd00::/64".into()];
    let f = plan::check(&p, None);
    let size = f.iter().find(|x| x.code == "I_POOL_SIZE").unwrap();
    assert_eq!(size.message, "pool `default`: more than 10^38 addresses");
}

/// An IPv6 value in the IPv4 plan is refused where it was written, and says what the
/// plan supports.
#[test]
fn ipv6_values_are_refused_at_their_path() {
    let mut p = base();
    pool(&mut p).addresses.push(" fd00::/64".into());
    p.network.pod_cidr = "fd00:10:234::/64".into();
    p.hosts[1].address = "fd00::9".into();
    let f = plan::check(&p, None);
    let found: Vec<(&str, &str)> = f
        .iter()
        .filter(|x| x.code == "E_IPV6_NOT_SUPPORTED")
        .map(|x| (x.path.as_str(), x.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "network.pod_cidr",
                "pod CIDR `fd00:10:234::/64` is IPv6; this plan format supports IPv4 only"
            ),
            (
                "hosts[1].address",
                "node address `fd00::9` is IPv6; this plan format supports IPv4 only"
            ),
            (
                "network.load_balancer.pools[0].addresses[5]",
                "pool entry `fd00::/64` is IPv6; this plan format supports IPv4 only"
            ),
        ]
    );
    let hint = f
        .iter()
        .find(|x| x.code == "E_IPV6_NOT_SUPPORTED")
        .and_then(|x| x.hint.as_deref())
        .unwrap();
    assert!(hint.contains("enable_dual_stack_networks"), "{hint}");
    // IPv4-mapped spelling is still IPv6 text; the plain IPv4 address is fine.
    let mut p = base();
    pool(&mut p).addresses.push("::ffff:10.0.20.1".into());
    assert!(codes(&p, None).contains("E_IPV6_NOT_SUPPORTED"));
    let mut p = base();
    pool(&mut p).addresses.push("10.0.20.1".into());
    assert!(!codes(&p, None).contains("E_IPV6_NOT_SUPPORTED"));
}

/// `network.mtu: 9000` (calico_mtu 8950) on 1500 links drops pod traffic, and a VIP off the
/// control planes' subnet cannot be announced by kube-vip's ARP mode: both are errors. The
/// link that counts is the one holding the host's address, not a larger bridge beside it.
#[test]
fn an_mtu_above_the_links_and_a_vip_off_subnet_are_errors() {
    let mut p = base();
    p.network.mtu = 9000;
    let mut f = base_facts();
    let address = p.hosts[0].address.clone();
    let node1 = f.get_mut("node1").unwrap();
    node1.interfaces[0].addresses = vec![format!("{address}/24")];
    node1.interfaces.push(Interface {
        name: "br-jumbo".into(),
        mtu: 9000,
        addresses: vec!["192.168.77.1/24".into()],
    });
    for (name, h) in f.iter_mut() {
        if name != "node1" {
            h.interfaces[0].mtu = 9000;
        }
    }
    let found = plan::check(&p, Some(&f));
    let mtu: Vec<_> = found
        .iter()
        .filter(|x| x.code == "E_HOST_MTU_BELOW_PLAN")
        .collect();
    assert_eq!(mtu.len(), 1, "{found:?}");
    assert!(mtu[0].is_error());
    assert_eq!(mtu[0].path, "hosts[0]");
    assert!(
        mtu[0].message.contains("MTU 1500, below the plan's 9000")
            && mtu[0].message.contains("8950"),
        "{}",
        mtu[0].message
    );

    let mut p = base();
    let mut f = base_facts();
    on_subnet(&mut f, "10.0.10.136/24");
    p.network.vip = Some("10.0.20.5".into());
    let found = plan::check(&p, Some(&f));
    let vip = found
        .iter()
        .find(|x| x.code == "E_VIP_OFF_SUBNET")
        .expect("VIP off subnet");
    assert!(vip.is_error());
    assert!(
        vip.message.contains("kube-vip's ARP mode"),
        "{}",
        vip.message
    );
}

/// Akash wording only for the Akash profile: a plain plan (homelab, AIStore) gets Kubespray's
/// and kubeadm's figures and the worker's plain capacity, never the Akash guide's.
#[test]
fn akash_words_only_for_the_akash_profile() {
    let small = |f: &mut Facts| {
        for h in f.values_mut() {
            h.cpus = 2;
            h.mem_bytes = 6 * GIB;
        }
    };
    let two_cps = |p: &mut Plan| {
        p.hosts[2].roles.retain(|r| *r != Role::ControlPlane);
    };
    let mut akash = base();
    two_cps(&mut akash);
    let mut f = base_facts();
    small(&mut f);
    let found = plan::check(&akash, Some(&f));
    assert!(found.iter().any(|x| x.code == "W_CPU_BELOW_GUIDE_MIN"));
    assert!(
        found
            .iter()
            .any(|x| x.message.contains("1-CPU deployments"))
    );
    assert!(
        found
            .iter()
            .any(|x| x.message.contains("as the Akash provider guide advises"))
    );

    let mut plain = akash.clone();
    plain.cluster.profile = None;
    let found = plan::check(&plain, Some(&f));
    for x in &found {
        let text = format!("{} {}", x.message, x.hint.as_deref().unwrap_or_default());
        assert!(
            !text.contains("Akash") && !text.contains("1-CPU"),
            "{}: {text}",
            x.code
        );
    }
    assert!(found.iter().any(|x| x.code == "W_TWO_CONTROL_PLANES"));
    let capacity = found
        .iter()
        .find(|x| x.code == "I_WORKER_CAPACITY")
        .expect("capacity");
    assert!(
        capacity.message.contains("2 CPUs and 6G of memory"),
        "{}",
        capacity.message
    );
    assert!(
        !found
            .iter()
            .any(|x| x.code.as_str().contains("GUIDE") || x.code.as_str().contains("RECOMMENDED"))
    );
    assert_eq!(
        plan::role_fit_for(&f["node1"], plan::HwRole::Worker, false),
        plan::Fit::Meets
    );
}
