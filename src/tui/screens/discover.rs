//! Discover: targets typed as CIDR, ranges, addresses or hostnames; a live table fills as
//! hosts answer.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use crate::discover::HostState;
use crate::facts::human_bytes;
use crate::plan::{Code, Finding, Severity};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::screens::{Command, Screen, back, step_title};
use crate::tui::text;
use crate::tui::update::{handle_input, next};
use crate::tui::widgets::{Look, fit, style, wrap};

pub fn state_text(s: &HostState) -> &'static str {
    match s {
        HostState::NoAnswer => "no answer",
        HostState::PortClosed => "no SSH",
        HostState::NotSsh => "not SSH",
        HostState::AuthFailed => "auth failed",
        HostState::HostKeyChanged { .. } => "KEY CHANGED",
        HostState::HostKeyRefused => "KEY REFUSED",
        HostState::PinFailed { .. } => "NOT PINNED",
        HostState::SudoNeedsPassword => "sudo asks",
        HostState::UnknownHostKey => "new key",
        HostState::Stalled => "stalled",
        HostState::Ok => "ok",
    }
}

/// A row's state as the table says it: a host reopened from a plan is listed as `ok` by the
/// plan, but nothing has talked to it yet in this session.
pub fn row_state_text(r: &crate::tui::model::Row) -> &'static str {
    if r.found.state == HostState::Ok && r.found.facts.is_none() {
        NOT_CONTACTED
    } else {
        state_text(&r.found.state)
    }
}

const NOT_CONTACTED: &str = "not scanned";

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let d = &m.discover;
    let [input_area, caret, _, table_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
    ])
    .areas(area);
    let prefix = "Targets: ";
    let error = m.targets_error().filter(|_| !d.targets.value().is_empty());
    let error_col: Option<usize> = error.as_deref().and_then(|e| {
        e.strip_prefix("column ")
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse().ok())
    });
    // A long target list scrolls sideways so the cursor (or the bad character) stays in
    // view; `…` marks what is off either edge.
    let value = d.targets.value();
    let len = value.chars().count();
    let room = (input_area.width as usize).saturating_sub(prefix.len());
    let anchor = if d.table_focus {
        error_col.map_or(0, |c| c - 1)
    } else {
        d.targets.visual_cursor()
    };
    let shift = anchor
        .saturating_sub(room.saturating_sub(8))
        .min(len.saturating_sub(1));
    let mut shown: String = value.chars().skip(shift).collect();
    if shift > 0 {
        shown = format!("…{}", shown.chars().skip(1).collect::<String>());
    }
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(prefix, style(m.theme, Look::Key)),
            Span::styled(
                fit(&shown, room),
                if d.table_focus {
                    Default::default()
                } else {
                    style(m.theme, Look::Focus)
                },
            ),
        ])),
        input_area,
    );
    if !d.table_focus {
        let x = input_area.x + (prefix.len() + d.targets.visual_cursor() - shift) as u16;
        f.set_cursor_position((x.min(input_area.right().saturating_sub(1)), input_area.y));
    }
    let status = if let Some(e) = error {
        let pad = prefix.len() + error_col.unwrap_or(1).saturating_sub(1 + shift);
        let room = (caret.width as usize).saturating_sub(pad);
        Line::from(vec![
            Span::raw(" ".repeat(pad)),
            Span::styled(fit(&format!("^ {e}"), room), style(m.theme, Look::Error)),
        ])
    } else if d.scanning {
        Line::from(Span::styled(
            format!("scanning… {} answered", m.rows.len()),
            style(m.theme, Look::Warn),
        ))
    } else if let Some(e) = &d.error {
        Line::from(Span::styled(e.clone(), style(m.theme, Look::Error)))
    } else if d.scanned.is_some() {
        let ok = m.rows.iter().filter(|r| r.is_ok()).count();
        let acc = m.rows.iter().filter(|r| r.is_ok() && r.accepted).count();
        Line::from(Span::styled(
            format!(
                "{} answered, {ok} with SSH and facts, {acc} accepted",
                m.rows.len()
            ),
            style(m.theme, Look::Dim),
        ))
    } else {
        Line::from(Span::styled(
            "e.g. 10.0.10.0/28, 10.0.10.5-10.0.10.20, node7",
            style(m.theme, Look::Dim),
        ))
    };
    f.render_widget(Paragraph::new(status), caret);

    render_table(m, f, area, table_area);
}

/// The hosts found, and under the table the selected one in full.
fn render_table(m: &Model, f: &mut Frame, area: Rect, table_area: Rect) {
    let d = &m.discover;
    let wide = area.width >= 110;
    // The OS column also carries why a host did not answer: it takes what the fixed
    // columns leave (and the host key column, when shown).
    const FIXED: u16 = 1 + 15 + 11 + 10 + 3 + 6 + 5;
    const HOST_KEY: u16 = 36;
    let gaps = if wide { 8 } else { 7 };
    let detail = area
        .width
        .saturating_sub(FIXED + gaps + if wide { HOST_KEY } else { 0 })
        .max(14);
    let mut header = vec![
        "", "Address", "State", "Hostname", "OS", "CPU", "RAM", "Disks",
    ];
    if wide {
        header.push("Host key");
    }
    let rows = m.rows.iter().enumerate().map(|(i, r)| {
        let facts = r.found.facts.as_ref();
        let acc = if r.found.state == HostState::UnknownHostKey || (r.is_ok() && !r.accepted) {
            "?"
        } else if r.accepted && r.found.facts.is_none() {
            "·"
        } else if r.accepted {
            "✓"
        } else {
            " "
        };
        let mut cells = vec![
            acc.to_string(),
            r.found.address.clone(),
            row_state_text(r).to_string(),
            facts.map(|f| f.hostname.clone()).unwrap_or_default(),
            facts
                .map(|f| fit(&f.os.pretty_name.replace(" LTS", ""), detail as usize))
                .unwrap_or_else(|| match r.found.state {
                    HostState::UnknownHostKey => "Space accepts".to_string(),
                    _ => fit(&r.found.message, detail as usize),
                }),
            facts.map(|f| f.cpus.to_string()).unwrap_or_default(),
            facts.map(|f| human_bytes(f.mem_bytes)).unwrap_or_default(),
            facts.map(|f| f.disks.len().to_string()).unwrap_or_default(),
        ];
        if wide {
            let fp = r.found.fingerprint.clone().unwrap_or_default();
            cells.push(if r.found.fingerprint.is_none() {
                String::new()
            } else if r.accepted {
                format!("pinned {}", fit(&fp, HOST_KEY as usize - 7))
            } else {
                format!("new {}", fit(&fp, HOST_KEY as usize - 4))
            });
        }
        let look = match (&r.found.state, i == d.selected && d.table_focus) {
            (_, true) => style(m.theme, Look::Focus),
            (HostState::Ok, _) => Default::default(),
            (HostState::HostKeyChanged { .. } | HostState::HostKeyRefused, _) => {
                style(m.theme, Look::Error)
            }
            _ => style(m.theme, Look::Dim),
        };
        Row::new(cells).style(look)
    });
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Length(15),
        Constraint::Length(11),
        Constraint::Length(10),
        Constraint::Length(detail),
        Constraint::Length(3),
        Constraint::Length(6),
        Constraint::Length(5),
    ];
    if wide {
        widths.push(Constraint::Length(HOST_KEY));
    }
    let table =
        Table::new(rows, widths).header(Row::new(header).style(style(m.theme, Look::Title)));
    f.render_widget(table, table_area);
    // Under the table, the selected host in full: why it did not answer, or its key.
    if let Some(r) = m.rows.get(d.selected).filter(|_| d.table_focus) {
        let text = selected_detail(r, wide);
        let rows: Vec<Line> = wrap(&text, table_area.width as usize, "", "  ")
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim))))
            .collect();
        let n = (rows.len() as u16).min(table_area.height.saturating_sub(1));
        let y = table_area.bottom().saturating_sub(n);
        f.render_widget(
            Paragraph::new(rows),
            Rect::new(table_area.x, y, table_area.width, n),
        );
    }
}

/// The selected row said whole: its address, state and message, and the host key when the
/// table has no column for it.
fn selected_detail(r: &crate::tui::model::Row, wide: bool) -> String {
    let key = r
        .found
        .fingerprint
        .as_ref()
        .filter(|_| !wide)
        .map(|fp| format!("{} key {fp}", if r.accepted { "pinned" } else { "new" }));
    let why = (r.found.facts.is_none()
        && !r.found.message.is_empty()
        && r.found.state != HostState::UnknownHostKey)
        .then(|| {
            format!(
                "{}: {}: {}",
                r.found.address,
                row_state_text(r),
                r.found.message
            )
        });
    match (why, key) {
        (Some(w), Some(k)) => format!("{w}; {k}"),
        (Some(w), None) => w,
        (None, Some(k)) => k,
        (None, None) => String::new(),
    }
}

pub const SCREEN: Screen = Screen {
    name: "Discover",
    title: |m| step_title(m, "Find the hosts"),
    about,
    commands: key_table,
    on_key: key_discover,
    render,
    findings,
    text_focus: |m| !m.discover.table_focus,
};

fn about() -> String {
    "Targets: CIDR (10.0.10.0/28), ranges (10.0.10.5-10.0.10.20), addresses or hostnames, comma separated. New host keys are shown by SHA256 fingerprint; accepting a host pins its key. A scan moves focus to the table; Next waits until the scan has ended.".into()
}

/// The screen's keys, most important first: the targets field's, then the table's.
fn key_table(m: &Model) -> Vec<Command> {
    use KeyCode::*;
    let table = m.discover.table_focus;
    // Tab reaches the table only once there is one.
    let has_table = !m.rows.is_empty() || m.discover.scanning;
    vec![
        Command::new(&[Enter], "Enter", "scans (in the targets field)")
            .footer_if(!table, "Enter", "scan"),
        Command::new(
            &[Tab, BackTab],
            "Tab",
            "switches between the targets and the table",
        )
        .footer_if(!table && has_table, "Tab", "table"),
        Command::new(&[Up, Down], "Up/Down", "pick a host").footer_if(table, "↑↓", "host"),
        Command::new(&[Char(' ')], "Space", "accepts one host").footer_if(table, "Space", "accept"),
        Command::new(
            &[Char('a')],
            "a",
            "accepts every host that answered (also those still to answer)",
        )
        .footer_if(table, "a", "accept all"),
        Command::new(&[Char('r')], "r", "scans again").footer_if(table, "r", "rescan"),
        Command::new(&[Enter], "Enter", "goes next (in the table)")
            .footer_if(table, "Enter", "next"),
        Command::new(
            &[Esc],
            "Esc",
            "back to the targets (in the table), or back a step",
        )
        .footer("Esc", "back"),
    ]
}

/// The targets as typed, hosts not contacted yet, a scan still running, and whether any
/// host can go on.
fn findings(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(e) = m.targets_error() {
        out.push(Finding::error(Code::E_BAD_TARGETS, "targets", e));
    }
    let unscanned: Vec<&str> = m
        .rows
        .iter()
        .filter(|r| r.usable() && r.found.facts.is_none())
        .map(|r| r.found.address.as_str())
        .collect();
    if !unscanned.is_empty() && !m.discover.scanning {
        out.push(Finding::new(
            Severity::Warning,
            Code::W_NOT_CONTACTED,
            "targets",
            format!("{}: {}", text::NOT_CONTACTED, unscanned.join(", ")),
        ));
    }
    if m.discover.scanning {
        // Hosts that answer late would reach the plan without roles: wait.
        out.push(Finding::error(
            Code::E_SCAN_RUNNING,
            "targets",
            scan_waiting(m),
        ));
    }
    if !m.rows.iter().any(|r| r.usable()) {
        out.push(Finding {
            // Before the first scan it is only a hint; after it, it blocks.
            severity: if m.discover.scanned.is_some() && !m.discover.scanning {
                Severity::Error
            } else {
                Severity::Hint
            },
            code: Code::E_NO_REACHABLE_HOST,
            path: "targets".into(),
            message: text::NEED_ACCEPTED_HOST.into(),
            hint: None,
        });
    }
    out
}

/// What Next waits for while a scan (or the pinning of accepted keys) is running.
fn scan_waiting(m: &Model) -> String {
    let pinning: Vec<&str> = m.discover.pinning.iter().map(String::as_str).collect();
    if pinning.is_empty() {
        text::STILL_SCANNING.to_string()
    } else {
        format!("{}: {}", text::STILL_PINNING, pinning.join(", "))
    }
}

pub(crate) fn key_discover(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let d = &mut m.discover;
    if key.code == KeyCode::Esc {
        if d.table_focus {
            d.table_focus = false;
            return None;
        }
        return back(m);
    }
    if key.code == KeyCode::Tab || key.code == KeyCode::BackTab {
        d.table_focus = !d.table_focus && (!m.rows.is_empty() || d.scanning);
        return None;
    }
    if !d.table_focus {
        if key.code == KeyCode::Enter {
            if m.targets_error().is_some() || m.discover.scanning {
                return None;
            }
            let targets = m.discover.targets.value().to_string();
            if m.discover.scanned.as_deref() == Some(targets.as_str()) && !m.rows.is_empty() {
                m.discover.table_focus = true;
                return None;
            }
            m.rows.clear();
            m.discover.scanning = true;
            // Keys pressed during the scan (`a`, Space) are for the table, not the targets.
            m.discover.table_focus = true;
            m.discover.accept_all = false;
            m.discover.pin_after.clear();
            m.discover.error = None;
            m.discover.scanned = Some(targets.clone());
            m.discover.selected = 0;
            return Some(Effect::Discover {
                targets,
                access: m.plan.access.clone(),
                sudo_password: m.access.sudo_password(),
                accept: vec![],
            });
        }
        handle_input(&mut m.discover.targets, key);
        return None;
    }
    let n = m.rows.len();
    match key.code {
        KeyCode::Up => d.selected = d.selected.saturating_sub(1),
        KeyCode::Down => d.selected = (d.selected + 1).min(n.saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some(r) = m.rows.get_mut(d.selected) {
                if r.is_ok() {
                    r.accepted = !r.accepted;
                } else if r.found.state == HostState::UnknownHostKey {
                    let address = r.found.address.clone();
                    if d.scanning {
                        // Pinning scans again, which would stop this scan: after it ends.
                        if !d.pin_after.remove(&address) {
                            d.pin_after.insert(address);
                        }
                        return None;
                    }
                    return pin(m, vec![address]);
                }
            }
        }
        KeyCode::Char('a') => {
            for r in m.rows.iter_mut().filter(|r| r.is_ok()) {
                r.accepted = true;
            }
            if d.scanning {
                // Hosts still to answer are accepted as they come; new keys pinned at the end.
                d.accept_all = true;
                return None;
            }
            let new: Vec<String> = m
                .rows
                .iter()
                .filter(|r| r.found.state == HostState::UnknownHostKey)
                .map(|r| r.found.address.clone())
                .collect();
            if !new.is_empty() {
                return pin(m, new);
            }
        }
        KeyCode::Char('r') => {
            d.table_focus = false;
            d.scanned = None;
            return key_discover(m, KeyEvent::from(KeyCode::Enter));
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}

/// The operator accepted these fingerprints: scan the hosts again, pinning their keys.
pub(crate) fn pin(m: &mut Model, addresses: Vec<String>) -> Option<Effect> {
    m.discover.pinning.extend(addresses.iter().cloned());
    m.discover.scanning = true;
    let accept = m
        .rows
        .iter()
        .filter(|r| addresses.contains(&r.found.address))
        .filter_map(|r| r.found.fingerprint.clone())
        .collect();
    Some(Effect::Discover {
        targets: addresses.join(", "),
        access: m.plan.access.clone(),
        sudo_password: m.access.sudo_password(),
        accept,
    })
}
