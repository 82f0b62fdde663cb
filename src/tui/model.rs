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

use super::popups::Popup;
use super::secret::{Masked, Reply};
use super::text;
use crate::discover::{Discovered, HostState};
use crate::facts::{BlockDevice, Facts, HostFacts};
use crate::net;
use crate::plan::{
    self, Code, Discard, Filesystem, Finding, Host, Level, Plan, Role, Severity, Subject,
};
use crate::provision::readiness::Blocker;
use crate::provision::{Event, Selection};

mod state;
mod sync;

pub use state::{
    AccessField, AccessForm, DiscoverState, LogPane, NetField, NetworkForm, Problem, ProblemKind,
    ProvisionState, ReviewState, ReviewTab, Row, SCROLLBACK_LINES, StallQuestion, StorageState,
};

/// Smallest terminal the frame is laid out for (docs/wizard.md: it works at 80x24 and larger).
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

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

    /// The step bar's name: the screen's own.
    pub fn title(self) -> &'static str {
        super::screens::of(self).name
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
    /// What the typed key file holds (`path` as typed when the check started).
    KeyChecked {
        path: String,
        check: crate::ssh::auth::KeyCheck,
    },
    /// The ssh-agent's identities ("algorithm fingerprint comment").
    AgentIdentities(Vec<String>),
    /// What cannot start on this machine (the control machine), checked on entering Review.
    MachineChecked(Vec<Blocker>),
    /// Kubespray's findings for the plan (`crate::kubespray::tree_findings`).
    KubesprayChecked(Vec<crate::plan::Finding>),
    /// What the plan's Kubespray tree needs to be ready (`crate::kubespray::prepare::needed`).
    KubesprayNeed(Option<crate::kubespray::prepare::Need>),
    /// The preparing of the Kubespray tree goes on (`super::prepare`).
    Preparing(super::prepare::PrepareEvent),
    /// An SSH task needs the passphrase of an encrypted key: the popup asks, `reply` answers.
    PassphraseNeeded {
        key: PathBuf,
        reply: Reply,
    },
    /// The event loop started: a reopened plan asks for its drift survey.
    Opened,
    /// The drift survey of a reopened plan.
    Drift(crate::recovery::Report),
    /// A recovery action ended: its last output lines, then `Err` if it failed.
    RecoveryDone {
        lines: Vec<String>,
        result: Result<(), String>,
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
    /// Making the Kubespray tree ready before Provision (`super::prepare`).
    pub prepare: super::prepare::PrepareState,
    pub popup: Option<Popup>,
    pub size: (u16, u16),
    pub theme: Theme,
    pub plan_path: Option<PathBuf>,
    pub quit: bool,
    pub status: Option<String>,
    /// The key whose passphrase was answered last (a second request for it means the
    /// answer was wrong). The passphrase itself is not kept.
    pub passphrase_answered: Option<PathBuf>,
    /// The Drift screen, shown over the steps while a reopened plan's drift is reviewed.
    pub drift: Option<super::screens::drift::DriftState>,
}

pub(crate) fn input(s: &str) -> Input {
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
            key_check: None,
            agent: None,
        };
        Model {
            mode,
            step: Step::Access,
            reached: Step::Access,
            network: NetworkForm {
                inputs,
                auto_assign: pool.map(|p| p.auto_assign).unwrap_or(true),
                focus: NetField::PoolName,
                other_pools: plan
                    .network
                    .load_balancer
                    .pools
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect(),
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
                search: None,
                query: String::new(),
                machine: Vec::new(),
                kubespray: Vec::new(),
            },
            provision: ProvisionState::default(),
            prepare: Default::default(),
            popup: None,
            size: (MIN_WIDTH, MIN_HEIGHT),
            theme: Theme {
                color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            },
            plan_path: None,
            quit: false,
            status: None,
            passphrase_answered: None,
            drift: None,
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

    /// The stages and hosts the next run covers (all unless the operator left some out).
    pub fn run_selection(&self) -> Selection {
        self.provision
            .selection
            .clone()
            .unwrap_or_else(|| Selection::all(&self.plan))
    }

    /// What stops a chosen stage from starting on this machine (as last checked).
    pub fn machine_blockers(&self) -> Vec<&Blocker> {
        let sel = self.run_selection();
        self.review
            .machine
            .iter()
            .filter(|b| sel.has_stage(b.stage) && !sel.hosts.is_empty())
            .collect()
    }

    /// The machine's blockers as findings: warnings on Review (the run can leave the stage
    /// out), each with what to do.
    pub fn machine_findings(&self) -> Vec<Finding> {
        self.machine_blockers()
            .into_iter()
            .map(|b| Finding {
                severity: Severity::Warning,
                code: Code::W_CANNOT_RUN_HERE,
                path: format!("stages.{}", b.stage),
                message: format!(
                    "{} cannot run on this machine: {}",
                    b.stage.title(),
                    b.problem
                ),
                hint: Some(b.fix.clone()),
            })
            .collect()
    }

    /// The findings of the whole plan: the core's, worded for the screens.
    pub fn plan_findings(&self) -> Vec<Finding> {
        super::widgets::findings::of_plan(&self.plan, &self.facts)
    }

    /// The core's findings about these subjects (not the merely informative ones).
    pub fn plan_findings_about(&self, subjects: &[Subject]) -> Vec<Finding> {
        self.plan_findings()
            .into_iter()
            .filter(|f| subjects.contains(&f.code.subject()) && f.severity != Severity::Info)
            .collect()
    }

    /// The findings that matter on the current screen (each screen says which), errors
    /// first.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = (super::screens::current(self).findings)(self);
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
        let entry_error = |e: net::EntryError| crate::net::ParseError {
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
            NetField::PoolAddresses => net::parse_entries(v).err().map(entry_error),
            NetField::AutoAssign => None,
            NetField::ServiceCidr | NetField::PodCidr => {
                net::parse_cidr_field(v).err().map(entry_error)
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
}
