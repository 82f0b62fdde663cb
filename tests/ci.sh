#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine, then runs every test once.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in sshd:openssh-server mkfs.xfs:xfsprogs mkfs.ext4:e2fsprogs tmux:tmux \
            lsblk:util-linux ip:iproute2 mdadm:mdadm unshare:util-linux nsenter:util-linux \
            losetup:mount ssh:openssh-client ssh-keygen:openssh-client sudo:sudo ps:procps \
            python3:python3; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need_apt+=("${pair#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "ci: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # mdadm's postinst wants to start services and update initramfs; neither matters here.
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
if ! command -v ansible-playbook >/dev/null 2>&1; then
    echo "ci: installing ansible-core"
    python3 -m pip install --quiet --disable-pip-version-check 'ansible-core>=2.16,<2.19'
    command -v pyenv >/dev/null 2>&1 && pyenv rehash
fi

cargo build --all-targets --locked
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked --no-fail-fast
    cargo test --locked --doc
else
    cargo test --locked --no-fail-fast
fi
