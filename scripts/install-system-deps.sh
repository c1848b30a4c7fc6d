#!/usr/bin/env bash
# Install the Debian 12 packages pyvirt's tests use (real libvirt only as a test oracle and
# interop peer, its API description and schemas, and tools to fetch libvirt's source for the
# XML corpora). Idempotent; needs root.
set -euo pipefail

packages=(
    python3 python3-venv python3-pip
    libvirt-clients python3-libvirt libvirt-daemon libvirt-dev pkg-config
    libxml2-utils dpkg-dev
    qemu-system-x86 qemu-utils
    openssh-server  # a private sshd on loopback for the remote client's ssh transport tests
    libsasl2-modules  # cyrus's SCRAM and PLAIN plugins, for real virsh against pyvirtd's SASL
    dnsmasq-base nftables iproute2  # the network driver: DHCP/DNS per network, NAT rules
    lvm2  # the storage driver's logical pools (tested on loop devices)
    parted  # the storage driver's disk pools: labels and partitions (tested on loop devices)
)

enable_deb_src() {
    # `apt-get source libvirt` needs source indexes; Debian 12 images ship deb822 sources.
    local f=/etc/apt/sources.list.d/debian.sources
    if [ -f "$f" ] && ! grep -q '^Types:.*deb-src' "$f"; then
        sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
        return 0
    fi
    if [ -f /etc/apt/sources.list ] && ! grep -q '^deb-src' /etc/apt/sources.list; then
        sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >> /etc/apt/sources.list
    fi
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
enable_deb_src
stamp=/var/lib/apt/periodic/pyvirt-update-stamp
if [ ${#missing[@]} -gt 0 ] || [ ! -f "$stamp" ]; then
    apt-get update -q
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
