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
use crate::text::printable;

/// Why a plan could not be read or written. Display is `origin:line:col: where: what` when
/// the position is known, `origin: what` otherwise.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}: cannot read: {source}", printable(origin))]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{}: cannot write: {source}", printable(origin))]
    Write {
        origin: String,
        source: std::io::Error,
    },
    /// The text is not a plan: bad YAML, unknown key, wrong type, missing key, bad version.
    /// Shown with control characters escaped: a message may quote the plan's text.
    #[error("{}{}: {}", printable(origin), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default(), printable(message))]
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

/// The largest plan file read, in bytes. A plan of a thousand hosts is a few hundred
/// kilobytes; the bound keeps `check /dev/zero` or a mistyped path to a disk image from
/// reading without end.
pub const MAX_PLAN_BYTES: u64 = 4 * 1024 * 1024;

/// The deepest nesting of flow collections (`[...]`, `{...}`) read. A plan nests four or five
/// levels; the YAML parser's time grows with the square of the depth, so a file of nothing
/// but brackets is refused before it reaches the parser.
pub const MAX_FLOW_DEPTH: usize = 32;

/// How the temporary files of a save start (`.rackstrap-plan-XXXXXX`).
const TEMP_PREFIX: &str = ".rackstrap-plan-";

/// Read and parse a plan file. `origin` in errors is the path as given.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let origin = path.display().to_string();
    let read_err = |source| PlanError::Read {
        origin: origin.clone(),
        source,
    };
    let bytes = match read_bounded(path, MAX_PLAN_BYTES) {
        Ok(b) => b,
        Err(BoundedRead::Io(e)) => return Err(read_err(e)),
        Err(BoundedRead::Fifo) => {
            return Err(PlanError::invalid(
                &origin,
                None,
                format!("{}: a plan is a YAML file", BoundedRead::Fifo),
            ));
        }
        Err(BoundedRead::TooLarge(_)) => {
            return Err(PlanError::invalid(
                &origin,
                None,
                format!(
                    "larger than {} MiB: this is not a plan (a plan is a YAML file of a few kilobytes)",
                    MAX_PLAN_BYTES / 1024 / 1024
                ),
            ));
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = good.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        PlanError::invalid(
            &origin,
            Some((line, col)),
            "not UTF-8 text: a plan is a YAML file in UTF-8".into(),
        )
    })?;
    from_yaml(&text, &origin)
}

/// Why [`read_bounded`] read nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BoundedRead {
    #[error("{0}")]
    Io(std::io::Error),
    /// A named pipe: reading it would wait for a writer, possibly for ever.
    #[error("a FIFO (named pipe), not a file")]
    Fifo,
    /// More bytes than the bound (the bound, in bytes).
    #[error("larger than {} MiB", .0 / 1024 / 1024)]
    TooLarge(u64),
}

/// The bytes of the file at `path`, at most `max` of them: a FIFO is refused at once (it is
/// opened without waiting for a writer), and a file or device longer than `max` (`/dev/zero`)
/// is refused after `max + 1` bytes instead of being read without end.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, BoundedRead> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(BoundedRead::Io)?;
    let meta = file.metadata().map_err(BoundedRead::Io)?;
    if meta.file_type().is_fifo() {
        return Err(BoundedRead::Fifo);
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(BoundedRead::Io)?;
    if bytes.len() as u64 > max {
        return Err(BoundedRead::TooLarge(max));
    }
    Ok(bytes)
}

/// Parse plan text. `origin` names the text in errors (a file name, `<wizard>`).
pub fn from_yaml(text: &str, origin: &str) -> Result<Plan, PlanError> {
    // Editors on some systems start UTF-8 files with a byte order mark; YAML allows it, and
    // the parser would take it for a second document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() as u64 > MAX_PLAN_BYTES {
        return Err(PlanError::invalid(
            origin,
            None,
            format!(
                "larger than {} MiB: this is not a plan",
                MAX_PLAN_BYTES / 1024 / 1024
            ),
        ));
    }
    // The YAML library refuses these too, but says "at position N" (a byte offset) at line 1,
    // column 1.
    if let Some((location, c)) = first_not_yaml(text) {
        return Err(PlanError::invalid(
            origin,
            Some(location),
            format!(
                "control character {} is not allowed in YAML text",
                crate::text::printable(&c.to_string())
            ),
        ));
    }
    if let Some(location) = too_deep(text, MAX_FLOW_DEPTH) {
        return Err(PlanError::invalid(
            origin,
            Some(location),
            format!("nested more than {MAX_FLOW_DEPTH} levels of `[` or `{{`: this is not a plan"),
        ));
    }
    // The version decides how the rest is read, so it is checked before the schema: a
    // version 2 plan should say "version 2", not "unknown key" about its new keys.
    let value: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        // A number beyond 64 bits cannot be held as a plain value; the typed read below says
        // which key it is and what that key takes.
        Err(e) if e.to_string().contains(" as u128") || e.to_string().contains(" as i128") => {
            return serde_yaml::from_str::<Plan>(text).map_err(|e| yaml_error(origin, &e));
        }
        Err(e) => return Err(yaml_error(origin, &e)),
    };
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

/// Where (1-based line and column) flow collections first nest deeper than `limit`, if they
/// do. A cheap scan, not a parser: quoted text and comments are skipped, and a bracket counts
/// only where a flow collection can start (after `:`, `-`, `,`, `?`, another bracket or at
/// the start of a line), so `name: a[1]` is not nesting. It may count too little on odd
/// input, never so much that a real plan is refused.
pub(crate) fn too_deep(text: &str, limit: usize) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        // Whether a flow collection may start here: at the start of a line, after an
        // indicator or right after a bracket that itself opened one.
        let mut may_open = true;
        let mut after_space = true;
        let mut quote = None::<char>;
        for (col, c) in line.chars().enumerate() {
            if let Some(q) = quote {
                if c == q {
                    quote = None;
                    may_open = false;
                }
                continue;
            }
            match c {
                ' ' | '\t' => {
                    after_space = true;
                    continue;
                }
                '#' if after_space => break,
                '"' | '\'' if may_open || after_space => quote = Some(c),
                '[' | '{' if may_open => {
                    depth += 1;
                    if depth > limit {
                        return Some((i + 1, col + 1));
                    }
                }
                ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    may_open = false;
                }
                ':' | '-' | ',' | '?' => may_open = true,
                _ => may_open = false,
            }
            after_space = false;
        }
    }
    None
}

/// The first character YAML does not allow in a stream and where it is (1-based line and
/// column in characters). YAML 1.2, 5.1 "Character Set": tab, line feed, carriage return,
/// NEL and printable characters only, so not the other C0 controls, DEL or the other C1
/// controls (<https://yaml.org/spec/1.2.2/#51-character-set>).
fn first_not_yaml(text: &str) -> Option<((usize, usize), char)> {
    let bad = |c: char| match c {
        '\t' | '\n' | '\r' | '\u{85}' => false,
        c => c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}'),
    };
    if !text.chars().any(bad) {
        return None;
    }
    text.lines().enumerate().find_map(|(i, line)| {
        line.chars()
            .position(bad)
            .map(|col| ((i + 1, col + 1), line.chars().nth(col).unwrap_or_default()))
    })
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
    // A number beyond 64 bits is out of range for every key, not of the wrong type.
    let message = if message.contains(" as u128") || message.contains(" as i128") {
        message.replacen("invalid type: ", "invalid value: ", 1)
    } else {
        message.to_string()
    };
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
        .replace(" as u128", "")
        .replace(" as i128", "")
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
    write_atomically(&to_yaml(plan), path)
}

/// `text` as the file at `path`: a temporary file in the same directory (mode 0600), synced,
/// renamed over it.
fn write_atomically(text: &str, path: &Path) -> Result<(), PlanError> {
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
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(write_err)?;
    tmp.write_all(text.as_bytes()).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    tmp.persist(path).map_err(|e| write_err(e.error))?;
    remove_stale_temp_files(dir);
    Ok(())
}

/// [`save`] for a plan whose file the operator may have commented: a node action removes a
/// host or moves it to the end of `hosts:`, and that is done on the file's text (the
/// comments and blank lines above a host go with it), the result checked to read back as `plan`. `Ok(true)` when
/// the comments were kept (or there were none); `Ok(false)` when the text could not be
/// edited so (hosts in flow style, other changes) and the plan was written whole, its
/// comments lost: the caller says so.
pub fn save_keeping_comments(plan: &Plan, path: &Path) -> Result<bool, PlanError> {
    let edited = std::fs::read_to_string(path)
        .ok()
        .filter(|t| t.len() as u64 <= MAX_PLAN_BYTES)
        .and_then(|text| {
            let before = from_yaml(&text, "").ok()?;
            let new = reorder_hosts(&text, &before, plan)?;
            (from_yaml(&new, "").ok().as_ref() == Some(plan)).then_some((text, new))
        });
    match edited {
        Some((_, new)) => write_atomically(&new, path).map(|()| true),
        None => {
            let had_comments = std::fs::read_to_string(path).is_ok_and(|t| t.contains('#'));
            save(plan, path).map(|()| !had_comments)
        }
    }
}

/// `text` (which reads as `before`) with the items of its top-level block sequence `hosts:`
/// laid out again for `plan`'s hosts: dropped, in another order, or with the
/// `etcd_member_name` a node action records. `None` when the hosts are not such a sequence,
/// or `plan` changes a host otherwise or names one the text does not have.
fn reorder_hosts(text: &str, before: &Plan, plan: &Plan) -> Option<String> {
    let names: Vec<&str> = before.hosts.iter().map(|h| h.name.as_str()).collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let key = lines.iter().position(|l| {
        l.strip_prefix("hosts:")
            .is_some_and(|rest| matches!(rest.trim_start().chars().next(), None | Some('#')))
    })?;
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let is_blank = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    };
    let is_dash = |l: &str, at: usize| {
        let rest = &l[at..];
        rest.starts_with("- ") || rest.trim_end() == "-"
    };
    // Items as line ranges; comments and blank lines before an item belong to it.
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut item_indent = None;
    let mut pending = None;
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(key + 1) {
        if is_blank(line) {
            pending.get_or_insert(i);
            continue;
        }
        let at = indent(line);
        let at_item = *item_indent.get_or_insert(at);
        if at == at_item && is_dash(line, at) {
            items.push((pending.take().unwrap_or(i), i + 1));
        } else if at > at_item && !items.is_empty() {
            pending = None;
            if let Some(last) = items.last_mut() {
                last.1 = i + 1;
            }
        } else {
            end = pending.unwrap_or(i);
            break;
        }
        if let Some(last) = items.last_mut() {
            last.1 = i + 1;
        }
    }
    if items.len() != names.len() || items.is_empty() {
        return None;
    }
    if end == lines.len() {
        end = items.last()?.1;
    }
    let mut out: String = lines[..items[0].0].concat();
    for host in &plan.hosts {
        let at = names.iter().position(|n| *n == host.name)?;
        let (from, to) = items[at];
        let mut item: Vec<String> = lines[from..to]
            .iter()
            .map(|l| {
                let mut l = l.to_string();
                if !l.ends_with('\n') {
                    l.push('\n');
                }
                l
            })
            .collect();
        let old = &before.hosts[at];
        if old != host {
            let mut renamed = old.clone();
            renamed.etcd_member_name = host.etcd_member_name.clone();
            if renamed != *host {
                return None;
            }
            // The keys of a block mapping item start after `- `; a flow item is left alone
            // (the read-back check then fails, and the plan is written whole).
            let dash = item.iter().find(|l| !is_blank(l))?;
            let key_at = indent(dash) + 1 + dash[indent(dash) + 1..].len()
                - dash[indent(dash) + 1..].trim_start_matches(' ').len();
            let is_member_line = |l: &String| {
                l.len() > key_at
                    && indent(l) == key_at
                    && l[key_at..].starts_with("etcd_member_name:")
            };
            item.retain(|l| !is_member_line(l));
            if let Some(name) = &host.etcd_member_name {
                item.push(format!(
                    "{}etcd_member_name: {}\n",
                    " ".repeat(key_at),
                    yaml_scalar(name)
                ));
            }
        }
        out.push_str(&item.concat());
    }
    out.push_str(&lines[end.max(items.last()?.1)..].concat());
    Some(out)
}

/// A YAML scalar for `s`, quoted only when YAML needs it.
pub(crate) fn yaml_scalar(s: &str) -> String {
    serde_yaml::to_string(s)
        .map(|t| t.trim_end().to_string())
        .unwrap_or_else(|_| format!("{s:?}"))
}

/// Temporary files of plan saves that never finished (the process was killed between
/// creating and renaming). A save takes milliseconds, so one older than a minute is nobody's.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let stale = |meta: &std::fs::Metadata| {
        meta.modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60))
    };
    for entry in entries.flatten() {
        let is_temp = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
        if is_temp && entry.metadata().is_ok_and(|m| m.is_file() && stale(&m)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests;
