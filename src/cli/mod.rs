//! Command-line definitions (the contract in the README and docs/, which scripts rely on) and one module
//! per subcommand. Every subcommand returns the exit code the contract gives it; an `Err` is
//! an unexpected failure and exits 2 with the report.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod apply;
pub mod check;
pub mod common;
pub mod demo;
pub mod discover;
pub mod drift;
pub mod kubespray;
pub mod node;
pub mod output;
pub mod pins;
pub mod render;
pub mod status;
pub mod wizard;

/// From bare-metal Ubuntu hosts over SSH to a verified Kubernetes cluster.
///
/// With no command, opens the interactive wizard.
#[derive(Debug, Parser)]
#[command(name = "rackstrap", version, about, long_about = None)]
pub struct Cli {
    /// Reopen a saved plan in the wizard (recovery / reinstall)
    #[arg(long, value_name = "FILE", global = false)]
    pub plan: Option<PathBuf>,
    /// The wizard's stall limit for every command of a run, as `apply --stall-after` takes
    /// it (`90`, `30m`, `2h`); a stalled command asks on Provision: keep waiting or fail
    #[arg(long, value_name = "SPAN", value_parser = crate::text::parse_span)]
    pub stall_after: Option<std::time::Duration>,
    /// How long the wizard's discovery waits for a host's facts, as `discover
    /// --facts-timeout` takes it (`30`, `2m`)
    #[arg(long, value_name = "SPAN", value_parser = crate::text::parse_span)]
    pub facts_timeout: Option<std::time::Duration>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the wizard on a built-in simulated lab; touches nothing
    Demo(DemoArgs),
    /// Find SSH hosts in address ranges and gather their facts
    Discover(DiscoverArgs),
    /// Check a plan and print every finding
    Check(CheckArgs),
    /// Write the Kubespray inventory and extras for a plan
    Render(RenderArgs),
    /// Provision the hosts of a plan, stage by stage (resumable)
    Apply(ApplyArgs),
    /// Show the stage x host state of a plan's saved run
    Status(StatusArgs),
    /// What differs between a plan, its hosts and its cluster, with the action per host
    Drift(DriftArgs),
    /// Add, remove or replace one node of a running cluster (quorum-checked)
    Node(NodeArgs),
    /// Kubespray on this machine: `prepare` clones the plan's release and its Ansible
    #[command(subcommand)]
    Kubespray(KubesprayCommand),
}

#[derive(Debug, Subcommand)]
pub enum KubesprayCommand {
    /// Clone the plan's Kubespray release into cluster.kubespray.path, make its virtualenv
    /// and install its requirements.txt (does nothing when that is already done)
    Prepare(PrepareArgs),
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// The plan file
    pub plan: PathBuf,
    /// Git repository to clone from: a URL, a file:// URL or a local path
    #[arg(long = "from", value_name = "URL", default_value = crate::kubespray::prepare::UPSTREAM)]
    pub from: String,
    /// Python interpreter the virtualenv is made with
    #[arg(long, value_name = "PROGRAM", default_value = "python3")]
    pub python: String,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The plan file
    pub plan: PathBuf,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Confirm the new host key of this plan host (the one the report shows) and pin it
    #[arg(long, value_name = "HOST")]
    pub accept_new_key: Option<String>,
    /// rackstrap's known_hosts file (default: ~/.config/rackstrap/known_hosts)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// add, remove, replace, or relay (the storage stage again on a reinstalled node)
    #[arg(value_parser = ["add", "remove", "replace", "relay"])]
    pub action: String,
    /// The plan file (saved again only when the action succeeds)
    pub plan: PathBuf,
    /// The plan host
    pub name: String,
    /// Print the quorum arithmetic, the inventory and every command; run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm an action that weakens etcd quorum, or relay's destructive storage work,
    /// without asking (headless)
    #[arg(long)]
    pub yes: bool,
    /// rackstrap's known_hosts file (default: ~/.config/rackstrap/known_hosts)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which simulated lab to open
    #[arg(long, default_value = "akash", value_parser = ["akash", "homelab", "ais", "recovery"])]
    pub lab: String,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Targets: CIDR (10.0.10.0/28), ranges (10.0.10.5-10.0.10.20, or 10.0.10.5-20 giving
    /// only the last octet), addresses or hostnames; comma or space separated
    #[arg(required = true, value_name = "RANGE")]
    pub ranges: Vec<String>,
    /// Login user
    #[arg(long, default_value = "root")]
    pub user: String,
    /// SSH port
    #[arg(long, default_value_t = 22)]
    pub port: u16,
    /// Private key file (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// rackstrap's known_hosts file (default: ~/.config/rackstrap/known_hosts)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Pin host keys seen for the first time without asking
    #[arg(long)]
    pub accept_new: bool,
    /// Scan more than 65,536 addresses
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object per host instead of a table
    #[arg(long)]
    pub json: bool,
    /// How long gathering facts on a connected host may take before it is reported as
    /// stalled: seconds (`30`) or with a unit (`45s`, `2m`). Default 30 s
    /// (RACKSTRAP_FACTS_TIMEOUT also sets it)
    #[arg(long, value_name = "SPAN", value_parser = crate::text::parse_span)]
    pub facts_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plan file
    pub plan: PathBuf,
    /// Output format
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Host facts saved by `rackstrap discover --json`: adds the hardware and disk checks
    /// (plan hosts are matched by address, then by name)
    #[arg(long, value_name = "FILE")]
    pub facts: Option<PathBuf>,
    /// Print the ports each node must reach on the others (by role pair), instead of the
    /// findings; the plan's errors, if any, go to stderr and exit 1
    #[arg(long)]
    pub ports: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The plan file
    pub plan: PathBuf,
    /// Directory to write hosts.yaml, group_vars/ and extras into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file
    pub plan: PathBuf,
    /// Run only these stages (preflight, host-prep, storage, kubespray, verify, load-balancer)
    #[arg(long = "stage", value_name = "S")]
    pub stages: Vec<String>,
    /// Run only on these hosts (plan host names)
    #[arg(long = "host", value_name = "H")]
    pub hosts: Vec<String>,
    /// Print every command each stage would run on each host; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Consent to destructive stages without asking (headless)
    #[arg(long)]
    pub yes: bool,
    /// rackstrap's known_hosts file (default: ~/.config/rackstrap/known_hosts)
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Pin host keys seen for the first time without asking
    #[arg(long)]
    pub accept_new: bool,
    /// A command that prints nothing and does not exit for this long is stalled: seconds
    /// (`90`) or with a unit (`90s`, `30m`, `2h`); one limit for every command. Default by
    /// command: 30m for mkfs, mdadm, wipefs; 20m for package installs; 45m of silence from
    /// Kubespray's ansible-playbook; 10m for the rest (RACKSTRAP_STALL_SECS also sets it)
    #[arg(long, value_name = "SPAN", value_parser = crate::text::parse_span)]
    pub stall_after: Option<std::time::Duration>,
    /// What a stalled command leads to: `fail` fails that host's step (the other hosts
    /// carry on); `wait` keeps waiting, printing a line each time it passes its limit again
    #[arg(long, value_name = "WHAT", value_enum, default_value_t = OnStallArg::Fail)]
    pub on_stall: OnStallArg,
}

/// `apply --on-stall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnStallArg {
    Fail,
    Wait,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The plan file
    pub plan: PathBuf,
}

/// What the operator reads when a command fails: the chain of causes on one line
/// (`reopening cluster.yaml: cannot read: No such file or directory`), each cause once.
/// Source locations and backtraces are for bugs, not for a mistyped path: they are shown
/// only with `RACKSTRAP_DEBUG=1`.
pub fn error_text(report: &color_eyre::Report) -> String {
    if std::env::var_os("RACKSTRAP_DEBUG").is_some_and(|v| v == "1") {
        return format!("{report:?}");
    }
    let mut text = String::new();
    for cause in report.chain() {
        let cause = cause.to_string();
        // Wrapped errors often repeat their source's text at the end; say it once.
        if text.ends_with(&cause) || text.contains(&format!(": {cause}")) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}
