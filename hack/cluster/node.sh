#!/usr/bin/env bash
# shellcheck shell=bash disable=SC2154 # the variables are hack/cluster.sh's, which sources this file
# The local cluster's node: the binaries (built from source, or from Debian),
# the images, and `up`, which starts etcd, the control plane, containerd, the
# kubelet, kube-proxy and CoreDNS. Sourced by hack/cluster.sh.

# --- binaries ---------------------------------------------------------------

binaries() {
  assets="$(hack/control-plane.sh build etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy | tail -1)"
  local dns="${cache}/coredns/${COREDNS_VERSION}"
  if [ ! -x "${dns}/coredns" ]; then
    log "building CoreDNS ${COREDNS_VERSION} (about 2 minutes, once)"
    mkdir -p "$dns"
    CGO_ENABLED=0 GOBIN="$dns" go install -trimpath "github.com/coredns/coredns@${COREDNS_VERSION}"
  fi
  coredns="${dns}/coredns"
  kubectl="${assets}/kubectl"
}

packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v socat >/dev/null || missing+=(socat)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ebtables ethtool >/dev/null
  fi
}

images() {
  mkdir -p "${work}/images"
  CGO_ENABLED=0 go build -trimpath -o "${work}/images/pause" ./hack/pause
  go run ./hack/image --binary "${work}/images/pause" --path /pause --tag "$pause_image" --version 3.10 \
    --out "${work}/images/pause.tar" >/dev/null
  go run ./hack/image --binary "$coredns" --path /coredns --tag "$coredns_image" --version "$COREDNS_VERSION" \
    --out "${work}/images/coredns.tar" >/dev/null
}

# --- processes ----------------------------------------------------------------

start() { # name command...
  local name="$1"; shift
  setsid "$@" >"${work}/logs/${name}.log" 2>&1 &  # a session of its own: a Ctrl-C meant for the caller (make run) does not reach it
  echo "$! ${name}" >>"$pids"
}

wait_for() { # what seconds command...
  local what="$1" secs="$2"; shift 2
  local i
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return; fi
    sleep 0.2
  done
  die "${what} did not come up within ${secs} s; see ${work}/logs/"
}

up() {
  require_linux_root
  [ -s "$pids" ] && die "a cluster is already up (${pids}); run hack/cluster.sh down first"
  local t0=$SECONDS ip
  ip="$(node_ip)"
  [ -n "$ip" ] || die "cannot find this machine's address"
  binaries
  packages
  mkdir -p "${work}/logs"
  images
  certs "$ip"
  for n in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$n" "$n"; done
  local pki="${work}/pki"

  log "starting etcd and the control plane"
  : >"$pids"
  start etcd "${assets}/etcd" --data-dir "${work}/etcd" --listen-client-urls http://127.0.0.1:2479 \
    --advertise-client-urls http://127.0.0.1:2479 --listen-peer-urls http://127.0.0.1:2480 \
    --initial-advertise-peer-urls http://127.0.0.1:2480 --initial-cluster default=http://127.0.0.1:2480
  start kube-apiserver "${assets}/kube-apiserver" --etcd-servers http://127.0.0.1:2479 \
    --bind-address 0.0.0.0 --secure-port 6443 --advertise-address "$ip" \
    --tls-cert-file "${pki}/apiserver.crt" --tls-private-key-file "${pki}/apiserver.key" \
    --client-ca-file "${pki}/ca.crt" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --service-cluster-ip-range 10.96.0.0/16 --service-account-key-file "${pki}/sa.pub" \
    --service-account-signing-key-file "${pki}/sa.key" --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --kubelet-client-certificate "${pki}/apiserver-kubelet-client.crt" --kubelet-client-key "${pki}/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --requestheader-client-ca-file "${pki}/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-extra-headers-prefix X-Remote-Extra- --requestheader-group-headers X-Remote-Group \
    --requestheader-username-headers X-Remote-User \
    --proxy-client-cert-file "${pki}/front-proxy-client.crt" --proxy-client-key-file "${pki}/front-proxy-client.key" \
    --allow-privileged=true
  wait_for kube-apiserver 120 "$kubectl" --kubeconfig "${work}/admin.kubeconfig" get --raw /readyz
  start kube-controller-manager "${assets}/kube-controller-manager" --kubeconfig "${work}/controller-manager.kubeconfig" \
    --authentication-kubeconfig "${work}/controller-manager.kubeconfig" --authorization-kubeconfig "${work}/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --use-service-account-credentials --root-ca-file "${pki}/ca.crt" \
    --cluster-signing-cert-file "${pki}/ca.crt" --cluster-signing-key-file "${pki}/ca.key" \
    --service-account-private-key-file "${pki}/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
    --leader-elect=false --controllers '*,-nodeipam'
  start kube-scheduler "${assets}/kube-scheduler" --kubeconfig "${work}/scheduler.kubeconfig" \
    --authentication-kubeconfig "${work}/scheduler.kubeconfig" --authorization-kubeconfig "${work}/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false

  log "starting containerd and the node"
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  mkdir -p "${work}/containerd" "${work}/cni"
  cat >"${work}/cni/10-treue-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "treue-local",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat >"${work}/containerd/config.toml" <<EOF
version = 2
root = "${work}/containerd/root"
state = "${work}/containerd/state"
[grpc]
  address = "${sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause_image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${work}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
EOF
  start containerd containerd --config "${work}/containerd/config.toml"
  wait_for containerd 30 ctr --address "$sock" version
  for image in pause coredns; do
    ctr --address "$sock" -n k8s.io images import "${work}/images/${image}.tar" >/dev/null
  done
  cat >"${work}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "${pki}/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDNS: ["10.96.0.10"]
clusterDomain: cluster.local
containerRuntimeEndpoint: unix://${sock}
resolvConf: /etc/resolv.conf
tlsCertFile: ${pki}/kubelet.crt
tlsPrivateKeyFile: ${pki}/kubelet.key
# This node shares its disk with the machine that builds it, often well filled
# (the Go caches): the defaults would garbage-collect the images imported above,
# the pause image among them, which no registry can give back (pods then stay in
# ContainerCreating), and evict pods at 85 % disk use. Never collect images, and
# evict only when the disk is really full.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}
EOF
  start kubelet "${assets}/kubelet" --config "${work}/kubelet.yaml" --kubeconfig "${work}/kubelet.kubeconfig" \
    --node-ip "$ip" --hostname-override "$node"
  start kube-proxy "${assets}/kube-proxy" --kubeconfig "${work}/kube-proxy.kubeconfig" --proxy-mode iptables \
    --cluster-cidr 10.88.0.0/16 --conntrack-max-per-core=0 --hostname-override "$node"

  local k=("$kubectl" --kubeconfig "${work}/admin.kubeconfig")
  wait_for "node ${node}" 120 "${k[@]}" wait --for=condition=Ready "node/${node}" --timeout=1s
  volumes "${k[@]}"
  log "deploying CoreDNS"
  sed -e "s|@IMAGE@|${coredns_image}|" hack/cluster/coredns.yaml | "${k[@]}" apply -f - >/dev/null
  wait_for CoreDNS 120 "${k[@]}" -n kube-system rollout status deployment/coredns --timeout=1s
  cp "${work}/admin.kubeconfig" "${work}/kubeconfig"
  log "up in $((SECONDS - t0)) s: export KUBECONFIG=${work}/kubeconfig PATH=${assets}:\$PATH"
}

# volumes gives the node storage: a default StorageClass without a provisioner
# and a pool of hostPath PersistentVolumes under bin/cluster/volumes, which
# claims bind to (an embedded ledger's StatefulSet needs one per program).
volumes() { # kubectl...
  local n=12 i
  {
    cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
EOF
    for ((i = 0; i < n; i++)); do
      mkdir -p "${work}/volumes/pv${i}"
      # The accrual pods run as 65532, and fsGroup does not reach hostPath volumes.
      chown 65532:65532 "${work}/volumes/pv${i}"
      cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv${i}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  hostPath: {path: ${work}/volumes/pv${i}, type: Directory}
EOF
    done
  } | "$@" apply -f - >/dev/null
}
