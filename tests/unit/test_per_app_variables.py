"""The hardening and reverse_proxy defaults merge each app's own variable (docs/app_server.md): the
ports of every hardening_firewall_app_ports_<app> (8000 when there is none) and the sites of every
reverse_proxy_sites_<app>, templated by ansible-playbook as the roles' defaults are in a play."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_vars: {root}/roles/hardening/defaults/main.yml
    - ansible.builtin.include_vars: {root}/roles/reverse_proxy/defaults/main.yml
    - ansible.builtin.debug:
        msg:
          ports: "{{{{ hardening_firewall_app_ports }}}}"
          sites: "{{{{ reverse_proxy_sites | map(attribute='name') }}}}"
"""


def merged(tmp_path, extra):
    play = tmp_path / "play.yml"
    play.write_text(PLAY.format(root=ROOT))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="false")
    env.pop("ANSIBLE_CONFIG", None)
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local", str(play)]
    run = subprocess.run(
        [*argv, "-e", json.dumps(extra)], capture_output=True, text=True, env=env, cwd=tmp_path, check=False
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(run.stdout)["plays"][0]["tasks"][-1]["hosts"]["localhost"]["msg"]
    return result["ports"], result["sites"]


@pytest.mark.parametrize(
    ("extra", "ports", "sites"),
    [
        ({}, [8000], []),
        (
            {
                "hardening_firewall_app_ports_shop": [8000],
                "hardening_firewall_app_ports_blog": [8001, "8000"],
                "reverse_proxy_sites_shop": [{"name": "shop"}],
                "reverse_proxy_sites_blog": [{"name": "blog"}],
            },
            [8000, 8001],
            ["blog", "shop"],
        ),
        # The variable itself takes the place of the merged list, as before.
        (
            {"hardening_firewall_app_ports": [9000], "hardening_firewall_app_ports_blog": [8001]},
            [9000],
            [],
        ),
    ],
)
def test_each_apps_ports_and_sites_are_merged(tmp_path, extra, ports, sites):
    assert merged(tmp_path, extra) == (ports, sites)
