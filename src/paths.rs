//! Paths as a plan writes them. A plan names files the way an operator types them
//! (`~/.ssh/id_ed25519`, `~/kubespray`); this is the one place `~` becomes the home directory.

use std::path::PathBuf;

/// `~/x` (and `~` alone) -> the home directory joined with `x`; every other path, and every
/// path when the home directory is unknown, as it is.
pub fn expand_home(path: &str) -> PathBuf {
    let rest = match path.strip_prefix("~/") {
        Some(rest) => rest,
        None if path == "~" => "",
        None => return PathBuf::from(path),
    };
    match std::env::home_dir() {
        Some(home) if rest.is_empty() => home,
        Some(home) => home.join(rest),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_tilde_is_the_home_directory() {
        let Some(home) = std::env::home_dir() else {
            return;
        };
        assert_eq!(expand_home("~/kubespray"), home.join("kubespray"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(
            expand_home("/opt/kubespray"),
            PathBuf::from("/opt/kubespray")
        );
        assert_eq!(expand_home("a/~/b"), PathBuf::from("a/~/b"));
        assert_eq!(expand_home("~user/x"), PathBuf::from("~user/x"));
    }
}
