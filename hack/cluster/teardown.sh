#!/usr/bin/env bash
# shellcheck shell=bash disable=SC2154 # the variables are hack/cluster.sh's, which sources this file
# The local cluster's teardown: `down` stops exactly what `up` started and
# removes what it created. Sourced by hack/cluster.sh.

# --- teardown -----------------------------------------------------------------

down() {
  require_linux_root
  local t0=$SECONDS
  if [ -S "$sock" ]; then
    log "stopping the pods"
    local ids
    ids="$(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null || true)"
    for id in $ids; do ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $ids; do ctr --address "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  if [ -f "$pids" ]; then
    log "stopping what up started"
    local pid
    tac "$pids" | while read -r pid _; do
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    rm -f "$pids"
  fi
  # The shims outlive containerd; each is tied to this cluster by its socket path.
  local shim
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address ${sock}" || true); do kill -KILL "$shim" 2>/dev/null || true; done
  # What ran in the pods is in the kubelet's cgroups. A pod sandbox's pause
  # process is not always among the tasks above, and outlives its shim (seen: four
  # /pause processes of the last pods left running after down): kill what is left
  # there, then remove the cgroups.
  local procs pid
  for _ in 1 2 3; do
    while IFS= read -r -d '' procs; do
      while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$procs"
    done < <(find /sys/fs/cgroup -path '*/kubepods*' -name cgroup.procs -print0 2>/dev/null)
    [ -z "$(find /sys/fs/cgroup -path '*/kubepods*' -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
    sleep 0.5
  done
  find /sys/fs/cgroup -depth -type d -path '*/kubepods*' -exec rmdir {} + 2>/dev/null || true
  if [ -n "$(find /sys/fs/cgroup -path '*/kubepods*' -name cgroup.procs -exec cat {} + 2>/dev/null)" ]; then
    log "warning: processes are left in the kubelet's cgroups: $(find /sys/fs/cgroup -path '*/kubepods*' -name cgroup.procs -exec cat {} + | sort -u | tr '\n' ' ')"
  fi
  log "removing mounts, network and state"
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk '{print $2}' /proc/mounts | grep -E "^(${work}/containerd|/var/lib/kubelet|/run/containerd|/run/netns/cni-)" | sort -r)
  rm -rf /var/lib/kubelet /var/lib/cni /run/containerd/io.containerd.* /run/netns/cni-* \
    "${work}/containerd" "${work}/etcd" "${work}/volumes"
  ip link delete cni0 2>/dev/null || true
  local table chain
  for table in filter nat mangle; do
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
      iptables -t "$table" -S | awk -v c="$chain" '$1 == "-A" && $0 ~ ("-j " c "( |$)") {sub(/^-A/, "-D"); print}' |
        while read -r rule; do eval "iptables -t ${table} ${rule}" 2>/dev/null || true; done
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  rm -f "${work}/kubeconfig"
  log "down in $((SECONDS - t0)) s"
}
