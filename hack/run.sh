#!/usr/bin/env bash
# `make run`: the manager against the cluster in KUBECONFIG, or, when none answers,
# against etcd and kube-apiserver started on loopback from the binaries built from
# source. Installs the CRDs, applies the samples, and runs the manager in the
# foreground; Ctrl-C stops the manager and the control plane it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
assets="$(hack/control-plane.sh assets)"
kubectl="${assets}/kubectl"
export KUBEBUILDER_ASSETS="$assets"

log() { printf 'make run: %s\n' "$*" >&2; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if "$kubectl" version --request-timeout=5s >/dev/null 2>&1; then
  log "using the cluster of context $("$kubectl" config current-context) in KUBECONFIG"
else
  log "no cluster answers in KUBECONFIG; starting etcd and kube-apiserver on loopback"
  export KUBECONFIG="${root}/bin/kubeconfig"
  rm -f "$KUBECONFIG"
  go build -o bin/local-control-plane ./hack/local-control-plane
  bin/local-control-plane --kubeconfig "$KUBECONFIG" &
  pids+=($!)
  for _ in $(seq 1 120); do
    [ -f "$KUBECONFIG" ] && break
    kill -0 "${pids[0]}" 2>/dev/null || { log "the control plane did not start"; exit 1; }
    sleep 0.5
  done
  [ -f "$KUBECONFIG" ] || { log "the control plane did not write ${KUBECONFIG} within 60 s"; exit 1; }
  log "control plane up; in another shell: export KUBECONFIG=${KUBECONFIG} PATH=${assets}:\$PATH"
fi

log "installing the CRDs"
"$kubectl" apply --server-side --field-manager=treue-install -f config/crd/bases
"$kubectl" wait --for=condition=Established --timeout=60s -f config/crd/bases >/dev/null
log "applying the samples (config/samples)"
"$kubectl" apply --server-side --field-manager=treue-samples -k config/samples

log "starting the manager; Ctrl-C stops it"
bin/treue manager --health-probe-bind-address=127.0.0.1:8081 --metrics-bind-address=127.0.0.1:8443 --zap-devel &
pids+=($!)
wait "${pids[-1]}"
