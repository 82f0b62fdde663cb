//! The wizard's state: everything the screens show, and the messages that change it.
//!
//! `Model` holds the plan being built, the facts gathered, and each screen's own state
//! (`state`: the forms, the discovery table, the layout being built, the log panes). `Msg`
//! is everything that can happen: a key, a resize, a host answering, a stage printing a line,
//! a file saved. `super::update` applies a `Msg` to the model (through the screens' key
//! handlers for keys); drawing (`super::view`) only reads it. Nothing here does IO.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crossterm::event::KeyEvent;
use tui_input::Input;

use super::domain::{self, Finding, Severity};
use super::popups::Popup;
use super::secret::{Masked, Reply};
use super::text;
use crate::discover::{Discovered, HostState};
use crate::facts::{BlockDevice, Facts, HostFacts};
use crate::plan::{Discard, Filesystem, Host, Level, PLAN_VERSION, Plan, Pool, Role};
use crate::provision::{Event, StepState};

mod state;

pub use state::{
    AccessField, AccessForm, DiscoverState, LogPane, NetField, NetworkForm, Problem, ProblemKind,
    ProvisionState, ReviewState, ReviewTab, Row, SCROLLBACK_LINES, StorageState,
};

/// Smallest terminal the frame is laid out for (docs/wizard.md: it works at 80x24 and larger).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Core finding codes each screen shows in its strip (Review shows all).
const ROLE_CODES: [&str; 7] = [
    "E_NO_CONTROL_PLANE",
    "E_NO_WORKER",
    "E_NO_ETCD",
    "E_EVEN_ETCD",
    "W_TWO_CONTROL_PLANES",
    "W_ETCD_OVER_SEVEN",
    "W_HOST_NO_ROLES",
];
const HARDWARE_CODES: [&str; 6] = [
    "E_CPU_BELOW_MIN",
    "E_RAM_BELOW_MIN",
    "E_DISK_BELOW_MIN",
    "W_CPU_BELOW_RECOMMENDED",
    "W_RAM_BELOW_RECOMMENDED",
    "W_DISK_BELOW_RECOMMENDED",
];
/// Parse errors the Network screen already shows under the field itself.
const PARSE_CODES: [&str; 7] = [
    "E_BAD_POOL_ENTRY",
    "E_BAD_SERVICE_CIDR",
    "E_BAD_POD_CIDR",
    "E_BAD_DNS",
    "E_BAD_VIP",
    "E_BAD_MTU",
    "E_BAD_POOL_NAME",
];

/// The wizard's steps, in order. A step advances only when its checks have no errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Access,
    Discover,
    Hosts,
    Roles,
    Storage,
    Network,
    Review,
    Provision,
    Done,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Access,
        Step::Discover,
        Step::Hosts,
        Step::Roles,
        Step::Storage,
        Step::Network,
        Step::Review,
        Step::Provision,
        Step::Done,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Step::Access => "Access",
            Step::Discover => "Discover",
            Step::Hosts => "Hosts",
            Step::Roles => "Roles",
            Step::Storage => "Storage",
            Step::Network => "Network",
            Step::Review => "Review",
            Step::Provision => "Provision",
            Step::Done => "Done",
        }
    }

    fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn next(self) -> Step {
        Step::ALL.get(self.index() + 1).copied().unwrap_or(self)
    }

    pub fn prev(self) -> Step {
        self.index()
            .checked_sub(1)
            .map(|i| Step::ALL[i])
            .unwrap_or(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Real hosts over SSH.
    Live,
    /// The simulated lab: nothing is touched.
    Demo { lab: String, title: String },
}

/// Everything that can happen.
// A discovered host's facts make one variant large; messages are few and moved once, so
// boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    Discovered(Discovered),
    DiscoveryDone,
    DiscoveryFailed(String),
    /// A batch of runner events (the event loop batches them, ~100 ms).
    Provision(Vec<Event>),
    RunEnded,
    /// The run could not start or stopped as a whole (not a host failure).
    RunFailed(String),
    Saved(Result<PathBuf, String>),
    /// An SSH task needs the passphrase of an encrypted key: the popup asks, `reply` answers.
    PassphraseNeeded {
        key: PathBuf,
        reply: Reply,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub mode: Mode,
    pub step: Step,
    /// Furthest step reached (the step bar marks steps before it as done).
    pub reached: Step,
    pub plan: Plan,
    /// Facts by plan host name.
    pub facts: Facts,
    pub rows: Vec<Row>,
    /// Hosts the operator left out on the Hosts screen (by address).
    pub excluded: BTreeSet<String>,
    /// Plan hosts left out (or no longer answering), by address: taken back, they return
    /// with their roles, labels and layouts.
    pub set_aside: BTreeMap<String, Host>,
    /// Roles suggested for new hosts (by hostname), e.g. by a demo lab.
    pub suggested_roles: BTreeMap<String, Vec<Role>>,
    pub access: AccessForm,
    pub discover: DiscoverState,
    pub hosts_cursor: usize,
    pub roles_cursor: (usize, usize),
    pub storage: StorageState,
    pub network: NetworkForm,
    pub review: ReviewState,
    pub provision: ProvisionState,
    pub popup: Option<Popup>,
    pub size: (u16, u16),
    pub theme: Theme,
    pub plan_path: Option<PathBuf>,
    pub quit: bool,
    pub status: Option<String>,
    /// The key whose passphrase was answered last (a second request for it means the
    /// answer was wrong). The passphrase itself is not kept.
    pub passphrase_answered: Option<PathBuf>,
}

/// A plan with defaults and no hosts.
pub fn empty_plan(name: &str) -> Plan {
    let yaml = format!("version: {PLAN_VERSION}\ncluster: {{ name: {name} }}\n");
    let mut plan: Plan = match serde_yaml::from_str(&yaml) {
        Ok(p) => p,
        Err(_) => serde_yaml::from_str("version: 1\ncluster: { name: cluster }\n")
            .unwrap_or_else(|_| unreachable_plan()),
    };
    // Seed 001 step 9: the sysctl values an Akash provider sets.
    for (k, v) in [
        ("fs.inotify.max_user_instances", 512),
        ("fs.inotify.max_user_watches", 1_048_576),
        ("vm.max_map_count", 1_000_000),
    ] {
        plan.tuning
            .sysctl
            .insert(k.into(), crate::plan::SysctlValue::Int(v));
    }
    plan
}

fn unreachable_plan() -> Plan {
    Plan {
        version: PLAN_VERSION,
        cluster: crate::plan::Cluster {
            name: "cluster".into(),
            domain: "cluster.local".into(),
            kubespray: Default::default(),
            network_plugin: "calico".into(),
            container_manager: "containerd".into(),
            profile: None,
        },
        access: Default::default(),
        hosts: vec![],
        network: Default::default(),
        tuning: Default::default(),
    }
}

pub(crate) fn input(s: &str) -> Input {
    Input::new(s.to_string())
}
impl Model {
    pub fn new(mode: Mode, plan: Plan, targets: &str) -> Model {
        let net = &plan.network;
        let pool = net.load_balancer.pools.first();
        let mut inputs = BTreeMap::new();
        let values = [
            pool.map(|p| p.name.clone())
                .unwrap_or_else(|| "default".into()),
            pool.map(|p| p.addresses.join(", ")).unwrap_or_default(),
            String::new(),
            net.service_cidr.clone(),
            net.pod_cidr.clone(),
            net.node_prefix.to_string(),
            net.upstream_dns.join(", "),
            net.mtu.to_string(),
            net.vip.clone().unwrap_or_default(),
        ];
        for (i, v) in values.iter().enumerate() {
            inputs.insert(i, input(v));
        }
        let access = AccessForm {
            cluster: input(&plan.cluster.name),
            user: input(&plan.access.user),
            port: input(&plan.access.port.to_string()),
            identity: input(&plan.access.identity),
            sudo_password: Masked::default(),
            focus: 0,
        };
        Model {
            mode,
            step: Step::Access,
            reached: Step::Access,
            network: NetworkForm {
                inputs,
                auto_assign: pool.map(|p| p.auto_assign).unwrap_or(true),
                focus: 0,
            },
            plan,
            facts: Facts::new(),
            rows: vec![],
            excluded: BTreeSet::new(),
            set_aside: BTreeMap::new(),
            suggested_roles: BTreeMap::new(),
            access,
            discover: DiscoverState {
                targets: input(targets),
                ..Default::default()
            },
            hosts_cursor: 0,
            roles_cursor: (0, 0),
            storage: StorageState {
                host: 0,
                cursor: 0,
                selected: BTreeSet::new(),
                wipe: BTreeSet::new(),
                level: Level::Raid0,
                filesystem: Filesystem::Ext4,
                mount: input("/data"),
                discard: Discard::Auto,
                relocate: true,
                message: None,
            },
            review: ReviewState {
                tab: ReviewTab::Findings,
                scroll: 0,
                expand: false,
                saved: None,
                written: false,
                on_disk: None,
                save_error: None,
            },
            provision: ProvisionState::default(),
            popup: None,
            size: (MIN_WIDTH, MIN_HEIGHT),
            theme: Theme {
                color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            },
            plan_path: None,
            quit: false,
            status: None,
            passphrase_answered: None,
        }
    }

    /// Reopens a saved plan at Review (recovery / reinstall).
    pub fn reopen(mode: Mode, plan: Plan, path: PathBuf) -> Model {
        let targets = plan
            .hosts
            .iter()
            .map(|h| h.address.clone())
            .collect::<Vec<_>>()
            .join(", ");
        let mut m = Model::new(mode, plan, &targets);
        for h in &m.plan.hosts {
            m.rows.push(Row {
                found: Discovered {
                    address: h.address.clone(),
                    state: HostState::Ok,
                    fingerprint: None,
                    newly_pinned: false,
                    facts: None,
                    message: text::FROM_THE_PLAN.into(),
                },
                accepted: true,
            });
        }
        m.plan_path = Some(path.clone());
        m.review.saved = Some(path);
        m.review.on_disk = Some(Box::new(m.plan.clone()));
        m.step = Step::Review;
        m.reached = Step::Review;
        m
    }

    pub fn is_demo(&self) -> bool {
        matches!(self.mode, Mode::Demo { .. })
    }

    /// The findings of the whole plan.
    pub fn plan_findings(&self) -> Vec<Finding> {
        domain::findings(&self.plan, &self.facts)
    }

    /// The findings that matter on the current step: its own problems, and on Review all.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let field_error = |code: &'static str, path: &str, message: String| Finding {
            severity: Severity::Error,
            code,
            path: path.into(),
            message,
            hint: None,
        };
        match self.step {
            Step::Access => {
                if self.access.cluster.value().trim().is_empty() {
                    out.push(field_error(
                        "empty-name",
                        "cluster.name",
                        text::NEED_CLUSTER_NAME.into(),
                    ));
                }
                if self.access.user.value().trim().is_empty() {
                    out.push(field_error(
                        "empty-user",
                        "access.user",
                        text::NEED_USER.into(),
                    ));
                }
                // What the core says about the name and user as typed, before Next.
                let mut typed = self.plan.clone();
                typed.cluster.name = self.access.cluster.value().trim().to_string();
                typed.access.user = self.access.user.value().trim().to_string();
                out.extend(
                    domain::findings(&typed, &Facts::new())
                        .into_iter()
                        .filter(|f| {
                            (f.path == "cluster.name" && !typed.cluster.name.is_empty())
                                || (f.path == "access.user" && !typed.access.user.is_empty())
                        }),
                );
                if self
                    .access
                    .port
                    .value()
                    .parse::<u16>()
                    .map(|p| p == 0)
                    .unwrap_or(true)
                {
                    out.push(field_error(
                        "bad-port",
                        "access.port",
                        text::BAD_PORT.into(),
                    ));
                }
            }
            Step::Discover => {
                if let Some(e) = self.targets_error() {
                    out.push(field_error("bad-target", "targets", e));
                }
                let unscanned: Vec<&str> = self
                    .rows
                    .iter()
                    .filter(|r| r.usable() && r.found.facts.is_none())
                    .map(|r| r.found.address.as_str())
                    .collect();
                if !unscanned.is_empty() && !self.discover.scanning {
                    out.push(Finding {
                        severity: Severity::Warning,
                        code: "not-contacted",
                        path: "targets".into(),
                        message: format!("{}: {}", text::NOT_CONTACTED, unscanned.join(", ")),
                        hint: None,
                    });
                }
                if self.discover.scanning {
                    // Hosts that answer late would reach the plan without roles: wait.
                    out.push(field_error("scanning", "targets", self.scan_waiting()));
                }
                if !self.rows.iter().any(|r| r.usable()) {
                    out.push(Finding {
                        // Before the first scan it is only a hint; after it, it blocks.
                        severity: if self.discover.scanned.is_some() && !self.discover.scanning {
                            Severity::Error
                        } else {
                            Severity::Hint
                        },
                        code: "no-hosts",
                        path: "targets".into(),
                        message: text::NEED_ACCEPTED_HOST.into(),
                        hint: None,
                    });
                }
            }
            Step::Hosts => {
                if self.plan.hosts.is_empty() {
                    out.push(field_error("no-hosts", "hosts", text::NEED_HOST.into()));
                }
                out.extend(
                    self.plan_findings().into_iter().filter(|f| {
                        HARDWARE_CODES.contains(&f.code) && f.severity != Severity::Info
                    }),
                );
            }
            Step::Roles => out.extend(self.plan_findings().into_iter().filter(|f| {
                (ROLE_CODES.contains(&f.code) || HARDWARE_CODES.contains(&f.code))
                    && f.severity != Severity::Info
            })),
            Step::Storage => out.extend(
                self.plan_findings()
                    .into_iter()
                    .filter(|f| f.path.contains(".storage") && f.severity != Severity::Info),
            ),
            Step::Network => {
                for (i, f) in NetField::ALL.iter().enumerate() {
                    if let Some(e) = self.net_field_error(i) {
                        out.push(field_error(
                            "bad-field",
                            "network",
                            format!("{}: column {}: {}", f.label(), e.pos + 1, e.message),
                        ));
                    }
                }
                out.extend(self.plan_findings().into_iter().filter(|f| {
                    f.path.starts_with("network")
                        && f.severity != Severity::Info
                        && !PARSE_CODES.contains(&f.code)
                }));
            }
            Step::Review => {
                out = self
                    .plan_findings()
                    .into_iter()
                    .filter(|f| f.severity != Severity::Info)
                    .collect()
            }
            Step::Provision => {
                for ((h, s), st) in &self.provision.grid {
                    if *st == StepState::Failed {
                        let msg = self
                            .provision
                            .messages
                            .get(&(h.clone(), *s))
                            .cloned()
                            .unwrap_or_default();
                        out.push(field_error(
                            "stage-failed",
                            h,
                            format!("{h}: {} failed: {msg}", s.title()),
                        ));
                    }
                }
            }
            Step::Done => {
                // Done lists what did not finish; the strip agrees with it.
                for problem in self.provision.problems() {
                    out.push(Finding {
                        severity: Severity::Warning,
                        code: "not-finished",
                        path: problem.host.clone(),
                        message: problem.to_string(),
                        hint: None,
                    });
                }
            }
        }
        out.sort_by_key(|f| f.severity);
        out
    }

    /// What Next waits for while a scan (or the pinning of accepted keys) is running.
    fn scan_waiting(&self) -> String {
        let pinning: Vec<&str> = self.discover.pinning.iter().map(String::as_str).collect();
        if pinning.is_empty() {
            text::STILL_SCANNING.to_string()
        } else {
            format!("{}: {}", text::STILL_PINNING, pinning.join(", "))
        }
    }

    pub fn has_errors(&self) -> bool {
        self.findings()
            .iter()
            .any(|f| f.severity == Severity::Error)
    }

    pub fn targets_error(&self) -> Option<String> {
        let text = self.discover.targets.value();
        if text.trim().is_empty() {
            return Some(text::NEED_TARGETS.into());
        }
        // Hostnames are allowed; only entries that look like addresses are parsed strictly.
        let mut offset = 0;
        for raw in text.split(',') {
            let item = raw.trim();
            let lead = raw.len() - raw.trim_start().len();
            let looks_ip = item.chars().next().is_some_and(|c| c.is_ascii_digit());
            if looks_ip {
                if let Err(e) = domain::parse_entries(item) {
                    return Some(format!(
                        "column {}: {}",
                        offset + lead + e.pos + 1,
                        e.message
                    ));
                }
            } else if item.is_empty()
                || !item
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Some(format!(
                    "column {}: not an address, range or hostname",
                    offset + lead + 1
                ));
            }
            offset += raw.len() + 1;
        }
        None
    }

    /// A Network field's own parse error, with the character position.
    pub fn net_field_error(&self, i: usize) -> Option<domain::EntryError> {
        let v = self.network.inputs.get(&i).map(|x| x.value()).unwrap_or("");
        let err = |pos: usize, m: &str| {
            Some(domain::EntryError {
                pos,
                message: m.to_string(),
            })
        };
        match NetField::ALL[i] {
            NetField::PoolName => {
                if v.is_empty() && !self.network.inputs[&1].value().trim().is_empty() {
                    return err(0, "a pool needs a name");
                }
                v.char_indices()
                    .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
                    .and_then(|(p, _)| err(p, "lowercase letters, digits and '-' only"))
            }
            NetField::PoolAddresses => domain::parse_entries(v).err(),
            NetField::AutoAssign => None,
            NetField::ServiceCidr | NetField::PodCidr => domain::parse_cidr(v).err(),
            NetField::NodePrefix => match v.parse::<u8>() {
                Ok(p) if (16..=30).contains(&p) => None,
                _ => err(0, "a prefix length 16-30"),
            },
            NetField::UpstreamDns => {
                let mut offset = 0;
                for raw in v.split(',') {
                    let lead = raw.len() - raw.trim_start().len();
                    if !raw.trim().is_empty()
                        && let Err(e) = domain::parse_entries(raw.trim())
                    {
                        return err(offset + lead + e.pos, &e.message);
                    }
                    offset += raw.len() + 1;
                }
                None
            }
            NetField::Mtu => match v.parse::<u32>() {
                Ok(m) if (1280..=9216).contains(&m) => None,
                _ => err(0, "an MTU 1280-9216"),
            },
            NetField::Vip => {
                if v.trim().is_empty() {
                    None
                } else {
                    match domain::parse_entries(v) {
                        Ok(e) if matches!(e.as_slice(), [(_, domain::Entry::Single(_))]) => None,
                        Ok(_) => err(0, "a single address"),
                        Err(e) => Some(e),
                    }
                }
            }
        }
    }

    /// Devices of the Storage screen's host, flattened with their depth.
    pub fn storage_devices(&self) -> Vec<(usize, &BlockDevice)> {
        fn walk<'a>(
            list: &'a [BlockDevice],
            depth: usize,
            out: &mut Vec<(usize, &'a BlockDevice)>,
        ) {
            for d in list {
                out.push((depth, d));
                walk(&d.children, depth + 1, out);
            }
        }
        let mut out = Vec::new();
        if let Some(f) = self.storage_facts() {
            walk(&f.disks, 0, &mut out);
        }
        out
    }

    pub fn storage_host(&self) -> Option<&Host> {
        self.plan.hosts.get(self.storage.host)
    }

    pub fn storage_facts(&self) -> Option<&HostFacts> {
        self.storage_host().and_then(|h| self.facts.get(&h.name))
    }

    /// Devices already in a layout on the Storage screen's host.
    pub fn used_devices(&self) -> BTreeSet<String> {
        self.storage_host()
            .map(|h| {
                h.storage
                    .iter()
                    .flat_map(|l| l.devices.iter().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The capacity preview of the selection with the current level.
    pub fn storage_preview(&self) -> Option<(u64, u64)> {
        let f = self.storage_facts()?;
        let sizes: Vec<u64> = self
            .storage
            .selected
            .iter()
            .filter_map(|d| f.device(d).map(|d| d.size_bytes))
            .collect();
        if sizes.is_empty() {
            return None;
        }
        Some((
            domain::total_bytes(sizes.iter().copied()),
            domain::usable_bytes(self.storage.level, &sizes),
        ))
    }

    pub(crate) fn sync_access(&mut self) {
        self.plan.cluster.name = self.access.cluster.value().trim().to_string();
        self.plan.access.user = self.access.user.value().trim().to_string();
        if let Ok(p) = self.access.port.value().parse() {
            self.plan.access.port = p;
        }
        self.plan.access.identity = self.access.identity.value().trim().to_string();
    }

    pub(crate) fn sync_network(&mut self) {
        let v = |i: usize| {
            self.network
                .inputs
                .get(&i)
                .map(|x| x.value().to_string())
                .unwrap_or_default()
        };
        let list = |s: String| -> Vec<String> {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        };
        let addresses = list(v(1));
        self.plan.network.load_balancer.pools = if addresses.is_empty() {
            vec![]
        } else {
            vec![Pool {
                name: v(0).trim().to_string(),
                addresses,
                auto_assign: self.network.auto_assign,
            }]
        };
        self.plan.network.service_cidr = v(3).trim().to_string();
        self.plan.network.pod_cidr = v(4).trim().to_string();
        if let Ok(p) = v(5).parse() {
            self.plan.network.node_prefix = p;
        }
        self.plan.network.upstream_dns = list(v(6));
        if let Ok(m) = v(7).parse() {
            self.plan.network.mtu = m;
        }
        let vip = v(8).trim().to_string();
        self.plan.network.vip = (!vip.is_empty()).then_some(vip);
    }

    /// Rebuilds the plan's hosts from the accepted, included rows, keeping what the operator
    /// already chose for hosts that stay (Esc and back never loses input).
    pub fn sync_hosts(&mut self) {
        let mut old: BTreeMap<String, Host> = self
            .plan
            .hosts
            .drain(..)
            .map(|h| (h.address.clone(), h))
            .collect();
        let mut names = BTreeSet::new();
        let mut facts = Facts::new();
        let first = old.is_empty() && self.set_aside.is_empty();
        let mut fresh = Vec::new();
        for row in self.rows.iter().filter(|r| r.usable()) {
            if self.excluded.contains(&row.found.address) {
                continue;
            }
            let f = row.found.facts.clone();
            // A host taken back comes back as it was left: roles, labels, layouts.
            let kept = old
                .remove(&row.found.address)
                .or_else(|| self.set_aside.remove(&row.found.address));
            let host = match (kept, &f) {
                (Some(h), _) => h,
                (None, None) => continue,
                (None, Some(f)) => {
                    let mut name = f.hostname.clone();
                    if name.is_empty() || names.contains(&name) {
                        name = format!("node{}", names.len() + 1);
                    }
                    fresh.push(self.plan.hosts.len());
                    Host {
                        name,
                        address: row.found.address.clone(),
                        roles: vec![],
                        labels: BTreeMap::new(),
                        storage: vec![],
                    }
                }
            };
            names.insert(host.name.clone());
            if let Some(f) = f {
                facts.insert(host.name.clone(), f);
            }
            self.plan.hosts.push(host);
        }
        // Hosts left out (or no longer answering) keep what the operator chose for them.
        self.set_aside.append(&mut old);
        for i in fresh {
            let h = &mut self.plan.hosts[i];
            // The single control plane of Akash's "Kubernetes Cluster for Akash Providers",
            // STEP 4 - Ansible Inventory: the first host runs the control plane and etcd;
            // every host works. A host that arrives later is a worker.
            h.roles = match self.suggested_roles.get(&h.name) {
                Some(r) => r.clone(),
                None if first && i == 0 => vec![Role::ControlPlane, Role::Etcd, Role::Worker],
                None => vec![Role::Worker],
            };
        }
        if !self.facts.is_empty() || !facts.is_empty() {
            self.facts = facts;
        }
        self.storage.host = self
            .storage
            .host
            .min(self.plan.hosts.len().saturating_sub(1));
    }
}
