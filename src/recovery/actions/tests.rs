use super::*;
use crate::recovery::drift::HostDrift;

/// node3 offers a new key: any action on node4 is refused, and the refusal says how to
/// confirm the key where the action was chosen.
#[test]
fn a_changed_key_elsewhere_refuses_and_says_how_to_confirm_it_here() {
    let plan = crate::plan::from_yaml(
        "version: 1\ncluster: {name: prod, kubespray: {version: v2.31.0}}\nhosts:\n\
         \x20 - {name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}\n\
         \x20 - {name: node3, address: 10.0.10.3, roles: [worker]}\n\
         \x20 - {name: node4, address: 10.0.10.4, roles: [worker]}\n",
        "test plan",
    )
    .expect("plan");
    let host = |name: &str, states: Vec<Drift>, node: bool| HostDrift {
        name: name.into(),
        address: String::new(),
        roles: Vec::new(),
        states,
        node: Some(node),
        etcd_member_healthy: None,
        action: String::new(),
    };
    let report = Report {
        cluster_name: "prod".into(),
        hosts: vec![
            host("node1", Vec::new(), true),
            host(
                "node3",
                vec![Drift::HostKeyChanged {
                    pinned: "SHA256:old".into(),
                    offered: "SHA256:new".into(),
                }],
                true,
            ),
            host("node4", vec![Drift::NotInCluster], false),
        ],
        cluster: Vec::new(),
    };
    let refusal = |standing: &Standing| match prepare(&plan, standing, Kind::Add, "node4")
        .expect("prepared")
        .verdict
    {
        Verdict::Refuse(m) => m,
        v => panic!("not refused: {v:?}"),
    };
    assert_eq!(
        refusal(&Standing::from_report(&report)),
        "node3's host key changed: confirm the new key first \
         (rackstrap drift PLAN --accept-new-key node3)"
    );
    let wizard = Standing::from_report_saying(&report, &|n| format!("select {n} and press k"));
    assert_eq!(
        refusal(&wizard),
        "node3's host key changed: confirm the new key first (select node3 and press k)"
    );
}
