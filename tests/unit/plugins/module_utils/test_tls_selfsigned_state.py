# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``pyops.deploy.tls_selfsigned_state``: which self-signed certificates are as the role makes them.

The files are made here as community.crypto's openssl_privatekey, openssl_csr and x509_certificate
(selfsigned) make them, with the cryptography library of the controller; the module reads them with
this machine's openssl program.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.pyops.deploy.plugins.module_utils import _tls_selfsigned_state as ts
from ansible_collections.pyops.deploy.plugins.modules import tls_selfsigned_state
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl program")

OWNERS = {"owner": str(os.getuid()), "group": str(os.getgid())}


def run(argv, data=None):
    done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def make(directory, name, names, key=None, key_format=serialization.PrivateFormat.TraditionalOpenSSL, cert_key=None):
    """Write name.key, name.csr and name.crt as the role's community.crypto tasks do (cert_key: another key)."""
    directory.mkdir(mode=0o700, exist_ok=True)
    directory.chmod(0o700)
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    san = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).add_extension(san, False)
    csr = csr.sign(key, hashes.SHA256())
    signer = cert_key or key
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(signer.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(san, False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer.public_key()), False)
        .sign(signer, hashes.SHA256())
    )
    files = {
        ".key": (key.private_bytes(serialization.Encoding.PEM, key_format, serialization.NoEncryption()), 0o600),
        ".csr": (csr.public_bytes(serialization.Encoding.PEM), 0o644),
        ".crt": (cert.public_bytes(serialization.Encoding.PEM), 0o644),
    }
    for suffix, (content, mode) in files.items():
        path = directory / (name + suffix)
        path.write_bytes(content)
        path.chmod(mode)
    return {"name": name, "common_name": names[0], "subject_alt_names": [f"DNS:{n}" for n in names]}


def state(directory, entries, openssl=OPENSSL):
    return ts.read_state({"directory": str(directory), "certificates": entries, **OWNERS}, run, openssl)


def test_files_as_the_role_makes_them_are_current(tmp_path):
    d = tmp_path / "pyops-proxy"
    entries = [
        make(d, "shop", ["proxy1", "shop.test"]),
        make(d, "api", ["api.test"], key_format=serialization.PrivateFormat.PKCS8),
    ]
    assert state(d, entries) == {"current": ["shop", "api"], "stale": [], "reasons": {}}


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (lambda d: (d / "shop.key").chmod(0o644), "shop.key has mode 0644"),
        (lambda d: (d / "shop.crt").unlink(), "shop.crt is missing"),
        (lambda d: (d / "shop.csr").write_text("garbage\n"), "openssl cannot read"),
        (lambda d: ((d / "shop.crt").unlink(), (d / "shop.crt").symlink_to(d / "api.crt")), "not a regular file"),
        (lambda d: d.chmod(0o755), "pyops-proxy has mode 0755"),
    ],
)
def test_a_spoilt_file_makes_its_entry_stale(tmp_path, spoil, reason):
    d = tmp_path / "pyops-proxy"
    entries = [make(d, "shop", ["shop.test"]), make(d, "api", ["api.test"])]
    spoil(d)
    result = state(d, entries)
    assert "shop" in result["stale"]
    assert reason in result["reasons"]["shop"]
    if "pyops-proxy has mode" not in reason:
        assert result["current"] == ["api"], "the other entry stays current"


def test_other_names_another_key_or_curve_are_stale(tmp_path):
    d = tmp_path / "pyops-proxy"
    entry = make(d, "shop", ["shop.test", "www.shop.test"])
    assert state(d, [{**entry, "subject_alt_names": ["DNS:shop.test"]}])["stale"] == ["shop"], "a name less"
    assert state(d, [{**entry, "common_name": "www.shop.test"}])["stale"] == ["shop"], "another common name"

    make(d, "other", ["shop.test"], cert_key=ec.generate_private_key(ec.SECP256R1()))
    result = state(d, [{"name": "other", "common_name": "shop.test", "subject_alt_names": ["DNS:shop.test"]}])
    assert result["reasons"]["other"].endswith("other.crt is not for the key " + str(d / "other.key"))

    make(d, "p384", ["shop.test"], key=ec.generate_private_key(ec.SECP384R1()))
    make(d, "rsa", ["shop.test"], key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    result = state(d, [{**entry, "name": "p384"}, {**entry, "name": "rsa"}])
    assert result["stale"] == ["p384", "rsa"]
    assert all("is not an EC P-256 key" in reason for reason in result["reasons"].values())


def test_without_openssl_or_directory_everything_is_stale(tmp_path):
    d = tmp_path / "pyops-proxy"
    entries = [make(d, "shop", ["shop.test"])]
    assert state(d, entries, openssl=None)["reasons"] == {"shop": "the openssl program is not installed"}
    assert state(tmp_path / "missing", entries)["stale"] == ["shop"]


def test_module_reads_the_same_in_check_mode_changes_nothing_and_returns_no_key(capsys, tmp_path):
    d = tmp_path / "pyops-proxy"
    entries = [make(d, "shop", ["shop.test"]), make(d, "api", ["api.test"])]
    (d / "api.crt").unlink()
    before = sorted((p.name, p.read_bytes(), p.stat().st_mode) for p in d.iterdir())
    args = {"directory": str(d), "certificates": entries, **OWNERS}
    results = [run_module(tls_selfsigned_state, capsys, args, check=check) for check in (True, False, True, False)]
    for result in results:
        assert result["changed"] is False
        result.pop("invocation", None)
    assert results[0] == results[1] == results[2] == results[3]
    assert results[0]["current"] == ["shop"]
    assert results[0]["stale"] == ["api"]
    assert "PRIVATE KEY" not in json.dumps(results[0])
    assert sorted((p.name, p.read_bytes(), p.stat().st_mode) for p in d.iterdir()) == before
