"""Every runnable block of the runbooks (docs/runbooks/*.md, fenced ```console runnable), run against the sandbox.

The blocks run in the order of tools/runbook_blocks.py (README.md's first look, then the runbooks by
name), on the sandbox the lifecycle tests left: it serves a good release, holds no lock, drains no
host, which is what docs/runbooks/README.md promises each block before it and asks each block to leave.

Each `$ ` line runs as written, by bash, from the operator's project (the e2e's AWX-style project: the
collection installed from its tarball, `site.yml` importing pyops.deploy.site), mapped the same way
for every command onto what the e2e uses:
- `-i inventories/sandbox` becomes `-i <the e2e's copy of inventories/sandbox>`;
- `ansible-playbook` gets `-e deploy_src_dir=<the project's copy of the sample>` ahead of the
  runbook's own arguments, as every other e2e run does (the inventory's default names the sample
  relative to the checkout, which the project is not).
Every command must exit 0; then what the runbook says the operator sees is checked, in the output
(the status table) and from outside (the proxy's port, the hosts' files).
"""

import importlib.util
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from sandbox_site import APPS, PROXY, ROOT, podman_host, recap_changed, run_documented, served

_spec = importlib.util.spec_from_file_location("runbook_blocks", ROOT / "tools" / "runbook_blocks.py")
runbook_blocks = importlib.util.module_from_spec(_spec)
sys.modules["runbook_blocks"] = runbook_blocks  # dataclasses look their module up
_spec.loader.exec_module(runbook_blocks)

pytestmark = pytest.mark.usefixtures("sandbox")
BLOCKS = runbook_blocks.collect(ROOT)
# Blocks with the same commands (the status table in several runbooks) run once, each in the
# sandbox's settled state: [(blocks, commands)], in the order of their first block.
RUNS = {}
for _block in BLOCKS:
    RUNS.setdefault(_block.commands, []).append(_block)
RUNS = [(blocks, commands) for commands, blocks in RUNS.items()]
APP_ROOT = "/srv/sample"
STATUS_COLUMNS = ["host", "current", "status", "running", "rollback_to", "releases", "not_serving", "lock", "drained"]
STATUS_COLUMNS += ["service", "since"]


def as_in_the_e2e(command, awx_project):
    mapped = command.replace(runbook_blocks.SANDBOX, f"-i {shlex.quote(str(awx_project['data'] / 'inventory'))}")
    if command.startswith("ansible-playbook "):
        source = shlex.quote(f"deploy_src_dir={awx_project['project'] / 'app'}")
        mapped = mapped.replace("ansible-playbook ", f"ansible-playbook -e {source} ", 1)
    return mapped


def releases_json(app):
    return json.loads(podman_host(app).file(f"{APP_ROOT}/.releases.json").content_string)


def settled():
    """The state every block starts from and leaves (docs/runbooks/README.md), seen from outside:
    one good release served by both app hosts through the proxy (none drained), no deploy lock."""
    releases, hosts = served()
    assert hosts == set(APPS), f"answered by {hosts} only"
    assert len(releases) == 1, f"serving {releases}"
    (release,) = releases
    for app in APPS:
        host = podman_host(app)
        assert not host.file(f"{APP_ROOT}/.deploy.lock").exists, app
        assert Path(host.file(f"{APP_ROOT}/current").linked_to).name == release, app
        assert releases_json(app)["releases"][release]["status"] == "good", app
    return release


def status_rows(output):
    """{host: {column: cell}} of the table pyops.deploy.status prints ('-' for an empty cell)."""
    lines = [json.loads(m[1]) for m in re.finditer(r'^\s*("(?:[^"\\]|\\.)*"),?\s*$', output, re.MULTILINE)]
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["host", "current"])
    offsets, position = [], 0
    for column in STATUS_COLUMNS:
        position = lines[header].index(column, position)
        offsets.append(position)
    rows = {}
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        cells = [line[start:end].strip() for start, end in zip(offsets, [*offsets[1:], None])]
        rows[cells[0]] = dict(zip(STATUS_COLUMNS, cells))
    return rows


def check_status(run, release):
    """What every runbook says `status` shows once it is done: each app server on the release served,
    good and running it, no lock, not drained, its service running."""
    rows = status_rows(run.stdout)
    assert set(rows) == set(APPS), rows
    for row in rows.values():
        assert row["current"] == row["running"] == release, row
        assert row["status"] == "good", row
        assert row["lock"] == row["drained"] == "-", row
        assert row["service"].startswith("active/running"), row
    return rows


def new_releases(before):
    """Per app host, the releases recorded now and not before the block."""
    return {app: sorted(set(releases_json(app)["releases"]) - set(before[app]["releases"])) for app in APPS}


def the_new_release(before):
    """The one release the block's deploy added (named rb-<time> by the runbook), the same on every host."""
    added = new_releases(before)
    assert len({tuple(ids) for ids in added.values()}) == 1, added
    ids = added[APPS[0]]
    assert len(ids) == 1 and ids[0].startswith("rb-"), added
    return ids[0]


# What each runbook says the operator sees after its blocks: (runs, release served before, records
# before) -> release that must be served after. Each block then must leave the sandbox settled().
def reads_only(runs, served_before, _records):
    for run in runs:
        if "pyops.deploy.status" in run.args[-1]:
            check_status(run, served_before)
    return served_before


def certificate_expiry(runs, served_before, _records):
    if runs[0].args[-1].split()[0] == "ansible":
        assert f"{PROXY} | CHANGED | rc=0 >>" in runs[0].stdout, runs[0].stdout[-2000:]
        assert "Certificate '" in runs[0].stdout and "expire" in runs[0].stdout, runs[0].stdout[-2000:]
    else:  # "the proxy playbook runs again with nothing to change"
        assert set(recap_changed(runs[0].stdout).values()) == {0}, runs[0].stdout[-3000:]
    return served_before


def deploy(runs, served_before, records):
    release = the_new_release(records)
    rows = check_status(runs[-1], release)
    assert {row["rollback_to"] for row in rows.values()} == {served_before}, rows
    return release


def disk_full(runs, _served_before, records):
    release = the_new_release(records)
    rows = check_status(runs[-1], release)
    for app, row in rows.items():
        on_disk = podman_host(app).check_output(f"find {APP_ROOT}/releases -mindepth 1 -maxdepth 1 -type d | wc -l")
        assert int(row["releases"]) <= 2 and int(on_disk) <= 2, (row, on_disk)
    return release


def rollback(runs, served_before, records):
    _deploy, first, second, status = runs
    left = the_new_release(records)
    assert all(recap_changed(first.stdout)[app] > 0 for app in APPS), first.stdout[-3000:]
    assert "repeating the rollback does nothing" in second.stdout, second.stdout[-3000:]
    assert {app: recap_changed(second.stdout)[app] for app in APPS} == dict.fromkeys(APPS, 0), second.stdout[-3000:]
    check_status(status, served_before)
    for app in APPS:
        assert releases_json(app)["releases"][left]["status"] == "failed", app
    return served_before


def stuck_lock(runs, _served_before, records):
    release = the_new_release(records)
    check_status(runs[-1], release)
    return release


EXPECTED = {
    "README.md": reads_only,
    "certificate_expiry.md": certificate_expiry,
    "deploy.md": deploy,
    "disk_full.md": disk_full,
    "failed_deploy.md": reads_only,
    "host_out_of_upstream.md": reads_only,
    "rollback.md": rollback,
    "stuck_lock.md": stuck_lock,
}


def test_every_runbook_with_runnable_blocks_says_what_to_check():
    assert {block.path.name for block in BLOCKS} == set(EXPECTED)


@pytest.mark.parametrize(("blocks", "commands"), RUNS, ids=["+".join(b.name for b in run[0]) for run in RUNS])
def test_runnable_block(blocks, commands, awx_project):
    served_before = settled()
    records = {app: releases_json(app) for app in APPS}
    runs = []
    for command in commands:
        run = run_documented(as_in_the_e2e(command, awx_project), awx_project)
        assert run.returncode == 0, f"$ {command}\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
        runs.append(run)
    (release,) = {EXPECTED[block.path.name](runs, served_before, records) for block in blocks}
    assert settled() == release
