"""Secrets planted in the e2e's copy of the sandbox inventory, and the places an attacker looks for them
(issue 21 item 1): the site run under ansible-runner at -vvv --diff must show none of them anywhere.

plant() writes, into the copied inventory's group_vars (so that every later run of the e2e reads the
same values): a certificate and key for the proxy's site (tls.key_content), NRPE's agent key and
check_nrpe's client key (nagios_agent_tls_*_src, nagios_agent_server_tls_*_src, from a CA made here),
a Zabbix PSK, a secret in the app's environment file, a vault-encrypted value (inline `!vault`, also
in that environment), an index URL with a token (virtualenv_index_url), and the API key of the app's
OpenTelemetry exporter (app_server_otel_headers, sent to the e2e's collector: conftest.py). Each is a
random value of this run; a PEM key is looked for whole and by the first line of its base64 body, which holds the
private scalar of a SEC1 EC key (what a JSON-escaped or re-wrapped copy of the key still contains).

Sampler watches the processes while the run goes: on every sandbox host the command lines (and the
index URLs in their environments: the token must arrive there, and only there), and on the controller
the command lines of the run's own processes.
"""

import datetime
import ipaddress
import json
import secrets
import shlex
import subprocess
import threading
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sandbox_site import APPS, MONITOR, OTLP_HEADER, PROXY

HOSTS = (PROXY, *APPS, MONITOR)
# The pattern AWX answers a vault credential's password to (ansible-playbook --ask-vault-pass).
VAULT_PROMPT = r"Vault password:\s*?$"
ENV_SECRET, ENV_VAULTED = "PYOPS_E2E_SECRET", "PYOPS_E2E_VAULTED"
SAMPLER_STOP = "/run/pyops-e2e-sampler.stop"
# Every 0.5 s, the arguments of every process (one a line, each printed once), and any *INDEX_URL=
# in a process's environment; bounded to 2 hours, stopped by the stop file.
HOST_SAMPLER = rf"""
rm -f {SAMPLER_STOP}
i=0
while [ ! -e {SAMPLER_STOP} ] && [ $i -lt 14400 ]; do
  cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\000' '\n' | sed 's/^/A /'
  cat /proc/[0-9]*/environ 2>/dev/null | tr '\000' '\n' | grep '^[A-Z_]*INDEX_URL=' | sed 's/^/E /'
  i=$((i + 1))
  sleep 0.5
done | awk '!seen[$0]++ {{ print; fflush() }}'
rm -f {SAMPLER_STOP}
"""


def random_marker(kind):
    return f"pyops-e2e-{kind}-{secrets.token_hex(16)}"


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def _certificate(name, key, issuer=None, ca=False, dns=(), ips=()):
    """A certificate for `key`, signed by issuer (certificate, key), or self-signed; 90 days."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = dict.fromkeys(
            ["content_commitment", "key_encipherment", "data_encipherment", "key_agreement"]
            + ["encipher_only", "decipher_only"],
            False,
        )
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage), critical=True
        )
    names = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def first_body_line(pem):
    return next(line for line in pem.splitlines() if line and not line.startswith("-----"))


def key_markers(pem):
    """What shows a PEM key: the whole of it, and the first line of its body (for a SEC1 EC key,
    its 7-byte header and the whole 32-byte private scalar)."""
    assert pem.startswith("-----BEGIN EC PRIVATE KEY-----"), "the first line holds the secret of SEC1 EC keys only"
    return [pem.strip(), first_body_line(pem)]


def _pair(pki, name, key, certificate):
    (pki / f"{name}.key").write_text(_pem_key(key))
    (pki / f"{name}.key").chmod(0o600)
    (pki / f"{name}.pem").write_text(certificate.public_bytes(serialization.Encoding.PEM).decode())
    return pki / f"{name}.pem", pki / f"{name}.key"


def _vault_encrypted(value, password_file):
    """`ansible-vault encrypt_string`'s YAML for the value (read from stdin: never on a command line)."""
    out = subprocess.run(
        ["ansible-vault", "encrypt_string", "--vault-password-file", str(password_file), "--stdin-name", "x"],
        input=value,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split(":", 1)[1].strip()  # "!vault |\n          $ANSIBLE_VAULT;1.1;AES256\n ..."


def plant(data):
    """Plant every secret in the runner's private data dir `data` (its inventory/ is the sandbox's copy).

    Returns {"markers": {what: [strings]}, "vault_password_file": path, ...values for the arrival checks}.
    Also writes the runner's env/passwords (the vault password, as AWX answers the prompt) and env/cmdline.
    """
    pki = data / "secrets"
    pki.mkdir(mode=0o700)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("pyops e2e CA", ca_key, ca=True)
    (pki / "ca.pem").write_text(ca.public_bytes(serialization.Encoding.PEM).decode())
    keys = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("proxy", "agent", "client")}
    site = yaml.safe_load((data / "inventory" / "group_vars" / "proxies" / "proxy.yml").read_text())
    proxy_site = site["reverse_proxy_sites_sample"][0]
    proxy_cert = _certificate(
        proxy_site["server_names"][0],
        keys["proxy"],
        (ca, ca_key),
        dns=[n for n in proxy_site["server_names"] if not n[0].isdigit()],
        ips=[n for n in proxy_site["server_names"] if n[0].isdigit()],
    )
    _pair(pki, "proxy", keys["proxy"], proxy_cert)
    agent = _pair(pki, "agent", keys["agent"], _certificate("pyops e2e agent", keys["agent"], (ca, ca_key)))
    client = _pair(pki, "client", keys["client"], _certificate("pyops e2e check_nrpe", keys["client"], (ca, ca_key)))

    vault_password = random_marker("vault-password")
    password_file = data / "vault-password"
    password_file.write_text(vault_password + "\n")
    password_file.chmod(0o600)
    values = {
        "psk": secrets.token_hex(32),
        "env": random_marker("env"),
        "vaulted": random_marker("vault"),
        "token": random_marker("index-token"),
        "otlp_key": random_marker("otlp-key"),
    }
    index_url = f"https://__token__:{values['token']}@pypi.org/simple"
    q = json.dumps  # a JSON string is a YAML scalar
    (data / "inventory" / "group_vars" / "all" / "secrets.yml").write_text(
        "---\n# Planted by tests/e2e/planted_secrets.py: no run may show any of these values.\n"
        f"nagios_agent_tls_cert_src: {q(str(agent[0]))}\n"
        f"nagios_agent_tls_key_src: {q(str(agent[1]))}\n"
        f"nagios_agent_tls_ca_src: {q(str(pki / 'ca.pem'))}\n"
        f"nagios_agent_server_tls_cert_src: {q(str(client[0]))}\n"
        f"nagios_agent_server_tls_key_src: {q(str(client[1]))}\n"
        f"nagios_agent_server_tls_ca_src: {q(str(pki / 'ca.pem'))}\n"
        f"zabbix_agent_tls_psk: {q(values['psk'])}\n"
        f"virtualenv_index_url: {q(index_url)}\n"
        "app_server_env:\n"
        f"  {ENV_SECRET}: {q(values['env'])}\n"
        f"  {ENV_VAULTED}: {q('{{ pyops_e2e_vaulted }}')}\n"
        f"pyops_e2e_vaulted: {_vault_encrypted(values['vaulted'], password_file)}\n"
        f"app_server_otel_headers: {{{q(OTLP_HEADER)}: {q(values['otlp_key'])}}}\n"
    )
    proxy_site["tls"] = {
        "certificate_content": (pki / "proxy.pem").read_text(),
        "key_content": (pki / "proxy.key").read_text(),
    }
    (data / "inventory" / "group_vars" / "proxies" / "secrets.yml").write_text(
        "---\n# Planted by tests/e2e/planted_secrets.py: the site's certificate and key given as content.\n"
        + yaml.safe_dump({"reverse_proxy_sites_sample": site["reverse_proxy_sites_sample"]}, sort_keys=False)
    )
    # AWX: the vault credential's password answers the prompt; verbosity and --diff on the command line.
    (data / "env" / "passwords").write_text(json.dumps({VAULT_PROMPT: vault_password}))
    (data / "env" / "cmdline").write_text("-vvv --diff --ask-vault-pass")
    markers = {
        "the proxy site's TLS key (tls.key_content)": key_markers((pki / "proxy.key").read_text()),
        "the NRPE agent's key (nagios_agent_tls_key_src)": key_markers(agent[1].read_text()),
        "check_nrpe's client key (nagios_agent_server_tls_key_src)": key_markers(client[1].read_text()),
        "the Zabbix PSK (zabbix_agent_tls_psk)": [values["psk"]],
        "the app's environment secret (app_server_env)": [values["env"]],
        "the vault-encrypted value": [values["vaulted"]],
        "the vault password": [vault_password],
        "the index URL's token (virtualenv_index_url)": [values["token"]],
        "the OTLP exporter's API key (app_server_otel_headers)": [values["otlp_key"]],
    }
    return {
        "markers": markers,
        "vault_password_file": password_file,
        "proxy_cert": proxy_cert.public_bytes(serialization.Encoding.DER),
        # Public: written with their diff shown, next to the keys.
        "certificates": {name: (pki / f"{name}.pem").read_text() for name in ("proxy", "agent", "client")},
        "agent_key": agent[1],
        "client_key": client[1],
        "index_url": index_url,
        **values,
    }


def found(text, markers):
    """The names of the markers `text` holds."""
    return [name for name, values in markers.items() if any(value in text for value in values)]


def hidden(text, markers):
    """text with every marker replaced, for failure messages."""
    for name, values in markers.items():
        for value in sorted(values, key=len, reverse=True):
            text = text.replace(value, f"<{name}>")
    return text


def podman(host, command, stdin=None, privileged=False):
    """(returncode, stdout) of `sh -c command` in a sandbox host, as root (privileged: with every
    capability, to read another user's /proc/<pid>/environ)."""
    argv = ["podman", "exec", "-i", *(["--privileged"] if privileged else []), host, "sh", "-c", command]
    run = subprocess.run(
        argv, input=stdin or "", capture_output=True, text=True, errors="replace", timeout=600, check=False
    )
    return run.returncode, run.stdout


def _descendants(root):
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found_pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        found_pids.append(pid)
        todo.extend(children.get(pid, []))
    return found_pids


class Sampler:
    """Snapshots of the processes' command lines, every 0.5 s, while the run goes: on every sandbox
    host (podman exec, streamed to `directory`/procs-<host>.txt) and on the controller (the run's own
    process tree). Use as a context manager around the run; set_root(pid) once the run started."""

    def __init__(self, directory):
        self.directory = directory
        self.controller_args = set()
        self._root = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch_controller, daemon=True)
        self._procs = {}

    def set_root(self, pid):
        self._root = pid

    def _watch_controller(self):
        while not self._stop.is_set():
            for pid in _descendants(self._root) if self._root else []:
                try:
                    args = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                self.controller_args.update(args.decode(errors="replace").split("\0"))
            self._stop.wait(0.5)

    def __enter__(self):
        for host in HOSTS:
            with (self.directory / f"procs-{host}.txt").open("w") as out:
                self._procs[host] = subprocess.Popen(
                    ["podman", "exec", "--privileged", host, "sh", "-c", HOST_SAMPLER],
                    stdout=out,
                    stderr=subprocess.DEVNULL,
                )
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join(timeout=30)
        for host in HOSTS:
            stop = ["podman", "exec", host, "touch", SAMPLER_STOP]
            subprocess.run(stop, capture_output=True, timeout=120, check=False)
        for proc in self._procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def host_lines(self, host, kind):
        """The sampled lines of one kind ('A': an argument, 'E': an index URL in an environment)."""
        text = (self.directory / f"procs-{host}.txt").read_text(errors="replace")
        return [line[2:] for line in text.splitlines() if line.startswith(kind + " ")]


def journal_fields(json_lines):
    """Every field's value of `journalctl -o json`, one a line: a value with control characters (a
    message holding a PEM's newlines) comes as a list of byte values, decoded here."""
    values = []
    for line in json_lines.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            values.append(line)
            continue
        for value in entry.values():
            if isinstance(value, list):
                try:
                    value = bytes(value).decode(errors="replace")
                except (TypeError, ValueError):
                    value = json.dumps(value)
            values.append(str(value))
    return "\n".join(values)


def leak_places(markers, runner_output, artifacts, sampler):
    """{place: [markers found there]} over everything an attacker reads after the run."""
    places = {}

    def look(place, text):
        hits = found(text, markers)
        if hits:
            places[place] = hits

    for name, text in runner_output.items():
        look(f"ansible-runner's {name}", text)
    for path in sorted(p for p in artifacts.rglob("*") if p.is_file()):
        look(f"runner artifact {path.relative_to(artifacts)}", path.read_text(errors="replace"))
    look("the command lines of the run's processes on the controller", "\n".join(sampler.controller_args))
    one_line = sorted({value for values in markers.values() for value in values if "\n" not in value})
    for host in HOSTS:
        look(f"the command lines of the processes on {host} during the run", "\n".join(sampler.host_lines(host, "A")))
        _rc, journal = podman(host, "journalctl --no-pager -o cat")
        look(f"{host}'s journal (journalctl -o cat)", journal)
        _rc, journal = podman(host, "journalctl --no-pager -o json")
        look(f"{host}'s journal (journalctl -o json, every field)", journal_fields(journal))
        # Every file under /var/log (the services' logs, the collector's, the journal's files): the
        # markers go in on stdin, never on a command line.
        rc, files = podman(host, "grep -rlaF -f /dev/stdin /var/log", stdin="\n".join(one_line) + "\n")
        for path in files.split() if rc == 0 else []:
            _rc, text = podman(host, f"cat {shlex.quote(path)}")
            look(f"{host}:{path}", text)
    return places
