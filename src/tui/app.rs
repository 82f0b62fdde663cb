//! The wizard's state and its one transition function.
//!
//! `Model` holds everything the screens show; `Msg` is everything that can happen (a key, a
//! resize, a host answering, a stage printing a line, a file saved); `update` applies one
//! message and may return one `Effect` for the event loop to run. Drawing (`super::view`)
//! only reads the model. Nothing here does IO.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::domain;
use super::effects::{Action, Effect};
use super::secret::{Masked, Reply, Secret};
use super::text;
use crate::discover::{Discovered, HostState};
use crate::facts::{BlockDevice, Facts, HostFacts};
use crate::plan::{
    self, Code, Discard, DiskInUse, Filesystem, Finding, Host, Level, PLAN_VERSION, Plan, Pool,
    Relocate, Role, Severity, StorageLayout, Subject,
};
use crate::provision::{Event, EventKind, StageId, StepState};

/// Lines kept in memory per log pane; older lines drop off the top.
pub const SCROLLBACK_LINES: usize = 2_000;
/// Smallest terminal the frame is laid out for (docs/wizard.md: it works at 80x24 and larger).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// Environment variable that makes `update` panic on the first key (tests of the panic path).
pub const TEST_PANIC_ENV: &str = "RACKSTRAP_TEST_PANIC";

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

/// One discovered address.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub found: Discovered,
    /// The operator accepted this host (and pinned its key when new).
    pub accepted: bool,
}

impl Row {
    pub fn is_ok(&self) -> bool {
        self.found.state == HostState::Ok && self.found.facts.is_some()
    }

    /// Accepted and reachable: it goes into the plan. A host reopened from a saved plan
    /// counts before it is scanned again (it has no facts yet).
    pub fn usable(&self) -> bool {
        self.accepted && self.found.state == HostState::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessField {
    Cluster,
    User,
    Port,
    Identity,
    SudoPassword,
}

impl AccessField {
    pub const ALL: [AccessField; 5] = [
        AccessField::Cluster,
        AccessField::User,
        AccessField::Port,
        AccessField::Identity,
        AccessField::SudoPassword,
    ];
}

#[derive(Debug, Clone)]
pub struct AccessForm {
    pub cluster: Input,
    pub user: Input,
    pub port: Input,
    pub identity: Input,
    /// For users whose sudo asks for a password. Kept in memory for this session only: it
    /// goes to the SSH layer (sent on `sudo -S`'s stdin), never into the plan.
    pub sudo_password: Masked,
    pub focus: usize,
}

impl AccessForm {
    pub fn sudo_password(&self) -> Option<Secret> {
        self.sudo_password.secret()
    }
}

#[derive(Debug, Clone, Default)]
pub struct DiscoverState {
    pub targets: Input,
    /// Focus on the table instead of the targets field.
    pub table_focus: bool,
    pub selected: usize,
    pub scanning: bool,
    /// The targets the current table was scanned from.
    pub scanned: Option<String>,
    pub error: Option<String>,
    /// Addresses whose new host keys the operator accepted; they are being pinned.
    pub pinning: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct StorageState {
    pub host: usize,
    pub cursor: usize,
    pub selected: BTreeSet<String>,
    pub wipe: BTreeSet<String>,
    pub level: Level,
    pub filesystem: Filesystem,
    pub mount: Input,
    pub discard: Discard,
    pub relocate: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetField {
    PoolName,
    PoolAddresses,
    AutoAssign,
    ServiceCidr,
    PodCidr,
    NodePrefix,
    UpstreamDns,
    Mtu,
    Vip,
}

impl NetField {
    pub const ALL: [NetField; 9] = [
        NetField::PoolName,
        NetField::PoolAddresses,
        NetField::AutoAssign,
        NetField::ServiceCidr,
        NetField::PodCidr,
        NetField::NodePrefix,
        NetField::UpstreamDns,
        NetField::Mtu,
        NetField::Vip,
    ];

    pub fn label(self) -> &'static str {
        match self {
            NetField::PoolName => "MetalLB pool",
            NetField::PoolAddresses => "Pool addresses",
            NetField::AutoAssign => "Auto-assign",
            NetField::ServiceCidr => "Service CIDR",
            NetField::PodCidr => "Pod CIDR",
            NetField::NodePrefix => "Node prefix",
            NetField::UpstreamDns => "Upstream DNS",
            NetField::Mtu => "Host MTU",
            NetField::Vip => "VIP (optional)",
        }
    }

    /// The field after this one, wrapping around.
    pub fn next(self) -> NetField {
        let i = NetField::ALL.iter().position(|f| *f == self).unwrap_or(0);
        NetField::ALL[(i + 1) % NetField::ALL.len()]
    }

    /// The field before this one, wrapping around.
    pub fn prev(self) -> NetField {
        let n = NetField::ALL.len();
        let i = NetField::ALL.iter().position(|f| *f == self).unwrap_or(0);
        NetField::ALL[(i + n - 1) % n]
    }

    /// Whether the operator types into it (Auto-assign is a checkbox).
    pub fn is_text(self) -> bool {
        self != NetField::AutoAssign
    }
}

#[derive(Debug, Clone)]
pub struct NetworkForm {
    /// One input per text field.
    pub inputs: BTreeMap<NetField, Input>,
    pub auto_assign: bool,
    pub focus: NetField,
}

impl NetworkForm {
    /// What is typed in a field (empty for Auto-assign).
    pub fn value(&self, field: NetField) -> &str {
        self.inputs.get(&field).map(|i| i.value()).unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewTab {
    Findings,
    Files,
    Commands,
}

impl ReviewTab {
    pub const ALL: [ReviewTab; 3] = [ReviewTab::Findings, ReviewTab::Files, ReviewTab::Commands];
    pub fn title(self) -> &'static str {
        match self {
            ReviewTab::Findings => "Findings",
            ReviewTab::Files => "Files",
            ReviewTab::Commands => "Commands",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReviewState {
    pub tab: ReviewTab,
    pub scroll: u16,
    /// Commands show here-document bodies in full instead of "… (N more lines)".
    pub expand: bool,
    pub saved: Option<PathBuf>,
    pub save_error: Option<String>,
}

/// One host's log: bounded in memory.
#[derive(Debug, Clone, Default)]
pub struct LogPane {
    pub host: String,
    pub lines: VecDeque<String>,
    /// Lines dropped off the top since the run began.
    pub dropped: usize,
    /// Follow the tail; scrolling pauses it.
    pub follow: bool,
    /// Lines above the tail the view is scrolled to (when not following).
    pub offset: usize,
    /// Task progress parsed from the runner (Ansible tasks seen).
    pub progress: Option<(u32, Option<u32>)>,
}

impl LogPane {
    pub fn push(&mut self, line: String) {
        if self.lines.len() == SCROLLBACK_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
        if !self.follow {
            self.offset = (self.offset + 1).min(self.lines.len().saturating_sub(1));
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProvisionState {
    pub grid: BTreeMap<(String, StageId), StepState>,
    pub messages: BTreeMap<(String, StageId), String>,
    pub panes: Vec<LogPane>,
    pub focus: usize,
    pub running: bool,
    pub started: bool,
    pub search: Option<String>,
    /// The stage the next retry starts from.
    pub failed_stage: Option<StageId>,
    /// Hosts whose names the operator typed to consent to destroying data.
    pub consent: Vec<String>,
}

impl ProvisionState {
    pub fn state(&self, host: &str, stage: StageId) -> StepState {
        self.grid
            .get(&(host.to_string(), stage))
            .copied()
            .unwrap_or_default()
    }

    pub fn failed_hosts(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .grid
            .iter()
            .filter(|(_, s)| **s == StepState::Failed)
            .map(|((h, _), _)| h.clone())
            .collect();
        v.dedup();
        v
    }

    /// Every stage on every host ended Done or Skipped.
    pub fn finished(&self) -> bool {
        !self.panes.is_empty()
            && self.panes.iter().all(|p| {
                StageId::ALL.iter().all(|s| {
                    matches!(
                        self.state(&p.host, *s),
                        StepState::Done | StepState::Skipped
                    )
                })
            })
    }
}

#[derive(Debug, Clone)]
pub enum Popup {
    Help,
    Quit,
    SavePath(Input),
    Search(Input),
    Mount(Input),
    /// An SSH task waits for an encrypted key's passphrase. `retry`: the last answer for this
    /// key did not open it.
    Passphrase {
        key: PathBuf,
        input: Masked,
        reply: Reply,
        retry: bool,
        /// The popup that was open when the request came; it comes back after the answer.
        behind: Option<Box<Popup>>,
    },
    /// A destructive action waits for the operator to type each host's name.
    Confirm {
        action: Action,
        hosts: Vec<String>,
        what: String,
        input: Input,
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
    pub test_panic: bool,
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
    // The sysctl values an Akash provider sets (the Akash guide "Kubernetes Cluster for
    // Akash Providers", step 9).
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

fn input(s: &str) -> Input {
    Input::new(s.to_string())
}

impl Model {
    pub fn new(mode: Mode, plan: Plan, targets: &str) -> Model {
        let net = &plan.network;
        let pool = net.load_balancer.pools.first();
        let inputs: BTreeMap<NetField, Input> = [
            (
                NetField::PoolName,
                pool.map(|p| p.name.clone())
                    .unwrap_or_else(|| "default".into()),
            ),
            (
                NetField::PoolAddresses,
                pool.map(|p| p.addresses.join(", ")).unwrap_or_default(),
            ),
            (NetField::ServiceCidr, net.service_cidr.clone()),
            (NetField::PodCidr, net.pod_cidr.clone()),
            (NetField::NodePrefix, net.node_prefix.to_string()),
            (NetField::UpstreamDns, net.upstream_dns.join(", ")),
            (NetField::Mtu, net.mtu.to_string()),
            (NetField::Vip, net.vip.clone().unwrap_or_default()),
        ]
        .into_iter()
        .map(|(f, v)| (f, input(&v)))
        .collect();
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
                focus: NetField::PoolName,
            },
            plan,
            facts: Facts::new(),
            rows: vec![],
            excluded: BTreeSet::new(),
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
            test_panic: false,
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
                    message: "from the plan".into(),
                },
                accepted: true,
            });
        }
        m.plan_path = Some(path.clone());
        m.review.saved = Some(path);
        m.step = Step::Review;
        m.reached = Step::Review;
        m
    }

    pub fn is_demo(&self) -> bool {
        matches!(self.mode, Mode::Demo { .. })
    }

    /// The findings of the whole plan: the core's, worded for the screens.
    pub fn plan_findings(&self) -> Vec<Finding> {
        super::widgets::findings::of_plan(&self.plan, &self.facts)
    }

    /// The findings that matter on the current step: its own problems, and on Review all.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let field_error =
            |code: Code, path: &str, message: String| Finding::error(code, path, message);
        let shown = |f: &Finding, subjects: &[Subject]| {
            subjects.contains(&f.code.subject()) && f.severity != Severity::Info
        };
        match self.step {
            Step::Access => {
                if self.access.cluster.value().trim().is_empty() {
                    out.push(field_error(
                        Code::E_BAD_CLUSTER_NAME,
                        "cluster.name",
                        text::NEED_CLUSTER_NAME.into(),
                    ));
                }
                if self.access.user.value().trim().is_empty() {
                    out.push(field_error(
                        Code::E_BAD_USER,
                        "access.user",
                        text::NEED_USER.into(),
                    ));
                }
                if self
                    .access
                    .port
                    .value()
                    .parse::<u16>()
                    .map(|p| p == 0)
                    .unwrap_or(true)
                {
                    out.push(field_error(
                        Code::E_BAD_PORT,
                        "access.port",
                        text::BAD_PORT.into(),
                    ));
                }
            }
            Step::Discover => {
                if let Some(e) = self.targets_error() {
                    out.push(field_error(Code::E_BAD_TARGETS, "targets", e));
                }
                if !self.rows.iter().any(|r| r.usable()) {
                    out.push(Finding {
                        // Before the first scan it is only a hint; after it, it blocks.
                        severity: if self.discover.scanned.is_some() && !self.discover.scanning {
                            Severity::Error
                        } else {
                            Severity::Hint
                        },
                        code: Code::E_NO_REACHABLE_HOST,
                        path: "targets".into(),
                        message: text::NEED_ACCEPTED_HOST.into(),
                        hint: None,
                    });
                }
            }
            Step::Hosts => {
                if self.plan.hosts.is_empty() {
                    out.push(field_error(
                        Code::E_NO_HOSTS,
                        "hosts",
                        text::NEED_HOST.into(),
                    ));
                }
                out.extend(
                    self.plan_findings()
                        .into_iter()
                        .filter(|f| shown(f, &[Subject::Hardware])),
                );
            }
            Step::Roles => out.extend(
                self.plan_findings()
                    .into_iter()
                    .filter(|f| shown(f, &[Subject::Roles, Subject::Hardware])),
            ),
            Step::Storage => out.extend(
                self.plan_findings()
                    .into_iter()
                    .filter(|f| f.path.contains(".storage") && f.severity != Severity::Info),
            ),
            Step::Network => {
                for f in NetField::ALL {
                    if let Some(e) = self.net_field_error(f) {
                        out.push(field_error(
                            Code::E_BAD_FIELD,
                            "network",
                            format!("{}: column {}: {}", f.label(), e.position + 1, e.message),
                        ));
                    }
                }
                // Single-field errors show under the field itself (above).
                out.extend(self.plan_findings().into_iter().filter(|f| {
                    f.path.starts_with("network")
                        && f.severity != Severity::Info
                        && f.code.subject() != Subject::NetworkField
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
                            Code::E_STAGE_FAILED,
                            h,
                            format!("{h}: {} failed: {msg}", s.title()),
                        ));
                    }
                }
            }
            Step::Done => {}
        }
        out.sort_by_key(|f| f.severity);
        out
    }

    pub fn has_errors(&self) -> bool {
        self.findings()
            .iter()
            .any(|f| f.severity == Severity::Error)
    }

    /// The target list's error, the same the scan (and `rackstrap discover`) would give:
    /// the core parses it, commas and blanks alike.
    pub fn targets_error(&self) -> Option<String> {
        use crate::discover::TargetError;
        match crate::discover::check_targets(self.discover.targets.value(), false) {
            Ok(_) => None,
            Err(TargetError::Empty) => Some(text::NEED_TARGETS.into()),
            Err(TargetError::Invalid {
                position, reason, ..
            }) => Some(format!("column {}: {reason}", position + 1)),
            Err(e @ TargetError::TooMany { .. }) => Some(e.to_string()),
        }
    }

    /// A Network field's own error with the character position: the core's rule for the
    /// field (`plan::check::rules`, `net`), so the form refuses what `check` refuses.
    pub fn net_field_error(&self, field: NetField) -> Option<crate::net::ParseError> {
        let v = self.network.value(field);
        let entry_error = |e: domain::EntryError| crate::net::ParseError {
            position: e.pos,
            message: e.message,
        };
        match field {
            NetField::PoolName => {
                // No addresses, no pool: the name is not used.
                if self
                    .network
                    .value(NetField::PoolAddresses)
                    .trim()
                    .is_empty()
                {
                    return None;
                }
                plan::check::rules::pool_name_error(v.trim())
                    .map(|e| e.shifted(v.chars().take_while(|c| c.is_whitespace()).count()))
            }
            NetField::PoolAddresses => domain::parse_entries(v).err().map(entry_error),
            NetField::AutoAssign => None,
            NetField::ServiceCidr | NetField::PodCidr => {
                domain::parse_cidr(v).err().map(entry_error)
            }
            NetField::NodePrefix => plan::check::rules::parse_node_prefix(v).err(),
            NetField::UpstreamDns => plan::check::rules::parse_addr_list(v).err(),
            NetField::Mtu => plan::check::rules::parse_mtu(v).err(),
            NetField::Vip if v.trim().is_empty() => None,
            NetField::Vip => plan::check::rules::parse_vip(v).err(),
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
            plan::total_bytes(sizes.iter().copied()),
            plan::usable_bytes(self.storage.level, &sizes),
        ))
    }

    fn sync_access(&mut self) {
        self.plan.cluster.name = self.access.cluster.value().trim().to_string();
        self.plan.access.user = self.access.user.value().trim().to_string();
        if let Ok(p) = self.access.port.value().parse() {
            self.plan.access.port = p;
        }
        self.plan.access.identity = self.access.identity.value().trim().to_string();
    }

    fn sync_network(&mut self) {
        let v = |f: NetField| self.network.value(f).to_string();
        // Lists split as the core splits them: commas and blanks.
        let list = |s: String| -> Vec<String> {
            crate::net::split_list(&s)
                .into_iter()
                .map(|(_, x)| x.to_string())
                .collect()
        };
        let addresses: Vec<String> = v(NetField::PoolAddresses)
            .split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        self.plan.network.load_balancer.pools = if addresses.is_empty() {
            vec![]
        } else {
            vec![Pool {
                name: v(NetField::PoolName).trim().to_string(),
                addresses,
                auto_assign: self.network.auto_assign,
            }]
        };
        self.plan.network.service_cidr = v(NetField::ServiceCidr).trim().to_string();
        self.plan.network.pod_cidr = v(NetField::PodCidr).trim().to_string();
        if let Ok(p) = v(NetField::NodePrefix).trim().parse() {
            self.plan.network.node_prefix = p;
        }
        self.plan.network.upstream_dns = list(v(NetField::UpstreamDns));
        if let Ok(m) = v(NetField::Mtu).trim().parse() {
            self.plan.network.mtu = m;
        }
        let vip = v(NetField::Vip).trim().to_string();
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
        let first = old.is_empty();
        for row in self.rows.iter().filter(|r| r.usable()) {
            if self.excluded.contains(&row.found.address) {
                continue;
            }
            let f = row.found.facts.clone();
            let host = match (old.remove(&row.found.address), &f) {
                (Some(h), _) => h,
                (None, None) => continue,
                (None, Some(f)) => {
                    let mut name = f.hostname.clone();
                    if name.is_empty() || names.contains(&name) {
                        name = format!("node{}", names.len() + 1);
                    }
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
        if first {
            // The Akash provider guide's default: the first host runs the control plane and
            // etcd; all work.
            for (i, h) in self.plan.hosts.iter_mut().enumerate() {
                h.roles = match self.suggested_roles.get(&h.name) {
                    Some(r) => r.clone(),
                    None if i == 0 => vec![Role::ControlPlane, Role::Etcd, Role::Worker],
                    None => vec![Role::Worker],
                };
            }
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

/// A text field has focus: `?` and `q` are typed into it, so F1 and Ctrl+C stand in.
pub fn is_text_focus(m: &Model) -> bool {
    match m.step {
        Step::Access => true,
        Step::Discover => !m.discover.table_focus,
        Step::Network => m.network.focus.is_text(),
        _ => false,
    }
}

fn handle_input(input: &mut Input, key: KeyEvent) -> bool {
    input.handle_event(&TermEvent::Key(key)).is_some()
}

/// Applies one message. Returns the side effect to run, if any.
pub fn update(m: &mut Model, msg: Msg) -> Option<Effect> {
    match msg {
        Msg::Key(key) => {
            if key.kind == KeyEventKind::Release {
                return None;
            }
            if m.test_panic {
                panic!("{TEST_PANIC_ENV} is set: panicking inside update on purpose");
            }
            m.status = None;
            on_key(m, key)
        }
        Msg::Resize(w, h) => {
            m.size = (w, h);
            clamp_review_scroll(m);
            None
        }
        Msg::Discovered(d) => {
            let pinned_now = m.discover.pinning.remove(&d.address) && d.state == HostState::Ok;
            let accepted = pinned_now
                || m.rows
                    .iter()
                    .find(|r| r.found.address == d.address)
                    .map(|r| r.accepted)
                    .unwrap_or(false);
            m.rows.retain(|r| r.found.address != d.address);
            m.rows.push(Row { found: d, accepted });
            let targets = m.discover.scanned.clone().unwrap_or_default();
            m.rows.sort_by_key(|r| {
                (
                    target_index(&targets, &r.found.address),
                    address_key(&r.found.address),
                )
            });
            None
        }
        Msg::DiscoveryDone => {
            m.discover.scanning = false;
            m.discover.table_focus = true;
            None
        }
        Msg::DiscoveryFailed(e) => {
            m.discover.scanning = false;
            m.discover.error = Some(e);
            None
        }
        Msg::Provision(events) => {
            for e in events {
                apply_event(m, e);
            }
            None
        }
        Msg::RunFailed(e) => {
            m.status = Some(e);
            None
        }
        Msg::RunEnded => {
            m.provision.running = false;
            if m.provision.finished() {
                m.status = Some(text::RUN_FINISHED.into());
            }
            None
        }
        Msg::PassphraseNeeded { key, reply } => {
            // A prompt still open for an earlier request is dropped: dropping its reply
            // tells that task the prompt was cancelled.
            let retry = m.passphrase_answered.as_ref() == Some(&key);
            let behind = match m.popup.take() {
                Some(Popup::Passphrase { behind, .. }) => behind,
                other => other.map(Box::new),
            };
            m.popup = Some(Popup::Passphrase {
                key,
                input: Masked::default(),
                reply,
                retry,
                behind,
            });
            None
        }
        Msg::Saved(r) => {
            match r {
                Ok(p) => {
                    m.status = Some(format!("{} {}", text::SAVED, p.display()));
                    m.plan_path = Some(p.clone());
                    m.review.saved = Some(p);
                    m.review.save_error = None;
                }
                Err(e) => m.review.save_error = Some(e),
            }
            None
        }
    }
}

/// Which typed entry an address came from, so the table (and the plan) keep the operator's order.
fn target_index(targets: &str, address: &str) -> usize {
    let ip = address
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| domain::Entry::Single(ip).bounds().0);
    targets
        .split(',')
        .position(|t| {
            let t = t.trim();
            t == address
                || match (ip, domain::parse_entries(t)) {
                    (Some(x), Ok(e)) => e.iter().any(|(_, e)| {
                        let (lo, hi) = e.bounds();
                        lo <= x && x <= hi
                    }),
                    _ => false,
                }
        })
        .unwrap_or(usize::MAX)
}

fn address_key(a: &str) -> (u8, u128, String) {
    match a.parse::<std::net::IpAddr>() {
        Ok(ip) => (0, domain::Entry::Single(ip).bounds().0, String::new()),
        Err(_) => (1, 0, a.to_string()),
    }
}

fn apply_event(m: &mut Model, e: Event) {
    let p = &mut m.provision;
    let pane = match p.panes.iter_mut().find(|x| x.host == e.host) {
        Some(x) => x,
        None => {
            p.panes.push(LogPane {
                host: e.host.clone(),
                follow: true,
                ..Default::default()
            });
            let Some(x) = p.panes.last_mut() else { return };
            x
        }
    };
    match e.kind {
        EventKind::Started => {
            p.grid.insert((e.host.clone(), e.stage), StepState::Running);
            pane.push(format!("\x1b[1m── {} ──\x1b[0m", e.stage.title()));
        }
        EventKind::Log { line, .. } => pane.push(line),
        EventKind::Progress { done, total, .. } => pane.progress = Some((done, total)),
        EventKind::Finished { state, message } => {
            let ran = p.grid.get(&(e.host.clone(), e.stage)) == Some(&StepState::Running);
            let failed_here = p
                .grid
                .iter()
                .any(|((h, _), st)| *h == e.host && *st == StepState::Failed);
            // A host that failed shows its failure last; its own waiting steps are noise.
            let noise = state == StepState::Pending && failed_here;
            if !ran && !message.is_empty() && state != StepState::Failed && !noise {
                // A step that did not run here says why: it waits for a failed host, or
                // it was done in an earlier run.
                pane.push(format!("\x1b[2m── {}: {message}\x1b[0m", e.stage.title()));
            }
            if state == StepState::Failed {
                pane.push(format!(
                    "\x1b[31m✗ {} failed: {message}\x1b[0m",
                    e.stage.title()
                ));
                p.failed_stage = Some(p.failed_stage.map_or(e.stage, |s| s.min(e.stage)));
            }
            p.grid.insert((e.host.clone(), e.stage), state);
            p.messages.insert((e.host, e.stage), message);
        }
    }
}

fn on_key(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(popup) = m.popup.take() {
        return on_popup_key(m, popup, key);
    }
    if ctrl && key.code == KeyCode::Char('c') {
        m.popup = Some(Popup::Quit);
        return None;
    }
    if key.code == KeyCode::F(1) {
        m.popup = Some(Popup::Help);
        return None;
    }
    if !is_text_focus(m) {
        match key.code {
            KeyCode::Char('q') => {
                m.popup = Some(Popup::Quit);
                return None;
            }
            KeyCode::Char('?') => {
                m.popup = Some(Popup::Help);
                return None;
            }
            _ => {}
        }
    }
    if key.code == KeyCode::Esc {
        return back(m);
    }
    match m.step {
        Step::Access => key_access(m, key),
        Step::Discover => key_discover(m, key),
        Step::Hosts => key_hosts(m, key),
        Step::Roles => key_roles(m, key),
        Step::Storage => key_storage(m, key),
        Step::Network => key_network(m, key),
        Step::Review => key_review(m, key),
        Step::Provision => key_provision(m, key),
        Step::Done => {
            if key.code == KeyCode::Enter {
                m.quit = true;
            }
            None
        }
    }
}

fn back(m: &mut Model) -> Option<Effect> {
    match m.step {
        Step::Discover if m.discover.table_focus => m.discover.table_focus = false,
        Step::Provision if m.provision.running => {
            m.popup = Some(Popup::Confirm {
                action: Action::Abort,
                hosts: vec![],
                what: text::ABORT_QUESTION.into(),
                input: Input::default(),
            })
        }
        Step::Done | Step::Access => {}
        Step::Provision if m.provision.started => {}
        _ => m.step = m.step.prev(),
    }
    None
}

/// Moves to the next step when the current one has no errors.
fn next(m: &mut Model) -> Option<Effect> {
    if m.has_errors() {
        m.status = Some(text::FIX_ERRORS.into());
        return None;
    }
    if m.step == Step::Review && !m.is_demo() && m.review.saved.is_none() {
        // Real runs keep their state and full logs next to the saved plan.
        m.status = Some(text::SAVE_FIRST.into());
        return None;
    }
    match m.step {
        Step::Discover | Step::Hosts => m.sync_hosts(),
        Step::Access => m.sync_access(),
        _ => {}
    }
    m.step = m.step.next();
    if m.step > m.reached {
        m.reached = m.step;
    }
    if m.step == Step::Provision && m.provision.panes.is_empty() {
        m.provision.panes = m
            .plan
            .hosts
            .iter()
            .map(|h| LogPane {
                host: h.name.clone(),
                follow: true,
                ..Default::default()
            })
            .collect();
    }
    None
}

fn key_access(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let f = &mut m.access;
    match key.code {
        KeyCode::Enter => return next(m),
        KeyCode::Tab | KeyCode::Down => f.focus = (f.focus + 1) % AccessField::ALL.len(),
        KeyCode::BackTab | KeyCode::Up => {
            f.focus = (f.focus + AccessField::ALL.len() - 1) % AccessField::ALL.len()
        }
        _ => {
            let target = match AccessField::ALL[f.focus] {
                AccessField::Cluster => &mut f.cluster,
                AccessField::User => &mut f.user,
                AccessField::Port => &mut f.port,
                AccessField::Identity => &mut f.identity,
                AccessField::SudoPassword => &mut f.sudo_password.0,
            };
            handle_input(target, key);
            m.sync_access();
        }
    }
    None
}

fn key_discover(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let d = &mut m.discover;
    if key.code == KeyCode::Tab || key.code == KeyCode::BackTab {
        d.table_focus = !d.table_focus && !m.rows.is_empty();
        return None;
    }
    if !d.table_focus {
        if key.code == KeyCode::Enter {
            if m.targets_error().is_some() || m.discover.scanning {
                return None;
            }
            let targets = m.discover.targets.value().to_string();
            if m.discover.scanned.as_deref() == Some(targets.as_str()) && !m.rows.is_empty() {
                m.discover.table_focus = true;
                return None;
            }
            m.rows.clear();
            m.discover.scanning = true;
            m.discover.error = None;
            m.discover.scanned = Some(targets.clone());
            m.discover.selected = 0;
            return Some(Effect::Discover {
                targets,
                access: m.plan.access.clone(),
                sudo_password: m.access.sudo_password(),
                accept: vec![],
            });
        }
        handle_input(&mut m.discover.targets, key);
        return None;
    }
    let n = m.rows.len();
    match key.code {
        KeyCode::Up => d.selected = d.selected.saturating_sub(1),
        KeyCode::Down => d.selected = (d.selected + 1).min(n.saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some(r) = m.rows.get_mut(d.selected) {
                if r.is_ok() {
                    r.accepted = !r.accepted;
                } else if r.found.state == HostState::UnknownHostKey {
                    let address = r.found.address.clone();
                    return pin(m, vec![address]);
                }
            }
        }
        KeyCode::Char('a') => {
            for r in m.rows.iter_mut().filter(|r| r.is_ok()) {
                r.accepted = true;
            }
            let new: Vec<String> = m
                .rows
                .iter()
                .filter(|r| r.found.state == HostState::UnknownHostKey)
                .map(|r| r.found.address.clone())
                .collect();
            if !new.is_empty() {
                return pin(m, new);
            }
        }
        KeyCode::Char('r') => {
            d.table_focus = false;
            d.scanned = None;
            return key_discover(m, KeyEvent::from(KeyCode::Enter));
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}

/// The operator accepted these fingerprints: scan the hosts again, pinning their keys.
fn pin(m: &mut Model, addresses: Vec<String>) -> Option<Effect> {
    m.discover.pinning.extend(addresses.iter().cloned());
    m.discover.scanning = true;
    let accept = m
        .rows
        .iter()
        .filter(|r| addresses.contains(&r.found.address))
        .filter_map(|r| r.found.fingerprint.clone())
        .collect();
    Some(Effect::Discover {
        targets: addresses.join(", "),
        access: m.plan.access.clone(),
        sudo_password: m.access.sudo_password(),
        accept,
    })
}

fn key_hosts(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let list: Vec<String> = m
        .rows
        .iter()
        .filter(|r| r.usable())
        .map(|r| r.found.address.clone())
        .collect();
    match key.code {
        KeyCode::Up => m.hosts_cursor = m.hosts_cursor.saturating_sub(1),
        KeyCode::Down => m.hosts_cursor = (m.hosts_cursor + 1).min(list.len().saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some(a) = list.get(m.hosts_cursor) {
                if !m.excluded.remove(a) {
                    m.excluded.insert(a.clone());
                }
                m.sync_hosts();
            }
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}

pub const ROLE_COLUMNS: [Role; 3] = [Role::ControlPlane, Role::Etcd, Role::Worker];

fn toggle_role(host: &mut Host, role: Role) {
    if let Some(i) = host.roles.iter().position(|r| *r == role) {
        host.roles.remove(i);
    } else {
        host.roles.push(role);
        host.roles.sort();
    }
}

fn key_roles(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let (row, col) = &mut m.roles_cursor;
    let n = m.plan.hosts.len();
    match key.code {
        KeyCode::Up => *row = row.saturating_sub(1),
        KeyCode::Down => *row = (*row + 1).min(n.saturating_sub(1)),
        KeyCode::Left => *col = col.saturating_sub(1),
        KeyCode::Right => *col = (*col + 1).min(2),
        KeyCode::Char(' ') => {
            let role = ROLE_COLUMNS[*col];
            if let Some(h) = m.plan.hosts.get_mut(*row) {
                toggle_role(h, role);
            }
        }
        KeyCode::Char(c @ ('c' | 'e' | 'w')) => {
            let role = match c {
                'c' => Role::ControlPlane,
                'e' => Role::Etcd,
                _ => Role::Worker,
            };
            if let Some(h) = m.plan.hosts.get_mut(*row) {
                toggle_role(h, role);
            }
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}

fn cycle<T: Copy + PartialEq>(all: &[T], v: T) -> T {
    let i = all.iter().position(|x| *x == v).unwrap_or(0);
    all[(i + 1) % all.len()]
}

fn key_storage(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let devices: Vec<(String, Option<DiskInUse>)> = m
        .storage_devices()
        .iter()
        .map(|(_, d)| (d.name.clone(), plan::disk_in_use(d)))
        .collect();
    let used = m.used_devices();
    // A disk and one of its partitions never both go into layouts (check's E_DEVICE_OVERLAP).
    let overlap = devices.get(m.storage.cursor).and_then(|(name, _)| {
        let f = m.storage_facts()?;
        used.iter()
            .chain(m.storage.selected.iter())
            .find_map(|other| {
                let holder = plan::overlap_holder(f, name, other)?;
                Some(text::overlaps(
                    name,
                    other,
                    holder == other,
                    used.contains(other),
                ))
            })
    });
    let s = &mut m.storage;
    match key.code {
        KeyCode::Tab | KeyCode::BackTab => {
            let n = m.plan.hosts.len().max(1);
            s.host = if key.code == KeyCode::Tab {
                (s.host + 1) % n
            } else {
                (s.host + n - 1) % n
            };
            s.cursor = 0;
            s.selected.clear();
            s.wipe.clear();
            s.message = None;
        }
        KeyCode::Up => s.cursor = s.cursor.saturating_sub(1),
        KeyCode::Down => s.cursor = (s.cursor + 1).min(devices.len().saturating_sub(1)),
        KeyCode::Char(' ') => {
            if let Some((name, why)) = devices.get(s.cursor) {
                if s.selected.remove(name) {
                    return None;
                }
                if used.contains(name) {
                    s.message = Some(format!("{name} {}", text::IN_A_LAYOUT));
                } else if let Some(overlap) = overlap {
                    s.message = Some(overlap);
                } else if *why == Some(DiskInUse::HoldsRoot) {
                    s.message = Some(format!("{name} {}", text::HOLDS_ROOT));
                } else if let (Some(why), false) = (why, s.wipe.contains(name)) {
                    s.message = Some(format!("{name} {}: {}", why.label(), text::MARK_WIPE));
                } else {
                    s.selected.insert(name.clone());
                    s.message = None;
                }
            }
        }
        KeyCode::Char('w') => {
            if let Some((name, why)) = devices.get(s.cursor) {
                if let Some(why @ (DiskInUse::HoldsRoot | DiskInUse::Mounted)) = why {
                    s.message = Some(format!("{name} {}: {}", why.label(), text::NEVER_WIPE));
                } else if !s.wipe.remove(name) {
                    s.wipe.insert(name.clone());
                    s.message = Some(format!("{name} {}", text::WIPE_MARKED));
                } else {
                    s.selected.remove(name);
                }
            }
        }
        KeyCode::Char('l') => s.level = cycle(&Level::ALL, s.level),
        KeyCode::Char('f') => {
            s.filesystem = cycle(&[Filesystem::Ext4, Filesystem::Xfs], s.filesystem)
        }
        KeyCode::Char('d') => {
            s.discard = cycle(&[Discard::Auto, Discard::On, Discard::Off], s.discard)
        }
        KeyCode::Char('r') => s.relocate = !s.relocate,
        KeyCode::Char('m') => m.popup = Some(Popup::Mount(s.mount.clone())),
        KeyCode::Char('a') => add_layout(m),
        KeyCode::Char('x') => {
            if let Some(h) = m.plan.hosts.get_mut(m.storage.host) {
                h.storage.pop();
            }
        }
        KeyCode::Char('A') => apply_to_same(m),
        KeyCode::Enter => return next(m),
        _ => {}
    }
    None
}

fn add_layout(m: &mut Model) {
    let s = &m.storage;
    let devices: Vec<String> = m
        .storage_devices()
        .iter()
        .map(|(_, d)| d.name.clone())
        .filter(|n| s.selected.contains(n))
        .collect();
    let mount = s.mount.value().trim().to_string();
    let message = if devices.len() < s.level.min_devices() {
        Some(text::needs_disks(
            s.level.as_str(),
            s.level.min_devices(),
            devices.len(),
        ))
    } else {
        // The same rule as `check` and the storage stage, so the wizard never writes a
        // layout that either would refuse.
        plan::mount_problem(&mount).map(mount_message)
    };
    if let Some(msg) = message {
        m.storage.message = Some(msg);
        return;
    }
    let layout = StorageLayout {
        level: s.level,
        wipe: devices.iter().any(|d| s.wipe.contains(d)),
        devices,
        filesystem: s.filesystem,
        mount,
        discard: s.discard,
        relocate: if s.relocate {
            vec![Relocate::Kubelet, Relocate::Containerd]
        } else {
            vec![]
        },
    };
    let host = m.storage.host;
    if let Some(h) = m.plan.hosts.get_mut(host) {
        h.storage.push(layout);
    }
    m.storage.selected.clear();
    m.storage.message = Some(text::LAYOUT_ADDED.into());
}

/// A refused mount point as one line: the reason, then the fix when there is one.
fn mount_message(problem: plan::MountProblem) -> String {
    match problem.hint {
        Some(hint) => format!("{}: {hint}", problem.message),
        None => problem.message,
    }
}

/// Copies this host's layouts to every other host whose devices of the same names have the
/// same sizes (docs/wizard.md, "Apply to all hosts with the same disks"). `wipe` never travels: the
/// operator looked at this host's disks, not at the others', so a target disk that holds
/// data, is mounted or holds `/` skips that host with a message naming it; only hosts whose
/// disks are all blank get the layouts.
fn apply_to_same(m: &mut Model) {
    let Some(src) = m.storage_host().cloned() else {
        return;
    };
    let Some(src_facts) = m.facts.get(&src.name).cloned() else {
        return;
    };
    let layouts: Vec<StorageLayout> = src
        .storage
        .iter()
        .map(|l| StorageLayout {
            wipe: false,
            ..l.clone()
        })
        .collect();
    let mut applied = Vec::new();
    let mut differ = Vec::new();
    let mut unsafe_hosts = Vec::new();
    for i in 0..m.plan.hosts.len() {
        if i == m.storage.host {
            continue;
        }
        let name = m.plan.hosts[i].name.clone();
        let Some(f) = m.facts.get(&name) else {
            continue;
        };
        let devices: Vec<&String> = layouts.iter().flat_map(|l| l.devices.iter()).collect();
        let same = devices
            .iter()
            .all(|d| match (src_facts.device(d), f.device(d)) {
                (Some(a), Some(b)) => a.size_bytes == b.size_bytes && a.rotational == b.rotational,
                _ => false,
            });
        if !same {
            differ.push(name);
            continue;
        }
        let blocked = devices.iter().find_map(|d| {
            f.device(d)
                .and_then(plan::disk_in_use)
                .map(|why| (d.to_string(), why))
        });
        match blocked {
            Some((disk, why)) => unsafe_hosts.push(text::not_applied_unsafe(&name, &disk, why)),
            None => {
                m.plan.hosts[i].storage = layouts.clone();
                applied.push(name);
            }
        }
    }
    let mut parts = Vec::new();
    if !applied.is_empty() {
        parts.push(format!("{} {}", text::APPLIED_TO, applied.join(", ")));
    }
    if !differ.is_empty() {
        parts.push(format!("{} {}", text::DISKS_DIFFER, differ.join(", ")));
    }
    parts.extend(unsafe_hosts);
    m.storage.message = Some(if parts.is_empty() {
        text::NO_OTHER_HOSTS.into()
    } else {
        parts.join("; ")
    });
}

fn key_network(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let f = &mut m.network;
    match key.code {
        KeyCode::Enter => return next(m),
        KeyCode::Tab | KeyCode::Down => f.focus = f.focus.next(),
        KeyCode::BackTab | KeyCode::Up => f.focus = f.focus.prev(),
        KeyCode::Char(' ') if f.focus == NetField::AutoAssign => f.auto_assign = !f.auto_assign,
        _ => {
            if let Some(i) = f.inputs.get_mut(&f.focus) {
                handle_input(i, key);
            }
        }
    }
    m.sync_network();
    None
}

fn key_review(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let r = &mut m.review;
    match key.code {
        KeyCode::Tab | KeyCode::Right => {
            r.tab = cycle(&ReviewTab::ALL, r.tab);
            r.scroll = 0;
        }
        KeyCode::BackTab | KeyCode::Left => {
            r.tab = cycle(
                &[ReviewTab::Commands, ReviewTab::Files, ReviewTab::Findings],
                r.tab,
            );
            r.scroll = 0;
        }
        KeyCode::Up => r.scroll = r.scroll.saturating_sub(1),
        KeyCode::Down => r.scroll = r.scroll.saturating_add(1),
        KeyCode::PageUp => r.scroll = r.scroll.saturating_sub(10),
        KeyCode::PageDown => r.scroll = r.scroll.saturating_add(10),
        KeyCode::Home => r.scroll = 0,
        KeyCode::Char('e') if r.tab == ReviewTab::Commands => r.expand = !r.expand,
        KeyCode::Char('s') => {
            let default = m
                .plan_path
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.yaml", m.plan.cluster.name)));
            m.popup = Some(Popup::SavePath(input(&default.display().to_string())));
        }
        KeyCode::Enter => return next(m),
        _ => {}
    }
    clamp_review_scroll(m);
    None
}

/// Review scrolls no further than its last row (the same height the view draws with).
fn clamp_review_scroll(m: &mut Model) {
    if m.step == Step::Review {
        m.review.scroll = m.review.scroll.min(super::screens::review::max_scroll(m));
    }
}

/// Hosts whose storage stage formats disks (every layout does; `wipe` also destroys data
/// already there): the run asks for each host's name first, and the runner refuses the
/// stage on hosts not confirmed this way.
fn destructive_hosts(plan: &Plan) -> Vec<String> {
    plan.hosts
        .iter()
        .filter(|h| !h.storage.is_empty())
        .map(|h| h.name.clone())
        .collect()
}

fn start(m: &mut Model, action: Action) -> Option<Effect> {
    // Hosts confirmed earlier in this session are not asked again (a retry, a skip).
    let wipes: Vec<String> = destructive_hosts(&m.plan)
        .into_iter()
        .filter(|h| !m.provision.consent.contains(h))
        .collect();
    let touches_storage = match &action {
        Action::RunStages { from, .. } => *from <= StageId::Storage,
        Action::Abort => false,
    };
    if touches_storage && !wipes.is_empty() {
        m.popup = Some(Popup::Confirm {
            action,
            what: text::CONFIRM_WIPE.into(),
            hosts: wipes,
            input: Input::default(),
        });
        return None;
    }
    confirmed(m, action)
}

/// The second step of a destructive action: the operator has confirmed.
fn confirmed(m: &mut Model, action: Action) -> Option<Effect> {
    match action {
        Action::RunStages { from, hosts } => {
            let p = &mut m.provision;
            p.running = true;
            p.started = true;
            p.failed_stage = None;
            for h in m.plan.hosts.iter() {
                if hosts.is_empty() || hosts.contains(&h.name) {
                    for s in StageId::ALL.into_iter().filter(|s| *s >= from) {
                        p.grid.insert((h.name.clone(), s), StepState::Pending);
                    }
                }
            }
            Some(Effect::RunStages {
                plan: m.plan.clone(),
                from,
                hosts,
                consent: p.consent.clone(),
                plan_path: m.plan_path.clone(),
                facts: m.facts.clone(),
                sudo_password: m.access.sudo_password(),
            })
        }
        Action::Abort => {
            let p = &mut m.provision;
            // What was running stops where it is: it counts as failed, so r retries it.
            for ((host, stage), st) in p.grid.iter_mut() {
                if *st == StepState::Running {
                    *st = StepState::Failed;
                    p.messages
                        .insert((host.clone(), *stage), text::ABORTED.into());
                    p.failed_stage = Some(p.failed_stage.map_or(*stage, |s| s.min(*stage)));
                }
            }
            m.provision.running = false;
            m.status = Some(text::ABORTED.into());
            Some(Effect::AbortRun)
        }
    }
}

fn key_provision(m: &mut Model, key: KeyEvent) -> Option<Effect> {
    let p = &mut m.provision;
    let n = p.panes.len().max(1);
    let page = (m.size.1 / 3).max(1) as usize;
    match key.code {
        KeyCode::Enter if !p.started => {
            return start(
                m,
                Action::RunStages {
                    from: StageId::Preflight,
                    hosts: vec![],
                },
            );
        }
        KeyCode::Enter if p.finished() && !p.running => return next(m),
        KeyCode::Char('r') if !p.running => {
            let hosts = p.failed_hosts();
            if let (Some(from), false) = (p.failed_stage, hosts.is_empty()) {
                return start(m, Action::RunStages { from, hosts });
            }
        }
        KeyCode::Char('s') if !p.running => {
            // Skip: the failed stage counts as skipped and the run goes on with the next one.
            if let Some(stage) = p.failed_stage {
                for st in p.grid.values_mut().filter(|s| **s == StepState::Failed) {
                    *st = StepState::Skipped;
                }
                if let Some(next_stage) = StageId::ALL.into_iter().find(|s| *s > stage) {
                    return confirmed(
                        m,
                        Action::RunStages {
                            from: next_stage,
                            hosts: vec![],
                        },
                    );
                }
            }
        }
        KeyCode::Char('a') if p.running => {
            m.popup = Some(Popup::Confirm {
                action: Action::Abort,
                hosts: vec![],
                what: text::ABORT_QUESTION.into(),
                input: Input::default(),
            });
        }
        KeyCode::Tab => p.focus = (p.focus + 1) % n,
        KeyCode::BackTab => p.focus = (p.focus + n - 1) % n,
        KeyCode::Char('f') => {
            if let Some(pane) = p.panes.get_mut(p.focus) {
                pane.follow = !pane.follow;
                pane.offset = 0;
            }
        }
        KeyCode::Up
        | KeyCode::PageUp
        | KeyCode::Down
        | KeyCode::PageDown
        | KeyCode::Home
        | KeyCode::End => {
            if let Some(pane) = p.panes.get_mut(p.focus) {
                let max = pane.lines.len().saturating_sub(1);
                let step = if matches!(key.code, KeyCode::PageUp | KeyCode::PageDown) {
                    page
                } else {
                    1
                };
                match key.code {
                    KeyCode::Up | KeyCode::PageUp => {
                        pane.follow = false;
                        pane.offset = (pane.offset + step).min(max);
                    }
                    KeyCode::Home => {
                        pane.follow = false;
                        pane.offset = max;
                    }
                    KeyCode::End => {
                        pane.follow = true;
                        pane.offset = 0;
                    }
                    _ => {
                        pane.offset = pane.offset.saturating_sub(step);
                        if pane.offset == 0 {
                            pane.follow = true;
                        }
                    }
                }
            }
        }
        KeyCode::Char('/') => m.popup = Some(Popup::Search(Input::default())),
        KeyCode::Char('n') => search_next(m),
        _ => {}
    }
    None
}

/// Scrolls the focused pane up to the next older line containing the search text.
fn search_next(m: &mut Model) {
    let Some(needle) = m.provision.search.clone().filter(|s| !s.is_empty()) else {
        return;
    };
    let focus = m.provision.focus;
    let Some(pane) = m.provision.panes.get_mut(focus) else {
        return;
    };
    let len = pane.lines.len();
    let start = if pane.follow { 0 } else { pane.offset + 1 };
    for off in start..len {
        let line = &pane.lines[len - 1 - off];
        if strip_ansi(line)
            .to_lowercase()
            .contains(&needle.to_lowercase())
        {
            pane.follow = false;
            pane.offset = off;
            m.status = None;
            return;
        }
    }
    m.status = Some(format!("{} {needle:?}", text::NOT_FOUND));
}

/// Text without ANSI escape sequences (for search).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn on_popup_key(m: &mut Model, popup: Popup, key: KeyEvent) -> Option<Effect> {
    match popup {
        Popup::Help => None,
        Popup::Quit => {
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Enter) {
                m.quit = true;
                if m.provision.running {
                    return Some(Effect::AbortRun);
                }
            }
            None
        }
        Popup::SavePath(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                let path = PathBuf::from(i.value().trim());
                Some(Effect::SavePlan {
                    path,
                    plan: m.plan.clone(),
                })
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::SavePath(i));
                None
            }
        },
        Popup::Mount(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                let value = i.value().trim().to_string();
                match plan::mount_problem(&value) {
                    // Refused here, with the reason, rather than at `a`: the same rule as
                    // `check` and the storage stage.
                    Some(problem) => {
                        m.storage.message = Some(mount_message(problem));
                        m.popup = Some(Popup::Mount(i));
                    }
                    None => {
                        m.storage.mount = i;
                        m.storage.message = None;
                    }
                }
                None
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::Mount(i));
                None
            }
        },
        Popup::Passphrase {
            key: path,
            mut input,
            reply,
            retry,
            behind,
        } => match key.code {
            KeyCode::Esc => {
                m.popup = behind.map(|b| *b);
                Some(Effect::AnswerPassphrase {
                    reply,
                    passphrase: None,
                })
            }
            KeyCode::Enter => {
                m.passphrase_answered = Some(path);
                m.popup = behind.map(|b| *b);
                Some(Effect::AnswerPassphrase {
                    reply,
                    passphrase: Some(Secret(input.value().to_string())),
                })
            }
            _ => {
                handle_input(&mut input.0, key);
                m.popup = Some(Popup::Passphrase {
                    key: path,
                    input,
                    reply,
                    retry,
                    behind,
                });
                None
            }
        },
        Popup::Search(mut i) => match key.code {
            KeyCode::Esc => None,
            KeyCode::Enter => {
                m.provision.search = Some(i.value().to_string());
                search_next(m);
                None
            }
            _ => {
                handle_input(&mut i, key);
                m.popup = Some(Popup::Search(i));
                None
            }
        },
        Popup::Confirm {
            action,
            mut hosts,
            what,
            mut input,
        } => match key.code {
            KeyCode::Esc => None,
            KeyCode::Char('n') if hosts.is_empty() => None,
            KeyCode::Char('y') | KeyCode::Enter if hosts.is_empty() => confirmed(m, action),
            KeyCode::Enter => {
                if hosts.first().map(String::as_str) == Some(input.value().trim()) {
                    m.provision.consent.push(hosts.remove(0));
                    if hosts.is_empty() {
                        return confirmed(m, action);
                    }
                    input = Input::default();
                } else {
                    m.status = Some(text::NAME_MISMATCH.into());
                }
                m.popup = Some(Popup::Confirm {
                    action,
                    hosts,
                    what,
                    input,
                });
                None
            }
            _ => {
                handle_input(&mut input, key);
                m.popup = Some(Popup::Confirm {
                    action,
                    hosts,
                    what,
                    input,
                });
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_panes_keep_the_last_lines_only() {
        let mut pane = LogPane {
            follow: true,
            ..Default::default()
        };
        for i in 0..SCROLLBACK_LINES + 500 {
            pane.push(format!("line {i}"));
        }
        assert_eq!(pane.lines.len(), SCROLLBACK_LINES);
        assert_eq!(pane.dropped, 500);
        assert_eq!(pane.lines.front().map(String::as_str), Some("line 500"));
    }

    #[test]
    fn a_paused_pane_stays_on_the_same_lines_while_output_arrives() {
        let mut pane = LogPane::default();
        for i in 0..10 {
            pane.push(format!("{i}"));
        }
        pane.offset = 3;
        pane.push("new".into());
        assert_eq!(pane.offset, 4, "the view keeps showing the same line");
    }

    fn disk(name: &str, fstype: Option<&str>) -> BlockDevice {
        BlockDevice {
            name: name.into(),
            kind: "disk".into(),
            size_bytes: 8 << 30,
            fstype: fstype.map(str::to_string),
            ..Default::default()
        }
    }

    fn press(m: &mut Model, code: KeyCode) -> Option<Effect> {
        update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    #[test]
    fn apply_to_same_disks_never_carries_wipe_to_other_hosts() {
        let mut m = Model::new(Mode::Live, empty_plan("t"), "");
        // node1: sdb holds an old filesystem the operator looked at and marks for wiping.
        // node2: sdb is blank. node3: sdb holds an ext4 filesystem nobody looked at.
        for (name, fs) in [
            ("node1", Some("ext4")),
            ("node2", None),
            ("node3", Some("ext4")),
        ] {
            m.plan.hosts.push(Host {
                name: name.into(),
                address: format!("10.0.0.{}", m.plan.hosts.len() + 1),
                roles: vec![Role::Worker],
                labels: BTreeMap::new(),
                storage: vec![],
            });
            let facts = HostFacts {
                hostname: name.into(),
                disks: vec![disk("sdb", fs)],
                ..Default::default()
            };
            m.facts.insert(name.into(), facts);
        }
        m.step = Step::Storage;
        m.storage.level = Level::Single;
        for k in [KeyCode::Char('w'), KeyCode::Char(' '), KeyCode::Char('a')] {
            press(&mut m, k);
        }
        assert_eq!(m.plan.hosts[0].storage.len(), 1);
        assert!(m.plan.hosts[0].storage[0].wipe, "node1's own choice stays");

        press(&mut m, KeyCode::Char('A'));
        let node2 = &m.plan.hosts[1].storage;
        assert_eq!(node2.len(), 1, "the blank disk gets the layout");
        assert!(!node2[0].wipe, "wipe is never copied");
        assert_eq!(node2[0].devices, ["sdb"]);
        assert!(
            m.plan.hosts[2].storage.is_empty(),
            "node3's disk holds data: left alone"
        );
        assert_eq!(
            m.storage.message.as_deref(),
            Some("applied to node2; node3: sdb holds data; mark it for wiping on node3 itself")
        );
        // The plan's checks agree: nothing would format node3's filesystem.
        assert!(
            !m.plan_findings()
                .iter()
                .any(|f| f.severity == Severity::Error && f.path.contains("node3")),
            "{:?}",
            m.plan_findings()
        );
    }

    /// The mount popup refuses what `check` and the storage stage refuse, saying why, and
    /// keeps the popup open; a plain absolute path is taken.
    #[test]
    fn mount_popup_refuses_what_check_refuses() {
        let mut m = Model::new(Mode::Live, empty_plan("t"), "");
        m.step = Step::Storage;
        let before = m.storage.mount.value().to_string();
        for (typed, says) in [
            ("/data/", "trailing or doubled `/`: write /data"),
            ("/mnt//x", "write /mnt/x"),
            ("/mnt/my disk", "blank or control character"),
            ("/mnt/../etc", "`..`"),
            ("/", "system directory"),
            ("data", "not an absolute path"),
        ] {
            press(&mut m, KeyCode::Char('m'));
            // Clear the field, type, confirm.
            for _ in 0..40 {
                press(&mut m, KeyCode::Backspace);
            }
            for c in typed.chars() {
                press(&mut m, KeyCode::Char(c));
            }
            press(&mut m, KeyCode::Enter);
            assert!(
                matches!(m.popup, Some(Popup::Mount(_))),
                "{typed}: popup stays open"
            );
            let msg = m.storage.message.clone().unwrap_or_default();
            assert!(msg.contains(says), "{typed}: {msg}");
            assert_eq!(m.storage.mount.value(), before, "{typed} not taken");
            m.popup = None;
        }
        press(&mut m, KeyCode::Char('m'));
        for _ in 0..40 {
            press(&mut m, KeyCode::Backspace);
        }
        for c in "/srv/data".chars() {
            press(&mut m, KeyCode::Char(c));
        }
        press(&mut m, KeyCode::Enter);
        assert!(m.popup.is_none());
        assert_eq!(m.storage.mount.value(), "/srv/data");
    }

    /// A disk and one of its partitions never both go into layouts, in either order, as
    /// `check` refuses with E_DEVICE_OVERLAP.
    #[test]
    fn storage_refuses_a_partition_of_a_used_disk_and_the_disk_of_a_selected_partition() {
        let model = || {
            let mut m = Model::new(Mode::Live, empty_plan("t"), "");
            m.plan.hosts.push(Host {
                name: "node1".into(),
                address: "10.0.0.1".into(),
                roles: vec![Role::Worker],
                labels: BTreeMap::new(),
                storage: vec![],
            });
            let mut sdb = disk("sdb", None);
            sdb.children = vec![BlockDevice {
                kind: "part".into(),
                ..disk("sdb1", None)
            }];
            let facts = HostFacts {
                hostname: "node1".into(),
                disks: vec![sdb],
                ..Default::default()
            };
            m.facts.insert("node1".into(), facts);
            m.step = Step::Storage;
            m.storage.level = Level::Single;
            m
        };

        // The disk in a layout, then its partition.
        let mut m = model();
        for k in [KeyCode::Char('w'), KeyCode::Char(' '), KeyCode::Char('a')] {
            press(&mut m, k);
        }
        assert_eq!(m.plan.hosts[0].storage[0].devices, ["sdb"]);
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char(' '));
        assert!(m.storage.selected.is_empty());
        assert_eq!(
            m.storage.message.as_deref(),
            Some(
                "sdb1 lies on sdb, which is already in a layout: use the disk or its partitions, not both"
            )
        );

        // The partition selected, then its disk.
        let mut m = model();
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char(' '));
        assert!(m.storage.selected.contains("sdb1"));
        press(&mut m, KeyCode::Up);
        press(&mut m, KeyCode::Char('w'));
        press(&mut m, KeyCode::Char(' '));
        assert!(!m.storage.selected.contains("sdb"));
        assert_eq!(
            m.storage.message.as_deref(),
            Some("sdb holds sdb1, which is selected: use the disk or its partitions, not both")
        );
    }

    #[test]
    fn ansi_is_stripped_for_search() {
        assert_eq!(strip_ansi("\x1b[31mfailed=1\x1b[0m ok"), "failed=1 ok");
    }
}
