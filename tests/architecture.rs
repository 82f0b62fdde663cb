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

/// The stage modules, as the stage list declares them (`pub mod preflight;` ...).
fn stage_modules() -> Vec<String> {
    let list = fs::read_to_string(src().join("provision/stages/mod.rs")).unwrap();
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_string)
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
