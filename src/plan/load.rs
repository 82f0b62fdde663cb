//! Reading and writing plan files.
//!
//! Text -> [`from_yaml`] -> [`Plan`]: serde does the work with `deny_unknown_fields`, and its
//! error (which knows the key path and the line) is reshaped into one line the operator can
//! act on: `cluster.yaml:5:7: hosts[0]: unknown key `adress`, expected one of ...`.
//! [`Plan`] -> [`to_yaml`] -> [`save`]: deterministic text, written to a temporary file in the
//! same directory (mode 0600) and renamed over the target, so a crash never leaves half a plan.

use std::io::Write;
use std::path::Path;

use super::model::{PLAN_VERSION, Plan};

/// Why a plan could not be read or written. Display is `origin:line:col: where: what` when
/// the position is known, `origin: what` otherwise.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{origin}: cannot read: {source}")]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin}: cannot write: {source}")]
    Write {
        origin: String,
        source: std::io::Error,
    },
    /// The text is not a plan: bad YAML, unknown key, wrong type, missing key, bad version.
    #[error("{origin}{}: {message}", location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        origin: String,
        /// 1-based line and column.
        location: Option<(usize, usize)>,
        message: String,
    },
}

impl PlanError {
    fn invalid(origin: &str, location: Option<(usize, usize)>, message: String) -> Self {
        PlanError::Invalid {
            origin: origin.to_string(),
            location,
            message,
        }
    }
}

/// Read and parse a plan file. `origin` in errors is the path as given.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        origin: origin.clone(),
        source,
    })?;
    from_yaml(&text, &origin)
}

/// Parse plan text. `origin` names the text in errors (a file name, `<wizard>`).
pub fn from_yaml(text: &str, origin: &str) -> Result<Plan, PlanError> {
    // The version decides how the rest is read, so it is checked before the schema: a
    // version 2 plan should say "version 2", not "unknown key" about its new keys.
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| yaml_error(origin, &e))?;
    match &value {
        serde_yaml::Value::Mapping(map) => match map.get("version") {
            None => {
                return Err(PlanError::invalid(
                    origin,
                    None,
                    format!("missing key `version` (this build reads `version: {PLAN_VERSION}`)"),
                ));
            }
            Some(v) if v.as_u64() != Some(u64::from(PLAN_VERSION)) => {
                let shown = serde_yaml::to_string(v)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                return Err(PlanError::invalid(
                    origin,
                    key_location(text, "version"),
                    format!(
                        "version: unsupported plan version {shown}; this build reads version {PLAN_VERSION}"
                    ),
                ));
            }
            Some(_) => {}
        },
        serde_yaml::Value::Null => {
            return Err(PlanError::invalid(origin, None, "the plan is empty".into()));
        }
        _ => {
            return Err(PlanError::invalid(
                origin,
                Some((1, 1)),
                "a plan is a mapping of keys (`version: 1`, `cluster:`, `hosts:` ...)".into(),
            ));
        }
    }
    serde_yaml::from_str::<Plan>(text).map_err(|e| yaml_error(origin, &e))
}

/// Line and column (1-based) of a top-level key, for errors found after parsing.
fn key_location(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let rest = line.strip_prefix(key)?;
        rest.trim_start().starts_with(':').then_some((i + 1, 1))
    })
}

/// Reshape a serde/YAML error into `origin:line:col: path: message` with the plan's words.
fn yaml_error(origin: &str, err: &serde_yaml::Error) -> PlanError {
    let location = err.location().map(|l| (l.line(), l.column()));
    let mut message = err.to_string();
    // The library appends " at line L column C"; the location is in front instead.
    if let Some(idx) = message.rfind(" at line ") {
        message.truncate(idx);
    }
    PlanError::invalid(origin, location, reword(&message))
}

/// serde's wording, in the plan's terms: keys, not fields; what was expected, plainly.
fn reword(message: &str) -> String {
    message
        .replace("unknown field", "unknown key")
        .replace("missing field", "missing key")
        .replace("unknown variant", "unknown value")
        .replace("invalid type: ", "wrong type: found ")
        .replace("invalid value: ", "wrong value: found ")
        .replace("duplicate entry with key", "duplicate key")
        .replace(", expected u8", ", expected a whole number from 0 to 255")
        .replace(
            ", expected u16",
            ", expected a whole number from 0 to 65535",
        )
        .replace(", expected u32", ", expected a whole number")
        .replace("expected a borrowed string", "expected a string")
        .replace(
            "data did not match any variant of untagged enum SysctlValue",
            "expected a number or a string",
        )
}

/// The plan as YAML: fields in model order, maps sorted, so equal plans give equal text.
pub fn to_yaml(plan: &Plan) -> String {
    // Serialising plain data with string keys cannot fail; an empty string would only hide
    // a bug, so the fallback says what happened in the file itself.
    serde_yaml::to_string(plan)
        .unwrap_or_else(|e| format!("# rackstrap could not serialise this plan: {e}\n"))
}

/// Write the plan atomically (temporary file in the same directory, then rename), mode 0600:
/// a plan names hosts, users and key paths, which is nobody else's business.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanError> {
    let origin = path.display().to_string();
    let write_err = |source| PlanError::Write {
        origin: origin.clone(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile creates the file with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".rackstrap-plan-")
        .tempfile_in(dir)
        .map_err(write_err)?;
    tmp.write_all(to_yaml(plan).as_bytes()).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "version: 1\ncluster:\n  name: lab\nhosts:\n  - name: node1\n    address: 10.0.0.1\n    roles: [control_plane, etcd, worker]\n";

    #[test]
    fn minimal_plan_gets_defaults() {
        let plan = from_yaml(MINIMAL, "p.yaml").unwrap();
        assert_eq!(plan.cluster.domain, "cluster.local");
        assert_eq!(
            plan.cluster.kubespray.version,
            crate::kubespray::DEFAULT_TAG
        );
        assert_eq!(plan.network.service_cidr, "10.233.0.0/18");
        assert_eq!(plan.access.port, 22);
    }

    #[test]
    fn unknown_key_has_line_and_column() {
        let text = MINIMAL.replace("address:", "adress:");
        let err = from_yaml(&text, "cluster.yaml").unwrap_err().to_string();
        assert!(
            err.starts_with("cluster.yaml:6:5: hosts[0]: unknown key `adress`, expected one of"),
            "{err}"
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        let text = MINIMAL.replace("version: 1", "version: 2");
        let err = from_yaml(&text, "p.yaml").unwrap_err().to_string();
        assert_eq!(
            err,
            "p.yaml:1:1: version: unsupported plan version 2; this build reads version 1"
        );
        let err = from_yaml("cluster: {name: x}\n", "p.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "p.yaml: missing key `version` (this build reads `version: 1`)"
        );
    }

    #[test]
    fn save_is_atomic_0600_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.yaml");
        let plan = from_yaml(MINIMAL, "p.yaml").unwrap();
        save(&plan, &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load(&path).unwrap(), plan);
        // Saving twice gives the same bytes, and leaves no temporary files behind.
        let first = std::fs::read(&path).unwrap();
        save(&plan, &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unreadable_file_says_so() {
        let err = load(Path::new("/nonexistent/plan.yaml")).unwrap_err();
        assert!(matches!(err, PlanError::Read { .. }));
        assert!(
            err.to_string()
                .starts_with("/nonexistent/plan.yaml: cannot read: ")
        );
    }
}
