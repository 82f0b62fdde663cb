use super::*;
use crate::tui::model::{Mode, SCROLLBACK_LINES};

fn log(host: &str, line: String) -> Event {
    Event {
        host: host.to_string(),
        stage: StageId::HostPrep,
        kind: EventKind::Log {
            lines: line.into(),
            stderr: false,
        },
    }
}

/// Eight hosts pouring out 50,000 lines each, in batches as the runner's events arrive:
/// every pane keeps only its last `SCROLLBACK_LINES` (what the wizard holds in memory does
/// not grow with the output, which is on disk in full), counts the rest as dropped off
/// the top, and a paused pane's view stays within what it holds.
#[test]
fn provision_panes_stay_bounded_under_hundreds_of_thousands_of_lines() {
    const HOSTS: usize = 8;
    const PER_HOST: usize = 50_000;
    let mut m = Model::new(Mode::Live, Plan::new("cluster"), "");
    let hosts: Vec<String> = (1..=HOSTS).map(|i| format!("node{i}")).collect();
    let mut paused = false;
    for start in (0..PER_HOST).step_by(1000) {
        let batch = (start..start + 1000)
            .flat_map(|i| {
                hosts
                    .iter()
                    .map(move |h| log(h, format!("{h} line {i:07}")))
            })
            .collect();
        assert!(update(&mut m, Msg::Provision(batch)).is_none());
        if !paused {
            // The operator scrolls node2's pane up once the panes exist: it stops following.
            let pane = &mut m.provision.panes[1];
            pane.follow = false;
            pane.offset = 10;
            paused = true;
        }
    }
    let p = &m.provision;
    assert_eq!(p.panes.len(), HOSTS);
    for (pane, host) in p.panes.iter().zip(&hosts) {
        assert_eq!(&pane.host, host);
        assert_eq!(pane.lines.len(), SCROLLBACK_LINES, "{host}");
        assert!(
            pane.lines.capacity() <= 2 * SCROLLBACK_LINES,
            "{host}: {} lines of room",
            pane.lines.capacity()
        );
        assert_eq!(pane.dropped, PER_HOST - SCROLLBACK_LINES, "{host}");
        assert_eq!(
            pane.lines.back().map(String::as_str),
            Some(format!("{host} line {:07}", PER_HOST - 1).as_str())
        );
        assert!(pane.offset < pane.lines.len(), "{host}: {}", pane.offset);
    }
    assert!(!p.panes[1].follow, "the paused pane stays paused");
    assert_eq!(p.panes[1].offset, SCROLLBACK_LINES - 1);
}
