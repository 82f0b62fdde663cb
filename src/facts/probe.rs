//! The host-probe protocol: one read-only shell script made of named sections, one exec, and
//! its output split back into those sections. Discovery's facts script
//! ([`super::gather::SCRIPT`]), the preflight probe and the storage stage's look at the disks
//! all speak it, so there is one marker format and one splitter.
//!
//! The script starts with a shell function `s` that prints a marker line before each
//! section: `::rackstrap:: <name> <token>`, where the token is read from
//! `/proc/sys/kernel/random/uuid` once per run. The splitter learns the token from the first
//! marker and from then on takes only lines carrying that same token as markers, so a value
//! the host prints (an fstab comment, an os-release field, a filesystem label) that looks
//! like a marker stays part of its section. The last section is always `end`: a run whose
//! output has no `end` marker stopped early ([`Sections::complete`]).
//!
//! ```text
//! rackstrap_token=$(cat /proc/sys/kernel/random/uuid 2>/dev/null)
//! s() { printf '\n::rackstrap:: %s %s\n' "$1" "$rackstrap_token"; }
//! s kernel; uname -r
//! s end
//! ```

use std::collections::BTreeMap;

/// The start of every marker line.
pub const MARKER: &str = "::rackstrap:: ";

/// The name of the section every script ends with.
pub const END: &str = "end";

/// The script's first line: the run's token and the marker function. The marker starts
/// with a newline so a section whose output does not end in one (JSON, `printf`) cannot
/// swallow the marker.
/// The token's variable has a name no section is likely to assign.
const PRELUDE: &str = "rackstrap_token=$(cat /proc/sys/kernel/random/uuid 2>/dev/null); \
                       s() { printf '\\n::rackstrap:: %s %s\\n' \"$1\" \"$rackstrap_token\"; }";

/// A probe script being built: named sections, each one shell command (a list or a loop is
/// fine) whose standard output is the section's content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    setup: Vec<String>,
    sections: Vec<(String, String)>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// A command run before the first section, printing nothing (`export LC_ALL=C`).
    pub fn setup(mut self, command: impl Into<String>) -> Self {
        self.setup.push(command.into());
        self
    }

    /// Adds section `name` (a word without blanks) printed by `command`. The command must
    /// leave the shell function `s` and the variable `rackstrap_token` alone.
    pub fn section(mut self, name: &str, command: impl Into<String>) -> Self {
        debug_assert!(
            !name.is_empty() && !name.contains(char::is_whitespace),
            "section name {name:?}"
        );
        self.sections.push((name.to_string(), command.into()));
        self
    }

    /// The script with one section per line (`s <name>; <command>`), ending with `s end`.
    pub fn lines(&self) -> String {
        self.join("\n") + "\n"
    }

    /// The same script on one line, sections separated by `; `: the form the dry run and
    /// the review screen show as one command.
    pub fn one_line(&self) -> String {
        self.join("; ")
    }

    fn join(&self, sep: &str) -> String {
        // `cmd;; s next` would be a shell syntax error.
        fn plain(command: &str) -> &str {
            command.trim().trim_end_matches(';').trim_end()
        }
        let mut parts = vec![PRELUDE.to_string()];
        parts.extend(self.setup.iter().map(|c| plain(c).to_string()));
        for (name, command) in &self.sections {
            parts.push(format!("s {name}; {}", plain(command)));
        }
        parts.push(format!("s {END}"));
        parts.join(sep)
    }
}

/// A probe's output split by section name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sections {
    map: BTreeMap<String, String>,
}

impl Sections {
    /// The section's content (blank lines at either end trimmed), `None` when the output
    /// has no marker for it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// The section's content, empty when it is missing.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// The section's non-blank lines, trimmed.
    pub fn words(&self, name: &str) -> impl Iterator<Item = &str> {
        self.text(name)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The script ran to its last section.
    pub fn complete(&self) -> bool {
        self.contains(END)
    }

    /// Section names present, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

/// A marker line's section name and token (`None` when the host had no token to print).
fn marker(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix(MARKER)?;
    let mut words = rest.split_whitespace();
    let name = words.next()?;
    let token = words.next();
    if words.next().is_some() {
        return None;
    }
    Some((name, token))
}

/// Splits a probe's output into its sections. Text before the first marker is dropped; the
/// first marker fixes the run's token and only markers with that token open a section
/// later. A section named twice keeps the later content.
pub fn split(output: &str) -> Sections {
    let mut map = BTreeMap::new();
    // The token of the run, once the first marker is seen.
    let mut token: Option<Option<&str>> = None;
    let mut current: Option<(&str, Vec<&str>)> = None;
    let mut close = |current: Option<(&str, Vec<&str>)>| {
        if let Some((name, lines)) = current {
            map.insert(
                name.to_string(),
                lines.join("\n").trim_matches('\n').to_string(),
            );
        }
    };
    for line in output.lines() {
        if let Some((name, t)) = marker(line)
            && token.is_none_or(|known| known == t)
        {
            token = Some(t);
            close(current.take());
            current = Some((name, Vec::new()));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    close(current);
    Sections { map }
}

/// [`split`] for raw bytes: bytes that are not UTF-8 become U+FFFD in their section, the
/// markers and the other sections are unaffected.
pub fn split_bytes(output: &[u8]) -> Sections {
    split(&String::from_utf8_lossy(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const TOKEN: &str = "5f0c2a9e-1b7d-4c3e-9a41-0d2b8e6f7a10";

    fn out(sections: &[(&str, &str)]) -> String {
        let mut s = String::from("\n");
        for (name, body) in sections {
            s.push_str(&format!("\n{MARKER}{name} {TOKEN}\n{body}"));
        }
        s
    }

    #[test]
    fn script_has_one_marker_per_section_and_ends_with_end() {
        let script = Script::new().section("kernel", "uname -r").section(
            "dirs",
            "for d in /a; do [ -d \"$d\" ] && echo \"$d\"; done; true;",
        );
        assert_eq!(
            script.one_line(),
            format!(
                "{PRELUDE}; s kernel; uname -r; \
                 s dirs; for d in /a; do [ -d \"$d\" ] && echo \"$d\"; done; true; s end"
            )
        );
        assert_eq!(
            script.lines(),
            format!(
                "{PRELUDE}\ns kernel; uname -r\n\
                 s dirs; for d in /a; do [ -d \"$d\" ] && echo \"$d\"; done; true\ns end\n"
            )
        );
    }

    /// The script really runs in `sh` and its output splits back into what each section
    /// printed, the token included.
    #[test]
    fn script_round_trips_through_sh() {
        let script = Script::new()
            .section("one", "echo a; echo b")
            .section("json", "printf '{\"x\":1}'")
            .section("quiet", "true")
            // Sections use short variable names of their own (the facts script's `t`).
            .section("vars", "for t in a; do s=1; echo \"$t\"; done")
            .section("fake", "echo '::rackstrap:: end'");
        for text in [script.one_line(), script.lines()] {
            let run = std::process::Command::new("sh")
                .arg("-c")
                .arg(&text)
                .output()
                .expect("sh runs");
            assert!(run.status.success());
            let s = split_bytes(&run.stdout);
            assert_eq!(s.text("one"), "a\nb");
            assert_eq!(s.text("json"), "{\"x\":1}", "no newline of its own");
            assert_eq!(s.get("quiet"), Some(""));
            assert_eq!(s.text("vars"), "a");
            assert!(s.complete());
            // Only where the host has a token can a marker-looking value be told apart.
            if std::path::Path::new("/proc/sys/kernel/random/uuid").exists() {
                assert_eq!(s.text("fake"), "::rackstrap:: end");
            }
        }
    }

    #[test]
    fn sections_by_name_with_blank_ends_trimmed() {
        let s = split(&format!(
            "junk before\n{}",
            out(&[("a", "\none\ntwo\n\n"), ("b", ""), ("c", "x")])
        ));
        assert_eq!(s.get("a"), Some("one\ntwo"));
        assert_eq!(s.get("b"), Some(""));
        assert_eq!(s.text("c"), "x");
        assert_eq!(s.names().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!s.complete(), "no end marker: the script stopped early");
        assert_eq!(s.get("missing"), None);
        assert_eq!(s.text("missing"), "");
        assert!(!s.contains("junk"));
    }

    /// A value that looks like a marker (someone's fstab comment, a label) without the run's
    /// token is content, not a section.
    #[test]
    fn marker_looking_lines_in_values_stay_values() {
        let s = split(&out(&[
            (
                "fstab",
                "# ::rackstrap:: end\n::rackstrap:: end\n::rackstrap:: mounts other-token\n\
                 ::rackstrap:: units\nUUID=1 / ext4 defaults 0 1",
            ),
            ("mounts", "/ /dev/sda1"),
            ("end", ""),
        ]));
        assert_eq!(
            s.text("fstab"),
            "# ::rackstrap:: end\n::rackstrap:: end\n::rackstrap:: mounts other-token\n\
             ::rackstrap:: units\nUUID=1 / ext4 defaults 0 1"
        );
        assert_eq!(s.text("mounts"), "/ /dev/sda1");
        assert!(!s.contains("units"));
        assert!(s.complete());
        // A marker line with more words than name and token is content as well.
        let s = split(&out(&[("a", &format!("{MARKER}b {TOKEN} extra"))]));
        assert_eq!(s.names().collect::<Vec<_>>(), ["a"]);
    }

    /// Where the host had no token (no /proc), markers without one still split.
    #[test]
    fn markers_without_a_token_split_too() {
        let s = split(&format!(
            "\n{MARKER}a \nx\n\n{MARKER}b\ny\n{MARKER}b {TOKEN}\nz\n"
        ));
        assert_eq!(s.text("a"), "x");
        assert_eq!(s.text("b"), format!("y\n{MARKER}b {TOKEN}\nz"));
    }

    #[test]
    fn non_utf8_bytes_spoil_only_their_own_section() {
        let mut bytes = out(&[("label", "")]).into_bytes();
        bytes.extend_from_slice(b"caf\xe9 \xff\xfe\n");
        bytes.extend_from_slice(out(&[("next", "ok"), ("end", "")]).as_bytes());
        let s = split_bytes(&bytes);
        assert_eq!(s.text("label"), "caf\u{fffd} \u{fffd}\u{fffd}");
        assert_eq!(s.text("next"), "ok");
        assert!(s.complete());
    }

    #[test]
    fn empty_and_marker_only_output() {
        assert_eq!(split(""), Sections::default());
        assert_eq!(split("no markers at all\n"), Sections::default());
        let s = split(&format!("{MARKER}end {TOKEN}"));
        assert!(s.complete());
        assert_eq!(s.text(END), "");
        assert_eq!(
            split(&format!("{MARKER}\n{MARKER} \n")),
            Sections::default()
        );
    }

    #[test]
    fn crlf_output_splits_like_lf() {
        let s = split(&out(&[("a", "x\ny\n"), ("end", "")]).replace('\n', "\r\n"));
        assert_eq!(s.text("a"), "x\ny");
        assert!(s.complete());
    }
}
