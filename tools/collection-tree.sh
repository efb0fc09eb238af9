#!/usr/bin/env bash
# Builds the collection tarball into build/ and unpacks it as
# $PYOPS_TREE/ansible_collections/pyops/deploy: the files that ship, exactly, in the layout
# ansible-test expects (default: one per checkout, under $TMPDIR). The tree is outside the checkout: inside it, ansible-test would ask git for
# the file list and find the (ignored) build output empty.
# usage: tools/collection-tree.sh   (prints the tree's path)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# One tree per checkout, so that two checkouts (worktrees) testing at once do not remove each other's.
tree=${PYOPS_TREE:-${TMPDIR:-/tmp}/pyops-deploy-tree-$(printf '%s' "$root" | sha256sum | cut -c1-12)}
rm -rf "$tree" && mkdir -p "$tree/ansible_collections/pyops/deploy"
tarball=$("$root/tools/build-collection.sh" "$root/build")
tar -xzf "$tarball" -C "$tree/ansible_collections/pyops/deploy"
echo "$tree/ansible_collections/pyops/deploy"
