//! The simulated demo lab behind `rackstrap demo`.
//!
//! A lab is a YAML file under `assets/labs/` compiled into the binary: the hosts (their
//! facts, in a compact form turned into `HostFacts` here), a few addresses that answer badly,
//! the plan defaults the lab suggests, and per-stage scripts of timed output lines with
//! scripted failures. The wizard asks the lab instead of the network:
//!
//! ```text
//! Effect::Discover ──► Lab::discover ──► Discovered (timed) ──► Msg::Discovered
//! Effect::RunStages ─► LabRunner::run ──► provision::Event (timed) ──► Msg::Provision
//! ```
//!
//! Nothing here opens a connection or touches a file: the demo only pretends.

pub mod recovery;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use color_eyre::eyre::{Context, Result, eyre};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::discover::{Discovered, HostState};
use crate::facts::{BlockDevice, HostFacts, Installed, Interface, OsRelease, Route};
use crate::net::{Entry, parse_entries};
use crate::plan::{Plan, Pool, Profile, Role};
use crate::provision::{Event, EventKind, StageId, StepState};

mod scripts;

pub use scripts::scripted_from_plan;
use scripts::{per_host, storage_script, with_plan_values};

/// The built-in labs, by the name `--lab` takes.
pub const LABS: [(&str, &str); 3] = [
    ("akash", include_str!("../../assets/labs/akash.yaml")),
    ("homelab", include_str!("../../assets/labs/homelab.yaml")),
    ("ais", include_str!("../../assets/labs/ais.yaml")),
];

/// Environment variable that speeds the lab's clock up (2 = twice as fast); tests use it.
pub const SPEED_ENV: &str = "RACKSTRAP_DEMO_SPEED";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    pub name: String,
    pub title: String,
    /// What the Discover screen is prefilled with.
    pub targets: String,
    pub cluster: LabCluster,
    #[serde(default)]
    pub network: LabNetwork,
    pub hosts: Vec<LabHost>,
    #[serde(default)]
    pub others: Vec<LabOther>,
    pub stages: BTreeMap<StageId, Vec<LabLine>>,
    #[serde(default)]
    pub failures: Vec<LabFailure>,
    /// Roles the lab suggests by host name (the operator may change them).
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<Role>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabCluster {
    pub name: String,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabNetwork {
    #[serde(default)]
    pub pools: Vec<Pool>,
    #[serde(default)]
    pub upstream_dns: Vec<String>,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub vip: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabHost {
    pub address: String,
    pub hostname: String,
    pub fingerprint: String,
    /// How long the host takes to answer discovery, in milliseconds at speed 1.
    pub answer_ms: u64,
    pub os: String,
    pub version_id: String,
    pub kernel: String,
    pub cpus: u32,
    pub cpu_model: String,
    pub mem_gib: f64,
    #[serde(default)]
    pub swap_gib: f64,
    #[serde(default = "default_iface")]
    pub iface: String,
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    pub disks: Vec<LabDisk>,
}

fn default_iface() -> String {
    "eno1".into()
}
fn default_mtu() -> u32 {
    crate::net::DEFAULT_MTU
}
fn default_kind() -> String {
    "disk".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabDisk {
    pub name: String,
    /// `lsblk` style size: `1.5T`, `476.9G`.
    pub size: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub rota: bool,
    #[serde(default)]
    pub tran: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub fstype: Option<String>,
    #[serde(default)]
    pub mounts: Vec<String>,
    #[serde(default)]
    pub children: Vec<LabDisk>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabOther {
    pub address: String,
    pub state: HostState,
    pub answer_ms: u64,
    #[serde(default)]
    pub message: String,
}

/// One line of scripted output, printed `ms` milliseconds after the previous one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabLine {
    pub ms: u64,
    pub line: String,
    #[serde(default)]
    pub stderr: bool,
}

/// A stage that fails on a host for its first `attempts` runs, then behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabFailure {
    pub host: String,
    pub stage: StageId,
    pub attempts: u32,
    pub lines: Vec<LabLine>,
    pub message: String,
}

/// Parses an `lsblk` style size (binary units).
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let value: f64 = num.parse().with_context(|| format!("size {text:?}"))?;
    let shift = match unit {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        "P" => 50,
        other => return Err(eyre!("size {text:?}: unknown unit {other:?}")),
    };
    Ok((value * (1u64 << shift) as f64) as u64)
}

impl LabDisk {
    fn to_device(&self) -> Result<BlockDevice> {
        Ok(BlockDevice {
            name: self.name.clone(),
            kind: self.kind.clone(),
            size_bytes: parse_size(&self.size)?,
            rotational: self.rota,
            transport: self.tran.clone(),
            model: self.model.clone(),
            serial: None,
            fstype: self.fstype.clone(),
            uuid: None,
            label: None,
            mountpoints: self.mounts.clone(),
            children: self
                .children
                .iter()
                .map(LabDisk::to_device)
                .collect::<Result<_>>()?,
        })
    }
}

impl LabHost {
    pub fn facts(&self) -> Result<HostFacts> {
        let prefix = 24;
        Ok(HostFacts {
            hostname: self.hostname.clone(),
            os: OsRelease {
                id: self
                    .os
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_lowercase(),
                version_id: self.version_id.clone(),
                pretty_name: self.os.clone(),
            },
            kernel: self.kernel.clone(),
            arch: "x86_64".into(),
            cpus: self.cpus,
            cpu_model: self.cpu_model.clone(),
            mem_bytes: (self.mem_gib * (1u64 << 30) as f64) as u64,
            swap_bytes: (self.swap_gib * (1u64 << 30) as f64) as u64,
            cgroup_v2: true,
            disks: self
                .disks
                .iter()
                .map(LabDisk::to_device)
                .collect::<Result<_>>()?,
            md_arrays: vec![],
            interfaces: vec![Interface {
                name: self.iface.clone(),
                mtu: self.mtu,
                addresses: vec![format!("{}/{prefix}", self.address)],
            }],
            default_route: Some(Route {
                gateway: None,
                interface: self.iface.clone(),
            }),
            time_synced: Some(true),
            installed: Installed::default(),
        })
    }
}

impl Lab {
    /// Loads a built-in lab by name.
    pub fn builtin(name: &str) -> Result<Lab> {
        let (_, text) = LABS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| eyre!("no lab named {name:?} (try akash, homelab or ais)"))?;
        Lab::from_yaml(text).with_context(|| format!("lab {name}"))
    }

    pub fn from_yaml(text: &str) -> Result<Lab> {
        let lab: Lab = serde_yaml::from_str(text)?;
        for h in &lab.hosts {
            h.facts().with_context(|| format!("host {}", h.address))?;
        }
        Ok(lab)
    }

    /// The speed factor from the environment (1 when unset or unreadable).
    pub fn speed_from_env() -> f64 {
        std::env::var(SPEED_ENV)
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .unwrap_or(1.0)
    }

    /// What discovery would report for these targets, in answer order with the delay
    /// (ms at speed 1) after which each answers. As with real hosts, a host whose key is not
    /// in `pinned` answers "unknown host key" with its fingerprint, unless that fingerprint is
    /// in `accept` (the operator confirmed it): then it is pinned and its facts come back.
    pub fn answers(
        &self,
        targets: &str,
        accept: &[String],
        pinned: &mut BTreeSet<String>,
    ) -> Vec<(u64, Discovered)> {
        let entries: Vec<Entry> = parse_entries(targets)
            .map(|v| v.into_iter().map(|(_, e)| e).collect())
            .unwrap_or_default();
        let names: Vec<&str> = targets.split(',').map(str::trim).collect();
        let wanted = |address: &str, hostname: &str| {
            names.contains(&hostname)
                || address
                    .parse::<std::net::IpAddr>()
                    .map(|a| {
                        let (x, _) = Entry::Single(a).bounds();
                        entries.iter().any(|e| {
                            let (lo, hi) = e.bounds();
                            lo <= x && x <= hi
                        })
                    })
                    .unwrap_or(false)
        };
        let mut out = Vec::new();
        for h in &self.hosts {
            if wanted(&h.address, &h.hostname) {
                let known = pinned.contains(&h.address);
                let newly_pinned = !known && accept.contains(&h.fingerprint);
                if newly_pinned {
                    pinned.insert(h.address.clone());
                }
                let found = if known || newly_pinned {
                    Discovered {
                        address: h.address.clone(),
                        state: HostState::Ok,
                        fingerprint: Some(h.fingerprint.clone()),
                        newly_pinned,
                        facts: h.facts().ok(),
                        message: String::new(),
                    }
                } else {
                    Discovered {
                        address: h.address.clone(),
                        state: HostState::UnknownHostKey,
                        fingerprint: Some(h.fingerprint.clone()),
                        newly_pinned: false,
                        facts: None,
                        message: format!("unknown host key {}; accept it to pin it", h.fingerprint),
                    }
                };
                out.push((h.answer_ms, found));
            }
        }
        for o in &self.others {
            if wanted(&o.address, "") {
                out.push((
                    o.answer_ms,
                    Discovered {
                        address: o.address.clone(),
                        state: o.state.clone(),
                        fingerprint: None,
                        newly_pinned: false,
                        facts: None,
                        message: o.message.clone(),
                    },
                ));
            }
        }
        out.sort_by_key(|(ms, _)| *ms);
        out
    }

    /// Plays discovery: each answer is sent when its time comes. `pinned` is the lab's
    /// known_hosts, kept by the caller across scans.
    pub async fn discover(
        &self,
        targets: &str,
        accept: &[String],
        pinned: Arc<Mutex<BTreeSet<String>>>,
        speed: f64,
        tx: UnboundedSender<Discovered>,
    ) {
        let answers = {
            let mut set = match pinned.lock() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            self.answers(targets, accept, &mut set)
        };
        let mut clock = 0;
        for (ms, d) in answers {
            sleep_scaled(ms.saturating_sub(clock), speed).await;
            clock = ms;
            if tx.send(d).is_err() {
                return;
            }
        }
    }

    /// The plan the lab starts from: its cluster name, network defaults and nothing else.
    pub fn seed_plan(&self) -> Plan {
        let mut plan = Plan::new(&self.cluster.name);
        plan.cluster.profile = self.cluster.profile;
        plan.network.load_balancer.pools = self.network.pools.clone();
        plan.network.upstream_dns = self.network.upstream_dns.clone();
        if let Some(mtu) = self.network.mtu {
            plan.network.mtu = mtu;
        }
        plan.network.vip = self.network.vip.clone();
        plan
    }
}

async fn sleep_scaled(ms: u64, speed: f64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_secs_f64(ms as f64 / 1000.0 / speed)).await;
    }
}

/// Plays the provisioning stages of a plan from the lab's scripts.
#[derive(Debug, Clone)]
pub struct LabRunner {
    lab: Arc<Lab>,
    speed: f64,
    attempts: Arc<Mutex<HashMap<(String, StageId), u32>>>,
    /// Steps that finished in an earlier run (a retry does not play them again).
    done: Arc<Mutex<BTreeSet<(String, StageId)>>>,
}

impl LabRunner {
    pub fn new(lab: Arc<Lab>, speed: f64) -> Self {
        Self {
            lab,
            speed,
            attempts: Arc::default(),
            done: Arc::default(),
        }
    }

    /// Runs `from` and every later stage (on the first of them only `hosts`, all when
    /// empty) the way the provisioning runner does: a host that fails a per-host stage
    /// waits from then on while the healthy hosts go on with the per-host stages; the
    /// cluster-wide stages (Kubespray, then verify and load balancer on the cluster) wait
    /// while any host has failed. A step done in an earlier run is not played again.
    pub async fn run(
        &self,
        plan: Plan,
        from: StageId,
        hosts: Vec<String>,
        selection: &crate::provision::Selection,
        tx: UnboundedSender<Event>,
    ) {
        let all: Vec<String> = plan
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .filter(|h| selection.has_host(h))
            .collect();
        // Host -> why its later stages wait.
        let mut blocked: BTreeMap<String, String> = BTreeMap::new();
        for stage in StageId::ALL
            .into_iter()
            .filter(|s| *s >= from && selection.has_stage(*s))
        {
            let targets = if stage == from && !hosts.is_empty() {
                hosts.clone()
            } else {
                all.clone()
            };
            let wait = |host: &str, why: &str| {
                let _ = tx.send(Event {
                    host: host.to_string(),
                    stage,
                    kind: EventKind::Finished {
                        state: StepState::Pending,
                        message: format!("waiting: {why}"),
                    },
                });
            };
            if !per_host(stage)
                && let Some((h, why)) = blocked.iter().next()
            {
                let why = format!("{h}: {why}");
                for t in &targets {
                    wait(t, &why);
                }
                return;
            }
            let mut runs = Vec::new();
            for t in &targets {
                match blocked.get(t) {
                    Some(why) => wait(t, why),
                    None => runs.push(t.clone()),
                }
            }
            let results = futures::future::join_all(
                runs.iter()
                    .map(|h| self.run_one(&plan, stage, h, tx.clone())),
            )
            .await;
            if tx.is_closed() {
                return;
            }
            for (h, ok) in runs.iter().zip(results) {
                if !ok {
                    blocked.insert(h.clone(), format!("{} failed", stage.title()));
                }
            }
        }
    }

    async fn run_one(
        &self,
        plan: &Plan,
        stage: StageId,
        host: &str,
        tx: UnboundedSender<Event>,
    ) -> bool {
        let send = |kind: EventKind| {
            let _ = tx.send(Event {
                host: host.to_string(),
                stage,
                kind,
            });
        };
        let key = (host.to_string(), stage);
        let done_before = match self.done.lock() {
            Ok(d) => d.contains(&key),
            Err(poisoned) => poisoned.into_inner().contains(&key),
        };
        if done_before {
            send(EventKind::Finished {
                state: StepState::Done,
                message: "done in an earlier run".into(),
            });
            return true;
        }
        let planned = plan
            .hosts
            .iter()
            .find(|h| h.name == host)
            .is_some_and(|h| crate::provision::stages::stage(stage).concerns(plan, h));
        if !planned {
            // The runner skips a stage the plan gives nothing to do on this host.
            send(EventKind::Finished {
                state: StepState::Skipped,
                message: "nothing planned for this host".into(),
            });
            return true;
        }
        let attempt = {
            let mut map = match self.attempts.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            let n = map.entry((host.to_string(), stage)).or_insert(0);
            *n += 1;
            *n
        };
        send(EventKind::Started);
        let address = plan
            .hosts
            .iter()
            .find(|h| h.name == host)
            .map(|h| h.address.clone())
            .unwrap_or_default();
        // kubectl's ROLES column: `control-plane` on control planes, `<none>` elsewhere.
        let roles = if plan
            .hosts
            .iter()
            .any(|h| h.name == host && h.roles.contains(&Role::ControlPlane))
        {
            "control-plane"
        } else {
            "<none>"
        };
        let fill = |s: &str| {
            s.replace("{host}", host)
                .replace("{address}", &address)
                .replace("{roles}", roles)
        };
        if let Some(f) = self
            .lab
            .failures
            .iter()
            .find(|f| f.host == host && f.stage == stage && attempt <= f.attempts)
        {
            for l in &f.lines {
                sleep_scaled(l.ms, self.speed).await;
                send(EventKind::Log {
                    lines: fill(&l.line).into(),
                    stderr: l.stderr,
                });
            }
            send(EventKind::Finished {
                state: StepState::Failed,
                message: fill(&f.message),
            });
            return false;
        }
        let lines: Vec<LabLine> = if scripted_from_plan(stage) {
            storage_script(plan, host)
        } else {
            with_plan_values(
                plan,
                self.lab.stages.get(&stage).cloned().unwrap_or_default(),
            )
        };
        let total = lines.iter().filter(|l| l.line.starts_with("TASK")).count() as u32;
        let mut done = 0;
        for l in &lines {
            sleep_scaled(l.ms, self.speed).await;
            if l.line.starts_with("TASK") {
                done += 1;
                send(EventKind::Progress {
                    done,
                    total: Some(total),
                    text: l.line.clone(),
                });
            }
            send(EventKind::Log {
                lines: fill(&l.line).into(),
                stderr: l.stderr,
            });
        }
        let nothing = lines.is_empty();
        match self.done.lock() {
            Ok(mut d) => d.insert(key),
            Err(poisoned) => poisoned.into_inner().insert(key),
        };
        send(EventKind::Finished {
            state: StepState::Done,
            message: if nothing {
                "nothing to do".into()
            } else {
                String::new()
            },
        });
        true
    }
}

#[cfg(test)]
mod tests;
