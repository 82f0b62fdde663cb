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

/// Removing one of three etcd members saves a plan `check` rejects (an even count); the
/// action, `check`'s finding and Drift name the way on, and that way works from the saved
/// plan: a new etcd host added to it passes `check` and `node add` prepares its join.
#[test]
fn removing_an_etcd_member_names_the_way_on_and_the_way_on_works() {
    let plan = crate::plan::from_yaml(
        "version: 1\ncluster: {name: prod, kubespray: {version: v2.31.0}}\nhosts:\n\
         \x20 - {name: node1, address: 10.0.10.1, roles: [control_plane, etcd, worker]}\n\
         \x20 - {name: node2, address: 10.0.10.2, roles: [control_plane, etcd, worker]}\n\
         \x20 - {name: node3, address: 10.0.10.3, roles: [control_plane, etcd, worker]}\n",
        "test plan",
    )
    .expect("plan");
    let removed = prepare(&plan, &Standing::default(), Kind::Remove, "node3").expect("prepared");
    assert!(
        matches!(removed.verdict, Verdict::Confirm(_)),
        "{removed:?}"
    );
    let next = removed.next_step("prod.yaml").expect("a next step");
    assert!(
        next.contains("2 etcd members")
            && next.contains("`rackstrap node add prod.yaml NAME`")
            && next.contains("`etcd` role"),
        "{next}"
    );
    let shown = crate::recovery::run::describe_named(&plan, &removed, false, "prod.yaml");
    assert!(shown.contains(&format!("then: {next}")), "{shown}");

    // The saved plan: check names the same step.
    let saved = removed.plan_after.clone();
    let findings = crate::plan::check(&saved, None);
    let even = findings
        .iter()
        .find(|f| f.code == Code::E_EVEN_ETCD)
        .expect("even etcd");
    let hint = even.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("`rackstrap node add PLAN NAME`"), "{hint}");

    // Drift on that cluster names it too.
    let risk = super::super::drift::etcd_risk(2, 2, "prod.yaml").expect("at risk");
    assert!(
        risk.contains("`rackstrap node add prod.yaml NAME`"),
        "{risk}"
    );

    // The way on: a new host with the etcd role, then `node add`.
    let mut grown = saved.clone();
    let mut node4 = saved.hosts[0].clone();
    node4.name = "node4".into();
    node4.address = "10.0.10.4".into();
    node4.roles = vec![Role::Etcd, Role::Worker];
    grown.hosts.push(node4);
    let errors: Vec<_> = crate::plan::check(&grown, None)
        .into_iter()
        .filter(|f| f.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let added = prepare(&grown, &Standing::default(), Kind::Add, "node4").expect("prepared");
    assert!(
        matches!(&added.verdict, Verdict::Go(m) if m.starts_with("adding node4 makes 3 etcd members")),
        "{:?}",
        added.verdict
    );
    assert!(added.next_step("prod.yaml").is_none());
    assert!(
        added.steps.iter().any(|s| s
            .argv
            .iter()
            .any(|a| a == "--limit=etcd,kube_control_plane")),
        "{:?}",
        added.steps
    );
    assert_eq!(added.plan_after.count_role(Role::Etcd), 3);
}
