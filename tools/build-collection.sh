#!/usr/bin/env bash
# Builds the collection tarball (galaxy.yml's build_ignore decides what ships) and prints its path.
# usage: tools/build-collection.sh OUTPUT_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
version=$(awk '/^version:/ {print $2}' "$root/galaxy.yml")
ansible-galaxy collection build --force --output-path "$out" "$root" >/dev/null
echo "$out/pyops-deploy-$version.tar.gz"
