//! Facts saved to a file, matched to a plan's hosts.
//!
//! `rackstrap discover --json > facts.json` writes one object per line, each with the address
//! it scanned and the host's facts when it answered (`{"address": ..., "state": ...,
//! "facts": {...}}`). [`read`] takes that text (also as one JSON array of such objects, or as
//! one object mapping an address or host name to its facts) and returns the entries;
//! [`for_plan`] keys them by the plan's host names, which is what `plan::check` reads. A plan
//! host is matched by its address first, then by its name, then by the hostname the host
//! reported, so a file scanned by address and a plan written by name still meet.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Facts, HostFacts};
use crate::plan::Plan;

/// One scanned target: the text it was scanned as and its facts (`None` when it did not answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub facts: Option<HostFacts>,
}

/// Why a facts file cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsFileError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0}")]
    Whole(String),
    #[error("no entries: expected the output of `rackstrap discover --json`")]
    Empty,
}

/// The shape `rackstrap discover --json` prints per host; other fields are ignored.
#[derive(Deserialize)]
struct Scanned {
    address: String,
    #[serde(default)]
    facts: Option<HostFacts>,
}

/// Read a facts file's text: JSON lines of scanned hosts, a JSON array of them, or an object
/// keyed by address or host name whose values are facts.
pub fn read(text: &str) -> Result<Vec<Entry>, FactsFileError> {
    let trimmed = text.trim_start();
    let entries = if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<Scanned>>(text)
            .map_err(|e| FactsFileError::Whole(e.to_string()))?
            .into_iter()
            .map(|s| Entry {
                key: s.address,
                facts: s.facts,
            })
            .collect()
    } else if trimmed.starts_with('{') && serde_json::from_str::<Scanned>(first_line(text)).is_err()
    {
        // Not a scanned-host line: the keyed-object form (which may span lines).
        serde_json::from_str::<BTreeMap<String, HostFacts>>(text)
            .map_err(|e| FactsFileError::Whole(e.to_string()))?
            .into_iter()
            .map(|(key, facts)| Entry {
                key,
                facts: Some(facts),
            })
            .collect()
    } else {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let s: Scanned = serde_json::from_str(line).map_err(|e| FactsFileError::Line {
                line: i + 1,
                reason: e.to_string(),
            })?;
            out.push(Entry {
                key: s.address,
                facts: s.facts,
            });
        }
        out
    };
    if entries.is_empty() {
        return Err(FactsFileError::Empty);
    }
    // A facts file is remote text at one remove: it enters here, escaped like gathered facts.
    Ok(entries
        .into_iter()
        .map(|mut e| {
            crate::text::make_printable(&mut e.key);
            e.facts = e.facts.map(HostFacts::into_printable);
            e
        })
        .collect())
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

/// The entries' facts keyed by the plan's host names. Hosts without a match, or whose scan
/// brought no facts, are left out (the checks then say `W_NO_FACTS` for them).
pub fn for_plan(plan: &Plan, entries: &[Entry]) -> Facts {
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
        let f = for_plan(&plan(), &entries);
        assert_eq!(f["node1"].cpus, 8);
        assert_eq!(f["node2"].cpus, 4);
        assert_eq!(f["node3"].cpus, 2);
    }

    #[test]
    fn keyed_object_and_array_forms() {
        let obj = serde_json::json!({"10.0.0.2": facts("x", 6)}).to_string();
        let f = for_plan(&plan(), &read(&obj).expect("object"));
        assert_eq!(f.keys().collect::<Vec<_>>(), ["node2"]);
        let arr = serde_json::json!([{"address": "10.0.0.3", "facts": facts("y", 3)}]).to_string();
        let f = for_plan(&plan(), &read(&arr).expect("array"));
        assert_eq!(f["node3"].cpus, 3);
    }

    #[test]
    fn bad_files_say_where() {
        let text = "{\"address\": \"10.0.0.1\", \"facts\": null}\n{\"address\": 7}\n";
        match read(text) {
            Err(FactsFileError::Line { line: 2, reason }) => {
                assert!(reason.contains("invalid type"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(read("\n"), Err(FactsFileError::Empty));
    }
}
