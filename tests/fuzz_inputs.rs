//! Arbitrary input against every parser that reads text from outside: the plan loader (and the
//! checks on whatever it lets through), the address/range/CIDR parsers, the facts parsers, the
//! probe splitter with what reads its sections, and the facts file reader. The property is the
//! same for each: no panic, an answer (a value or an error that says something) in bounded
//! time. Inputs are random bytes and valid text with random bytes spliced in, since mutations
//! of the real shape reach deeper than noise. The case count is fixed and small so the suite
//! stays fast; raise `PROPTEST_CASES` to dig.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rackstrap::{facts, net, plan};

/// What one call may take, even on a slow shared machine.
const BOUND: Duration = Duration::from_secs(2);

const PLAN: &str = include_str!("../assets/examples/akash.yaml");
const LSBLK: &str = include_str!("fixtures/facts/lsblk-sata-md-usb.json");
const IP_ADDR: &str = include_str!("fixtures/facts/ip-addr.json");
const IP_ROUTE: &str = include_str!("fixtures/facts/ip-route.json");
const BLKID: &str = include_str!("fixtures/facts/blkid.txt");
const MDSTAT: &str = include_str!("fixtures/facts/mdstat.txt");

/// 96 cases per property unless `PROPTEST_CASES` asks for more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

/// `base` with `bytes` spliced in at `at` (a fraction of its length), as text.
fn splice(base: &str, at: f64, cut: usize, bytes: &[u8]) -> String {
    let mut out = base.as_bytes().to_vec();
    let start = ((out.len() as f64) * at) as usize;
    let end = (start + cut).min(out.len());
    out.splice(start..end, bytes.iter().copied());
    String::from_utf8_lossy(&out).into_owned()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    assert!(
        started.elapsed() < BOUND,
        "{what} took {:?}",
        started.elapsed()
    );
    out
}

fn load_and_check(text: &str) {
    match timed("from_yaml", || plan::from_yaml(text, "fuzz.yaml")) {
        Ok(p) => {
            timed("check", || plan::check(&p, None));
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.yaml"), "{shown}");
            assert!(shown.len() > "fuzz.yaml: ".len(), "{shown}");
        }
    }
}

fn net_parsers(text: &str) {
    for result in [
        timed("parse_entry", || net::parse_entry(text).map(|_| ())),
        timed("parse_target", || net::parse_target(text).map(|_| ())),
        timed("parse_cidr", || net::parse_cidr(text).map(|_| ())),
        timed("parse_addr", || net::parse_addr(text).map(|_| ())),
    ] {
        if let Err(e) = result {
            assert!(!e.message.is_empty());
            assert!(e.position <= text.chars().count(), "{e} in {text:?}");
        }
    }
    timed("canonical_entry", || net::canonical_entry(text));
    for (pos, entry) in net::split_list(text) {
        assert!(pos <= text.chars().count());
        assert!(!entry.is_empty());
    }
}

fn facts_parsers(text: &str) {
    timed("facts parsers", || {
        let _ = facts::gather::from_sections(&facts::probe::split(text));
        let _ = facts::parse::parse_os_release(text);
        let _ = facts::parse::parse_meminfo(text);
        let _ = facts::parse::parse_cpu_model(text);
        let _ = facts::parse::parse_mdstat(text);
        let _ = facts::parse::parse_default_route(text);
        let _ = facts::parse::parse_time_synced(text);
        let _ = facts::parse::parse_ip_addr(text);
        if let Ok(mut disks) = facts::parse::parse_lsblk(text) {
            facts::parse::apply_blkid(&mut disks, text);
            facts::parse::apply_blkid(&mut disks, BLKID);
        }
        if let Err(e) = facts::file::read(text) {
            assert!(!e.to_string().is_empty());
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn the_plan_loader_survives_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        load_and_check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn the_plan_loader_survives_a_damaged_plan(
        at in 0.0f64..1.0,
        cut in 0usize..40,
        bytes in proptest::collection::vec(prop_oneof![
            any::<u8>(),
            proptest::sample::select(b"[]{}:-,#'\"&*!|>%@`\n \t0123456789".to_vec()),
        ], 0..24),
    ) {
        load_and_check(&splice(PLAN, at, cut, &bytes));
    }

    #[test]
    fn the_address_parsers_survive_any_text(
        text in "[0-9a-fA-F.:/ ,\\-]{0,48}|\\PC{0,48}",
    ) {
        net_parsers(&text);
    }

    #[test]
    fn the_facts_parsers_survive_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        facts_parsers(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn the_facts_parsers_survive_damaged_output(
        which in 0usize..5,
        at in 0.0f64..1.0,
        cut in 0usize..40,
        bytes in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let base = [LSBLK, IP_ADDR, IP_ROUTE, BLKID, MDSTAT][which];
        facts_parsers(&splice(base, at, cut, &bytes));
    }
}

/// Sizes a host can really send: thousands of block devices, a line of a megabyte.
#[test]
fn the_facts_parsers_take_large_output_in_bounded_time() {
    let disks: Vec<String> = (0..5000)
        .map(|i| {
            format!(
                r#"{{"name":"loop{i}","kname":"loop{i}","type":"loop","size":1048576,"rota":false,"model":null,"serial":null,"tran":null,"fstype":null,"label":null,"uuid":null,"mountpoints":[null],"children":[]}}"#
            )
        })
        .collect();
    let lsblk = format!(r#"{{"blockdevices":[{}]}}"#, disks.join(","));
    let parsed = timed("lsblk of 5000 devices", || {
        facts::parse::parse_lsblk(&lsblk)
    });
    assert_eq!(parsed.map(|d| d.len()).ok(), Some(5000));
    let long = format!("PRETTY_NAME=\"{}\"\n", "x".repeat(1 << 20));
    facts_parsers(&long);
}
