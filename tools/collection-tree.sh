#!/usr/bin/env bash
# Builds the collection tarball into build/ and unpacks it as
# $PYOPS_TREE/ansible_collections/pyops/deploy: the files that ship, exactly, in the layout
# ansible-test expects. The tree is outside the checkout: inside it, ansible-test would ask git for
# the file list and find the (ignored) build output empty.
# usage: tools/collection-tree.sh   (prints the tree's path)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
version=$(awk '/^version:/ {print $2}' "$root/galaxy.yml")
tree=${PYOPS_TREE:-${TMPDIR:-/tmp}/pyops-deploy-tree}
rm -rf "$tree" && mkdir -p "$tree/ansible_collections/pyops/deploy"
ansible-galaxy collection build --force --output-path "$build" "$root" >/dev/null
tar -xzf "$build/pyops-deploy-$version.tar.gz" -C "$tree/ansible_collections/pyops/deploy"
echo "$tree/ansible_collections/pyops/deploy"
