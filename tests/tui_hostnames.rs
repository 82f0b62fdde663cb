//! The wizard never takes a host's reported name into the plan as it is unless Kubespray
//! accepts it: a hostname with escapes, quotes or `$(...)` becomes `nodeN`.

use rackstrap::discover::{Discovered, HostState};
use rackstrap::facts::HostFacts;
use rackstrap::tui::model::{Mode, Model, Row};

fn row(address: &str, hostname: &str) -> Row {
    Row {
        found: Discovered {
            address: address.into(),
            state: HostState::Ok,
            fingerprint: None,
            newly_pinned: false,
            facts: Some(
                HostFacts {
                    hostname: hostname.into(),
                    ..Default::default()
                }
                .into_printable(),
            ),
            message: String::new(),
        },
        accepted: true,
    }
}

#[test]
fn hostile_hostnames_are_not_offered_as_plan_host_names() {
    let plan = rackstrap::plan::from_yaml("version: 1\ncluster: {name: lab}\n", "t").unwrap();
    let mut m = Model::new(Mode::Live, plan, "");
    m.rows.push(row("10.0.0.1", "lab1\u{1b}]0;owned\u{7}$(id)"));
    m.rows.push(row("10.0.0.2", "worker-2"));
    m.rows.push(row("10.0.0.3", "Web'Server"));
    m.sync_hosts();
    let names: Vec<&str> = m.plan.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["node1", "worker-2", "node3"]);
}
