//! The real Kubespray releases for tests: the release archives (`git archive` of each tag) in
//! `$RACKSTRAP_KUBESPRAY_ARCHIVES` or `../shared/kubespray` beside the project, unpacked once
//! into `target/kubespray-trees/<tag>`, and each release's Ansible (its `requirements.txt`) in
//! a virtualenv per `ansible` pin under `target/ansible-venvs/ansible-<version>`, made on first
//! use (tests/ci.sh makes them up front). Without the archives the tests say so and pass,
//! except with `CI` set, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rackstrap::kubespray::{self, Release};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// The folder of release archives, or `None` (said on stderr) when this machine has none.
pub fn archives() -> Option<PathBuf> {
    let dir = std::env::var_os("RACKSTRAP_KUBESPRAY_ARCHIVES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/kubespray"));
    if dir
        .join(format!("kubespray-{}.tar.gz", kubespray::DEFAULT_TAG))
        .is_file()
    {
        return Some(dir);
    }
    let why = format!(
        "no Kubespray release archives in {} (set RACKSTRAP_KUBESPRAY_ARCHIVES to a folder of \
         kubespray-<tag>.tar.gz)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}; CI must not skip these tests");
    }
    eprintln!("SKIPPED: {why}");
    None
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The unpacked tree of `tag` (shared, read-only by convention).
pub fn tree(archives: &Path, tag: &str) -> PathBuf {
    let trees = target().join("kubespray-trees");
    let dir = trees.join(tag);
    if dir.join("cluster.yml").is_file() {
        return dir;
    }
    std::fs::create_dir_all(&trees).expect("mkdir");
    let tmp = tempfile::tempdir_in(&trees).expect("tmp");
    run(Command::new("tar")
        .arg("xzf")
        .arg(archives.join(format!("kubespray-{tag}.tar.gz")))
        .arg("-C")
        .arg(tmp.path()));
    // Another test process may have won the race; either tree is the same.
    let _ = std::fs::rename(tmp.path().join(format!("kubespray-{tag}")), &dir);
    assert!(dir.join("cluster.yml").is_file(), "{}", dir.display());
    dir
}

/// The virtualenv with `release`'s pinned `ansible` package, made on first use (under a
/// lock: a virtualenv cannot be moved once made). `.ready` marks a finished one; tests/ci.sh
/// makes them the same way.
pub fn venv(archives: &Path, release: &Release) -> PathBuf {
    let venvs = target().join("ansible-venvs");
    let dir = venvs.join(release.ansible_package.replace("==", "-"));
    if dir.join(".ready").is_file() {
        return dir;
    }
    std::fs::create_dir_all(&venvs).expect("mkdir");
    let lock = std::fs::File::create(venvs.join(".lock")).expect("lock file");
    // SAFETY: flock on a file descriptor this function owns; released when `lock` drops.
    let locked = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    assert_eq!(locked, 0, "flock");
    if !dir.join(".ready").is_file() {
        let requirements = tree(archives, release.tag).join("requirements.txt");
        let _ = std::fs::remove_dir_all(&dir);
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir));
        run(Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements));
        std::fs::write(dir.join(".ready"), release.ansible_package).expect("mark");
    }
    dir
}

/// A private view of `tag`'s tree: every top-level entry a symlink into the shared tree,
/// except a real `inventory/` (holding a symlink to `sample`) and `venv` -> `venv_dir`.
pub fn overlay(archives: &Path, tag: &str, venv_dir: &Path) -> tempfile::TempDir {
    let shared = tree(archives, tag);
    let tmp = tempfile::tempdir().expect("tmp");
    for entry in std::fs::read_dir(&shared).expect("read tree") {
        let name = entry.expect("entry").file_name();
        if name == "inventory" {
            continue;
        }
        std::os::unix::fs::symlink(shared.join(&name), tmp.path().join(&name)).expect("link");
    }
    std::fs::create_dir(tmp.path().join("inventory")).expect("mkdir");
    std::os::unix::fs::symlink(
        shared.join("inventory/sample"),
        tmp.path().join("inventory/sample"),
    )
    .expect("link");
    std::os::unix::fs::symlink(venv_dir, tmp.path().join("venv")).expect("link");
    tmp
}

/// Runs `check` for every row of the release table, each on a thread of its own (a release
/// takes seconds and mostly waits on its Ansible), then fails naming each release that failed
/// (their panics are printed as they happen). A new release is a new row, nothing here.
pub fn for_each_release(check: impl Fn(&'static Release) + Sync) {
    let failed: Vec<&str> = std::thread::scope(|s| {
        let running: Vec<_> = kubespray::RELEASES
            .iter()
            .map(|r| (r.tag, s.spawn(|| check(r))))
            .collect();
        running
            .into_iter()
            .filter_map(|(tag, t)| t.join().is_err().then_some(tag))
            .collect()
    });
    assert!(failed.is_empty(), "failed for {failed:?} (see above)");
}
