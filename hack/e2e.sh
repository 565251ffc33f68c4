#!/usr/bin/env bash
# make e2e: the end-to-end suite on a real cluster. Without KUBECONFIG it uses the
# local single-node cluster (hack/cluster.sh, Linux and root), bringing it up if
# needed; the image is built without Docker and imported into its containerd.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { printf '%s e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
HELM="${HELM:?set HELM to the helm binary (make e2e does)}"
assets="$(hack/control-plane.sh build etcd kube-apiserver kubectl | tail -1)"
version="e2e-$(git describe --tags --always --dirty 2>/dev/null || echo dev)"

if [ -z "${KUBECONFIG:-}" ]; then
  if [ "$(uname -s)" != Linux ] || [ "$(id -u)" != 0 ]; then
    log "no KUBECONFIG, and the local cluster needs Linux and root: point KUBECONFIG at a cluster (kind works) and load the image into it"
    exit 1
  fi
  hack/cluster.sh status >/dev/null 2>&1 || hack/cluster.sh up
  export KUBECONFIG="${root}/bin/cluster/kubeconfig"
  # The PostgreSQL-backed specs put their ledger on this machine's server, opened
  # to the pods' network (10.88.0.0/16 behind the bridge cni0 at 10.88.0.1, as
  # hack/cluster.sh configures it); the crash spec kills containers through the
  # node's containerd.
  TREUE_E2E_POSTGRES_DSN="$(hack/postgres.sh --for-pods 10.88.0.0/16)"
  export TREUE_E2E_POSTGRES_DSN TREUE_E2E_POSTGRES_POD_HOST=10.88.0.1
  export TREUE_E2E_CONTAINERD="${root}/bin/cluster/containerd/containerd.sock"
fi

hack/deploy.sh "$version"
# A partner's till (test/e2e/till) and its webhook receiver (test/e2e/receiver)
# run as pods of the partner's namespace: their images are built like treue's,
# without Docker.
image_of() { # name → builds and loads treue.local/e2e-<name>:<version>
  local name="$1" image="treue.local/e2e-$1:${version}"
  log "building the ${name}'s image ${image}"
  CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o "bin/linux-amd64/e2e-${name}" "./test/e2e/${name}"
  go run ./hack/image --binary "bin/linux-amd64/e2e-${name}" --path "/${name}" --tag "$image" --version "$version" \
    --out "bin/e2e-${name}-image.tar" >/dev/null
  if [ "${KUBECONFIG}" = "${root}/bin/cluster/kubeconfig" ]; then
    ctr --address "${root}/bin/cluster/containerd/containerd.sock" -n k8s.io images import "bin/e2e-${name}-image.tar" >/dev/null
  else
    log "the image ${image} must be loadable in the cluster in KUBECONFIG (kind load image-archive bin/e2e-${name}-image.tar)"
  fi
}
image_of till
image_of receiver
till_image="treue.local/e2e-till:${version}"
export TREUE_E2E_RECEIVER_IMAGE="treue.local/e2e-receiver:${version}"
export TREUE_E2E_TILL_IMAGE="$till_image"
log "running the suite"
KUBECTL="${assets}/kubectl" go test -tags e2e ./test/e2e -count=1 -timeout 20m -v -args -ginkgo.v
