//! Who may import whom (docs/architecture.md), checked on the source text the way anyone
//! can check it with `grep`: the wizard and the CLI are the top; nothing below them imports
//! the wizard, and the provisioning machinery knows stages only through the stage list.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `src/<file>:<line>: <text>` for every line of `files` containing one of `needles`
/// (ignoring case).
fn hits(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let needles: Vec<String> = needles.iter().map(|n| n.to_lowercase()).collect();
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            if needles.iter().any(|n| lower.contains(n.as_str())) {
                let rel = f.strip_prefix(src()).unwrap_or(f);
                out.push(format!("src/{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    out
}

#[test]
fn only_the_wizard_and_the_cli_import_the_wizard() {
    let files: Vec<PathBuf> = rust_files(&src())
        .into_iter()
        .filter(|f| !f.starts_with(src().join("tui")) && !f.starts_with(src().join("cli")))
        .collect();
    assert!(files.len() > 20, "found only {} files", files.len());
    let found = hits(&files, &["crate::tui", "super::tui", "rackstrap::tui"]);
    assert!(
        found.is_empty(),
        "imports of the wizard:\n{}",
        found.join("\n")
    );
}

/// The stage modules, as the stage list's rows declare them
/// (`Preflight => preflight::Preflight, "preflight", "Preflight";` ...).
fn stage_modules() -> Vec<String> {
    let list = fs::read_to_string(src().join("provision/stages/mod.rs")).unwrap();
    let names: Vec<String> = list
        .lines()
        .filter(|l| l.trim_end().ends_with("\";"))
        .filter_map(|l| l.split_once(" => "))
        .filter_map(|(_, rest)| rest.split_once("::"))
        .map(|(module, _)| module.trim().to_string())
        .collect();
    assert!(names.len() >= 6, "stage modules: {names:?}");
    names
}

#[test]
fn provisioning_knows_stages_only_through_the_stage_list() {
    let stages_dir = src().join("provision/stages");
    let files: Vec<PathBuf> = rust_files(&src().join("provision"))
        .into_iter()
        .filter(|f| !f.starts_with(&stages_dir))
        .collect();
    assert!(files.iter().any(|f| f.ends_with("runner.rs")));
    let mut needles: Vec<String> = stage_modules()
        .iter()
        .map(|m| format!("stages::{m}"))
        .collect();
    needles.push("stages::*".into());
    needles.push("stages::{".into());
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    let found = hits(&files, &needles);
    assert!(
        found.is_empty(),
        "provision/ modules naming a stage module (go through stages::all/stage and the Stage trait):\n{}",
        found.join("\n")
    );
}

#[test]
fn comments_cite_what_a_reader_can_open() {
    let found = hits(
        &rust_files(&src()),
        &["seed 00", "seed00", "seed_00", "DESIGN.md"],
    );
    assert!(
        found.is_empty(),
        "comments citing sources that are not in the repository:\n{}",
        found.join("\n")
    );
}

/// The layers of docs/architecture.md, lowest first. A module may use only modules on a lower
/// layer: nothing imports upward and nothing imports in a circle. A new top-level module must
/// be given its layer here (and in docs/architecture.md) before the test passes.
const LAYERS: &[(&str, u8)] = &[
    ("net", 0),
    ("paths", 0),
    ("text", 0),
    ("ssh", 1),
    ("facts", 2),
    ("cluster", 3),
    ("plan", 3),
    ("discover", 3),
    ("render", 4),
    ("kubespray", 5),
    ("provision", 6),
    ("recovery", 7),
    ("lab", 8),
    ("tui", 9),
    ("cli", 10),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level modules `src/lib.rs` declares.
fn top_modules() -> Vec<String> {
    let lib = fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect()
}

#[test]
fn imports_run_downward_only() {
    let modules = top_modules();
    assert!(modules.len() >= 10, "lib.rs declares only {modules:?}");
    let mut problems = Vec::new();
    for m in &modules {
        let Some(own) = layer(m) else {
            problems.push(format!(
                "{m}: no layer (add it to LAYERS and docs/architecture.md)"
            ));
            continue;
        };
        let dir = src().join(m);
        let files = if dir.is_dir() {
            rust_files(&dir)
        } else {
            vec![src().join(format!("{m}.rs"))]
        };
        for f in files {
            let text = fs::read_to_string(&f).unwrap();
            for (i, line) in text.lines().enumerate() {
                for (pos, _) in line.match_indices("crate::") {
                    let used: String = line[pos + 7..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if used == *m || !modules.contains(&used) {
                        continue;
                    }
                    if layer(&used).is_none_or(|l| l >= own) {
                        let rel = f.strip_prefix(src()).unwrap_or(&f);
                        problems.push(format!(
                            "src/{}:{}: {m} (layer {own}) uses {used} (layer {:?}): {}",
                            rel.display(),
                            i + 1,
                            layer(&used),
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "imports against the layers:\n{}",
        problems.join("\n")
    );
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` and `.md` file under `dir`.
fn text_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `<file>:<line>: <text>` for every line of `files` containing one of `needles`.
fn lines_with(files: &[PathBuf], needles: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let text = fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if needles.iter().any(|n| line.contains(n)) {
                let rel = f.strip_prefix(root()).unwrap_or(f);
                out.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    out
}

/// Tests and docs cite what a reader of the repository can open: no documents the
/// repository lacks, no paths of one machine.
#[test]
fn tests_and_docs_cite_what_a_reader_can_open() {
    let mut files = text_files(&root().join("tests"));
    files.extend(text_files(&root().join("docs")));
    files.push(root().join("README.md"));
    // This file names the needles.
    files.retain(|f| !f.ends_with("tests/architecture.rs"));
    assert!(files.len() > 20, "found only {} files", files.len());
    let found = lines_with(
        &files,
        &[
            "seed 00",
            "seed00",
            "seed_00",
            "DESIGN.md",
            "STYLE.md",
            "/work/",
        ],
    );
    assert!(
        found.is_empty(),
        "references to documents the repository lacks:\n{}",
        found.join("\n")
    );
}

/// The relative links of the docs pages and the README lead to files of the repository.
#[test]
fn docs_links_lead_to_files_that_exist() {
    let mut pages = text_files(&root().join("docs"));
    pages.push(root().join("README.md"));
    let mut missing = Vec::new();
    for page in pages
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = fs::read_to_string(page).unwrap();
        for (i, line) in text.lines().enumerate() {
            for (pos, _) in line.match_indices("](") {
                let target: String = line[pos + 2..].chars().take_while(|c| *c != ')').collect();
                let target = target.split('#').next().unwrap_or("");
                // Only what reads as a path: not a URL, not a pattern in code.
                if target.is_empty()
                    || target.contains("://")
                    || target.starts_with("mailto:")
                    || target.contains(['[', ']', '*', ' ', '`'])
                {
                    continue;
                }
                let dir = page.parent().unwrap();
                if !dir.join(target).exists() {
                    let rel = page.strip_prefix(root()).unwrap_or(page);
                    missing.push(format!("{}:{}: {target}", rel.display(), i + 1));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "links to files the repository lacks:\n{}",
        missing.join("\n")
    );
}

/// The longest a non-test source file may be, in lines.
const MAX_FILE_LINES: usize = 700;
/// The longest a function may be, in lines.
const MAX_FN_LINES: usize = 150;

/// Whether `line` (trimmed) starts a function: `fn`, with any of `pub(...)`, `const`,
/// `async`, `unsafe` before it.
fn starts_fn(line: &str) -> bool {
    let mut rest = line.trim_start();
    loop {
        let before = rest;
        for prefix in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest);
        }
        if rest == before {
            break;
        }
    }
    rest.starts_with("fn ")
}

/// `(name line, length)` of every function of `text` with a body, measured from its `fn` line
/// to the closing brace at the same indentation (the layout rustfmt gives).
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !starts_fn(line) {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        // A declaration without a body ends with `;` before any `{`.
        let mut j = i;
        while j < lines.len() && !lines[j].contains('{') && !lines[j].trim_end().ends_with(';') {
            j += 1;
        }
        if j >= lines.len() || !lines[j].contains('{') {
            continue;
        }
        if lines[j].trim_end().ends_with('}') && j == i {
            continue;
        }
        if let Some(end) = (j..lines.len()).find(|&k| lines[k] == close) {
            out.push((line.trim().to_string(), end - i + 1));
        }
    }
    out
}

/// Source files outside tests: their test modules are `tests.rs` files beside them.
fn source_files() -> Vec<PathBuf> {
    rust_files(&src())
        .into_iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .collect()
}

/// Rooms a newcomer can find: no source file over [`MAX_FILE_LINES`] lines, no function over
/// [`MAX_FN_LINES`] (an inline test module counts with its file; large ones move to a
/// `tests.rs` beside it).
#[test]
fn no_file_over_700_lines_and_no_function_over_150() {
    let mut problems = Vec::new();
    for f in source_files() {
        let text = fs::read_to_string(&f).unwrap();
        let rel = f.strip_prefix(src()).unwrap_or(&f).display().to_string();
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            problems.push(format!("src/{rel}: {n} lines"));
        }
        // Functions of the non-test part only.
        let code = text.split("\n#[cfg(test)]").next().unwrap_or("");
        for (name, len) in functions(code) {
            if len > MAX_FN_LINES {
                problems.push(format!("src/{rel}: {len} lines: {name}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "files over {MAX_FILE_LINES} lines or functions over {MAX_FN_LINES}:\n{}",
        problems.join("\n")
    );
}

/// The measure itself: a function is counted from `fn` to its closing brace, declarations
/// without a body are not functions.
#[test]
fn functions_are_measured_from_fn_to_the_closing_brace() {
    let text = "pub async fn a(\n    x: u8,\n) -> u8 {\n    x\n}\n\ntrait T {\n    fn b(&self);\n    fn c(&self) {}\n}\n\nimpl S {\n    pub(crate) fn d(&self) {\n        if true {\n        }\n    }\n}\n";
    assert_eq!(
        functions(text),
        [
            ("pub async fn a(".to_string(), 5),
            ("pub(crate) fn d(&self) {".to_string(), 4)
        ]
    );
}
