"""The example inventories (inventories/prod and inventories/staging) converge real hosts, twice.

For each inventory, side by side: a copy of it in a temporary directory whose hosts.yml only is
replaced (the same groups, one proxy, one app host, one monitoring host, Debian 12 and 13 mixed, as
podman containers of this test's own network), its group_vars untouched, the vault opened with
vault-password (the examples' password). The test supplies what an operator supplies outside
group_vars: the admin account `deploy` the inventories log in as (sudo, a key; made by
harness/ssh-via-podman, which Ansible reaches the hosts through), the certificates the inventories
name (a CA of the test: NRPE's files beside the inventory, prod's site certificate on its proxy), the
example host names in /etc/hosts, a PostgreSQL (and Redis where the app has a Celery worker) on the
app host under the names the app's settings give, Nagios Core on the monitoring host, and the code:
examples/django_app under the inventories' module names (shop/), in a git repository.
overrides.yml holds the few values that must differ here, each with its reason.

Then `site.yml` runs twice: the first run passes, the second reports changed=0 on every host; the app
answers through the proxy over HTTPS under each of the site's server names.

PYOPS_INV_KEEP=1 keeps the containers afterwards and reuses running ones, to iterate (the "first" run
is then not a fresh host's). Logs: build/example_inventories/<inventory>-<run>.log.
"""

import datetime
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "harness" / "molecule"))
import instances  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from sandbox_site import recap_changed  # noqa: E402

LOGS = ROOT / "build" / "example_inventories"
KEY = Path(os.environ.get("PYOPS_HARNESS_KEY", Path.home() / ".cache" / "pyops-deploy" / "ssh" / "id_ed25519"))
KEEP = bool(os.environ.get("PYOPS_INV_KEEP"))
RUN_TIMEOUT = 1800
# Per inventory: group -> (inventory host name, image); the containers are pyops-inv-<inventory>-<role>.
LAYOUT = {
    "prod": {
        "proxies": ("web1.example.org", "debian12"),
        "appservers": ("app1.example.org", "debian13"),
        "monitoring": ("mon1.example.org", "debian12"),
    },
    "staging": {
        "proxies": ("staging-web1.example.org", "debian13"),
        "appservers": ("staging-app1.example.org", "debian12"),
        "monitoring": ("staging-mon1.example.org", "debian13"),
    },
}
APT = "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends"
SHORT = {"proxies": "web", "appservers": "app", "monitoring": "mon"}
SSH_OPTIONS = (
    "-o ControlMaster=auto -o ControlPersist=120s -o ControlPath=/tmp/pyops-ssh-%C"
    " -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
)


def container(name, group):
    return f"pyops-inv-{name}-{SHORT[group]}"


def platforms(name):
    return [
        {
            "name": container(name, group),
            "hostname": host,
            "image": f"localhost/pyops-testhost:{image}",
            "pre_build_image": True,
            "systemd": "always",
            "command": "/sbin/init",
            "network": f"pyops-inv-{name}",
            # The hardening role loads an nftables firewall in the container's network namespace.
            "capabilities": ["NET_ADMIN"],
        }
        for group, (host, image) in LAYOUT[name].items()
    ]


def podman(*args, input_text=""):
    done = subprocess.run(["podman", *args], input=input_text, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"podman {' '.join(args)[:300]} failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def sh(name, group, script, input_text=""):
    """Runs a shell script as root in the inventory's container of that group (the operator's own setup)."""
    return podman("exec", "-i", container(name, group), "/bin/sh", "-euc", script, input_text=input_text)


def address(name, group):
    shown = podman("inspect", "--format", "{{json .NetworkSettings.Networks}}", container(name, group))
    return json.loads(shown)[f"pyops-inv-{name}"]["IPAddress"]


def group_vars(inventory, group, file):
    return yaml.safe_load((inventory / "group_vars" / group / file).read_text())


def vault_value(inventory, key):
    """A !vault value of the inventory's group_vars/all/vault.yml, decrypted with the test's password."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))
    values = yaml.load((inventory / "group_vars" / "all" / "vault.yml").read_text(), Loader=Loader)  # noqa: S506
    secret = VaultSecret((HERE / "vault-password").read_text().strip().encode())
    return VaultLib([("default", secret)]).decrypt(values[key]).decode()


# --- A CA of the test and certificates from it ------------------------------------------------------


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(subject_name, key, issuer=None, issuer_key=None, dns=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]), critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


def make_pki(directory, leaves):
    """directory/ca.pem and, for each name of leaves ({name: [DNS names]}), name.pem and name.key."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca = _certificate("pyops example inventories test CA", ca_key)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name, dns in leaves.items():
        key = _key()
        cert = _certificate(name, key, ca, ca_key, dns)
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(_pem_key(key))
        (directory / f"{name}.key").chmod(0o600)


# --- What the operator has before site.yml: inventory copy, hosts, code -------------------------------


def make_inventory(name, work):
    """work/<name>: a copy of inventories/<name> whose hosts.yml names the containers; .pki/ in it."""
    inventory = work / name
    shutil.copytree(ROOT / "inventories" / name, inventory)
    harness = f"env PYOPS_HARNESS_USER={group_vars(inventory, 'all', 'connection.yml')['ansible_user']}"
    hosts = {"all": {"children": {}}}
    for group, (host, _image) in LAYOUT[name].items():
        connection = {
            "ansible_ssh_private_key_file": str(KEY),
            # Through `podman exec` into the host's own sshd, as the Molecule scenarios: the examples'
            # firewall lets SSH in only from their bastion's and VPN's addresses.
            "ansible_ssh_common_args": f'-o ProxyCommand="{harness} {ROOT}/harness/ssh-via-podman'
            f' {container(name, group)}" {SSH_OPTIONS}',
        }
        hosts["all"]["children"][group] = {"hosts": {host: connection}}
    (inventory / "hosts.yml").write_text("---\n" + yaml.safe_dump(hosts, sort_keys=False))
    server_names = group_vars(inventory, "proxies", "proxy.yml")["reverse_proxy_sites"][0]["server_names"]
    leaves = {host: [host] for host, _image in LAYOUT[name].values()}
    leaves["check_nrpe"] = ["check_nrpe"]
    leaves["site"] = server_names
    make_pki(inventory / ".pki", leaves)
    return inventory


def prepare_hosts(name, inventory):
    """/etc/hosts, the database (and broker) on the app host, Nagios Core, the proxy's certificate."""
    ips = {group: address(name, group) for group in LAYOUT[name]}
    site = group_vars(inventory, "proxies", "proxy.yml")["reverse_proxy_sites"][0]
    app = group_vars(inventory, "appservers", "app.yml")
    names = [f"{ips[group]} {host}" for group, (host, _image) in LAYOUT[name].items()]
    names.append(f"{ips['proxies']} {' '.join(site['server_names'])}")
    database = re.match(
        r"postgres://(\w+):([^@]+)@([\w.-]+):\d+/(\w+)$", vault_value(inventory, "vault_shop_database_url")
    )
    assert database, "the test reads postgres://user:password@host:port/name from vault_shop_database_url"
    user, password, db_host, db_name = database.groups()
    broker = app["app_server_env"].get("CELERY_BROKER_URL", "")
    local = [db_host] + ([re.match(r"redis://([\w.-]+)", broker).group(1)] if broker else [])
    # Marked by a comment of their own: podman's line for the container already holds its name.
    mark = "# pyops example inventories test"
    add_hosts = f"grep -qF '{mark}' /etc/hosts || {{ echo '{mark}'; cat; }} >>/etc/hosts"

    def app_host():
        # A database and broker of the operator's, reached by the names the settings give; on the app
        # host's loopback, so that no firewall rule of the test's own is needed.
        lines = names + [f"127.0.0.1 {n}" for n in local]
        sh(name, "appservers", add_hosts, "\n".join(lines) + "\n")
        packages = "postgresql" + (" redis-server" if broker else "")
        sh(name, "appservers", f"{APT} {packages}")
        sh(
            name,
            "appservers",
            f"""cd /tmp
            su postgres -c "psql -tAc \\"SELECT 1 FROM pg_roles WHERE rolname = '{user}'\\"" | grep -q 1 ||
                su postgres -c "psql -c \\"CREATE ROLE {user} LOGIN PASSWORD '{password}'\\""
            su postgres -c "psql -tAc \\"SELECT 1 FROM pg_database WHERE datname = '{db_name}'\\"" | grep -q 1 ||
                su postgres -c "createdb -O {user} {db_name}"
            """,
        )

    def monitoring_host():
        sh(name, "monitoring", add_hosts, "\n".join(names) + "\n")
        # What a monitoring host has before pyops.deploy meets it (the monitoring play writes objects).
        sh(
            name,
            "monitoring",
            f"{APT} nagios4-core nagios-nrpe-plugin",
        )

    def proxy_host():
        sh(name, "proxies", add_hosts, "\n".join(names) + "\n")
        tls = site.get("tls", {})
        if tls.get("certificate"):
            pki = inventory / ".pki"
            pem = (pki / "site.pem").read_text() + (pki / "ca.pem").read_text()
            sh(name, "proxies", f"install -d -m 0755 $(dirname {tls['certificate']}) && cat >{tls['certificate']}", pem)
            key = (pki / "site.key").read_text()
            sh(name, "proxies", f"install -d -m 0700 $(dirname {tls['key']}) && umask 077 && cat >{tls['key']}", key)

    with ThreadPoolExecutor(3) as pool:
        for done in [pool.submit(app_host), pool.submit(monitoring_host), pool.submit(proxy_host)]:
            done.result()
    return ips


def make_git_repo(work):
    """The code the inventories' deploy_git_repo stands for: the Django sample as `shop`, branch main."""
    repo = work / "shop.git"
    shutil.copytree(
        ROOT / "examples" / "django_app", repo, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3", "staticfiles")
    )
    shutil.copytree(HERE / "shop" / "shop", repo / "shop", ignore=shutil.ignore_patterns("__pycache__"))
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "shop"], check=True)
    return repo


def osv_service(work):
    """molecule/deploy/osv_server.py without advisories; its query URL."""
    (work / "advisories.json").write_text("[]")
    log = open(work / "osv.log", "w")  # noqa: SIM115 - open while the server runs
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "molecule" / "deploy" / "osv_server.py"),
            str(work / "advisories.json"),
            str(work / "osv.port"),
        ],
        stderr=log,
    )
    deadline = time.monotonic() + 30
    while not (work / "osv.port").exists():
        assert time.monotonic() < deadline, "the OSV stand-in did not start"
        time.sleep(0.2)
    return server, f"http://127.0.0.1:{(work / 'osv.port').read_text()}/v1/query"


def run_site(inventory, name, number, env):
    log = LOGS / f"{name}-{number}.log"
    start = time.monotonic()
    argv = ["ansible-playbook", "-i", str(inventory), str(ROOT / "site.yml")]
    argv += ["--vault-password-file", str(HERE / "vault-password"), "-e", f"@{HERE / 'overrides.yml'}"]
    with log.open("w") as out:
        rc = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=RUN_TIMEOUT, check=False
        ).returncode
    text = log.read_text()
    return {"rc": rc, "seconds": round(time.monotonic() - start), "changed": recap_changed(text), "log": str(log)}


def converge(name, work, env, lock):
    """One inventory: hosts up and prepared, then site.yml twice."""
    started = time.monotonic()
    with lock:  # podman network creation is not safe side by side
        instances.create(platforms(name))
    inventory = make_inventory(name, work)
    ips = prepare_hosts(name, inventory)
    result = {"inventory": inventory, "ips": ips, "prepared": round(time.monotonic() - started)}
    result["first"] = run_site(inventory, name, 1, env)
    result["second"] = run_site(inventory, name, 2, env) if result["first"]["rc"] == 0 else None
    result["seconds"] = round(time.monotonic() - started)
    print(f"{name}: prepared in {result['prepared']} s, {json.dumps({k: result[k] for k in ('first', 'second')})}")
    return result


@pytest.fixture(scope="session")
def converged(tmp_path_factory):
    """{inventory name: result} after both inventories converged twice, side by side."""
    work = tmp_path_factory.mktemp("inventories")
    LOGS.mkdir(parents=True, exist_ok=True)
    server, osv_url = osv_service(work)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
        ANSIBLE_NOCOLOR="true",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        PYOPS_INV_GIT_REPO=str(make_git_repo(work)),
        PYOPS_INV_OSV_URL=osv_url,
        PYOPS_INV_WORK=str(work),
    )
    lock = threading.Lock()
    try:
        with ThreadPoolExecutor(len(LAYOUT)) as pool:
            futures = {name: pool.submit(converge, name, work, env, lock) for name in LAYOUT}
            yield {name: future.result() for name, future in futures.items()}
    finally:
        server.terminate()
        server.wait(10)
        if not KEEP:
            for name in LAYOUT:
                instances.destroy(platforms(name))


def tail(run):
    return "\n".join(Path(run["log"]).read_text().splitlines()[-60:])


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_the_first_run_passes(converged, name):
    first = converged[name]["first"]
    assert first["rc"] == 0, f"{name}: site.yml failed ({first['log']}):\n{tail(first)}"
    assert set(first["changed"]) >= {host for host, _image in LAYOUT[name].values()}


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_the_second_run_changes_nothing(converged, name):
    second = converged[name]["second"]
    assert second, f"{name}: no second run (the first failed)"
    assert second["rc"] == 0, f"{name}: the second site.yml failed ({second['log']}):\n{tail(second)}"
    changed = {host: n for host, n in second["changed"].items() if n}
    assert not changed, f"{name}: the second run changed {changed} ({second['log']})"


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_the_app_answers_through_the_proxy(converged, name):
    """Each server name of the site, over HTTPS from the controller to the proxy's address: the
    certificate verified against the test's CA (prod), or taken as it is (staging's self-signed)."""
    result = converged[name]
    inventory, proxy = result["inventory"], result["ips"]["proxies"]
    ipaddress.ip_address(proxy)
    site = group_vars(inventory, "proxies", "proxy.yml")["reverse_proxy_sites"][0]
    trust = ["--cacert", str(inventory / ".pki" / "ca.pem")] if site.get("tls") else ["--insecure"]
    for server_name in site["server_names"]:
        reply = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "--resolve", f"{server_name}:443:{proxy}", *trust]
            + ["-w", "\n%{http_code}", f"https://{server_name}/healthz"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert reply.returncode == 0, f"{name}: {server_name}: {reply.stderr}"
        body, _newline, status = reply.stdout.rpartition("\n")
        assert status == "200", f"{name}: https://{server_name}/healthz answered {status}: {body[:500]}"
        assert json.loads(body)["status"] == "ok", body


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_a_journal_line_of_the_app_host_reaches_the_collector(converged, name):
    """Log shipping works as the inventory configures it: TLS to the monitoring host, through its firewall."""
    assert converged[name]["second"], f"{name}: not converged"
    token = f"inventories-test-{name}-{time.time_ns()}"
    sh(name, "appservers", f"logger -t pyops-inventories-test {token}")
    deadline = time.monotonic() + 60
    while not sh(name, "monitoring", f"grep -l {token} /var/log/pyops/*.json || true").strip():
        assert time.monotonic() < deadline, f"{name}: {token} logged on the app host never reached the collector"
        time.sleep(2)


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_the_proxy_has_every_directory_its_site_serves_files_from(converged, name):
    """A static or media location whose directory exists only on the app hosts answers 404 for every file."""
    assert converged[name]["second"], f"{name}: not converged"
    site = group_vars(converged[name]["inventory"], "proxies", "proxy.yml")["reverse_proxy_sites"][0]
    for kind in ("static", "media"):
        for location in site.get(kind, []):
            shown = sh(name, "proxies", f"test -d {location['path']} && echo yes || echo no").strip()
            assert shown == "yes", f"{name}: the proxy serves {location['url']} from {location['path']}, not on it"


# check_nrpe as the Nagios objects run it (nagios_agent's fleet.cfg.j2), with the client certificate.
CHECK_NRPE = (
    "/usr/lib/nagios/plugins/check_nrpe -A /etc/nagios4/pyops/ca.pem -d 0"
    " -L 'ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL' -C /etc/nagios4/pyops/client.pem -K /etc/nagios4/pyops/client.key"
)


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_the_monitoring_hosts_health_checks_pass(converged, name):
    """Each health check the inventory gives its agents (nagios_agent_apps), asked by the monitoring host."""
    assert converged[name]["second"], f"{name}: not converged"
    inventory, checked = converged[name]["inventory"], 0
    for group in ("appservers", "proxies"):
        host = LAYOUT[name][group][0]
        file = "app.yml" if group == "appservers" else "proxy.yml"
        for app in group_vars(inventory, group, file).get("nagios_agent_apps", []):
            if not app.get("health_url"):
                continue
            command = "check_" + re.sub(r"[^A-Za-z0-9_]", "_", app["name"]) + "_health"
            said = sh(name, "monitoring", f"{CHECK_NRPE} -H {host} -c {command} && echo rc=0 || echo rc=$?")
            assert said.strip().endswith("rc=0"), f"{name}: {command} on {host} ({app['health_url']}): {said}"
            checked += 1
    assert checked, f"{name}: no health check in the inventory"
