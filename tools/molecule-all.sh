#!/usr/bin/env bash
# Runs `molecule test` for every scenario given, JOBS at a time (default 2), and fails if any fails.
# Three names are not scenarios: `e2e`, the end-to-end tests against the sandbox (pytest tests/e2e),
# `inventories`, the example inventories converged twice (pytest tests/example_inventories), and `ee`,
# the AWX execution environment built and checked (tools/ee-build.sh). They wait on hosts and
# downloads as much as a scenario does, and so share the job slots.
# Two at a time: on a 2-core machine the CPUs are then busy nearly all the time, and a third slot
# made every job about twice as slow (November 2026). build/molecule/cpu.txt records how busy the
# CPUs were every 30 s, to tell whether another slot would help.
# Each scenario logs to build/molecule/<scenario>.log; a failed one's log tail is printed, and every scenario's time.
set -euo pipefail

jobs=${JOBS:-2}
logs=build/molecule
mkdir -p "$logs"

run_one() {
    local s=$1 start rc
    start=$(date +%s)
    local cmd
    case $s in
        e2e) cmd=(pytest -v --durations=0 tests/e2e) ;;
        inventories) cmd=(pytest -v --durations=0 tests/example_inventories) ;;
        ee) cmd=(tools/ee-build.sh) ;;
        *) cmd=(molecule test -s "$s") ;;
    esac
    if "${cmd[@]}" >"$logs/$s.log" 2>&1; then rc=0; else rc=$?; fi
    printf '%-14s %s  %4d s\n' "$s" "$([ "$rc" = 0 ] && echo passed || echo FAILED)" "$(($(date +%s) - start))" \
        | tee -a "$logs/summary.txt"
    if [ "$rc" != 0 ]; then
        echo "---- last 80 lines of $logs/$s.log"
        tail -n 80 "$logs/$s.log"
    fi
    return "$rc"
}
export -f run_one
export logs

# CPU busy percentage over each 30 s, from /proc/stat (user+nice+system+irq+softirq+steal vs idle+iowait).
sample_cpu() {
    local prev_busy=0 prev_total=0 busy total u n s i w q sq st
    while :; do
        read -r _ u n s i w q sq st _ </proc/stat
        busy=$((u + n + s + q + sq + st)) total=$((u + n + s + i + w + q + sq + st))
        [ "$prev_total" = 0 ] || printf '%s %3d%% load %s\n' "$(date +%T)" \
            $((100 * (busy - prev_busy) / (total - prev_total))) "$(cut -d' ' -f1 /proc/loadavg)" >>"$logs/cpu.txt"
        prev_busy=$busy prev_total=$total
        sleep 30
    done
}

: >"$logs/summary.txt"
: >"$logs/cpu.txt"
sample_cpu >/dev/null 2>&1 &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} || failed=1
echo "== scenarios"
cat "$logs/summary.txt"
awk '{sum += $2; n++} END {if (n) printf "CPU busy: %d%% on average over %d samples (build/molecule/cpu.txt)\n", sum / n, n}' "$logs/cpu.txt"
exit "${failed:-0}"
