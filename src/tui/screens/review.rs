//! Review: every finding, every file that will be written and every command each stage will
//! run per host (dry run), and saving the plan.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::plan::Plan;
use crate::plan::{Finding, Severity};
use crate::provision::StageId;
use crate::tui::effects::Effect;
use crate::tui::model::{Model, NetField, ReviewTab};
use crate::tui::model::{Step, input};
use crate::tui::popups::Popup;
use crate::tui::screens::{Command, Screen, back, step_title};
use crate::tui::text;
use crate::tui::update::{cycle, handle_input, next};
use crate::tui::widgets::{Look, style, wrap};

/// The files provisioning writes, with their contents.
pub fn files(plan: &Plan) -> Vec<(String, String)> {
    let mut out = vec![(
        format!("{}.yaml (the plan)", plan.cluster.name),
        crate::plan::to_yaml(plan),
    )];
    match crate::render::render(plan) {
        Ok(files) => out.extend(files.into_iter().map(|f| {
            (
                format!("inventory/{}/{}", plan.cluster.name, f.path.display()),
                f.contents,
            )
        })),
        Err(e) => out.push(("(inventory not rendered)".into(), e.to_string())),
    }
    out
}

/// What each stage runs on each host, in order: the provisioning runner's own dry run.
pub fn commands(m: &Model) -> Vec<(StageId, String, Vec<String>)> {
    let facts = (!m.facts.is_empty()).then_some(&m.facts);
    crate::provision::runner::dry_run(&m.plan, facts)
        .into_iter()
        .map(|step| {
            let cmds = match step.commands {
                Ok(c) if c.is_empty() => vec!["(nothing to do)".to_string()],
                Ok(c) => c,
                Err(why) => vec![format!("(refused: {why})")],
            };
            (step.stage, step.host, cmds)
        })
        .collect()
}

/// What the Findings tab lists: first what cannot run on this machine, then the plan's own.
fn review_findings(m: &Model) -> Vec<Finding> {
    let mut list = m.machine_findings();
    list.extend(m.plan_findings());
    list
}

/// Review's rows: tabs, the scrolled content, the saved line.
fn areas(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The current tab's content, wrapped to `width`.
fn content(m: &Model, list: &[Finding], width: usize) -> Vec<Line<'static>> {
    match m.review.tab {
        ReviewTab::Findings => findings_lines(m, list, width),
        ReviewTab::Files => files_lines(m, width),
        ReviewTab::Commands => commands_lines(m, width),
    }
}

/// How far the current tab scrolls on the model's terminal: its last row at the bottom of
/// the view, never blank rows past it. `update` clamps with it; `render` draws with it.
pub fn max_scroll(m: &Model) -> u16 {
    let [_, body, _] = areas(crate::tui::view::body_inner(m));
    let rows = content(m, &review_findings(m), body.width as usize).len();
    u16::try_from(rows.saturating_sub(body.height as usize)).unwrap_or(u16::MAX)
}

pub fn render(m: &Model, f: &mut Frame, area: Rect) {
    let [tabs, body, saved] = areas(area);
    let mut t = Vec::new();
    let list = review_findings(m);
    for tab in ReviewTab::ALL {
        let name = match tab {
            ReviewTab::Findings => format!("Findings ({})", list.len()),
            other => other.title().to_string(),
        };
        let label = if tab == m.review.tab {
            format!("[{name}]")
        } else {
            format!(" {name} ")
        };
        t.push(Span::styled(
            label,
            if tab == m.review.tab {
                style(m.theme, Look::Focus)
            } else {
                style(m.theme, Look::Dim)
            },
        ));
        t.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(t)), tabs);
    let width = body.width as usize;
    let lines = content(m, &list, width);
    // `update` keeps the scroll in range; a resize can leave it past the end until the next
    // key, so the view clamps too.
    let max = lines.len().saturating_sub(body.height as usize);
    let scroll = m.review.scroll.min(u16::try_from(max).unwrap_or(u16::MAX));
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), body);
    let s = match (&m.review.saved, &m.review.save_error) {
        _ if m.review.search.is_some() => Line::from(vec![
            Span::styled(
                format!("/{}", m.review.search.as_ref().map_or("", |i| i.value())),
                style(m.theme, Look::Focus),
            ),
            Span::styled(
                "  Enter finds, Esc cancels".to_string(),
                style(m.theme, Look::Dim),
            ),
        ]),
        (_, Some(e)) => Line::from(Span::styled(
            format!("save failed: {e}"),
            style(m.theme, Look::Error),
        )),
        (Some(p), None) => Line::from(Span::styled(
            format!("saved: {}", p.display()),
            style(m.theme, Look::Ok),
        )),
        (None, None) => Line::from(Span::styled(
            "not saved yet: s saves the plan",
            style(m.theme, Look::Warn),
        )),
    };
    f.render_widget(Paragraph::new(s), saved);
}

/// Indent of a finding's message and hint under its severity and code.
const FINDING_INDENT: &str = "   ";

/// Each finding as a severity and code line (the plan path after it, or below when it does
/// not fit), then its message and hint wrapped under it with a hanging indent.
fn findings_lines(m: &Model, list: &[Finding], width: usize) -> Vec<Line<'static>> {
    if list.is_empty() {
        return vec![Line::from(Span::styled(
            "✓ no findings: the plan is ready",
            style(m.theme, Look::Ok),
        ))];
    }
    let mut out = Vec::new();
    for x in list {
        let look = match x.severity {
            Severity::Error => Look::Error,
            Severity::Warning => Look::Warn,
            Severity::Hint | Severity::Info => Look::Hint,
        };
        let head = format!("{:<8}{}", x.severity.as_str(), x.code);
        let mut first = vec![
            Span::styled(format!("{:<8}", x.severity.as_str()), style(m.theme, look)),
            Span::styled(x.code.to_string(), style(m.theme, Look::Title)),
        ];
        let path_fits = head.chars().count() + 2 + x.path.chars().count() <= width;
        if path_fits && !x.path.is_empty() {
            first.push(Span::styled(
                format!("  {}", x.path),
                style(m.theme, Look::Dim),
            ));
        }
        out.push(Line::from(first));
        if !path_fits {
            out.extend(
                wrap(&x.path, width, FINDING_INDENT, FINDING_INDENT)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim)))),
            );
        }
        out.extend(
            wrap(&x.message, width, FINDING_INDENT, FINDING_INDENT)
                .into_iter()
                .map(Line::from),
        );
        if let Some(h) = &x.hint {
            let rest = format!("{FINDING_INDENT}      ");
            out.extend(
                wrap(&format!("hint: {h}"), width, FINDING_INDENT, &rest)
                    .into_iter()
                    .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Hint)))),
            );
        }
    }
    out
}

/// Every file provisioning writes: a list of them first, then each one in full.
fn files_lines(m: &Model, width: usize) -> Vec<Line<'static>> {
    let all = files(&m.plan);
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    let mut out: Vec<Line> = wrap(
        &format!("{} files: {}", all.len(), names.join(", ")),
        width,
        "",
        "  ",
    )
    .into_iter()
    .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim))))
    .collect();
    for (name, body) in all {
        out.push(Line::from(Span::styled(
            format!("── {name}"),
            style(m.theme, Look::Title),
        )));
        for row in body.lines() {
            // YAML indentation matters: continuation rows go deeper than the row itself.
            let lead: String = row.chars().take_while(|c| *c == ' ').collect();
            let first = format!("  {lead}");
            let rest = format!("{first}    ");
            out.extend(
                wrap(row.trim_start(), width, &first, &rest)
                    .into_iter()
                    .map(Line::from),
            );
        }
    }
    out
}

/// Continuation rows of a wrapped command sit under its first word.
const COMMAND_FIRST: &str = "  $ ";
const COMMAND_REST: &str = "      ";

/// First, per host, what the run will change, in words; then every command each stage runs
/// per host, wrapped so none is cut. Here-document bodies are folded to "… (N more lines)"
/// and preflight's read-only checks to one line, unless expanded (`e`).
fn commands_lines(m: &Model, width: usize) -> Vec<Line<'static>> {
    let mut out = vec![Line::from(Span::styled(
        "What changes, per host",
        style(m.theme, Look::Title),
    ))];
    for h in &m.plan.hosts {
        let changes = crate::provision::summary::host_changes(&m.plan, h, m.facts.get(&h.name));
        let first = format!("{}: ", h.name);
        let rest = " ".repeat(first.chars().count());
        for (i, c) in changes.iter().enumerate() {
            let lead = if i == 0 {
                first.as_str()
            } else {
                rest.as_str()
            };
            out.extend(
                wrap(c, width, lead, &format!("{rest}  "))
                    .into_iter()
                    .map(Line::from),
            );
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        "The exact commands, per stage and host",
        style(m.theme, Look::Title),
    )));
    for (stage, host, cmds) in commands(m) {
        if stage == StageId::Preflight && !m.review.expand {
            out.push(Line::from(vec![
                Span::styled(
                    format!("── {} on {host}", stage.title()),
                    style(m.theme, Look::Title),
                ),
                Span::styled(
                    format!(
                        ": {} read-only check{} (e shows them)",
                        cmds.len(),
                        if cmds.len() == 1 { "" } else { "s" }
                    ),
                    style(m.theme, Look::Dim),
                ),
            ]));
            continue;
        }
        out.push(Line::from(Span::styled(
            format!("── {} on {host}", stage.title()),
            style(m.theme, Look::Title),
        )));
        for c in cmds {
            let mut rows = c.lines();
            let first = rows.next().unwrap_or("");
            let more: Vec<&str> = rows.collect();
            let head = if more.is_empty() || m.review.expand {
                first.to_string()
            } else {
                format!("{first} … ({} more lines, e shows them)", more.len())
            };
            out.extend(
                wrap(&head, width, COMMAND_FIRST, COMMAND_REST)
                    .into_iter()
                    .map(Line::from),
            );
            if m.review.expand {
                for row in more {
                    out.extend(
                        wrap(row, width, COMMAND_REST, COMMAND_REST)
                            .into_iter()
                            .map(|l| Line::from(Span::styled(l, style(m.theme, Look::Dim)))),
                    );
                }
            }
        }
    }
    out
}

pub const SCREEN: Screen = Screen {
    name: "Review",
    title: |m| step_title(m, "What will happen"),
    about,
    commands: key_table,
    on_key: key_review,
    render,
    findings,
    text_focus: |m| m.review.search.is_some(),
};

fn about() -> String {
    "Findings: every finding of the plan. Files: what will be written. Commands: what every stage runs on every host.".into()
}

/// The screen's keys, most important first; while a search is typed only its own.
fn key_table(m: &Model) -> Vec<Command> {
    use KeyCode::*;
    let searching = m.review.search.is_some();
    let browsing = !searching;
    let commands = browsing && m.review.tab == ReviewTab::Commands;
    vec![
        Command::new(&[Enter], "Enter (in a search)", "finds")
            .footer_if(searching, "Enter", "find"),
        Command::new(&[Esc], "Esc (in a search)", "cancels it")
            .footer_if(searching, "Esc", "cancel"),
        Command::new(&[Tab, BackTab, Right, Left], "Tab", "switches tabs")
            .footer_if(browsing, "Tab", "tab"),
        Command::new(
            &[Up, Down, PageUp, PageDown, Home, End],
            "Up/Down, PgUp/PgDn, Home/End",
            "scroll",
        )
        .footer_if(browsing, "↑↓", "scroll"),
        Command::new(
            &[Char('e')],
            "e (on Commands)",
            "shows file contents in full or folds them",
        )
        .footer_if(
            commands,
            "e",
            if m.review.expand { "fold" } else { "expand" },
        ),
        Command::new(&[Char('s')], "s", "saves the plan").footer_if(browsing, "s", "save"),
        Command::new(
            &[Enter],
            "Enter",
            "goes on to provisioning, or with an error to the screen and field where it is fixed",
        )
        .footer_if(browsing, "Enter", "provision"),
        Command::new(
            &[Char(']'), Char('[')],
            "] and [ (on Commands)",
            "jump to the next / previous stage on a host",
        )
        .footer_if(commands, "[ ]", "stage/host"),
        Command::new(&[Char('/')], "/", "searches the tab").footer_if(browsing, "/", "search"),
        Command::new(
            &[Char('n'), Char('N')],
            "n / N",
            "find the next / previous match",
        ),
        Command::new(&[Esc], "Esc", "back, keeping what you typed")
            .footer_if(browsing, "Esc", "back"),
    ]
}

/// Everything: what cannot run on this machine, the plan's findings, Kubespray's.
pub(crate) fn findings(m: &Model) -> Vec<Finding> {
    let mut out = m.machine_findings();
    out.extend(
        m.plan_findings()
            .into_iter()
            .chain(m.review.kubespray.iter().cloned())
            .filter(|f| f.severity != Severity::Info),
    );
    out
}

/// The current tab's rows as plain text, wrapped as the view draws them, so a jump or a
/// search lands on the row the operator sees.
fn rows(m: &Model) -> Vec<String> {
    let [_, body, _] = areas(crate::tui::view::body_inner(m));
    content(m, &review_findings(m), body.width as usize)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect()
}

/// The first row after `from` (wrapping around, `from` itself last) that `is` accepts,
/// going forward or backward.
fn find_row(
    rows: &[String],
    from: usize,
    forward: bool,
    is: impl Fn(&str) -> bool,
) -> Option<usize> {
    let n = rows.len();
    (1..=n)
        .map(|k| {
            if forward {
                (from + k) % n
            } else {
                (from + n - k % n) % n
            }
        })
        .find(|&i| is(&rows[i]))
}

/// A stage-on-host section of the Commands tab starts with this.
const SECTION: &str = "── ";

/// Scrolls to the next (or previous) row `is` accepts; says so when there is none.
fn jump(m: &mut Model, forward: bool, from_current: bool, is: impl Fn(&str) -> bool, none: String) {
    let rows = rows(m);
    if rows.is_empty() {
        return;
    }
    let at = (m.review.scroll as usize).min(rows.len() - 1);
    // A new search may match the row already at the top; `n` goes past it.
    let from = if from_current {
        (at + rows.len() - 1) % rows.len()
    } else {
        at
    };
    match find_row(&rows, from, forward, is) {
        Some(i) => m.review.scroll = u16::try_from(i).unwrap_or(u16::MAX),
        None => m.status = Some(none),
    }
}

fn search(m: &mut Model, forward: bool, from_current: bool) {
    let query = m.review.query.to_lowercase();
    if query.is_empty() {
        m.status = Some(text::REVIEW_SEARCH_FIRST.into());
        return;
    }
    let none = text::review_not_found(&m.review.query);
    jump(
        m,
        forward,
        from_current,
        |row| row.to_lowercase().contains(&query),
        none,
    );
}

pub(crate) fn key_review(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    if let Some(input) = m.review.search.as_mut() {
        if key.code == KeyCode::Esc {
            m.review.search = None;
        } else if key.code == KeyCode::Enter {
            let query = input.value().trim().to_string();
            m.review.search = None;
            if !query.is_empty() {
                m.review.query = query;
                search(m, true, true);
            }
        } else {
            handle_input(input, key);
        }
        clamp_review_scroll(m);
        return None;
    }
    match key.code {
        KeyCode::Esc => return back(m),
        KeyCode::Char('/') => m.review.search = Some(tui_input::Input::default()),
        KeyCode::Char('n') => search(m, true, false),
        KeyCode::Char('N') => search(m, false, false),
        KeyCode::Char(c @ (']' | '[')) if m.review.tab == ReviewTab::Commands => jump(
            m,
            c == ']',
            false,
            |row| row.starts_with(SECTION),
            text::REVIEW_NO_SECTION.into(),
        ),
        _ => return key_review_rest(m, key),
    }
    clamp_review_scroll(m);
    None
}

fn key_review_rest(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let r = &mut m.review;
    match key.code {
        KeyCode::Tab | KeyCode::Right => {
            r.tab = cycle(&ReviewTab::ALL, r.tab);
            r.scroll = 0;
        }
        KeyCode::BackTab | KeyCode::Left => {
            r.tab = cycle(
                &[ReviewTab::Commands, ReviewTab::Files, ReviewTab::Findings],
                r.tab,
            );
            r.scroll = 0;
        }
        KeyCode::Up => r.scroll = r.scroll.saturating_sub(1),
        KeyCode::Down => r.scroll = r.scroll.saturating_add(1),
        KeyCode::PageUp => r.scroll = r.scroll.saturating_sub(10),
        KeyCode::PageDown => r.scroll = r.scroll.saturating_add(10),
        KeyCode::Home => r.scroll = 0,
        // As far as there is to scroll: clamp_review_scroll below stops at the last row.
        KeyCode::End => r.scroll = u16::MAX,
        KeyCode::Char('e') if r.tab == ReviewTab::Commands => r.expand = !r.expand,
        KeyCode::Char('s') => {
            let default = m
                .plan_path
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.yaml", m.plan.cluster.name)));
            m.popup = Some(Popup::SavePath(input(&default.display().to_string())));
        }
        KeyCode::Enter => {
            // Blocked by an error: go where it can be fixed instead of only saying so.
            let first_error = m
                .findings()
                .into_iter()
                .find(|f| f.severity == Severity::Error);
            if let Some(f) = first_error
                && go_to(m, &f.path)
            {
                m.status = Some(format!("{}: {}", text::FIX_HERE, f.message));
                return None;
            }
            // A Kubespray tree to make ready first: offered, with what it will run.
            if crate::tui::prepare::offer(m) {
                return None;
            }
            return next(m);
        }
        _ => {}
    }
    clamp_review_scroll(m);
    None
}

/// Moves to the step (and field, host) a finding's plan path names. False when no screen
/// edits that part of the plan.
pub(crate) fn go_to(m: &mut Model, path: &str) -> bool {
    let host = path
        .strip_prefix("hosts[")
        .and_then(|r| r.split(']').next())
        .and_then(|i| i.parse::<usize>().ok());
    // Access edits the cluster name and the login; nothing else of `cluster.` (the
    // Kubespray tree and release are the plan file's).
    let access_field = match path {
        "cluster.name" => Some(0),
        "access.user" => Some(1),
        "access.port" => Some(2),
        "access.identity" => Some(3),
        _ => None,
    };
    let step = if let Some(focus) = access_field {
        m.access.focus = focus;
        Step::Access
    } else if path.contains(".storage") {
        if let Some(i) = host {
            // As Tab does when it changes host: the draft's disks were another host's.
            m.storage.host = i.min(m.plan.hosts.len().saturating_sub(1));
            m.storage.cursor = 0;
            m.storage.selected.clear();
            m.storage.wipe.clear();
        }
        Step::Storage
    } else if path == "hosts" || path.ends_with(".roles") {
        if let Some(i) = host {
            m.roles_cursor.0 = i;
        }
        Step::Roles
    } else if path.starts_with("hosts") {
        Step::Hosts
    } else if let Some(field) = path.strip_prefix("network.") {
        let wanted = if field.starts_with("load_balancer") {
            if field.ends_with(".name") {
                NetField::PoolName
            } else {
                NetField::PoolAddresses
            }
        } else if field.starts_with("service_cidr") {
            NetField::ServiceCidr
        } else if field.starts_with("pod_cidr") {
            NetField::PodCidr
        } else if field.starts_with("node_prefix") {
            NetField::NodePrefix
        } else if field.starts_with("upstream_dns") {
            NetField::UpstreamDns
        } else if field.contains("mtu") {
            NetField::Mtu
        } else if field.starts_with("vip") {
            NetField::Vip
        } else {
            m.network.focus
        };
        m.network.focus = wanted;
        Step::Network
    } else {
        return false;
    };
    m.step = step;
    true
}

/// Review scrolls no further than its last row (the same height the view draws with).
pub(crate) fn clamp_review_scroll(m: &mut Model) {
    if m.step == Step::Review {
        m.review.scroll = m.review.scroll.min(max_scroll(m));
    }
}
