//! A network of its own for a lab (`Lab::start_networked`): each lab host in its own network
//! namespace, joined by a veth pair to a bridge in one more namespace the lab creates, the
//! *hub* (`ip netns` name [`hub_name`]). Addresses come from the benchmarking range
//! 198.18.0.0/15 (RFC 2544), which exists only there: host `i` of slot `s` is
//! `198.18.<s>.<i+1>/24`, the hub's bridge `198.18.<s>.254`. Nothing else is routed, and
//! whatever talks to the hosts (the rackstrap binary, `ssh`) runs inside the hub
//! ([`in_hub`]), so no packet of the lab can leave it.
//!
//! A host can then have a firewall of its own (`nft` inside its namespace) and a link with
//! a smaller MTU ([`set_link_mtu`], on the hub's side of its veth: frames larger than that
//! are dropped at the bridge, as a switch port with a smaller MTU does).
//!
//! Torn down with the lab: the hosts' namespaces die with their inits (and their veth ends
//! with them), the hub is deleted (`ip netns del`), also when the next lab takes a slot a
//! killed test left behind.

use std::path::Path;
use std::process::{Command, Stdio};

/// The lab's hub namespace.
pub fn hub_name(slot: u8) -> String {
    format!("rackstrap-lab-{slot}")
}

/// Host `i` (from 0) of slot `slot`.
pub fn host_address(slot: u8, i: usize) -> String {
    format!("198.18.{slot}.{}", i + 1)
}

/// Where the hub itself (rackstrap, the test's tools) sits on the bridge.
pub fn hub_address(slot: u8) -> String {
    format!("198.18.{slot}.254")
}

/// Why this machine cannot run a networked lab, if it cannot.
pub fn skip_reason() -> Option<String> {
    for tool in ["ip", "python3", "ping", "nft"] {
        let found = std::env::var_os("PATH")
            .and_then(|p| p.into_string().ok())
            .unwrap_or_default()
            .split(':')
            .chain(["/usr/sbin", "/sbin", "/usr/bin"])
            .any(|d| Path::new(d).join(tool).is_file());
        if !found {
            return Some(format!(
                "`{tool}` is not installed (iproute2, python3, iputils-ping, nftables)"
            ));
        }
    }
    match Command::new("unshare")
        .args(["--net", "--fork", "true"])
        .output()
    {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "unshare cannot create network namespaces here: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("unshare: {e}")),
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("netlab: ip {args:?}: {e}"));
    assert!(
        out.status.success(),
        "netlab: ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The hub: its namespace, a bridge `br0` with the hub's address, loopback up.
pub fn create_hub(slot: u8) {
    remove_hub(slot);
    let hub = hub_name(slot);
    ip(&["netns", "add", &hub]);
    ip(&["-n", &hub, "link", "set", "lo", "up"]);
    ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
    ip(&[
        "-n",
        &hub,
        "addr",
        "add",
        &format!("{}/24", hub_address(slot)),
        "dev",
        "br0",
    ]);
    ip(&["-n", &hub, "link", "set", "br0", "up"]);
}

/// Deletes the hub if it is there (its bridge and veth ends go with it).
pub fn remove_hub(slot: u8) {
    let _ = Command::new("ip")
        .args(["netns", "del", &hub_name(slot)])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Joins host `i`, whose namespaces' init is `init_pid`, to the hub: a veth pair `h<i>` (on
/// the bridge) / `eth0` (in the host) and the host's address on `eth0`.
pub fn plug(slot: u8, i: usize, init_pid: u32, address: &str) {
    let hub = hub_name(slot);
    let port = format!("h{i}");
    let pid = init_pid.to_string();
    ip(&[
        "link", "add", &port, "netns", &hub, "type", "veth", "peer", "name", "eth0", "netns", &pid,
    ]);
    ip(&["-n", &hub, "link", "set", &port, "master", "br0", "up"]);
    let inside = |args: &[&str]| {
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-n", "ip"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("netlab: nsenter ip");
        assert!(
            out.status.success(),
            "netlab: ip {args:?} in host {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    inside(&["link", "set", "lo", "up"]);
    inside(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
    inside(&["link", "set", "eth0", "up"]);
}

/// The MTU of host `i`'s link, on the bridge's side.
pub fn set_link_mtu(slot: u8, i: usize, mtu: u32) {
    ip(&[
        "-n",
        &hub_name(slot),
        "link",
        "set",
        &format!("h{i}"),
        "mtu",
        &mtu.to_string(),
    ]);
}

/// `program` run inside the hub's network namespace (everything else as the test's).
pub fn in_hub(slot: u8, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &hub_name(slot)]).arg(program);
    c
}

/// Whether a TCP connection to `address:port` opens from the hub.
pub fn can_connect(slot: u8, address: &str, port: u16) -> bool {
    in_hub(slot, "bash")
        .args(["-c", &format!("exec 3<>/dev/tcp/{address}/{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
