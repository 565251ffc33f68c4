#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries that envtest and `make run` need from
# source, through the Go module proxy: no prebuilt binary is ever downloaded.
#
#   hack/control-plane.sh build [component...]   build (or find in the cache) and link
#                                                into bin/k8s/<version>-<os>-<arch>/
#   hack/control-plane.sh assets                 print the KUBEBUILDER_ASSETS directory
#
# Components: etcd kube-apiserver kubectl (default), and for a full node later
# kube-controller-manager kube-scheduler kubelet kube-proxy.
#
# Each build runs in its own throw-away wrapper module under the cache, never in the
# project's go.mod. Binaries are cached by version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/treue/, so a second run takes seconds.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TREUE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/treue}"
goos="$(go env GOOS)"
goarch="$(go env GOARCH)"
assets="${root}/bin/k8s/${KUBE_VERSION#v}-${goos}-${goarch}"

export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

log() { printf '%s control-plane: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A binary counts as cached only if it runs and reports the version it was built for.
cached_ok() { # path want
  local args=(--version)
  [ "$(basename "$1")" = kubectl ] && args=(version --client)
  # grep reads all of the output: with pipefail, grep -q could stop early and the
  # command die of SIGPIPE, which would count as a miss.
  [ -x "$1" ] && "$1" "${args[@]}" 2>/dev/null | grep -F -- "${2#v}" >/dev/null
}

build_etcd() {
  local out="${cache}/etcd/${ETCD_VERSION}/etcd"
  if cached_ok "$out" "$ETCD_VERSION"; then echo "$out"; return; fi
  log "building etcd ${ETCD_VERSION} (about a minute, once)"
  local w="${cache}/build/etcd-${ETCD_VERSION}"
  rm -rf "$w" && mkdir -p "$w" "$(dirname "$out")"
  # etcd's server is a module of its own whose siblings must move in lockstep.
  cat >"$w/go.mod" <<MOD
module treue.local/etcd-wrapper

go 1.24

require (
	go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
	go.etcd.io/etcd/api/v3 ${ETCD_VERSION}
	go.etcd.io/etcd/client/pkg/v3 ${ETCD_VERSION}
	go.etcd.io/etcd/client/v3 ${ETCD_VERSION}
	go.etcd.io/etcd/pkg/v3 ${ETCD_VERSION}
)
MOD
  (cd "$w" && go build -mod=mod -trimpath \
      -ldflags "-s -w" \
      -o "$out.tmp" go.etcd.io/etcd/server/v3) && mv "$out.tmp" "$out"
  echo "$out"
}

kube_wrapper() {
  local w="${cache}/build/kubernetes-${KUBE_VERSION}"
  if [ -f "$w/.ready" ]; then echo "$w"; return; fi
  rm -rf "$w" && mkdir -p "$w"
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  [ -f "$gomod" ] || { log "cannot find go.mod of k8s.io/kubernetes ${KUBE_VERSION}"; exit 1; }
  local staging="v0.${KUBE_VERSION#v1.}"
  {
    echo "module treue.local/kubernetes-wrapper"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    # k8s.io/kubernetes replaces every staging module with a local path; a module that
    # requires it must point each of them at the matching published v0.x release.
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/src/' "$gomod" |
      awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
  } >"$w/go.mod"
  touch "$w/.ready"
  echo "$w"
}

build_kube() { # component
  local c="$1"
  local out="${cache}/kubernetes/${KUBE_VERSION}/${c}"
  if cached_ok "$out" "$KUBE_VERSION"; then echo "$out"; return; fi
  log "building ${c} ${KUBE_VERSION} (once per version; a few minutes cold, kube-apiserver and the kubelet the longest)"
  local w minor
  w="$(kube_wrapper)"
  minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  local stamp="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp+=" -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    stamp+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$(dirname "$out")"
  (cd "$w" && go build -mod=mod -trimpath -ldflags "-s -w ${stamp}" \
      -o "$out.tmp" "k8s.io/kubernetes/cmd/${c}") && mv "$out.tmp" "$out"
  echo "$out"
}

build() {
  local comps=("$@")
  [ ${#comps[@]} -gt 0 ] || comps=(etcd kube-apiserver kubectl)
  mkdir -p "$assets" "${cache}"
  # Two builds at once (make test and make run in two shells) would race on the cache.
  exec 9>"${cache}/.build.lock"
  flock 9
  local c bin
  for c in "${comps[@]}"; do
    case "$c" in
      etcd) bin="$(build_etcd)" ;;
      kube-apiserver|kubectl|kube-controller-manager|kube-scheduler|kubelet|kube-proxy) bin="$(build_kube "$c")" ;;
      *) log "unknown component ${c}"; exit 2 ;;
    esac
    ln -sfn "$bin" "${assets}/${c}"
  done
  echo "$assets"
}

case "${1:-build}" in
  build) shift || true; build "$@" ;;
  assets) echo "$assets" ;;
  *) echo "usage: $0 build [component...] | assets" >&2; exit 2 ;;
esac
