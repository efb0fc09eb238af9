"""The site benchmark's runs of site.yml and deploy.yml against the sandbox, started by run.sh (see its header)."""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INVENTORY = ROOT / "inventories" / "sandbox"
# Each no-op run is repeated this many times and reported by its median.
REPEATS = int(os.environ.get("PYOPS_BENCH_REPEATS", "3"))
# Issue 22's targets, in seconds of wall time (None: printed, no target).
TARGETS = {
    "first converge": 180,
    "no-op site.yml, default": 45,
    "no-op site.yml, mitogen": 25,
    "unchanged deploy, default": None,
    "unchanged deploy, mitogen": None,
}


def mitogen_env():
    """The settings docs/mitogen.md gives, or None when mitogen is not installed in this venv."""
    try:
        import ansible_mitogen
    except ImportError:
        return None
    return {
        "ANSIBLE_STRATEGY": "mitogen_linear",
        "ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"),
        # Mitogen runs a delegated task with the interpreter discovered on the delegating host.
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        # The sandbox turns host key checking off with ssh options, which Mitogen does not read.
        "ANSIBLE_HOST_KEY_CHECKING": "False",
    }


def roles_recap(text):
    """{role: seconds} from profile_roles' ROLES RECAP (tasks outside a role are named by their action)."""
    recap, inside = {}, False
    for line in text.splitlines():
        if "ROLES RECAP" in line:
            inside = True
        elif inside and line.startswith("~"):
            break
        elif inside and (m := re.match(r"^(\S.*?) -+ (\d+\.\d+)s$", line)):
            recap[m[1]] = float(m[2])
    return recap


def run(work, name, playbook, extra_env):
    env = dict(
        os.environ,
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_roles,ansible.posix.profile_tasks",
        PROFILE_TASKS_TASK_OUTPUT_LIMIT="all",
    )
    env.update(extra_env)
    log = work / f"{re.sub(r'[^a-z0-9]+', '-', name)}.log"
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            ["ansible-playbook", "-i", str(INVENTORY), str(playbook)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    seconds = time.monotonic() - start
    text = log.read_text()
    recap = {
        m[0]: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m[1])}
        for m in re.findall(r"^(\S+)\s+: (ok=.*)$", text, re.M)
    }
    tasks = {host: counts["ok"] + counts["changed"] for host, counts in recap.items()}
    changed = sum(c["changed"] for c in recap.values())
    print(f"  {name:30} {seconds:6.1f} s  rc={proc.returncode}  changed={changed}  tasks per host={tasks}", flush=True)
    if proc.returncode != 0:
        sys.exit(f"{playbook.name} failed ({name}); see {log}:\n" + "\n".join(text.splitlines()[-40:]))
    return {"seconds": round(seconds, 1), "changed": changed, "tasks": tasks, "roles": roles_recap(text)}


def repeated(work, name, playbook, extra_env):
    """REPEATS runs; the median's wall time and per-role split, the highest changed count of any run."""
    runs = [run(work, f"{name} #{i + 1}", playbook, extra_env) for i in range(REPEATS)]
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return dict(
        median,
        seconds=statistics.median(r["seconds"] for r in runs),
        all=[r["seconds"] for r in runs],
        changed=max(r["changed"] for r in runs),
    )


def main():
    work = Path(tempfile.mkdtemp(prefix="pyops-site-bench-"))
    load = [os.getloadavg()]
    print(f"site benchmark: the sandbox, load average {load[0][0]:.2f}, logs in {work}", flush=True)
    site, deploy = ROOT / "site.yml", ROOT / "playbooks" / "deploy.yml"
    runs = {"first converge": run(work, "first converge", site, {})}
    mitogen = mitogen_env()
    # PYOPS_BENCH_STRATEGIES=mitogen (or default) times one strategy only.
    chosen = os.environ.get("PYOPS_BENCH_STRATEGIES", "default mitogen").split()
    for strategy, extra in (("default", {}), ("mitogen", mitogen)):
        if extra is None or strategy not in chosen:
            continue
        runs[f"no-op site.yml, {strategy}"] = repeated(work, f"no-op site.yml, {strategy}", site, extra)
        runs[f"unchanged deploy, {strategy}"] = repeated(work, f"unchanged deploy, {strategy}", deploy, extra)
    load.append(os.getloadavg())
    lines = ["", f"{'run':28} | {'median':>8} | {'runs':>18} | {'target':>8} | verdict", "-" * 90]
    for name, target in TARGETS.items():
        if name not in runs:
            lines.append(f"{name:28} | {'-':>8} | {'':>18} | {'':>8} | not run")
            continue
        got = runs[name]
        noop = name != "first converge"
        each = " ".join(f"{s:.1f}" for s in got.get("all", [got["seconds"]]))
        verdict = f"changed={got['changed']}" if noop else ""
        if target is not None:
            ok = got["seconds"] <= target and (not noop or got["changed"] == 0)
            verdict = ("met" if ok else "not met") + (f", {verdict}" if verdict else "")
        tgt = f"{target:6d} s" if target else f"{'-':>8}"
        lines.append(f"{name:28} | {got['seconds']:6.1f} s | {each:>18} | {tgt} | {verdict}")
    lines += ["", "per role (profile_roles, the median run; seconds):"]
    names = [n for n in TARGETS if n in runs]
    roles = sorted(
        {r for n in names for r in runs[n]["roles"]}, key=lambda r: -max(runs[n]["roles"].get(r, 0) for n in names)
    )
    short = {n: n.replace("site.yml, ", "").replace("unchanged ", "")[:12] for n in names}
    lines.append(f"{'role':24}" + "".join(f" | {short[n]:>12}" for n in names))
    for role in roles:
        lines.append(f"{role:24}" + "".join(f" | {runs[n]['roles'].get(role, 0):12.1f}" for n in names))
    lines.append(f"load average at start / end: {load[0][0]:.2f} / {load[1][0]:.2f} on {os.cpu_count()} cores")
    print("\n".join(lines))
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load": load, "runs": runs, "table": lines}
    (HERE / "last-run.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
