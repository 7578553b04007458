# SPDX-License-Identifier: Apache-2.0
"""kbsfs file-system semantics on a real FUSE mount, with kbsfs-fake (the real daemon with a
directory instead of a KBS, see tests/helpers/kbsfs_fake_main.c): error mapping, read-only,
permissions, single flight, rotation, status file, clean unmount. The same daemon against a
real kbs is covered by test_kbsfs_kbs.py."""

import errno
import json
import os
import signal
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kbsfs_mountlib import Mount, force_unmount, is_mounted, read_as, wait_until
from kbsfs_testlib import find_binary, wait_for

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse")

SECRET = b"a secret"
BINARY = bytes(range(256)) * 3 + b"\x00tail"


@pytest.fixture
def store(tmp_dir):
    d = tmp_dir / "store"
    (d / "res/default/akv").mkdir(parents=True)
    (d / "res/default/akv/coco_one").write_bytes(SECRET)
    (d / "res/default/bin").mkdir(parents=True)
    (d / "res/default/bin/blob").write_bytes(BINARY)
    (d / "deny/default/akv").mkdir(parents=True)
    (d / "deny/default/akv/denied").write_text("rule: tee must not be sample")
    return d


def put(store, path, data):
    p = store / "res" / path
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, p)


@pytest.fixture
def mount_fake(tmp_dir, store):
    mounts = []

    def make(*opts, name=None):
        options = ["kbs_url=https://127.0.0.1:1"] + list(opts)
        m = Mount(find_binary("kbsfs-fake"), tmp_dir / f"mnt{len(mounts)}", options, tmp_dir,
                  env={"KBSFS_FAKE_DIR": str(store)}, name=name)
        mounts.append(m)
        return m.start()

    yield make
    for m in mounts:
        m.stop()


def fetches(m):
    return m.status()["attestation"]["fetches"]


def test_cat_returns_exact_bytes_and_second_read_is_from_memory(mount_fake, store):
    m = mount_fake("resources=default/akv/coco_one")
    assert fetches(m) == 0  # mounting does not fetch or attest
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    assert m.path("default/bin/blob").read_bytes() == BINARY
    assert fetches(m) == 2
    (store / "down").touch()  # the KBS is gone: the file is still readable
    for _ in range(3):
        assert m.path("default/akv/coco_one").read_bytes() == SECRET
    out = subprocess.run(["cat", str(m.path("default/akv/coco_one"))], capture_output=True)
    assert out.returncode == 0 and out.stdout == SECRET
    assert fetches(m) == 2


def test_attributes_owner_mode_and_listing(mount_fake):
    m = mount_fake("resources=default/akv/coco_one:other/x/y", "uid=1234", "gid=4321",
                   "mode=0440")
    st = os.stat(m.path("default/akv/coco_one"))
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o440
    assert (st.st_uid, st.st_gid, st.st_size) == (1234, 4321, len(SECRET))
    d = os.stat(m.path("default/akv"))
    assert stat.S_ISDIR(d.st_mode) and stat.S_IMODE(d.st_mode) == 0o550
    assert sorted(os.listdir(m.mountpoint)) == [".kbsfs", "default", "other"]
    assert os.listdir(m.path("default/akv")) == ["coco_one"]
    assert os.listdir(m.path("other/x")) == ["y"]  # declared, not fetched yet
    m.path("default/bin/blob").read_bytes()
    assert sorted(os.listdir(m.path("default"))) == ["akv", "bin"]
    # readdir's d_ino matches stat's st_ino
    with os.scandir(m.path("default/akv")) as it:
        e = next(it)
        assert e.inode() == os.stat(e.path).st_ino


def test_error_mapping(mount_fake, store):
    m = mount_fake()
    with pytest.raises(FileNotFoundError):
        m.path("default/akv/unknown").read_bytes()
    with pytest.raises(PermissionError):
        m.path("default/akv/denied").read_bytes()
    st = m.status()["resources"]["default/akv/denied"]
    assert st["state"] == "denied"
    assert st["last_error"]["errno"] == "EACCES"
    assert st["last_error"]["type"] == "PolicyDeny"
    assert "tee must not be sample" in st["last_error"]["detail"]
    assert m.status()["resources"]["default/akv/unknown"]["state"] == "not_found"
    # paths that cannot be resources fail locally, without asking the KBS
    before = fetches(m) + 1  # + the coco_one read below
    for bad in [".hidden", "default/.x", "default/akv/.x", ".kbsfs/nothing", "default/akv/a b",
                "default/akv/" + "x" * 256]:
        with pytest.raises(OSError) as ei:
            os.stat(m.path(bad))
        assert ei.value.errno in (errno.ENOENT, errno.ENAMETOOLONG), bad
    m.path("default/akv/coco_one").read_bytes()
    with pytest.raises(NotADirectoryError):
        os.stat(m.path("default/akv/coco_one/x"))
    assert fetches(m) == before


def test_kbs_down_gives_eio_then_recovers(mount_fake, store):
    m = mount_fake()
    (store / "down").touch()
    with pytest.raises(OSError) as ei:
        m.path("default/akv/coco_one").read_bytes()
    assert ei.value.errno == errno.EIO
    st = m.status()["resources"]["default/akv/coco_one"]
    assert st["state"] == "error" and st["last_error"]["errno"] == "EIO"
    (store / "down").unlink()
    assert m.path("default/akv/coco_one").read_bytes() == SECRET


def test_concurrent_first_readers_share_one_fetch(mount_fake, store):
    (store / "delay_ms").write_text("300")
    m = mount_fake()
    results = [None] * 50
    barrier = threading.Barrier(50)

    def reader(i):
        barrier.wait()
        results[i] = m.path("default/akv/coco_one").read_bytes()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [SECRET] * 50
    assert fetches(m) == 1


def test_everything_is_read_only(mount_fake):
    m = mount_fake()
    f = m.path("default/akv/coco_one")
    assert f.read_bytes() == SECRET
    attempts = [
        lambda: open(f, "wb"),
        lambda: open(f, "ab"),
        lambda: open(f, "r+b"),
        lambda: os.truncate(f, 0),
        lambda: os.chmod(f, 0o644),
        lambda: os.chown(f, 1, 1),
        lambda: os.utime(f, (1, 1)),
        lambda: os.unlink(f),
        lambda: os.rename(f, m.path("default/akv/moved")),
        lambda: open(m.path("default/akv/new"), "wb"),
        lambda: os.mkdir(m.path("default/akv/newdir")),
        lambda: os.symlink("x", m.path("default/akv/link")),
        lambda: os.link(f, m.path("default/akv/hard")),
        lambda: os.rmdir(m.path("default/akv")),
        lambda: os.setxattr(f, "user.x", b"1"),
        lambda: open(m.path(".kbsfs/status"), "wb"),
    ]
    for i, op in enumerate(attempts):
        with pytest.raises(OSError) as ei:
            op()
        assert ei.value.errno == errno.EROFS, f"attempt {i}: {ei.value}"
    assert f.read_bytes() == SECRET


def test_other_uid_cannot_read_0400_file(mount_fake, tmp_dir):
    os.chmod(tmp_dir, 0o755)  # so that only the mount decides
    m = mount_fake("uid=0", "gid=0")
    f = m.path("default/akv/coco_one")
    assert f.read_bytes() == SECRET
    assert read_as(65534, f) == "EACCES"
    m2 = mount_fake("uid=65534", "gid=65534")
    assert read_as(65534, m2.path("default/akv/coco_one")) == "OK"


def test_rotation_is_seen_within_one_period_and_never_partial(mount_fake, store):
    old, new = b"old-value", b"the-new-and-longer-value"
    put(store, "default/rot/key", old)
    m = mount_fake("refresh=1")
    f = m.path("default/rot/key")
    assert f.read_bytes() == old
    bad = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            v = f.read_bytes()
            if v not in (old, new):
                bad.append(v)

    def slow_reader():
        # reads in small pieces with pauses, so it straddles rotations: an open file keeps
        # showing the version it opened
        while not stop.is_set():
            with open(f, "rb", buffering=0) as fh:
                parts = [fh.read(4)]
                time.sleep(0.2)
                while True:
                    chunk = fh.read(3)
                    if not chunk:
                        break
                    parts.append(chunk)
            v = b"".join(parts)
            if v not in (old, new):
                bad.append(v)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads += [threading.Thread(target=slow_reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        put(store, "default/rot/key", new)
        t0 = time.monotonic()
        wait_until(lambda: f.read_bytes() == new, 5, "the new value")
        took = time.monotonic() - t0
        # flip back and forth while readers run
        for i in range(6):
            put(store, "default/rot/key", old if i % 2 == 0 else new)
            time.sleep(0.6)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert took < 2.5, f"new value visible after {took:.1f}s with refresh=1"
    assert bad == []
    assert m.status()["resources"]["default/rot/key"]["version"] >= 2


def test_refresh_keeps_last_good_on_failure_and_drops_on_denial(mount_fake, store):
    m = mount_fake("refresh=1")
    f = m.path("default/akv/coco_one")
    assert f.read_bytes() == SECRET
    (store / "down").touch()
    wait_until(lambda: m.status()["resources"]["default/akv/coco_one"]["refresh_failures"] >= 1,
               5, "a failed refresh in status")
    assert f.read_bytes() == SECRET
    st = m.status()["resources"]["default/akv/coco_one"]
    assert st["state"] == "ok" and st["last_error"]["errno"] == "EIO"
    (store / "down").unlink()
    (store / "deny/default/akv/coco_one").write_text("revoked")

    def denied():
        try:
            f.read_bytes()
            return False
        except PermissionError:
            return True

    wait_until(denied, 5, "EACCES after the policy changed")
    st = m.status()["resources"]["default/akv/coco_one"]
    assert st["state"] == "denied" and st["size"] is None


def test_status_is_json_without_secrets(mount_fake):
    m = mount_fake("resources=default/akv/coco_one")
    m.path("default/akv/coco_one").read_bytes()
    raw = m.path(".kbsfs/status").read_bytes()
    doc = json.loads(raw)
    assert SECRET not in raw
    assert doc["resources"]["default/akv/coco_one"]["state"] == "ok"
    assert doc["resources"]["default/akv/coco_one"]["size"] == len(SECRET)
    assert doc["kbs_url"] == "https://127.0.0.1:1"
    assert "token" not in doc["attestation"]
    assert stat.S_IMODE(os.stat(m.path(".kbsfs/status")).st_mode) == 0o444


def test_hardening_and_clean_unmount_on_sigterm(mount_fake):
    m = mount_fake()
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    pid = m.daemon.pid
    limits = Path(f"/proc/{pid}/limits").read_text()
    core = [ln for ln in limits.splitlines() if ln.startswith("Max core file size")][0]
    assert core.split()[4:6] == ["0", "0"]
    status = Path(f"/proc/{pid}/status").read_text()
    locked_kb = int([ln for ln in status.splitlines() if ln.startswith("VmLck:")][0].split()[1])
    assert locked_kb > 0, "the secret arena is not mlock'ed"
    assert m.daemon.stop() == 0
    assert not is_mounted(m.mountpoint)


def test_fusermount_unmount_ends_the_daemon(mount_fake):
    m = mount_fake()
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    subprocess.run(["fusermount3", "-u", str(m.mountpoint)], check=True)
    wait_until(lambda: not m.daemon.running, 10, "kbsfs to exit")
    assert m.daemon.proc.returncode == 0
    assert not is_mounted(m.mountpoint)


def test_background_mode_returns_after_mount(tmp_dir, store):
    mnt = tmp_dir / "bg"
    mnt.mkdir()
    try:
        r = subprocess.run([str(find_binary("kbsfs-fake")), str(mnt), "-o",
                            "kbs_url=https://127.0.0.1:1"],
                           env=dict(os.environ, KBSFS_FAKE_DIR=str(store)), timeout=20,
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        assert is_mounted(mnt)
        assert (mnt / "default/akv/coco_one").read_bytes() == SECRET
    finally:
        force_unmount(mnt)
    # bad options fail before anything is mounted, with a message
    r = subprocess.run([str(find_binary("kbsfs-fake")), str(mnt), "-o", "tee=sample"],
                       env=dict(os.environ, KBSFS_FAKE_DIR=str(store)), timeout=20,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "kbs_url" in r.stderr
    assert not is_mounted(mnt)
