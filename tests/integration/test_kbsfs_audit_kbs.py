# SPDX-License-Identifier: Apache-2.0
"""kbsfs points of issue #7 that test_kbsfs_fs.py proves only on kbsfs-fake (no real token,
no kbsfs-fetch child), checked here on the real daemon against a real kbs over TLS with the
default privilege separation: the status file's fields and that it holds no token, key or
secret bytes; core dumps off and locked memory in the daemon AND its kbsfs-fetch child;
SIGTERM and `fusermount3 -u` unmount cleanly and leave no child behind; the mount carries
allow_other + default_permissions; a KBS that accepts connections but never answers gives EIO
within the timeout= deadline (the mount itself never waits)."""

import errno
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kbs_pyclient import ALLOW_ALL, DENY_ALL, Admin, start_kbs
from kbsfs_mountlib import Mount, is_mounted, wait_until
from kbsfs_testlib import find_binary

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse")

SECRET = b"audit-secret-\x00\x01-value"


@pytest.fixture
def kbs(daemons, tmp_dir, free_port, tls_cert):
    cert = tls_cert()
    url, verify, _, _ = start_kbs(daemons, tmp_dir, free_port(), tls=cert)
    admin = Admin(url, verify=verify)
    assert admin.set_resource("default/audit/one", SECRET).status_code == 200
    assert admin.set_resource_policy(ALLOW_ALL).status_code == 200
    return url, cert, admin


@pytest.fixture
def mount(tmp_dir):
    mounts = []

    def make(url, cert, *opts):
        # timeout=30: generous for a loaded CI machine; these tests are not about timing
        options = [f"kbs_url={url}", f"kbs_cert={cert.cert}", "tee=sample", "allow_sample",
                   "timeout=30"] + list(opts)
        m = Mount(find_binary("kbsfs"), tmp_dir / f"amnt{len(mounts)}", options, tmp_dir)
        mounts.append(m)
        return m.start()

    yield make
    for m in mounts:
        m.stop()


def walk_keys(doc):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from walk_keys(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from walk_keys(v)


def proc_field(pid, name):
    for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
        if ln.startswith(name + ":"):
            return ln.split(":", 1)[1].split()
    raise AssertionError(f"{name} not in /proc/{pid}/status")


def core_limit(pid):
    ln = [x for x in Path(f"/proc/{pid}/limits").read_text().splitlines()
          if x.startswith("Max core file size")][0]
    return ln.split()[4:6]


def test_status_fields_and_no_token_key_or_secret(kbs, mount):
    url, cert, admin = kbs
    m = mount(url, cert)
    assert m.path("default/audit/one").read_bytes() == SECRET
    with pytest.raises(FileNotFoundError):
        m.path("default/audit/missing").read_bytes()
    assert admin.set_resource("default/audit/denied", b"never").status_code == 200
    assert admin.set_resource_policy(DENY_ALL).status_code == 200
    with pytest.raises(PermissionError):
        m.path("default/audit/denied").read_bytes()
    raw = m.path(".kbsfs/status").read_bytes()
    doc = json.loads(raw)
    # the fields #7 names: attestation state, tee, token expiry, per-resource state, last error
    att = doc["attestation"]
    assert att["attested"] is True and att["tee"] == "sample"
    assert isinstance(att["token_expiry"], int) and att["token_expiry"] > time.time()
    res = doc["resources"]
    assert res["default/audit/one"]["state"] == "ok"
    assert res["default/audit/one"]["last_error"] is None
    assert res["default/audit/one"]["size"] == len(SECRET)
    miss = res["default/audit/missing"]
    assert miss["state"] == "not_found" and miss["last_error"]["errno"] == "ENOENT"
    # our kbs answers a missing resource like Trustee: 401 PluginInternalError; the status
    # says that this type was read as "not found"
    assert miss["last_error"]["type"] == "PluginInternalError"
    mapping = json.dumps(att.get("error_mapping") or doc.get("error_mapping"))
    assert "PluginInternalError" in mapping and "ENOENT" in mapping, doc
    den = res["default/audit/denied"]
    assert den["last_error"]["errno"] == "EACCES" and den["last_error"]["type"] == "PolicyDeny"
    assert "default/audit/denied" in den["last_error"]["detail"]  # the KBS's reason
    # no secret bytes, no token (every JWT starts with base64url '{"' = "eyJ"), no key
    assert SECRET not in raw and b"audit-secret" not in raw
    assert b"eyJ" not in raw, raw
    assert not re.search(rb"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}", raw)
    keys = set(walk_keys(doc))
    assert not keys & {"token", "d", "p", "q", "dp", "dq", "qi", "private_key", "tee_key"}, keys


def test_daemon_and_fetcher_lock_memory_and_dump_no_core(kbs, mount):
    url, cert, _ = kbs
    m = mount(url, cert)
    assert m.path("default/audit/one").read_bytes() == SECRET
    st = m.status()
    parent, child = st["pid"], st["attestation"]["fetcher"]["child_pid"]
    assert child and child != parent
    for pid in (parent, child):
        assert core_limit(pid) == ["0", "0"], pid
    # the parent holds the secret in its locked arena
    assert int(proc_field(parent, "VmLck")[0]) > 0
    # the child holds the TEE private key and the token: locked too
    assert int(proc_field(child, "VmLck")[0]) > 0


@pytest.mark.parametrize("how", ["SIGTERM", "fusermount3 -u"])
def test_unmount_ends_daemon_and_fetcher(kbs, mount, how):
    """The real daemon with its kbsfs-fetch child: both ways down unmount, exit 0 and leave
    no child behind."""
    url, cert, _ = kbs
    m = mount(url, cert)
    assert m.path("default/audit/one").read_bytes() == SECRET
    child = m.status()["attestation"]["fetcher"]["child_pid"]
    assert os.path.exists(f"/proc/{child}")
    if how == "SIGTERM":
        m.daemon.proc.send_signal(signal.SIGTERM)
    else:
        subprocess.run(["fusermount3", "-u", str(m.mountpoint)], check=True)
    wait_until(lambda: not m.daemon.running, 15, f"kbsfs to exit after {how}")
    assert m.daemon.proc.returncode == 0
    assert not is_mounted(m.mountpoint)
    wait_until(lambda: not os.path.exists(f"/proc/{child}"), 10, "kbsfs-fetch to end")


def test_mount_is_allow_other_default_permissions(kbs, mount):
    url, cert, _ = kbs
    m = mount(url, cert)
    real = os.path.realpath(m.mountpoint)
    line = [ln for ln in Path("/proc/self/mountinfo").read_text().splitlines()
            if ln.split()[4] == real][0]
    assert "ro" in line.split()[5].split(","), line  # read-only at the VFS too
    fstype = line.split(" - ", 1)[1].split()
    assert fstype[0] == "fuse.kbsfs" and fstype[1] == "kbsfs", line
    sopts = fstype[2].split(",")
    assert "default_permissions" in sopts and "allow_other" in sopts, line
    # secret files: owner and mode 0400 by default
    st = os.stat(m.path("default/audit/one"))
    assert st.st_mode & 0o777 == 0o400 and st.st_uid == os.getuid()


def test_silent_kbs_gives_eio_within_the_deadline(tmp_dir, tls_cert):
    """A KBS that accepts TCP connections but never answers: mounting does not wait for it,
    the first read fails with EIO by the timeout= deadline (a read without one would block
    for ever), and the status names the failure."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    port = srv.getsockname()[1]
    held, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])  # never answer, never close
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    cert = tls_cert()
    opts = [f"kbs_url=https://127.0.0.1:{port}", f"kbs_cert={cert.cert}", "tee=sample",
            "allow_sample", "timeout=3"]
    m = Mount(find_binary("kbsfs"), tmp_dir / "silent", opts, tmp_dir)
    try:
        t0 = time.monotonic()
        m.start()
        assert time.monotonic() - t0 < 10  # the mount does not wait for the KBS
        t0 = time.monotonic()
        with pytest.raises(OSError) as ei:
            m.path("default/audit/one").read_bytes()
        took = time.monotonic() - t0
        assert ei.value.errno == errno.EIO
        assert 2.0 <= took < 30, took  # timeout=3: bounded by the deadline, not by TCP
        assert held, "kbsfs never connected"
        err = m.status()["resources"]["default/audit/one"]["last_error"]
        assert err["errno"] == "EIO"
    finally:
        m.stop()
        stop.set()
        t.join(5)
        for c in held:
            c.close()
        srv.close()


INITDATA = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "kbsfs-audit"\n'
NEEDS_INITDATA = (
    'package policy\n\ndefault allow = false\n\nallow if {\n'
    '    input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["init_data_claims"]'
    '["aa.toml"] == "kbsfs-audit"\n}\n')


@pytest.mark.parametrize("alg", ["ECDH-ES+A256KW-P521", "RSA-OAEP-256"])
def test_tee_key_algorithm_and_initdata_reach_the_fetcher(kbs, mount, tmp_dir, alg):
    """Options that only the kbsfs-fetch child uses travel through privilege separation:
    tee_key_algorithm= (the KBS encrypts to that key type) and initdata= (its [data] claims
    reach the resource policy)."""
    url, cert, admin = kbs
    assert admin.set_resource_policy(NEEDS_INITDATA).status_code == 200
    f = tmp_dir / "initdata.toml"
    f.write_text(INITDATA)
    m = mount(url, cert, f"tee_key_algorithm={alg}", f"initdata={f}")
    assert m.path("default/audit/one").read_bytes() == SECRET
    assert m.status()["attestation"]["tee_key_algorithm"] == alg
    plain = mount(url, cert)  # same KBS and policy, no init-data: denied
    with pytest.raises(PermissionError):
        plain.path("default/audit/one").read_bytes()
    assert plain.status()["attestation"]["tee_key_algorithm"] == "ECDH-ES+A256KW-P256"


def test_rsa_tee_key_is_generated_before_the_first_read(kbs, mount):
    """kbsfs-fetch generates the TEE key when it starts (the mount-time child reports it
    ready), so an RSA-2048 key (0.2-2 s under load, once over 5 s on the loaded CI machine)
    is not generated inside the first read's deadline: that read succeeds with timeout=5.
    The key serves that one attestation (a fresh key per attestation)."""
    url, cert, _ = kbs
    m = mount(url, cert, "tee_key_algorithm=RSA-OAEP-256", "timeout=5")
    att = m.status()["attestation"]  # what the mount-time kbsfs-fetch reported
    assert att["tee_key_ready"] is True and att["tee_key_generated_ahead_ms"] >= 0, att
    assert att["attestations"] == 0 and att["fetches"] == 0, att  # before any request
    assert m.path("default/audit/one").read_bytes() == SECRET
    att = m.status()["attestation"]
    assert att["attestations"] == 1 and att["tee_key_algorithm"] == "RSA-OAEP-256", att
    assert att["tee_key_ready"] is False, att  # taken by that attestation, not kept for later


def test_plain_toml_config_file_and_command_line_precedence(kbs, tmp_dir):
    """-o config=FILE with kbsfs's own keys (top level, TOML types: 0o440, arrays, booleans)
    mounts; an option on the command line wins over the file; a typo in the file stops the
    mount with a message naming the key (unit_kbsfs_config covers the parser alone)."""
    url, cert, admin = kbs
    assert admin.set_resource("default/audit/two", b"second").status_code == 200
    cfg = tmp_dir / "kbsfs.toml"
    cfg.write_text(f'kbs_url = "{url}"\nkbs_cert = "{cert.cert}"\ntee = "sample"\n'
                   'allow_sample = true\nmode = 0o440\nrefresh = 0\n'
                   'resources = ["default/audit/one", "kbs:///default/audit/two"]\n')
    m = Mount(find_binary("kbsfs"), tmp_dir / "tomlmnt", [f"config={cfg}", "mode=0404"],
              tmp_dir)
    with m:
        assert sorted(os.listdir(m.path("default/audit"))) == ["one", "two"]
        assert m.path("default/audit/two").read_bytes() == b"second"
        # mode=0404 on the command line beats mode = 0o440 in the file
        assert os.stat(m.path("default/audit/two")).st_mode & 0o777 == 0o404
        assert m.status()["mode"] == "0404"
    bad = tmp_dir / "typo.toml"
    bad.write_text(f'kbs_url = "{url}"\ntee = "sample"\nallow_sample = true\nrefersh = 5\n')
    mnt = tmp_dir / "typomnt"
    mnt.mkdir()
    r = subprocess.run([str(find_binary("kbsfs")), str(mnt), "-o", f"config={bad}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "refersh" in r.stderr, r.stderr
    assert not is_mounted(mnt)


def test_secret_larger_than_secmem_is_enomem_and_fits_with_a_bigger_arena(kbs, mount):
    """docs/kbsfs.md error table: "secret memory exhausted -> ENOMEM". A 2 MB secret does
    not fit the default 1 MiB arena: ENOMEM naming the cause (not EIO, which says "retry
    later" and would be retried forever), other secrets unaffected; secmem=8M serves it."""
    url, cert, admin = kbs
    big = os.urandom(2_000_000)
    assert admin.set_resource("default/audit/big", big).status_code == 200
    m = mount(url, cert)
    with pytest.raises(OSError) as ei:
        m.path("default/audit/big").read_bytes()
    assert ei.value.errno == errno.ENOMEM, ei.value
    err = m.status()["resources"]["default/audit/big"]["last_error"]
    assert err["errno"] == "ENOMEM" and "secure memory" in err["detail"], err
    assert m.path("default/audit/one").read_bytes() == SECRET
    m8 = mount(url, cert, "secmem=8M")
    assert m8.path("default/audit/big").read_bytes() == big
