#!/usr/bin/env bash
# Builds the real programs the local cluster runs (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, minio, and Jaeger as the trace receiver) from their Go modules,
# at the versions pinned in test/cluster/versions.json, into a cache reused across runs. Nothing
# built here is committed.
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
cache=${CHECKPOINT_OPERATOR_CACHE:-$HOME/.cache/checkpoint-operator}
bin="$cache/bin"
mkdir -p "$bin"
export GOFLAGS="-mod=mod"
export CGO_ENABLED=0

build_kubernetes() {
  local out="$bin/kubernetes-$k8s"
  if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kube-scheduler" && -x "$out/kubectl" ]]; then
    echo "kubernetes $k8s: cached in $out"; return
  fi
  local work="$cache/src/kubernetes-$k8s"
  mkdir -p "$work" "$out.tmp"
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
    for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
      echo "kubernetes $k8s: building $cmd"
      go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitVersion=$k8s" \
        -o "$out.tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd"
    done
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

# One Go main package, built through a throw-away module that requires it at a pinned version.
# Usage: build_main <name> <version> <module> <package>
build_main() {
  local name=$1 version=$2 module=$3 package=$4
  local out="$bin/$name-$version"
  if [[ -x "$out/$name" ]]; then echo "$name $version: cached in $out"; return; fi
  local work="$cache/src/$name-$version"
  mkdir -p "$work" "$out.tmp"
  (
    cd "$work"
    printf 'module checkpoint-operator.local/%s-build\n\ngo 1.24\n\nrequire %s %s\n' "$name" "$module" "$version" > go.mod
    echo 'package main' > tools.go
    echo "$name $version: building"
    go build -trimpath -ldflags "-s -w" -o "$out.tmp/$name" "$package"
  )
  rm -rf "$out"; mv "$out.tmp" "$out"
}

build_etcd() { build_main etcd "$etcd" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3; }
# MinIO publishes no semver tags, so it is pinned by its module pseudo-version.
build_minio() { build_main minio "$minio" github.com/minio/minio github.com/minio/minio; }
# Jaeger v2 (an OpenTelemetry Collector distribution) ships from the module's v1 tags.
build_jaeger() { build_main jaeger "$jaeger" github.com/jaegertracing/jaeger github.com/jaegertracing/jaeger/cmd/jaeger; }

want=${*:-kubernetes etcd minio jaeger}
for w in $want; do "build_$w"; done
