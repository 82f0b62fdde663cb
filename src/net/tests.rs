use super::*;

#[test]
fn host_names_beyond_dns_limits_are_refused_before_resolving() {
    let long = "a".repeat(64);
    let err = parse_target(&format!("{long}.lab")).unwrap_err();
    assert_eq!(err.position, 63);
    assert!(err.message.contains("at most 63 characters"), "{err}");
    let huge = "1".repeat(65_536);
    let err = parse_target(&huge).unwrap_err();
    assert_eq!(err.position, 253);
    assert!(parse_target(&format!("{}.lab", "a".repeat(63))).is_ok());
}
use proptest::prelude::*;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn forms() {
    let (r, f) = parse_entry("144.217.30.192/28").unwrap();
    assert_eq!(
        (r.start, r.end, r.len()),
        (v4("144.217.30.192"), v4("144.217.30.207"), 16)
    );
    assert!(matches!(f, EntryForm::Cidr(_)));
    let (r, f) = parse_entry("194.28.98.219-194.28.98.222").unwrap();
    assert_eq!((r.len(), f), (4, EntryForm::Range));
    let (r, f) = parse_entry(" 194.28.98.217 ").unwrap();
    assert_eq!((r.len(), f), (1, EntryForm::Single));
    assert_eq!(parse_range("fd00::/126").unwrap().len(), 4);
}

#[test]
fn error_positions() {
    let e = parse_entry("10.0.10.300/28").unwrap_err();
    assert_eq!(e.position, 8);
    assert_eq!(e.message, "octet 300 is over 255 in `10.0.10.300`");
    let e = parse_entry("10.0.10.5-10.0.1x.20").unwrap_err();
    assert_eq!(e.position, 16);
    let e = parse_entry("10.0.10.9-10.0.10.5").unwrap_err();
    assert_eq!(e.position, 10);
    assert!(e.message.contains("starts after it ends"));
    let e = parse_entry("10.0.10.0/3a").unwrap_err();
    assert_eq!(e.position, 11);
    let e = parse_entry("10.0.10.0/33").unwrap_err();
    assert_eq!(e.position, 10);
    let e = parse_entry("10.0.10").unwrap_err();
    assert_eq!(e.position, 7);
    let e = parse_entry("10.0.10.1.2").unwrap_err();
    assert_eq!(e.position, 9);
    let e = parse_entry("10..10.1").unwrap_err();
    assert_eq!(e.position, 3);
    let e = parse_entry("10.0.10.1/24").unwrap_err();
    assert_eq!(
        e.message,
        "`10.0.10.1/24` has host bits set; the network is 10.0.10.0/24"
    );
    assert_eq!(parse_entry("").unwrap_err().message, "empty entry");
    assert_eq!(parse_entry("010.0.0.1").unwrap_err().position, 0);
}

/// Where each kind of mistake is reported (0-based; messages say 1-based).
#[test]
fn more_error_positions() {
    let at = |text: &str| parse_entry(text).unwrap_err().position;
    assert_eq!(at("10.0.0.256"), 7);
    assert_eq!(at("10.0.0.0/"), 9);
    assert_eq!(at("10.0.0.0/24/1"), 11);
    assert_eq!(at("  10.0.0.0/3x"), 12);
    assert_eq!(at("10.0.0.1-"), 9);
    assert_eq!(at("10.0.0.1-10.0.0"), 15);
    assert_eq!(at("10.0.0.1 - 10.0.0.x"), 18);
    assert_eq!(at("10.0.0.1-fd00::1"), 9);
    assert_eq!(at("10.0.0.1-10.0.0.1.1"), 17);
    assert_eq!(at("fd00::/129"), 7);
    assert_eq!(at("fd00::g"), 0);
    let e = parse_entry("10.0.0.0/24/1").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unexpected `/` in prefix length of `10.0.0.0/24/1` (character 12)"
    );
}

#[test]
fn short_range_form() {
    let (r, f) = parse_entry("10.0.10.5-20").unwrap();
    assert_eq!(
        (r.start, r.end, r.len(), f),
        (v4("10.0.10.5"), v4("10.0.10.20"), 16, EntryForm::Range)
    );
    assert_eq!(parse_range(" 10.0.10.5 - 5 ").unwrap().len(), 1);
    // Positions point into the short end: `10.0.10.5-` is 10 characters.
    let e = parse_entry("10.0.10.5-256").unwrap_err();
    assert_eq!(
        (e.position, e.message.as_str()),
        (10, "octet 256 is over 255")
    );
    let e = parse_entry("10.0.10.5-2x").unwrap_err();
    assert_eq!(e.position, 11);
    let e = parse_entry("10.0.10.9-5").unwrap_err();
    assert_eq!(e.position, 10);
    assert!(
        e.message
            .contains("starts after it ends (10.0.10.9 > 10.0.10.5)")
    );
    let e = parse_entry("  10.0.10.5-020").unwrap_err();
    assert_eq!(e.position, 12);
    let e = parse_entry("fd00::1-3").unwrap_err();
    assert_eq!(e.position, 8);
    assert!(e.message.contains("IPv4 only"));
    assert_eq!(canonical_entry(" 10.0.10.5-20 "), "10.0.10.5-10.0.10.20");
    assert_eq!(
        canonical_entry("10.0.10.5-10.0.10.20"),
        "10.0.10.5-10.0.10.20"
    );
    assert_eq!(canonical_entry("10.0.10.0/28"), "10.0.10.0/28");
    assert_eq!(canonical_entry("10.0.10.5-2x"), "10.0.10.5-2x");
    assert_eq!(
        parse_target("10.0.10.5-20").unwrap(),
        Target::Addresses(parse_range("10.0.10.5-10.0.10.20").unwrap())
    );
}

#[test]
fn targets() {
    assert_eq!(
        parse_target("10.0.10.0/30").unwrap(),
        Target::Addresses(parse_range("10.0.10.0/30").unwrap())
    );
    assert_eq!(
        parse_target("node-a.lan").unwrap(),
        Target::Name("node-a.lan".into())
    );
    // A typo in an address stays an address error with its position.
    let e = parse_target("10.0.1x.5").unwrap_err();
    assert_eq!(e.position, 6);
    let e = parse_target("node_a").unwrap_err();
    assert_eq!(
        (e.position, e.message.as_str()),
        (4, "unexpected `_` in host name `node_a`")
    );
    assert!(matches!(
        parse_target("fd00::1").unwrap(),
        Target::Addresses(_)
    ));
}

#[test]
fn list_offsets() {
    assert_eq!(
        split_list("10.0.0.1, 10.0.0.0/30,node-a"),
        vec![(0, "10.0.0.1"), (10, "10.0.0.0/30"), (22, "node-a")]
    );
}

#[test]
fn huge_ranges_count_without_overflow() {
    assert_eq!(parse_range("::/0").unwrap().len(), u128::MAX);
    assert_eq!(parse_range("::/1").unwrap().len(), 1 << 127);
    assert_eq!(parse_range("fd00::/64").unwrap().len(), 1 << 64);
    assert_eq!(
        parse_range("::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
            .unwrap()
            .len(),
        u128::MAX
    );
    assert_eq!(parse_range("0.0.0.0/0").unwrap().len(), 1 << 32);
    let all = parse_range("::/0").unwrap();
    assert_eq!(all.intersection(&all).unwrap().len(), u128::MAX);
}

#[test]
fn counts_read_sensibly() {
    assert_eq!(count_text(1), "1");
    assert_eq!(count_text(16), "16");
    assert_eq!(count_text(1 << 32), "4294967296");
    assert_eq!(count_text(999_999_999_999), "999999999999");
    assert_eq!(count_text(1_000_000_000_000), "10^12");
    assert_eq!(count_text(1 << 64), "2^64");
    assert_eq!(count_text(1 << 127), "2^127");
    assert_eq!(count_text((1 << 100) + 1), "more than 10^30");
    assert_eq!(count_text(u128::MAX), "more than 10^38");
}

#[test]
fn families_never_overlap() {
    let a = parse_range("0.0.0.0/0").unwrap();
    let b = parse_range("::/0").unwrap();
    assert!(!a.overlaps(&b));
    assert!(!a.contains(v4("::1")));
}

/// An IPv4 address written out by hand from its integer, independent of the parser
/// and of `std`'s formatting.
fn dotted(a: u32) -> String {
    format!(
        "{}.{}.{}.{}",
        a >> 24,
        (a >> 16) & 255,
        (a >> 8) & 255,
        a & 255
    )
}

fn mask(prefix: u32) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

/// The parsed range as integers.
fn ints(r: &AddrRange) -> (u32, u32) {
    let (IpAddr::V4(s), IpAddr::V4(e)) = (r.start, r.end) else {
        panic!("not IPv4: {r}")
    };
    (u32::from(s), u32::from(e))
}

/// One entry: the text, and the first and last address it must parse to, all made
/// from integers with plain arithmetic (CIDR: network = addr & mask, broadcast =
/// network | !mask; short form: the start with its last octet replaced).
#[derive(Debug, Clone)]
struct Written {
    text: String,
    first: u32,
    last: u32,
}

/// Entries in every form. `base..base + span` bounds where they lie, so small windows
/// give small ranges that can be enumerated.
fn written(base: u32, span: u32) -> impl Strategy<Value = Written> {
    let addr = move || (0..span).prop_map(move |o| base.wrapping_add(o));
    prop_oneof![
        addr().prop_map(|a| Written {
            text: dotted(a),
            first: a,
            last: a
        }),
        (addr(), addr()).prop_map(|(a, b)| {
            let (first, last) = (a.min(b), a.max(b));
            Written {
                text: format!("{}-{}", dotted(first), dotted(last)),
                first,
                last,
            }
        }),
        (addr(), 0u32..=32).prop_map(|(a, p)| {
            let network = a & mask(p);
            Written {
                text: format!("{}/{p}", dotted(network)),
                first: network,
                last: network | !mask(p),
            }
        }),
        (addr(), 0u32..256).prop_map(|(a, e)| {
            let (first, last) = (a.min(a & !255 | e), a.max(a & !255 | e));
            Written {
                text: format!("{}-{}", dotted(first), last & 255),
                first,
                last,
            }
        }),
    ]
}

/// Small entries around 10.0.0.0 (at most 512 addresses each, CIDRs up to /23).
fn small() -> impl Strategy<Value = Written> {
    written(u32::from(Ipv4Addr::new(10, 0, 0, 0)), 512)
        .prop_filter("small", |w| w.last - w.first < 512)
}

fn set(w: &Written) -> std::collections::BTreeSet<u32> {
    (w.first..=w.last).collect()
}

proptest! {
    #[test]
    fn parsed_bounds_match_the_integers_written(w in written(0, u32::MAX)) {
        let r = parse_range(&w.text).unwrap();
        prop_assert_eq!(ints(&r), (w.first, w.last), "{}", w.text);
        prop_assert_eq!(r.len(), u128::from(w.last - w.first) + 1);
        // Padding moves nothing.
        prop_assert_eq!(parse_range(&format!("  {} ", w.text)).unwrap(), r);
    }

    #[test]
    fn cidrs_parse_to_network_and_broadcast(a in any::<u32>(), p in 0u32..=32) {
        let network = a & mask(p);
        let net = parse_cidr(&format!("{}/{p}", dotted(network))).unwrap();
        prop_assert_eq!(u32::from(match net.network() { IpAddr::V4(n) => n, _ => unreachable!() }), network);
        prop_assert_eq!(u32::from(p as u8), u32::from(net.prefix_len()));
        let r = AddrRange::from_net(net);
        prop_assert_eq!(ints(&r), (network, network | !mask(p)));
        prop_assert_eq!(r.len(), 1u128 << (32 - p));
        // Host bits set: refused at the start, naming the network meant.
        if a != network {
            let text = format!("{}/{p}", dotted(a));
            let e = parse_cidr(&text).unwrap_err();
            prop_assert_eq!(e.position, 0);
            prop_assert_eq!(
                e.message,
                format!("`{text}` has host bits set; the network is {}/{p}", dotted(network))
            );
        }
    }

    #[test]
    fn reversed_ranges_are_refused_at_the_end(a in any::<u32>(), b in any::<u32>()) {
        prop_assume!(a != b);
        let (lo, hi) = (a.min(b), a.max(b));
        let text = format!("{}-{}", dotted(hi), dotted(lo));
        let e = parse_range(&text).unwrap_err();
        prop_assert_eq!(e.position, dotted(hi).len() + 1);
        prop_assert!(e.message.contains("starts after it ends"), "{}", e.message);
    }

    #[test]
    fn membership_matches_enumeration(w in small(), probe in 0u32..1024) {
        let r = parse_range(&w.text).unwrap();
        let addr = u32::from(Ipv4Addr::new(10, 0, 0, 0)).wrapping_add(probe).wrapping_sub(256);
        prop_assert_eq!(r.contains(IpAddr::V4(Ipv4Addr::from(addr))), set(&w).contains(&addr));
        prop_assert_eq!(r.len(), set(&w).len() as u128);
    }

    #[test]
    fn overlap_matches_enumeration(a in small(), b in small()) {
        let (ra, rb) = (parse_range(&a.text).unwrap(), parse_range(&b.text).unwrap());
        let common: Vec<u32> = set(&a).intersection(&set(&b)).copied().collect();
        prop_assert_eq!(ra.overlaps(&rb), !common.is_empty());
        prop_assert_eq!(rb.overlaps(&ra), !common.is_empty());
        match ra.intersection(&rb) {
            Some(i) => {
                prop_assert_eq!(ints(&i), (common[0], common[common.len() - 1]));
                prop_assert_eq!(i.len(), common.len() as u128);
            }
            None => prop_assert!(common.is_empty()),
        }
    }

    #[test]
    fn display_round_trips(a in 0u32.., b in 0u32..) {
        let (s, e) = (a.min(b), a.max(b));
        let r = AddrRange { start: IpAddr::V4(Ipv4Addr::from(s)), end: IpAddr::V4(Ipv4Addr::from(e)) };
        prop_assert_eq!(parse_range(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn short_form_equals_long_form(a in 0u8..=255, b in 0u8..=255, c in 0u8..=255, d in 0u8..=255) {
        let short = format!("10.{a}.{b}.{c}-{d}");
        let long = format!("10.{a}.{b}.{c}-10.{a}.{b}.{d}");
        match (parse_entry(&short), parse_entry(&long)) {
            (Ok(s), Ok(l)) => {
                prop_assert_eq!(s, l);
                prop_assert_eq!(canonical_entry(&short), long);
            }
            (Err(s), Err(l)) => {
                // Same complaint, at the end octet in each spelling.
                let prefix = format!("10.{a}.{b}.{c}-").len();
                prop_assert_eq!(s.position, prefix);
                prop_assert_eq!(l.position, prefix);
                prop_assert!(c > d);
            }
            (s, l) => prop_assert!(false, "{:?} vs {:?}", s, l),
        }
    }

    #[test]
    fn never_panics(text in "[0-9./: a-f-]{0,40}") {
        let _ = parse_entry(&text);
    }

    #[test]
    fn error_position_is_inside_or_at_end(text in "[0-9./-]{1,30}") {
        if let Err(e) = parse_entry(&text) {
            prop_assert!(e.position <= text.chars().count());
        }
    }
}
