#!/usr/bin/env bash
# shellcheck shell=bash disable=SC2154 # the variables are hack/cluster.sh's, which sources this file
# The local cluster's certificates and kubeconfigs: one CA, a serving certificate
# per component, a client certificate and kubeconfig per identity. Sourced by
# hack/cluster.sh.

# --- certificates and kubeconfigs ---------------------------------------------

certs() {
  local d="${work}/pki" ip="$1"
  mkdir -p "$d"
  [ -f "${d}/ca.crt" ] && return
  log "generating certificates"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=treue-local-ca" \
    -keyout "${d}/ca.key" -out "${d}/ca.crt" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=treue-local-front-proxy-ca" \
    -keyout "${d}/front-proxy-ca.key" -out "${d}/front-proxy-ca.crt" 2>/dev/null
  openssl genrsa -out "${d}/sa.key" 2048 2>/dev/null
  openssl rsa -in "${d}/sa.key" -pubout -out "${d}/sa.pub" 2>/dev/null
  sign() { # name subject ca [sans]
    openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "${d}/$1.key" -out "${d}/$1.csr" 2>/dev/null
    local ext="${d}/$1.ext"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' >"$ext"
    [ -n "${4:-}" ] && printf 'subjectAltName=%s\n' "$4" >>"$ext"
    openssl x509 -req -in "${d}/$1.csr" -CA "${d}/$3.crt" -CAkey "${d}/$3.key" -CAcreateserial -days 365 \
      -extfile "$ext" -out "${d}/$1.crt" 2>/dev/null
  }
  sign apiserver "/CN=kube-apiserver" ca \
    "DNS:localhost,DNS:${node},DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:${ip},IP:10.96.0.1"
  sign admin "/O=system:masters/CN=treue-local-admin" ca
  sign controller-manager "/CN=system:kube-controller-manager" ca
  sign scheduler "/CN=system:kube-scheduler" ca
  sign kubelet "/O=system:nodes/CN=system:node:${node}" ca "DNS:${node},IP:${ip}"
  sign kube-proxy "/CN=system:kube-proxy" ca
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" ca
  sign front-proxy-client "/CN=front-proxy-client" front-proxy-ca
}

kubeconfig() { # name cert
  local f="${work}/$1.kubeconfig"
  cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: treue-local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: ${work}/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: ${work}/pki/$2.crt
    client-key: ${work}/pki/$2.key
contexts:
- name: treue-local
  context: {cluster: treue-local, user: $2}
current-context: treue-local
EOF
}
