//! Storage: each host's `lsblk` tree, a layout being built with its capacity preview, and
//! the layouts the host already has.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::{border, line};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::facts::human_bytes;
use crate::plan::{Discard, Level};
use crate::tui::app::Model;
use crate::tui::text;
use crate::tui::widgets::{Look, fit, lsblk, style, wrap};

/// Rows the message under the layouts may take (a skipped host names itself and its disk).
const MESSAGE_ROWS: usize = 3;
/// Rows for what lsblk says about the disk under the cursor (model, serial, transport).
const DETAILS_ROWS: usize = 2;

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let message_lines: Vec<String> = m
        .storage
        .message
        .as_deref()
        .map(|msg| wrap(msg, area.width as usize, "", "  "))
        .unwrap_or_default();
    let [top, bottom, message] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(6),
        Constraint::Length(message_lines.len().clamp(1, MESSAGE_ROWS) as u16),
    ])
    .areas(area);
    let [hosts, tree] =
        Layout::horizontal([Constraint::Length(14), Constraint::Min(40)]).areas(top);
    let s = &m.storage;

    let host_lines: Vec<Line> = m
        .plan
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let n = h.storage.len();
            let text = format!(
                "{} {}",
                fit(&h.name, 9),
                if n > 0 {
                    format!("[{n}]")
                } else {
                    String::new()
                }
            );
            if i == s.host {
                Line::from(Span::styled(
                    format!("▸{text}"),
                    style(m.theme, Look::Focus),
                ))
            } else {
                Line::from(format!(" {text}"))
            }
        })
        .collect();
    f.render_widget(
        Paragraph::new(host_lines).block(Block::default().borders(Borders::RIGHT).title(" Hosts ")),
        hosts,
    );

    let devices = m.storage_devices();
    let used = m.used_devices();
    let width = tree.width.saturating_sub(1) as usize;
    let mut lines = vec![Line::from(Span::styled(
        lsblk::header(width),
        style(m.theme, Look::Title),
    ))];
    // The header on top, what lsblk says about the disk under the cursor at the bottom.
    let details: Vec<String> = devices
        .get(s.cursor)
        .map(|(_, d)| wrap(&lsblk::details(d), width, "", "  "))
        .unwrap_or_default();
    let details_rows = details.len().min(DETAILS_ROWS) as u16;
    let rows = tree.height.saturating_sub(1 + details_rows) as usize;
    let start = s.cursor.saturating_sub(rows.saturating_sub(1));
    for (i, (depth, d)) in devices.iter().enumerate().skip(start).take(rows) {
        let last = devices.get(i + 1).is_none_or(|(nd, _)| nd < depth);
        lines.push(lsblk::row(
            m.theme,
            *depth,
            last,
            d,
            s.selected.contains(&d.name),
            s.wipe.contains(&d.name),
            used.contains(&d.name),
            i == s.cursor,
            width,
        ));
    }
    if devices.is_empty() {
        lines.push(Line::from(Span::styled(
            "no facts for this host: rediscover it",
            style(m.theme, Look::Warn),
        )));
    }
    f.render_widget(
        Paragraph::new(lines),
        Rect::new(
            tree.x + 1,
            tree.y,
            tree.width.saturating_sub(1),
            tree.height.saturating_sub(details_rows),
        ),
    );
    f.render_widget(
        Paragraph::new(
            details
                .into_iter()
                .take(DETAILS_ROWS)
                .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim))))
                .collect::<Vec<_>>(),
        ),
        Rect::new(
            tree.x + 1,
            tree.bottom().saturating_sub(details_rows),
            tree.width.saturating_sub(1),
            details_rows,
        ),
    );

    let [draft, existing] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
    let (preview, ok) = preview(m);
    let preview_look = match (ok, s.selected.is_empty()) {
        (_, true) => Look::Dim,
        (true, false) => Look::Ok,
        (false, false) => Look::Warn,
    };
    let mount_note = if s.level == Level::PerDisk {
        "/<disk>"
    } else {
        ""
    };
    let mut draft_lines = vec![
        Line::from(format!(
            "level {:<8}  filesystem {}",
            s.level.as_str(),
            s.filesystem.as_str()
        )),
        Line::from(format!(
            "mount {}{mount_note}  discard {}",
            s.mount.value(),
            match s.discard {
                Discard::Auto => "auto",
                Discard::On => "on",
                Discard::Off => "off",
            }
        )),
        Line::from(format!(
            "move kubelet+containerd data: {}",
            if s.relocate { "yes" } else { "no" }
        )),
    ];
    draft_lines.extend(
        wrap(&preview, draft.width as usize, "", "  ")
            .into_iter()
            .map(|l| Line::from(Span::styled(l, style(m.theme, preview_look)))),
    );
    f.render_widget(
        Paragraph::new(
            message_lines
                .into_iter()
                .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Warn))))
                .collect::<Vec<_>>(),
        ),
        message,
    );
    f.render_widget(
        Paragraph::new(draft_lines)
            .block(Block::default().borders(Borders::TOP).title(" New layout ")),
        draft,
    );

    let mut have: Vec<Line> = Vec::new();
    if let (Some(h), Some(fa)) = (m.storage_host(), m.storage_facts()) {
        for l in &h.storage {
            let sizes: Vec<u64> = l
                .devices
                .iter()
                .filter_map(|d| fa.device(d).map(|d| d.size_bytes))
                .collect();
            let usable = crate::plan::usable_bytes(l.level, &sizes);
            have.push(Line::from(fit(
                &format!(
                    "{} {} {} {} {}{}",
                    l.level.as_str(),
                    l.filesystem.as_str(),
                    l.mount,
                    human_bytes(usable),
                    l.devices.join(","),
                    if l.wipe { " WIPE" } else { "" }
                ),
                existing.width.saturating_sub(2) as usize,
            )));
        }
    }
    if have.is_empty() {
        have.push(Line::from(Span::styled(
            "none yet (a adds one)",
            style(m.theme, Look::Dim),
        )));
    }
    // The right box shares the left one's top border: its corner is a junction.
    let joined = border::Set {
        top_left: line::HORIZONTAL_DOWN,
        ..border::PLAIN
    };
    f.render_widget(
        Paragraph::new(have).block(
            Block::default()
                .borders(Borders::TOP | Borders::LEFT)
                .border_set(joined)
                .title(" Layouts on this host "),
        ),
        existing,
    );
    // Where the layout boxes' top border meets the frame and the host list's divider.
    let buf = f.buffer_mut();
    let y = bottom.y;
    for (x, symbol) in [
        (area.x.checked_sub(1), line::VERTICAL_RIGHT),
        (Some(area.right()), line::VERTICAL_LEFT),
        (Some(hosts.right().saturating_sub(1)), line::HORIZONTAL_UP),
    ] {
        if let Some(cell) = x.and_then(|x| buf.cell_mut((x, y))) {
            cell.set_symbol(symbol);
        }
    }
}

/// The layout being built, said live as disks are selected: level, disks, what is usable
/// and whether discard will be on.
pub fn preview(m: &Model) -> (String, bool) {
    let s = &m.storage;
    let Some(fa) = m.storage_facts() else {
        return ("select disks with Space".into(), false);
    };
    let disks: Vec<&crate::facts::BlockDevice> =
        s.selected.iter().filter_map(|d| fa.device(d)).collect();
    if disks.is_empty() {
        return ("select disks with Space".into(), false);
    }
    let n = disks.len();
    let level = s.level.as_str();
    if n < s.level.min_devices() {
        return (text::needs_disks(level, s.level.min_devices(), n), false);
    }
    let sizes: Vec<u64> = disks.iter().map(|d| d.size_bytes).collect();
    let raw = crate::plan::total_bytes(sizes.iter().copied());
    let usable = human_bytes(crate::plan::usable_bytes(s.level, &sizes));
    let same = sizes.iter().all(|x| *x == sizes[0]);
    let over = if same {
        format!("{n} × {}", human_bytes(sizes[0]))
    } else {
        format!("{n} disks ({} raw)", human_bytes(raw))
    };
    let what = match s.level {
        Level::PerDisk => format!("per-disk: {over} → {n} filesystems, {usable} usable"),
        _ => format!("{level} over {over} → {usable} usable"),
    };
    let ssd = disks.iter().all(|d| !d.rotational);
    let discard = match s.discard {
        Discard::Auto if ssd => "discard on (all non-rotational)",
        Discard::Auto => "discard off (a rotational disk)",
        Discard::On => "discard on",
        Discard::Off => "discard off",
    };
    (format!("{what}, {discard}"), true)
}
