//! One host's `lsblk` tree with selection marks: size, type, rotational, transport, model,
//! filesystem and mounts.

use ratatui::text::{Line, Span};

use super::{Look, fit, style};
use crate::facts::BlockDevice;
use crate::tui::app::Theme;
use crate::tui::domain::{human_bytes, unsafe_reason};

pub const HEADER: &str = "    NAME           SIZE TYPE ROTA TRAN FSTYPE  MOUNTPOINTS  MODEL";

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
    } else if unsafe_reason(d).is_some() {
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
    let text = format!(
        " {:<13} {:>6} {:<4} {:<4} {:<4} {:<7} {:<12} {}",
        fit(&name, 13),
        human_bytes(d.size_bytes),
        fit(&d.kind, 4),
        if d.rotational { "1" } else { "0" },
        fit(d.transport.as_deref().unwrap_or(""), 4),
        fit(d.fstype.as_deref().unwrap_or(""), 7),
        fit(&d.mountpoints.join(","), 12),
        d.model.as_deref().unwrap_or(""),
    );
    let body_style = if cursor {
        style(theme, Look::Focus)
    } else if unsafe_reason(d).is_some() && !wipe {
        style(theme, Look::Dim)
    } else {
        ratatui::style::Style::default()
    };
    let body = fit(&text, width.saturating_sub(3));
    Line::from(vec![
        Span::styled(mark.to_string(), style(theme, look)),
        Span::styled(body, body_style),
    ])
}
