//! IP ranges, CIDR math and overlap checks.
//!
//! Text the operator typed (a MetalLB pool entry, a service CIDR, a discovery target) comes
//! in as `&str`; out comes either a typed value or a [`ParseError`] whose `position` is the
//! 0-based character offset of the first bad character, so the wizard can put the cursor on
//! it and `rackstrap check` can say "character 9". Everything after parsing is arithmetic on
//! [`AddrRange`] (inclusive start/end), which is what overlap and size questions need; CIDR
//! math itself is `ipnet`'s.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;

mod entries;
pub use entries::{Entry, EntryError, parse_cidr_field, parse_entries};

/// Why a piece of text is not an address, CIDR or range, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} (character {})", .position + 1)]
pub struct ParseError {
    /// 0-based character offset into the text that was parsed.
    pub position: usize,
    pub message: String,
}

impl ParseError {
    fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }

    /// The same error for text that started `by` characters further right.
    pub fn shifted(mut self, by: usize) -> Self {
        self.position += by;
        self
    }
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AddrRange {
    pub start: IpAddr,
    pub end: IpAddr,
}

/// How an entry was written: the three forms pools and targets accept (docs/plan.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryForm {
    Cidr(IpNet),
    Range,
    Single,
}

impl AddrRange {
    pub fn single(addr: IpAddr) -> Self {
        Self {
            start: addr,
            end: addr,
        }
    }

    /// Every address of the network, network and broadcast addresses included (that is how
    /// MetalLB and Kubernetes count a CIDR).
    pub fn from_net(net: IpNet) -> Self {
        Self {
            start: net.network(),
            end: net.broadcast(),
        }
    }

    /// Number of addresses in the range, saturating at `u128::MAX`: `::/0` holds 2^128
    /// addresses, one more than `u128` can, so it counts as `u128::MAX` (as do the two ranges
    /// one address short of it). Sum counts with `saturating_add` and show them with
    /// [`count_text`].
    #[allow(clippy::len_without_is_empty)] // a range is never empty: start <= end
    pub fn len(&self) -> u128 {
        to_u128(self.end)
            .saturating_sub(to_u128(self.start))
            .saturating_add(1)
    }

    pub fn is_ipv4(&self) -> bool {
        self.start.is_ipv4()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        addr.is_ipv4() == self.is_ipv4() && {
            let a = to_u128(addr);
            to_u128(self.start) <= a && a <= to_u128(self.end)
        }
    }

    /// The addresses both ranges hold, if any. Ranges of different families never overlap.
    pub fn intersection(&self, other: &AddrRange) -> Option<AddrRange> {
        if self.is_ipv4() != other.is_ipv4() {
            return None;
        }
        let start = to_u128(self.start).max(to_u128(other.start));
        let end = to_u128(self.end).min(to_u128(other.end));
        (start <= end).then(|| AddrRange {
            start: from_u128(start, self.is_ipv4()),
            end: from_u128(end, self.is_ipv4()),
        })
    }

    pub fn overlaps(&self, other: &AddrRange) -> bool {
        self.intersection(other).is_some()
    }
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Counts up to this are shown in full (every IPv4 count is below it).
const COUNT_IN_FULL_BELOW: u128 = 1_000_000_000_000;

/// An address count as people read it: in full while it is small (`16`, `4294967296`),
/// as a power of two when it is one (`2^64` for an IPv6 /64), otherwise by its order of
/// magnitude (`more than 10^30`). A count saturated at `u128::MAX` (see
/// [`AddrRange::len`]) reads `more than 10^38`, true of 2^128 - 1 and 2^128 alike.
pub fn count_text(count: u128) -> String {
    if count < COUNT_IN_FULL_BELOW {
        count.to_string()
    } else if count.is_power_of_two() {
        format!("2^{}", count.trailing_zeros())
    } else {
        let exp = count.ilog10();
        if 10u128.pow(exp) == count {
            format!("10^{exp}")
        } else {
            format!("more than 10^{exp}")
        }
    }
}

fn to_u128(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(value: u128, v4: bool) -> IpAddr {
    if v4 {
        // Only called with values that came from IPv4 addresses.
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// Parse one address. IPv4 gets character-exact errors; IPv6 is handed to the standard
/// parser and errors point at its start.
pub fn parse_addr(text: &str) -> Result<IpAddr, ParseError> {
    if text.is_empty() {
        return Err(ParseError::new(0, "expected an IP address, found nothing"));
    }
    if text.contains(':') {
        return text
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| ParseError::new(0, format!("`{text}` is not an IPv6 address")));
    }
    parse_ipv4(text).map(IpAddr::V4)
}

fn parse_ipv4(text: &str) -> Result<Ipv4Addr, ParseError> {
    let mut octets = [0u8; 4];
    let mut count = 0;
    let mut start = 0;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    loop {
        // One octet: digits up to a dot or the end.
        let octet_start = i;
        while i < chars.len() && chars[i] != '.' {
            if !chars[i].is_ascii_digit() {
                return Err(ParseError::new(
                    i,
                    format!("unexpected `{}` in IPv4 address `{text}`", chars[i]),
                ));
            }
            i += 1;
        }
        if count == 4 {
            return Err(ParseError::new(
                start.max(1) - 1,
                format!("`{text}` has more than 4 octets"),
            ));
        }
        let digits: String = chars[octet_start..i].iter().collect();
        if digits.is_empty() {
            return Err(ParseError::new(
                octet_start,
                format!("missing octet in IPv4 address `{text}`"),
            ));
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return Err(ParseError::new(
                octet_start,
                format!("octet `{digits}` has a leading zero in `{text}`"),
            ));
        }
        match digits.parse::<u16>() {
            Ok(v) if v <= 255 => octets[count] = v as u8,
            _ => {
                return Err(ParseError::new(
                    octet_start,
                    format!("octet {digits} is over 255 in `{text}`"),
                ));
            }
        }
        count += 1;
        if i == chars.len() {
            break;
        }
        // chars[i] is a dot.
        i += 1;
        start = i;
    }
    if count < 4 {
        return Err(ParseError::new(
            chars.len(),
            format!("`{text}` has {count} octets, an IPv4 address has 4"),
        ));
    }
    Ok(Ipv4Addr::from(octets))
}

/// Parse `address/prefix`. The address must be the network's first address (Kubespray's
/// `ipaddr('net')` and MetalLB both want that); the error suggests the network meant.
pub fn parse_cidr(text: &str) -> Result<IpNet, ParseError> {
    let Some(slash) = text.find('/') else {
        return Err(ParseError::new(
            text.chars().count(),
            format!("`{text}` has no `/prefix`; a network is written like 10.233.0.0/18"),
        ));
    };
    let (addr_text, prefix_text) = (&text[..slash], &text[slash + 1..]);
    let addr = parse_addr(addr_text)?;
    let prefix_pos = addr_text.chars().count() + 1;
    if prefix_text.is_empty() {
        return Err(ParseError::new(
            prefix_pos,
            format!("missing prefix length after `/` in `{text}`"),
        ));
    }
    if let Some((i, c)) = prefix_text
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_digit())
    {
        return Err(ParseError::new(
            prefix_pos + i,
            format!("unexpected `{c}` in prefix length of `{text}`"),
        ));
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text.parse::<u8>() {
        Ok(p) if p <= max => p,
        _ => {
            return Err(ParseError::new(
                prefix_pos,
                format!("prefix /{prefix_text} is longer than {max} in `{text}`"),
            ));
        }
    };
    let net = IpNet::new(addr, prefix)
        .map_err(|_| ParseError::new(prefix_pos, format!("bad prefix in `{text}`")))?;
    if net.network() != addr {
        return Err(ParseError::new(
            0,
            format!("`{text}` has host bits set; the network is {}", net.trunc()),
        ));
    }
    Ok(net)
}

/// Parse one entry: CIDR (`10.0.10.0/28`), range (`10.0.10.5-10.0.10.20`, or in the short
/// form `10.0.10.5-20` that only gives the last octet, IPv4 only) or a single address.
/// Surrounding spaces are allowed and positions still count from `text`'s start.
pub fn parse_entry(text: &str) -> Result<(AddrRange, EntryForm), ParseError> {
    let lead = text.chars().take_while(|c| c.is_whitespace()).count();
    let body = text.trim();
    if body.is_empty() {
        return Err(ParseError::new(0, "empty entry"));
    }
    if body.contains('/') {
        let net = parse_cidr(body).map_err(|e| e.shifted(lead))?;
        return Ok((AddrRange::from_net(net), EntryForm::Cidr(net)));
    }
    if let Some(dash) = body.find('-') {
        let (a, b) = (&body[..dash], &body[dash + 1..]);
        let a_lead = a.chars().take_while(|c| c.is_whitespace()).count();
        let start = parse_addr(a.trim()).map_err(|e| e.shifted(lead + a_lead))?;
        let b_offset = lead + a.chars().count() + 1;
        let b_lead = b.chars().take_while(|c| c.is_whitespace()).count();
        let end = if is_short_end(b.trim()) {
            short_end(start, b.trim()).map_err(|e| e.shifted(b_offset + b_lead))?
        } else {
            parse_addr(b.trim()).map_err(|e| e.shifted(b_offset + b_lead))?
        };
        if start.is_ipv4() != end.is_ipv4() {
            return Err(ParseError::new(
                b_offset + b_lead,
                format!("range `{body}` mixes IPv4 and IPv6"),
            ));
        }
        if to_u128(start) > to_u128(end) {
            return Err(ParseError::new(
                b_offset + b_lead,
                format!("range `{body}` starts after it ends ({start} > {end})"),
            ));
        }
        return Ok((AddrRange { start, end }, EntryForm::Range));
    }
    let addr = parse_addr(body).map_err(|e| e.shifted(lead))?;
    Ok((AddrRange::single(addr), EntryForm::Single))
}

/// The end of a range written in the short form (`10.0.10.5-20`): digits only, no dot.
fn is_short_end(text: &str) -> bool {
    !text.is_empty() && !text.contains(['.', ':'])
}

/// The short form's end: `start` with its last octet replaced by `text`. IPv4 only; the
/// error positions count from the start of `text`.
fn short_end(start: IpAddr, text: &str) -> Result<IpAddr, ParseError> {
    let IpAddr::V4(start) = start else {
        return Err(ParseError::new(
            0,
            format!(
                "`{text}` is not an IPv6 address; the short range form (`10.0.10.5-20`) is IPv4 only"
            ),
        ));
    };
    if let Some((i, c)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(ParseError::new(
            i,
            format!("unexpected `{c}` in the last octet `{text}` of a short range"),
        ));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(ParseError::new(
            0,
            format!("octet `{text}` has a leading zero"),
        ));
    }
    match text.parse::<u16>() {
        Ok(v) if v <= 255 => {
            let [a, b, c, _] = start.octets();
            Ok(IpAddr::V4(Ipv4Addr::new(a, b, c, v as u8)))
        }
        _ => Err(ParseError::new(0, format!("octet {text} is over 255"))),
    }
}

/// An entry as MetalLB and Kubespray read it: the short range form written out in full
/// (`10.0.10.5-20` becomes `10.0.10.5-10.0.10.20`), anything else trimmed as typed. Text
/// that does not parse is returned trimmed; `rackstrap check` has reported it already.
pub fn canonical_entry(text: &str) -> String {
    let body = text.trim();
    match parse_entry(body) {
        Ok((r, EntryForm::Range))
            if body
                .split_once('-')
                .is_some_and(|(_, b)| is_short_end(b.trim())) =>
        {
            format!("{}-{}", r.start, r.end)
        }
        _ => body.to_string(),
    }
}

/// [`parse_entry`] without the form.
pub fn parse_range(text: &str) -> Result<AddrRange, ParseError> {
    parse_entry(text).map(|(r, _)| r)
}

/// Ethernet's MTU: what a plan assumes for its hosts when it names none, and what Kubespray
/// and Calico assume (with it, Calico picks its own MTU).
pub const DEFAULT_MTU: u32 = 1500;

/// The longest host name a resolver takes, in characters (RFC 1035 2.3.4).
pub const MAX_NAME_LEN: usize = 253;
/// The longest label (the part between dots) of a host name (RFC 1035 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A discovery target: addresses, or a host name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Addresses(AddrRange),
    Name(String),
}

/// Parse one discovery target (docs/ssh-and-discovery.md): CIDR, range, single address or
/// host name. Text that starts with a digit and has three dots or a `/` is an address form
/// (so `10.0.1x.5` is a typo with a position, not a host name); anything with a `:` is
/// IPv6; the rest must be a DNS name.
pub fn parse_target(text: &str) -> Result<Target, ParseError> {
    let lead = text.chars().take_while(|c| c.is_whitespace()).count();
    let body = text.trim();
    let address_like = body.contains(':')
        || (body.starts_with(|c: char| c.is_ascii_digit())
            && (body.matches('.').count() >= 3 || body.contains('/')));
    if address_like {
        return parse_range(text).map(Target::Addresses);
    }
    if let Some((i, c)) = body
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(ParseError::new(
            lead + i,
            format!("unexpected `{c}` in host name `{body}`"),
        ));
    }
    if body.is_empty() {
        return Err(ParseError::new(0, "empty entry"));
    }
    // DNS limits (RFC 1035 2.3.4): refused here, before a resolver is asked.
    if body.len() > MAX_NAME_LEN {
        return Err(ParseError::new(
            lead + MAX_NAME_LEN,
            format!(
                "a host name has at most {MAX_NAME_LEN} characters, this one has {}",
                body.len()
            ),
        ));
    }
    let mut offset = 0;
    for label in body.split('.') {
        if label.len() > MAX_LABEL_LEN {
            return Err(ParseError::new(
                lead + offset + MAX_LABEL_LEN,
                format!(
                    "a part of a host name between dots has at most {MAX_LABEL_LEN} characters, `{}…` has {}",
                    &label[..16],
                    label.len()
                ),
            ));
        }
        offset += label.len() + 1;
    }
    Ok(Target::Name(body.to_string()))
}

/// Split a comma (or whitespace) separated list into its entries with each entry's
/// character offset in `text`, for callers that report positions over the whole line.
pub fn split_list(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start_byte = 0;
    let mut start_char = 0;
    for (char_pos, (byte, c)) in text.char_indices().enumerate() {
        if c == ',' || c.is_whitespace() {
            if byte > start_byte {
                out.push((start_char, &text[start_byte..byte]));
            }
            start_byte = byte + c.len_utf8();
            start_char = char_pos + 1;
        }
    }
    if start_byte < text.len() {
        out.push((start_char, &text[start_byte..]));
    }
    out
}

#[cfg(test)]
mod tests {
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
}
