//! Reusable pieces of the frame. Each is a pure function from model data to widgets.

pub mod findings;
pub mod footer;
pub mod log_pane;
pub mod lsblk;
pub mod quorum;
pub mod step_bar;

use ratatui::style::{Color, Modifier, Style};

use super::model::Theme;

/// The few looks the wizard uses; with `NO_COLOR` they keep only bold/reverse/dim.
#[derive(Debug, Clone, Copy)]
pub enum Look {
    Title,
    Ok,
    Warn,
    Error,
    Hint,
    Dim,
    Key,
    Selected,
    Focus,
}

pub fn style(theme: Theme, look: Look) -> Style {
    let base = Style::default();
    if !theme.color {
        return match look {
            Look::Title | Look::Key | Look::Error => base.add_modifier(Modifier::BOLD),
            Look::Selected | Look::Focus => base.add_modifier(Modifier::REVERSED),
            Look::Dim => base.add_modifier(Modifier::DIM),
            _ => base,
        };
    }
    match look {
        Look::Title => base.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        Look::Ok => base.fg(Color::Green),
        Look::Warn => base.fg(Color::Yellow),
        Look::Error => base.fg(Color::Red).add_modifier(Modifier::BOLD),
        Look::Hint => base.fg(Color::Blue),
        Look::Dim => base.fg(Color::DarkGray),
        Look::Key => base.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        Look::Selected => base.bg(Color::Blue).fg(Color::White),
        Look::Focus => base.add_modifier(Modifier::REVERSED),
    }
}

/// Cuts a string to `width` characters, marking the cut with `…`.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else if width == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(width - 1).collect();
        out.push('…');
        out
    }
}

/// Wraps `text` to `width` columns with a hanging indent: the first row starts with
/// `first`, the others with `rest`. Words longer than a row are broken, so nothing is cut.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let width = width.max(first.chars().count().max(rest.chars().count()) + 1);
    let opts = textwrap::Options::new(width)
        .initial_indent(first)
        .subsequent_indent(rest)
        // Breaking at hyphens would split flags and file names (`--raid-devices`).
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
    textwrap::wrap(text, opts)
        .into_iter()
        .map(|c| c.into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_every_character_with_a_hanging_indent() {
        let rows = wrap(
            "ansible-playbook -i inventory/akash/hosts.yaml -b -v cluster.yml",
            30,
            "$ ",
            "    ",
        );
        assert_eq!(
            rows,
            [
                "$ ansible-playbook -i",
                "    inventory/akash/hosts.yaml",
                "    -b -v cluster.yml"
            ]
        );
        assert!(rows.iter().all(|r| r.chars().count() <= 30));
        // Hyphens are no break points: flags and file names stay whole.
        assert_eq!(
            wrap("mdadm --raid-devices=2", 16, "", ""),
            ["mdadm", "--raid-devices=2"]
        );
        // A word longer than the row is broken, not cut.
        let long = wrap(&"x".repeat(25), 10, "", "  ");
        assert_eq!(long.concat().matches('x').count(), 25);
    }

    #[test]
    fn no_color_keeps_only_modifiers() {
        let mono = Theme { color: false };
        for look in [
            Look::Title,
            Look::Ok,
            Look::Warn,
            Look::Error,
            Look::Hint,
            Look::Dim,
            Look::Key,
            Look::Selected,
            Look::Focus,
        ] {
            let s = style(mono, look);
            assert_eq!((s.fg, s.bg), (None, None), "{look:?}");
        }
        assert_eq!(
            style(Theme { color: true }, Look::Error).fg,
            Some(Color::Red)
        );
    }
}
