//! Discovery against the lab: ranges in, one state per address out, facts that match the hosts.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::lab::{DiskSpec, HostSpec, Lab, Os, Sudo, UserSpec};
use rackstrap::discover::{Discovered, HostState, discover, parse_targets};
use rackstrap::ssh::ConnectOptions;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn options(lab: &Lab, dir: &tempfile::TempDir) -> ConnectOptions {
    ConnectOptions {
        port: common::lab::LAB_PORT,
        identity: Some(lab.key_path().to_path_buf()),
        known_hosts: dir.path().join("known_hosts"),
        extra_known_hosts: Vec::new(),
        accept_new: true,
        connect_timeout: Duration::from_secs(2),
        use_agent: false,
        ..ConnectOptions::default()
    }
}

async fn scan(
    targets: Vec<String>,
    opts: &ConnectOptions,
    concurrency: usize,
) -> BTreeMap<String, Discovered> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let expected = targets.len();
    let task = tokio::spawn(discover(targets, opts.clone(), concurrency, tx));
    let mut found = BTreeMap::new();
    while let Some(d) = rx.recv().await {
        found.insert(d.address.clone(), d);
    }
    task.await.unwrap();
    assert_eq!(found.len(), expected, "one result per target");
    found
}

/// A listener that says something that is not SSH, and one whose accept queue is full so that
/// new connections get no answer at all.
fn decoys(
    not_ssh: &str,
    silent: &str,
) -> (
    std::thread::JoinHandle<()>,
    Vec<std::net::TcpStream>,
    tokio::net::TcpListener,
) {
    let listener = std::net::TcpListener::bind((not_ssh, common::lab::LAB_PORT)).unwrap();
    let http = std::thread::spawn(move || {
        use std::io::Write;
        for stream in listener.incoming().take(2).flatten() {
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
        }
    });
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(
            format!("{silent}:{}", common::lab::LAB_PORT)
                .parse()
                .unwrap(),
        )
        .unwrap();
    let full = socket.listen(0).unwrap();
    // Fill the accept queue (backlog 0 admits one); later SYNs are dropped.
    let mut held = Vec::new();
    let addr: std::net::SocketAddr = format!("{silent}:{}", common::lab::LAB_PORT)
        .parse()
        .unwrap();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        held.push(s);
        assert!(held.len() < 16, "accept queue never fills");
    }
    (http, held, full)
}

fn lab_specs() -> Vec<HostSpec> {
    vec![
        HostSpec::new("cp1").disk(40 * GIB),
        HostSpec::new("cp2")
            .os(Os::Ubuntu2404)
            .disk(40 * GIB)
            .disk(100 * GIB),
        HostSpec::new("cp3")
            .os(Os::Debian12)
            .disk_spec(DiskSpec::mounted(30 * GIB, "ext4", "/")),
        HostSpec::new("w1")
            .disk(500 * GIB)
            .disk(2000 * GIB)
            .disk(2000 * GIB),
        HostSpec::new("w2")
            .disk_spec(DiskSpec::formatted(700 * MIB, "ext4"))
            .disk(64 * GIB),
        HostSpec::new("w3").disk_spec(DiskSpec::mounted(GIB, "ext4", "/mnt/data")),
        HostSpec::new("w4"),
        HostSpec::new("w5")
            .disk(8 * GIB)
            .user(UserSpec::new("dev", Sudo::WithPassword).password("pw")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_addresses_eight_hosts() {
    require_lab!();
    let mut lab = Lab::start(lab_specs());
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&lab, &dir);
    let (_http, _held, _full) = decoys(&lab.address(9), &lab.address(10));

    let range = format!("{}-{}", lab.address(1), lab.address(12));
    let targets = parse_targets(&range, false).unwrap();
    assert_eq!(targets.len(), 12);
    let started = Instant::now();
    let found = scan(targets, &opts, 16).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );

    for (i, host) in lab.hosts().iter().enumerate() {
        let d = &found[&lab.address(i as u8 + 1)];
        assert_eq!(d.state, HostState::Ok, "{}: {}", host.name, d.message);
        assert!(d.newly_pinned);
        assert!(d.fingerprint.as_deref().unwrap().starts_with("SHA256:"));
        let facts = d
            .facts
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no facts: {}", host.name, d.message));
        assert_eq!(facts.hostname, host.name);
        assert_eq!(facts.os.id, host.os.id());
        assert_eq!(facts.os.version_id, host.os.version_id());
        // What the host really has, read inside its namespaces.
        let nproc: u32 = lab.exec_ok(&host.name, "nproc").trim().parse().unwrap();
        assert_eq!(facts.cpus, nproc);
        let mem_kib: u64 = lab
            .exec_ok(&host.name, "awk '/^MemTotal/ {print $2}' /proc/meminfo")
            .trim()
            .parse()
            .unwrap();
        assert_eq!(facts.mem_bytes, mem_kib * 1024);
        assert_eq!(facts.kernel, lab.exec_ok(&host.name, "uname -r").trim());
        let mut got: Vec<(String, u64)> = facts
            .disks
            .iter()
            .map(|d| (d.name.clone(), d.size_bytes))
            .collect();
        got.sort();
        let mut want: Vec<(String, u64)> = host
            .disks
            .iter()
            .map(|d| (d.name.clone(), d.size))
            .collect();
        want.sort();
        assert_eq!(got, want, "{}: its own disks, nothing else", host.name);
        assert!(facts.interfaces.iter().any(|i| i.name == "lo"));
    }
    // The root disk, a formatted disk, a mounted disk.
    let root = |name: &str| {
        let i = lab.hosts().iter().position(|h| h.name == name).unwrap();
        found[&lab.address(i as u8 + 1)].facts.clone().unwrap()
    };
    let cp3 = root("cp3");
    assert_eq!(
        cp3.root_disk().map(|d| d.name.clone()),
        Some(lab.host("cp3").disks[0].name.clone())
    );
    assert!(
        root("cp1").root_disk().is_none(),
        "the machine's real root disk is not in the lab's view"
    );
    let w2 = root("w2");
    let formatted = w2.device(&lab.host("w2").disks[0].name).unwrap();
    assert_eq!(formatted.fstype.as_deref(), Some("ext4"));
    assert!(formatted.is_in_use() && !formatted.is_mounted());
    assert!(
        !w2.device(&lab.host("w2").disks[1].name)
            .unwrap()
            .is_in_use()
    );
    let w3 = root("w3");
    assert_eq!(
        w3.device(&lab.host("w3").disks[0].name)
            .unwrap()
            .mountpoints,
        ["/mnt/data"]
    );

    // The four other addresses, each with its own state.
    assert_eq!(
        found[&lab.address(9)].state,
        HostState::NotSsh,
        "{}",
        found[&lab.address(9)].message
    );
    assert_eq!(
        found[&lab.address(10)].state,
        HostState::NoAnswer,
        "{}",
        found[&lab.address(10)].message
    );
    assert_eq!(found[&lab.address(11)].state, HostState::PortClosed);
    assert_eq!(found[&lab.address(12)].state, HostState::PortClosed);

    // A host restarted with a new key is refused; the rest go on, trusted by their pins.
    let old = found[&lab.address(2)].fingerprint.clone().unwrap();
    lab.restart_with_new_key("cp2");
    let again = scan(
        parse_targets(&format!("{}-{}", lab.address(1), lab.address(8)), false).unwrap(),
        &opts,
        8,
    )
    .await;
    match &again[&lab.address(2)].state {
        HostState::HostKeyChanged { pinned, offered } => {
            assert_eq!(pinned, &old);
            assert_ne!(offered, &old);
        }
        other => panic!("expected host key changed, got {other:?}"),
    }
    assert!(again[&lab.address(2)].facts.is_none(), "nothing ran on it");
    for n in [1u8, 3, 4, 5, 6, 7, 8] {
        assert_eq!(again[&lab.address(n)].state, HostState::Ok);
        assert!(!again[&lab.address(n)].newly_pinned);
    }

    // Without accept_new, an unknown key is reported with its fingerprint, nothing pinned.
    let strict = ConnectOptions {
        accept_new: false,
        known_hosts: dir.path().join("empty"),
        ..opts.clone()
    };
    let unknown = scan(vec![lab.address(1)], &strict, 1).await;
    assert_eq!(unknown[&lab.address(1)].state, HostState::UnknownHostKey);
    assert!(unknown[&lab.address(1)].fingerprint.is_some());

    // Wrong key: auth failed. A user whose sudo wants a password: the clear state.
    let stranger = dir.path().join("stranger");
    assert!(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&stranger)
            .status()
            .unwrap()
            .success()
    );
    let wrong = ConnectOptions {
        identity: Some(stranger),
        ..opts.clone()
    };
    assert_eq!(
        scan(vec![lab.address(1)], &wrong, 1).await[&lab.address(1)].state,
        HostState::AuthFailed
    );
    let dev = ConnectOptions {
        user: "dev".into(),
        ..opts.clone()
    };
    let d = &scan(vec![lab.address(8)], &dev, 1).await[&lab.address(8)];
    assert_eq!(d.state, HostState::SudoNeedsPassword);
    assert!(d.message.contains("sudo needs a password"), "{}", d.message);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_targets_at_once() {
    require_lab!();
    let lab = Lab::start(
        (0..8)
            .map(|i| HostSpec::new(&format!("n{i}")).disk(GIB))
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    let opts = options(&lab, &dir);
    // The lab's whole /24 (8 hosts, 246 closed ports) plus every host six times more.
    let mut targets = parse_targets(&format!("{}/24", lab.address(0)), false).unwrap();
    for _ in 0..6 {
        targets.extend(lab.hosts().iter().map(|h| h.address.clone()));
    }
    let total = targets.len();
    let before = open_fds();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let task = tokio::spawn(discover(targets, opts, 400, tx));
    let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut peak_fds = 0;
    let mut seen = 0;
    while let Some(d) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("discovery stalled")
    {
        seen += 1;
        peak_fds = peak_fds.max(open_fds());
        if d.state == HostState::Ok {
            assert!(d.facts.is_some(), "{}: {}", d.address, d.message);
        }
        *states.entry(d.state.label()).or_default() += 1;
    }
    task.await.unwrap();
    assert_eq!(seen, total);
    assert_eq!(states.get("ok"), Some(&(8 * 7)), "{states:?}");
    assert_eq!(states.get("port closed"), Some(&246), "{states:?}");
    assert!(peak_fds < 900, "peak {peak_fds} descriptors");
    let pinned = std::fs::read_to_string(dir.path().join("known_hosts")).unwrap();
    assert_eq!(
        pinned.lines().count(),
        8,
        "each host pinned once despite concurrent first contacts:\n{pinned}"
    );
    // Closed sessions finish their teardown in the background; give them a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds() > before + 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        open_fds() <= before + 4,
        "descriptors leaked: {before} -> {}: {fds:?}",
        open_fds()
    );
    eprintln!(
        "{total} targets in {:?}, peak {peak_fds} fds",
        started.elapsed()
    );
}

/// Listeners on `addresses`, all on one port, whose accept queues are full: every new SYN is
/// dropped, as at a silent address. Returned with the connections that fill them.
fn silent_listeners(
    addresses: &[String],
) -> (Vec<tokio::net::TcpListener>, Vec<std::net::TcpStream>, u16) {
    let mut port = 0;
    let mut listeners = Vec::new();
    let mut held = Vec::new();
    for a in addresses {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{a}:{port}").parse().unwrap()).unwrap();
        let full = socket.listen(0).unwrap();
        port = full.local_addr().unwrap().port();
        let addr: std::net::SocketAddr = format!("{a}:{port}").parse().unwrap();
        // Backlog 0 admits one; later SYNs are dropped.
        while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            held.push(s);
            assert!(
                held.len() < 16 * addresses.len(),
                "accept queue never fills"
            );
        }
        listeners.push(full);
    }
    (listeners, held, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_addresses_wait_together_not_in_turns() {
    let targets: Vec<String> = (1..=6).map(|i| format!("127.79.0.{i}")).collect();
    let (_listeners, _held, port) = silent_listeners(&targets);
    let dir = tempfile::tempdir().unwrap();
    let opts = ConnectOptions {
        port,
        known_hosts: dir.path().join("known_hosts"),
        connect_timeout: Duration::from_secs(1),
        use_agent: false,
        ..ConnectOptions::default()
    };
    let start = Instant::now();
    // One handshake at a time: waiting for TCP answers must not be bound by that.
    let found = scan(targets, &opts, 1).await;
    let took = start.elapsed();
    assert!(
        found.values().all(|d| d.state == HostState::NoAnswer),
        "{found:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "six silent addresses with a 1 s connect timeout took {took:?}, not about 1 s"
    );
}
