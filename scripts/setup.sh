#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages the project needs to build, test and run.
# Idempotent and quick when everything is present: apt is only called for
# packages that are missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ clang-14 clang libclang-rt-14-dev cmake ninja-build pkg-config make
  # libraries
  libssl-dev libspdlog-dev libcli11-dev doctest-dev nlohmann-json3-dev libsimdjson-dev libpqxx-dev
  libboost1.81-dev libldns-dev libnftables-dev
  # runtime pieces used by the tests and the demo
  postgresql postgresql-contrib python3 python3-cryptography openssl iproute2 procps
  pdns-server pdns-backend-remote pdns-backend-bind pdns-recursor dnsutils
  # the network-namespace testbed (tests/netns) and the demo
  iptables nftables conntrack iputils-ping curl socat iperf3 jq
  # the tunnel benchmark (bench/run_tunnel_bench.sh): the wireguard-go reference
  wireguard-go wireguard-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when a package cannot be found in them.
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/ntm-apt.log 2>&1; then
  apt-get update -q >/dev/null
  apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/ntm-apt.log 2>&1 || {
    cat /tmp/ntm-apt.log >&2
    exit 1
  }
fi
