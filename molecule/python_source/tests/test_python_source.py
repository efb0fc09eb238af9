"""CPython built from Debian's copies of the upstream tarballs, next to each host's system interpreter:
3.11.2 on Debian 12 from a file on the controller, 3.13.5 on Debian 13 downloaded by the host against
the sha256 pinned in molecule.yml."""

import json
import os
import re
from typing import NamedTuple

import pytest
from scenario_hosts import scenario_host
from testinfra.utils.ansible_runner import AnsibleRunner

DEBIAN12 = "pyops-python-source-debian12"
DEBIAN13 = "pyops-python-source-debian13"
BUILD_DIR = "/var/tmp/pyops-python-build"


class Build(NamedTuple):
    version: str  # what the host builds (molecule.yml's cpython_version)
    system: str  # the distribution's own python3
    libraries: tuple  # packages of the shared libraries the build links (t64 names on trixie)

    @property
    def minor(self):
        return ".".join(self.version.split(".")[:2])

    @property
    def prefix(self):
        return f"/opt/python/{self.version}"

    @property
    def python(self):
        return f"{self.prefix}/bin/python{self.minor}"


BUILDS = {
    "bookworm": Build("3.11.2", "3.11", ("libssl3", "libsqlite3-0", "libffi8", "libreadline8", "libgdbm6")),
    "trixie": Build("3.13.5", "3.13", ("libssl3t64", "libsqlite3-0", "libffi8", "libreadline8t64", "libgdbm6t64")),
}


@pytest.fixture
def build(host):
    return BUILDS[host.system_info.codename]


def inventory_vars(name):
    """The host's variables as molecule.yml's host_vars give them (not templated)."""
    return AnsibleRunner.get_runner(os.environ["MOLECULE_INVENTORY_FILE"]).get_variables(name)


def module_calls(host, module):
    """The arguments of every run of an Ansible module on the host, as it logged them to the journal
    ("Invoked with url=... dest=..."), each as a dict of the arguments without spaces in them."""
    out = host.check_output(
        "journalctl --no-pager -o json --output-fields=SYSLOG_IDENTIFIER,MESSAGE --grep '^Invoked with '"
    )
    calls = []
    for line in out.splitlines():
        entry = json.loads(line)
        if entry.get("SYSLOG_IDENTIFIER", "").startswith("ansible-") and entry["SYSLOG_IDENTIFIER"].endswith(
            "." + module
        ):
            calls.append(dict(re.findall(r"(\w+)=(\S+)", entry["MESSAGE"])))
    return calls


def test_interpreter_is_the_built_version_in_its_prefix(host, build):
    out = host.check_output(f"{build.python} -c 'import platform, sys; print(platform.python_version(), sys.prefix)'")
    assert out == f"{build.version} {build.prefix}"


def test_configure_was_given_the_prefix_and_python_source_configure_args(host, build):
    # converge.yml's python_source_configure_args, each one argument, after --prefix.
    args = host.check_output(f"{build.python} -c 'import sysconfig; print(sysconfig.get_config_var(\"CONFIG_ARGS\"))'")
    assert args.startswith(f"'--prefix={build.prefix}' '--disable-test-modules' 'OPT=-DNDEBUG -fwrapv -O1'"), args


def test_altinstall_left_python3_to_the_system(host, build):
    assert not host.file(f"{build.prefix}/bin/python3").exists
    assert not host.file(f"{build.prefix}/bin/python").exists
    assert host.file("/usr/bin/python3").linked_to == f"/usr/bin/python{build.system}"
    assert host.file(f"/usr/lib/python{build.system}/EXTERNALLY-MANAGED").exists


def test_ssl_trusts_the_systems_ca_store(host, build):
    # The build's OpenSSL looks in /usr/lib/ssl/certs, Debian's link to /etc/ssl/certs, where the
    # proxy's CA (and any CA added with update-ca-certificates) is.
    capath = host.check_output(
        f"{build.python} -c 'import os, ssl; print(os.path.realpath(ssl.get_default_verify_paths().capath))'"
    )
    assert capath == "/etc/ssl/certs"
    assert host.file(f"{capath}/ca-certificates.crt").exists


def test_build_dependencies_were_removed_but_runtime_libraries_kept(host, build):
    for package in ("build-essential", "gcc", "libssl-dev", "libsqlite3-dev", "libffi-dev", "pkgconf"):
        assert not host.package(package).is_installed, package
    manual = host.check_output("apt-mark showmanual").split()
    for library in build.libraries:
        assert library in manual, library
    # And the interpreter's ssl module links the one of them apt keeps.
    ssl_so = host.check_output(f"{build.python} -c 'import _ssl; print(_ssl.__file__)'")
    libssl = host.check_output(f"ldd {ssl_so} | awk '/libssl/ {{ print $3 }}'")
    assert host.check_output(f"dpkg -S $(readlink -f {libssl}) | cut -d: -f1") == build.libraries[0]


def test_the_build_directory_is_gone(host):
    assert not host.file(BUILD_DIR).exists


def test_venv_was_rebuilt_on_the_new_interpreter(host, build):
    assert f"home = {build.prefix}/bin" in host.file("/srv/rebuild/venv/pyvenv.cfg").content_string
    assert f'"interpreter": "{build.python}"' in host.file("/srv/rebuild/venv/.pyops-venv.json").content_string
    assert host.run("/srv/rebuild/venv/bin/python -c 'import itsdangerous'").rc == 0


def test_debian13_downloaded_its_tarball_against_the_pinned_checksum():
    host = scenario_host(DEBIAN13)
    wanted = inventory_vars(DEBIAN13)
    tarball = f"{BUILD_DIR}/{wanted['cpython_url'].rsplit('/', 1)[1]}"
    # get_url only moves the download to dest once its sha256 matched; the build unpacked that file.
    # (The wrong-checksum test below adds downloads that failed.)
    downloads = {(c.get("url"), c.get("checksum")) for c in module_calls(host, "get_url") if c.get("dest") == tarball}
    assert (wanted["cpython_url"], wanted["cpython_checksum"]) in downloads
    assert tarball in {c.get("src") for c in module_calls(host, "unarchive")}
    assert not [c for c in module_calls(host, "copy") if c.get("dest", "").startswith(BUILD_DIR)]


def test_debian12_copied_its_tarball_from_the_controller():
    host = scenario_host(DEBIAN12)
    tarball = f"{BUILD_DIR}/python3.11_3.11.2.orig.tar.gz"
    assert tarball in {c.get("dest") for c in module_calls(host, "copy")}
    assert not [c for c in module_calls(host, "get_url") if c.get("dest", "").startswith(BUILD_DIR)]


def test_a_wrong_checksum_on_the_url_stops_before_anything_changes(ansible_playbook):
    """The same converge with a wrong python_source_checksum and a new prefix (an interpreter in the
    prefix would skip the download): get_url refuses the file, and the host is as it was."""
    host = scenario_host(DEBIAN13)
    state = "dpkg-query -W; apt-mark showmanual; ls -a /opt/python /var/tmp"
    before = host.check_output(state)
    run = ansible_playbook(
        "molecule/python_source/converge.yml",
        "--limit",
        DEBIAN13,
        "-e",
        f"python_source_checksum=sha256:{'0' * 64}",
        "-e",
        "python_source_prefix=/opt/python/wrong-checksum",
    )
    out = " ".join(run.stdout.split())
    assert run.returncode == 2, out
    assert "Stopped before installing or building anything" in out
    # get_url's own report of what the archive served: the pinned sha256, not the wrong one.
    assert f"it was {inventory_vars(DEBIAN13)['cpython_checksum'].split(':')[1]}" in out
    assert host.check_output(state) == before
