"""The cloud example inventories (inventories/cloud) put instances in the playbooks' groups by their tags.

The AWS one runs for real: amazon.aws.aws_ec2 queries moto's EC2 server on a loopback port (moto_server,
requirements/dev.txt), with instances made through boto3, from a copy of inventories/prod whose hosts.yml
is replaced by the example file, unchanged, as inventories/cloud/README.md tells operators to do. Its
endpoint comes from the plugin's documented AWS_URL variable, so the file under test is the shipped one.
The Azure and GCP files cannot be run without an account: only their shape is checked here.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml

# Beside this file (pytest puts its directory on sys.path): the variables every role documents.
from test_examples import role_variables

ROOT = Path(__file__).resolve().parents[2]
CLOUD = ROOT / "inventories" / "cloud"
AWS_FILE = CLOUD / "pyops.aws_ec2.yml"
PLAY_GROUPS = {"proxies", "appservers", "monitoring"}
EXAMPLE_VAULT_PASSWORD = "pyops-example"
REGION = "eu-west-1"
# Read from an app server's hostvars by the reverse_proxy role (documented in its `upstream` option).
HOSTVARS_READ_BY_ROLES = {"reverse_proxy_upstream_address"}


def free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    """moto_server on a free loopback port, stopped after the module's tests."""
    port = free_loopback_port()
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    server = Path(sys.executable).with_name("moto_server")
    # Without its catalogue of public AMIs (seconds to load); run_instances takes any image id then.
    env = dict(os.environ, MOTO_EC2_LOAD_DEFAULT_AMIS="false")
    with log.open("w") as out:
        argv = [str(server), "-H", "127.0.0.1", "-p", str(port)]
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, f"moto_server exited: {log.read_text()}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"moto_server did not listen on {url}: {log.read_text()}"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def aws_env(moto_endpoint, tmp_path_factory):
    """The environment of boto3 and of ansible-inventory: moto's endpoint, fake keys, no user AWS config."""
    home = tmp_path_factory.mktemp("aws-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=str(home / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_URL=moto_endpoint,
        # A source that fails to load is otherwise a warning and an empty inventory.
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true",
    )
    return env


def ec2(env, region=REGION):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=env["AWS_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def launch(client, tags):
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    run = client.run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.small", TagSpecifications=spec
    )
    return run["Instances"][0]


@pytest.fixture(scope="module")
def fleet(aws_env):
    """Instances by name: the prod fleet, and the ones the example must leave out of every group."""
    client = ec2(aws_env)
    prod = {"pyops_env": "prod"}
    made = {
        "web1.example.org": launch(client, {**prod, "Name": "web1.example.org", "pyops_role": "proxy"}),
        "app1.example.org": launch(client, {**prod, "Name": "app1.example.org", "pyops_role": "appserver"}),
        "app2.example.org": launch(client, {**prod, "Name": "app2.example.org", "pyops_role": "appserver"}),
        "mon1.example.org": launch(client, {**prod, "Name": "mon1.example.org", "pyops_role": "monitoring"}),
        # In the environment, without a role or with another one: listed, in none of the groups.
        "bastion.example.org": launch(client, {**prod, "Name": "bastion.example.org"}),
        "db1.example.org": launch(client, {**prod, "Name": "db1.example.org", "pyops_role": "database"}),
        # Not listed at all: no tags, another environment, stopped, another region.
        "untagged": launch(client, {}),
        "app1.staging.example.org": launch(
            client, {"pyops_env": "staging", "Name": "app1.staging.example.org", "pyops_role": "appserver"}
        ),
        "app9.example.org": launch(client, {**prod, "Name": "app9.example.org", "pyops_role": "appserver"}),
        "app1.us.example.org": launch(
            ec2(aws_env, "us-east-1"), {**prod, "Name": "app1.us.example.org", "pyops_role": "appserver"}
        ),
    }
    client.stop_instances(InstanceIds=[made["app9.example.org"]["InstanceId"]])
    return made


@pytest.fixture(scope="module")
def aws_inventory_argv(fleet, tmp_path_factory):
    """ansible-inventory on a copy of inventories/prod whose hosts.yml is the AWS example."""
    work = tmp_path_factory.mktemp("aws-inventory")
    inventory = work / "prod-aws"
    shutil.copytree(ROOT / "inventories" / "prod", inventory)
    (inventory / "hosts.yml").unlink()
    shutil.copy(AWS_FILE, inventory / AWS_FILE.name)
    password = work / "vault-password"
    password.write_text(EXAMPLE_VAULT_PASSWORD)
    return ["ansible-inventory", "-i", str(inventory), "--vault-password-file", str(password)]


def run_inventory(argv, env):
    run = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def aws_inventory(aws_inventory_argv, aws_env):
    return json.loads(run_inventory([*aws_inventory_argv, "--list"], aws_env))


def graph_groups(graph):
    """{group: hosts directly under it} from `ansible-inventory --graph` (`@group:` lines, `|--host` below)."""
    groups, stack = {}, []
    for line in graph.splitlines():
        depth = line.count("|  ") + (1 if "|--" in line else 0)
        name = line.split("|--")[-1].strip()
        del stack[depth:]
        if name.startswith("@"):
            groups[name[1:].rstrip(":")] = set()
            stack.append(name[1:].rstrip(":"))
        elif stack:
            groups[stack[-1]].add(name)
    return groups


def plain(value):
    """A value as --list prints it: the plugin's strings come marked unsafe, {"__ansible_unsafe": ...}."""
    return value["__ansible_unsafe"] if isinstance(value, dict) and set(value) == {"__ansible_unsafe"} else value


def members(listed, group):
    return set(listed.get(group, {}).get("hosts", []))


def test_aws_tags_make_the_play_groups(aws_inventory):
    assert members(aws_inventory, "proxies") == {"web1.example.org"}
    assert members(aws_inventory, "appservers") == {"app1.example.org", "app2.example.org"}
    assert members(aws_inventory, "monitoring") == {"mon1.example.org"}


def test_aws_graph_shows_the_play_groups(aws_inventory_argv, aws_env):
    """What an operator checks first: `ansible-inventory --graph`."""
    groups = graph_groups(run_inventory([*aws_inventory_argv, "--graph"], aws_env))
    assert groups["proxies"] == {"web1.example.org"}
    assert groups["appservers"] == {"app1.example.org", "app2.example.org"}
    assert groups["monitoring"] == {"mon1.example.org"}
    # Listed (under the plugin's own group, aws_ec2), in none of the play groups.
    assert {"bastion.example.org", "db1.example.org"} <= set().union(*groups.values())


def test_aws_instances_without_a_pyops_role_are_in_no_play_group(aws_inventory):
    listed = set(aws_inventory["_meta"]["hostvars"])
    assert {"bastion.example.org", "db1.example.org"} <= listed
    for group in PLAY_GROUPS:
        assert not members(aws_inventory, group) & {"bastion.example.org", "db1.example.org"}, group


def test_aws_other_environments_stopped_and_other_regions_are_left_out(aws_inventory, fleet):
    listed = set(aws_inventory["_meta"]["hostvars"])
    left_out = {"app1.staging.example.org", "app9.example.org", "app1.us.example.org"}
    assert not listed & left_out
    ids = {fleet[name]["InstanceId"] for name in (*left_out, "untagged")}
    assert not listed & ids


def test_aws_hosts_are_reached_on_their_private_address(aws_inventory, fleet):
    for name in ("web1.example.org", "app1.example.org", "app2.example.org", "mon1.example.org"):
        hostvars = aws_inventory["_meta"]["hostvars"][name]
        private = fleet[name]["PrivateIpAddress"]
        assert plain(hostvars["ansible_host"]) == private
        assert plain(hostvars["reverse_proxy_upstream_address"]) == private


def test_aws_hosts_get_the_inventory_group_vars(aws_inventory):
    """The group_vars beside the plugin file apply to the groups it makes, vault values included."""
    hostvars = aws_inventory["_meta"]["hostvars"]
    assert hostvars["app1.example.org"]["app_server_module"] == "shop.wsgi:application"
    assert hostvars["web1.example.org"]["reverse_proxy_sites"][0]["upstream"]["group"] == "appservers"
    assert hostvars["mon1.example.org"]["ansible_user"] == "deploy"
    assert "app_server_module" not in hostvars["db1.example.org"]


# Each plugin's names for the constructed groups and the composed variables.
CLOUD_FILES = {
    "pyops.aws_ec2.yml": ("amazon.aws.aws_ec2", "groups", "compose"),
    "pyops.azure_rm.yml": ("azure.azcollection.azure_rm", "conditional_groups", "hostvar_expressions"),
    "pyops.gcp_compute.yml": ("google.cloud.gcp_compute", "groups", "compose"),
}


@pytest.mark.parametrize("name", sorted(CLOUD_FILES))
def test_cloud_file_makes_exactly_the_play_groups(name):
    plugin, groups_key, compose_key = CLOUD_FILES[name]
    config = yaml.safe_load((CLOUD / name).read_text())
    assert config["plugin"] == plugin
    assert set(config[groups_key]) == PLAY_GROUPS
    assert not config.get("keyed_groups"), "keyed groups would add groups named after any tag value"
    known = role_variables() | HOSTVARS_READ_BY_ROLES
    composed = set(config[compose_key])
    assert {"ansible_host", "reverse_proxy_upstream_address"} <= composed
    assert not {v for v in composed if not v.startswith("ansible_") and v not in known}
