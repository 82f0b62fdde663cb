//! Cluster-wide and per-host checks that need no facts: names, versions, SSH access, host
//! addresses and labels, sysctl keys.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::messages as msg;
use super::rules::{is_dns_name, label_problem};
use super::{Code, Finding, Severity};
use crate::net;
use crate::plan::model::Plan;
use crate::plan::release::Release;

/// Directories under Kubespray's `inventory/` that its tree ships (the template the
/// kubespray stage copies, and a local example): a cluster named like one would have its
/// inventory written into them.
pub const KUBESPRAY_SHIPPED_INVENTORIES: [&str; 2] = ["sample", "local"];

pub(super) fn check_cluster(plan: &Plan, out: &mut Vec<Finding>) {
    let c = &plan.cluster;
    if c.name.is_empty()
        || c.name.starts_with('.')
        || !c
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_BAD_CLUSTER_NAME,
                "cluster.name",
                msg::bad_cluster_name(&c.name),
            )
            .hint("use letters, digits, `-`, `_` and `.`, e.g. `akash`"),
        );
    } else if KUBESPRAY_SHIPPED_INVENTORIES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&c.name))
    {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_RESERVED_CLUSTER_NAME,
                "cluster.name",
                msg::reserved_cluster_name(&c.name),
            )
            .hint("choose another name, e.g. `akash`"),
        );
    }
    if !is_dns_name(&c.domain) {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_BAD_DOMAIN,
                "cluster.domain",
                msg::bad_domain(&c.domain),
            )
            .hint("the default is `cluster.local`"),
        );
    }
    out.extend(crate::plan::release::network_plugin_findings(plan));
    let managers = Release::container_managers_for(&c.kubespray.version);
    if !managers.contains(&c.container_manager.as_str()) {
        out.push(Finding::new(
            Severity::Error,
            Code::E_UNKNOWN_CONTAINER_MANAGER,
            "cluster.container_manager",
            msg::one_of("container manager", &c.container_manager, managers),
        ));
    }
    out.extend(crate::plan::release::release_findings(plan));
    if plan.access.user.is_empty() {
        out.push(Finding::new(
            Severity::Error,
            Code::E_BAD_USER,
            "access.user",
            "the SSH user is empty".into(),
        ));
    } else if !is_login_name(&plan.access.user) {
        out.push(
            Finding::new(
                Severity::Error,
                Code::E_BAD_USER,
                "access.user",
                format!("SSH user `{}` is not a login name", plan.access.user),
            )
            .hint("letters, digits, `-`, `_` and `.`, not starting with `-`, e.g. `ubuntu`"),
        );
    }
    if plan.access.port == 0 {
        out.push(Finding::new(
            Severity::Error,
            Code::E_BAD_PORT,
            "access.port",
            "SSH port 0 is not a port".into(),
        ));
    }
}

/// A user name `ssh` and `useradd` take: no spaces or shell characters, no leading `-`
/// (it would read as an option). A trailing `$` (Samba machine accounts) is allowed.
fn is_login_name(user: &str) -> bool {
    let name = user.strip_suffix('$').unwrap_or(user);
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

pub(super) fn check_hosts(plan: &Plan, out: &mut Vec<Finding>) {
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut addresses: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, host) in plan.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        if !is_dns_name(&host.name) {
            out.push(
                Finding::new(Severity::Error, Code::E_BAD_HOST_NAME, format!("{at}.name"), msg::bad_host_name(&host.name))
                    .hint("lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit"),
            );
        }
        if let Some(first) = names.insert(&host.name, i) {
            out.push(Finding::new(
                Severity::Error,
                Code::E_DUPLICATE_HOST_NAME,
                format!("{at}.name"),
                msg::duplicate("host name", &host.name, &format!("hosts[{first}]")),
            ));
        }
        if host.address.trim().is_empty() {
            out.push(Finding::new(
                Severity::Error,
                Code::E_BAD_ADDRESS,
                format!("{at}.address"),
                "the address is empty".into(),
            ));
        } else if let Some(first) = addresses.insert(host.address.as_str(), i) {
            out.push(Finding::new(
                Severity::Error,
                Code::E_DUPLICATE_ADDRESS,
                format!("{at}.address"),
                msg::duplicate("address", &host.address, &format!("hosts[{first}]")),
            ));
        }
        if host.address.parse::<IpAddr>().is_err() && !host.address.trim().is_empty() {
            if host
                .address
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
                && !host.address.contains(':')
            {
                // Looks like an address with a typo rather than a hostname: say where.
                if let Err(e) = net::parse_addr(&host.address) {
                    out.push(Finding::new(
                        Severity::Error,
                        Code::E_BAD_ADDRESS,
                        format!("{at}.address"),
                        e.to_string(),
                    ));
                }
            } else {
                out.push(
                    Finding::new(Severity::Warning, Code::W_ADDRESS_NOT_IP, format!("{at}.address"), msg::address_not_ip(&host.address))
                        .hint("write the node's IP address so Kubespray's `ip` and `access_ip` can be set"),
                );
            }
        }
        if host.roles.is_empty() {
            out.push(
                Finding::new(
                    Severity::Warning,
                    Code::W_HOST_NO_ROLES,
                    format!("{at}.roles"),
                    msg::no_roles(&host.name),
                )
                .hint("give it `worker`, or remove it from the plan"),
            );
        }
        for (key, value) in &host.labels {
            if let Some(why) = label_problem(key, value) {
                out.push(Finding::new(
                    Severity::Error,
                    Code::E_BAD_LABEL,
                    format!("{at}.labels.{key}"),
                    why,
                ));
            }
        }
    }
}

pub(super) fn check_tuning(plan: &Plan, out: &mut Vec<Finding>) {
    for (key, value) in &plan.tuning.sysctl {
        let ok_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        let ok_value = !value.to_string().contains(['\n', '\r']);
        if !ok_key || !ok_value {
            out.push(Finding::new(
                Severity::Error,
                Code::E_BAD_SYSCTL,
                format!("tuning.sysctl.{key}"),
                msg::bad_sysctl(key),
            ));
        }
    }
}
