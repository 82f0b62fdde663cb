//! User-facing strings, together so they read consistently: sentence case, no trailing
//! period in one-line messages, the same verb for the same action on every screen.

use crate::plan::DiskInUse;

pub const APP: &str = "rackstrap";
pub const DEMO_BANNER: &str = "DEMO: simulated lab, nothing is touched";
pub const TOO_SMALL: &str = "rackstrap needs a terminal of at least 80x24";
/// The quit question on the too-small screen, where a popup would not be seen.
pub const QUIT_SMALL: &str = "Quit rackstrap? y quits, any other key stays";

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
/// Why a host reopened from a saved plan has no facts, and what brings them.
pub const FROM_THE_PLAN: &str = "from the plan";
pub const NOT_CONTACTED: &str = "from the plan, not contacted yet (a scan gets their facts)";
pub const STILL_SCANNING: &str =
    "the scan is still running: Next waits until every host has answered";
pub const STILL_PINNING: &str = "pinning the accepted host keys; Next waits for";
pub const NEED_HOST: &str = "include at least one host";
/// Said after Enter on Review moved to the screen of the first error.
pub const FIX_HERE: &str = "fix this here, then Enter goes on";
pub const FIX_ERRORS: &str = "fix the errors first (see the findings below)";
/// Review: `n` before anything was searched for.
pub const REVIEW_SEARCH_FIRST: &str = "/ searches this tab first; then n finds the next match";
/// Review: `]` / `[` on a Commands tab with no stage sections.
pub const REVIEW_NO_SECTION: &str = "no stage runs commands on any host";

/// Review: a search that matched no row of the tab.
pub fn review_not_found(query: &str) -> String {
    format!("`{query}` is not on this tab")
}

pub const IN_A_LAYOUT: &str = "is already in a layout";
pub const HOLDS_ROOT: &str = "holds the root filesystem and can never be used";
pub const MARK_WIPE: &str = "press w to mark it for wiping first";
pub const NEVER_WIPE: &str = "rackstrap never wipes it";
pub const WIPE_MARKED: &str = "marked for wiping: its data will be destroyed";
pub const LAYOUT_ADDED: &str = "layout added";
pub const LAYOUT_REMOVED: &str = "layout taken back:";
pub const NO_BLANK_DISKS: &str = "no blank disk left on this host";
pub const SELECTED_BLANK: &str = "selected every blank disk:";
/// Said before `a`, in the preview, and by `a`: the core's E_RELOCATE_PER_DISK.
pub const RELOCATE_PER_DISK: &str =
    "per-disk has no single filesystem for kubelet+containerd data: r turns moving off";

/// Roles' `L`: one host's labels added to every host with a role.
pub fn labels_applied(from: &str, role: &str, to: &[String]) -> String {
    if to.is_empty() {
        format!("no other host is a {role}")
    } else {
        format!("{from}'s labels added to every {role}: {}", to.join(", "))
    }
}

/// Storage's `A` asks before replacing layouts other hosts already have.
pub fn replace_layouts(hosts: &[String]) -> String {
    format!(
        "{} already {} layouts: replace them with this host's?",
        hosts.join(", "),
        if hosts.len() == 1 { "has" } else { "have" }
    )
}
pub const NO_LAYOUT_TO_REMOVE: &str = "this host has no layout to remove";
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
pub const PREPARED: &str = "Kubespray is ready on this machine: Enter goes on to Provision";
pub const PREPARE_FAILED: &str =
    "Kubespray was not prepared: Enter offers it again, n goes on without";
pub const SAVE_FIRST: &str = "save the plan first (s): the run keeps its state and logs next to it";
pub const CONFIRM_WIPE: &str = "The storage stage formats disks: whatever is on them is lost.";
pub const ABORT_QUESTION: &str = "Abort the run? Stages in progress stop where they are.";
pub const ABORTED: &str = "run aborted";
pub const NAME_MISMATCH: &str = "that is not the host's name";
pub const NOT_FOUND: &str = "not found:";
pub const RUN_FINISHED: &str = "every stage finished: press Enter";
/// Provision: Enter with every stage or every host left out; `keys` are the stage keys.
pub fn nothing_selected(keys: &str) -> String {
    format!("nothing chosen to run: pick at least one stage ({keys}) and one host (Space)")
}
pub const LEAVE_STAGE_OUT: &str =
    "Fix that and press Enter again (it is checked again), or leave the stage out (its number key)";
/// Provision before the run: what the stage keys (`keys`) and Space do.
pub fn select_intro(keys: &str) -> String {
    format!("Keys {keys} leave a stage out or back in; ↑↓ and Space do the same for a host.")
}
/// What quitting does while stages run (the quit popup says it, as abort does).
pub const QUIT_WHILE_RUNNING: &str =
    "Stages are running: quitting aborts them where they are, and the cluster is left unfinished.";
/// The grid's glyph for a step the operator skipped after it failed ("–" is "nothing to do").
pub const SKIPPED_GLYPH: &str = "↷";

/// The question `s` asks on Provision before skipping a failed stage.
pub fn skip_question(stage: &str, hosts: &[String]) -> String {
    format!(
        "Skip {stage} on {}? The run goes on without it; the cluster will not be complete.",
        hosts.join(", ")
    )
}

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
pub const HELP_TEXT_FOCUS: &str = "A text field has focus, so ? and q are typed into it: F1 opens this help and Ctrl+C quits. Outside text fields (the Discover table, Network's Auto-assign) ? and q work as on every other screen.";

/// A step's help as its screen gives it (`super::screens::help_of`), for a fresh model at
/// that step.
pub fn help(step: super::model::Step) -> String {
    let mut m = super::model::Model::new(
        super::model::Mode::Live,
        crate::plan::Plan::new("cluster"),
        "",
    );
    m.step = step;
    super::screens::help_of(super::screens::of(step), &m)
}
