//! Text from outside, made safe and sized for a terminal.
//!
//! Host names, `PRETTY_NAME`, disk models, mount points, command output and error messages all
//! come from machines rackstrap does not control. A hostname such as `lab1\e]0;owned\a` would
//! retitle the operator's terminal if printed as is, and other sequences do worse. Remote text
//! passes [`printable`] where it enters (facts as they are gathered or read from a file,
//! command output on its way to a pane or a headless line, messages), so every output path
//! (tables, `--json`, findings, the wizard) shows control characters as visible escapes. Log
//! files on disk keep the raw bytes.
//!
//! [`span`] and [`parse_span`] write and read time spans as the operator sees and types them
//! (`30 min`; `90`, `30m`, `2h`).
//!
//! [`fit`] and [`pad`] cut and pad by display width: a format width (`{:<w$}`) both miscounts
//! wide characters and panics once `w` passes 65535.

use std::borrow::Cow;
use std::time::Duration;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Whether `c` must not reach a terminal as is: C0 controls (newline and tab included), DEL,
/// C1 controls (U+0080..U+009F, among them the one-byte CSI U+009B) and the bidirectional
/// overrides and isolates that reorder what is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control character shown as an escape (`\e`, `\r`, `\n`, `\t`, `\x07`,
/// `\u{9b}`), so it prints as one harmless line. Text without any is returned as is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// [`printable`] for text of several lines (command output, a multi-line message): line
/// breaks stay, a CR right before one is dropped, everything else is escaped.
pub fn printable_lines(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => out.push('\n'),
            '\r' if chars.peek() == Some(&'\n') => {}
            c => push_escaped(&mut out, c),
        }
    }
    Cow::Owned(out)
}

/// [`printable`] that keeps colour and tabs: SGR sequences (`ESC [ 1;31 m`) pass as they
/// are, for command output on its way to a log pane (which draws colours itself) or a
/// headless line; tabs only move the cursor, and tools' usage texts are full of them. Every
/// other control character, other escape sequences included, is escaped.
pub fn printable_sgr(text: &str) -> Cow<'_, str> {
    // Output lines pour through here by the million: printable ASCII (nearly all of them) is
    // settled a byte at a time, without decoding characters.
    let plain_ascii = text
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\t');
    if plain_ascii || !text.chars().any(|c| c != '\t' && is_unsafe(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}'
            && let Some(sgr) = sgr_prefix(rest)
        {
            out.push_str(sgr);
            rest = &rest[sgr.len()..];
            continue;
        }
        if c == '\t' {
            out.push(c);
        } else {
            push_escaped(&mut out, c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The SGR sequence `text` starts with, if it starts with one: `ESC [`, digits, `;` or `:`,
/// then `m`.
fn sgr_prefix(text: &str) -> Option<&str> {
    let body = text.strip_prefix("\u{1b}[")?;
    let params = body
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';' || *b == b':')
        .count();
    (body.as_bytes().get(params) == Some(&b'm')).then(|| &text[..2 + params + 1])
}

/// JSON text as serde_json writes it, with every character [`printable`] escapes and
/// serde_json leaves as it is (DEL, the C1 controls such as the one-byte CSI U+009B, the
/// bidirectional overrides) written as a `\uXXXX` escape: the same string to a JSON reader,
/// harmless on a terminal. Outside strings JSON text is ASCII, so each such character is
/// inside a string, where the escape is valid.
pub fn json_escaped(json: String) -> String {
    // C0 controls are escaped by serde_json inside strings, and outside them the line breaks
    // of pretty output must stay.
    let unsafe_past_ascii = |c: char| c >= '\u{7f}' && is_unsafe(c);
    if !json.chars().any(unsafe_past_ascii) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_past_ascii(c) {
            use std::fmt::Write;
            // Every unsafe character is in the Basic Multilingual Plane: one escape each.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Owned [`printable`], for fields that are replaced in place.
pub fn make_printable(text: &mut String) {
    if let Cow::Owned(safe) = printable(text) {
        *text = safe;
    }
}

fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write;
    if !is_unsafe(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\u{1b}' => write!(out, "\\e"),
        '\r' => write!(out, "\\r"),
        '\n' => write!(out, "\\n"),
        '\t' => write!(out, "\\t"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// Display width of `text` in terminal cells.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` cells, ending in `…` when cut.
pub fn fit(text: &str, max: usize) -> Cow<'_, str> {
    if width(text) <= max {
        return Cow::Borrowed(text);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

/// `text` cut to `cells` and padded with spaces to exactly `cells` cells.
pub fn pad(text: &str, cells: usize) -> String {
    let shown = fit(text, cells);
    let fill = cells.saturating_sub(width(&shown));
    let mut out = String::with_capacity(shown.len() + fill);
    out.push_str(&shown);
    out.extend(std::iter::repeat_n(' ', fill));
    out
}

/// A span as the operator reads it: `30 min`, `90 s`.
pub fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// Reads a span given as seconds (`90`) or with a unit (`90s`, `30m`, `2h`). Zero and
/// anything else are refused with what is accepted (the caller names the flag).
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let scale = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        _ => 0,
    };
    let n = digits.parse::<u64>().ok().filter(|n| *n > 0);
    match (n, scale) {
        (Some(n), s) if s > 0 => n
            .checked_mul(s)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?} is too long")),
        _ => Err(format!(
            "{text:?} is not a span: give whole seconds above 0 (`90`), or minutes or hours (`30m`, `2h`)"
        )),
    }
}

/// Quotes one word for a POSIX shell, for command lines shown to be typed (and run) as they
/// are. NUL bytes cannot be passed to a shell at all; they are dropped (no plan or fact value
/// legitimately holds one).
pub fn shell_quote(word: &str) -> String {
    let clean: String = word.chars().filter(|c| *c != '\0').collect();
    // Words of only these characters mean the same quoted or not; leaving them bare keeps
    // commands readable (`--level=raid0`, `defaults,discard`).
    let plain = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !clean.is_empty() && clean.chars().all(plain) {
        return clean;
    }
    match shlex::try_quote(&clean) {
        Ok(q) => q.into_owned(),
        // Unreachable after removing NULs, but never panic on data.
        Err(_) => "''".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_its_value_and_loses_raw_c1_and_bidi() {
        let value = serde_json::json!({"name": "l\u{9b}31m\u{7f}\u{202e}\u{1b}é", "n": [1, 2]});
        let text = json_escaped(serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && (c.is_control() || c == '\u{202e}')),
            "{text:?}"
        );
        assert!(text.contains(r"l\u009b31m\u007f\u202e\u001bé"), "{text}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
    }

    #[test]
    fn control_sequences_come_out_as_visible_escapes() {
        assert_eq!(
            printable("lab1\u{1b}]0;owned\u{7}$(id)"),
            "lab1\\e]0;owned\\x07$(id)"
        );
        assert_eq!(printable("a\u{9b}31mb\r\n"), "a\\u{9b}31mb\\r\\n");
        assert_eq!(printable("x\u{202e}y\u{7f}"), "x\\u{202e}y\\x7f");
        assert!(matches!(
            printable("Ubuntu 22.04 ünïcode 日本"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            printable_lines("ok\r\nbar\r50%\u{1b}[2K\n"),
            "ok\nbar\\r50%\\e[2K\n"
        );
        let mut s = String::from("a\u{1b}b");
        make_printable(&mut s);
        assert_eq!(s, "a\\eb");
    }

    #[test]
    fn colour_stays_and_every_other_sequence_is_escaped() {
        assert_eq!(
            printable_sgr("\u{1b}[1;31mred\u{1b}[0m \u{1b}]0;title\u{7} \u{1b}[2J \u{9b}1m\u{1b}["),
            "\u{1b}[1;31mred\u{1b}[0m \\e]0;title\\x07 \\e[2J \\u{9b}1m\\e["
        );
        assert!(matches!(printable_sgr("plain\tcolumns"), Cow::Borrowed(_)));
        assert_eq!(printable_sgr("a\tb\u{7}"), "a\tb\\x07");
    }

    #[test]
    fn nothing_printable_holds_a_control_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!printable(&all).chars().any(is_unsafe));
        assert!(
            !printable_lines(&all)
                .chars()
                .any(|c| c != '\n' && is_unsafe(c))
        );
    }

    #[test]
    fn fit_and_pad_count_cells_not_bytes() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit("日本語テキスト", 5), "日本…");
        assert_eq!(pad("日本", 6), "日本  ");
        assert_eq!(pad("abcdefgh", 5), "abcd…");
        let huge = "x".repeat(70_000);
        assert_eq!(width(&pad(&huge, 40)), 40);
        assert_eq!(fit("abc", 0), "");
    }
}
