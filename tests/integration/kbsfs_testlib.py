# SPDX-License-Identifier: Apache-2.0
"""kbsfs integration-test library: real daemons on loopback, temp dirs, TLS material.

Runs with Debian's /usr/bin/python3 (python3-pytest, python3-cryptography); no pip packages.
ctest sets KBS_BUILD_DIR, KBS_SOURCE_DIR and KBS_TEST_DATA for every tests/integration/test_*.py.
conftest.py star-imports this module, so every fixture below is available to all tests.

Fixtures
--------
build_dir       pathlib.Path of the CMake build tree (env KBS_BUILD_DIR; fails clearly if unset).
source_dir      pathlib.Path of the source tree (env KBS_SOURCE_DIR, else derived from this file).
test_data       pathlib.Path of tests/data (env KBS_TEST_DATA, else <source>/tests/data).
tmp_dir         fresh short directory under /tmp (short enough for UNIX socket paths), removed
                after the test unless KBS_KEEP_TMP=1 is set.
free_port       the free_port() function: ``port = free_port()`` -> unused loopback TCP port.
daemons         DaemonSet bound to tmp_dir: ``d = daemons.start(["kbs", "--config-file", f],
                ready_port=port)``; every daemon is stopped at teardown, pass or fail. On a
                failing test the log tail of every daemon is printed into the test report
                (also of daemons a test started itself: see pytest_runtest_makereport).
tls_cert        factory ``tls_cert(name="server", key_type="ec")`` -> CertFiles(cert, key, ...)
                written into tmp_dir (self-signed, SAN IP:127.0.0.1, IP:::1, DNS:localhost).
keypair         factory ``keypair("ec"|"rsa"|"ed25519", name=..., curve=..., bits=...)`` ->
                KeyPairFiles(private, public, ...) PEM files in tmp_dir.
as_config       path of Trustee's restful-as config parse-example1.json copied into tmp_dir with
                its LocalFs dir_path moved to tmp_dir/as-state: the shipped file stores policies
                and reference values under /opt/confidential-containers, and a test must not
                write (nor read state left by other runs) outside its tmp_dir.

Helpers (plain functions, usable without pytest)
------------------------------------------------
free_port(host, span=1)               unused TCP port (span: that many in a row), below the
                                      ephemeral range, never handed out twice by this process
                                      nor, while it runs, by any other test process (a flock on
                                      /tmp/kbsfs-test-ports/<port> reserves it).
find_binary(name, build_dir=None)     path of an executable built by CMake (searched by name).
needed_libs(binary)                   DT_NEEDED sonames of an ELF file (path or built binary name).
wait_for(cond, timeout, interval, what)  poll until cond() is truthy; returns its value or raises
                                      WaitTimeout naming `what`.
wait_for_path(path, timeout, kind)    wait until a path exists ("exists"|"file"|"dir"|"socket").
wait_for_port(host, port, timeout)    wait until a TCP connect succeeds.
make_self_signed_cert(dir, ...)       CertFiles; key_type "ec" (P-256) or "rsa".
make_ec_keypair / make_rsa_keypair / make_ed25519_keypair(dir, name)  KeyPairFiles.

Daemon
------
``Daemon(argv, name=None, log_dir=..., env=None, cwd=None, ready_port=None, ready_host=
"127.0.0.1", ready_url=None, ready_log=None, ca_file=None, ready_timeout=15, stop_timeout=5)``.
argv[0] may be a bare name of a binary from the build tree ("kbs"), an absolute path, or
sys.executable. stdout and stderr go to ``<log_dir>/<name>.log`` (``d.log_path``). start()
waits for readiness: a TCP connect to ready_port, an HTTP(S) response of any status from
ready_url (TLS verified against ca_file when given), and/or a regex matching the log. If the
process exits or readiness times out, start() stops it and raises DaemonError whose message
includes the command line, the exit status and the tail of the log. stop() sends SIGTERM to
the daemon's process group, waits stop_timeout seconds, then SIGKILLs; it is idempotent and
returns the exit status (negative = killed by that signal). Daemons are also context managers,
and any daemon still running when the interpreter exits is killed (atexit).
"""

import atexit
import datetime
import ipaddress
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

__all__ = [
    "CertFiles", "Daemon", "DaemonError", "DaemonSet", "KeyPairFiles", "WaitTimeout",
    "as_config", "build_dir", "daemons", "find_binary", "free_port", "free_port_fixture", "keypair",
    "make_ec_keypair", "make_ed25519_keypair", "make_rsa_keypair", "make_self_signed_cert",
    "pytest_configure", "pytest_runtest_makereport", "pytest_unconfigure", "source_dir",
    "test_data", "tls_cert", "tmp_dir", "wait_for", "wait_for_path", "wait_for_port",
]

# --------------------------------------------------------------------------- environment


def _env_path(var):
    v = os.environ.get(var)
    return Path(v) if v else None


def _source_dir():
    return _env_path("KBS_SOURCE_DIR") or Path(__file__).resolve().parents[2]


def _build_dir():
    return _env_path("KBS_BUILD_DIR")


# --------------------------------------------------------------------------- ports

_handed_out = set()
_port_locks = {}  # port -> open file whose flock reserves the port for this process
_PORT_LO, _PORT_HI = 20000, 32000  # below Linux's default ephemeral range (32768-60999)
_PORT_LOCK_DIR = Path(os.environ.get("KBS_PORT_LOCK_DIR", "/tmp/kbsfs-test-ports"))


def _reserve_port(port):
    """Takes an exclusive flock on <lock dir>/<port> for the rest of this process's life, so
    that no other test process (of any worktree or ctest -j job) hands out the same port in
    the window between our bind() probe and the daemon's own bind(). The kernel drops the
    lock when the process exits, however it exits. False: another process holds it."""
    import fcntl
    try:
        if not _PORT_LOCK_DIR.is_dir():
            _PORT_LOCK_DIR.mkdir(exist_ok=True)
            try:
                os.chmod(_PORT_LOCK_DIR, 0o1777)  # shared by every user's test runs
            except OSError:
                pass  # another user made it first
        f = open(_PORT_LOCK_DIR / str(port), "a")
    except OSError:
        return True  # no lock directory: fall back to the bind() probe alone
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _port_locks[port] = f
    return True


def free_port(host="127.0.0.1", span=1):
    """Returns a TCP port that is free on `host` now and was not returned before by this
    process (span > 1: ports port .. port+span-1 all are, e.g. swtpm's server + control).
    Ports come from below the ephemeral range so client source ports cannot take them, and
    each is reserved by a lock file (see _reserve_port) until this process exits, so
    parallel test processes never hand out the same one."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    rnd = random.Random(os.getpid() ^ int(time.monotonic_ns()))
    for _ in range(500):
        port = rnd.randrange(_PORT_LO, _PORT_HI - span + 1)
        ports = range(port, port + span)
        if any(p in _handed_out or p in _port_locks for p in ports) or \
                not all(_reserve_port(p) for p in ports):
            continue  # a reserved port that is not handed out is simply never tried again
        try:
            for p in ports:
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.bind((host, p))
        except OSError:
            continue
        _handed_out.update(ports)
        return port
    raise RuntimeError(f"no free TCP port on {host} in {_PORT_LO}-{_PORT_HI}")


# --------------------------------------------------------------------------- waiting


class WaitTimeout(AssertionError):
    """A wait_for* helper ran out of time."""


def wait_for(cond, timeout=10.0, interval=0.05, what="condition"):
    """Polls cond() until it returns a truthy value (returned) or `timeout` seconds pass
    (raises WaitTimeout naming `what` and the last exception cond() raised, if any)."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
            last_exc = None
        except Exception as e:  # noqa: BLE001 - the condition decides what failure means
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def wait_for_path(path, timeout=10.0, kind="exists"):
    """Waits until `path` exists; kind "file", "dir" or "socket" also checks its type."""
    p = Path(path)
    checks = {
        "exists": p.exists,
        "file": p.is_file,
        "dir": p.is_dir,
        "socket": p.is_socket,
    }
    if kind not in checks:
        raise ValueError(f"unknown kind {kind!r}")
    return wait_for(checks[kind], timeout, what=f"{kind} {p}")


def _tcp_connect(host, port, timeout=0.5):
    with socket.create_connection((host, port), timeout=timeout):
        return True


def wait_for_port(host, port, timeout=10.0):
    """Waits until a TCP connection to host:port succeeds."""
    return wait_for(lambda: _tcp_connect(host, port), timeout, what=f"TCP {host}:{port}")


# --------------------------------------------------------------------------- binaries


def find_binary(name, build_dir=None):
    """Path of the executable `name` inside the build tree (first match, CMakeFiles skipped).
    Raises FileNotFoundError with the searched directory when it was not built."""
    root = Path(build_dir) if build_dir else _build_dir()
    if root is None:
        raise FileNotFoundError(f"KBS_BUILD_DIR is not set; cannot find binary {name!r}")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "CMakeFiles" and not d.startswith("."))
        if name in filenames:
            p = Path(dirpath) / name
            if os.access(p, os.X_OK):
                return p
    raise FileNotFoundError(f"binary {name!r} not found under {root} (not built?)")


def needed_libs(binary):
    """The DT_NEEDED entries (library sonames) of an ELF file: a path, or the name of an
    executable in the build tree (find_binary)."""
    path = binary if os.sep in str(binary) else find_binary(binary)
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


# --------------------------------------------------------------------------- daemons


class DaemonError(RuntimeError):
    """A daemon failed to start, exited early or did not become ready."""


_live = set()
_started = []  # every Daemon started during the current test (see pytest_runtest_makereport)


@atexit.register
def _kill_leftovers():
    for d in list(_live):
        d.stop(timeout=1)


class Daemon:
    """One background process with captured output and guaranteed cleanup (see module doc)."""

    def __init__(self, argv, name=None, log_dir=None, env=None, cwd=None, ready_port=None,
                 ready_host="127.0.0.1", ready_url=None, ready_log=None, ca_file=None,
                 ready_timeout=15.0, stop_timeout=5.0, stop_signal=signal.SIGTERM):
        if isinstance(argv, str):
            argv = shlex.split(argv)
        argv = [str(a) for a in argv]
        if not argv:
            raise ValueError("empty argv")
        if os.sep not in argv[0]:
            try:
                argv[0] = str(find_binary(argv[0]))
            except FileNotFoundError:
                found = shutil.which(argv[0])
                if not found:
                    raise
                argv[0] = found
        self.argv = argv
        self.name = name or Path(argv[0]).name
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="kbsfs-d-"))
        self.log_path = self.log_dir / f"{self.name}.log"
        self.env = dict(os.environ)
        if env:
            self.env.update({k: str(v) for k, v in env.items()})
        self.cwd = cwd
        self.ready_port = ready_port
        self.ready_host = ready_host
        self.ready_url = ready_url
        self.ready_log = re.compile(ready_log) if isinstance(ready_log, str) else ready_log
        self.ca_file = ca_file
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.stop_signal = stop_signal
        self.proc = None
        self.returncode = None
        self._log = None
        self._out_start = 0
        self.in_set = False  # started through a DaemonSet, which reports its own logs

    # -- lifecycle
    def start(self):
        if self.proc is not None:
            raise DaemonError(f"{self.name} already started")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab", buffering=0)
        self._log.write(f"### {' '.join(shlex.quote(a) for a in self.argv)}\n".encode())
        # readiness/log regexes look only at what the process wrote, not at our header line
        self._out_start = self._log.tell()
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                         start_new_session=True, close_fds=True)
        except OSError as e:
            self._log.close()
            raise DaemonError(f"cannot start {self.name} ({self.argv[0]}): {e}") from e
        _live.add(self)
        _started.append(self)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _probe_ready(self):
        if self.ready_log is not None and not self.ready_log.search(self.output()):
            return False
        if self.ready_port is not None:
            try:
                _tcp_connect(self.ready_host, self.ready_port)
            except OSError:
                return False
        if self.ready_url is not None:
            ctx = None
            if self.ready_url.startswith("https:"):
                ctx = ssl.create_default_context(cafile=self.ca_file)
            try:
                with urllib.request.urlopen(self.ready_url, timeout=1, context=ctx):
                    pass
            except urllib.error.HTTPError:
                pass  # any HTTP status means the server is up
            except (OSError, ssl.SSLError):
                return False
        return True

    def wait_ready(self):
        """Blocks until the readiness probes pass; raises DaemonError (with the log tail)
        when the process exits first or ready_timeout elapses."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise DaemonError(self._failure(f"exited with status {rc} before it was ready"))
            if self._probe_ready():
                return self
            if time.monotonic() >= deadline:
                raise DaemonError(self._failure(
                    f"not ready after {self.ready_timeout}s (waiting for {self._probe_desc()})"))
            time.sleep(0.05)

    def _probe_desc(self):
        parts = []
        if self.ready_log is not None:
            parts.append(f"log /{self.ready_log.pattern}/")
        if self.ready_port is not None:
            parts.append(f"TCP {self.ready_host}:{self.ready_port}")
        if self.ready_url is not None:
            parts.append(f"HTTP {self.ready_url}")
        return ", ".join(parts) or "nothing"

    def _failure(self, what):
        return (f"daemon {self.name} {what}\n  command: "
                f"{' '.join(shlex.quote(a) for a in self.argv)}\n  log: {self.log_path}\n"
                f"--- last lines of the log ---\n{self.log_tail()}\n--- end of log ---")

    def stop(self, timeout=None):
        """Stops the daemon (stop_signal, then SIGKILL after `timeout` s); idempotent.
        Returns the exit status (negative: killed by that signal)."""
        if self.proc is None:
            return self.returncode
        timeout = self.stop_timeout if timeout is None else timeout
        if self.proc.poll() is None:
            self._signal_group(self.stop_signal)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        # children that outlived the main process in its session are not left behind
        self._signal_group(signal.SIGKILL)
        self.returncode = self.proc.returncode
        _live.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.returncode

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)  # start_new_session: pgid == pid
        except (ProcessLookupError, PermissionError):
            pass

    # -- inspection
    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def output(self):
        """What the process itself wrote to stdout/stderr (the log minus our header)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._out_start)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_log(self, pattern, timeout=10.0):
        """Waits until the log matches regex `pattern`; returns the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.output()), timeout,
                        what=f"/{pattern}/ in {self.name} log")

    def __enter__(self):
        return self.start() if self.proc is None else self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        return f"<Daemon {self.name} pid={self.pid} rc={self.returncode}>"


class DaemonSet:
    """Starts daemons with logs in one directory and stops all of them (reverse order)."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.all = []

    def start(self, argv, **kw):
        kw.setdefault("log_dir", self.log_dir)
        d = Daemon(argv, **kw)
        d.in_set = True
        names = {x.name for x in self.all}
        if d.name in names:  # keep one log file per daemon
            i = 2
            while f"{d.name}-{i}" in names:
                i += 1
            d.name = f"{d.name}-{i}"
            d.log_path = d.log_dir / f"{d.name}.log"
        self.all.append(d)
        return d.start()

    def stop_all(self):
        for d in reversed(self.all):
            d.stop()

    def report(self):
        return "\n".join(f"=== {d.name} ({d.log_path}) rc={d.returncode}\n{d.log_tail()}"
                         for d in self.all)


# --------------------------------------------------------------------------- keys and certs


class CertFiles:
    """A certificate and its key as PEM files (also kept as objects and PEM bytes)."""

    def __init__(self, cert, key, cert_obj, key_obj):
        self.cert = Path(cert)
        self.key = Path(key)
        self.cert_obj = cert_obj
        self.key_obj = key_obj
        self.cert_pem = self.cert.read_bytes()
        self.key_pem = self.key.read_bytes()


class KeyPairFiles:
    """A private key (PKCS#8 PEM) and its public key (SPKI PEM)."""

    def __init__(self, private, public, key_obj):
        self.private = Path(private)
        self.public = Path(public)
        self.key_obj = key_obj
        self.private_pem = self.private.read_bytes()
        self.public_pem = self.public.read_bytes()


def _write_private(path, key):
    from cryptography.hazmat.primitives import serialization
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_public(path, key):
    from cryptography.hazmat.primitives import serialization
    Path(path).write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def _new_key(key_type, curve="P-256", bits=2048):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
    if key_type == "ec":
        return ec.generate_private_key(curves[curve]())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}")


def _keypair(dir_, name, key):
    d = Path(dir_)
    d.mkdir(parents=True, exist_ok=True)
    priv, pub = d / f"{name}.key", d / f"{name}.pub"
    _write_private(priv, key)
    _write_public(pub, key)
    return KeyPairFiles(priv, pub, key)


def make_ec_keypair(dir_, name="ec", curve="P-256"):
    """EC key pair (curve "P-256", "P-384" or "P-521") as <name>.key / <name>.pub."""
    return _keypair(dir_, name, _new_key("ec", curve=curve))


def make_rsa_keypair(dir_, name="rsa", bits=2048):
    """RSA key pair as <name>.key / <name>.pub."""
    return _keypair(dir_, name, _new_key("rsa", bits=bits))


def make_ed25519_keypair(dir_, name="ed25519"):
    """Ed25519 key pair (the Trustee admin key type) as <name>.key / <name>.pub."""
    return _keypair(dir_, name, _new_key("ed25519"))


def make_self_signed_cert(dir_, name="server", common_name="kbsfs-test", key_type="ec",
                          sans=("IP:127.0.0.1", "IP:::1", "DNS:localhost"), days=2, ca=False):
    """Self-signed certificate + key (<name>.crt / <name>.key) usable as its own trust anchor
    (pass the .crt as CA file to the client). sans: "IP:<addr>" / "DNS:<name>" entries."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    d = Path(dir_)
    d.mkdir(parents=True, exist_ok=True)
    key = _new_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt = []
    for s in sans:
        kind, _, val = s.partition(":")
        if kind == "IP":
            alt.append(x509.IPAddress(ipaddress.ip_address(val)))
        elif kind == "DNS":
            alt.append(x509.DNSName(val))
        else:
            raise ValueError(f"bad SAN {s!r}")
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.SubjectAlternativeName(alt), critical=False)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    cert = builder.sign(key, hashes.SHA256())
    from cryptography.hazmat.primitives import serialization
    crt, kp = d / f"{name}.crt", d / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(kp, key)
    return CertFiles(crt, kp, cert, key)


# --------------------------------------------------------------------------- pytest fixtures


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Gives this pytest process a base directory of its own for tmp_path/tmp_path_factory:
    the shared /tmp/pytest-of-<user>/pytest-<N> numbering and its clean-up race between
    concurrent pytest processes (ctest -j, other worktrees), pytest-dev/pytest#4245, #4246."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="kbsfs-pytest-", dir="/tmp")
        config.kbsfs_own_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    own = getattr(config, "kbsfs_own_basetemp", None)
    if own and os.environ.get("KBS_KEEP_TMP") != "1":
        shutil.rmtree(own, ignore_errors=True)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Stores each phase's report on the item (item.rep_setup / rep_call / rep_teardown) so
    fixtures can tell whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    # daemons the test started itself (kbsfs mounts, swtpm, ...; the daemons fixture reports
    # its own): their log tails go into the failure report while the logs still exist
    loose = [d for d in _started if not d.in_set]
    if rep.failed and rep.when in ("setup", "call") and loose:
        rep.sections.append(("daemon logs", "\n".join(
            f"=== {d.name} ({d.log_path}) rc={d.proc.poll() if d.proc else None}\n"
            f"{d.log_tail()}" for d in loose)))
    if rep.when == "teardown":
        _started.clear()


def _test_failed(request):
    for when in ("setup", "call"):
        rep = getattr(request.node, "rep_" + when, None)
        if rep is not None and rep.failed:
            return True
    return False


@pytest.fixture
def build_dir():
    d = _build_dir()
    if d is None or not d.is_dir():
        pytest.fail("KBS_BUILD_DIR is not set or not a directory; run the test through ctest "
                    "or export KBS_BUILD_DIR=<cmake build dir>")
    return d


@pytest.fixture
def source_dir():
    return _source_dir()


@pytest.fixture
def test_data():
    return _env_path("KBS_TEST_DATA") or _source_dir() / "tests" / "data"


@pytest.fixture
def tmp_dir():
    d = Path(tempfile.mkdtemp(prefix="kbsfs-it-", dir="/tmp"))
    yield d
    if os.environ.get("KBS_KEEP_TMP") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(name="free_port")
def free_port_fixture():
    return free_port


@pytest.fixture
def daemons(tmp_dir, request):
    ds = DaemonSet(tmp_dir)
    try:
        yield ds
    finally:
        ds.stop_all()
        if ds.all and _test_failed(request):
            # shown by pytest in the "Captured stdout teardown" section of the failure
            print(f"\n--- daemon logs for {request.node.nodeid} ---\n{ds.report()}")


@pytest.fixture
def tls_cert(tmp_dir):
    def make(name="server", **kw):
        return make_self_signed_cert(tmp_dir, name=name, **kw)
    return make


@pytest.fixture
def keypair(tmp_dir):
    def make(key_type="ec", name=None, **kw):
        name = name or key_type
        if key_type == "ec":
            return make_ec_keypair(tmp_dir, name, **kw)
        if key_type == "rsa":
            return make_rsa_keypair(tmp_dir, name, **kw)
        if key_type == "ed25519":
            return make_ed25519_keypair(tmp_dir, name)
        raise ValueError(f"unknown key type {key_type!r}")
    return make


@pytest.fixture
def as_config(test_data, tmp_dir):
    cfg = json.loads((test_data / "kbs" / "trustee" / "configs" / "parse-example1.json")
                     .read_text())
    lfs = cfg["storage_backend"]["backends"]["local_fs"]
    assert lfs["dir_path"].startswith("/opt/"), "the shipped file changed; revisit as_config"
    lfs["dir_path"] = str(tmp_dir / "as-state")
    path = tmp_dir / "as-config.json"
    path.write_text(json.dumps(cfg, indent=4))
    return path
