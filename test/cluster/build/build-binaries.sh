#!/usr/bin/env bash
# Builds the real programs the local cluster runs from their sources, at the versions pinned in
# test/cluster/versions.json, into a cache reused across runs. Nothing built here is committed.
#   control plane: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd
#   nodes:         kubelet, kube-proxy, containerd (+ its runc shim and ctr), runc, CRIU, pause
#   servers:       MinIO, Jaeger (the trace receiver), local-path-provisioner (the StorageClass)
#   clients:       helm (the install tests install the operator's chart with it)
# CRIU is C: it is built from the source tarball named by CRIU_SOURCE (verified against the
# sha256 pinned in versions.json), unless a criu on the PATH passes `criu check`.
#
# k8s.io/kubernetes cannot be `go install`ed directly: its go.mod replaces every k8s.io/*
# staging module with a local path. A throw-away wrapper module requires it and maps each of
# those modules to its published version instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
versions="$here/../versions.json"
ver() { sed -n "s/.*\"$1\": *\"\([^\"]*\)\".*/\1/p" "$versions"; }
k8s=$(ver kubernetes)
etcd=$(ver etcd)
minio=$(ver minio)
jaeger=$(ver jaeger)
containerd=$(ver containerd)
runc=$(ver runc)
criu=$(ver criu)
criu_sha256=$(ver criuSha256)
lpp=$(ver localPathProvisioner)
helm=$(ver helm)
cache=${CHECKPOINT_OPERATOR_CACHE:-$HOME/.cache/checkpoint-operator}
bin="$cache/bin"
mkdir -p "$bin"
# One build at a time per cache: two runs (a test and npm run local, say) must not both write it.
exec 9>"$cache/build.lock"
flock 9
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0
# Build-time only, no effect on the programs: the compiler collects garbage less often (memory is
# cheaper here than the two cores), and no DWARF is generated for packages whose binaries are
# stripped anyway (-ldflags -w), which also shortens every link.
export GOGC=400
gcflags="all=-dwarf=false"

build_kubernetes() {
  local out="$bin/kubernetes-$k8s"
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  local missing=()
  for cmd in "${cmds[@]}"; do [[ -x "$out/$cmd" ]] || missing+=("$cmd"); done
  if ((${#missing[@]} == 0)); then echo "kubernetes $k8s: cached in $out"; return; fi
  local work="$cache/src/kubernetes-$k8s"
  mkdir -p "$work" "$out.tmp"
  # Programs built by an earlier run (before the nodes were real, say) are kept.
  [[ -d "$out" ]] && cp -a "$out/." "$out.tmp/"
  local staging="v0${k8s#v1}"
  (
    cd "$work"
    go mod download -json "k8s.io/kubernetes@$k8s" >/dev/null
    local gomod; gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$k8s.mod
    {
      echo "module checkpoint-operator.local/kubernetes-build"
      echo
      sed -n 's/^go \(.*\)/go \1/p' "$gomod" | head -1
      echo
      echo "require k8s.io/kubernetes $k8s"
      echo
      echo "replace ("
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$gomod"
      echo ")"
    } > go.mod
    echo 'package main' > tools.go
    echo "kubernetes $k8s: resolving modules"
    go mod download k8s.io/kubernetes
    # One go build for all of them: their shared packages are compiled once and the links overlap.
    echo "kubernetes $k8s: building ${missing[*]}"
    go build -trimpath -gcflags "$gcflags" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitVersion=$k8s" \
      -o "$out.tmp/" "${missing[@]/#/k8s.io/kubernetes/cmd/}"
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# One Go main package, built through a throw-away module that requires it at a pinned version.
# Usage: build_main <name> <version> <module> <package> [extra -ldflags]
build_main() {
  local name=$1 version=$2 module=$3 package=$4 ldflags=${5:-}
  local out="$bin/$name-$version"
  if [[ -x "$out/$name" ]]; then echo "$name $version: cached in $out"; return; fi
  local work="$cache/src/$name-$version"
  mkdir -p "$work" "$out.tmp"
  (
    cd "$work"
    printf 'module checkpoint-operator.local/%s-build\n\ngo 1.24\n\nrequire %s %s\n' "$name" "$module" "$version" > go.mod
    echo 'package main' > tools.go
    echo "$name $version: building"
    go build -trimpath -gcflags "$gcflags" -ldflags "-s -w $ldflags" -o "$out.tmp/$name" "$package"
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# A C program of the kubernetes module (the pod sandbox's pause), built static with the system's gcc.
build_pause() {
  local out="$bin/pause-$k8s"
  if [[ -x "$out/pause" ]]; then echo "pause $k8s: cached in $out"; return; fi
  local gomod; gomod=$(go env GOMODCACHE)
  local src="$gomod/k8s.io/kubernetes@$k8s/build/pause/linux/pause.c"
  [[ -f "$src" ]] || (cd "$cache/src/kubernetes-$k8s" 2>/dev/null && go mod download k8s.io/kubernetes) || go mod download "k8s.io/kubernetes@$k8s"
  mkdir -p "$out.tmp"
  echo "pause $k8s: building"
  gcc -Os -static -DVERSION="$k8s" -o "$out.tmp/pause" "$src"
  strip "$out.tmp/pause"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# Several main packages of one module, built through a throw-away module that requires it.
# Usage: build_module <name> <version> <module> <cgo 0|1> <tags> <package>...
build_module() {
  local name=$1 version=$2 module=$3 cgo=$4 tags=$5; shift 5
  local out="$bin/$name-$version"
  local want=() pkg
  for pkg in "$@"; do want+=("$out/$(basename "$pkg")"); done
  local all=1 f
  for f in "${want[@]}"; do [[ -x "$f" ]] || all=0; done
  if ((all)); then echo "$name $version: cached in $out"; return; fi
  local work="$cache/src/$name-$version"
  mkdir -p "$work" "$out.tmp"
  (
    cd "$work"
    local gover; gover=$(go mod download -json "$module@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' | xargs sed -n 's/^go \(.*\)/\1/p' | head -1)
    printf 'module checkpoint-operator.local/%s-build\n\ngo %s\n\nrequire %s %s\n' "$name" "${gover:-1.24}" "$module" "$version" > go.mod
    echo 'package main' > tools.go
    for pkg in "$@"; do
      echo "$name $version: building $(basename "$pkg")"
      CGO_ENABLED=$cgo go build -trimpath -gcflags "$gcflags" -tags "$tags" -ldflags "-s -w -X $module/version.Version=${version#v} -X main.version=${version#v}" -o "$out.tmp/$(basename "$pkg")" "$pkg"
    done
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_containerd() {
  build_module containerd "$containerd" github.com/containerd/containerd/v2 0 "no_btrfs no_devmapper no_zfs" \
    github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 github.com/containerd/containerd/v2/cmd/ctr
}
# runc needs cgo (its nsexec is C) and libseccomp for seccomp profiles.
build_runc() { build_module runc "$runc" github.com/opencontainers/runc 1 seccomp github.com/opencontainers/runc; }
build_local-path-provisioner() {
  build_module local-path-provisioner "$lpp" github.com/rancher/local-path-provisioner 0 "" github.com/rancher/local-path-provisioner
}

build_criu() {
  local out="$bin/criu-$criu"
  if [[ -x "$out/criu" ]]; then echo "criu $criu: cached in $out"; return; fi
  if command -v criu >/dev/null && criu check >/dev/null 2>&1; then
    echo "criu: using $(command -v criu) ($(criu --version | head -1)), which passes criu check"
    mkdir -p "$out"; ln -sf "$(command -v criu)" "$out/criu"; return
  fi
  local tarball=${CRIU_SOURCE:-}
  if [[ -z "$tarball" || ! -f "$tarball" ]]; then
    echo "CRIU $criu is needed by the local cluster's nodes and none that passes 'criu check' is on the PATH." >&2
    echo "Point CRIU_SOURCE at its source tarball (criu-${criu#v}.tar.gz, sha256 $criu_sha256; .ci/run uses ../shared/vendor/criu-${criu#v}.tar.gz)," >&2
    echo "or install CRIU >= 4.1 (Debian's 3.17 fails on kernels >= 6.13: 'Unexpected rt vDSO area bounds')." >&2
    exit 1
  fi
  local got; got=$(sha256sum "$tarball" | cut -d' ' -f1)
  if [[ "$got" != "$criu_sha256" ]]; then echo "$tarball: sha256 $got, expected $criu_sha256 (CRIU $criu)" >&2; exit 1; fi
  local work="$cache/src/criu-$criu"
  rm -rf "$work"; mkdir -p "$work" "$out.tmp"
  tar -xzf "$tarball" -C "$work" --strip-components=1
  echo "criu $criu: building"
  make -C "$work" -j"$(nproc)" criu >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
  cp "$work/criu/criu" "$out.tmp/criu"
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# The other platform's Node.js and C libraries, for the arm64 half of the two-platform base the
# image tests build (that image cannot run here, only be pushed and read back): fetched, not built.
build_arm64-node() { bash "$here/fetch-arm64-node.sh" "$cache"; }

build_etcd() { build_main etcd "$etcd" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3; }
# MinIO publishes no semver tags, so it is pinned by its module pseudo-version.
build_minio() { build_main minio "$minio" github.com/minio/minio github.com/minio/minio; }
# Jaeger v2 (an OpenTelemetry Collector distribution) ships from the module's v1 tags.
build_jaeger() { build_main jaeger "$jaeger" github.com/jaegertracing/jaeger github.com/jaegertracing/jaeger/cmd/jaeger; }
# Helm's Makefile sets its version the same way (`helm version` says v4.3 without it); metadata
# stays empty, as in a release build, so it reads v4.3.2 rather than v4.3.2+unreleased.
build_helm() {
  build_main helm "$helm" helm.sh/helm/v4 helm.sh/helm/v4/cmd/helm \
    "-X helm.sh/helm/v4/internal/version.version=$helm"
}

# Runs the named builds one after another, each output line prefixed with the lane's name.
lane() {
  local name=$1; shift
  (for w in "$@"; do "build_$w"; done) 2>&1 | sed -u "s/^/[$name] /"
}

if (($# > 0)); then
  for w in "$@"; do "build_$w"; done
else
  # Two lanes of about equal length: Kubernetes (then helm, which shares many of its modules) in
  # one, the rest in the other. Each lane leaves cores idle while it downloads modules or links a
  # binary, which the other fills.
  lane kubernetes kubernetes pause helm &
  k8s_lane=$!
  lane others criu containerd runc local-path-provisioner arm64-node etcd minio jaeger &
  others_lane=$!
  status=0
  wait "$k8s_lane" || status=$?
  wait "$others_lane" || status=$?
  exit "$status"
fi
