//! The runner's command line as shown and as run, and the colours a terminal shows.

use super::*;

fn tree_with_venv() -> (tempfile::TempDir, Tree) {
    let dir = tempfile::tempdir().expect("tmp");
    let bin = dir.path().join("venv/bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::fs::write(bin.join("ansible-playbook"), "").expect("write");
    let tree = Tree::new(dir.path());
    (dir, tree)
}

#[test]
fn the_shown_line_is_what_an_operator_types_and_the_run_resolves_it() {
    let a = Ansible {
        words: vec![
            "ansible-playbook".into(),
            "-i".into(),
            "inventory/c/hosts.yaml".into(),
            "--private-key=~/.ssh/my key".into(),
            "cluster.yml".into(),
        ],
        known_hosts: Some("~/ks/inventory/c/.known_hosts".into()),
        fact_cache: Some("~/ks/inventory/c/.facts".into()),
    };
    let words = shlex::split(&a.shown()).expect("a shell line");
    assert_eq!(words[0], "ANSIBLE_HOST_KEY_CHECKING=True");
    assert!(words[1].starts_with("ANSIBLE_SSH_ARGS=-o ControlMaster=auto"));
    assert!(words[1].contains("UserKnownHostsFile=~/ks/inventory/c/.known_hosts"));
    assert_eq!(
        words[2],
        "ANSIBLE_CACHE_PLUGIN_CONNECTION=~/ks/inventory/c/.facts"
    );
    assert_eq!(words[3], "ansible-playbook");
    assert!(
        a.shown().contains("--private-key=~/'.ssh/my key'"),
        "{}",
        a.shown()
    );
    assert_eq!(a.program(), "ansible-playbook");

    let (dir, tree) = tree_with_venv();
    let argv = a.argv(&tree);
    assert_eq!(
        argv[0],
        dir.path()
            .join("venv/bin/ansible-playbook")
            .display()
            .to_string()
    );
    assert!(!argv[3].contains('~'), "{}", argv[3]);
    let env = a.env(&tree);
    let get = |k: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("ANSIBLE_NOCOLOR").as_deref(), Some("True"));
    assert_eq!(
        get("ANSIBLE_CALLBACK_FORMAT_PRETTY").as_deref(),
        Some("false")
    );
    assert_eq!(get("ANSIBLE_HOST_KEY_CHECKING").as_deref(), Some("True"));
    let ssh = get("ANSIBLE_SSH_ARGS").expect("ssh args");
    assert!(
        !ssh.contains('~') && ssh.contains("StrictHostKeyChecking=yes"),
        "{ssh}"
    );
    assert!(get("VIRTUAL_ENV").is_some());
    assert!(get(FACT_CACHE_ENV).is_some_and(|c| c.starts_with('/')));
}

#[test]
fn a_run_that_contacts_no_host_shows_no_host_key_settings() {
    let a = Ansible::new(
        vec![
            "venv/bin/ansible-playbook".into(),
            "-i".into(),
            "inventory/c/hosts.yaml".into(),
        ],
        None,
    );
    assert_eq!(
        a.shown(),
        "venv/bin/ansible-playbook -i inventory/c/hosts.yaml"
    );
    let (dir, tree) = tree_with_venv();
    assert_eq!(
        a.argv(&tree)[0],
        dir.path()
            .join("venv/bin/ansible-playbook")
            .display()
            .to_string()
    );
    assert!(!a.env(&tree).iter().any(|(k, _)| k == "ANSIBLE_SSH_ARGS"));
}

#[test]
fn lines_get_ansibles_colours_only_when_painted() {
    assert_eq!(colour_of("ok: [node1]"), Some("32"));
    assert_eq!(
        colour_of("changed: [node1] => {\"changed\": true}"),
        Some("33")
    );
    assert_eq!(colour_of("skipping: [node2]"), Some("36"));
    assert_eq!(colour_of("fatal: [node2]: FAILED! => {}"), Some("31"));
    assert_eq!(
        colour_of("node1   : ok=3 changed=0 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0"),
        Some("32")
    );
    assert_eq!(
        colour_of("node2   : ok=3 changed=1 unreachable=0 failed=1 skipped=1 rescued=0 ignored=0"),
        Some("31")
    );
    assert_eq!(colour_of("TASK [Say ok] ****"), None);
    assert_eq!(paint("ok: [a]"), "\u{1b}[32mok: [a]\u{1b}[0m");
    assert_eq!(paint("PLAY [x] ***"), "PLAY [x] ***");
}
