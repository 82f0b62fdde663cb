//! From the forms to the plan: what the Access and Network screens hold as typed goes into
//! the plan, and the accepted, included rows of Discover and Hosts become its hosts.

use std::collections::{BTreeMap, BTreeSet};

use super::{Model, NetField};
use crate::facts::Facts;
use crate::plan::{Host, Pool, Role};

impl Model {
    pub(crate) fn sync_access(&mut self) {
        self.plan.cluster.name = self.access.cluster.value().trim().to_string();
        self.plan.access.user = self.access.user.value().trim().to_string();
        if let Ok(p) = self.access.port.value().parse() {
            self.plan.access.port = p;
        }
        self.plan.access.identity = self.access.identity.value().trim().to_string();
    }

    pub(crate) fn sync_network(&mut self) {
        let v = |f: NetField| self.network.value(f).to_string();
        // Lists split as the core splits them: commas and blanks.
        let list = |s: String| -> Vec<String> {
            crate::net::split_list(&s)
                .into_iter()
                .map(|(_, x)| x.to_string())
                .collect()
        };
        let addresses: Vec<String> = v(NetField::PoolAddresses)
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        // The form's pool first (none while its addresses are empty), then the plan's other
        // pools unchanged.
        let first = (!addresses.is_empty()).then(|| Pool {
            name: v(NetField::PoolName).trim().to_string(),
            addresses,
            auto_assign: self.network.auto_assign,
        });
        self.plan.network.load_balancer.pools = first
            .into_iter()
            .chain(self.network.other_pools.iter().cloned())
            .collect();
        self.plan.network.service_cidr = v(NetField::ServiceCidr).trim().to_string();
        self.plan.network.pod_cidr = v(NetField::PodCidr).trim().to_string();
        if let Ok(p) = v(NetField::NodePrefix).trim().parse() {
            self.plan.network.node_prefix = p;
        }
        self.plan.network.upstream_dns = list(v(NetField::UpstreamDns));
        if let Ok(m) = v(NetField::Mtu).trim().parse() {
            self.plan.network.mtu = m;
        }
        let vip = v(NetField::Vip).trim().to_string();
        self.plan.network.vip = (!vip.is_empty()).then_some(vip);
    }

    /// Rebuilds the plan's hosts from the accepted, included rows, keeping what the operator
    /// already chose for hosts that stay (Esc and back never loses input).
    pub fn sync_hosts(&mut self) {
        let mut old: BTreeMap<String, Host> = self
            .plan
            .hosts
            .drain(..)
            .map(|h| (h.address.clone(), h))
            .collect();
        let mut names = BTreeSet::new();
        let mut facts = Facts::new();
        let first = old.is_empty() && self.set_aside.is_empty();
        let mut fresh = Vec::new();
        for row in self.rows.iter().filter(|r| r.usable()) {
            if self.excluded.contains(&row.found.address) {
                continue;
            }
            let f = row.found.facts.clone();
            // A host taken back comes back as it was left: roles, labels, layouts.
            let kept = old
                .remove(&row.found.address)
                .or_else(|| self.set_aside.remove(&row.found.address));
            let host = match (kept, &f) {
                (Some(h), _) => h,
                (None, None) => continue,
                (None, Some(f)) => {
                    // Only a name Kubespray takes as it is; anything else becomes `nodeN`.
                    let mut name = Host::name_from_hostname(&f.hostname).unwrap_or_default();
                    if name.is_empty() || names.contains(&name) {
                        name = format!("node{}", names.len() + 1);
                    }
                    fresh.push(self.plan.hosts.len());
                    Host {
                        name,
                        address: row.found.address.clone(),
                        roles: vec![],
                        labels: BTreeMap::new(),
                        storage: vec![],
                        etcd_member_name: None,
                    }
                }
            };
            names.insert(host.name.clone());
            if let Some(f) = f {
                facts.insert(host.name.clone(), f);
            }
            self.plan.hosts.push(host);
        }
        // Hosts left out (or no longer answering) keep what the operator chose for them.
        self.set_aside.append(&mut old);
        for i in fresh {
            let h = &mut self.plan.hosts[i];
            // The plan's default roles for a first plan; a host that arrives later is a
            // worker (the control plane was already chosen).
            h.roles = match self.suggested_roles.get(&h.name) {
                Some(r) => r.clone(),
                None if first => crate::plan::default_roles(i),
                None => vec![Role::Worker],
            };
        }
        if !self.facts.is_empty() || !facts.is_empty() {
            self.facts = facts;
        }
        self.storage.host = self
            .storage
            .host
            .min(self.plan.hosts.len().saturating_sub(1));
    }
}
