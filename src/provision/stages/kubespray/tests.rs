//! The Kubespray stage's command lines: limits, the facts run first, strict host key checking.

use super::*;

fn plan(port: u16) -> Plan {
    serde_yaml::from_str(&format!(
        "version: 1\ncluster: {{name: c, kubespray: {{path: ~/ks}}}}\n\
         access: {{user: root, port: {port}, identity: ~/.ssh/id}}\nhosts:\n\
         \x20 - {{name: a, address: 10.0.0.1, roles: [control_plane, etcd, worker]}}\n\
         \x20 - {{name: b, address: 10.0.0.2, roles: [worker]}}\n"
    ))
    .expect("plan")
}

#[test]
fn selected_hosts_become_a_limit_only_when_not_all() {
    let p = plan(22);
    assert_eq!(limit_of(&p, &[]), Vec::<String>::new());
    assert_eq!(
        limit_of(&p, &["a".to_string(), "b".to_string()]),
        Vec::<String>::new()
    );
    assert_eq!(limit_of(&p, &["b".to_string()]), ["b"]);
    let words = playbook_command(&p, false, &limit_of(&p, &["b".to_string()]));
    assert_eq!(words[words.len() - 2], "--limit=b");
    assert_eq!(words[words.len() - 1], "cluster.yml");
    assert!(
        !playbook_command(&p, false, &[])
            .iter()
            .any(|w| w.starts_with("--limit"))
    );
    // A limited run gathers every host's facts first, as Kubespray asks.
    let cmds = commands(&p, true, None, &["b".to_string()]).expect("commands");
    let n = cmds.len();
    assert!(
        cmds[n - 2]
            .shell
            .ends_with("--private-key=~/.ssh/id playbooks/facts.yml"),
        "{}",
        cmds[n - 2].shell
    );
    assert!(cmds[n - 1].shell.ends_with("--limit=b cluster.yml"));
    let cmds = commands(&p, true, None, &[]).expect("commands");
    assert!(!cmds.iter().any(|c| c.shell.contains("facts.yml")));
}

#[test]
fn ansible_runs_with_strict_checking_against_the_pins_only() {
    let env = host_key_env("/k s/.known_hosts");
    assert_eq!(env[0], ("ANSIBLE_HOST_KEY_CHECKING", "True".to_string()));
    assert_eq!(env[1].0, "ANSIBLE_SSH_ARGS");
    let args = shlex::split(&env[1].1).expect("ssh args split like Ansible does");
    assert!(args.contains(&"UserKnownHostsFile=/k s/.known_hosts".to_string()));
    assert!(args.contains(&"StrictHostKeyChecking=yes".to_string()));
    assert!(args.contains(&"GlobalKnownHostsFile=/dev/null".to_string()));
    let line = commands(&plan(22), true, None, &[])
        .expect("commands")
        .pop()
        .expect("playbook line")
        .shell;
    let words = shlex::split(&line).expect("a shell line");
    assert_eq!(words[0], "ANSIBLE_HOST_KEY_CHECKING=True");
    assert!(words[1].starts_with("ANSIBLE_SSH_ARGS=-o ControlMaster=auto"));
    assert!(words[1].contains("UserKnownHostsFile=~/ks/inventory/c/.known_hosts"));
    assert_eq!(words[2], "ansible-playbook");
}
