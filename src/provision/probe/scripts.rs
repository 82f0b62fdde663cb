//! The scripts the probe runs on the hosts: the [`LISTENER`] each destination starts on the
//! ports its sources need, and the [`CONNECTOR`] each source runs towards its [`Target`]s
//! (from [`super::scheme`]). Their output is read by [`super::findings`].

use super::*;

/// The listener: binds every `proto:port` on the address, prints `pid N`, `busy PROTO PORT
/// WHY` for each it cannot bind and `ready`; accepts and closes TCP connections, answers each
/// datagram; exits after its time, or when killed.
pub const LISTENER: &str = r#"import os, select, socket, sys, time
addr, secs = sys.argv[1], float(sys.argv[2])
print("pid", os.getpid(), flush=True)
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
socks = {}
for spec in sys.argv[3:]:
    proto, port = spec.split(":")
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    try:
        if proto == "tcp":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        if proto == "tcp":
            s.listen(128)
    except OSError as e:
        print("busy", proto, port, e.strerror or e, flush=True)
        s.close()
        continue
    socks[s] = proto
print("ready", flush=True)
end = time.monotonic() + secs
while socks and time.monotonic() < end:
    r, _, _ = select.select(list(socks), [], [], max(0.0, min(1.0, end - time.monotonic())))
    for s in r:
        try:
            if socks[s] == "tcp":
                c, _ = s.accept()
                c.close()
            else:
                _, peer = s.recvfrom(512)
                s.sendto(b"rackstrap-probe", peer)
        except OSError:
            pass
"#;

/// The connector: from the source address, every `proto/port/destination` at once (`result
/// PROTO PORT DEST OUTCOME [WHY]` each), then `ping -M do` at the MTU to each destination
/// (`mtu DEST ok|fail|skipped [WHY]`).
pub const CONNECTOR: &str = r#"import errno, os, select, socket, subprocess, sys, time
src, secs, mtu = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
names = {errno.ECONNREFUSED: "refused", errno.ECONNRESET: "reset", errno.EHOSTUNREACH: "unreachable", errno.ENETUNREACH: "unreachable", errno.ETIMEDOUT: "timeout"}
pending = {}
def done(key, outcome, why=""):
    print("result", *key, outcome, why, flush=True)
for spec in sys.argv[4:]:
    proto, port, dst = spec.split("/", 2)
    key = (proto, port, dst)
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setblocking(False)
    try:
        s.bind((src, 0))
        if proto == "tcp":
            rc = s.connect_ex((dst, int(port)))
            if rc not in (0, errno.EINPROGRESS):
                done(key, names.get(rc, "error"), os.strerror(rc))
                s.close()
                continue
        else:
            s.connect((dst, int(port)))
            s.send(b"rackstrap-probe")
    except OSError as e:
        done(key, names.get(e.errno, "error"), e.strerror or str(e))
        s.close()
        continue
    pending[s] = [key, proto, time.monotonic()]
end = time.monotonic() + secs
while pending and time.monotonic() < end:
    tcp = [s for s, v in pending.items() if v[1] == "tcp"]
    udp = [s for s, v in pending.items() if v[1] == "udp"]
    r, w, _ = select.select(udp, tcp, [], max(0.0, min(0.5, end - time.monotonic())))
    for s in w:
        rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        key = pending.pop(s)[0]
        done(key, "ok") if rc == 0 else done(key, names.get(rc, "error"), os.strerror(rc))
        s.close()
    for s in r:
        key = pending.pop(s)[0]
        try:
            s.recv(512)
            done(key, "ok")
        except OSError as e:
            done(key, names.get(e.errno, "error"), e.strerror or str(e))
        s.close()
    now = time.monotonic()
    for s, v in list(pending.items()):
        if v[1] == "udp" and now - v[2] >= 1.0:
            v[2] = now
            try:
                s.send(b"rackstrap-probe")
            except OSError as e:
                pending.pop(s)
                done(v[0], names.get(e.errno, "error"), e.strerror or str(e))
                s.close()
for s, v in pending.items():
    done(v[0], "timeout")
if mtu > 0:
    pings = {}
    for dst in sorted({spec.split("/", 2)[2] for spec in sys.argv[4:]}):
        try:
            pings[dst] = subprocess.Popen(["ping", "-n", "-M", "do", "-s", str(mtu - 28), "-c", "3", "-i", "0.2", "-W", "1", "-I", src, dst], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except OSError as e:
            print("mtu", dst, "skipped", e.strerror or e, flush=True)
    for dst, p in pings.items():
        out = p.communicate()[0].strip().splitlines()
        why = [l for l in out if "received" in l or "too long" in l or "mtu" in l.lower()]
        print("mtu", dst, "ok" if p.returncode == 0 else "fail", (why or out or [""])[-1], flush=True)
"#;

/// The remote command that runs `script` (on stdin) with `args`, ended by `timeout` after
/// `secs` seconds if it has not ended on its own.
fn python(secs: u32, args: &[String]) -> String {
    let mut words = vec![
        "timeout".to_string(),
        secs.to_string(),
        "python3".to_string(),
        "-".to_string(),
    ];
    words.extend(args.iter().cloned());
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// The listener's command on a host: bind `address`, these targets.
pub fn listener_command(address: &str, targets: &BTreeSet<(Proto, u16)>) -> String {
    let mut args = vec![address.to_string(), LISTEN_SECS.to_string()];
    args.extend(targets.iter().map(|(p, port)| format!("{p}:{port}")));
    python(LISTEN_SECS + 10, &args)
}

/// The connector's command on a source: from `address`, to these (destination, target)s,
/// pinging at `mtu` (0: no ping).
pub fn connector_command(address: &str, mtu: u32, to: &[(String, Target)]) -> String {
    let mut args = vec![
        address.to_string(),
        CONNECT_SECS.to_string(),
        mtu.to_string(),
    ];
    args.extend(
        to.iter()
            .map(|(dst, t)| format!("{}/{}/{dst}", t.proto, t.port)),
    );
    python(CONNECT_SECS * 4 + 30, &args)
}
