#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, built from source:
#
#   hack/cluster.sh up     build (or find cached) etcd, the control plane, kubelet,
#                          kube-proxy and CoreDNS; install containerd, runc and the
#                          CNI plugins from Debian when missing; generate
#                          certificates; build and import the pause and CoreDNS
#                          images; start everything; write bin/cluster/kubeconfig
#   hack/cluster.sh down   stop exactly what `up` started (by recorded pid) and
#                          remove what it created (pods, mounts, network links,
#                          iptables chains, state)
#   hack/cluster.sh status
#
# Linux and root only. Elsewhere, use kind or any cluster in KUBECONFIG.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.15.0}"
cache="${TREUE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/treue}"
work="${root}/bin/cluster"
pids="${work}/pids"
sock="${work}/containerd/containerd.sock"
node="$(hostname)"
pause_image="treue.local/pause:3.10"
coredns_image="treue.local/coredns:${COREDNS_VERSION}"
export GOTOOLCHAIN=local

log() { printf '%s cluster: %s\n' "$(date +%H:%M:%S)" "$*" >&2 || true; }  # a reader gone (Ctrl-C on a pipe) must not stop a teardown
die() { log "$*"; exit 1; }

require_linux_root() {
  if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ]; then
    die "a node needs Linux and root; elsewhere use kind (kind create cluster) or any cluster in KUBECONFIG"
  fi
}

node_ip() { ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

# Each concern in a file of its own (hack/README.md says which).
# shellcheck source=hack/cluster/certs.sh
. "${root}/hack/cluster/certs.sh"
# shellcheck source=hack/cluster/node.sh
. "${root}/hack/cluster/node.sh"
# shellcheck source=hack/cluster/teardown.sh
. "${root}/hack/cluster/teardown.sh"

status() {
  [ -f "$pids" ] || { echo "no cluster"; return 1; }
  local pid name
  while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null; then echo "${name} ${pid} running"; else echo "${name} ${pid} stopped"; fi
  done <"$pids"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up | down | status" >&2; exit 2 ;;
esac
