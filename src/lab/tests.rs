use super::*;

#[test]
fn every_builtin_lab_loads() {
    for (name, _) in LABS {
        let lab = Lab::builtin(name).unwrap();
        assert!(!lab.hosts.is_empty(), "{name}");
        assert!(
            !lab.failures.is_empty(),
            "{name}: a scripted failure shows retry"
        );
        let mut pinned = BTreeSet::new();
        let first = lab.answers(&lab.targets, &[], &mut pinned);
        assert!(
            first.iter().all(|(_, d)| d.state != HostState::Ok),
            "{name}: keys are new"
        );
        let all: Vec<String> = lab.hosts.iter().map(|h| h.fingerprint.clone()).collect();
        let again = lab.answers(&lab.targets, &all, &mut pinned);
        assert_eq!(
            again
                .iter()
                .filter(|(_, d)| d.state == HostState::Ok && d.newly_pinned)
                .count(),
            lab.hosts.len(),
            "{name}"
        );
    }
}

/// A stage added to the list needs a script in every built-in lab (or a script made
/// from the plan): a demo run would otherwise show it doing nothing.
#[test]
fn every_builtin_lab_has_a_script_for_every_stage() {
    for (name, _) in LABS {
        let lab = Lab::builtin(name).unwrap();
        let missing: Vec<StageId> = StageId::ALL
            .into_iter()
            .filter(|s| !scripted_from_plan(*s) && !lab.stages.contains_key(s))
            .collect();
        assert!(missing.is_empty(), "{name} has no script for {missing:?}");
    }
}

#[test]
fn sizes_read_like_lsblk() {
    assert_eq!(parse_size("1.5T").unwrap(), 1_649_267_441_664);
    assert!(parse_size("12Q").is_err());
}
