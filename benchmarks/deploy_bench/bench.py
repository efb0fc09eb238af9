"""The deploy benchmark's steps, run by run.sh once its containers are up (see README in run.sh).

Runs first deploy, code-only deploy, no-change deploy and rollback with pyops.deploy, then the same
four with the deploy_helper baseline, each under steady HTTPS load sent from the proxy to itself,
and prints them side by side. The table is also written to last-run.json.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE = ROOT / "examples" / "flask_app"
INVENTORY = HERE / "inventory.yml"
PROXY = "pyops-bench-proxy"
APPS = ["pyops-bench-app1", "pyops-bench-app2"]
ON_PROXY = "/usr/local/lib/pyops-bench"
SITE = "https://localhost"
CLIENTS = os.environ.get("PYOPS_BENCH_CLIENTS", "4")
# Requests per second between the clients; 0 sends back to back, which saturates this 2-core rig.
RATE = os.environ.get("PYOPS_BENCH_RATE", "200")
WORK = Path(tempfile.mkdtemp(prefix="pyops-deploy-bench-"))
STEPS = ["first deploy", "code-only deploy", "no-change deploy", "rollback"]
# pyops only: a code-only deploy with deploy_configure_server=false (another play configures the app
# server), before the rollback, which then goes back to v2.
CODE_ONLY_SHIPPED = "code-only, no server"
# "sample": the sample's own 9 packages; "wide": a typical production app's 61 (requirements-wide.in).
DEPS = os.environ.get("PYOPS_BENCH_DEPS", "sample")
if DEPS not in ("sample", "wide"):
    sys.exit(f"PYOPS_BENCH_DEPS must be sample or wide, not {DEPS!r}")
RESULT = HERE / ("last-run.json" if DEPS == "sample" else f"last-run-{DEPS}.json")


def log(message):
    print(message, flush=True)


def proxy(command, check=True):
    return subprocess.run(["podman", "exec", PROXY, "sh", "-c", command], check=check, capture_output=True, text=True)


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def playbook(label, path, *args):
    """Runs a playbook; returns (wall seconds, changed per host). Its output goes to WORK."""
    started = time.monotonic()
    run = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), str(path), *args], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    (WORK / f"{label}.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        sys.exit(f"{label} failed (rc {run.returncode}):\n{run.stdout[-4000:]}{run.stderr[-2000:]}")
    changed = {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+:.*\bchanged=(\d+)", run.stdout, re.M)}
    return elapsed, changed


def served():
    """The release ids the proxy serves, from 20 requests."""
    releases = set()
    for _ in range(20):
        reply = json.loads(proxy(f"cd {ON_PROXY} && python3 http_probe.py {SITE} /healthz").stdout)
        releases.add(json.loads(reply["body"])["release"] if reply["failed"] == 0 else "FAILED")
    return sorted(releases)


def step(flow, name, path, *args, load=True):
    label = f"{flow}-{name.replace(' ', '-')}"
    report = {"load": None}
    if load:
        stop = f"/tmp/{label}.stop"
        proxy(
            f"cd {ON_PROXY} && rm -f {stop} && nohup python3 load.py {SITE} /healthz {stop} 900 {CLIENTS} {RATE}"
            f" > /tmp/{label}.json 2>&1 &"
        )
        time.sleep(1)  # the clients are sending before the playbook starts
    try:
        report["seconds"], report["changed"] = playbook(label, path, *args)
    finally:
        if load:
            proxy(f"touch {stop}", check=False)
    if load:
        proxy(f"for i in $(seq 60); do test -s /tmp/{label}.json && exit 0; sleep 0.5; done; exit 1")
        report["load"] = json.loads(proxy(f"cat /tmp/{label}.json").stdout)
    report["served"] = served()
    load_text = "no load (nothing served before)" if not load else json.dumps(report["load"])
    log(f"  {flow:8} {name:17} {report['seconds']:6.1f} s  changed={report['changed']}  now serves {report['served']}")
    log(f"  {'':8} {'':17} load: {load_text}")
    return report


def variant(name, changed=True):
    """A copy of the sample with the chosen dependency set; changed: one file differs, a code-only change."""
    path = WORK / name
    shutil.copytree(SAMPLE, path, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "RELEASE"))
    if DEPS != "sample":
        shutil.copyfile(HERE / f"requirements-{DEPS}.txt", path / "requirements.txt")
    if changed:
        init = path / "pyops_sample_flask" / "__init__.py"
        init.write_text(init.read_text() + f"\nVERSION_MARK = {name!r}\n")
    return path


def count_requirements():
    text = (HERE / f"requirements-{DEPS}.txt" if DEPS != "sample" else SAMPLE / "requirements.txt").read_text()
    return len(re.findall(r"^[A-Za-z0-9]", text, re.M))


def tarball(src, name):
    path = WORK / f"{name}.tar.gz"
    skip = {"__pycache__", "build", "RELEASE"}
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname=".", filter=lambda t: None if skip & set(Path(t.name).parts) else t)
    return path


def flow(name, deploy, rollback, extra_vars, v1, v2, more=()):
    """The four steps with one flow's playbooks; extra_vars(source, release) gives their -e arguments.

    ``more`` adds deploys before the rollback: (label, source, release, extra -e pairs).
    """
    steps = [("first deploy", v1, "v1", []), ("code-only deploy", v2, "v2", []), ("no-change deploy", v2, "v2", [])]
    result = {}
    for label, source, release, extra in [*steps, *more]:
        args = [arg for pair in extra_vars(source, release) + extra for arg in ("-e", pair)]
        result[label] = step(name, label, deploy, *args, load=label != "first deploy")
    result["rollback"] = step(name, "rollback", rollback)
    return result


def pyops_flow(v1, v2, v3):
    def extra_vars(source, release):
        return [f"deploy_artifact_cache={WORK / 'artifacts'}", f"deploy_src_dir={source}", f"deploy_release={release}"]

    more = [(CODE_ONLY_SHIPPED, v3, "v3", ["deploy_configure_server=false"])]
    playbooks = ROOT / "playbooks"
    return flow("pyops", playbooks / "deploy.yml", playbooks / "rollback.yml", extra_vars, v1, v2, more)


def baseline_flow(v1, v2):
    archives = {v1: tarball(v1, "v1"), v2: tarball(v2, "v2")}

    def extra_vars(source, release):
        return [f"baseline_archive={archives[source]}", f"baseline_release={release}"]

    return flow("baseline", HERE / "baseline_deploy.yml", HERE / "baseline_rollback.yml", extra_vars, v1, v2)


def cell(report):
    load = report["load"]
    if load is None:
        return f"{report['seconds']:7.1f} s | {'-':>6} | {'-':>13}"
    return f"{report['seconds']:7.1f} s | {load['failed']:6d} | {load['p50_ms']:5.0f}/{load['p99_ms']:<5.0f} ms"


def summary(pyops, baseline, loads):
    sent = sum(r["load"]["sent"] for r in pyops.values() if r["load"])
    failed = sum(r["load"]["failed"] for r in pyops.values() if r["load"])
    ratio = baseline["code-only deploy"]["seconds"] / pyops["code-only deploy"]["seconds"]
    shipped_ratio = baseline["code-only deploy"]["seconds"] / pyops[CODE_ONLY_SHIPPED]["seconds"]
    per_host = pyops["rollback"]["seconds"] / len(APPS)
    unchanged = set(pyops["no-change deploy"]["changed"].values()) == {0}
    lines = [
        f"{'step':20} | {'pyops time':>9} | {'failed':>6} | {'p50/p99':>13} "
        f"| {'baseline':>9} | {'failed':>6} | p50/p99",
        "-" * 100,
    ]
    lines += [f"{name:20} | {cell(pyops[name])} | {cell(baseline[name])}" for name in STEPS]
    lines.insert(-1, f"{CODE_ONLY_SHIPPED:20} | {cell(pyops[CODE_ONLY_SHIPPED])} | (no baseline step)")
    lines += [
        "",
        f"pyops requests under load: {sent} sent, {failed} failed (target: 0 failed, >= 10000 sent)",
        f"code-only deploy, baseline/pyops: {ratio:.1f}x (target: >= 5x);"
        f" with deploy_configure_server=false: {shipped_ratio:.1f}x",
        f"rollback: {pyops['rollback']['seconds']:.1f} s for {len(APPS)} hosts, {per_host:.1f} s per host"
        f" (target: < 3 s); baseline {baseline['rollback']['seconds']:.1f} s",
        f"no-change deploy changed=0: {'yes' if unchanged else 'NO'} {pyops['no-change deploy']['changed']}"
        f" (baseline: {baseline['no-change deploy']['changed']})",
        f"dependency set: {DEPS} ({count_requirements()} packages)",
        f"load average at start / end: {loads[0]} / {loads[1]} on {os.cpu_count()} cores; {CLIENTS} load clients"
        f" at {RATE} requests/s between them ({'back to back' if float(RATE) == 0 else 'steady'})",
    ]
    return lines, {
        "sent": sent,
        "failed": failed,
        "code_only_ratio": round(ratio, 2),
        "code_only_no_server_ratio": round(shipped_ratio, 2),
        "rollback_seconds_per_host": round(per_host, 2),
        "no_change_changed_zero": unchanged,
    }


def main():
    loads = [loadavg()]
    log(
        f"deploy benchmark: {len(APPS)} app hosts behind {PROXY}, dependency set {DEPS!r},"
        f" load average {loads[0]}, logs in {WORK}"
    )
    proxy(f"mkdir -p {ON_PROXY}")
    for script in (ROOT / "molecule" / "http_probe.py", HERE / "load.py"):
        subprocess.run(["podman", "cp", str(script), f"{PROXY}:{ON_PROXY}/"], check=True)
    playbook("converge", HERE / "converge.yml")
    v1 = variant("v1", changed=False)
    v2 = variant("v2")
    pyops = pyops_flow(v1, v2, variant("v3"))
    playbook("wipe", HERE / "wipe.yml")
    baseline = baseline_flow(v1, v2)
    loads.append(loadavg())
    lines, totals = summary(pyops, baseline, loads)
    log("\n" + "\n".join(lines))
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "loadavg": loads,
        "clients": int(CLIENTS),
        "rate": float(RATE),
        "deps": DEPS,
        "pyops": pyops,
        "baseline": baseline,
        "totals": totals,
        "table": lines,
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
