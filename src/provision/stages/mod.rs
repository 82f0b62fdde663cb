//! The stage list: one module per stage (docs/provisioning.md), and the only place that
//! names them. Everything else reaches a stage through `stage::Stage`.
//!
//! A stage is its module plus one row of [`stage_list!`] below: the row declares the module,
//! the stage's identity ([`StageId`], its command-line name and title) and its value, in run
//! order. `StageId::ALL`, the Provision grid's columns and keys, the help and the demo labs'
//! scripts all follow this list.

/// Declares each stage once: `Variant => module::Value, "name", "Title";`, in run order.
macro_rules! stage_list {
    ($($variant:ident => $module:ident :: $value:ident, $name:literal, $title:literal;)+) => {
        $(pub mod $module;)+

        /// The provisioning stages, in the order they run (declared once, in the stage list).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "kebab-case")]
        pub enum StageId {
            $($variant,)+
        }

        /// Each stage once, in run order, with its command-line name and its title.
        pub(crate) const STAGES: &[(StageId, &str, &str)] = &[
            $((StageId::$variant, $name, $title),)+
        ];

        /// The stage value for an id.
        pub fn stage(id: StageId) -> Box<dyn crate::provision::stage::Stage> {
            match id {
                $(StageId::$variant => Box::new($module::$value),)+
            }
        }
    };
}

stage_list! {
    Preflight => preflight::Preflight, "preflight", "Preflight";
    HostPrep => host_prep::HostPrep, "host-prep", "Host prep";
    Storage => storage::Storage, "storage", "Storage";
    Kubespray => kubespray::KubesprayStage, "kubespray", "Kubespray";
    Verify => verify::Verify, "verify", "Verify";
    LoadBalancer => load_balancer::LoadBalancer, "load-balancer", "Load balancer";
}

/// The stages in their run order, each once.
pub fn all() -> Vec<Box<dyn crate::provision::stage::Stage>> {
    StageId::ALL.into_iter().map(stage).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::stage::Scope;

    #[test]
    fn the_list_holds_each_stage_once_in_run_order() {
        let ids: Vec<StageId> = all().iter().map(|s| s.id()).collect();
        assert_eq!(ids, StageId::ALL.to_vec());
    }

    /// The runner logs a cluster-scoped stage's own output under its pane, so each such
    /// stage must name one, and only those do.
    #[test]
    fn cluster_scoped_stages_and_only_those_have_a_pane() {
        for st in all() {
            assert_eq!(
                st.scope() == Scope::Cluster,
                st.pane().is_some(),
                "{}",
                st.id()
            );
        }
        assert_eq!(
            stage(StageId::Kubespray).pane(),
            Some(kubespray::ANSIBLE_PANE)
        );
    }

    #[tokio::test]
    async fn a_host_stage_refuses_to_run_for_the_whole_cluster() {
        let plan = crate::plan::Plan::new("c");
        let host = crate::plan::Host {
            name: "n1".into(),
            address: "127.0.0.1".into(),
            roles: vec![],
            labels: Default::default(),
            storage: vec![],
            etcd_member_name: None,
        };
        let hosts = [&host];
        let per_host = std::collections::BTreeMap::new();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let mut pane = crate::provision::log::StepLog::new("local", StageId::Preflight, tx, None);
        let ctx = crate::provision::stage::ClusterCtx {
            plan: &plan,
            hosts: &hosts,
            selected: &[],
            dry_run: true,
            known_hosts: None,
            per_host: &per_host,
            stall: &Default::default(),
        };
        let results = stage(StageId::Preflight).run_cluster(ctx, &mut pane).await;
        assert!(matches!(results.get("n1"), Some(Err(_))));
    }
}
