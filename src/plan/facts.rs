//! Facts from a file (`rackstrap discover --json`), matched to the plan's hosts.
//!
//! A plan host is matched by its address first, then by its name, then by the hostname the
//! host reported, so a file scanned by address and a plan written by name still meet. This
//! lives with the plan, not with the facts: facts know nothing of plans.

use crate::facts::Facts;
use crate::facts::file::Entry;
use crate::plan::Plan;

/// The entries' facts keyed by the plan's host names. Hosts without a match, or whose scan
/// brought no facts, are left out (the checks then say `W_NO_FACTS` for them).
pub fn facts_for(plan: &Plan, entries: &[Entry]) -> Facts {
    let mut out = Facts::new();
    for host in &plan.hosts {
        let with_facts = || entries.iter().filter_map(|e| Some((e, e.facts.as_ref()?)));
        let found = with_facts()
            .find(|(e, _)| e.key == host.address)
            .or_else(|| with_facts().find(|(e, _)| e.key == host.name))
            .or_else(|| with_facts().find(|(_, f)| f.hostname == host.name));
        if let Some((_, f)) = found {
            out.insert(host.name.clone(), f.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::HostFacts;
    use crate::facts::file::read;

    fn plan() -> Plan {
        serde_yaml::from_str(
            "version: 1\ncluster: {name: t}\nhosts:\n  - {name: node1, address: 10.0.0.1}\n  - {name: node2, address: 10.0.0.2}\n  - {name: node3, address: 10.0.0.3}\n",
        )
        .expect("plan")
    }

    fn facts(hostname: &str, cpus: u32) -> HostFacts {
        HostFacts {
            hostname: hostname.into(),
            cpus,
            ..Default::default()
        }
    }

    #[test]
    fn json_lines_match_by_address_then_name_then_hostname() {
        let line = |addr: &str, f: Option<HostFacts>| {
            serde_json::json!({"address": addr, "state": "ok", "fingerprint": null,
                "newly_pinned": false, "facts": f, "message": ""})
            .to_string()
        };
        let text = [
            line("10.0.0.1", Some(facts("a", 8))),
            line("node2", Some(facts("b", 4))),
            line("10.0.0.9", Some(facts("node3", 2))),
            line("10.0.0.4", None),
        ]
        .join("\n");
        let entries = read(&text).expect("read");
        assert_eq!(entries.len(), 4);
        let f = facts_for(&plan(), &entries);
        assert_eq!(f["node1"].cpus, 8);
        assert_eq!(f["node2"].cpus, 4);
        assert_eq!(f["node3"].cpus, 2);
    }

    #[test]
    fn keyed_object_and_array_forms() {
        let obj = serde_json::json!({"10.0.0.2": facts("x", 6)}).to_string();
        let f = facts_for(&plan(), &read(&obj).expect("object"));
        assert_eq!(f.keys().collect::<Vec<_>>(), ["node2"]);
        let arr = serde_json::json!([{"address": "10.0.0.3", "facts": facts("y", 3)}]).to_string();
        let f = facts_for(&plan(), &read(&arr).expect("array"));
        assert_eq!(f["node3"].cpus, 3);
    }
}
