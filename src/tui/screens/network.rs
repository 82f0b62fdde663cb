//! Network: MetalLB pool, cluster CIDRs, DNS, MTU and VIP, validated as typed; a parse
//! error points at the column of the bad character.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::net::parse_entries;
use crate::plan::{Code, Finding, Severity, Subject};
use crate::tui::effects::Effect;
use crate::tui::model::{Model, NetField};
use crate::tui::screens::{Command, Screen, back, back_command, step_title};
use crate::tui::update::{handle_input, next};
use crate::tui::widgets::{Look, fit, style, wrap};

const LABEL: usize = 17;

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = Vec::new();
    for field in NetField::ALL {
        let focus = field == m.network.focus;
        let mark = if focus { "▸ " } else { "  " };
        let label = Span::styled(
            format!("{mark}{:<w$}", field.label(), w = LABEL - 2),
            style(m.theme, if focus { Look::Key } else { Look::Dim }),
        );
        let value = if field == NetField::AutoAssign {
            if m.network.auto_assign {
                "[x] services get pool addresses automatically".to_string()
            } else {
                "[ ] only on request".to_string()
            }
        } else {
            m.network.value(field).to_string()
        };
        // The note counts the whole value; only the text shown is cut to the scroll.
        let mut note = String::new();
        if field == NetField::PoolAddresses
            && let Ok(entries) = parse_entries(&value)
        {
            // Saturating: an IPv6 `::/0` alone holds more than u128 counts.
            let total = entries
                .iter()
                .map(|(_, e)| {
                    let (first, last) = e.bounds();
                    last.saturating_sub(first).saturating_add(1)
                })
                .fold(0, u128::saturating_add);
            if total > 0 {
                let noun = if total == 1 { "address" } else { "addresses" };
                note = format!("  {} {noun}", crate::net::count_text(total));
            }
        }
        // Only a valid MTU has a Calico MTU; the plan still holds the last valid one.
        if field == NetField::Mtu && m.net_field_error(field).is_none() {
            note = format!("  calico_mtu {}", m.plan.network.effective_calico_mtu());
        }
        // Long values scroll sideways so the cursor, or the bad character, stays visible.
        // The note keeps its place at the end of the line; the value scrolls in the rest.
        let room = (area.width as usize).saturating_sub(LABEL + 2 + note.chars().count());
        let err_pos = m.net_field_error(field).map(|e| e.position);
        let input_cursor = m
            .network
            .inputs
            .get(&field)
            .map(|x| x.visual_cursor())
            .unwrap_or(0);
        let anchor = if focus {
            input_cursor
        } else {
            err_pos.unwrap_or(0)
        };
        let shift = anchor
            .saturating_sub(room.saturating_sub(8))
            .min(value.chars().count().saturating_sub(1));
        let shown = (area.width as usize).saturating_sub(LABEL + note.chars().count());
        let value: String = value.chars().skip(shift).take(shown).collect();
        lines.push(Line::from(vec![
            label,
            Span::styled(
                value,
                if focus {
                    style(m.theme, Look::Focus)
                } else {
                    Default::default()
                },
            ),
            Span::styled(note, style(m.theme, Look::Dim)),
        ]));
        if focus && let Some(input) = m.network.inputs.get(&field) {
            let x = area.x + LABEL as u16 + input.visual_cursor().saturating_sub(shift) as u16;
            f.set_cursor_position((
                x.min(area.right().saturating_sub(1)),
                area.y + lines.len() as u16 - 1,
            ));
        }
        if let Some(e) = m.net_field_error(field) {
            let pad = LABEL + e.position.saturating_sub(shift);
            let room = (area.width as usize).saturating_sub(pad + 1);
            let said = format!("^ column {}: {}", e.position + 1, e.message);
            if focus && said.chars().count() > room {
                // The focused field's error is said whole: it wraps under the value, where
                // the fix goes (at most three rows; F2 shows every finding in full).
                let width = (area.width as usize).saturating_sub(LABEL + 1);
                let first = " ".repeat(pad - LABEL);
                for row in wrap(&said, width, &first, "").into_iter().take(3) {
                    lines.push(Line::from(vec![
                        Span::raw(" ".repeat(LABEL)),
                        Span::styled(row, style(m.theme, Look::Error)),
                    ]));
                }
            } else {
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(pad)),
                    Span::styled(fit(&said, room), style(m.theme, Look::Error)),
                ]));
            }
        } else if field == NetField::PoolAddresses {
            // Overlaps are plan findings; point at the first offending entry here too.
            let overlap = m
                .plan_findings()
                .into_iter()
                .find(|x| POOL_CODES.contains(&x.code));
            if let Some((col, what)) = overlap.as_ref().and_then(|x| column_of(&x.message)) {
                let pad = LABEL + (col - 1).saturating_sub(shift);
                let room = (area.width as usize).saturating_sub(pad + 1);
                lines.push(Line::from(vec![
                    Span::raw(" ".repeat(pad)),
                    Span::styled(
                        fit(&format!("^ column {col}: {what}"), room),
                        style(m.theme, Look::Error),
                    ),
                ]));
            }
        }
    }
    let others = &m.network.other_pools;
    if !others.is_empty() {
        // The form edits the first pool; the others are kept, and the operator is told so.
        let names: Vec<String> = others
            .iter()
            .map(|p| format!("{} ({})", p.name, p.addresses.join(", ")))
            .collect();
        let noun = if others.len() == 1 { "pool" } else { "pools" };
        let said = format!(
            "  + {} more {noun} from the plan file, kept as written (edit them there): {}",
            others.len(),
            names.join("; ")
        );
        lines.push(Line::from(Span::styled(
            fit(&crate::text::printable(&said), area.width as usize),
            style(m.theme, Look::Dim),
        )));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// Core findings about one pool entry (their message carries the entry's column).
const POOL_CODES: [Code; 3] = [
    Code::E_POOL_OVERLAP,
    Code::E_POOL_HAS_NODE_ADDRESS,
    Code::E_POOL_IN_CLUSTER_CIDR,
];

/// Splits "pool x: column N: rest" into (N, rest).
fn column_of(message: &str) -> Option<(usize, String)> {
    let (_, rest) = message.split_once("column ")?;
    let (n, what) = rest.split_once(": ")?;
    Some((n.parse().ok()?, what.to_string()))
}

pub const SCREEN: Screen = Screen {
    name: "Network",
    title: |m| step_title(m, "Addresses"),
    about,
    commands: key_table,
    on_key: key_network,
    render,
    findings,
    text_focus: |m| m.network.focus.is_text(),
};

/// What the fields mean, with the figures the core uses.
fn about() -> String {
    let overhead = crate::plan::release::CALICO_VXLAN_OVERHEAD;
    format!(
        "MetalLB pool: the name and the addresses services get (CIDR, range or address, comma separated); Auto-assign: services get them without asking. Service and pod CIDRs: Kubernetes' internal networks, clear of the nodes, their gateways and the DNS servers. Node prefix: the size of each node's pod subnet (kube_network_node_prefix). Upstream DNS: where CoreDNS forwards. Host MTU: the nodes' NIC MTU; Calico runs {overhead} below it (calico_mtu: VXLAN, Kubespray's default encapsulation, takes {overhead} bytes). VIP: a free address in the control planes' subnet for the API server, served by kube-vip.\nErrors point at the column of the bad character."
    )
}

/// The screen's keys, most important first.
fn key_table(_: &Model) -> Vec<Command> {
    use KeyCode::*;
    vec![
        Command::new(
            &[Tab, BackTab, Up, Down],
            "Tab, Shift-Tab, Up, Down",
            "move between fields",
        )
        .footer("Tab/↑↓", "field"),
        Command::new(&[], "typing", "edits"),
        Command::new(&[Char(' ')], "Space", "toggles Auto-assign").footer("Space", "toggle"),
        Command::new(&[Enter], "Enter", "next").footer("Enter", "next"),
        back_command(),
    ]
}

/// Each field's own error at its column, and the core's network findings (a host's
/// address or gateway inside a CIDR among them).
fn findings(m: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in NetField::ALL {
        if let Some(e) = m.net_field_error(f) {
            out.push(Finding::error(
                Code::E_BAD_FIELD,
                "network",
                format!("{}: column {}: {}", f.label(), e.position + 1, e.message),
            ));
        }
    }
    // Single-field errors show under the field itself (above).
    out.extend(m.plan_findings().into_iter().filter(|f| {
        (f.path.starts_with("network") || f.code.subject() == Subject::Network)
            && f.severity != Severity::Info
            && f.code.subject() != Subject::NetworkField
    }));
    out
}

pub(crate) fn key_network(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let f = &mut m.network;
    match key.code {
        KeyCode::Esc => return back(m),
        KeyCode::Enter => return next(m),
        KeyCode::Tab | KeyCode::Down => f.focus = f.focus.next(),
        KeyCode::BackTab | KeyCode::Up => f.focus = f.focus.prev(),
        KeyCode::Char(' ') if f.focus == NetField::AutoAssign => f.auto_assign = !f.auto_assign,
        _ => {
            if let Some(i) = f.inputs.get_mut(&f.focus) {
                handle_input(i, key);
            }
        }
    }
    m.sync_network();
    None
}
