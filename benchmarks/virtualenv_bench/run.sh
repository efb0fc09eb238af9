#!/usr/bin/env bash
# Builds the Flask sample's venv (examples/flask_app/requirements.txt, hash-pinned) on a throwaway
# Debian test host, several ways, and prints the times side by side. Not part of the test suite:
#   make bench-virtualenv            (or: benchmarks/virtualenv_bench/run.sh [image] [runs])
# Each build is a new venv at a new path, as the deploy flow makes one per release, and is timed
# inside the container, so podman's own overhead is not counted. uv is run the way the
# virtualenv role runs it: --compile-bytecode (pip compiles too), hardlinks from its cache; one row
# without bytecode compilation shows what that costs. uv's rows are CPU-bound, so the load average
# printed first matters when comparing runs.
set -euo pipefail

IMAGE=${1:-localhost/pyops-testhost:debian12}
RUNS=${2:-3}
UV_VERSION=${UV_VERSION:-0.13.9}
HERE=$(cd "$(dirname "$0")" && pwd)
REQS=$HERE/../../examples/flask_app/requirements.txt
BYTECODE=$HERE/../../plugins/module_utils/_venv/bytecode.py
NAME=pyops-bench-venv-$$

podman run -d --name "$NAME" "$IMAGE" sleep infinity >/dev/null
trap 'podman rm -f -t 0 "$NAME" >/dev/null' EXIT
podman cp "$REQS" "$NAME":/tmp/requirements.txt
podman cp "$BYTECODE" "$NAME":/tmp/bytecode.py

# Setup, not timed: python3-venv for pip, uv from PyPI, a wheelhouse of the same requirements.
podman exec "$NAME" bash -euc "
    export DEBIAN_FRONTEND=noninteractive SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv /opt/uv && /opt/uv/bin/pip install -q --cert \$SSL_CERT_FILE uv==$UV_VERSION
    /opt/uv/bin/pip download -q --cert \$SSL_CERT_FILE --require-hashes -r /tmp/requirements.txt -d /tmp/wheelhouse
"

# Prints the milliseconds one build takes inside the container. $v is a new venv path every time.
timed() {
    podman exec -e SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt -e PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        "$NAME" bash -euc "v=\$(mktemp -d -u /srv/bench/vXXXXXX); start=\$(date +%s%N)
            { $1; } >/tmp/build.log 2>&1 || { cat /tmp/build.log >&2; exit 1; }
            echo \$(( (\$(date +%s%N) - start) / 1000000 ))"
}

pip_build() { echo "python3 -m venv \$v && \$v/bin/pip install --disable-pip-version-check $1 --require-hashes -r /tmp/requirements.txt"; }
uv_build() {  # $1: --compile-bytecode or not, $2: where packages come from
    echo "export UV_CACHE_DIR=/var/cache/bench-uv; /opt/uv/bin/uv venv -q --python /usr/bin/python3 \$v &&
          /opt/uv/bin/uv pip sync -q --python \$v/bin/python $1 --require-hashes $2 /tmp/requirements.txt"
}
# What the role runs when an earlier venv of the same cache exists (the deploy flow's live release):
# no compilation by uv, that venv's bytecode linked where the files are the same, then compileall for
# the files still without bytecode (the venv module's plugins/module_utils/_venv/bytecode.py, run on its own).
uv_carry_build() {
    echo "export UV_CACHE_DIR=/var/cache/bench-uv; /opt/uv/bin/uv venv -q --python /usr/bin/python3 \$v &&
          /opt/uv/bin/uv pip sync -q --python \$v/bin/python --require-hashes /tmp/requirements.txt &&
          /usr/bin/python3 /tmp/bytecode.py /srv/bench/earlier \$v"
}
clear_caches() { podman exec "$NAME" rm -rf /root/.cache/pip /var/cache/bench-uv; }

declare -A results
run() {  # label, then the command that builds one venv; "cold" labels clear the caches first.
    local label=$1 i times=()
    for ((i = 0; i < RUNS; i++)); do
        [[ $label == *cold* ]] && clear_caches
        times+=("$(timed "$2")")
    done
    results[$label]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    printf '%-30s median %6d ms   runs: %s\n' "$label" "${results[$label]}" "${times[*]}"
}

echo "Flask sample venv ($(grep -c '^[a-z]' "$REQS") packages) on $IMAGE, $RUNS runs each, uv $UV_VERSION"
echo "controller: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run "pip, index, cold cache" "$(pip_build --no-cache-dir)"
clear_caches
timed "$(pip_build '')" >/dev/null
run "pip, index, warm cache" "$(pip_build '')"
run "uv, index, cold cache" "$(uv_build --compile-bytecode '')"
run "uv, index, warm cache" "$(uv_build --compile-bytecode '')"
run "uv, index, warm, no bytecode" "$(uv_build '' '')"
# The earlier venv (not timed): built from the same warm cache, bytecode compiled.
timed "v=/srv/bench/earlier; rm -rf \$v; $(uv_build --compile-bytecode '')" >/dev/null
run "uv, warm, bytecode carried" "$(uv_carry_build)"
run "uv, wheelhouse, cold cache" "$(uv_build --compile-bytecode '--no-index --find-links /tmp/wheelhouse')"
for label in "uv, index, warm cache" "uv, warm, bytecode carried" "uv, index, warm, no bytecode"; do
    awk -v pip="${results["pip, index, cold cache"]}" -v uv="${results[$label]}" -v label="$label" \
        'BEGIN { printf "%s: %.1fx faster than pip from the index (target: 10x)\n", label, pip / uv }'
done
