# SPDX-License-Identifier: Apache-2.0
"""Exercises kbsfs_testlib for real: /usr/bin/python3 -m http.server as the daemon under test,
readiness probes (TCP, HTTP, HTTPS with a generated certificate, log regex), log capture,
SIGTERM/SIGKILL stopping, failure messages with the log tail, and cleanup when a test fails."""
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from kbsfs_testlib import (_PORT_LOCK_DIR, Daemon, DaemonError, WaitTimeout, free_port,
                           make_self_signed_cert, wait_for, wait_for_path, wait_for_port)

PY = "/usr/bin/python3"
HERE = Path(__file__).resolve().parent


def http_server_argv(port, directory):
    return [PY, "-m", "http.server", "--bind", "127.0.0.1", str(port), "--directory",
            str(directory)]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_free_port_is_unique_and_bindable():
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == 20
    for p in ports:
        assert 1024 < p < 32768
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


def test_free_port_is_reserved_against_other_test_processes():
    """A port handed out here cannot be handed out by a parallel test process (another
    ctest job or worktree) until this process exits: its lock file is held."""
    ports = [free_port() for _ in range(5)]
    pair = free_port(span=2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", pair + 1))  # both ports of a span are free
    code = ("import sys; from kbsfs_testlib import _reserve_port; "
            "print([_reserve_port(int(p)) for p in sys.argv[1:]])")
    args = [str(p) for p in ports + [pair, pair + 1]]
    r = subprocess.run([PY, "-c", code, *args], cwd=HERE, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str([False] * len(args))
    # while one nobody holds (outside the range free_port hands out) can be reserved
    other = 40000 + os.getpid() % 20000
    try:
        r = subprocess.run([PY, "-c", code, str(other)], cwd=HERE, capture_output=True,
                           text=True, timeout=60)
        assert r.stdout.strip() == "[True]", r.stderr
    finally:
        (_PORT_LOCK_DIR / str(other)).unlink(missing_ok=True)  # not a port tests hand out


def test_tmp_path_base_is_this_process_own(tmp_path, tmp_path_factory):
    """pytest's tmp_path lives under a base directory of this pytest process alone, not in
    the /tmp/pytest-of-<user> numbering concurrent pytest processes share and clean up."""
    base = tmp_path_factory.getbasetemp()
    assert base.parent == Path("/tmp") and base.name.startswith("kbsfs-pytest-")
    assert tmp_path.parent == base


def test_http_daemon_ready_by_url_logs_and_stops(daemons, tmp_dir, free_port):
    www = tmp_dir / "www"
    www.mkdir()
    (www / "hello.txt").write_text("hello kbsfs\n")
    port = free_port()
    d = daemons.start(http_server_argv(port, www), name="web",
                      ready_url=f"http://127.0.0.1:{port}/")
    assert d.running
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=5) as r:
        assert r.read() == b"hello kbsfs\n"
    # the request line http.server writes to stderr lands in the daemon log
    d.wait_log(r'"GET /hello.txt HTTP/1.1" 200')
    assert d.log_path == tmp_dir / "web.log"
    rc = d.stop()
    assert rc == -signal.SIGTERM
    assert not d.running and not alive(d.pid)
    assert not port_open(port)
    assert d.stop() == rc  # idempotent


def test_ready_by_tcp_port_and_context_manager(tmp_dir):
    port = free_port()
    with Daemon(http_server_argv(port, tmp_dir), log_dir=tmp_dir, ready_port=port) as d:
        assert port_open(port)
        pid = d.pid
    assert not alive(pid)
    assert not port_open(port)


def test_early_exit_is_reported_with_log_tail(daemons):
    code = "import sys; sys.stderr.write('boom-marker: bad config\\n'); sys.exit(3)"
    with pytest.raises(DaemonError) as ei:
        daemons.start([PY, "-c", code], name="early", ready_port=free_port(), ready_timeout=10)
    msg = str(ei.value)
    assert "exited with status 3" in msg
    assert "boom-marker: bad config" in msg
    assert daemons.all[-1].returncode == 3


def test_readiness_timeout_stops_the_daemon(daemons):
    # sh writes its marker at once (a Python interpreter can take seconds to start on a
    # loaded machine, and the marker must be in the log when the readiness timeout expires)
    code = "echo sleeping-marker >&2; exec sleep 60"
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(DaemonError) as ei:
        daemons.start(["/bin/sh", "-c", code], name="sleepy", ready_port=port,
                      ready_timeout=5)
    assert time.monotonic() - t0 < 40  # well before the 60 s sleep ends by itself
    msg = str(ei.value)
    assert f"not ready after 5s (waiting for TCP 127.0.0.1:{port})" in msg
    assert "sleeping-marker" in msg
    d = daemons.all[-1]
    assert not d.running and not alive(d.pid)


def test_sigkill_when_sigterm_is_ignored(daemons):
    code = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready-marker', file=sys.stderr, flush=True); time.sleep(60)")
    d = daemons.start([PY, "-c", code], name="stubborn", ready_log="ready-marker",
                      stop_timeout=0.5)
    t0 = time.monotonic()
    assert d.stop() == -signal.SIGKILL
    assert time.monotonic() - t0 < 40  # SIGKILL after 0.5 s, not the 60 s sleep
    assert not alive(d.pid)


HTTPS_SERVER = textwrap.dedent("""
    import http.server, ssl, sys
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    srv = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
""")


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_https_probe_verifies_generated_cert(daemons, tls_cert, tmp_dir, key_type):
    cert = tls_cert(key_type=key_type)
    other = make_self_signed_cert(tmp_dir, name="other")
    script = tmp_dir / "https_server.py"
    script.write_text(HTTPS_SERVER)
    port = free_port()
    argv = [PY, str(script), port, cert.cert, cert.key]
    url = f"https://127.0.0.1:{port}/"
    d = daemons.start(argv, name="https", ready_url=url, ca_file=cert.cert)
    ctx = ssl.create_default_context(cafile=str(cert.cert))
    with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
        assert r.status == 200
    # the probe really verifies: pinned to another certificate the server never becomes ready
    d.stop()
    with pytest.raises(DaemonError, match="not ready after 1.5s"):
        daemons.start(argv, name="https", ready_url=url, ca_file=other.cert, ready_timeout=1.5)


def test_keypairs_are_valid_pem(keypair):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    for kind, cls in (("ec", ec.EllipticCurvePrivateKey), ("rsa", rsa.RSAPrivateKey),
                      ("ed25519", ed25519.Ed25519PrivateKey)):
        kp = keypair(kind)
        priv = serialization.load_pem_private_key(kp.private_pem, None)
        pub = serialization.load_pem_public_key(kp.public_pem)
        assert isinstance(priv, cls)
        assert pub.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo) == \
            priv.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        assert kp.private.stat().st_mode & 0o077 == 0  # private keys are not world-readable
    p384 = keypair("ec", name="p384", curve="P-384")
    assert p384.key_obj.curve.name == "secp384r1"


def test_wait_helpers(tmp_dir):
    target = tmp_dir / "later"
    threading.Timer(0.2, target.write_text, args=("x",)).start()
    wait_for_path(target, timeout=5, kind="file")
    assert wait_for(lambda: 42, timeout=1) == 42
    with pytest.raises(WaitTimeout, match="the impossible"):
        wait_for(lambda: False, timeout=0.2, what="the impossible")
    with pytest.raises(WaitTimeout, match="last error"):
        wait_for(lambda: 1 / 0, timeout=0.2)
    with pytest.raises(WaitTimeout):
        wait_for_port("127.0.0.1", free_port(), timeout=0.3)


INNER_TEST = textwrap.dedent("""
    import os, sys
    def test_fails_with_a_running_daemon(daemons, free_port):
        port = free_port()
        d = daemons.start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                           str(port)], name="inner-http", ready_port=port)
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(str(d.pid))
        assert False, "deliberate failure"
""")


INNER_LOOSE_TEST = textwrap.dedent("""
    import sys
    from kbsfs_testlib import Daemon
    def test_fails_with_a_daemon_of_its_own(tmp_dir):
        code = "import sys, time; print('loose-marker', file=sys.stderr, flush=True); " \\
               "time.sleep(60)"
        d = Daemon([sys.executable, "-c", code], name="loose", log_dir=tmp_dir,
                   ready_log="loose-marker")
        d.start()
        assert False, "deliberate failure"
""")


def test_daemon_is_stopped_when_the_test_fails(tmp_dir):
    inner = tmp_dir / "inner"
    inner.mkdir()
    (inner / "conftest.py").write_text("from kbsfs_testlib import *  # noqa\n")
    (inner / "test_inner.py").write_text(INNER_TEST)
    pidfile = tmp_dir / "pid"
    env = dict(os.environ, PIDFILE=str(pidfile), PYTHONPATH=str(HERE))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(inner)], cwd=inner, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "deliberate failure" in r.stdout
    # the failing test's report carries the daemon log
    assert "daemon logs for" in r.stdout and "inner-http" in r.stdout
    pid = int(pidfile.read_text())
    assert not alive(pid)


def test_logs_of_a_daemon_started_outside_the_fixture_are_reported(tmp_dir):
    """The log tail of a daemon a failing test started itself (a kbsfs mount, swtpm) is in
    the failure report, taken before tmp_dir (where the log lives) is removed."""
    inner = tmp_dir / "inner"
    inner.mkdir()
    (inner / "conftest.py").write_text("from kbsfs_testlib import *  # noqa\n")
    (inner / "test_inner.py").write_text(INNER_LOOSE_TEST)
    env = dict(os.environ, PYTHONPATH=str(HERE))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(inner)], cwd=inner, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "daemon logs" in r.stdout, r.stdout
    assert "=== loose" in r.stdout and "loose-marker" in r.stdout, r.stdout
