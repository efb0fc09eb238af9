#!/usr/bin/env bash
# Runs `ansible-test <command>` against the collection as it ships, plus its tests/ (which do not
# ship). --local: ansible-test cannot bootstrap its own venvs or containers on the test machines.
# usage: tools/ansible-test.sh sanity|units [extra ansible-test args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tree=$("$root/tools/collection-tree.sh")
cp -r "$root/tests" "$tree/tests"

# ansible-test bootstraps pip in its per-test virtualenvs from a script it downloads from a host the
# test machines cannot reach; the shim does the same with ensurepip + PyPI.
py=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pip_version=$(python -c "from types import SimpleNamespace
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(SimpleNamespace(version='$py'))['pip'])")
install -D -m 0644 "$root/tools/get-pip-shim.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
cd "$tree"
command=$1; shift
case $command in
    sanity) ansible-test sanity --local --python "$py" --requirements --color no "$@" ;;
    units)  ansible-test units --local --python "$py" --requirements --color no "$@" ;;
    *) echo "usage: $0 sanity|units" >&2; exit 2 ;;
esac
