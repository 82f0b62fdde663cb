//! Facts saved to a file, matched to a plan's hosts.
//!
//! `rackstrap discover --json > facts.json` writes one object per line, each with the address
//! it scanned and the host's facts when it answered (`{"address": ..., "state": ...,
//! "facts": {...}}`). [`read`] takes that text (also as one JSON array of such objects, or as
//! one object mapping an address or host name to its facts) and returns the entries;
//! `plan::facts_for` keys them by the plan's host names, which is what `plan::check` reads.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::HostFacts;

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

#[cfg(test)]
mod tests {
    use super::*;

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
