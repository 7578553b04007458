# SPDX-License-Identifier: Apache-2.0
"""kbsfs against a real kbs (TLS, LocalFs repository in both layouts) with the sample TEE:
exact bytes, memory-served second read, EACCES/ENOENT/EIO, single attestation for 50 concurrent
first readers (kbs metrics), rotation through the admin API, read-only and permissions."""

import base64
import errno
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from kbsfs_mountlib import Mount, force_unmount, read_as, wait_until
from kbsfs_testlib import find_binary, needed_libs

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse")

ALLOW_ALL = "package policy\n\ndefault allow = true\n"
DENY_ALL = "package policy\n\ndefault allow = false\n"
SECRET = b"a secret"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Kbs:
    """A kbs daemon with TLS, an open admin API (test only) and a LocalFs repository."""

    def __init__(self, daemons, tmp_dir, port, cert, layout):
        self.daemons, self.port, self.cert, self.layout = daemons, port, cert, layout
        self.url = f"https://127.0.0.1:{port}"
        self.repo = tmp_dir / "repository"
        self.repo.mkdir(exist_ok=True)
        cfg = [
            "[http_server]", f'sockets = ["127.0.0.1:{port}"]',
            f'certificate = "{cert.cert}"', f'private_key = "{cert.key}"', "",
            "[admin]", 'authorization_mode = "InsecureAllowAll"', "",
        ]
        if layout == "tree":  # Trustee <= v0.18 resource plugin: <dir>/<repo>/<type>/<tag>
            cfg += ["[[plugins]]", 'name = "resource"', 'type = "LocalFs"',
                    f'dir_path = "{self.repo}"']
        else:  # unified storage: <dir>/repository/<repo>\x2F<type>\x2F<tag>
            cfg += ["[storage_backend]", 'storage_type = "LocalFs"',
                    "[storage_backend.backends.local_fs]", f'dir_path = "{self.repo}"']
        self.config = tmp_dir / f"kbs-{layout}.toml"
        self.config.write_text("\n".join(cfg) + "\n")
        self.daemon = None

    def seed(self, path, data):
        """Writes a resource straight into the repository, as an operator (or the Azure Key
        Vault CSI driver) would."""
        if self.layout == "tree":
            p = self.repo / path
        else:
            p = self.repo / "repository" / path.replace("/", "\\x2F")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

    def start(self):
        self.daemon = self.daemons.start(["kbs", "--config-file", str(self.config)],
                                         ready_port=self.port)
        return self

    def stop(self):
        self.daemon.stop()

    def admin(self, method, path, **kw):
        r = requests.request(method, self.url + path, verify=str(self.cert.cert), timeout=10,
                             **kw)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r

    def set_resource(self, path, data):
        self.admin("POST", "/kbs/v0/resource/" + path, data=data,
                   headers={"Content-Type": "application/octet-stream"})

    def set_policy(self, rego):
        self.admin("POST", "/kbs/v0/resource-policy", json={"policy": b64u(rego.encode())})

    def attestations(self):
        text = requests.get(self.url + "/metrics", verify=str(self.cert.cert), timeout=10).text
        n = 0.0
        for line in text.splitlines():
            if line.startswith("kbs_attestations_total{") and 'result="success"' in line:
                n += float(line.split()[-1])
        return n


@pytest.fixture(params=["tree", "flat"])
def kbs(request, daemons, tmp_dir, free_port, tls_cert):
    k = Kbs(daemons, tmp_dir, free_port(), tls_cert(), request.param)
    k.seed("default/akv/coco_one", SECRET)
    k.start()
    k.set_policy(ALLOW_ALL)
    return k


@pytest.fixture
def mount_kbsfs(tmp_dir):
    mounts = []

    def make(kbs, *opts):
        options = [f"kbs_url={kbs.url}", f"kbs_cert={kbs.cert.cert}", "tee=sample",
                   "allow_sample", "timeout=5"] + list(opts)
        m = Mount(find_binary("kbsfs"), tmp_dir / f"mnt{len(mounts)}", options, tmp_dir)
        mounts.append(m)
        return m.start()

    yield make
    for m in mounts:
        m.stop()


def test_cat_exact_bytes_and_second_read_needs_no_network(kbs, mount_kbsfs):
    blob = bytes(range(256)) + b"\x00\xff end"
    kbs.set_resource("default/bin/blob", blob)
    m = mount_kbsfs(kbs)
    assert kbs.attestations() == 0  # mounting does not attest
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    assert m.path("default/bin/blob").read_bytes() == blob
    assert kbs.attestations() == 1
    st = m.status()
    assert st["attestation"]["attested"] is True and st["attestation"]["tee"] == "sample"
    assert st["attestation"]["token_expiry"] > time.time()
    kbs.stop()
    for _ in range(3):
        assert m.path("default/akv/coco_one").read_bytes() == SECRET
        assert m.path("default/bin/blob").read_bytes() == blob


def test_denied_unknown_and_unreachable(kbs, mount_kbsfs, free_port):
    kbs.set_policy(DENY_ALL)
    m = mount_kbsfs(kbs)
    with pytest.raises(PermissionError):
        m.path("default/akv/coco_one").read_bytes()
    err = m.status()["resources"]["default/akv/coco_one"]["last_error"]
    assert err["errno"] == "EACCES" and err["type"] == "PolicyDeny"
    assert "denied" in err["detail"].lower()
    kbs.set_policy(ALLOW_ALL)  # failures are not cached
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    with pytest.raises(FileNotFoundError):
        m.path("default/akv/no_such_secret").read_bytes()
    assert m.status()["resources"]["default/akv/no_such_secret"]["state"] == "not_found"


def test_kbs_down_at_first_access_then_back(daemons, tmp_dir, free_port, tls_cert, mount_kbsfs):
    k = Kbs(daemons, tmp_dir, free_port(), tls_cert(), "tree")
    k.seed("default/akv/coco_one", SECRET)
    m = mount_kbsfs(k)  # the KBS is not running yet
    t0 = time.monotonic()
    with pytest.raises(OSError) as ei:
        m.path("default/akv/coco_one").read_bytes()
    assert ei.value.errno == errno.EIO
    assert time.monotonic() - t0 < 8
    assert m.status()["resources"]["default/akv/coco_one"]["last_error"]["errno"] == "EIO"
    k.start()
    k.set_policy(ALLOW_ALL)
    assert m.path("default/akv/coco_one").read_bytes() == SECRET


def test_fifty_concurrent_first_readers_attest_once(kbs, mount_kbsfs):
    for i in range(5):
        kbs.set_resource(f"default/many/s{i}", f"value-{i}".encode())
    m = mount_kbsfs(kbs)
    results = [None] * 50
    barrier = threading.Barrier(50)

    def reader(i):
        barrier.wait()
        name = "default/akv/coco_one" if i % 2 == 0 else f"default/many/s{i % 5}"
        try:
            results[i] = (name, m.path(name).read_bytes())
        except OSError as e:
            results[i] = (name, e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for name, got in results:
        want = SECRET if name.endswith("coco_one") else f"value-{name[-1]}".encode()
        assert got == want, (name, got)
    assert kbs.attestations() == 1
    assert m.status()["attestation"]["attestations"] == 1


def test_rotation_through_admin_api(kbs, mount_kbsfs):
    old, new = b"rotation-old", b"rotation-new-and-longer"
    kbs.set_resource("default/rot/key", old)
    m = mount_kbsfs(kbs, "refresh=1")
    f = m.path("default/rot/key")
    assert f.read_bytes() == old
    bad, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            v = f.read_bytes()
            if v not in (old, new):
                bad.append(v)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        kbs.set_resource("default/rot/key", new)
        t0 = time.monotonic()
        wait_until(lambda: f.read_bytes() == new, 5, "the rotated value")
        took = time.monotonic() - t0
        kbs.set_resource("default/rot/key", old)
        wait_until(lambda: f.read_bytes() == old, 5, "the value rotated back")
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert took < 2.5
    assert bad == []
    # deleting the resource on the server removes it from the mount at the next refresh
    kbs.admin("DELETE", "/kbs/v0/resource/default/rot/key")

    def gone():
        try:
            f.read_bytes()
            return False
        except OSError as e:
            return e.errno in (errno.ENOENT, errno.EACCES)

    wait_until(gone, 5, "the deleted resource to disappear")


def test_failed_refresh_keeps_last_good_value(kbs, mount_kbsfs):
    m = mount_kbsfs(kbs, "refresh=1")
    f = m.path("default/akv/coco_one")
    assert f.read_bytes() == SECRET
    kbs.stop()
    wait_until(lambda: m.status()["resources"]["default/akv/coco_one"]["refresh_failures"] >= 1,
               10, "a failed refresh in the status file")
    st = m.status()["resources"]["default/akv/coco_one"]
    assert st["state"] == "ok" and st["last_error"]["errno"] == "EIO"
    assert f.read_bytes() == SECRET


def test_read_only_and_other_uid(kbs, mount_kbsfs, tmp_dir):
    os.chmod(tmp_dir, 0o755)
    m = mount_kbsfs(kbs, "uid=0", "gid=0")
    f = m.path("default/akv/coco_one")
    assert f.read_bytes() == SECRET
    for op in (lambda: open(f, "wb"), lambda: os.chmod(f, 0o644),
               lambda: open(m.path("default/akv/new"), "wb")):
        with pytest.raises(OSError) as ei:
            op()
        assert ei.value.errno == errno.EROFS
    assert read_as(65534, f) == "EACCES"


def test_guest_components_cdh_toml_config(kbs, tmp_dir):
    """A cdh.toml as guest-components writes it ([kbc] with the PEM inline, [[credentials]]),
    plus a [kbsfs] table, is enough to mount."""
    pem = open(kbs.cert.cert).read()
    cfg = tmp_dir / "cdh.toml"
    cfg.write_text(
        'socket = "unix:///run/confidential-containers/cdh.sock"\n\n'
        "[kbc]\n"
        'name = "cc_kbc"\n'
        f'url = "{kbs.url}"\n'
        f"kbs_cert = '''\n{pem}'''\n\n"
        "[[credentials]]\n"
        'path = "/run/confidential-containers/cdh/kbs/akv/coco_one"\n'
        'resource_uri = "kbs:///default/akv/coco_one"\n\n'
        "[kbsfs]\n"
        'tee = "sample"\n'
        "allow_sample = true\n"
        "mode = 0o440\n")
    m = Mount(find_binary("kbsfs"), tmp_dir / "cfgmnt", [f"config={cfg}"], tmp_dir)
    with m:
        assert os.listdir(m.path("default/akv")) == ["coco_one"]
        assert m.status()["resources"]["default/akv/coco_one"]["state"] == "unfetched"
        assert m.path("default/akv/coco_one").read_bytes() == SECRET
        assert oct(os.stat(m.path("default/akv/coco_one")).st_mode & 0o777) == "0o440"


@pytest.mark.parametrize("opts,message", [
    ("kbs_cert=/nonexistent,tee=sample,allow_sample", "kbs_cert=/nonexistent"),
    ("tee=sample", "allow_sample"),
    ("tee=auto", "TEE"),
])
def test_start_up_errors_are_reported_and_nothing_is_mounted(kbs, tmp_dir, opts, message):
    import subprocess
    mnt = tmp_dir / "errmnt"
    mnt.mkdir(exist_ok=True)
    r = subprocess.run([str(find_binary("kbsfs")), str(mnt), "-o", f"kbs_url={kbs.url}," + opts],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert message in r.stderr
    assert not os.path.ismount(mnt)


def maps_of(pid):
    with open(f"/proc/{pid}/maps") as f:
        return f.read()


def test_kbsfs_links_neither_libcurl_nor_libsystemd():
    """The guest daemon's HTTP client and journald/sd_notify code are the project's own:
    libcurl and libsystemd (and the dozens of libraries they map) stay out of kbsfs'
    memory (docs/performance.md, kbsfs memory). Privilege separation: kbsfs (which holds
    every secret) does not even link libssl; its kbsfs-fetch child does the TLS."""
    needed = needed_libs("kbsfs")
    assert "libfuse3.so.3" in needed and "libssl.so.3" not in needed, needed
    fetch = needed_libs("kbsfs-fetch")
    assert "libssl.so.3" in fetch, fetch
    for n in (needed, fetch):
        assert not [x for x in n if x.startswith(("libcurl", "libsystemd"))], n


def test_tpm_libraries_are_not_loaded_for_other_tees(kbs, mount_kbsfs):
    """tpm2-tss is dlopen()ed only when a TPM is used (attester/tss.c): no guest binary links
    it, and a kbsfs on the sample TEE that has attested and fetched never maps it
    (docs/performance.md, kbsfs memory)."""
    for name in ("kbsfs", "kbsfs-fetch", "attestation-agent", "kbs-client"):
        needed = needed_libs(name)
        assert not [n for n in needed if "libtss2" in n], (name, needed)
    m = mount_kbsfs(kbs)
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    st = m.status()
    child = maps_of(st["attestation"]["fetcher"]["child_pid"])
    assert "libssl" in child  # the right process: it did TLS
    assert "libtss2" not in child
    assert "libtss2" not in maps_of(st["pid"])


def test_privsep_parent_maps_no_tls_and_fetcher_exits_when_idle(kbs, mount_kbsfs):
    """The process holding the secrets never maps libssl; the kbsfs-fetch child (TLS, TEE
    key, token) exits fetch_idle seconds after its last request, and the next miss starts a
    new one, which attests again once."""
    kbs.set_resource("default/akv/later", b"second")
    m = mount_kbsfs(kbs, "fetch_idle=2")
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    st = m.status()
    f = st["attestation"]["fetcher"]
    assert f["running"] is True and f["idle_exit_seconds"] == 2
    starts = f["starts"]
    child = f["child_pid"]
    assert child != st["pid"] and "libssl" in maps_of(child)
    assert "libssl" not in maps_of(st["pid"]) and "kbsfs-fetch" not in maps_of(st["pid"])
    wait_until(lambda: not m.status()["attestation"]["fetcher"]["running"], 10,
               "kbsfs-fetch idle exit")
    assert not os.path.exists(f"/proc/{child}")  # exited and reaped
    st = m.status()
    assert st["attestation"]["attested"] is True  # the last status the child reported
    assert m.path("default/akv/coco_one").read_bytes() == SECRET  # cached: no child needed
    assert m.status()["attestation"]["fetcher"]["running"] is False
    assert kbs.attestations() == 1
    assert m.path("default/akv/later").read_bytes() == b"second"
    f = m.status()["attestation"]["fetcher"]
    assert f["running"] is True and f["starts"] == starts + 1 and f["child_pid"] != child
    assert kbs.attestations() == 2


def test_first_read_is_served_by_the_mount_time_fetcher(kbs, mount_kbsfs):
    """The kbsfs-fetch child that checked the settings at mount time stays and serves the
    first miss, so the first read pays no fork+exec, library loading or TLS context set-up;
    mounting still does not attest, and an unused child exits fetch_idle seconds after the
    mount (docs/performance.md, kbsfs cold path)."""
    m = mount_kbsfs(kbs)
    f = m.status()["attestation"]["fetcher"]
    assert f["running"] is True and f["starts"] == 1
    child = f["child_pid"]
    assert kbs.attestations() == 0
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    f = m.status()["attestation"]["fetcher"]
    assert f["starts"] == 1 and f["child_pid"] == child and f["running"] is True
    assert kbs.attestations() == 1

    idle = mount_kbsfs(kbs, "fetch_idle=1")
    f = idle.status()["attestation"]["fetcher"]
    assert f["starts"] == 1
    wait_until(lambda: not idle.status()["attestation"]["fetcher"]["running"], 10,
               "unused mount-time kbsfs-fetch to exit")
    assert not os.path.exists(f"/proc/{f['child_pid']}")
    assert kbs.attestations() == 1  # the unused mount never attested


def gone(pid):
    """True once pid has exited (a zombie not yet reaped by init counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_background_mount_keeps_no_caller_pipe_open(kbs, tmp_dir):
    """`kbsfs MNT -o ...` without -f returns once mounted, and nothing it leaves running holds
    the caller's stdout/stderr: the mount-time kbsfs-fetch child, which stays, has /dev/null
    as stdio (subprocess.run with captured output waits for EOF on both pipes, like
    `kbsfs ... | cat`)."""
    mnt = tmp_dir / "bgmnt"
    mnt.mkdir()
    opts = f"kbs_url={kbs.url},kbs_cert={kbs.cert.cert},tee=sample,allow_sample,timeout=5"
    daemon = None
    try:
        r = subprocess.run([str(find_binary("kbsfs")), str(mnt), "-o", opts],
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        st = json.loads((mnt / ".kbsfs" / "status").read_text())
        daemon, f = st["pid"], st["attestation"]["fetcher"]
        assert f["running"] is True and f["starts"] == 1
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{f['child_pid']}/fd/{fd}") == "/dev/null"
        assert (mnt / "default/akv/coco_one").read_bytes() == SECRET
        st = json.loads((mnt / ".kbsfs" / "status").read_text())
        assert st["attestation"]["fetcher"]["child_pid"] == f["child_pid"]
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
        wait_until(lambda: gone(daemon), 10, "kbsfs to exit")
        assert gone(f["child_pid"])
    finally:
        force_unmount(mnt)
        if daemon and not gone(daemon):
            os.kill(daemon, signal.SIGKILL)


def queued_to(pid):
    """Messages waiting in the receive queues of pid's UNIX sockets (ss from iproute2)."""
    out = subprocess.run(["ss", "-x", "-a", "-p", "-H"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return sum(int(line.split()[2]) for line in out.splitlines() if f"pid={pid}," in line)


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_killed_fetcher_gives_eio_then_recovers(kbs, mount_kbsfs):
    """A kbsfs-fetch that dies with a request in flight fails that request with EIO (never
    a partial value); the next access starts a fresh child and succeeds."""
    kbs.set_resource("default/akv/victim", b"victim value")
    m = mount_kbsfs(kbs)
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    f = m.status()["attestation"]["fetcher"]
    child, starts = f["child_pid"], f["starts"]
    os.kill(child, signal.SIGSTOP)  # holds the next request in flight
    # stopped for real before the request goes out (else it may take the request first)
    wait_until(lambda: proc_state(child) == "T", 10, "kbsfs-fetch stopped")
    result = {}

    def reader():
        try:
            result["value"] = m.path("default/akv/victim").read_bytes()
        except OSError as e:
            result["errno"] = e.errno

    t = threading.Thread(target=reader)
    t.start()
    # in flight once it waits in the stopped child's socket (a child killed before that
    # would count as died while idle and be replaced without an error)
    wait_until(lambda: queued_to(child) > 0, 10, "the request queued to kbsfs-fetch")
    assert t.is_alive()
    os.kill(child, signal.SIGKILL)
    t.join(10)
    assert result == {"errno": errno.EIO}
    err = m.status()["resources"]["default/akv/victim"]["last_error"]
    assert err["errno"] == "EIO" and "kbsfs-fetch" in err["detail"]
    assert m.path("default/akv/victim").read_bytes() == b"victim value"
    f = m.status()["attestation"]["fetcher"]
    assert f["running"] is True and f["starts"] == starts + 1 and f["child_pid"] != child


def test_privsep_off_runs_the_broker_in_process(kbs, mount_kbsfs):
    """-o privsep=0 (debugging/compatibility): one process, which does the TLS itself."""
    m = mount_kbsfs(kbs, "privsep=0")
    assert m.path("default/akv/coco_one").read_bytes() == SECRET
    st = m.status()
    assert "fetcher" not in st["attestation"]
    assert "libssl" in maps_of(st["pid"])
