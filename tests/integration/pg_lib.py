# SPDX-License-Identifier: Apache-2.0
"""A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temp dir, a free TCP port on
127.0.0.1 and the unix socket in the same temp dir; no system service is touched. initdb
refuses to run as root, so under root every server command runs as `nobody` (runuser) in a
temp dir owned by it."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def pg_bindir():
    """Directory of initdb/pg_ctl/postgres (Debian: /usr/lib/postgresql/<ver>/bin); None if
    PostgreSQL is not installed."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(os.path.join(d, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return d
    p = shutil.which("pg_ctl")
    return os.path.dirname(p) if p and shutil.which("initdb") else None


class PgServer:
    def __init__(self, port, bindir=None):
        self.bindir = bindir or pg_bindir()
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="kbsfs-pg-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody", "nogroup")
            self.as_user = ["runuser", "-u", "nobody", "--"]
        os.chmod(self.dir, 0o700)

    def _run(self, *argv, check=True):
        cmd = self.as_user + [os.path.join(self.bindir, argv[0])] + list(argv[1:])
        return subprocess.run(cmd, cwd=self.dir, check=check, capture_output=True, text=True,
                              timeout=60)

    def init(self):
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")
        return self

    def start(self):
        opts = ("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=100" % (self.port, self.dir))
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w",
                  "-t", "30", "start")
        return self

    def stop(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop",
                  check=False)

    def psql(self, sql, *args):
        """Runs sql (psql -v vars in args) over the unix socket; returns stdout."""
        cmd = [os.path.join(self.bindir, "psql"), "-h", str(self.dir), "-p", str(self.port),
               "-U", "postgres", "-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1"]
        for a in args:
            cmd += ["-v", a]
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True, timeout=30,
                           check=True)
        return r.stdout

    def cleanup(self):
        self.stop()
        if os.environ.get("KBS_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
