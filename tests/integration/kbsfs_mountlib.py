# SPDX-License-Identifier: Apache-2.0
"""Helpers for kbsfs mount tests: start kbsfs (or the kbsfs-fake test double), wait for the
mount, read the status file, and always leave nothing mounted."""

import json
import os
import subprocess
import time
from pathlib import Path

from kbsfs_testlib import Daemon, wait_for


def is_mounted(path):
    path = os.path.realpath(str(path))
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4 and fields[4] == path:
                return True
    return False


def force_unmount(path):
    if is_mounted(path):
        subprocess.run(["fusermount3", "-u", "-z", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Mount:
    """kbsfs in the foreground (-f) under a Daemon; stop() sends SIGTERM."""

    def __init__(self, binary, mountpoint, options, log_dir, env=None, name=None):
        self.mountpoint = Path(mountpoint)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        argv = [str(binary), str(self.mountpoint), "-f", "-o", ",".join(options)]
        self.daemon = Daemon(argv, name=name or Path(binary).name, log_dir=log_dir, env=env,
                             ready_log=r"mounted ", ready_timeout=15)

    def start(self):
        try:
            self.daemon.start()
            wait_for(lambda: is_mounted(self.mountpoint), 10, what="kbsfs mount")
        except BaseException:
            self.stop()
            raise
        return self

    def path(self, rel):
        return self.mountpoint / rel

    def status(self):
        return json.loads((self.mountpoint / ".kbsfs" / "status").read_text())

    def stop(self):
        rc = self.daemon.stop(timeout=10)
        force_unmount(self.mountpoint)
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def read_as(uid, path):
    """Reads path in a child process running as uid/gid `uid`; returns (ok, errno_name)."""
    code = ("import os,sys\n"
            f"os.setgroups([]); os.setgid({uid}); os.setuid({uid})\n"
            "try:\n"
            f"    open({str(path)!r},'rb').read(); print('OK')\n"
            "except OSError as e:\n"
            "    import errno; print(errno.errorcode.get(e.errno, e.errno))\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                         timeout=30)
    return out.stdout.strip()


def wait_until(cond, timeout, what):
    return wait_for(cond, timeout, 0.05, what)


def now():
    return time.monotonic()
