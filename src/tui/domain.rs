//! Address entries with the position of the first bad character, as the Network and
//! Discover screens parse them (with the core's `net` parser). Every rule the screens apply
//! lives in the core (`plan::check`, `net`, `discover`); nothing here knows about the
//! terminal.

use std::net::IpAddr;

use ipnet::IpNet;

/// One address entry as typed: a CIDR, a range or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Cidr(IpNet),
    Range(IpAddr, IpAddr),
    Single(IpAddr),
}

impl Entry {
    /// First and last address as integers (IPv4 only; IPv6 entries are kept whole).
    pub fn bounds(&self) -> (u128, u128) {
        fn n(a: IpAddr) -> u128 {
            match a {
                IpAddr::V4(v) => u32::from(v) as u128,
                IpAddr::V6(v) => u128::from(v),
            }
        }
        match *self {
            Entry::Cidr(net) => (n(net.network()), n(net.broadcast())),
            Entry::Range(a, b) => (n(a), n(b)),
            Entry::Single(a) => (n(a), n(a)),
        }
    }
}

/// A parse error: `pos` is the character index (0-based) into the whole field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub pos: usize,
    pub message: String,
}

/// Parses a comma separated list of entries with the core's `net` parser. Every entry
/// remembers where it starts so that findings can point at it too.
pub fn parse_entries(text: &str) -> Result<Vec<(usize, Entry)>, EntryError> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    let mut offset = 0;
    for raw in text.split(',') {
        let lead = raw.chars().take_while(|c| c.is_whitespace()).count();
        let start = offset + lead;
        let (range, form) = crate::net::parse_entry(raw).map_err(|e| EntryError {
            pos: offset + e.position,
            message: e.message,
        })?;
        let entry = match form {
            crate::net::EntryForm::Cidr(net) => Entry::Cidr(net),
            crate::net::EntryForm::Range => Entry::Range(range.start, range.end),
            crate::net::EntryForm::Single => Entry::Single(range.start),
        };
        out.push((start, entry));
        offset += raw.chars().count() + 1;
    }
    Ok(out)
}

/// Parses one CIDR field (service or pod network).
pub fn parse_cidr(text: &str) -> Result<IpNet, EntryError> {
    crate::net::parse_cidr(text).map_err(|e| EntryError {
        pos: e.position,
        message: e.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_character_position() {
        let e = parse_entries("10.0.0.0/28, 10.0.x.5").unwrap_err();
        assert_eq!(e.pos, 18);
        // Inside the octet that is out of range (the core parser decides the exact digit).
        let e = parse_entries("10.0.0.0/28,10.0.0.300").unwrap_err();
        assert_eq!(e.pos, 19);
    }
}
