# SPDX-License-Identifier: Apache-2.0
"""`make demo` points of issue #7 that test_kbsfs_demo.py (which runs as whoever runs ctest,
root in CI) does not show: the demo works as a normal user with /dev/fuse access, and a failing
step as that user still leaves nothing mounted or running; the Makefile's demo target installs
(deps) and builds first; the README's first command block is exactly `make demo` and
`make check`."""

import os
import re
import shutil
import subprocess

import pytest

from kbsfs_testlib import _build_dir, _source_dir, wait_for
from test_kbsfs_demo import build_without_upload, leftovers

USER = 65534  # nobody/nogroup: no home, no capabilities, only /dev/fuse (0666) + fusermount3


def as_user_argv():
    return ["setpriv", "--reuid", str(USER), "--regid", str(USER), "--clear-groups",
            "--inh-caps=-all", "env", "HOME=/nonexistent"]


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/dev/fuse") or not shutil.which("setpriv"),
    reason="needs root (to become another user), /dev/fuse and setpriv")


def user_tmp(tmp_dir):
    os.chmod(tmp_dir, 0o755)
    t = tmp_dir / "user"
    t.mkdir()
    os.chown(t, USER, USER)
    return t


def readable_by_others(path):
    p = os.path.realpath(path)
    while p != "/":
        if not os.stat(p).st_mode & 0o005 == 0o005:
            return False
        p = os.path.dirname(p)
    return True


@needs_root
def test_demo_as_a_normal_user(tmp_dir):
    build = _build_dir()
    if not readable_by_others(build / "fs" / "kbsfs"):
        pytest.skip("build directory not readable by other users")
    t = user_tmp(tmp_dir)
    r = subprocess.run(as_user_argv() + ["TMPDIR=%s" % t,
                                         str(_source_dir() / "scripts" / "demo.sh"), str(build)],
                       capture_output=True, text=True, timeout=180, cwd=str(t))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "a secret" in lines and "uploaded by kbs-client" in lines
    assert '"attested": true' in r.stdout
    assert '"uid": %d' % USER in r.stdout  # the files belong to the user who mounted
    # the repository is the AKV CSI layout: "a secret" was read through ..data symlinks
    assert "  default/akv/..data" in lines and "  default/akv/coco_one" in lines
    wait_for(lambda: leftovers(t) == ([], [], []), timeout=30, what="no demo leftovers")


@needs_root
def test_demo_failing_step_as_a_normal_user_leaves_nothing(tmp_dir):
    """The uploaded secret is never uploaded (a kbs-client stand-in swallows set-resource),
    so the second `cat` fails after kbs runs and kbsfs is mounted."""
    real = _build_dir()
    if not readable_by_others(real / "fs" / "kbsfs"):
        pytest.skip("build directory not readable by other users")
    t = user_tmp(tmp_dir)
    fake = build_without_upload(tmp_dir)
    os.chmod(tmp_dir, 0o755)
    r = subprocess.run(as_user_argv() + ["TMPDIR=%s" % t,
                                         str(_source_dir() / "scripts" / "demo.sh"), str(fake)],
                       capture_output=True, text=True, timeout=180, cwd=str(t))
    assert r.returncode != 0, r.stdout
    assert "a secret" in r.stdout.splitlines()  # the failure came after the mount
    assert "demo: FAILED" in r.stderr
    wait_for(lambda: leftovers(t) == ([], [], []), timeout=30, what="no demo leftovers")


def test_makefile_demo_installs_and_builds_first():
    mk = (_source_dir() / "Makefile").read_text()
    targets = dict(re.findall(r"^([a-z-]+):([^\n=]*)$", mk, re.M))
    assert targets["demo"].split() == ["build"]
    assert "deps" in targets["build"].split()
    assert "install-deps.sh" in mk
    m = re.search(r"^demo:.*\n\t(.+)$", mk, re.M)
    assert m and "scripts/demo.sh" in m.group(1)


def test_readme_first_commands_are_make_demo_and_make_check():
    text = (_source_dir() / "README.md").read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", text, re.S)
    # the first block is the flow picture; the first block of commands is the quick start
    cmds = [b for lang, b in blocks if lang in ("sh", "bash", "console", "shell")]
    assert cmds, "README has no command block"
    first = [ln.split("#", 1)[0].strip() for ln in cmds[0].splitlines()]
    assert [c for c in first if c] == ["make demo", "make check"], cmds[0]
    # and it comes before any other command block or mention of another way to start
    assert text.index("make demo") < text.index("make check")
