# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.proxy_config`` through AnsibleModule on real trees in tmp.

The configuration test is a real command (``true``, or ``sh`` printing an error); only the service
reload (``systemctl``) is stubbed, and the calls are recorded.
"""

from __future__ import annotations

import fcntl
import os
import stat

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils import _proxy_config
from ansible_collections.pyops.deploy.plugins.modules import proxy_config
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module, tree

REFUSE = ["sh", "-c", "echo 'nginx: [emerg] unknown directive \"bogus\" in vhost-shop.conf:3' >&2; exit 1"]


def write(path, text, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


@pytest.fixture
def trees(tmp_path):
    """conf/pyops (live, serving the old upstream) and conf/staging/pyops (staged, with a new one)."""
    live, stage = tmp_path / "conf" / "pyops", tmp_path / "conf" / "staging" / "pyops"
    for root, upstream in ((live, "server a;\n"), (stage, "server a;\nserver b;\n")):
        root.mkdir(parents=True, mode=0o700)
        (root / "snippets").mkdir(mode=0o700)
        write(root / "upstream-shop.conf", upstream)
        write(root / "snippets" / "headers-shop.conf", "add_header X-Test 1;\n")
    (tmp_path / "state").mkdir()
    return live, stage


@pytest.fixture
def reloads(monkeypatch):
    """systemctl calls made through module.run_command; every other command really runs."""
    calls = []
    real = AnsibleModule.run_command

    def run_command(self, args, *rest, **kwargs):
        if args[0] == "systemctl":
            calls.append(list(args))
            return (1, "", "Job for nginx.service failed.") if "broken" in args else (0, "", "")
        return real(self, args, *rest, **kwargs)

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    return calls


@pytest.fixture
def run(capsys, trees, tmp_path, reloads):
    live, stage = trees

    def run(check=False, diff=False, **args):
        args.setdefault("stage", str(stage))
        args.setdefault("live", str(live))
        args.setdefault("service", "nginx")
        args.setdefault("test_command", ["true"])
        args.setdefault("lock_file", str(tmp_path / "state" / "apply.lock"))
        return run_module(proxy_config, capsys, args, check=check, diff=diff)

    return run


def test_four_steps_swap_once_and_reload_once(run, trees, reloads):
    live, stage = trees
    before, staged = tree(live), tree(stage)

    first_check = run(check=True)
    assert first_check["changed"] and first_check["swapped"] and first_check["reloaded"], first_check
    assert first_check["differences"] == ["upstream-shop.conf"]
    assert tree(live) == before and reloads == []

    first_run = run()
    assert first_run["changed"] and first_run["swapped"] and first_run["reloaded"], first_run
    assert tree(live) == staged != before
    assert reloads == [["systemctl", "reload-or-restart", "nginx"]]
    assert not os.path.lexists(f"{live}.new") and not os.path.lexists(f"{live}.old")

    for check in (True, False):
        again = run(check=check)
        assert not again["changed"] and not again["swapped"] and not again["reloaded"], again
        assert again["differences"] == []
    assert tree(live) == staged and len(reloads) == 1


def test_a_refused_configuration_fails_with_the_servers_message_and_leaves_live_alone(run, trees, reloads):
    live, stage = trees
    before = tree(live)

    result = run(test_command=REFUSE)

    assert result["failed"] and result["rc"] == 1
    assert 'nginx: [emerg] unknown directive "bogus" in vhost-shop.conf:3' in result["msg"]
    assert f"live configuration in {live} is unchanged" in result["msg"]
    assert tree(live) == before and reloads == []
    assert not os.path.lexists(f"{live}.new")
    # Check mode runs no test: it reports what a run would try.
    assert run(check=True, test_command=REFUSE)["swapped"] is True


def test_from_live_drops_what_was_staged_and_writes_the_files_into_a_copy(run, trees, tmp_path, reloads):
    live, stage = trees
    write(stage / "vhost-gone.conf", "stale\n")
    drained = tmp_path / "state" / "drain.json"
    upstream = stage / "upstream-shop.conf"
    files = [
        {"dest": str(drained), "mode": "0644", "content": '["b"]\n'},
        {"dest": str(upstream), "mode": "0600", "content": "server a;\nserver b down;\n"},
    ]

    check = run(check=True, diff=True, from_live=True, files=files)
    assert check["changed"] and check["differences"] == ["upstream-shop.conf"], check
    assert check["written"] == [str(drained), str(upstream)]
    assert check["diff"] == [
        {
            "before_header": str(live / "upstream-shop.conf"),
            "after_header": str(upstream),
            "before": "server a;\n",
            "after": "server a;\nserver b down;\n",
        }
    ]
    assert not drained.exists() and (stage / "vhost-gone.conf").exists()

    result = run(from_live=True, files=files)
    assert result["swapped"] and result["written"] == [str(drained), str(upstream)], result
    assert not (stage / "vhost-gone.conf").exists() and not (live / "vhost-gone.conf").exists()
    assert (live / "upstream-shop.conf").read_text() == "server a;\nserver b down;\n"
    info = drained.stat()
    assert drained.read_text() == '["b"]\n' and stat.S_IMODE(info.st_mode) == 0o644 and info.st_uid == 0
    assert stat.S_IMODE(upstream.stat().st_mode) == 0o600

    for check in (True, False):
        again = run(check=check, from_live=True, files=files)
        assert not again["changed"] and again["written"] == [], again
    assert len(reloads) == 1


def test_writing_files_alone_is_not_a_change_and_reload_is_one(run, trees, tmp_path, reloads):
    live, stage = trees
    run()
    marker = tmp_path / "state" / "note"
    result = run(files=[{"dest": str(marker), "mode": "0640", "content": "x\n"}])
    assert not result["changed"] and result["written"] == [str(marker)], result
    assert marker.read_text() == "x\n" and len(reloads) == 1

    check = run(check=True, reload=True)
    assert check["changed"] and check["reloaded"] and not check["swapped"] and len(reloads) == 1
    result = run(reload=True)
    assert result["changed"] and result["reloaded"] and not result["swapped"]
    assert len(reloads) == 2


def test_a_failed_reload_fails_the_task(run):
    result = run(service="broken")
    assert result["failed"] and "Reloading broken failed: Job for nginx.service failed." in result["msg"]


def test_mode_and_removed_files_are_differences(run, trees):
    live, stage = trees
    run()
    (stage / "snippets" / "headers-shop.conf").chmod(0o644)
    (stage / "upstream-shop.conf").unlink()
    result = run(check=True)
    assert result["differences"] == ["snippets/headers-shop.conf", "upstream-shop.conf"]
    run()
    assert not (live / "upstream-shop.conf").exists()
    assert stat.S_IMODE((live / "snippets" / "headers-shop.conf").stat().st_mode) == 0o644


def test_diff_shows_key_material_by_digest_only(run, trees):
    live, stage = trees
    write(stage / "tls" / "shop.key", "-----BEGIN PRIVATE KEY-----\nsecret\n")
    write(stage / "tls" / "shop.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
    result = run(check=True, diff=True)
    shown = {os.path.relpath(d["after_header"], stage): d["after"] for d in result["diff"]}
    assert "secret" not in str(result)
    assert shown["tls/shop.key"].startswith("content not shown: sha256 ")
    assert shown["tls/shop.crt"].startswith("content not shown: sha256 ")
    assert shown["upstream-shop.conf"] == "server a;\nserver b;\n"
    assert shown["tls"].startswith("dir, mode ")


def test_a_second_holder_waits_for_the_lock_then_fails_clearly(run, tmp_path, trees, monkeypatch):
    live, stage = trees
    monkeypatch.setattr(_proxy_config, "_LOCK_POLL", 0.01)
    lock = tmp_path / "state" / "apply.lock"
    before = tree(live)
    with open(lock, "w") as holder:
        holder.write("4242\n")
        holder.flush()
        fcntl.flock(holder, fcntl.LOCK_EX)
        result = run(lock_timeout=1)
        assert result["failed"], result
        assert result["msg"] == (
            f"Another apply or drain on this proxy holds {lock} (process 4242); gave up after 1 seconds."
        )
        assert tree(live) == before
    assert run(lock_timeout=1)["swapped"] is True


def test_check_mode_creates_no_lock_file(run, tmp_path):
    lock = tmp_path / "state" / "apply.lock"
    assert run(check=True)["changed"] is True
    assert not lock.exists()


def test_bad_arguments_fail_before_anything_is_touched(run, trees):
    live, stage = trees
    before = tree(live)
    assert "not an octal mode" in run(files=[{"dest": str(stage / "x"), "mode": "rw", "content": ""}])["msg"]
    assert "must be different" in run(stage=str(live))["msg"]
    assert "nothing to start the staged tree from" in run(live=str(live) + "-missing", from_live=True)["msg"]
    assert tree(live) == before


# --------------------------------------------------------------------------------------------
# Sites checked through the server around a swap, and the site records
# --------------------------------------------------------------------------------------------

SHOP_PATHS = ["upstream-shop.conf", "vhost-shop.conf", "snippets/headers-shop.conf"]


@pytest.fixture
def server(monkeypatch, trees):
    """A server that answers from the live tree as the reload left it: a site whose upstream names
    port 8009 (nothing listens there) answers 502; `down` lists sites that answer nothing."""
    live, _stage = trees
    asked = []
    down = set()

    def probe(address, port, server_name, path, timeout):
        site = server_name.split(".")[0]
        asked.append(site)
        upstream = live / f"upstream-{site}.conf"
        if site in down or not upstream.exists():
            return False, f"no answer within {timeout} s"
        return ("8009" not in upstream.read_text()), ("502 Bad Gateway" if "8009" in upstream.read_text() else "200 OK")

    monkeypatch.setattr(_proxy_config, "probe", probe)
    return asked, down


def checks(*sites):
    return [
        {"site": s, "server_name": f"{s}.test", "path": "/healthz", "paths": [p.replace("shop", s) for p in SHOP_PATHS]}
        for s in sites
    ]


def test_a_change_that_breaks_a_site_is_put_back_and_fails_naming_it(run, trees, reloads, server):
    live, stage = trees
    asked, _down = server
    write(stage / "upstream-shop.conf", "server a:8009;\n")
    before = tree(live)

    result = run(checks=checks("shop"), check_settle=0)

    assert result["failed"] and result["reverted"] and result["site"] == "shop", result
    assert result["msg"].startswith(
        "Site 'shop' stopped answering with this change: GET https://shop.test/healthz through 127.0.0.1:443"
        " answered 200 OK before the change and 502 Bad Gateway after it. The previous configuration is back in"
        f" {live} and nginx was reloaded with it; the change (upstream-shop.conf) stays in the staged tree {stage}"
    ), result["msg"]
    assert tree(live) == before
    assert not os.path.lexists(f"{live}.old") and not os.path.lexists(f"{live}.new")
    assert (stage / "upstream-shop.conf").read_text() == "server a:8009;\n"
    # Reloaded with the change, then with the previous tree.
    assert reloads == [["systemctl", "reload-or-restart", "nginx"]] * 2
    assert asked == ["shop", "shop"]


def test_a_change_that_keeps_the_site_answering_holds(run, trees, reloads, server):
    live, stage = trees
    asked, _down = server
    result = run(checks=checks("shop"), check_settle=0)
    assert result["swapped"] and not result.get("failed"), result
    assert tree(live) == tree(stage) and not os.path.lexists(f"{live}.old")
    assert asked == ["shop", "shop"] and len(reloads) == 1
    # Nothing differs: nothing is asked.
    assert not run(checks=checks("shop"), check_settle=0)["changed"]
    assert asked == ["shop", "shop"]


def test_sites_that_did_not_answer_before_or_are_new_or_untouched_are_not_checked(run, trees, reloads, server):
    live, stage = trees
    asked, down = server
    # shop does not answer before the change (its app is down): the change may be its fix.
    down.add("shop")
    write(stage / "upstream-shop.conf", "server a:8009;\n")
    # blog is new: the live configuration does not serve it yet.
    write(stage / "upstream-blog.conf", "server c;\n")
    # api is served and answers, but the change does not touch it.
    write(live / "upstream-api.conf", "server d;\n")
    write(stage / "upstream-api.conf", "server d;\n")
    result = run(checks=checks("shop", "blog", "api"), check_settle=0)
    assert result["swapped"] and not result.get("failed"), result
    assert asked == ["shop"]
    # A shared file touches every site: those served and answering (not shop, whose live upstream
    # is now the typo) are asked before the swap and after the reload.
    asked.clear()
    write(stage / "snippets" / "tls.conf", "ssl_protocols TLSv1.3;\n")
    result = run(checks=checks("shop", "blog", "api"), check_settle=0)
    assert result["swapped"] and not result.get("failed"), result
    assert asked == ["shop", "blog", "api", "blog", "api"]


def test_a_failed_reload_puts_the_previous_tree_back(run, trees):
    live, _stage = trees
    before = tree(live)
    result = run(service="broken")
    assert result["failed"] and result["reverted"] and result["rc"] == 1
    assert result["msg"].startswith(
        f"Reloading broken failed: Job for nginx.service failed. The previous configuration is back in {live};"
    ), result["msg"]
    assert tree(live) == before


def test_the_real_probe_reports_a_server_that_does_not_answer():
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    ok, answer = _proxy_config.probe("127.0.0.1", port, "shop.test", "/healthz", 1)
    assert not ok and answer.startswith("no answer (ConnectionRefusedError"), answer


def record(**overrides):
    state = {
        "server": "nginx",
        "protocol": "http",
        "members": [{"host": "app1", "address": "10.0.0.11:8000"}],
        "keepalive": 16,
        "max_fails": 3,
        "fail_timeout": 10,
        "connect_timeout": 5,
        "read_timeout": 60,
        "send_timeout": 60,
        "tries": 2,
    }
    state.update(overrides)
    return state


def test_site_records_are_the_same_text_whether_a_controller_templated_5_or_the_string(run, tmp_path, reloads):
    dest = tmp_path / "state" / "shop.json"
    as_text = [{"dest": str(dest), "state": record(connect_timeout="5", tries="2", keepalive="16")}]
    as_int = [{"dest": str(dest), "state": record()}]
    run()  # the trees match from here on

    check = run(check=True, diff=True, site_records=as_text)
    assert check["changed"] and check["recorded"] == [str(dest)] and not dest.exists(), check
    written = run(site_records=as_text)
    assert written["changed"] and written["recorded"] == [str(dest)], written
    text = dest.read_text()
    assert '    "connect_timeout": 5,\n' in text and '"tries": 2' in text and text.endswith("}\n")
    assert check["diff"][-1] == {"before_header": str(dest), "after_header": str(dest), "before": "", "after": text}
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644

    # The other controller's types, and both again: no change, the same text.
    for state in (as_int, as_text, as_int):
        for check_mode in (True, False):
            again = run(check=check_mode, site_records=state)
            assert not again["changed"] and again["recorded"] == [], again
    assert dest.read_text() == text and len(reloads) == 1


def test_site_records_are_not_written_when_the_change_is_put_back(run, trees, tmp_path, server):
    _live, stage = trees
    dest = tmp_path / "state" / "shop.json"
    write(stage / "upstream-shop.conf", "server a:8009;\n")
    result = run(checks=checks("shop"), check_settle=0, site_records=[{"dest": str(dest), "state": record()}])
    assert result["failed"] and not dest.exists()


def test_a_site_record_with_a_value_that_is_no_integer_is_refused(run, tmp_path):
    dest = tmp_path / "state" / "shop.json"
    result = run(site_records=[{"dest": str(dest), "state": record(connect_timeout="5s")}])
    assert result["failed"] and "connect_timeout" in result["msg"] and not dest.exists(), result


# --------------------------------------------------------------------------------------------
# Everything the reverse_proxy role's main run puts in place, in the same execution
# --------------------------------------------------------------------------------------------

KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"


def test_directories_pages_copies_private_keys_and_pruning_in_four_steps(run, trees, tmp_path, reloads):
    live, stage = trees
    run()  # the trees match from here on
    state, main_conf = tmp_path / "state" / "proxy", tmp_path / "conf" / "nginx.conf"
    write(main_conf, "http { include conf.d/*.conf; }\n", 0o644)
    write(stage / "vhost-gone.conf", "server gone;\n")  # a site that is gone left this behind
    write(live / "vhost-gone.conf", "server gone;\n")
    directories = [
        {"path": str(state), "mode": "0755"},
        {"path": str(state / "www" / "shop"), "mode": "0755"},
        {"path": str(stage / "tls"), "mode": "0700"},
    ]
    page = state / "www" / "shop" / "maintenance.html"
    files = [
        {"dest": str(stage / "upstream-shop.conf"), "mode": "0600", "content": "server a;\nserver b;\n"},
        {"dest": str(stage / "snippets" / "headers-shop.conf"), "mode": "0600", "content": "add_header X-Test 1;\n"},
        {"dest": str(page), "mode": "0644", "content": "<h1>Down</h1>\n", "reports_change": True},
        {"dest": str(stage.parent / "nginx.conf"), "mode": "0644", "src": str(main_conf)},
    ]
    private = [{"dest": str(stage / "tls" / "shop.key"), "mode": "0600", "content": KEY}]
    args = {"directories": directories, "files": files, "private_files": private, "prune_stage": True}

    check = run(check=True, diff=True, **args)
    assert check["changed"] and check["swapped"], check
    assert check["made_directories"] == [str(state), str(state / "www" / "shop"), str(stage / "tls")]
    assert check["pruned"] == [str(stage / "vhost-gone.conf")]
    assert check["differences"] == ["tls", "tls/shop.key", "vhost-gone.conf"], check
    shown = {d["after_header"]: d for d in check["diff"]}
    assert shown[str(page)]["before"] == "" and shown[str(page)]["after"] == "<h1>Down</h1>\n"
    assert shown[str(state)]["after"] == "directory, mode 0755, owner 0:0\n"
    assert shown[str(stage / "tls" / "shop.key")]["after"].startswith("content not shown: sha256 ")
    assert "MIGHAgEAMBMGByqGSM49" not in str(check) and not state.exists() and len(reloads) == 1
    assert (stage / "vhost-gone.conf").exists()

    first = run(diff=True, **args)
    assert first["changed"] and first["swapped"] and first["pruned"] == [str(stage / "vhost-gone.conf")], first
    assert "MIGHAgEAMBMGByqGSM49" not in str(first)
    assert first["invocation"]["module_args"]["private_files"][0]["content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert (live / "tls" / "shop.key").read_text() == KEY and stat.S_IMODE(
        (live / "tls" / "shop.key").stat().st_mode
    ) == 0o600
    assert not (live / "vhost-gone.conf").exists() and not (stage / "vhost-gone.conf").exists()
    assert page.read_text() == "<h1>Down</h1>\n" and stat.S_IMODE(page.stat().st_mode) == 0o644
    assert (stage.parent / "nginx.conf").read_text() == main_conf.read_text()
    for path, mode in ((state, 0o755), (state / "www" / "shop", 0o755), (stage / "tls", 0o700)):
        info = path.stat()
        assert stat.S_IMODE(info.st_mode) == mode and info.st_uid == 0, path
    assert len(reloads) == 2

    for check_mode in (True, False):
        again = run(check=check_mode, diff=True, **args)
        assert not again["changed"] and again["written"] == [] and again["made_directories"] == [], again
        assert again["pruned"] == [] and again["diff"] == [], again
    assert len(reloads) == 2

    # A new page is a change of its own, with no swap; a directory given another mode is made again.
    files[2]["content"] = "<h1>Back soon</h1>\n"
    (state / "www" / "shop").chmod(0o700)
    result = run(diff=True, **args)
    assert result["changed"] and not result["swapped"] and result["written"] == [str(page)], result
    assert result["made_directories"] == [str(state / "www" / "shop")]
    assert {d["after_header"]: d["before"] for d in result["diff"]}[str(page)] == "<h1>Down</h1>\n"
    assert stat.S_IMODE((state / "www" / "shop").stat().st_mode) == 0o755 and len(reloads) == 2


def test_file_arguments_that_cannot_be_applied_fail_before_anything_is_touched(run, trees, tmp_path):
    live, stage = trees
    before = tree(live)
    both = {"dest": str(stage / "x.conf"), "mode": "0600", "content": "x", "src": "/etc/hostname"}
    assert "mutually exclusive" in run(files=[both])["msg"]
    missing = {"dest": str(stage / "x.conf"), "mode": "0600", "src": str(tmp_path / "no-such-file")}
    result = run(files=[missing])
    assert result["failed"] and f"cannot read its src {tmp_path / 'no-such-file'}" in result["msg"], result
    a_file = tmp_path / "state" / "plain"
    write(a_file, "x\n")
    result = run(directories=[{"path": str(a_file), "mode": "0755"}])
    assert result["failed"] and result["msg"] == f"{a_file} exists and is not a directory.", result
    assert tree(live) == before and not (stage / "x.conf").exists()
