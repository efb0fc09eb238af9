"""The site benchmark's runs of site.yml against the sandbox, started by run.sh (see its header)."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INVENTORY = ROOT / "inventories" / "sandbox"
# Issue 22's targets, in seconds of wall time.
TARGETS = {"first converge": 180, "no-op, default strategy": 45, "no-op, mitogen_linear": 25}


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
    }


def run(work, name, extra_env):
    env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_roles,ansible.posix.profile_tasks")
    env.update(extra_env)
    log = work / f"{name.replace(' ', '-').replace(',', '')}.log"
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            ["ansible-playbook", "-i", str(INVENTORY), str(ROOT / "site.yml")],
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
    print(
        f"  {name:26} {seconds:6.1f} s  rc={proc.returncode}"
        f"  changed={ {h: c['changed'] for h, c in recap.items()} }  tasks per host={tasks}",
        flush=True,
    )
    if proc.returncode != 0:
        sys.exit(f"site.yml failed ({name}); see {log}:\n" + "\n".join(text.splitlines()[-40:]))
    return {"seconds": round(seconds, 1), "changed": sum(c["changed"] for c in recap.values()), "recap": recap}


def main():
    work = Path(tempfile.mkdtemp(prefix="pyops-site-bench-"))
    load = [os.getloadavg()]
    print(f"site benchmark: the sandbox, load average {load[0][0]:.2f}, logs in {work}", flush=True)
    runs = {"first converge": run(work, "first converge", {})}
    runs["no-op, default strategy"] = run(work, "no-op, default strategy", {})
    mitogen = mitogen_env()
    if mitogen:
        runs["no-op, mitogen_linear"] = run(work, "no-op, mitogen_linear", mitogen)
    load.append(os.getloadavg())
    lines = ["", f"{'run':26} | {'time':>8} | {'target':>8} | verdict", "-" * 70]
    for name, target in TARGETS.items():
        if name not in runs:
            lines.append(f"{name:26} | {'-':>8} | {target:6d} s | n/a: mitogen is not installed")
            continue
        got = runs[name]
        noop = name.startswith("no-op")
        ok = got["seconds"] <= target and (not noop or got["changed"] == 0)
        note = f", changed={got['changed']}" if noop else ""
        lines.append(f"{name:26} | {got['seconds']:6.1f} s | {target:6d} s | {'met' if ok else 'not met'}{note}")
    lines.append(f"load average at start / end: {load[0][0]:.2f} / {load[1][0]:.2f} on {os.cpu_count()} cores")
    print("\n".join(lines))
    result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load": load, "runs": runs, "table": lines}
    (HERE / "last-run.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
