use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::provision::remote::{Connector, OutLines};

/// Hosts whose every command takes a while and counts how many run at the same time.
#[derive(Default)]
struct Slow {
    now: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl Remote for Slow {
    async fn exec(
        &self,
        _command: &str,
        _stdin: Option<Vec<u8>>,
        _on_output: &mut (dyn FnMut(OutLines) + Send),
    ) -> Result<u32, RemoteError> {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(0)
    }
}

struct SameRemote(Arc<Slow>);

#[async_trait]
impl Connector for SameRemote {
    async fn connect(
        &self,
        _host: &Host,
        _access: &crate::plan::Access,
    ) -> Result<Arc<dyn Remote>, RemoteError> {
        Ok(self.0.clone())
    }
}

fn plan(hosts: usize) -> Plan {
    let mut plan = Plan::new("c");
    plan.hosts = (1..=hosts)
        .map(|i| Host {
            name: format!("n{i}"),
            address: format!("10.0.0.{i}"),
            roles: vec![],
            labels: Default::default(),
            storage: vec![],
            etcd_member_name: None,
        })
        .collect();
    plan
}

/// How many hosts had a command running at once during a preflight of `hosts` hosts.
async fn peak(hosts: usize, parallel: Option<usize>) -> usize {
    let slow = Arc::new(Slow::default());
    let mut opts = RunOptions::new(Arc::new(SameRemote(slow.clone())));
    opts.stages = vec![StageId::Preflight];
    if let Some(p) = parallel {
        opts.parallel = p;
    }
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    run(&plan(hosts), opts, tx).await.expect("run");
    slow.peak.load(Ordering::SeqCst)
}

/// By default a stage works on 32 hosts at once (one round, not four of eight), and the
/// bound still holds when it is set lower.
#[tokio::test]
async fn thirty_two_hosts_work_at_once_and_the_bound_holds() {
    assert_eq!(peak(32, None).await, 32);
    assert_eq!(peak(32, Some(5)).await, 5);
}
