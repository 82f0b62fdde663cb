//! Silent subnet: discovery of `10.88.0.0/24` where three addresses run sshd and every other
//! one swallows packets, against `xargs -P` OpenSSH over the same addresses with the same
//! connect timeout.
//!
//! Everything happens in a network namespace of its own: the benchmark runs itself again under
//! `unshare --net` (section `subnet-inside`), brings up loopback, puts `10.88.0.1-3` on it and
//! routes the rest of the /24 into a `tun` interface no process reads, which discards what it
//! is given (no address resolution on a point-to-point link, so no "host unreachable" either):
//! a SYN to a silent address is never answered, as behind a DROP rule, with no firewall tool
//! needed. The namespace has no other interface and no route out, so nothing can leave it; it
//! ends with the process (the three sshd are stopped first).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rackstrap::discover::{Discovered, HostState};

use super::report::{median, ms};

const PREFIX: &str = "10.88.0";
const SSHD_HOSTS: u8 = 3;
const PORT: u16 = 2222;
/// The connect timeout rackstrap uses (`ssh::DEFAULT_CONNECT_TIMEOUT`), given to OpenSSH too.
const TIMEOUT: Duration = rackstrap::ssh::DEFAULT_CONNECT_TIMEOUT;
const ROUNDS: usize = 2;

/// Run from the outside: the measurement, in a fresh network namespace.
pub(crate) fn run() -> String {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return format!("### Silent subnet\n\nnot measured: {e}\n"),
    };
    let out = Command::new("unshare")
        .arg("--net")
        .arg(exe)
        .arg("subnet-inside")
        .stderr(Stdio::inherit())
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => format!(
            "### Silent subnet\n\nnot measured: the run in its namespace failed ({})\n",
            o.status
        ),
        Err(e) => format!("### Silent subnet\n\nnot measured: unshare: {e}\n"),
    }
}

/// Run inside the namespace: set it up, measure, print the table on stdout.
pub(crate) fn inside() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    setup_network();
    let key = dir.join("id_ed25519");
    keygen(&key);
    let mut pidfiles = Vec::new();
    for i in 1..=SSHD_HOSTS {
        pidfiles.push(start_sshd(dir, i, &key));
    }
    let targets = format!("{PREFIX}.0/24");
    let addresses = rackstrap::discover::parse_targets(&targets, false).expect("the /24 parses");

    eprintln!("subnet: warm-up ...");
    let _ = rackstrap_discover(dir, &key, &targets, addresses.len());
    let mut rack = Vec::new();
    let mut openssh = Vec::new();
    for round in 0..ROUNDS {
        eprintln!("subnet round {}/{ROUNDS} ...", round + 1);
        for step in 0..2 {
            if (round + step) % 2 == 0 {
                let r = rackstrap_discover(dir, &key, &targets, addresses.len());
                eprintln!("    rackstrap {}", ms(r.wall));
                rack.push(r);
            } else {
                let w = openssh_xargs(dir, &key, &addresses);
                eprintln!("    openssh   {}", ms(w));
                openssh.push(w);
            }
        }
    }
    for pidfile in pidfiles {
        if let Ok(pid) = fs::read_to_string(&pidfile) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }

    let wall = median(&rack.iter().map(|r| r.wall).collect::<Vec<_>>());
    let first = median(&rack.iter().map(|r| r.first_ok).collect::<Vec<_>>());
    let last = median(&rack.iter().map(|r| r.last_ok).collect::<Vec<_>>());
    let ssh = median(&openssh);
    let mut t = String::new();
    writeln!(
        t,
        "### Silent subnet: {} addresses, {SSHD_HOSTS} with sshd, the rest dropping packets, \
         connect timeout {} s\n",
        addresses.len(),
        TIMEOUT.as_secs()
    )
    .ok();
    writeln!(
        t,
        "| client | wall, median (min-max) | against the timeout | ratio |"
    )
    .ok();
    writeln!(t, "|---|---|---|---|").ok();
    let line = |t: &mut String, name: &str, runs: &[Duration], d: Duration| {
        let min = runs.iter().min().copied().unwrap_or_default();
        let max = runs.iter().max().copied().unwrap_or_default();
        writeln!(
            t,
            "| {name} | {} ({}-{}) | timeout + {} | {:.1}x |",
            ms(d),
            ms(min),
            ms(max),
            ms(d.saturating_sub(TIMEOUT)),
            d.as_secs_f64() / wall.as_secs_f64()
        )
        .ok();
    };
    line(
        &mut t,
        "rackstrap `discover 10.88.0.0/24 --json`",
        &rack.iter().map(|r| r.wall).collect::<Vec<_>>(),
        wall,
    );
    line(
        &mut t,
        &format!(
            "OpenSSH, `xargs -P {}` `ssh -o ConnectTimeout={}` running the facts script",
            addresses.len(),
            TIMEOUT.as_secs()
        ),
        &openssh,
        ssh,
    );
    writeln!(
        t,
        "\nrackstrap printed its first answering host after {} and the last of the three after \
         {} (median): hosts show as they answer, not at the end. Rounds: {ROUNDS} per client \
         after one warm-up of rackstrap.",
        ms(first),
        ms(last)
    )
    .ok();
    print!("{t}");
}

fn sh(cmd: &str) {
    let status = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(status.success(), "`{cmd}` failed: {status}");
}

fn setup_network() {
    sh("ip link set lo up");
    for i in 1..=SSHD_HOSTS {
        sh(&format!("ip addr add {PREFIX}.{i}/32 dev lo"));
    }
    sh("ip tuntap add dev silent mode tun && ip link set silent up");
    sh(&format!("ip route add {PREFIX}.0/24 dev silent"));
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
}

/// One sshd on `PREFIX.i`, root's key authorised; returns its pid file.
fn start_sshd(dir: &Path, i: u8, client_key: &Path) -> std::path::PathBuf {
    let host = dir.join(format!("host{i}"));
    fs::create_dir_all(&host).expect("host directory");
    let host_key = host.join("ssh_host_ed25519_key");
    keygen(&host_key);
    let public = fs::read_to_string(client_key.with_extension("pub")).expect("client key");
    fs::write(host.join("authorized_keys"), public).expect("authorized_keys");
    let pidfile = host.join("sshd.pid");
    let config = host.join("sshd_config");
    fs::write(
        &config,
        format!(
            "ListenAddress {PREFIX}.{i}\nPort {PORT}\nHostKey {key}\nAuthorizedKeysFile {auth}\n\
             PidFile {pid}\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n\
             PrintMotd no\nMaxStartups 1000:30:2000\n",
            key = host_key.display(),
            auth = host.join("authorized_keys").display(),
            pid = pidfile.display(),
        ),
    )
    .expect("sshd_config");
    fs::create_dir_all("/run/sshd").ok();
    let status = Command::new("/usr/sbin/sshd")
        .arg("-f")
        .arg(&config)
        .status()
        .expect("sshd");
    assert!(status.success(), "sshd on {PREFIX}.{i} did not start");
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect((format!("{PREFIX}.{i}").as_str(), PORT)).is_err() {
        assert!(
            Instant::now() < until,
            "sshd on {PREFIX}.{i} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    pidfile
}

#[derive(Clone, Copy, Default)]
struct Discovery {
    wall: Duration,
    first_ok: Duration,
    last_ok: Duration,
}

/// `rackstrap discover <the /24> --json`, reading its lines as they come.
fn rackstrap_discover(dir: &Path, key: &Path, targets: &str, expected: usize) -> Discovery {
    let known = tempfile::Builder::new()
        .prefix("known")
        .tempdir_in(dir)
        .expect("known_hosts directory")
        .keep()
        .join("known_hosts");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rackstrap"))
        .args([
            "discover",
            targets,
            "--port",
            &PORT.to_string(),
            "--identity",
        ])
        .arg(key)
        .arg("--known-hosts")
        .arg(&known)
        .args(["--accept-new", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("rackstrap discover");
    let stdout = child.stdout.take().expect("stdout");
    let mut result = Discovery::default();
    let (mut ok, mut all) = (0, 0);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("rackstrap output");
        let d: Discovered = serde_json::from_str(&line).expect("a --json line");
        all += 1;
        if d.state == HostState::Ok {
            ok += 1;
            if ok == 1 {
                result.first_ok = start.elapsed();
            }
            result.last_ok = start.elapsed();
        } else {
            assert_eq!(d.state, HostState::NoAnswer, "{}: {}", d.address, d.message);
        }
    }
    let _ = child.wait();
    result.wall = start.elapsed();
    assert_eq!(ok, usize::from(SSHD_HOSTS), "every sshd host answered");
    assert_eq!(all, expected, "one line per address");
    result
}

/// `xargs -P <all>` running one `ssh` per address with the facts script.
fn openssh_xargs(dir: &Path, key: &Path, addresses: &[String]) -> Duration {
    let known = dir.join("openssh_known_hosts");
    let _ = fs::remove_file(&known);
    let script = format!(
        "sh -c {}",
        shlex::try_quote(&rackstrap::facts::gather::SCRIPT).expect("script has no NUL")
    );
    let out = dir.join("openssh.out");
    let start = Instant::now();
    let mut child = Command::new("xargs")
        .args(["-P", &addresses.len().to_string(), "-I", "%ADDR%"])
        .args(["ssh", "-F", "/dev/null", "-i"])
        .arg(key)
        .args(["-p", &PORT.to_string()])
        .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
        .args(["-o", "StrictHostKeyChecking=accept-new", "-o"])
        .arg(format!("UserKnownHostsFile={}", known.display()))
        .args(["-o", &format!("ConnectTimeout={}", TIMEOUT.as_secs())])
        .args(["-o", "LogLevel=ERROR", "root@%ADDR%"])
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(fs::File::create(&out).expect("output file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("xargs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(addresses.join("\n").as_bytes())
            .expect("addresses to xargs");
    }
    let _ = child.wait();
    let wall = start.elapsed();
    let text = fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(
        text.matches("::rackstrap:: end").count(),
        usize::from(SSHD_HOSTS),
        "ssh ran the script on every sshd host"
    );
    wall
}
