//! What the probe found: the connector's lines read into a [`SourceReport`] per source, the
//! active firewall of a host with a blocked port, and everything gathered into [`Findings`],
//! from which [`mtu_verdicts`] and the parent module's results per host are drawn.

use super::*;

/// What one try ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Refused while our listener was there: a firewall rejected it (or, for a port in
    /// use, nothing listens on the planned address).
    Refused,
    /// No answer: dropped on the way (filtered).
    TimedOut,
    Reset,
    /// "No route to host": an ICMP host-unreachable or -prohibited answer, a firewall's
    /// reject, or no route.
    Unreachable,
    Other(String),
}

impl Outcome {
    fn parse(word: &str, why: &str) -> Self {
        match word {
            "ok" => Outcome::Ok,
            "refused" => Outcome::Refused,
            "timeout" => Outcome::TimedOut,
            "reset" => Outcome::Reset,
            "unreachable" => Outcome::Unreachable,
            _ => Outcome::Other(why.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Ok => "reached".into(),
            Outcome::Refused => "refused (rejected: the probe's listener was there)".into(),
            Outcome::TimedOut => "timed out (filtered: dropped on the way)".into(),
            Outcome::Reset => "reset".into(),
            Outcome::Unreachable => "unreachable (no route to host: rejected or not routed)".into(),
            Outcome::Other(why) => format!("failed ({why})"),
        }
    }
}

/// A port `from` could not reach on `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub from: String,
    pub to: String,
    pub target: Target,
    pub outcome: Outcome,
}

/// The planned MTU not carried from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MtuFail {
    pub from: String,
    pub to: String,
    pub why: String,
}

/// What a source's connector printed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SourceReport {
    /// (proto, port, destination address) -> outcome.
    pub results: BTreeMap<(Proto, u16, String), Outcome>,
    /// destination address -> Ok(()) or why not.
    pub mtu: BTreeMap<String, Result<(), String>>,
    /// Destinations the MTU could not be tried on (no ping).
    pub mtu_skipped: BTreeMap<String, String>,
}

pub fn parse_connector(out: &str) -> SourceReport {
    let mut r = SourceReport::default();
    for line in out.lines() {
        let mut w = line.splitn(6, ' ');
        match w.next() {
            Some("result") => {
                let (Some(proto), Some(port), Some(dst), Some(outcome)) =
                    (w.next(), w.next(), w.next(), w.next())
                else {
                    continue;
                };
                let why = w.next().unwrap_or("").trim();
                let proto = match proto {
                    "tcp" => Proto::Tcp,
                    "udp" => Proto::Udp,
                    _ => continue,
                };
                let Ok(port) = port.parse() else { continue };
                r.results
                    .insert((proto, port, dst.to_string()), Outcome::parse(outcome, why));
            }
            Some("mtu") => {
                let mut w = line.splitn(4, ' ').skip(1);
                let (Some(dst), Some(state)) = (w.next(), w.next()) else {
                    continue;
                };
                let why = w.next().unwrap_or("").trim().to_string();
                match state {
                    "ok" => {
                        r.mtu.insert(dst.to_string(), Ok(()));
                    }
                    "skipped" => {
                        r.mtu_skipped.insert(dst.to_string(), why);
                    }
                    _ => {
                        r.mtu.insert(dst.to_string(), Err(why));
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// The firewall front end active on a host, with what it needs to name rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firewall {
    Ufw,
    Firewalld,
    /// nftables, with the (family, table, chain) of its input hook chains and its rule lines.
    Nftables {
        inputs: Vec<(String, String, String)>,
        rules: Vec<String>,
    },
    /// iptables rules beyond the default policies (`iptables -S`).
    Iptables {
        rules: Vec<String>,
    },
}

/// Asks a host which firewall is active.
pub fn firewall_command() -> String {
    Script::new()
        .section(
            "ufw",
            "command -v ufw >/dev/null 2>&1 && ufw status 2>/dev/null | head -n 1",
        )
        .section(
            "firewalld",
            "command -v firewall-cmd >/dev/null 2>&1 && firewall-cmd --state 2>/dev/null",
        )
        .section(
            "nft",
            "command -v nft >/dev/null 2>&1 && nft list ruleset 2>/dev/null",
        )
        .section(
            "iptables",
            "command -v iptables >/dev/null 2>&1 && iptables -S 2>/dev/null",
        )
        .one_line()
}

/// The active firewall from [`firewall_command`]'s output, if any.
pub fn parse_firewall(out: &str) -> Option<Firewall> {
    let sec = crate::facts::probe::split(out);
    if sec.text("ufw").trim() == "Status: active" {
        return Some(Firewall::Ufw);
    }
    if sec.text("firewalld").trim() == "running" {
        return Some(Firewall::Firewalld);
    }
    let nft = sec.text("nft");
    let mut inputs = Vec::new();
    let mut rules = Vec::new();
    let (mut table, mut chain) = (None::<(String, String)>, None::<String>);
    for line in nft.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["table", family, name, "{"] => table = Some((family.to_string(), name.to_string())),
            ["chain", name, "{"] => chain = Some(name.to_string()),
            _ if line.starts_with("type filter hook input") => {
                if let (Some((f, t)), Some(c)) = (&table, &chain) {
                    inputs.push((f.clone(), t.clone(), c.clone()));
                }
            }
            _ if line.contains("dport")
                || line.ends_with("drop")
                || line.ends_with("reject")
                || line.contains("reject with") =>
            {
                rules.push(line.to_string())
            }
            _ => {}
        }
    }
    if !inputs.is_empty() || !rules.is_empty() {
        return Some(Firewall::Nftables { inputs, rules });
    }
    let ipt: Vec<String> = sec
        .text("iptables")
        .lines()
        .filter(|l| l.starts_with("-A "))
        .map(str::to_string)
        .collect();
    if !ipt.is_empty() {
        return Some(Firewall::Iptables { rules: ipt });
    }
    None
}

impl Firewall {
    pub fn name(&self) -> &'static str {
        match self {
            Firewall::Ufw => "ufw",
            Firewall::Firewalld => "firewalld",
            Firewall::Nftables { .. } => "nftables",
            Firewall::Iptables { .. } => "iptables",
        }
    }

    /// The rules already there that mention `port`.
    pub fn rules_for(&self, port: u16) -> Vec<String> {
        let p = port.to_string();
        let mentions = |l: &&String| {
            l.split(|c: char| !c.is_ascii_digit())
                .any(|w| w == p.as_str())
        };
        match self {
            Firewall::Nftables { rules, .. } | Firewall::Iptables { rules } => {
                rules.iter().filter(mentions).cloned().collect()
            }
            _ => Vec::new(),
        }
    }

    /// The command that lets `source` reach `proto`/`port`.
    pub fn rule_to_add(&self, source: &str, proto: Proto, port: u16) -> String {
        match self {
            Firewall::Ufw => format!("ufw allow proto {proto} from {source} to any port {port}"),
            Firewall::Firewalld => format!(
                "firewall-cmd --permanent --add-rich-rule='rule family=\"ipv4\" source address=\"{source}\" port port=\"{port}\" protocol=\"{proto}\" accept' && firewall-cmd --reload"
            ),
            Firewall::Nftables { inputs, .. } => {
                let (f, t, c) = inputs
                    .first()
                    .cloned()
                    .unwrap_or_else(|| ("inet".into(), "filter".into(), "input".into()));
                format!("nft insert rule {f} {t} {c} ip saddr {source} {proto} dport {port} accept")
            }
            Firewall::Iptables { .. } => {
                format!("iptables -I INPUT -p {proto} -s {source} --dport {port} -j ACCEPT")
            }
        }
    }
}

/// Everything the probe found, for the hosts' logs and results.
#[derive(Debug, Default)]
pub struct Findings {
    pub blocked: Vec<Blocked>,
    pub mtu: Vec<MtuFail>,
    /// Ports a listener could not bind: (host, proto, port, why).
    pub busy: Vec<(String, Proto, u16, String)>,
    /// Pairs and ports tried, and MTU pairs tried.
    pub tried: usize,
    pub mtu_tried: usize,
    /// Why part of the probe could not run on a host (python3 missing, the connection broke).
    pub broken: BTreeMap<String, String>,
    /// The active firewall of hosts with a blocked port.
    pub firewalls: BTreeMap<String, Firewall>,
}

/// The MTU verdict per host: a host fails when the MTU is carried to none of its peers.
pub fn mtu_verdicts(f: &Findings, pairs: &[(String, String)]) -> BTreeSet<String> {
    let mut peers: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (a, b) in pairs {
        let failed = f.mtu.iter().any(|m| (&m.from, &m.to) == (a, b));
        for h in [a, b] {
            let e = peers.entry(h.as_str()).or_default();
            e.0 += 1;
            if failed {
                e.1 += 1;
            }
        }
    }
    peers
        .into_iter()
        .filter(|(_, (all, failed))| *all > 0 && all == failed)
        .map(|(h, _)| h.to_string())
        .collect()
}
