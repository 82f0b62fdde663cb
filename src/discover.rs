//! Discovery: targets (CIDR, ranges, addresses, hostnames) -> SSH connections -> facts, with
//! bounded concurrency. Each address ends in exactly one `HostState`, reported as it arrives.
//!
//! Data flow: [`parse_targets`] turns the operator's text into a list of addresses (entries
//! parsed by [`crate::net`], as for address pools; more than [`MAX_TARGETS`] refused unless
//! forced); [`discover`] connects to each with at most
//! `concurrency` at a time ([`crate::ssh::Session::connect`], then one facts exec,
//! [`crate::facts::gather`]) and sends one [`Discovered`] per target on the channel the moment
//! it is known, so the wizard's table fills live. Connections are closed once facts are in:
//! a scan never holds more than `concurrency` sockets.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedSender;

use crate::facts::HostFacts;
use crate::ssh::{ConnectOptions, Session, SshError};

/// Above this many addresses a scan is refused unless forced (a /16).
pub const MAX_TARGETS: u128 = 65_536;
/// Even forced, a scan stops here (a /8): beyond it the list itself is the problem.
pub const MAX_FORCED_TARGETS: u128 = 1 << 24;
/// Default SSH handshakes and facts in flight (waiting for a TCP answer has its own, larger
/// bound, so silent addresses do not hold these slots).
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Upper bound on connections in flight: each holds one file descriptor, and the common
/// default limit is 1024 per process.
pub const MAX_CONCURRENCY: usize = 512;

/// How long gathering facts on one host may take once connected. The facts script takes
/// well under a second on a healthy host; a host where one of its commands hangs (a stuck
/// `nproc`, a hung NFS mount under `lsblk`) is reported as stalled instead of holding the
/// scan. `RACKSTRAP_FACTS_TIMEOUT` (seconds) overrides it.
pub const FACTS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long closing a connection may take before it is dropped.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// [`FACTS_TIMEOUT`], or `RACKSTRAP_FACTS_TIMEOUT` when set (seconds, or with a unit as
/// `--facts-timeout` takes them).
pub fn facts_timeout() -> std::time::Duration {
    std::env::var("RACKSTRAP_FACTS_TIMEOUT")
        .ok()
        .and_then(|v| crate::text::parse_span(&v).ok())
        .unwrap_or(FACTS_TIMEOUT)
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostState {
    /// Nothing answered in time.
    NoAnswer,
    /// The address answered but the port refused.
    PortClosed,
    /// Something listens but it is not an SSH server.
    NotSsh,
    /// The server refused every offered credential.
    AuthFailed,
    /// The host key differs from the pinned one: nothing ran on this host.
    HostKeyChanged { pinned: String, offered: String },
    /// The host key could not be trusted whatever the operator accepts: a `@revoked` line
    /// names it, or a known_hosts file could not be read (the message says which).
    HostKeyRefused,
    /// The host answered and its key was accepted, but the key could not be written to
    /// known_hosts (`file`, `reason`: a full disk, a read-only directory): nothing ran.
    PinFailed { file: String, reason: String },
    /// Connected, but `sudo -n` wants a password.
    SudoNeedsPassword,
    /// The host key was never seen and new keys are not accepted: the fingerprint (in
    /// `Discovered::fingerprint`) must be confirmed, then the host pinned and scanned again.
    UnknownHostKey,
    /// Connected, but gathering facts did not finish in time ([`facts_timeout`]).
    Stalled,
    /// Connected, facts gathered.
    Ok,
}

/// One target's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovered {
    /// The address (or hostname) as targeted.
    pub address: String,
    pub state: HostState,
    /// SHA256 fingerprint of the host key, when the server sent one (`SHA256:...`).
    pub fingerprint: Option<String>,
    /// True when this contact pinned a key seen for the first time.
    pub newly_pinned: bool,
    pub facts: Option<HostFacts>,
    /// Human detail (the error, the sudo message).
    pub message: String,
}

impl HostState {
    /// Short label for tables: `ok`, `no answer`, `host key changed`, ...
    pub fn label(&self) -> &'static str {
        match self {
            HostState::NoAnswer => "no answer",
            HostState::PortClosed => "port closed",
            HostState::NotSsh => "not ssh",
            HostState::AuthFailed => "auth failed",
            HostState::HostKeyChanged { .. } => "host key changed",
            HostState::HostKeyRefused => "host key refused",
            HostState::PinFailed { .. } => "key not pinned",
            HostState::SudoNeedsPassword => "sudo needs password",
            HostState::UnknownHostKey => "unknown host key",
            HostState::Stalled => "stalled",
            HostState::Ok => "ok",
        }
    }
}

/// Why a target list was refused. `position` is the 0-based character offset of the first bad
/// character in the whole text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no targets given")]
    Empty,
    #[error("at {position}: `{token}`: {reason}")]
    Invalid {
        token: String,
        position: usize,
        reason: String,
    },
    #[error("{count} addresses is more than {limit}; narrow the ranges{}", if *forced { " (that is the most a scan takes, even forced)" } else { " or force the scan (--force)" })]
    TooMany {
        count: u128,
        limit: u128,
        forced: bool,
    },
}

/// One target as written: a network (its host addresses), a range, or a name.
enum Piece {
    Net(ipnet::IpNet),
    Range(crate::net::AddrRange),
    Name(String),
}

/// Whether `text` is a target list a scan takes, without listing the addresses: the
/// wizard's Discover field asks this on every key. `Ok` holds how many addresses (names
/// count one each) the scan would try, before duplicates are dropped.
pub fn check_targets(text: &str, force: bool) -> Result<u128, TargetError> {
    target_pieces(text, force).map(|pieces| {
        pieces
            .iter()
            .map(Piece::count)
            .fold(0, u128::saturating_add)
    })
}

impl Piece {
    fn count(&self) -> u128 {
        match self {
            Piece::Net(net) => net_size(net),
            Piece::Range(range) => range.len(),
            Piece::Name(_) => 1,
        }
    }
}

/// The entries of a target list, checked: syntax (with the position of the first bad
/// character), not empty, not more addresses than a scan takes.
fn target_pieces(text: &str, force: bool) -> Result<Vec<Piece>, TargetError> {
    let mut pieces = Vec::new();
    let mut count: u128 = 0;
    for (position, token) in crate::net::split_list(text) {
        let invalid = |e: crate::net::ParseError| TargetError::Invalid {
            token: token.to_string(),
            position: position + e.position,
            reason: e.message,
        };
        let piece = match crate::net::parse_target(token).map_err(invalid)? {
            crate::net::Target::Name(name) => Piece::Name(name),
            crate::net::Target::Addresses(range) => {
                match crate::net::parse_entry(token).map_err(invalid)?.1 {
                    crate::net::EntryForm::Cidr(net) => Piece::Net(net),
                    _ => Piece::Range(range),
                }
            }
        };
        count = count.saturating_add(piece.count());
        pieces.push(piece);
    }
    if pieces.is_empty() {
        return Err(TargetError::Empty);
    }
    let limit = if force {
        MAX_FORCED_TARGETS
    } else {
        MAX_TARGETS
    };
    if count > limit {
        return Err(TargetError::TooMany {
            count,
            limit,
            forced: force,
        });
    }
    Ok(pieces)
}

/// Parse targets: CIDR (`10.0.10.0/28`: its host addresses), ranges (`10.0.10.5-10.0.10.20`
/// or `10.0.10.5-20`),
/// single addresses, hostnames; comma or space separated (the entry syntax is `net`'s, the
/// same as for address pools). Duplicates are dropped, order kept.
pub fn parse_targets(text: &str, force: bool) -> Result<Vec<String>, TargetError> {
    let pieces = target_pieces(text, force)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut push = |s: String| {
        if seen.insert(s.clone()) {
            out.push(s);
        }
    };
    for piece in pieces {
        match piece {
            Piece::Net(net) => net.hosts().for_each(|ip| push(ip.to_string())),
            Piece::Range(range) => {
                let v4 = range.is_ipv4();
                for value in ip_value(range.start)..=ip_value(range.end) {
                    push(ip_from_value(value, v4).to_string());
                }
            }
            Piece::Name(name) => push(name),
        }
    }
    Ok(out)
}

fn ip_value(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn ip_from_value(value: u128, v4: bool) -> IpAddr {
    if v4 {
        // Only called with values that came from IPv4 addresses.
        IpAddr::from(std::net::Ipv4Addr::from(value as u32))
    } else {
        IpAddr::from(std::net::Ipv6Addr::from(value))
    }
}

/// Addresses `IpNet::hosts` yields, without iterating.
fn net_size(net: &ipnet::IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let size = if bits >= 128 {
        u128::MAX
    } else {
        1u128 << bits
    };
    // IPv4 blocks larger than /31 exclude the network and broadcast addresses.
    if matches!(net, ipnet::IpNet::V4(_)) && bits >= 2 {
        size - 2
    } else {
        size
    }
}

/// Probe every target with at most `concurrency` connections in flight, sending each result
/// on `results` as soon as it is known. Returns when every target has been reported (or the
/// receiver is gone).
pub async fn discover(
    targets: Vec<String>,
    opts: ConnectOptions,
    concurrency: usize,
    results: UnboundedSender<Discovered>,
) {
    discover_within(targets, opts, concurrency, facts_timeout(), results).await
}

/// [`discover`], with `facts_limit` for gathering facts on each connected host instead of
/// [`facts_timeout`] (`rackstrap discover --facts-timeout`).
pub async fn discover_within(
    targets: Vec<String>,
    opts: ConnectOptions,
    concurrency: usize,
    facts_limit: std::time::Duration,
    results: UnboundedSender<Discovered>,
) {
    // Two bounds: waiting for a TCP answer costs a socket and nothing else, so up to
    // MAX_CONCURRENCY addresses wait at once (a subnet of silent addresses then takes one
    // connect timeout, not one per `concurrency` of them); the SSH handshake and the facts,
    // which cost CPU here and on the host, run `concurrency` at a time.
    let reaching = Arc::new(Semaphore::new(MAX_CONCURRENCY));
    let working = Arc::new(Semaphore::new(concurrency.clamp(1, MAX_CONCURRENCY)));
    let opts = Arc::new(opts);
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets {
        if results.is_closed() {
            break;
        }
        let Ok(reach_permit) = reaching.clone().acquire_owned().await else {
            break;
        };
        let (opts, results, working) = (opts.clone(), results.clone(), working.clone());
        tasks.spawn(async move {
            let found = match crate::ssh::reach(&target, &opts).await {
                Err(e) => unreached(target, e),
                Ok(stream) => match working.acquire_owned().await {
                    Ok(_permit) => probe_over(target, stream, &opts, facts_limit).await,
                    Err(_) => return,
                },
            };
            drop(reach_permit);
            let _ = results.send(found);
        });
        // Reap finished tasks so the set stays as small as the bound.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Connect to one target and gather its facts; every outcome becomes a `Discovered`.
pub async fn probe(address: String, opts: &ConnectOptions) -> Discovered {
    match crate::ssh::reach(&address, opts).await {
        Ok(stream) => probe_over(address, stream, opts, facts_timeout()).await,
        Err(e) => unreached(address, e),
    }
}

fn blank(address: String) -> Discovered {
    Discovered {
        address,
        state: HostState::Ok,
        fingerprint: None,
        newly_pinned: false,
        facts: None,
        message: String::new(),
    }
}

/// A target whose TCP connection failed.
fn unreached(address: String, e: SshError) -> Discovered {
    failed(blank(address), e)
}

/// [`probe`] over an open TCP connection to the target.
async fn probe_over(
    address: String,
    stream: TcpStream,
    opts: &ConnectOptions,
    limit: std::time::Duration,
) -> Discovered {
    let mut found = blank(address);
    let session = match Session::connect_over(&found.address, stream, opts).await {
        Ok(session) => session,
        Err(e) => return failed(found, e),
    };
    found.fingerprint = Some(session.fingerprint().to_string());
    found.newly_pinned = session.newly_pinned();
    match tokio::time::timeout(limit, crate::facts::gather(&session)).await {
        Ok(Ok(facts)) => found.facts = Some(facts.into_printable()),
        Ok(Err(e)) => found.message = format!("facts: {e}"),
        Err(_) => {
            found.state = HostState::Stalled;
            found.message = format!(
                "facts: no answer within {} s (a command of the facts script hangs on the host)",
                limit.as_secs()
            );
        }
    }
    // Closing waits for the server; a host that hangs must not hold the scan.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.close()).await;
    found.printable()
}

/// What a connection error says about the host.
fn failed(mut found: Discovered, e: SshError) -> Discovered {
    found.message = e.to_string();
    found.state = match e {
        SshError::NoAnswer(_) | SshError::Timeout(_) | SshError::Resolve(_) => HostState::NoAnswer,
        SshError::Io(_) | SshError::Disconnected(_) | SshError::Signalled(_) => HostState::NoAnswer,
        SshError::PortClosed => HostState::PortClosed,
        SshError::NotSsh(_) => HostState::NotSsh,
        SshError::AuthFailed(_) | SshError::Key { .. } | SshError::SudoRefused(_) => {
            HostState::AuthFailed
        }
        SshError::SudoNeedsPassword => HostState::SudoNeedsPassword,
        SshError::HostKeyChanged { pinned, offered } => {
            found.fingerprint = Some(offered.clone());
            HostState::HostKeyChanged { pinned, offered }
        }
        SshError::UnknownHostKey { fingerprint } => {
            found.fingerprint = Some(fingerprint);
            HostState::UnknownHostKey
        }
        SshError::HostKeyRevoked { fingerprint, .. } => {
            found.fingerprint = Some(fingerprint);
            HostState::HostKeyRefused
        }
        SshError::KnownHosts(_) => HostState::HostKeyRefused,
        SshError::PinFailed {
            fingerprint,
            file,
            reason,
        } => {
            found.fingerprint = Some(fingerprint);
            HostState::PinFailed {
                file: file.display().to_string(),
                reason,
            }
        }
    };
    found.printable()
}

impl Discovered {
    /// Remote text (facts, messages that quote what the server said) with control characters
    /// escaped: what every output path shows, the JSON lines included.
    pub fn printable(mut self) -> Self {
        self.facts = self.facts.map(HostFacts::into_printable);
        crate::text::make_printable(&mut self.message);
        crate::text::make_printable(&mut self.address);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_of_every_shape() {
        let t = parse_targets(
            "10.0.10.0/30, 10.0.10.5-10.0.10.7 10.0.10.9-10.0.10.10,node1.lab  ,10.0.10.1",
            false,
        )
        .unwrap();
        assert_eq!(
            t,
            [
                "10.0.10.1",
                "10.0.10.2",
                "10.0.10.5",
                "10.0.10.6",
                "10.0.10.7",
                "10.0.10.9",
                "10.0.10.10",
                "node1.lab"
            ]
        );
        assert_eq!(
            parse_targets("192.168.1.7/32", false).unwrap(),
            ["192.168.1.7"]
        );
        assert_eq!(
            parse_targets("fd00::1-fd00::3", false).unwrap(),
            ["fd00::1", "fd00::2", "fd00::3"]
        );
        assert_eq!(parse_targets("::1-::2", false).unwrap(), ["::1", "::2"]);
        assert_eq!(parse_targets("10.0.0.0/24", false).unwrap().len(), 254);
        assert_eq!(parse_targets("node-1", false).unwrap(), ["node-1"]);
        // The short form gives only the last octet of the end.
        assert_eq!(
            parse_targets("10.0.10.5-7, 10.0.10.9-10", false).unwrap(),
            [
                "10.0.10.5",
                "10.0.10.6",
                "10.0.10.7",
                "10.0.10.9",
                "10.0.10.10"
            ]
        );
    }

    #[test]
    fn bad_targets_say_where() {
        assert_eq!(parse_targets(" , ", false), Err(TargetError::Empty));
        let e = parse_targets("10.0.0.1, 10.0.0.0/33", false).unwrap_err();
        assert!(
            matches!(&e, TargetError::Invalid { position: 19, token, .. } if token == "10.0.0.0/33"),
            "{e:?}"
        );
        let e = parse_targets("10.0.0.9-10.0.0.1", false).unwrap_err();
        assert!(e.to_string().contains("starts after it ends"), "{e}");
        // Character positions, not bytes, and pointing inside the token.
        let e = parse_targets("node1, 10.0.1x.5", false).unwrap_err();
        assert!(
            matches!(&e, TargetError::Invalid { position: 13, .. }),
            "{e:?}"
        );
        let e = parse_targets("10.0.0.1-fd00::1", false).unwrap_err();
        assert!(e.to_string().contains("mixes"), "{e}");
        // A short-form end over 255: the position is its first digit in the whole line.
        let e = parse_targets("node1, 10.0.0.5-300", false).unwrap_err();
        assert!(
            matches!(&e, TargetError::Invalid { position: 16, .. }),
            "{e:?}"
        );
        let e = parse_targets("a b_c", false).unwrap_err();
        assert!(
            matches!(e, TargetError::Invalid { position: 3, .. }),
            "{e:?}"
        );
    }

    #[test]
    fn size_limit_unless_forced() {
        assert_eq!(parse_targets("10.0.0.0/16", false).unwrap().len(), 65_534);
        let e = parse_targets("10.0.0.0/15", false).unwrap_err();
        assert_eq!(
            e,
            TargetError::TooMany {
                count: 131_070,
                limit: MAX_TARGETS,
                forced: false,
            }
        );
        assert!(
            e.to_string().ends_with("or force the scan (--force)"),
            "{e}"
        );
        let forced = parse_targets("fd00::/64", true).unwrap_err();
        assert!(forced.to_string().contains("even forced"), "{forced}");
        assert_eq!(parse_targets("10.0.0.0/15", true).unwrap().len(), 131_070);
        assert!(matches!(
            parse_targets("fd00::/64", true),
            Err(TargetError::TooMany { .. })
        ));
        assert!(matches!(
            parse_targets("10.0.0.0/16 10.1.0.0/24 10.2.0.0/24", false),
            Err(TargetError::TooMany { .. })
        ));
    }

    #[test]
    fn check_targets_agrees_with_parse_targets_without_listing() {
        for text in [
            "10.0.0.1 10.0.0.2",
            "10.0.0.0/16",
            "10.0.0.0/15",
            "a b_c",
            " , ",
            "node1",
        ] {
            assert_eq!(
                check_targets(text, false).is_ok(),
                parse_targets(text, false).is_ok(),
                "{text}"
            );
        }
        assert_eq!(check_targets("10.0.0.1-3 node1", false), Ok(4));
        // A forced scan of a /64 is refused without enumerating it.
        assert!(matches!(
            check_targets("fd00::/64", true),
            Err(TargetError::TooMany { .. })
        ));
    }
}
