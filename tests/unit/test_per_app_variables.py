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


# The deploy's static files go where each proxy serves its site's /static/: the deploy finds the site as the
# reverse_proxy role does, in reverse_proxy_sites when the inventory sets it, else in the per-app lists.
INVENTORY = """
proxies:
  hosts:
    per-app: {reverse_proxy_sites_shop: [{name: shop, static: [{url: /static/, path: /srv/shop/static}]}],
              reverse_proxy_sites_blog: [{name: blog, static: [{url: /static/, path: /srv/blog/static}]}]}
    whole: {reverse_proxy_sites: [{name: shop, static: [{url: /static/, path: /srv/www}]}],
            reverse_proxy_sites_shop: [{name: shop, static: [{url: /static/, path: /srv/not-read}]}]}
    none: {}
"""
TARGETS = """
- hosts: localhost
  gather_facts: false
  vars: {{deploy_proxy_group: proxies, deploy_proxy_site: shop, deploy_static_proxy_path: ""}}
  tasks:
    - ansible.builtin.include_vars: {root}/roles/deploy/vars/main.yml
    - ansible.builtin.debug: {{msg: "{{{{ __deploy_static_targets }}}}"}}
"""


def test_the_deploy_finds_the_static_path_in_the_proxies_per_app_site_lists(tmp_path):
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    (tmp_path / "play.yml").write_text(TARGETS.format(root=ROOT))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="false")
    env.pop("ANSIBLE_CONFIG", None)
    playbook = str(Path(sys.executable).with_name("ansible-playbook"))
    argv = [playbook, "-i", "inventory.yml", "-i", "localhost,", "-c", "local", "play.yml"]
    run = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    targets = json.loads(run.stdout)["plays"][0]["tasks"][-1]["hosts"]["localhost"]["msg"]
    assert {t["proxy"]: t["path"] for t in targets} == {"per-app": "/srv/shop/static", "whole": "/srv/www", "none": ""}
