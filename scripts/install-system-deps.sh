#!/usr/bin/env bash
# Installs the Debian packages the local cluster and its tests use. Idempotent; needs root (or sudo).
set -euo pipefail
packages=(
  openssl iproute2 util-linux ca-certificates git prometheus-pushgateway docker-registry apache2-utils
  # Nodes: CNI plugins, kube-proxy's nftables and conntrack, a static busybox for test images, and
  # the C toolchain for the pause program and runc (with libseccomp).
  containernetworking-plugins nftables conntrack busybox-static gcc libc6-dev make pkg-config libseccomp-dev
  # CRIU's build dependencies (criu is built from its source tarball: see build-binaries.sh).
  libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf libnl-3-dev libcap-dev
  libnet1-dev libnftables-dev libbsd-dev libgnutls28-dev libaio-dev libdrm-dev
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if ((${#missing[@]} > 0)); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v go >/dev/null || [[ -x /usr/local/go/bin/go ]] || { echo "Go is required to build the local cluster's binaries (https://go.dev/dl/)" >&2; exit 1; }
