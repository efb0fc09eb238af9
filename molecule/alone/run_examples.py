"""Applies every role's README minimal example, as it is, alone, to a one-host inventory, twice.

usage: run_examples.py HOST...   (from molecule/alone/converge.yml, with molecule's environment)

For each HOST, side by side (one thread, so one ansible-playbook process, per host): an inventory
holding only that host, ungrouped, reached as the scenario reaches it, with host_vars.yml of this
scenario as its host_vars (what the READMEs leave to the user); then, in the order a user follows
(tools/readme_examples.IN_ALONE), each example twice, as a user runs it: the project's ansible.cfg and
collections, none of molecule's ANSIBLE_* settings. The second run is skipped when the first failed.

Writes <ephemeral>/alone/results.json ({host: {role: [first, second]}}, each run's rc, recap counts,
seconds, verdict and, when judged bad, its log's last lines) for tests/test_alone.py, which judges
them; each run's whole log goes to build/molecule/alone/<host>/<role>-<n>.log. Prints one line per
run. Exits 0 unless it could not run at all: the verdicts are the tests'.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
sys.path.insert(0, str(PROJECT / "tools"))
import readme_examples  # noqa: E402

sys.path.insert(0, str(PROJECT / "molecule"))
from scenario_hosts import connection_of  # noqa: E402

WORK = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "alone"
LOGS = PROJECT / "build" / "molecule" / "alone"
RECAP = r"^{host}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)"
TAIL = 60


def one_host_inventory(host):
    """<WORK>/<host>/inventory: the host alone, ungrouped, with its connection and host_vars.yml."""
    connection = connection_of(host)
    inventory = WORK / host / "inventory"
    (inventory / "host_vars").mkdir(parents=True, exist_ok=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {host: connection}}}))
    shutil.copyfile(HERE / "host_vars.yml", inventory / "host_vars" / f"{host}.yml")
    return inventory


def environment():
    """A user's: the project's ansible.cfg and collections, with per-task times in the logs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "collections"),
        ANSIBLE_FORCE_COLOR="false",
        ANSIBLE_NOCOLOR="true",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
    )
    return env


def run(host, inventory, role, number, env):
    log = LOGS / host / f"{role}-{number}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(WORK / "examples" / f"{role}.yml")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        ).returncode
    seconds = round(time.monotonic() - start, 1)
    text = log.read_text()
    recap = re.search(RECAP.format(host=re.escape(host)), text, re.M)
    counts = dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, recap.groups()))) if recap else {}
    if number == 1:
        # The example's play must have reached the host (a play aimed at a group would match nothing).
        good = rc == 0 and counts.get("ok", 0) > 0 and counts.get("failed") == 0
    else:
        good = rc == 0 and counts.get("changed") == 0 and counts.get("failed") == 0
    result = {"rc": rc, "seconds": seconds, "recap": counts, "good": good, "log": str(log)}
    if not good:
        result["tail"] = "\n".join(text.splitlines()[-TAIL:])
    return result


def apply_all(host, env, results):
    inventory = one_host_inventory(host)
    results[host] = {}
    for role in readme_examples.IN_ALONE:
        first = run(host, inventory, role, 1, env)
        second = run(host, inventory, role, 2, env) if first["good"] else None
        results[host][role] = [first, second]
        for number, result in ((1, first), (2, second)):
            if result:
                print(
                    f"{host} {role:14} run {number}: {'ok ' if result['good'] else 'BAD'} rc={result['rc']}"
                    f" {result['recap']} {result['seconds']} s",
                    flush=True,
                )


def main(hosts):
    (WORK / "examples").mkdir(parents=True, exist_ok=True)
    for role in readme_examples.IN_ALONE:
        (WORK / "examples" / f"{role}.yml").write_text(readme_examples.example(role))
    env = environment()
    results = {}
    start = time.monotonic()
    threads = [threading.Thread(target=apply_all, args=(host, env, results)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (WORK / "results.json").write_text(json.dumps(results, indent=1))
    print(f"all examples on {len(hosts)} hosts: {round(time.monotonic() - start)} s")
    return 0 if all(host in results and len(results[host]) == len(readme_examples.IN_ALONE) for host in hosts) else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: run_examples.py HOST...")
    sys.exit(main(sys.argv[1:]))
