#!/usr/bin/env bash
# Builds the execution environment of execution-environment.yml and checks that it works.
# usage: tools/ee-build.sh            (image: $EE_IMAGE, default pyops-deploy-ee:latest)
#   EE_BASE_IMAGE=<image>   build FROM another Debian 12 image (the file's default otherwise)
#   EE_RUNTIME=docker       the container runtime (podman by default)
#   EE_NO_CACHE=1           rebuild every layer (a cold build's time)
# 1. The collection tarballs into build/ee/collections/: pyops.deploy from this checkout; its
#    dependencies downloaded from Galaxy, or, where Galaxy is not reachable, rebuilt from the
#    copies installed next to ansible-core (tools/repack_collection.py).
# 2. ansible-builder builds the image. 3. The image shows the collection's docs and playbooks, and runs
#    a command under Mitogen's strategy.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
image=${EE_IMAGE:-pyops-deploy-ee:latest}
runtime=${EE_RUNTIME:-podman}
out=build/ee
deps=(community.crypto ansible.posix)
start=$SECONDS

rm -rf "$out" && mkdir -p "$out/collections" "$out/download"
cp "$(tools/build-collection.sh "$out/download")" "$out/collections/pyops-deploy.tar.gz"
for fqcn in "${deps[@]}"; do
  # The file names are fixed: execution-environment.yml names the tarballs, their versions are
  # checked against its constraints when they are installed.
  dest="$out/collections/${fqcn/./-}.tar.gz"
  if ansible-galaxy collection download --no-deps -p "$out/download" "$fqcn" >/dev/null 2>&1; then
    cp "$out/download/${fqcn/./-}"-*.tar.gz "$dest"
    echo "$fqcn: downloaded from Galaxy"
  else
    cp "$(python tools/repack_collection.py "$fqcn" "$out/download")" "$dest"
    echo "$fqcn: Galaxy not reachable, rebuilt from the installed copy"
  fi
done

build_args=()
[ -n "${EE_BASE_IMAGE:-}" ] && build_args+=(--build-arg "EE_BASE_IMAGE=$EE_BASE_IMAGE")
[ -n "${EE_NO_CACHE:-}" ] && build_args+=(--no-cache)
ansible-builder build -f execution-environment.yml -c "$out/context" -t "$image" \
  --container-runtime "$runtime" "${build_args[@]}" -v 1
built=$SECONDS

ee() { "$runtime" run --rm "$image" "$@"; }
set -x
ee ansible --version
ee ansible-runner --version
ee ansible-galaxy collection list --format json | python3 -c '
import json, sys
found = {name for cols in json.load(sys.stdin).values() for name in cols}
missing = set(sys.argv[1:]) - found
sys.exit(f"not in the image: {sorted(missing)}" if missing else print("collections:", sorted(found)))
' pyops.deploy "${deps[@]}"
ee ansible-doc pyops.deploy.release | grep "^> MODULE"
ee ansible-playbook --syntax-check pyops.deploy.site -i localhost,
ee python3 -c 'import cryptography; print("cryptography", cryptography.__version__)'
ee ssh -V
ee pip-audit --version
# Mitogen (docs/mitogen.md): ansible_mitogen imports, its strategy directory is the one linked into Ansible's
# default strategy path, and a run with only the settings the docs give a job template goes through its
# strategy (ansible-core refuses a strategy it cannot load, and warns of one from outside ansible.builtin).
ee python3 -c '
import os, ansible_mitogen, mitogen
strategy = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
assert os.path.isfile(os.path.join(strategy, "mitogen_linear.py")), strategy
assert os.path.samefile(strategy, "/usr/share/ansible/plugins/strategy"), strategy
print("mitogen", ".".join(map(str, mitogen.__version__)), strategy)'
ee env ANSIBLE_STRATEGY=mitogen_linear ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_HOST_KEY_CHECKING=False \
  ansible localhost -c local -m ansible.builtin.command -a "echo ran" 2>&1 | tee build/ee/mitogen.txt
tr -s ' \n' '  ' <build/ee/mitogen.txt | grep -q "strategy plugins not included in ansible.builtin"
grep -q "^localhost | CHANGED | rc=0" build/ee/mitogen.txt
# The deploy role's controller side, as AWX runs it (uid 1000, HOME=/runner): pack a git ref.
ee sh -ec 'git init -q /tmp/app && echo "print(1)" >/tmp/app/app.py && git -C /tmp/app add app.py
  git -C /tmp/app -c user.name=ee -c user.email=ee@localhost commit -qm one
  ansible localhost -c local -m ansible.builtin.include_role -e deploy_git_repo=/tmp/app \
    -a "name=pyops.deploy.deploy tasks_from=artifact" | grep "\"run_id\""
  tar -tzf ~/.cache/pyops-deploy/*.tar.gz | grep -qx app.py'
{ set +x; } 2>/dev/null
echo "ee-build: $image built in $((built - start))s, checked in $((SECONDS - built))s, $((SECONDS - start))s in all"
