# SPDX-License-Identifier: Apache-2.0
"""`make demo` (scripts/demo.sh) end to end: prints both secrets and the status, and leaves
nothing mounted or running, also when interrupted."""

import os
import signal
import subprocess
import time

import pytest

from kbsfs_testlib import _build_dir, _source_dir

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse")


def leftovers(tmp):
    """Mounts, processes and files of demo runs under tmp (TMPDIR of the demo)."""
    with open("/proc/self/mountinfo") as f:
        mounts = [ln for ln in f if f"{tmp}/kbsfs-demo." in ln]
    procs = subprocess.run(["pgrep", "-f", f"{tmp}/kbsfs-demo"], capture_output=True,
                           text=True).stdout.split()
    return mounts, procs, sorted(os.listdir(tmp))


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
    assert leftovers(tmp_dir) == ([], [], [])


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
    time.sleep(0.3)
    assert leftovers(tmp_dir) == ([], [], [])
