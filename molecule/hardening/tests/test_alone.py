"""The role alone, as a new user first tries it: the README's minimal example, applied to each of the
scenario's hardened hosts (Debian 12 and 13) through an inventory that holds only that host and no
group (no proxies, no monitoring), twice; the second run changes nothing. molecule/alone runs the
other roles' examples on fresh hosts; this one runs here, where the hosts are hardened already.

The example's firewall and fail2ban settings differ from the scenario's: they are put back after
the test, so that the other tests find the host as converge left it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from probes import APP, PROXY, on
from scenario_hosts import connection_of

PROJECT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(PROJECT / "tools"))
import readme_examples  # noqa: E402

RESTORED = ("/etc/nftables.d/pyops_filter.nft", "/etc/fail2ban/jail.local")


def one_host_inventory(path, name):
    """An inventory with `name` alone and no group, reached the way the scenario's inventory reaches it."""
    connection = connection_of(name)
    path.write_text(yaml.safe_dump({"all": {"hosts": {name: connection}}}))
    return path


HOSTS = [PROXY, APP]  # Debian 12 and 13


@pytest.fixture
def as_converged():
    """Puts back, on both hosts, the files the example changes differently from converge, and reloads them."""
    hosts = {name: on(name) for name in HOSTS}
    for host in hosts.values():
        host.check_output(" && ".join(f"cp -a {path} {path}.pyops-test" for path in RESTORED))
    yield hosts
    for host in hosts.values():
        host.check_output(
            " && ".join(f"mv {path}.pyops-test {path}" for path in RESTORED)
            + " && systemctl restart pyops-firewall.service && systemctl reload fail2ban.service"
        )


def side_by_side(runs, env):
    """{name: (returncode, stdout, stderr)} of one ansible-playbook per host, run at the same time."""
    started = {
        name: subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for name, argv in runs.items()
    }
    outputs = {name: process.communicate() for name, process in started.items()}
    return {name: (started[name].returncode, *outputs[name]) for name in started}


def test_readme_minimal_example_alone_on_a_one_host_inventory_converges_then_changes_nothing(as_converged, tmp_path):
    example = readme_examples.example("hardening")
    playbook = tmp_path / "example.yml"
    playbook.write_text(example)
    runs = {}
    for name, host in as_converged.items():
        # The accounts it names exist already (the role never creates users): as on a new user's host.
        for play in yaml.safe_load(example):
            for role in play.get("roles", []):
                for user in role.get("vars", {}).get("hardening_accounts_admin_users", []):
                    host.check_output(f"id {user} || useradd --create-home --shell /bin/bash {user}")
        inventory = one_host_inventory(tmp_path / f"{name}.yml", name)
        runs[name] = ["ansible-playbook", "-i", str(inventory), str(playbook)]
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(PROJECT / "collections"),
        "ANSIBLE_FORCE_COLOR": "false",
        # JSON results: the message below is searched as it is, not as YAML folds and quotes it.
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    }

    # Each host alone in its own inventory, both hosts at once (one run's time, not two).
    for name, (returncode, stdout, stderr) in side_by_side(runs, env).items():
        assert returncode == 0, (name, stdout[-4000:] + stderr)
        # No monitoring group: its ports stay closed, and the run says so.
        assert "Group 'monitoring' has no hosts: monitoring ports" in stdout, name

    for name, (returncode, stdout, stderr) in side_by_side(runs, env).items():
        assert returncode == 0, (name, stdout[-4000:] + stderr)
        recap = re.search(rf"^{name}\s*:.*$", stdout, re.M).group(0)
        assert "changed=0" in recap and "failed=0" in recap, (name, stdout[-4000:])
