"""Collected static files: packed without following the app's links, merged on the proxy without removing."""

import os
import tarfile

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._static_files import StaticFilesError, merge, pack

SECRET = "root:$y$j9T$not-a-real-hash:19000:0:99999:7:::\n"


@pytest.fixture
def collected(tmp_path):
    """What collectstatic with ManifestStaticFilesStorage leaves: hashed names and the manifest."""
    static = tmp_path / "staticfiles"
    (static / "css").mkdir(parents=True)
    (static / "css" / "app.3f2a.css").write_text("body{}\n")
    (static / "staticfiles.json").write_text('{"paths": {"css/app.css": "css/app.3f2a.css"}}\n')
    return static


def packed(path, tmp_path):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return pack(str(path), str(out))


def tree(path):
    return {
        str(p.relative_to(path)): (p.read_text(), oct(p.stat().st_mode & 0o777)) for p in path.rglob("*") if p.is_file()
    }


def test_check_merge_check_merge_again(collected, tmp_path):
    proxy = tmp_path / "proxy" / "static"
    archive = packed(collected, tmp_path)
    assert archive["files"] == 2 and archive["changed"] is False
    check = merge(archive["dest"], str(proxy), check_mode=True)
    assert check["changed"] and check["added"] == 3  # css/ and two files
    assert not proxy.exists()
    run = merge(archive["dest"], str(proxy))
    assert run["changed"] and "+ css/app.3f2a.css" in run["diff"]["after"]
    assert tree(proxy) == {
        "css/app.3f2a.css": ("body{}\n", "0o644"),
        "staticfiles.json": ('{"paths": {"css/app.css": "css/app.3f2a.css"}}\n', "0o644"),
    }
    assert oct(proxy.stat().st_mode & 0o777) == "0o755"
    again_check = merge(archive["dest"], str(proxy), check_mode=True)
    assert not again_check["changed"] and again_check["added"] == again_check["updated"] == 0
    again = merge(archive["dest"], str(proxy))
    assert not again["changed"] and again["diff"]["after"] == ""


def test_a_new_release_adds_its_files_and_keeps_the_old_ones(collected, tmp_path):
    proxy = tmp_path / "proxy"
    merge(packed(collected, tmp_path)["dest"], str(proxy))
    (collected / "css" / "app.3f2a.css").unlink()
    (collected / "css" / "app.9c1b.css").write_text("body{color:red}\n")
    (collected / "staticfiles.json").write_text('{"paths": {"css/app.css": "css/app.9c1b.css"}}\n')
    run = merge(packed(collected, tmp_path)["dest"], str(proxy))
    assert (run["added"], run["updated"]) == (1, 1)
    assert (proxy / "css" / "app.3f2a.css").read_text() == "body{}\n"  # the serving release's file stays
    assert (proxy / "css" / "app.9c1b.css").read_text() == "body{color:red}\n"
    assert "9c1b" in (proxy / "staticfiles.json").read_text()


@pytest.mark.parametrize("where", ["top", "nested"])
def test_a_link_out_of_the_tree_is_refused_without_its_contents(collected, tmp_path, where):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET)
    link = collected / ("shadow.css" if where == "top" else "css/shadow.css")
    link.symlink_to(secret)
    with pytest.raises(StaticFilesError) as refused:
        packed(collected, tmp_path)
    assert "symbolic link" in str(refused.value) and link.name in str(refused.value)
    assert "root:" not in str(refused.value) and str(secret) not in str(refused.value)
    assert os.listdir(tmp_path / "out") == []  # no half-made archive is left


def test_a_linked_directory_and_a_fifo_are_refused(collected, tmp_path):
    (collected / "etc").symlink_to("/etc")
    with pytest.raises(StaticFilesError, match="etc: it is a symbolic link"):
        packed(collected, tmp_path)
    (collected / "etc").unlink()
    os.mkfifo(collected / "pipe")
    with pytest.raises(StaticFilesError, match="pipe: it is a fifo"):
        packed(collected, tmp_path)


def test_the_packed_directory_itself_may_not_be_a_link(collected, tmp_path):
    link = tmp_path / "linked"
    link.symlink_to(collected)
    with pytest.raises(StaticFilesError, match="without following a link"):
        packed(link, tmp_path)


def test_merge_refuses_members_outside_the_directory_and_links(tmp_path):
    proxy = tmp_path / "proxy"
    for name, kind in [("../escape.css", tarfile.REGTYPE), ("/abs.css", tarfile.REGTYPE), ("x.css", tarfile.SYMTYPE)]:
        archive = tmp_path / "bad.tar"
        with tarfile.open(archive, "w") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/shadow" if kind == tarfile.SYMTYPE else ""
            tar.addfile(info)
        with pytest.raises(StaticFilesError, match="refused archive member"):
            merge(str(archive), str(proxy))
    assert not (tmp_path / "escape.css").exists()


def test_merge_replaces_a_link_on_the_proxy_rather_than_writing_through_it(collected, tmp_path):
    proxy = tmp_path / "proxy"
    (proxy / "css").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    (proxy / "staticfiles.json").symlink_to(victim)
    run = merge(packed(collected, tmp_path)["dest"], str(proxy))
    assert run["updated"] == 1
    assert victim.read_text() == "untouched\n"
    assert not (proxy / "staticfiles.json").is_symlink()
    (proxy / "css").rename(tmp_path / "css-real")
    (proxy / "css").symlink_to(tmp_path / "css-real")
    with pytest.raises(StaticFilesError, match="not a directory"):
        merge(packed(collected, tmp_path)["dest"], str(proxy))


def test_a_link_inside_the_subdir_is_not_followed(collected, tmp_path):
    shared = collected.parent
    (shared / "assets").symlink_to("/etc")
    assert pack(str(shared), str(tmp_path), "staticfiles")["files"] == 2
    for subdir in ["assets", "staticfiles/../assets", "../etc"]:
        with pytest.raises(StaticFilesError):
            pack(str(shared), str(tmp_path), subdir)
