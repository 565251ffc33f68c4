#!/usr/bin/env bash
# `make run`, in the first of these modes that this machine allows:
#  1. a cluster answers in KUBECONFIG: the CRDs, the samples, and the manager on
#     this machine in the foreground, against it;
#  2. Linux and root: the local single-node cluster (hack/cluster.sh, brought up
#     when it is not running), the image built and imported, the chart installed,
#     the samples applied and their accrual services running; the foreground
#     follows the manager's log;
#  3. otherwise: etcd and kube-apiserver on loopback, built from source (no node:
#     accrual pods and settlement jobs are created but do not run), the CRDs, the
#     samples, and the manager on this machine in the foreground.
# Ctrl-C stops what this run started: the manager, and the control plane or the
# local cluster if it brought them up.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
assets="$(hack/control-plane.sh assets)"
kubectl="${assets}/kubectl"
export KUBEBUILDER_ASSETS="$assets"

log() { printf 'make run: %s\n' "$*" >&2 || true; }

pids=()
cluster_started=""
cleanup() {
  trap - EXIT INT TERM
  # Ctrl-C also stops whatever reads our output (a `| tee`, say): the teardown
  # must not die of a broken pipe halfway.
  trap '' PIPE
  local p
  for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$cluster_started" ]; then
    log "stopping the local cluster this run brought up"
    hack/cluster.sh down || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

samples() {
  log "applying the samples (config/samples)"
  "$kubectl" apply --server-side --field-manager=treue-samples -k config/samples
}

local_kubeconfig="${root}/bin/cluster/kubeconfig"
if [ "${KUBECONFIG:-}" != "$local_kubeconfig" ] && "$kubectl" version --request-timeout=5s >/dev/null 2>&1; then
  log "using the cluster of context $("$kubectl" config current-context) in KUBECONFIG; its accrual pods need the image (make image, then load bin/treue-image.tar into the cluster)"
elif [ "$(uname -s)" = Linux ] && [ "$(id -u)" = 0 ] && [ -z "${TREUE_RUN_NO_NODE:-}" ]; then
  export KUBECONFIG="$local_kubeconfig"
  if hack/cluster.sh status >/dev/null 2>&1; then
    log "using the local cluster that is already running (make cluster-down stops it)"
  else
    log "bringing up the local single-node cluster (make cluster-up)"
    cluster_started=1
    hack/cluster.sh up
  fi
  hack/deploy.sh "run-$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
  samples
  log "waiting for the StadtBonus program's accrual service"
  "$kubectl" wait --for=condition=Ready loyaltyprogram/stadtbonus -n stadtbonus --timeout=180s
  "$kubectl" get loyaltyprograms,partners,partnercooperations,referraldiscounts -A
  cat >&2 <<MSG
make run: the samples run on a real node. In another shell:
  export KUBECONFIG=${KUBECONFIG} PATH=${assets}:\$PATH
  KEY=\$(kubectl get secret -n baeckerei-korn baeckerei-korn-stadtbonus-stadtbonus-credentials -o jsonpath='{.data.apiKey}' | base64 -d)
  kubectl port-forward -n stadtbonus svc/stadtbonus-accrual 8080 &
  curl -s localhost:8080/v1/members -H "Authorization: Bearer \$KEY" -H 'Idempotency-Key: e1' -H 'Content-Type: application/json' -d '{"member":"anna"}'
  kubectl create job --from=cronjob/stadtbonus-weekly-settle -n stadtbonus settle-now   # settle the last closed week now
make run: following the manager's log; Ctrl-C stops following$([ -n "$cluster_started" ] && echo " and the cluster").
MSG
  # Follow again when the manager's pod is replaced (an upgrade, a restart).
  while :; do
    "$kubectl" logs -f --tail=50 -n treue-system deployment/treue-manager || true
    sleep 2
  done &
  pids+=($!)
  wait "${pids[-1]}"
else
  if [ -n "${TREUE_RUN_NO_NODE:-}" ]; then
    log "TREUE_RUN_NO_NODE is set: a control plane without a node"
  else
    log "a real node needs Linux and root (or a cluster in KUBECONFIG, such as kind): starting a control plane without a node, where accrual pods and settlement jobs are created but do not run"
  fi
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
samples

log "starting the manager; Ctrl-C stops it"
bin/treue manager --health-probe-bind-address=127.0.0.1:8081 --metrics-bind-address=127.0.0.1:8443 --zap-devel &
pids+=($!)
wait "${pids[-1]}"
