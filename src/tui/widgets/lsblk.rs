//! One host's `lsblk` tree with selection marks: size, type, rotational, transport, model,
//! filesystem and mounts.

use ratatui::text::{Line, Span};

use super::{Look, fit, style};
use crate::facts::BlockDevice;
use crate::facts::human_bytes;
use crate::plan::disk_in_use;
use crate::tui::model::Theme;

/// The columns before MODEL, marks included; MODEL gets what is left of the row.
const FIXED: &str = "    NAME           SIZE TYPE ROTA TRAN FSTYPE  MOUNTPOINTS  ";
/// Narrower than this, MODEL is left out of the table (the line under it names the model
/// of the disk under the cursor): a model cut to a few letters says nothing.
const MIN_MODEL: usize = 12;

/// Whether the MODEL column fits in `width` columns.
fn shows_model(width: usize) -> bool {
    width >= FIXED.chars().count() + MIN_MODEL
}

/// The header row for a table `width` columns wide.
pub fn header(width: usize) -> String {
    let mut h = FIXED.to_string();
    if shows_model(width) {
        h.push_str("MODEL");
    }
    fit(h.trim_end(), width)
}

/// Everything lsblk says about one device, for the line under the table: the model in
/// full, serial and transport, which the table cuts or leaves out.
pub fn details(d: &BlockDevice) -> String {
    let mut parts = vec![d.name.clone()];
    let known = |v: &Option<String>| v.as_deref().filter(|x| !x.is_empty()).map(str::to_string);
    parts.extend(known(&d.model));
    parts.extend(known(&d.serial).map(|s| format!("serial {s}")));
    parts.extend(known(&d.transport));
    parts.push(human_bytes(d.size_bytes));
    parts.extend(disk_in_use(d).map(|why| why.label().to_string()));
    parts.push(
        if d.rotational {
            "rotational"
        } else {
            "non-rotational"
        }
        .into(),
    );
    parts.join(" · ")
}

#[allow(clippy::too_many_arguments)]
pub fn row(
    theme: Theme,
    depth: usize,
    last: bool,
    d: &BlockDevice,
    selected: bool,
    wipe: bool,
    used: bool,
    cursor: bool,
    width: usize,
) -> Line<'static> {
    let (mark, look) = if used {
        ("[L]", Look::Ok)
    } else if selected {
        ("[x]", Look::Ok)
    } else if wipe {
        ("[W]", Look::Warn)
    } else if disk_in_use(d).is_some() {
        (" ✗ ", Look::Dim)
    } else {
        ("[ ]", Look::Dim)
    };
    let branch = if depth == 0 {
        String::new()
    } else {
        format!(
            "{}{}",
            "  ".repeat(depth - 1),
            if last { "└─" } else { "├─" }
        )
    };
    let name = format!("{branch}{}", d.name);
    let mut text = format!(
        " {:<13} {:>6} {:<4} {:<4} {:<4} {:<7} {:<12} ",
        fit(&name, 13),
        human_bytes(d.size_bytes),
        fit(&d.kind, 4),
        if d.rotational { "1" } else { "0" },
        fit(d.transport.as_deref().unwrap_or(""), 4),
        fit(d.fstype.as_deref().unwrap_or(""), 7),
        fit(&d.mountpoints.join(","), 12),
    );
    if shows_model(width) {
        text.push_str(d.model.as_deref().unwrap_or(""));
    }
    let body_style = if cursor {
        style(theme, Look::Focus)
    } else if disk_in_use(d).is_some() && !wipe {
        style(theme, Look::Dim)
    } else {
        ratatui::style::Style::default()
    };
    let body = fit(text.trim_end(), width.saturating_sub(3));
    Line::from(vec![
        Span::styled(mark.to_string(), style(theme, look)),
        Span::styled(body, body_style),
    ])
}
