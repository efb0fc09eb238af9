"""Build a venv in one go: the installer's commands, the bytecode, the ownership, then the marker.

usage: python3 build_venv.py PLAN   (the role runs `python3 -I - PLAN` with this file on stdin)

PLAN is a JSON object; every key but "venv" may be left out:
  venv        the venv's directory.
  steps       commands run in order, each {"step": name, "argv": [...], "chdir": dir, "creates": path};
              one whose "creates" path exists is skipped (as the command module's `creates:`).
  carry_from  an earlier venv: the bytecode of every file both venvs share is linked from it (carry).
  compile     then compileall compiles the .py files under <venv>/lib still without bytecode (all of
              lib/, a worker per core, when there are more than COMPILE_LIST_LIMIT).
  owner, group  the venv's directories and the files only it links to (link count 1) become theirs,
              the files hardlinked from uv's cache stay root's; then nothing in it is group- or
              world-writable (find VENV \\( -type d -o -links 1 \\) -exec chown -h O:G {} +; chmod -R go-w VENV).
  marker      {"path": ..., "content": ...}: written last and atomically, owner:group, mode 0644.

It stops at the first step that fails and says on stderr which one and why, with the end of the
command's output (the credentials of any URL in it hidden), and exits 1. Otherwise it prints one
JSON line: the bytecode files carried, each step's seconds and the output of the commands that
printed anything.

`python3 build_venv.py carry EARLIER NEW` carries the bytecode, then compiles the rest, as a plan
with carry_from and compile does, and prints the number carried (the benchmark's way).
"""

import contextlib
import grp
import json
import os
import pwd
import re
import shlex
import stat
import subprocess
import sys
import tempfile
import time
from importlib.util import cache_from_source, source_from_cache

OUTPUT_TAIL_LINES = 40
# Above this many files without bytecode, compileall compiles all of lib/ in parallel (see compile_rest).
COMPILE_LIST_LIMIT = 200
# The user and password in an index URL (https://user:token@host/...), wherever a message shows one.
URL_CREDENTIALS = re.compile(r"://[^/\s@]+@")


class StepFailed(Exception):
    """A step of the build failed; str() is the message for the operator."""


def carry(earlier, new):
    """Link an earlier venv's bytecode into a new venv wherever both hold the same source file.

    uv hardlinks every installed file from its cache, so an unchanged package is the very same file
    (same inode, same mtime) in both venvs, and the .pyc compiled for it in the earlier venv is valid
    in the new one: its header records the source's mtime and size, and the import system fixes the
    code's file name to the new path when it loads it. A file that is not the same (another version,
    or a copy made across filesystems) is left alone, for compileall. Returns the number carried.
    """
    earlier, new = os.path.realpath(earlier), os.path.realpath(new)
    carried = 0
    for top in ("lib", "lib64"):
        root = os.path.join(earlier, top)
        if os.path.islink(root):
            continue
        for directory, _subdirs, files in os.walk(root):
            if os.path.basename(directory) != "__pycache__":
                continue
            target_dir = os.path.join(new, os.path.relpath(directory, earlier))
            for name in files:
                if not name.endswith(".pyc"):
                    continue
                cached = os.path.join(directory, name)
                try:
                    source = source_from_cache(cached)
                except ValueError:
                    continue
                new_source = os.path.join(new, os.path.relpath(source, earlier))
                try:
                    if not os.path.samefile(source, new_source):
                        continue
                    os.makedirs(target_dir, exist_ok=True)
                    os.link(cached, os.path.join(target_dir, name))
                except OSError:
                    continue  # already there, no such source in the new venv, or another filesystem
                carried += 1
    return carried


def redact(text):
    """Hide the credentials of URLs: the role's no_log hides a result, not the message a task fails with."""
    return URL_CREDENTIALS.sub("://***@", text)


def tail(text, lines=OUTPUT_TAIL_LINES):
    kept = redact(text).rstrip().splitlines()
    return "\n".join((["[...]"] if len(kept) > lines else []) + kept[-lines:])


def run(name, argv, chdir=None):
    """Run one command, its stderr merged into its stdout; return that output, or raise StepFailed."""
    try:
        done = subprocess.run(
            argv, cwd=chdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
    except OSError as exc:
        raise StepFailed(redact(f"{name} failed: {exc}")) from exc
    output = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        command = " ".join(shlex.quote(arg) for arg in argv)
        raise StepFailed(redact(f"{name} failed (exit {done.returncode}): {command}") + f"\n{tail(output)}")
    return output


def user_id(name):
    """chown's reading of a user: the name, else a number."""
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise StepFailed(f"ownership failed: no user {name!r}") from None


def group_id(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise StepFailed(f"ownership failed: no group {name!r}") from None


def tree(top):
    """(path, lstat) of top and of everything under it, symlinks not followed (as find -P lists them)."""
    st = os.lstat(top)
    yield top, st
    if not stat.S_ISDIR(st.st_mode):
        return

    def fail(exc):
        raise exc

    for directory, subdirs, files in os.walk(top, onerror=fail):
        for name in subdirs + files:
            path = os.path.join(directory, name)
            yield path, os.lstat(path)


def takes_owner(st):
    """find's `-type d -o -links 1`: directories, and the files nothing outside the venv links to.

    uv hardlinks installed files from its cache (link count > 1): they stay root's, since chowning
    them would chown the cache and every other venv linked to it.
    """
    return stat.S_ISDIR(st.st_mode) or st.st_nlink == 1


def own(venv, uid, gid):
    """chown -h uid:gid what takes_owner() picks, then chmod -R go-w: returns the paths chowned."""
    chowned = 0
    for path, st in tree(venv):
        mode = stat.S_IMODE(st.st_mode)
        if takes_owner(st):
            os.lchown(path, uid, gid)
            chowned += 1
            if mode & (stat.S_ISUID | stat.S_ISGID):
                mode = stat.S_IMODE(os.lstat(path).st_mode)  # chown may have cleared them
        # chmod -R leaves symlinks alone; a file already without go+w needs no call.
        if not stat.S_ISLNK(st.st_mode) and mode & 0o022:
            os.chmod(path, mode & ~0o022)
    return chowned


def write_marker(path, content, uid=-1, gid=-1, mode=0o644):
    """Write the marker beside its final name, then rename it: a reader sees the old one or the new one."""
    fd, tmp = tempfile.mkstemp(prefix=".pyops-venv.", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())  # the marker says the venv is complete: it must not outlive a crash empty
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def timed(seconds, name, action, *args):
    start = time.monotonic()
    result = action(*args)
    seconds[name] = round(time.monotonic() - start, 3)
    return result


def check_plan(plan):
    """Raise ValueError unless plan has the shape the docstring at the top describes."""
    if not isinstance(plan, dict) or not isinstance(plan.get("venv"), str) or not plan["venv"].startswith("/"):
        raise ValueError("it needs the venv's absolute path as 'venv'")
    for step in plan.get("steps", []):
        if not (isinstance(step, dict) and isinstance(step.get("step"), str) and isinstance(step.get("argv"), list)):
            raise ValueError(f"a step needs a name ('step') and a command ('argv'): {step!r}")
        if not step["argv"] or not all(isinstance(arg, str) for arg in step["argv"]):
            raise ValueError(f"the command of {step['step']} is not a list of strings")
    marker = plan.get("marker")
    if marker and not (
        isinstance(marker, dict) and isinstance(marker.get("path"), str) and isinstance(marker.get("content"), str)
    ):
        raise ValueError("the marker needs a 'path' and a 'content'")


def uncompiled(venv):
    """The .py files under <venv>/lib that have no bytecode beside them yet."""
    missing = []
    for directory, subdirs, files in os.walk(os.path.join(venv, "lib")):
        subdirs[:] = [name for name in subdirs if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                if not os.path.exists(cache_from_source(path)):
                    missing.append(path)
    return missing


def compile_rest(venv):
    """Compile what the carry left without bytecode; return compileall's output.

    Carried bytecode is valid (its source is the very same file), so only the files without any
    need compiling, and listing them spares compileall reading the header of every other .pyc
    (most of a code-only build's time with a large dependency set). When most files are missing
    (nothing to carry from), all of lib/ is compiled with a worker per core instead.
    """
    python, lib = os.path.join(venv, "bin", "python"), os.path.join(venv, "lib")
    missing = uncompiled(venv)
    if not missing:
        return ""
    if len(missing) > COMPILE_LIST_LIMIT:
        return run("compileall", [python, "-m", "compileall", "-q", "-j", "0", lib])
    with tempfile.NamedTemporaryFile("w", prefix="pyops-compile-", suffix=".txt") as listing:
        listing.write("\n".join(missing) + "\n")
        listing.flush()
        return run("compileall", [python, "-m", "compileall", "-q", "-i", listing.name])


def build(plan):
    """Run the plan; return the report printed on success, or raise StepFailed."""
    venv = plan["venv"]
    seconds, output, carried = {}, {}, 0
    for step in plan.get("steps", []):
        name = step["step"]
        creates = step.get("creates")
        if creates and os.path.lexists(creates):
            continue
        text = timed(seconds, name, run, name, step["argv"], step.get("chdir"))
        if text.strip():
            output[name] = tail(text)
    if plan.get("carry_from"):
        try:
            carried = timed(seconds, "carry", carry, plan["carry_from"], venv)
        except OSError as exc:
            raise StepFailed(f"carrying the bytecode of {plan['carry_from']} failed: {exc}") from exc
    if plan.get("compile"):
        text = timed(seconds, "compileall", compile_rest, venv)
        if text.strip():
            output["compileall"] = tail(text)
    uid = gid = -1
    if plan.get("owner"):
        uid, gid = user_id(plan["owner"]), group_id(plan.get("group") or plan["owner"])
        try:
            timed(seconds, "ownership", own, venv, uid, gid)
        except OSError as exc:
            raise StepFailed(f"ownership failed: {exc}") from exc
    marker = plan.get("marker")
    if marker:
        try:
            timed(seconds, "marker", write_marker, marker["path"], marker["content"], uid, gid)
        except OSError as exc:
            raise StepFailed(f"writing the marker failed: {exc}") from exc
    return {"carried": carried, "seconds": seconds, "output": output}


def main(argv):
    if len(argv) == 4 and argv[1] == "carry":
        carried = carry(argv[2], argv[3])
        try:
            compile_rest(argv[3])
        except StepFailed as exc:
            sys.stderr.write(f"{exc}\n")
            return 1
        print(carried)
        return 0
    try:
        if len(argv) != 2:
            raise StepFailed("usage: build_venv.py PLAN, or build_venv.py carry EARLIER NEW")
        try:
            plan = json.loads(argv[1])
            check_plan(plan)
        except ValueError as exc:
            raise StepFailed(f"the plan is not valid: {exc}") from exc
        report = build(plan)
    except StepFailed as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    # One line, ASCII only: the output may come back through a terminal.
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
