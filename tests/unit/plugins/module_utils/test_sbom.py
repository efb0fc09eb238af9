# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The release SBOM (``_sbom``): distributions read from a virtualenv's metadata, the CycloneDX document."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._sbom import (
    SBOM_FILE,
    SbomError,
    build_document,
    canonical_name,
    installed_distributions,
    packages_of,
    purl,
    read_document,
    release_sbom_view,
    sha256_hex,
    write_document,
)


def dist(site, name, version, folder=None, kind="dist-info", metadata=True):
    path = site / (folder or f"{name.replace('-', '_')}-{version}.{kind}")
    path.mkdir()
    if metadata:
        body = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nLong description\nName: not-this\n"
        (path / ("METADATA" if kind == "dist-info" else "PKG-INFO")).write_text(body)
    return path


@pytest.fixture
def venv(tmp_path):
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    dist(site, "Flask", "3.1.3")
    dist(site, "Werkzeug", "3.1.9")
    dist(site, "zope.interface", "7.0", kind="egg-info")
    dist(site, "pip", "24.0", folder="pip-24.0.dist-info", metadata=False)  # named by its directory only
    (site / "flask").mkdir()
    (site / "README.txt").write_text("not a distribution")
    return venv


def test_every_distribution_with_its_version_sorted_by_normalized_name(venv):
    assert installed_distributions(str(venv)) == [
        ("Flask", "3.1.3"),
        ("pip", "24.0"),
        ("Werkzeug", "3.1.9"),
        ("zope.interface", "7.0"),
    ]


def test_metadata_behind_a_symlink_is_not_read(venv, tmp_path):
    site = venv / "lib" / "python3.11" / "site-packages"
    outside = tmp_path / "secret"
    outside.write_text("Name: leaked\nVersion: 6.6.6\n")
    evil = site / "evil-1.0.dist-info"
    evil.mkdir()
    (evil / "METADATA").symlink_to(outside)
    linked = tmp_path / "elsewhere-2.0.dist-info"
    linked.mkdir()
    (linked / "METADATA").write_text("Name: elsewhere\nVersion: 2.0\n")
    (site / "elsewhere-2.0.dist-info").symlink_to(linked)
    found = installed_distributions(str(venv))
    # The linked METADATA is not followed (the directory's name still tells the distribution); the
    # linked directory is not a distribution of this virtualenv.
    assert ("evil", "1.0") in found
    assert ("leaked", "6.6.6") not in found
    assert not [dist for dist in found if dist[0] == "elsewhere"]


def test_a_directory_that_is_no_virtualenv_is_an_error(tmp_path):
    with pytest.raises(SbomError, match="not a virtualenv"):
        installed_distributions(str(tmp_path))
    (tmp_path / "lib").mkdir()
    with pytest.raises(SbomError, match="no lib/python"):
        installed_distributions(str(tmp_path))


def test_a_distribution_with_an_invalid_name_is_an_error(venv):
    site = venv / "lib" / "python3.11" / "site-packages"
    bad = site / "bad-1.dist-info"
    bad.mkdir()
    (bad / "METADATA").write_text("Name: ../../etc\nVersion: 1\n")
    with pytest.raises(SbomError, match="no valid distribution name"):
        installed_distributions(str(venv))


def test_the_document_is_cyclonedx_and_the_same_for_the_same_virtualenv(venv):
    dists = installed_distributions(str(venv))
    data = build_document(dists, "sample", "v1")
    assert build_document(installed_distributions(str(venv)), "sample", "v1") == data
    document = json.loads(data)
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"] == "1.5"
    assert document["serialNumber"].startswith("urn:uuid:")
    assert document["metadata"]["component"] == {
        "type": "application",
        "bom-ref": "app:sample",
        "name": "sample",
        "version": "v1",
    }
    assert [(c["name"], c["version"], c["purl"]) for c in document["components"]] == [
        ("Flask", "3.1.3", "pkg:pypi/flask@3.1.3"),
        ("pip", "24.0", "pkg:pypi/pip@24.0"),
        ("Werkzeug", "3.1.9", "pkg:pypi/werkzeug@3.1.9"),
        ("zope.interface", "7.0", "pkg:pypi/zope-interface@7.0"),
    ]
    assert build_document(dists, "sample", "v2") != data
    assert packages_of(data) == {"flask": "3.1.3", "pip": "24.0", "werkzeug": "3.1.9", "zope-interface": "7.0"}


def test_names_and_purls():
    assert canonical_name("Zope.Interface__x") == "zope-interface-x"
    assert purl("Foo_Bar", "1.0+local") == "pkg:pypi/foo-bar@1.0+local"
    assert packages_of(b"not json") == {}
    assert packages_of(b'{"bomFormat": "SPDX", "components": [{"name": "a", "version": "1"}]}') == {}


def test_written_atomically_read_only_to_others_and_read_back_without_following_links(tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    path = str(release / SBOM_FILE)
    # A link planted where the document goes is replaced, never written through.
    target = tmp_path / "target"
    target.write_text("keep")
    os.symlink(target, path)
    assert read_document(path) is None
    write_document(path, b'{"a": 1}\n')
    assert target.read_text() == "keep"
    assert not os.path.islink(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert read_document(path) == b'{"a": 1}\n'
    assert os.listdir(release) == [SBOM_FILE]


def test_release_view_digest_and_package_version(tmp_path, venv):
    release = tmp_path / "releases" / "v1"
    release.mkdir(parents=True)
    assert release_sbom_view(str(release), "flask") == {"sbom_sha256": None, "sbom_package_version": None}
    data = build_document(installed_distributions(str(venv)), "sample", "v1")
    write_document(str(release / SBOM_FILE), data)
    assert release_sbom_view(str(release)) == {"sbom_sha256": sha256_hex(data)}
    assert release_sbom_view(str(release), "FLASK")["sbom_package_version"] == "3.1.3"
    assert release_sbom_view(str(release), "Zope_Interface")["sbom_package_version"] == "7.0"
    assert release_sbom_view(str(release), "django")["sbom_package_version"] is None
