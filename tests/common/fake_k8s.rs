//! A stand-in `kubectl`/`etcdctl` pair for the verify and load-balancer stages, visible only
//! inside one lab host (a tmpfs over `/usr/local/bin` in its mount namespace). It answers from
//! files in that host's `/etc/fake-k8s`, so a test can make the "cluster" healthy or not, and
//! records what was applied.

#![allow(dead_code)]

use super::lab::Lab;

pub const FAKE_KUBECTL: &str = r#"#!/bin/sh
s=/etc/fake-k8s
case "$*" in
  "get nodes --no-headers") cat $s/nodes ;;
  "get pods -n kube-system --no-headers") cat $s/pods ;;
  "-n kube-system get cm coredns -o yaml") cat $s/coredns ;;
  "-n metallb-system get ipaddresspools.metallb.io -o jsonpath={.items[*].metadata.name}") cat $s/pools 2>/dev/null ;;
  "get configmap kube-proxy -n kube-system -o yaml") cat $s/kube-proxy ;;
  "apply -f - -n kube-system") cat > $s/kube-proxy.new && mv $s/kube-proxy.new $s/kube-proxy ;;
  "apply -f -") cat > $s/applied; grep -q 'kind: IPAddressPool' $s/applied && echo default > $s/pools ;;
  "-n metallb-system get service controller") test -e $s/controller-service ;;
  -n\ metallb-system\ expose\ deployment\ controller*) echo "$*" > $s/controller-service ;;
  *) echo "fake kubectl: unexpected: $*" >&2; exit 3 ;;
esac
"#;

pub const FAKE_ETCDCTL: &str = r#"#!/bin/sh
[ "$ETCDCTL_ENDPOINTS" = "https://127.0.0.1:2379" ] || { echo "etcd.env not loaded" >&2; exit 4; }
cat /etc/fake-k8s/etcd
"#;

/// Installs the pair on `host` with a healthy cluster of `nodes` (all Ready), CoreDNS
/// forwarding to `dns`, a healthy etcd and kube-proxy without strict ARP.
pub fn install(lab: &Lab, host: &str, nodes: &[&str], dns: &[&str]) {
    let nodes: String = nodes
        .iter()
        .map(|n| format!("{n} Ready <none> 5m v1.33.1\\n"))
        .collect();
    install_nodes(lab, host, &nodes, dns);
}

/// [`install`] with `kubectl get nodes --no-headers` answering `nodes` as written (a `printf`
/// format: each line ends in the two characters `\n`).
pub fn install_nodes(lab: &Lab, host: &str, nodes: &str, dns: &[&str]) {
    let script = format!(
        "mount -t tmpfs tmpfs /usr/local/bin && mkdir -p /etc/fake-k8s && cd /etc/fake-k8s \
         && cat > /usr/local/bin/kubectl <<'EOF'\n{FAKE_KUBECTL}EOF\n\
         cat > /usr/local/bin/etcdctl <<'EOF'\n{FAKE_ETCDCTL}EOF\n\
         chmod +x /usr/local/bin/kubectl /usr/local/bin/etcdctl \
         && printf 'ETCDCTL_ENDPOINTS=https://127.0.0.1:2379\\n' > /etc/etcd.env \
         && printf '{nodes}' > nodes \
         && printf 'coredns-1 1/1 Running 0 4m\\nkube-proxy-a 1/1 Running 0 5m\\n' > pods \
         && printf 'data:\\n  Corefile: |\\n    .:53 {{\\n        forward . {dns} {{\\n' > coredns \
         && printf 'https://127.0.0.1:2379 is healthy: successfully committed proposal: took = 2ms\\n' > etcd \
         && printf 'mode: ipvs\\nipvs:\\n  strictARP: false\\n' > kube-proxy",
        dns = dns.join(" ")
    );
    lab.exec_ok(host, &script);
}

/// Kernel parameters the plan sets, made the host's own: each `/proc/sys` file is covered by
/// a bind mount of a copy in the host's `/etc`, so `sysctl -p` on the host changes the copy,
/// never this machine's kernel (the lab hosts share it).
pub fn private_sysctl(lab: &Lab, host: &str, keys: &[&str]) {
    let mut script = String::from("set -e; mkdir -p /etc/fake-sysctl;");
    for k in keys {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        script.push_str(&format!(
            " cat {path} > /etc/fake-sysctl/{k}; mount --bind /etc/fake-sysctl/{k} {path};"
        ));
    }
    lab.exec_ok(host, &script);
}
