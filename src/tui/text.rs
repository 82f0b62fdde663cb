//! User-facing strings, together so they read consistently: sentence case, no trailing
//! period in one-line messages, the same verb for the same action on every screen.

use crate::plan::DiskInUse;

pub const APP: &str = "rackstrap";
pub const DEMO_BANNER: &str = "DEMO: simulated lab, nothing is touched";
pub const TOO_SMALL: &str = "rackstrap needs a terminal of at least 80x24";

pub const ACCESS_INTRO: &str = "rackstrap logs in over SSH with a key; passwords are never stored.";
/// The Access screen's note next to the sudo password field.
pub const SUDO_PASSWORD_HINT: &str = "only if sudo asks; never saved";
pub const PASSPHRASE_CANCEL: &str = "Esc cancel: hosts that need this key fail";
pub const PASSPHRASE_RETRY: &str = "that passphrase did not open the key; try again";

pub const NEED_CLUSTER_NAME: &str = "the cluster needs a name";
pub const NEED_USER: &str = "the SSH user is empty";
pub const BAD_PORT: &str = "the SSH port must be a number 1-65535";
pub const NEED_TARGETS: &str = "type the addresses to scan";
pub const NEED_ACCEPTED_HOST: &str = "scan, then accept at least one host (Space, or a for all)";
pub const NEED_HOST: &str = "include at least one host";
pub const FIX_ERRORS: &str = "fix the errors first (see the findings below)";

pub const IN_A_LAYOUT: &str = "is already in a layout";
pub const HOLDS_ROOT: &str = "holds the root filesystem and can never be used";
pub const MARK_WIPE: &str = "press w to mark it for wiping first";
pub const NEVER_WIPE: &str = "rackstrap never wipes it";
pub const WIPE_MARKED: &str = "marked for wiping: its data will be destroyed";
pub const LAYOUT_ADDED: &str = "layout added";
pub const APPLIED_TO: &str = "applied to";
pub const DISKS_DIFFER: &str = "disks differ on";
pub const NO_OTHER_HOSTS: &str = "no other hosts";

/// "Apply to all hosts with the same disks" skipped a host because one of its disks is not
/// blank there: wiping is decided per host, after looking at that host's disks.
pub fn not_applied_unsafe(host: &str, disk: &str, why: DiskInUse) -> String {
    match why {
        DiskInUse::HasData => {
            format!("{host}: {disk} holds data; mark it for wiping on {host} itself")
        }
        DiskInUse::HoldsRoot => {
            format!("{host}: {disk} holds the root filesystem; not applied there")
        }
        DiskInUse::Mounted => format!("{host}: {disk} is mounted; not applied there"),
    }
}

pub const SAVED: &str = "plan saved to";
pub const SAVE_FIRST: &str = "save the plan first (s): the run keeps its state and logs next to it";
pub const CONFIRM_WIPE: &str = "The storage stage formats disks: whatever is on them is lost.";
pub const ABORT_QUESTION: &str = "Abort the run? Stages in progress stop where they are.";
pub const ABORTED: &str = "run aborted";
pub const NAME_MISMATCH: &str = "that is not the host's name";
pub const NOT_FOUND: &str = "not found:";
pub const RUN_FINISHED: &str = "every stage finished: press Enter";

pub const HELP_GLOBAL: &str = "\
Enter   next step (errors block it, warnings do not)
Esc     back, keeping what you typed
F1, ?   this help (? only outside text fields)
q       quit, asks first (Ctrl+C inside text fields)";

/// A layout with too few disks for its level.
/// `sdb1 lies on sdb, which is already in a layout` / `sdb holds sdb1, which is selected`.
pub fn overlaps(name: &str, other: &str, name_is_below: bool, other_in_layout: bool) -> String {
    let relation = if name_is_below { "lies on" } else { "holds" };
    let state = if other_in_layout {
        IN_A_LAYOUT
    } else {
        "is selected"
    };
    format!("{name} {relation} {other}, which {state}: use the disk or its partitions, not both")
}

pub fn needs_disks(level: &str, min: usize, selected: usize) -> String {
    format!("{level} needs at least {min} disks; {selected} selected")
}

/// Said in the help popup while a text field has focus.
pub const HELP_TEXT_FOCUS: &str = "\
A text field has focus, so ? and q are typed into it: F1 opens this help and
Ctrl+C quits. Outside text fields (the Discover table, Network's Auto-assign)
? and q work as on every other screen.";

pub fn help(step: super::model::Step) -> &'static str {
    use super::model::Step::*;
    match step {
        Access => {
            "How rackstrap logs in: user, port and private key (ssh-agent is tried first).\nA user other than root runs commands through sudo. If sudo asks for a password, type it\nin Sudo password: it goes to sudo -S over SSH, is kept in memory for this session and is\nnever written to the plan, the run state or a log. An encrypted key's passphrase is asked\nin a popup when a host needs it. The cluster name becomes inventory/<name> in Kubespray."
        }
        Discover => {
            "Targets: CIDR (10.0.10.0/28), ranges (10.0.10.5-10.0.10.20), addresses or hostnames,\ncomma separated. Enter scans. New host keys are shown by SHA256 fingerprint;\nSpace accepts one host (its key is pinned), a accepts every host that answered."
        }
        Hosts => {
            "Facts per host with requirement badges: control plane min 2 CPU / 4 GB / 30 GB\n(recommended 4 / 8 / 40), worker min 4 / 8 / 100. Space leaves a host out."
        }
        Roles => {
            "Space toggles the role under the cursor; c, e, w toggle control plane, etcd, worker.\netcd needs an odd member count: quorum is n/2+1, failures tolerated n - quorum."
        }
        Storage => {
            "Space selects a disk, w marks one for wiping. l level, f filesystem, d discard,\nr move kubelet+containerd data, m mount point, a add the layout, x remove the last,\nA apply this host's layouts to every host with the same disks. Tab: next host."
        }
        Network => {
            "MetalLB pool, service and pod CIDRs, node prefix, DNS, MTU and VIP.\nErrors point at the column of the bad character."
        }
        Review => {
            "Tab switches between findings, the files that will be written and the commands\nevery stage runs per host. s saves the plan. Enter goes on to provisioning."
        }
        Provision => {
            "Enter starts. Tab focuses a log pane; Up/Down/PgUp/PgDn scroll (pauses follow),\nf toggles follow, / searches, n finds the next match. r retries failed hosts,\ns skips the failed stage, a aborts."
        }
        Done => "The cluster is up. Enter or q quits.",
    }
}
