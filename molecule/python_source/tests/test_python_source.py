"""CPython 3.11.2 built from Debian's copy of the upstream tarball, next to the system interpreter."""

PREFIX = "/opt/python/3.11.2"
PYTHON = f"{PREFIX}/bin/python3.11"


def test_interpreter_is_the_built_version_in_its_prefix(host):
    out = host.check_output(f"{PYTHON} -c 'import platform, sys; print(platform.python_version(), sys.prefix)'")
    assert out == f"3.11.2 {PREFIX}"


def test_altinstall_left_python3_to_the_system(host):
    assert not host.file(f"{PREFIX}/bin/python3").exists
    assert not host.file(f"{PREFIX}/bin/python").exists
    assert host.file("/usr/bin/python3").linked_to == "/usr/bin/python3.11"
    assert host.file("/usr/lib/python3.11/EXTERNALLY-MANAGED").exists


def test_ssl_trusts_the_systems_ca_store(host):
    # The build's OpenSSL looks in /usr/lib/ssl/certs, Debian's link to /etc/ssl/certs, where the
    # proxy's CA (and any CA added with update-ca-certificates) is.
    capath = host.check_output(
        f"{PYTHON} -c 'import os, ssl; print(os.path.realpath(ssl.get_default_verify_paths().capath))'"
    )
    assert capath == "/etc/ssl/certs"
    assert host.file(f"{capath}/ca-certificates.crt").exists


def test_build_dependencies_were_removed_but_runtime_libraries_kept(host):
    for package in ("build-essential", "gcc", "libssl-dev", "libsqlite3-dev", "libffi-dev"):
        assert not host.package(package).is_installed, package
    manual = host.check_output("apt-mark showmanual").split()
    for library in ("libssl3", "libsqlite3-0", "libffi8", "libreadline8", "libgdbm6"):
        assert library in manual


def test_the_build_directory_is_gone(host):
    assert not host.file("/var/tmp/pyops-python-build").exists


def test_venv_was_rebuilt_on_the_new_interpreter(host):
    assert "home = /opt/python/3.11.2/bin" in host.file("/srv/rebuild/venv/pyvenv.cfg").content_string
    assert f'"interpreter": "{PYTHON}"' in host.file("/srv/rebuild/venv/.pyops-venv.json").content_string
    assert host.run("/srv/rebuild/venv/bin/python -c 'import itsdangerous'").rc == 0
