//! Address lists as the operator types them in a form: comma separated entries (CIDR, range
//! or single address), each remembered with the character where it starts so a form can put
//! the cursor on it. The wizard's Network screen and the demo lab read lists through these.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{EntryForm, ParseError};

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

impl From<ParseError> for EntryError {
    fn from(e: ParseError) -> Self {
        EntryError {
            pos: e.position,
            message: e.message,
        }
    }
}

/// Parses a comma separated list of entries with [`super::parse_entry`]. Every entry
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
        let (range, form) =
            super::parse_entry(raw).map_err(|e| EntryError::from(e.shifted(offset)))?;
        let entry = match form {
            EntryForm::Cidr(net) => Entry::Cidr(net),
            EntryForm::Range => Entry::Range(range.start, range.end),
            EntryForm::Single => Entry::Single(range.start),
        };
        out.push((start, entry));
        offset += raw.chars().count() + 1;
    }
    Ok(out)
}

/// Parses one CIDR field (service or pod network) with [`super::parse_cidr`], the error
/// pointing into the field.
pub fn parse_cidr_field(text: &str) -> Result<IpNet, EntryError> {
    super::parse_cidr(text).map_err(EntryError::from)
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

    #[test]
    fn entries_remember_where_they_start() {
        let e = parse_entries("10.0.0.1,  10.0.0.5-10.0.0.9").unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].0, 11);
        assert!(matches!(e[1].1, Entry::Range(..)));
        assert_eq!(parse_cidr_field("10.0.0.0/33").unwrap_err().pos, 9);
    }
}
