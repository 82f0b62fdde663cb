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
mod tests;
