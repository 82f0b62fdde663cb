//! `rackstrap discover`: headless discovery. Targets -> [`crate::discover::discover`] -> a table
//! (in target order, once all have answered) or one JSON object per line as each answers.
//! Exit 0 when at least one host ended `ok`, 1 when none did.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use color_eyre::eyre::Context;

use crate::discover::{self, Discovered, HostState};
use crate::facts::{HostFacts, human_bytes};
use crate::ssh::{ConnectOptions, PassphraseCallback};
use crate::text;

pub fn run(args: super::DiscoverArgs) -> color_eyre::Result<ExitCode> {
    let text = args.ranges.join(" ");
    let targets = match discover::parse_targets(&text, args.force) {
        Ok(targets) => targets,
        Err(err) => {
            eprintln!("rackstrap: {}", target_error_text(&text, &err));
            return Ok(ExitCode::from(2));
        }
    };
    if let Some(key) = &args.identity
        && !key.is_file()
    {
        eprintln!("rackstrap: --identity {}: no such file", key.display());
        return Ok(ExitCode::from(2));
    }
    let mut opts = connect_options(&args);
    if let Err(code) = super::pins::read_known_hosts(&opts) {
        return Ok(code);
    }
    opts.passphrase = Some(terminal_passphrase());
    let runtime = tokio::runtime::Runtime::new().wrap_err("starting the async runtime")?;
    let found = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // The flag wins over RACKSTRAP_FACTS_TIMEOUT.
        let facts_limit = args.facts_timeout.unwrap_or_else(discover::facts_timeout);
        let scan = tokio::spawn(discover::discover_within(
            targets.clone(),
            opts,
            discover::DEFAULT_CONCURRENCY,
            facts_limit,
            tx,
        ));
        let mut found = Vec::new();
        while let Some(d) = rx.recv().await {
            if args.json {
                let line =
                    serde_json::to_string(&d).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
                super::output::println(&line);
            }
            found.push(d);
        }
        let _ = scan.await;
        found
    });

    if !args.json {
        let order: std::collections::HashMap<&str, usize> = targets
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        let mut rows: Vec<&Discovered> = found.iter().collect();
        rows.sort_by_key(|d| order.get(d.address.as_str()).copied().unwrap_or(usize::MAX));
        super::output::print(&table(&rows));
        if found.iter().any(|d| d.state == HostState::UnknownHostKey) {
            super::output::println(
                "\nHost keys seen for the first time were not pinned. Check the fingerprints above, then run again with --accept-new.",
            );
        }
    }
    let reachable = found.iter().any(|d| d.state == HostState::Ok);
    Ok(if reachable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The SSH options of a headless scan: the core's
/// [`connect_options`](crate::provision::remote::connect_options) for the access settings
/// given on the command line (the same a plan with them gets), plus `--accept-new`.
fn connect_options(args: &super::DiscoverArgs) -> ConnectOptions {
    let access = crate::plan::Access {
        user: args.user.clone(),
        port: args.port,
        identity: args
            .identity
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    let mut opts = crate::provision::remote::connect_options(&access, args.known_hosts.as_deref());
    opts.accept_new = args.accept_new;
    opts
}

/// The table: address, state, hostname, OS, CPUs, RAM, disks, and a note (the error, or the
/// fingerprint of a key pinned or to be checked).
pub fn table(rows: &[&Discovered]) -> String {
    let header = [
        "ADDRESS", "STATE", "HOSTNAME", "OS", "CPUS", "RAM", "DISKS", "NOTE",
    ];
    let mut cells: Vec<[String; 8]> = Vec::new();
    for d in rows {
        let facts = d.facts.as_ref();
        let note = match &d.state {
            HostState::Ok if d.newly_pinned => {
                format!("pinned {}", d.fingerprint.as_deref().unwrap_or(""))
            }
            HostState::Ok => d.message.clone(),
            HostState::UnknownHostKey => {
                format!("new key {}", d.fingerprint.as_deref().unwrap_or(""))
            }
            HostState::HostKeyChanged { pinned, offered } => {
                format!("pinned {pinned}, offered {offered}")
            }
            _ => d.message.clone(),
        };
        cells.push([
            d.address.clone(),
            d.state.label().to_string(),
            facts.map(|f| f.hostname.clone()).unwrap_or_default(),
            facts.map(|f| f.os.pretty_name.clone()).unwrap_or_default(),
            facts.map(|f| f.cpus.to_string()).unwrap_or_default(),
            facts.map(|f| human_bytes(f.mem_bytes)).unwrap_or_default(),
            facts.map(disk_summary).unwrap_or_default(),
            note,
        ]);
    }
    // Each column is as wide as its widest cell, up to its cap; longer values are cut with
    // `…`. Cells are printable text (`Discovered::printable`), escaped again in case a caller
    // built rows by hand.
    let mut widths = header.map(str::len);
    for row in &cells {
        for ((w, cell), cap) in widths.iter_mut().zip(row).zip(COLUMN_CAPS) {
            *w = (*w).max(text::width(&text::printable(cell)).min(cap));
        }
    }
    let mut out = String::new();
    let mut line = |row: &[String]| {
        let mut shown = String::new();
        for (i, cell) in row.iter().enumerate() {
            let cell = text::printable(cell);
            if i + 1 == row.len() {
                shown.push_str(&text::fit(&cell, widths[i]));
            } else {
                shown.push_str(&text::pad(&cell, widths[i]));
                shown.push_str("  ");
            }
        }
        out.push_str(shown.trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &cells {
        line(row);
    }
    out
}

/// Widest each column of the table gets, in cells: an IPv6 address or a host name, a state
/// label, a host name, an OS name, a count, a size, a few disks, a note with a fingerprint or
/// an error.
const COLUMN_CAPS: [usize; 8] = [40, 18, 32, 32, 5, 8, 64, 160];

/// `nvme0n1 1.7T, sda 3.6T`: the top-level disks (loop devices included: in a lab they are
/// the disks).
fn disk_summary(facts: &HostFacts) -> String {
    facts
        .disks
        .iter()
        .filter(|d| d.kind != "rom")
        .map(|d| {
            let mark = if d.holds_root() { " (/)" } else { "" };
            format!("{} {}{mark}", d.name, human_bytes(d.size_bytes))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ask for a key passphrase on the terminal without echo; `None` without a terminal.
fn terminal_passphrase() -> PassphraseCallback {
    Arc::new(|path| {
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                read_hidden(&format!("Passphrase for {}: ", path.display()))
            })
            .await
            .ok()
            .flatten()
        })
    })
}

fn read_hidden(prompt: &str) -> Option<String> {
    use crossterm::event::{Event, KeyCode, KeyEventKind, KeyModifiers, read};
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    crossterm::terminal::enable_raw_mode().ok()?;
    let mut secret = String::new();
    let answer = loop {
        match read() {
            Ok(Event::Key(key)) if key.kind == KeyEventKind::Press => match key.code {
                KeyCode::Enter => break Some(secret),
                KeyCode::Esc => break None,
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => break None,
                KeyCode::Backspace => {
                    secret.pop();
                }
                KeyCode::Char(c) => secret.push(c),
                _ => {}
            },
            Ok(_) => {}
            Err(_) => break None,
        }
    };
    let _ = crossterm::terminal::disable_raw_mode();
    eprintln!();
    answer
}

/// A bad target said the way `rackstrap check` says a bad address: the reason, then the
/// targets as typed with a caret under the offending character (counted from 1).
fn target_error_text(text: &str, err: &discover::TargetError) -> String {
    match err {
        discover::TargetError::Invalid {
            token,
            position,
            reason,
        } => {
            // Shown escaped: a control character typed (or pasted) is the likely error. The
            // caret counts the escaped text up to the bad character.
            let before: String = text.chars().take(*position).collect();
            let caret = " ".repeat(text::width(&text::printable(&before)));
            if caret.len() > 200 || text::width(&text::printable(text)) > 400 {
                // Too long to point at: the token, cut, and where.
                return format!(
                    "bad target `{}` (character {}): {}",
                    text::fit(&text::printable(token), 60),
                    position + 1,
                    text::printable(reason)
                );
            }
            format!(
                "bad target `{}`: {}\n  {}\n  {caret}^ character {}",
                text::printable(token),
                text::printable(reason),
                text::printable(text),
                position + 1
            )
        }
        other => format!(
            "targets `{}`: {other}",
            text::fit(&text::printable(text), 200)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows() {
        let ok = Discovered {
            address: "10.0.0.1".into(),
            state: HostState::Ok,
            fingerprint: Some("SHA256:abc".into()),
            newly_pinned: true,
            facts: Some(HostFacts {
                hostname: "node1".into(),
                cpus: 8,
                mem_bytes: 16 << 30,
                ..Default::default()
            }),
            message: String::new(),
        };
        let closed = Discovered {
            address: "10.0.0.2".into(),
            state: HostState::PortClosed,
            fingerprint: None,
            newly_pinned: false,
            facts: None,
            message: "port closed (connection refused)".into(),
        };
        let text = table(&[&ok, &closed]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ADDRESS   STATE"), "{text}");
        assert!(
            lines[1].contains("node1")
                && lines[1].contains("16G")
                && lines[1].ends_with("pinned SHA256:abc")
        );
        assert!(lines[2].contains("port closed") && lines[2].ends_with("(connection refused)"));
    }

    #[test]
    fn hostile_and_huge_values_are_escaped_and_cut_to_their_column() {
        let hostile = Discovered {
            address: "x".repeat(65_536),
            state: HostState::Ok,
            fingerprint: None,
            newly_pinned: false,
            facts: Some(HostFacts {
                hostname: "lab1\u{1b}]0;owned\u{7}$(id)".into(),
                os: crate::facts::OsRelease {
                    pretty_name: format!("\u{9b}31m{}", "U".repeat(70_000)),
                    ..Default::default()
                },
                ..Default::default()
            }),
            message: "bad\r\u{1b}[2Kline".into(),
        };
        let text = table(&[&hostile]);
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(text.contains("lab1\\e]0;owned\\x07$(id)"), "{text}");
        assert!(text.contains("\\u{9b}31mUUU"), "{text}");
        assert!(text.lines().all(|l| crate::text::width(l) < 400), "{text}");
        assert!(text.contains("bad\\r\\e[2Kline"), "{text}");
    }
}
