//! Golden bad plans: each `tests/golden/bad/*.yaml` run through `rackstrap check` gives
//! exactly the text (and exit code) in the `.expected` file next to it. The first line of
//! an `.expected` file is `exit: N`; the rest is what the command printed (stderr for
//! unreadable plans, stdout for findings). `UPDATE_GOLDEN=1` rewrites them.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn bad_plans_give_their_exact_errors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/bad");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut plans: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 20, "only {} bad plans", plans.len());
    let mut failures = Vec::new();
    for plan in &plans {
        let name = plan.file_name().unwrap();
        // Run from the directory with a relative name so the text holds no machine paths.
        let out = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
            .current_dir(&dir)
            .arg("check")
            .arg(name)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let actual = format!(
            "exit: {code}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(code, 0, "{}: a bad plan passed", name.to_string_lossy());
        let expected_path = plan.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                name.to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
