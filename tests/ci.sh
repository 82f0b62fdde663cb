#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then runs every test once.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in sshd:openssh-server mkfs.xfs:xfsprogs mkfs.ext4:e2fsprogs tmux:tmux \
            lsblk:util-linux ip:iproute2 mdadm:mdadm unshare:util-linux nsenter:util-linux \
            losetup:mount ssh:openssh-client ssh-keygen:openssh-client sudo:sudo ps:procps \
            python3:python3 pgrep:procps sha256sum:coreutils ping:iputils-ping nft:nftables; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need_apt+=("${pair#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "ci: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # mdadm's postinst wants to start services and update initramfs; neither matters here.
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# ansible-core from PyPI. A Debian python3 refuses system-wide pip installs (PEP 668), so
# when the plain install is refused it goes into a virtualenv of the project's own.
venv=target/ci-venv
if [ -x "$venv/bin/ansible-playbook" ]; then export PATH="$PWD/$venv/bin:$PATH"; fi
if ! command -v ansible-playbook >/dev/null 2>&1; then
    echo "ci: installing ansible-core"
    spec='ansible-core>=2.16,<2.19'
    if ! python3 -m pip install --quiet --disable-pip-version-check "$spec" 2>/dev/null; then
        if ! python3 -m venv "$venv" 2>/dev/null; then
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
            python3 -m venv "$venv"
        fi
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$spec"
        export PATH="$PWD/$venv/bin:$PATH"
    fi
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
fi
ansible_version=$(ansible-playbook --version)
echo "ci: ${ansible_version%%$'\n'*}"

# One virtualenv per Kubespray release's `ansible` pin (its requirements.txt), for the tests
# against the real releases (tests/kubespray_releases.rs). Kept in target/ so later runs reuse
# them; `.ready` marks a finished one, as the tests do when they make one themselves.
archives=${RACKSTRAP_KUBESPRAY_ARCHIVES:-../shared/kubespray}
if [ -d "$archives" ]; then
    mkdir -p target/ansible-venvs
    for archive in "$archives"/kubespray-v*.tar.gz; do
        [ -e "$archive" ] || continue
        tag=$(basename "$archive" .tar.gz)
        pin=$(tar xzOf "$archive" "$tag/requirements.txt" | grep '^ansible==')
        dir="target/ansible-venvs/${pin/==/-}"
        [ -f "$dir/.ready" ] && continue
        echo "ci: making $dir for $tag"
        rm -rf "$dir"
        python3 -m venv "$dir"
        tar xzOf "$archive" "$tag/requirements.txt" > "$dir/requirements.txt"
        "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$dir/requirements.txt"
        echo "$pin" > "$dir/.ready"
    done
fi

cargo build --all-targets --locked
if cargo nextest --version >/dev/null 2>&1; then
    # nextest does not run doc tests; run them first so the suite's summary comes last.
    cargo test --locked --doc
    cargo nextest run --locked --no-fail-fast
else
    cargo test --locked --no-fail-fast
fi
