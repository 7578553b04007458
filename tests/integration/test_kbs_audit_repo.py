# SPDX-License-Identifier: Apache-2.0
"""LocalFs writes are atomic and durable (issue #6, Repository): the system calls of a real
kbs, recorded with strace while the admin API uploads, overwrites and deletes, show for both
layouts a new temporary file (O_CREAT|O_EXCL, mode 0600) in the target directory, fsync of
that file, rename over the resource name, fsync of the directory, and nothing else opened for
writing; no temporary file is left behind. The unit tests (unit_kbs_repo) only show the end
state, which a plain truncate-and-write would produce too."""
import re
import shutil

import pytest

from kbs_pyclient import Admin, start_kbs
from kbsfs_testlib import find_binary, wait_for

pytestmark = pytest.mark.skipif(not shutil.which("strace"), reason="strace not installed")

CALLS = "openat,write,fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,close,ftruncate"


def traced_kbs(daemons, tmp_dir, port, layout):
    repo = tmp_dir / "repo"
    repo.mkdir()
    if layout == "tree":
        extra = '[[plugins]]\nname = "resource"\ntype = "LocalFs"\ndir_path = "%s"\n' % repo
        storage = False
    else:
        extra, storage = "", True
    log = tmp_dir / "strace.log"
    cfg_extra = extra
    url, _, _, cfg = start_kbs(daemons, tmp_dir, port, extra=cfg_extra, storage=storage,
                               name="kbs-plain")
    # restart the same configuration under strace (start_kbs wrote the config for us)
    daemons.all[-1].stop()
    daemons.start(["strace", "-ff", "-qq", "-s", "256", "-o", str(log), "-e", "trace=" + CALLS,
                   str(find_binary("kbs")), "--config-file", str(cfg)], ready_port=port,
                  name="kbs-strace", ready_timeout=60)
    where = repo if layout == "tree" else tmp_dir / "storage"
    return url, log, where


def syscalls(log):
    """{thread log file: [(name, args, result)]}; -ff keeps each thread's calls whole and
    in order (no "<unfinished ...>" splits between threads)."""
    out = {}
    for f in sorted(log.parent.glob(log.name + ".*")):
        calls = out.setdefault(f.name, [])
        for ln in f.read_text().splitlines():
            m = re.match(r"(\w+)\((.*)\)\s+=\s+(-?\d+)", ln)
            if m:
                calls.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def since(before, after):
    return {k: v[len(before.get(k, [])):] for k, v in after.items()}


@pytest.mark.parametrize("layout", ["flat", "tree"])
def test_upload_is_tmp_fsync_rename_fsync_dir(daemons, tmp_dir, free_port, layout):
    url, log, where = traced_kbs(daemons, tmp_dir, free_port(), layout)
    admin = Admin(url)
    for value in (b"first value", b"second, longer value"):
        mark = syscalls(log)
        assert admin.set_resource("default/audit/key", value).status_code == 200
        # strace writes each line as the call returns; poll (deadline 30 s) until the rename
        # and the directory fsync after it are in the log
        def done():
            calls = [c for v in since(mark, syscalls(log)).values() for c in v]
            ren = [i for i, c in enumerate(calls) if c[0].startswith("rename") and ".tmp-" in c[1]]
            return ren and any(c[0] == "fsync" for c in calls[ren[0] + 1:])
        wait_for(done, timeout=30, what="the upload's rename and fsync in the strace log")
        per_thread = since(mark, syscalls(log))
        opens = [(t, i, a, rc) for t, calls in per_thread.items()
                 for i, (n, a, rc) in enumerate(calls)
                 if n == "openat" and ("O_WRONLY" in a or "O_RDWR" in a)]
        # exactly one file opened for writing: the temp file
        assert len(opens) == 1, per_thread
        thread, i_open, args, fd = opens[0]
        calls = per_thread[thread]
        tmp = re.search(r'"([^"]+)"', args).group(1)
        assert "key" not in tmp and tmp.startswith(".tmp-"), args  # not the resource itself
        assert "O_CREAT" in args and "O_EXCL" in args and "0600" in args, args
        assert "O_TRUNC" not in args, args
        rest = calls[i_open + 1:]
        names = [n for n, _, _ in rest]
        i_fsync = next((i for i, (n, a, rc) in enumerate(rest)
                        if n in ("fsync", "fdatasync") and a == str(fd) and rc == 0), None)
        assert i_fsync is not None, ("temp file never fsync'ed", rest)
        i_ren = next((i for i, (n, a, rc) in enumerate(rest) if n.startswith("rename")
                      and '"%s"' % tmp in a and rc == 0), None)
        assert i_ren is not None, ("temp file never renamed", rest)
        assert i_fsync < i_ren, names
        ren = rest[i_ren][1]
        if layout == "tree":
            assert ren.endswith('"key"'), ren
        else:
            assert ren.endswith('"default\\\\x2Faudit\\\\x2Fkey"'), ren
        dirfd = ren.split(",")[0].strip()
        assert any(n == "fsync" and a == dirfd and rc == 0 for n, a, rc in rest[i_ren + 1:]), \
            rest[i_ren:]
        assert not any(n == "ftruncate" for c in per_thread.values() for n, _, _ in c)
    assert [p.name for p in where.rglob(".tmp-*")] == []
    assert admin.delete_resource("default/audit/key").status_code == 200
