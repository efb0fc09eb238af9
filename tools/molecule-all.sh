#!/usr/bin/env bash
# Runs `molecule test` for every scenario given, JOBS at a time (default 2), and fails if any fails.
# Two names are not scenarios: `e2e`, the end-to-end tests against the sandbox (pytest tests/e2e),
# and `ee`, the AWX execution environment built and checked (tools/ee-build.sh). They wait on hosts
# and downloads as much as a scenario does, and so share the job slots.
# Most of a scenario's time is waiting (package downloads, systemd, load probes), so two at a time on
# a 2-core machine cut the wall time without starving either. Each scenario logs to
# build/molecule/<scenario>.log; a failed one's log tail is printed, and every scenario's time.
set -euo pipefail

jobs=${JOBS:-2}
logs=build/molecule
mkdir -p "$logs"

run_one() {
    local s=$1 start rc
    start=$(date +%s)
    local cmd
    case $s in
        e2e) cmd=(pytest -v tests/e2e) ;;
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

: >"$logs/summary.txt"
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} || failed=1
echo "== scenarios"
cat "$logs/summary.txt"
exit "${failed:-0}"
