#!/usr/bin/env bash
# Deploy benchmark: pyops.deploy against a deploy_helper + pip + `systemctl restart` baseline, on a
# proxy and N app hosts of its own, with steady HTTPS load through the proxy during each step.
# Not part of the test suite:
#   make bench-deploy                                   (or: benchmarks/deploy_bench/run.sh)
#   PYOPS_BENCH_APPS=6 make bench-deploy                6 app hosts instead of 2
# PYOPS_BENCH_APPS (default 2) app hosts pyops-bench-app1..N, Debian 13 and 12 in turn (app1 13,
# app2 12, ...), behind pyops-bench-proxy (Debian 12); bench.py renders inventory.yml with them.
# PYOPS_BENCH_CLIENTS (default 2 per app host) load threads run on the proxy against https://localhost,
# so the load never leaves the proxy's loopback, at PYOPS_BENCH_RATE requests per second between them
# (default 100 per app host, a steady load; 0 sends back to back, which saturates a 2-core machine and
# then measures the fight for the cores more than the deploy). PYOPS_BENCH_DEPS=wide deploys the
# sample with a typical production app's 61 dependencies instead of its own 9 (requirements-wide.in).
# PYOPS_BENCH_KEEP=1 keeps the containers.
# Every step is checked (the playbook succeeded, each app host changed something and serves the
# release the step should leave, the pyops site answers with it only); a step that fails stops the run
# with its playbook's last output lines. The table, with the issue's targets met or not, goes to
# last-run.json (last-run-wide.json for the wide set; -appsN before .json for N != 2 hosts); a run with
# N != 2 also prints each step's growth from the 2-host run of the same set, if that file exists.
# The containers are removed on exit, also when a step fails. The hosts compete for the same cores
# as the load and Ansible, so the load average printed first and last matters when comparing runs.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export PATH=$ROOT/.venv/bin:$PATH CONTAINERS_CONF=$ROOT/harness/containers.conf
export ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_COLLECTIONS_PATH=$ROOT/collections ANSIBLE_FORCE_COLOR=false
# Plays become root through sudo unless they say otherwise (the inventory logs in as `ansible`).
export ANSIBLE_BECOME=true
# Per-task times in the logs bench.py keeps, to see where a slow step spends them.
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
# Every task in the recap, so that bench.py finds the dependency gate's time however short it is.
export PROFILE_TASKS_TASK_OUTPUT_LIMIT=all
NETWORK=pyops-bench
APPS=${PYOPS_BENCH_APPS:-2}
[[ $APPS =~ ^[1-9][0-9]*$ ]] || { echo "PYOPS_BENCH_APPS must be a whole number of at least 1, not '$APPS'" >&2; exit 2; }
export PYOPS_BENCH_APPS=$APPS
HOSTS=("pyops-bench-proxy debian12")
for ((i = 1; i <= APPS; i++)); do
    HOSTS+=("pyops-bench-app$i debian$((i % 2 ? 13 : 12))")
done

down() {
    local name
    # Also the app hosts of an earlier run with more of them.
    for name in $(podman ps -a --format '{{.Names}}' | grep -E '^pyops-bench-(proxy|app[0-9]+)$' || true); do
        podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    done
    podman network exists "$NETWORK" && podman network rm "$NETWORK" >/dev/null || true
}

# A run killed earlier may have left its containers behind.
down
[[ ${PYOPS_BENCH_KEEP:-} ]] || trap down EXIT
trap 'exit 130' INT TERM
podman network create "$NETWORK" >/dev/null
for line in "${HOSTS[@]}"; do
    read -r name image <<<"$line"
    podman run -d --name "$name" --hostname "$name" --network "$NETWORK" --systemd=always \
        "localhost/pyops-testhost:$image" /sbin/init >/dev/null
done
for line in "${HOSTS[@]}"; do
    read -r name _ <<<"$line"
    # systemd inside must be up before Ansible installs services.
    for _ in $(seq 60); do
        case $(podman exec "$name" systemctl is-system-running 2>/dev/null || true) in running | degraded) break ;; esac
        sleep 1
    done
done

python3 "$HERE/bench.py"
