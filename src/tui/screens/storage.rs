//! Storage: each host's `lsblk` tree, a layout being built with its capacity preview, and
//! the layouts the host already has.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::{border, line};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::facts::human_bytes;
use crate::plan::{
    self, Discard, DiskInUse, Filesystem, Level, Relocate, StorageLayout, disk_in_use,
};
use crate::plan::{Finding, Severity};
use crate::tui::effects::Effect;
use crate::tui::model::Model;
use crate::tui::popups::Popup;
use crate::tui::screens::{Command, Hint, Screen, back, back_command, step_title};
use crate::tui::text;
use crate::tui::update::{cycle, next};
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
            "no facts for this host: scan it again on Discover (r)",
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

    render_layouts(m, f, [area, bottom, message, hosts], message_lines);
}

/// The layout being built with its preview (left) and the host's layouts (right).
/// `at`: the body, the layouts' row, the message row under it, the host list.
fn render_layouts(m: &Model, f: &mut Frame, at: [Rect; 4], message_lines: Vec<String>) {
    let [area, bottom, message, hosts] = at;
    let s = &m.storage;
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
    if let Some(h) = m.storage_host() {
        // A plan reopened before its hosts are scanned again has layouts but no facts: they
        // are listed all the same, their size unknown until the host is scanned.
        let fa = m.storage_facts();
        for l in &h.storage {
            let sizes: Option<Vec<u64>> = fa.map(|fa| {
                l.devices
                    .iter()
                    .filter_map(|d| fa.device(d).map(|d| d.size_bytes))
                    .collect()
            });
            let usable = sizes.map_or_else(
                || "size ?".to_string(),
                |sizes| human_bytes(crate::plan::usable_bytes(l.level, &sizes)),
            );
            have.push(Line::from(fit(
                &format!(
                    "{} {} {} {} {}{}",
                    l.level.as_str(),
                    l.filesystem.as_str(),
                    l.mount,
                    usable,
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
    if s.level == Level::PerDisk && s.relocate {
        return (format!("{what}; {}", text::RELOCATE_PER_DISK), false);
    }
    let ssd = disks.iter().all(|d| !d.rotational);
    let discard = match s.discard {
        Discard::Auto if ssd => "discard on (all non-rotational)",
        Discard::Auto => "discard off (a rotational disk)",
        Discard::On => "discard on",
        Discard::Off => "discard off",
    };
    (format!("{what}, {discard}"), true)
}

pub const SCREEN: Screen = Screen {
    name: "Storage",
    title: |m| step_title(m, "Disks and layouts"),
    about,
    commands: key_table,
    on_key: key_storage,
    render,
    findings,
    text_focus: |_| false,
};

fn about() -> String {
    "Each layout is a level (single, raid0/1/5/6/10, per-disk: one filesystem per disk at <mount>/<disk>), a filesystem, a mount point (never a system directory), discard, and whether kubelet and containerd data move onto it (not per-disk).".into()
}

/// The screen's keys, most important first: a narrow footer drops keys from the end. `w`
/// is also said where it is needed (selecting a disk that holds data).
fn key_table(_: &Model) -> Vec<Command> {
    use KeyCode::*;
    const SET: Hint = ("l/f/d/r/m", "set");
    vec![
        Command::new(&[Tab, BackTab], "Tab / Shift-Tab", "next / previous host")
            .footer("Tab", "host"),
        Command::new(&[Up, Down], "Up/Down", "move"),
        Command::new(&[Char(' ')], "Space", "selects a disk").footer("Space", "select"),
        Command::new(
            &[Char('l'), Char('L')],
            "l / L",
            "level forward / back (only levels the selection allows)",
        )
        .footer(SET.0, SET.1),
        Command::new(&[Char('f')], "f", "filesystem").footer(SET.0, SET.1),
        Command::new(&[Char('d')], "d", "discard").footer(SET.0, SET.1),
        Command::new(&[Char('r')], "r", "move kubelet+containerd data").footer(SET.0, SET.1),
        Command::new(&[Char('m')], "m", "mount point").footer(SET.0, SET.1),
        Command::new(&[Char('a')], "a", "adds the layout").footer("a", "add"),
        Command::new(
            &[Char('x')],
            "x",
            "takes the last one back to change it",
        )
        .footer("x", "take back"),
        Command::new(&[Char('w')], "w", "marks one for wiping").footer("w", "wipe"),
        Command::new(
            &[Char('A')],
            "A",
            "applies this host's layouts to every host with the same disks (asks before replacing a host's own; a wipe is never copied)",
        )
        .footer("A", "all same"),
        Command::new(&[Char('b')], "b", "selects every blank disk").footer("b", "all blank"),
        Command::new(&[Enter], "Enter", "next").footer("Enter", "next"),
        back_command(),
    ]
}

/// The core's findings about the hosts' layouts.
fn findings(m: &Model) -> Vec<Finding> {
    m.plan_findings()
        .into_iter()
        .filter(|f| f.path.contains(".storage") && f.severity != Severity::Info)
        .collect()
}

pub(crate) fn key_storage(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let devices: Vec<(String, Option<DiskInUse>)> = m
        .storage_devices()
        .iter()
        .map(|(_, d)| (d.name.clone(), disk_in_use(d)))
        .collect();
    let used = m.used_devices();
    // A disk and one of its partitions never both go into layouts (check's E_DEVICE_OVERLAP).
    let overlap = devices.get(m.storage.cursor).and_then(|(name, _)| {
        let f = m.storage_facts()?;
        used.iter()
            .chain(m.storage.selected.iter())
            .find_map(|other| {
                let holder = plan::overlap_holder(f, name, other)?;
                Some(text::overlaps(
                    name,
                    other,
                    holder == other,
                    used.contains(other),
                ))
            })
    });
    let s = &mut m.storage;
    match key.code {
        KeyCode::Esc => return back(m),
        KeyCode::Tab | KeyCode::BackTab => {
            let n = m.plan.hosts.len().max(1);
            s.host = if key.code == KeyCode::Tab {
                (s.host + 1) % n
            } else {
                (s.host + n - 1) % n
            };
            s.cursor = 0;
            s.selected.clear();
            s.wipe.clear();
            s.message = None;
        }
        KeyCode::Up => s.cursor = s.cursor.saturating_sub(1),
        KeyCode::Down => s.cursor = (s.cursor + 1).min(devices.len().saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some((name, why)) = devices.get(s.cursor) {
                if s.selected.remove(name) {
                    return None;
                }
                if used.contains(name) {
                    s.message = Some(format!("{name} {}", text::IN_A_LAYOUT));
                } else if let Some(overlap) = overlap {
                    s.message = Some(overlap);
                } else if *why == Some(DiskInUse::HoldsRoot) {
                    s.message = Some(format!("{name} {}", text::HOLDS_ROOT));
                } else if let (Some(why), false) = (why, s.wipe.contains(name)) {
                    s.message = Some(format!("{name} {}: {}", why.label(), text::MARK_WIPE));
                } else {
                    s.selected.insert(name.clone());
                    s.message = None;
                }
            }
        }
        KeyCode::Char('w') => {
            if let Some((name, why)) = devices.get(s.cursor) {
                if let Some(why @ (DiskInUse::HoldsRoot | DiskInUse::Mounted)) = why {
                    s.message = Some(format!("{name} {}: {}", why.label(), text::NEVER_WIPE));
                } else if !s.wipe.remove(name) {
                    s.wipe.insert(name.clone());
                    s.message = Some(format!("{name} {}", text::WIPE_MARKED));
                } else {
                    s.selected.remove(name);
                }
            }
        }
        // Both ways, over the levels the selection allows (all of them before a selection).
        KeyCode::Char('l') | KeyCode::Char('L') => {
            let n = s.selected.len();
            let allowed: Vec<Level> = Level::ALL
                .into_iter()
                .filter(|l| n == 0 || (l.min_devices() <= n && (*l != Level::Single || n == 1)))
                .collect();
            let mut order = allowed.clone();
            if key.code == KeyCode::Char('L') {
                order.reverse();
            }
            s.level = if order.contains(&s.level) {
                cycle(&order, s.level)
            } else {
                order.first().copied().unwrap_or(s.level)
            };
        }
        KeyCode::Char('b') => {
            // Every whole disk that is blank and in no layout yet (partitions and disks with
            // anything on them stay for Space, one by one).
            let blank: Vec<String> = m
                .storage_devices()
                .iter()
                .filter(|(depth, d)| {
                    *depth == 0
                        && d.children.is_empty()
                        && disk_in_use(d).is_none()
                        && !used.contains(&d.name)
                })
                .map(|(_, d)| d.name.clone())
                .collect();
            let s = &mut m.storage;
            s.message = Some(if blank.is_empty() {
                text::NO_BLANK_DISKS.into()
            } else {
                format!("{} {}", text::SELECTED_BLANK, blank.join(", "))
            });
            s.selected = blank.into_iter().collect();
        }
        KeyCode::Char('f') => {
            s.filesystem = cycle(&[Filesystem::Ext4, Filesystem::Xfs], s.filesystem)
        }
        KeyCode::Char('d') => {
            s.discard = cycle(&[Discard::Auto, Discard::On, Discard::Off], s.discard)
        }
        KeyCode::Char('r') => s.relocate = !s.relocate,
        KeyCode::Char('m') => m.popup = Some(Popup::Mount(s.mount.clone())),
        KeyCode::Char('a') => add_layout(m),
        KeyCode::Char('x') => take_back(m),
        KeyCode::Char('A') => apply_to_same(m, false),
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}

/// `x`: the last layout back into the draft.
fn take_back(m: &mut Model) {
    // Takes the last layout back into the draft, disks selected, so it can be changed
    // and added again (or left out).
    let popped = m
        .plan
        .hosts
        .get_mut(m.storage.host)
        .and_then(|h| h.storage.pop());
    let s = &mut m.storage;
    s.message = Some(match popped {
        Some(l) => {
            s.selected = l.devices.iter().cloned().collect();
            if l.wipe {
                s.wipe.extend(l.devices.iter().cloned());
            }
            s.level = l.level;
            s.filesystem = l.filesystem;
            s.discard = l.discard;
            s.relocate = !l.relocate.is_empty();
            s.mount = crate::tui::model::input(&l.mount);
            format!(
                "{} {} at {} ({}): change it and a adds it again",
                text::LAYOUT_REMOVED,
                l.level.as_str(),
                l.mount,
                l.devices.join(", ")
            )
        }
        None => text::NO_LAYOUT_TO_REMOVE.to_string(),
    });
}

fn add_layout(m: &mut Model) {
    let s = &m.storage;
    let devices: Vec<String> = m
        .storage_devices()
        .iter()
        .map(|(_, d)| d.name.clone())
        .filter(|n| s.selected.contains(n))
        .collect();
    let mount = s.mount.value().trim().to_string();
    let message = if devices.len() < s.level.min_devices() {
        Some(text::needs_disks(
            s.level.as_str(),
            s.level.min_devices(),
            devices.len(),
        ))
    } else if s.level == Level::PerDisk && s.relocate {
        Some(text::RELOCATE_PER_DISK.into())
    } else {
        // The same rule as `check` and the storage stage, so the wizard never writes a
        // layout that either would refuse.
        plan::mount_problem(&mount).map(mount_message)
    };
    if let Some(msg) = message {
        m.storage.message = Some(msg);
        return;
    }
    let layout = StorageLayout {
        level: s.level,
        wipe: devices.iter().any(|d| s.wipe.contains(d)),
        devices,
        filesystem: s.filesystem,
        mount,
        discard: s.discard,
        relocate: if s.relocate {
            vec![Relocate::Kubelet, Relocate::Containerd]
        } else {
            vec![]
        },
    };
    let host = m.storage.host;
    if let Some(h) = m.plan.hosts.get_mut(host) {
        h.storage.push(layout);
    }
    m.storage.selected.clear();
    m.storage.message = Some(text::LAYOUT_ADDED.into());
}

/// A refused mount point as one line: the reason, then the fix when there is one.
pub(crate) fn mount_message(problem: plan::MountProblem) -> String {
    match problem.hint {
        Some(hint) => format!("{}: {hint}", problem.message),
        None => problem.message,
    }
}

/// "Apply to all hosts with the same disks": the core copies (`plan::same_disks`, where a
/// wipe never travels); this says what it did, or asks before replacing a host's own
/// layouts.
pub(crate) fn apply_to_same(m: &mut Model, replace: bool) {
    let from = m.storage.host;
    let Some(out) = plan::same_disks::apply_to_same(&mut m.plan, &m.facts, from, replace) else {
        return;
    };
    if !out.replacing.is_empty() {
        m.popup = Some(Popup::Confirm {
            action: crate::tui::effects::Action::ApplyToSame,
            hosts: vec![],
            what: text::replace_layouts(&out.replacing),
            input: tui_input::Input::default(),
        });
        return;
    }
    let mut parts = Vec::new();
    if !out.applied.is_empty() {
        parts.push(format!("{} {}", text::APPLIED_TO, out.applied.join(", ")));
    }
    if !out.differ.is_empty() {
        parts.push(format!("{} {}", text::DISKS_DIFFER, out.differ.join(", ")));
    }
    parts.extend(
        out.not_blank
            .iter()
            .map(|(host, disk, why)| text::not_applied_unsafe(host, disk, *why)),
    );
    parts.extend(out.refused);
    m.storage.message = Some(if parts.is_empty() {
        text::NO_OTHER_HOSTS.into()
    } else {
        parts.join("; ")
    });
}

#[cfg(test)]
mod tests;
