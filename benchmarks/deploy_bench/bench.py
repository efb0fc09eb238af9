"""The deploy benchmark's steps, run by run.sh once its containers are up (see the header of run.sh).

Runs first deploy, code-only deploy, no-change deploy, a code-only deploy with
deploy_configure_server=false, a code-only deploy through the dependency gate (deploy_audit=true against
a local OSV service with no advisories) and rollback with pyops.deploy, then the same steps (but the
fourth and fifth)
with the deploy_helper baseline, each under steady HTTPS load sent from the proxy to itself, checks
that each step did what its name says, and prints them side by side with the issue's targets. The
table is also written to last-run[-wide][-appsN].json; a run with N != 2 app hosts also prints how
each step's time grows from the 2-host run of the same dependency set, when that run's file exists.

Without containers:
  bench.py --growth <2-host result.json> <N-host result.json>   prints that growth table
  bench.py --inventory <file>                                   renders the inventory for PYOPS_BENCH_APPS
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

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE = ROOT / "examples" / "flask_app"
# The 2-host inventory; bench.py renders a copy listing PYOPS_BENCH_APPS app hosts into its work dir.
TEMPLATE = HERE / "inventory.yml"
PROXY = "pyops-bench-proxy"
ON_PROXY = "/usr/local/lib/pyops-bench"
SITE = "https://localhost"
APP_PORT = 8000
STEPS = ["first deploy", "code-only deploy", "no-change deploy", "rollback"]
# pyops only: a code-only deploy with deploy_configure_server=false (another play configures the app
# server), before the gated deploy and the rollback.
CODE_ONLY_SHIPPED = "code-only, no server"
# pyops only: a code-only deploy with the dependency gate on (issue 24: it adds <= 2 s), against the OSV
# service of molecule/deploy/osv_server.py on the controller, serving no advisory.
CODE_ONLY_GATED = "code-only, gated"
GATE_TASK = "Audit the release's locked dependencies for known vulnerabilities, once, on the controller"
# The order of the rows in the tables.
ROWS = [*STEPS[:3], CODE_ONLY_SHIPPED, CODE_ONLY_GATED, STEPS[3]]


def positive_int(name, default):
    value = os.environ.get(name) or str(default)
    if not value.isdigit() or int(value) < 1:
        sys.exit(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(value)


def app_hosts(count):
    """pyops-bench-app1..N, the names run.sh gives the containers."""
    return [f"pyops-bench-app{index}" for index in range(1, count + 1)]


APPS = app_hosts(positive_int("PYOPS_BENCH_APPS", 2))
# The load follows the number of app hosts: 2 clients and 100 requests per second per app host
# (4 clients at 200/s with 2 hosts, as before), so each host sees the same load whatever N is.
CLIENTS = os.environ.get("PYOPS_BENCH_CLIENTS") or str(2 * len(APPS))
# Requests per second between the clients; 0 sends back to back, which saturates this 2-core rig.
RATE = os.environ.get("PYOPS_BENCH_RATE") or str(100 * len(APPS))
# "sample": the sample's own 9 packages; "wide": a typical production app's 61 (requirements-wide.in).
DEPS = os.environ.get("PYOPS_BENCH_DEPS", "sample")
if DEPS not in ("sample", "wide"):
    sys.exit(f"PYOPS_BENCH_DEPS must be sample or wide, not {DEPS!r}")
WORK = None  # the run's work dir (logs, inventory, code variants), made by main()
INVENTORY = None


def result_path(deps, apps):
    """last-run.json, last-run-wide.json, last-run-apps6.json, last-run-wide-apps6.json."""
    return HERE / f"last-run{'' if deps == 'sample' else '-' + deps}{'' if apps == 2 else f'-apps{apps}'}.json"


def log(message):
    print(message, flush=True)


def render_inventory(path, apps):
    """Writes inventory.yml with `apps` as the app servers to path, the SSH settings unchanged.

    The ProxyCommand's `{{ inventory_dir }}/../..` becomes the checkout's absolute path: the rendered
    file lives in the work dir, not two levels under the checkout.
    """
    data = yaml.safe_load(TEMPLATE.read_text())
    variables = data["all"]["vars"]
    relative = "{{ inventory_dir }}/../.."
    if relative not in variables["ansible_ssh_common_args"]:
        raise ValueError(f"{TEMPLATE}: ansible_ssh_common_args no longer reaches the harness via {relative}")
    variables["ansible_ssh_common_args"] = variables["ansible_ssh_common_args"].replace(relative, str(ROOT))
    data["all"]["children"]["appservers"]["hosts"] = dict.fromkeys(apps)
    header = f"# Rendered by {Path(__file__).name} from {TEMPLATE} for {len(apps)} app hosts.\n"
    path.write_text(header + "---\n" + yaml.safe_dump(data, sort_keys=False, width=1000))
    return path


def proxy(command, check=True):
    return subprocess.run(["podman", "exec", PROXY, "sh", "-c", command], check=check, capture_output=True, text=True)


def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def fail(label, reason, stdout="", stderr=""):
    """Stops the run: why, where the log is, the first failed tasks and the playbook's last lines."""
    lines = stdout.splitlines()
    # A failed task's line and the indented result under it (ansible.cfg prints results as YAML).
    failures, inside = [], False
    for line in lines:
        if line.startswith(("fatal:", "failed:", "[ERROR]:")):
            inside = True
        elif not line.startswith(" "):
            inside = False
        if inside:
            failures.append(line[:1000])
    parts = [f"{label}: {reason}", f"full output: {WORK / (label + '.log')}"]
    if failures:
        parts += ["failed tasks:", *failures[:60]]
    if lines:
        parts += ["last 40 lines of its output:", *lines[-40:]]
    if stderr.strip():
        parts += ["last 20 lines of its stderr:", *stderr.splitlines()[-20:]]
    sys.exit("\n".join(parts))


def playbook(label, path, *args):
    """Runs a playbook; returns (wall seconds, changed per host, output). Its output goes to WORK."""
    started = time.monotonic()
    run = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), str(path), *args], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    (WORK / f"{label}.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        fail(label, f"ansible-playbook {path.name} failed (rc {run.returncode})", run.stdout, run.stderr)
    changed = {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+:.*\bchanged=(\d+)", run.stdout, re.M)}
    return elapsed, changed, run.stdout


def served():
    """What serves: each app host's release (asked directly) and the releases the site answers with
    in 10 requests per app host through the proxy. FAILED where a request failed."""
    direct = [f"python3 http_probe.py http://{host}:{APP_PORT} /healthz" for host in APPS]
    site = f"for i in $(seq {10 * len(APPS)}); do python3 http_probe.py {SITE} /healthz; done"
    replies = [json.loads(line) for line in proxy(f"cd {ON_PROXY} && {'; '.join(direct)}; {site}").stdout.splitlines()]

    def release(reply):
        return json.loads(reply["body"])["release"] if reply["failed"] == 0 else "FAILED"

    return {
        "hosts": {host: release(reply) for host, reply in zip(APPS, replies)},
        "site": sorted({release(reply) for reply in replies[len(APPS) :]}),
    }


def changes(changed):
    """changed=N per host, in one piece when every host has the same."""
    values = set(changed.values())
    return f"changed={values.pop()} on each of {len(changed)} hosts" if len(values) == 1 else f"changed={changed}"


def describe(serving):
    hosts = set(serving["hosts"].values())
    on_hosts = f"{hosts.pop()} on all {len(APPS)} hosts" if len(hosts) == 1 else json.dumps(serving["hosts"])
    return f"{on_hosts}, site answers {serving['site']}"


def check(flow, name, report, expect):
    """Why the step did not do what its name says, or None.

    Every app host must serve `expect` afterwards and have changed something, but in the no-change
    deploy (whose changed=0 is a target, judged in the summary); with pyops the site must answer
    with `expect` only (no failed request, no other release). The baseline's site may still fail
    requests (nginx marked both upstreams down during its restart).
    """
    problems = []
    missing = [host for host in APPS if host not in report["changed"]]
    if missing:
        problems.append(f"no PLAY RECAP line for {missing}")
    if name != "no-change deploy":
        idle = [host for host in APPS if report["changed"].get(host) == 0]
        if idle:
            problems.append(f"changed=0 on {idle}: the step did nothing there")
    wrong = {host: release for host, release in report["settled"]["hosts"].items() if release != expect}
    if wrong:
        problems.append(f"app hosts serve {wrong} instead of {expect}")
    if flow == "pyops" and report["served"]["site"] != [expect]:
        problems.append(f"the site answers {report['served']['site']} instead of only {expect}")
    return "; ".join(problems) or None


def step(flow, name, expect, path, *args, load=True):
    label = f"{flow}-{name.replace(' ', '-').replace(',', '')}"
    report = {"load": None}
    if load:
        stop = f"/tmp/{label}.stop"
        proxy(
            f"cd {ON_PROXY} && rm -f {stop} && nohup python3 load.py {SITE} /healthz {stop} 900 {CLIENTS} {RATE}"
            f" > /tmp/{label}.json 2>&1 &"
        )
        time.sleep(1)  # the clients are sending before the playbook starts
    try:
        report["seconds"], report["changed"], output = playbook(label, path, *args)
        gate = re.search(r"^.*" + re.escape(GATE_TASK) + r" -+ ([0-9.]+)s$", output, re.M)
        report["gate_seconds"] = float(gate.group(1)) if gate else None
    finally:
        if load:
            proxy(f"touch {stop}", check=False)
    if load:
        proxy(f"for i in $(seq 60); do test -s /tmp/{label}.json && exit 0; sleep 0.5; done; exit 1")
        report["load"] = json.loads(proxy(f"cat /tmp/{label}.json").stdout)
    report["served"] = report["settled"] = served()
    # The baseline's gunicorn may still be starting: its hosts get 20 s to answer, not timed.
    for _ in range(20 if flow == "baseline" else 0):
        if all(release == expect for release in report["settled"]["hosts"].values()):
            break
        time.sleep(1)
        report["settled"] = served()
    load_text = "no load (nothing served before)" if not load else json.dumps(report["load"])
    log(f"  {flow:8} {name:20} {report['seconds']:6.1f} s  changed={report['changed']}")
    log(f"  {'':8} {'':20} now serves {describe(report['served'])}")
    log(f"  {'':8} {'':20} load: {load_text}")
    problem = check(flow, name, report, expect)
    if problem:
        fail(label, f"the {flow} {name} did not do what it says: {problem}", output)
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


def flow(name, deploy, rollback, extra_vars, v1, v2, more=(), back_to="v1"):
    """The steps with one flow's playbooks; extra_vars(source, release) gives their -e arguments.

    ``more`` adds deploys before the rollback: (label, source, release, extra -e pairs). The rollback
    must go back to ``back_to``, the release that served before the last deploy.
    """
    steps = [("first deploy", v1, "v1", []), ("code-only deploy", v2, "v2", []), ("no-change deploy", v2, "v2", [])]
    result = {}
    for label, source, release, extra in [*steps, *more]:
        args = [arg for pair in extra_vars(source, release) + extra for arg in ("-e", pair)]
        result[label] = step(name, label, release, deploy, *args, load=label != "first deploy")
    result["rollback"] = step(name, "rollback", back_to, rollback)
    return result


def osv_service():
    """Starts molecule/deploy/osv_server.py with no advisories; returns (its query URL, the process)."""
    (WORK / "advisories.json").write_text("[]\n")
    port = WORK / "osv.port"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "molecule" / "deploy" / "osv_server.py"), str(WORK / "advisories.json"), str(port)],
        stderr=(WORK / "osv.log").open("w"),
    )
    for _ in range(100):
        if port.exists():
            return f"http://127.0.0.1:{port.read_text()}/v1/query", server
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the OSV service of molecule/deploy/osv_server.py did not start")


def pyops_flow(v1, v2, v3, v4):
    def extra_vars(source, release):
        return [f"deploy_artifact_cache={WORK / 'artifacts'}", f"deploy_src_dir={source}", f"deploy_release={release}"]

    url, server = osv_service()
    more = [
        (CODE_ONLY_SHIPPED, v3, "v3", ["deploy_configure_server=false"]),
        (CODE_ONLY_GATED, v4, "v4", ["deploy_audit=true", f"deploy_audit_osv_url={url}"]),
    ]
    playbooks = ROOT / "playbooks"
    # v4 replaced v3, which served before it: a plain rollback goes back to v3.
    try:
        return flow("pyops", playbooks / "deploy.yml", playbooks / "rollback.yml", extra_vars, v1, v2, more, "v3")
    finally:
        server.terminate()
        server.wait(10)


def baseline_flow(v1, v2):
    archives = {v1: tarball(v1, "v1"), v2: tarball(v2, "v2")}

    def extra_vars(source, release):
        return [f"baseline_archive={archives[source]}", f"baseline_release={release}"]

    # baseline_rollback.yml goes to the release made before current: v1.
    return flow("baseline", HERE / "baseline_deploy.yml", HERE / "baseline_rollback.yml", extra_vars, v1, v2)


def cell(report):
    load = report["load"]
    if load is None:
        return f"{report['seconds']:7.1f} s | {'-':>6} | {'-':>13}"
    return f"{report['seconds']:7.1f} s | {load['failed']:6d} | {load['p50_ms']:5.0f}/{load['p99_ms']:<5.0f} ms"


def verdict(applies, met):
    """'met' / 'not met', or why the target does not apply to this run."""
    if applies is not True:
        return f"n/a: {applies}"
    return "met" if met else "not met"


def targets(pyops, baseline, sent, failed, apps, deps):
    """Issue 20's targets: (target, this run's figure, verdict) rows."""
    two = True if apps == 2 else f"this run has {apps} hosts (see the growth table)"
    sample_two = True if deps == "sample" and apps == 2 else f"this run: {deps} deps, {apps} hosts"
    code_only = pyops["code-only deploy"]["seconds"]
    no_change = pyops["no-change deploy"]
    changed = no_change["changed"]
    unchanged = bool(changed) and set(changed.values()) == {0}
    rollback = pyops["rollback"]["seconds"]
    ratio = baseline["code-only deploy"]["seconds"] / code_only
    changed_text = changes(changed) if changed else "no PLAY RECAP"
    return [
        ("code-only deploy <= 8 s (sample deps, 2 hosts)", f"{code_only:.1f} s", verdict(sample_two, code_only <= 8)),
        ("no-change deploy <= 3 s (2 hosts)", f"{no_change['seconds']:.1f} s", verdict(two, no_change["seconds"] <= 3)),
        ("no-change deploy reports changed=0", changed_text, verdict(True, unchanged)),
        ("rollback of 2 hosts <= 2 s wall", f"{rollback:.1f} s", verdict(two, rollback <= 2)),
        (
            ">= 10,000 requests under load, 0 failed",
            f"{sent:,} sent, {failed:,} failed",
            verdict(True, sent >= 10000 and failed == 0),
        ),
        (
            "code-only >= 3x faster than the baseline (wide deps)",
            f"{ratio:.1f}x",
            verdict(True if deps == "wide" else f"this run: {deps} deps", ratio >= 3),
        ),
    ]


def floor():
    """ansible-playbook's own cost on these hosts: seconds for 0, 1 and 10 module runs in sequence (median of 3)."""
    times = {}
    for count in (0, 1, 10):
        runs = []
        for _ in range(3):
            started = time.monotonic()
            run = subprocess.run(
                ["ansible-playbook", "-i", str(INVENTORY), str(HERE / "floor.yml"), "-e", f"floor_exchanges={count}"],
                capture_output=True,
                text=True,
            )
            runs.append(time.monotonic() - started)
            (WORK / f"floor-{count}.log").write_text(run.stdout + run.stderr)
            if run.returncode != 0:
                fail(f"floor-{count}", "the floor play failed", run.stdout, run.stderr)
        times[count] = round(sorted(runs)[1], 2)
    return times


def floor_lines(times):
    each = (times[10] - times[1]) / 9
    return [
        f"floor: ansible-playbook with no task {times[0]:.1f} s; one module run on every app host {times[1]:.1f} s;"
        f" each further run in sequence {each:.2f} s"
    ]


def summary(pyops, baseline, loads):
    sent = sum(r["load"]["sent"] for r in pyops.values() if r["load"])
    failed = sum(r["load"]["failed"] for r in pyops.values() if r["load"])
    ratio = baseline["code-only deploy"]["seconds"] / pyops["code-only deploy"]["seconds"]
    shipped_ratio = baseline["code-only deploy"]["seconds"] / pyops[CODE_ONLY_SHIPPED]["seconds"]
    per_host = pyops["rollback"]["seconds"] / len(APPS)
    rows = targets(pyops, baseline, sent, failed, len(APPS), DEPS)
    gated = pyops[CODE_ONLY_GATED]
    gate = gated["gate_seconds"]
    gate_text = "not in the playbook's task times" if gate is None else f"{gate:.1f} s"
    rows.append(
        (
            "dependency gate adds <= 2 s (issue 24)",
            f"gate task {gate_text}",
            verdict(True, gated["gate_seconds"] is not None and gated["gate_seconds"] <= 2),
        )
    )
    width = max(len(row[0]) for row in rows)
    figure_width = max(len(row[1]) for row in rows)
    lines = [
        f"{'step':20} | {'pyops time':>9} | {'failed':>6} | {'p50/p99':>13} "
        f"| {'baseline':>9} | {'failed':>6} | p50/p99",
        "-" * 100,
    ]
    for name in ROWS:
        other = cell(baseline[name]) if name in baseline else "(no baseline step)"
        lines.append(f"{name:20} | {cell(pyops[name])} | {other}")
    lines += [
        "",
        f"{'issue 20 target':{width}} | {'this run':{figure_width}} | verdict",
        "-" * 100,
        *(f"{target:{width}} | {figure:{figure_width}} | {result}" for target, figure, result in rows),
        "",
        f"code-only deploy, baseline/pyops: {ratio:.1f}x; with deploy_configure_server=false: {shipped_ratio:.1f}x",
        f"dependency gate: its task {gate_text} ({count_requirements()} pinned packages, local OSV service);"
        f" code-only deploy {gated['seconds']:.1f} s with it, {pyops['code-only deploy']['seconds']:.1f} s without",
        f"rollback: {pyops['rollback']['seconds']:.1f} s for {len(APPS)} hosts ({per_host:.1f} s per host);"
        f" baseline {baseline['rollback']['seconds']:.1f} s",
        f"no-change deploy: pyops {changes(pyops['no-change deploy']['changed'])},"
        f" baseline {changes(baseline['no-change deploy']['changed'])}",
        f"{len(APPS)} app hosts; dependency set: {DEPS} ({count_requirements()} packages)",
        f"load average at start / end: {loads[0]} / {loads[1]} on {os.cpu_count()} cores; {CLIENTS} load clients"
        f" at {RATE} requests/s between them ({'back to back' if float(RATE) == 0 else 'steady'})",
    ]
    return lines, {
        "sent": sent,
        "failed": failed,
        "code_only_ratio": round(ratio, 2),
        "code_only_no_server_ratio": round(shipped_ratio, 2),
        "rollback_seconds_per_host": round(per_host, 2),
        "no_change_changed_zero": rows[2][2] == "met",
        "targets": [{"target": target, "figure": figure, "verdict": result} for target, figure, result in rows],
    }


def growth(base, current):
    """How each step's time grows from the hosts of `base` (a result file's dict) to those of `current`."""
    few, many = base.get("apps", 2), current.get("apps", 2)
    lines = [
        f"growth from {few} to {many} app hosts, {current['deps']} deps"
        f" ({few}-host run of {base['date']}, {many}-host run of {current['date']}):",
        f"{'step':20} | {'pyops ' + str(few):>9} | {'pyops ' + str(many):>9} | {'ratio':>5} "
        f"| {'baseline ' + str(few):>11} | {'baseline ' + str(many):>11} | {'ratio':>5}",
        "-" * 100,
    ]

    def columns(flow, name, width):
        if name not in base[flow] or name not in current[flow]:
            return f"{'-':>{width}} | {'-':>{width}} | {'-':>5}"
        before, after = base[flow][name]["seconds"], current[flow][name]["seconds"]
        return f"{before:{width - 2}.1f} s | {after:{width - 2}.1f} s | {after / before:4.2f}x"

    lines += [f"{name:20} | {columns('pyops', name, 9)} | {columns('baseline', name, 11)}" for name in ROWS]
    rates = [f"{run['rate'] / run.get('apps', 2):g}" for run in (base, current)]
    lines.append(f"load per app host: {rates[0]} requests/s at {few} hosts, {rates[1]} at {many}")
    return lines


def compare(result, two_hosts):
    """The growth table from the 2-host run in two_hosts to this N-host run; nothing for a 2-host run."""
    if result["apps"] == 2:
        return []
    if not two_hosts.exists():
        return ["", f"no 2-host result of the {result['deps']} deps ({two_hosts.name}) to compare with"]
    return ["", *growth(json.loads(two_hosts.read_text()), result)]


def main():
    global WORK, INVENTORY
    if sys.argv[1:2] == ["--growth"] and len(sys.argv) == 4:
        few, many = (json.loads(Path(name).read_text()) for name in sys.argv[2:])
        log("\n".join(growth(few, many)))
        return
    if sys.argv[1:2] == ["--inventory"] and len(sys.argv) == 3:
        render_inventory(Path(sys.argv[2]), APPS)
        return
    if len(sys.argv) > 1:
        sys.exit(__doc__)
    WORK = Path(tempfile.mkdtemp(prefix="pyops-deploy-bench-"))
    INVENTORY = render_inventory(WORK / "inventory.yml", APPS)
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
    pyops = pyops_flow(v1, v2, variant("v3"), variant("v4"))
    playbook("wipe", HERE / "wipe.yml")
    baseline = baseline_flow(v1, v2)
    floor_times = floor()
    loads.append(loadavg())
    lines, totals = summary(pyops, baseline, loads)
    lines += floor_lines(floor_times)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "loadavg": loads,
        "apps": len(APPS),
        "clients": int(CLIENTS),
        "rate": float(RATE),
        "deps": DEPS,
        "pyops": pyops,
        "baseline": baseline,
        "totals": totals,
        "floor": floor_times,
    }
    lines += compare(result, result_path(DEPS, 2))
    log("\n" + "\n".join(lines))
    result["table"] = lines
    result_path(DEPS, len(APPS)).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
