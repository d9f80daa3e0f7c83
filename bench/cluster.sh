#!/usr/bin/env bash
# Cluster benchmark: three hosts (network namespaces, each with its own cloisond and corosync), an HA
# guest writing to shared storage; time from a host's failure to the guest writing again on a
# survivor (kill -9 and partition, medians), double runs over partition/heal cycles (must be 0),
# evacuation of 3 VMs, replication lag.
# Set beside Proxmox VE's documented HA recovery (see bench/cluster.py).
#   RUNS=5 CYCLES=20 bench/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/cluster.sh needs root (network namespaces)"; exit 1; }
exec python3 bench/cluster.py "${CLOISON:-build/cloison}" "${RUNS:-5}" "${CYCLES:-20}"
