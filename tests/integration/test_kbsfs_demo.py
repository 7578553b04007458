# SPDX-License-Identifier: Apache-2.0
"""`make demo` (scripts/demo.sh) end to end: prints both secrets and the status, and leaves
nothing mounted or running, also when interrupted."""

import os
import signal
import subprocess
import time

import pytest

from kbsfs_testlib import _build_dir, _source_dir, wait_for

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse")


def leftovers(tmp):
    """Mounts, processes and files of demo runs under tmp (TMPDIR of the demo)."""
    with open("/proc/self/mountinfo") as f:
        mounts = [ln for ln in f if f"{tmp}/kbsfs-demo." in ln]
    procs = subprocess.run(["pgrep", "-f", f"{tmp}/kbsfs-demo"], capture_output=True,
                           text=True).stdout.split()
    return mounts, procs, sorted(os.listdir(tmp))


def nothing_left(tmp):
    """Waits (deadline 30 s) until the demo's cleanup has finished: its processes may still be
    exiting when the script returns."""
    wait_for(lambda: leftovers(tmp) == ([], [], []), timeout=30,
             what=f"no demo leftovers under {tmp}")
    assert leftovers(tmp) == ([], [], [])


def demo_argv():
    return [str(_source_dir() / "scripts" / "demo.sh"), str(_build_dir())]


def test_demo_prints_both_secrets_and_cleans_up(tmp_dir):
    r = subprocess.run(demo_argv(), capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TMPDIR=str(tmp_dir)))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "a secret" in lines
    assert "uploaded by kbs-client" in lines
    assert '"attested": true' in r.stdout
    nothing_left(tmp_dir)


def test_demo_interrupted_leaves_nothing_behind(tmp_dir):
    p = subprocess.Popen(demo_argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=dict(os.environ, TMPDIR=str(tmp_dir)))
    out = ""
    deadline = time.monotonic() + 60
    while "Starting kbs" not in out and time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        out += line
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=30)
    assert p.returncode != 0
    nothing_left(tmp_dir)


def build_without_upload(tmp_dir):
    """A build directory for demo.sh whose kbs-client makes `set-resource` a silent no-op (the
    rest are links to the real build): the demo then fails at the `cat` of the uploaded
    secret, after kbs was started and kbsfs mounted."""
    real = _build_dir()
    fake = tmp_dir / "fake-build"
    for rel in ("server/kbs/kbs", "fs/kbsfs", "fs/kbsfs-fetch"):
        if (real / rel).exists():
            (fake / rel).parent.mkdir(parents=True, exist_ok=True)
            (fake / rel).symlink_to(real / rel)
    client = fake / "tools" / "kbs-client"
    client.parent.mkdir(parents=True)
    client.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = set-resource ] && exit 0; done\n'
                      'exec %s "$@"\n' % (real / "tools" / "kbs-client"))
    client.chmod(0o755)
    return fake


def test_demo_failing_step_after_mount_leaves_nothing_behind(tmp_dir):
    """A step that fails while kbs runs and kbsfs is mounted (here: the admin upload silently
    does nothing, so `cat` of the uploaded secret fails) still unmounts and stops both."""
    fake = build_without_upload(tmp_dir)
    demo_tmp = tmp_dir / "t"
    demo_tmp.mkdir()
    r = subprocess.run([str(_source_dir() / "scripts" / "demo.sh"), str(fake)],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TMPDIR=str(demo_tmp)))
    assert r.returncode != 0, r.stdout
    assert "a secret" in r.stdout.splitlines()  # the failure came after the mount
    assert "demo: FAILED" in r.stderr
    nothing_left(demo_tmp)
