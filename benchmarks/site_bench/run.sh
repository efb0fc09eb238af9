#!/usr/bin/env bash
# Site benchmark (issue 22): the 4-host sandbox (tools/sandbox.sh: proxy, two app hosts, monitoring)
# made from fresh containers, then `site.yml` three times, timed from starting ansible-playbook to
# its exit: the first converge, a no-op run with the default strategy, and a no-op run under Mitogen's
# mitogen_linear strategy. Not part of the test suite:
#   make bench-site                      (or: benchmarks/site_bench/run.sh)
# The sandbox's containers are the ones `make demo` and the e2e use: do not run it beside either.
# PYOPS_BENCH_KEEP=1 keeps the sandbox afterwards. The table, with the issue's targets met or not, is
# printed and written to last-run.json beside this file; per-role and per-task times (profile_roles,
# profile_tasks) stay in the work directory printed first.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export PATH=$ROOT/.venv/bin:$PATH CONTAINERS_CONF=$ROOT/harness/containers.conf
export ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_FORCE_COLOR=false

"$ROOT/tools/sandbox.sh" down >/dev/null
[[ ${PYOPS_BENCH_KEEP:-} ]] || trap '"$ROOT/tools/sandbox.sh" down >/dev/null' EXIT
trap 'exit 130' INT TERM
"$ROOT/tools/sandbox.sh" up
python3 "$HERE/bench.py"
