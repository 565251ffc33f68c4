#!/usr/bin/env bash
# hack/deploy.sh VERSION: builds the treue image without Docker (make image), puts
# it into the local cluster's containerd when KUBECONFIG is that cluster's, and
# installs or upgrades the chart with it in treue-system. make e2e and make run
# use it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { printf '%s deploy: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
HELM="${HELM:?set HELM to the helm binary (make sets it)}"
version="${1:?usage: hack/deploy.sh VERSION}"

log "building the image ${version}"
make --no-print-directory image VERSION="$version" >/dev/null
if [ "${KUBECONFIG:-}" = "${root}/bin/cluster/kubeconfig" ]; then
  ctr --address "${root}/bin/cluster/containerd/containerd.sock" -n k8s.io images import bin/treue-image.tar >/dev/null
else
  log "the image ghcr.io/treue-dev/treue:${version} must be loadable in the cluster in KUBECONFIG (kind load image-archive bin/treue-image.tar)"
fi
log "installing the chart"
"$HELM" upgrade --install treue charts/treue -n treue-system --create-namespace \
  --set image.tag="$version" --set image.pullPolicy=IfNotPresent --wait --timeout 180s >/dev/null
