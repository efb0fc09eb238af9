#!/usr/bin/env bash
# Proves the published artifact works: builds the tarball, installs it with ansible-galaxy into a
# throwaway path, and checks that the installed collection resolves its modules, roles and playbooks
# by FQCN and that nothing from the test harness shipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=$("$root/tools/build-collection.sh" "$work")
version=$(basename "$tarball" .tar.gz | sed 's/^pyops-deploy-//')
# Away from the checkout, whose ansible.cfg and collections/ link already provide pyops.deploy.
cd "$work"
unset ANSIBLE_CONFIG
export ANSIBLE_COLLECTIONS_PATH=$work/collections
ansible-galaxy collection install --offline -p "$work/collections" "$tarball" >/dev/null
installed=$work/collections/ansible_collections/pyops/deploy

fail() { echo "galaxy-install-test: $*" >&2; exit 1; }
for must in MANIFEST.json meta/runtime.yml site.yml playbooks/site.yml roles/python/meta/argument_specs.yml \
            plugins/modules/release.py plugins/module_utils/_release/__init__.py \
            plugins/module_utils/_release/manager.py; do
    [ -e "$installed/$must" ] || fail "$must is missing from the installed collection"
done
for mustnot in tests molecule inventories harness examples collections .venv .ci .ruff_cache .pytest_cache \
               Makefile ansible.cfg pyproject.toml; do
    [ ! -e "$installed/$mustnot" ] || fail "$mustnot shipped in the tarball (galaxy.yml build_ignore)"
done

ansible-galaxy collection list pyops.deploy 2>/dev/null | grep -q "pyops.deploy *$version" \
    || fail "ansible-galaxy does not list pyops.deploy $version"
ansible-doc pyops.deploy.release >/dev/null || fail "ansible-doc cannot render pyops.deploy.release"
ansible-doc -t role pyops.deploy.python >/dev/null || fail "ansible-doc cannot render role pyops.deploy.python"
ansible-playbook --syntax-check pyops.deploy.site -i localhost, >/dev/null 2>&1 || fail "pyops.deploy.site does not resolve by FQCN"
echo "galaxy-install-test: pyops.deploy $version builds, installs and resolves by FQCN ($(du -h "$tarball" | cut -f1) tarball)"
