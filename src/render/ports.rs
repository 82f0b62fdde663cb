//! `extras/ports.md`: the ports between nodes the plan needs, per host with the addresses it
//! must accept them from, for whoever runs the firewall. The matrix itself is
//! [`crate::plan::ports`]; this only writes it down.

use crate::plan::Plan;

pub(super) fn render(plan: &Plan) -> String {
    crate::plan::ports::matrix(plan).firewall_sheet()
}
