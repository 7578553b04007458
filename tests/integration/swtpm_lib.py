# SPDX-License-Identifier: Apache-2.0
"""A real software TPM (swtpm, socket mode) for attester tests, and helpers to read the
TPM structures the attester emits. The TPM state lives in a temporary directory; the two
TCP ports are free ones on 127.0.0.1."""
import base64
import hashlib
import shutil
import struct
import subprocess

import pytest

from kbsfs_testlib import Daemon, free_port, find_binary

__all__ = ["swtpm", "attester_tool", "parse_attest", "checkquote", "pcr_extend_value"]


class Swtpm:
    def __init__(self, daemon, port):
        self.daemon = daemon
        self.port = port
        self.tcti = f"swtpm:host=127.0.0.1,port={port}"

    def env(self, create_ak=True, **extra):
        e = {"AA_TPM_TCTI": self.tcti, "TSS2_LOG": "all+none"}
        if create_ak:
            e["AA_TPM_CREATE_AK"] = "1"
        e.update({k: str(v) for k, v in extra.items()})
        return e


@pytest.fixture
def swtpm(tmp_dir):
    if not shutil.which("swtpm"):
        pytest.fail("swtpm is not installed (scripts/install-deps.sh)")
    state = tmp_dir / "tpmstate"
    state.mkdir()
    # the swtpm TCTI always talks to the control channel on port + 1
    port = free_port(span=2)
    ctrl = port + 1
    d = Daemon(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
                "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
                "--ctrl", f"type=tcp,port={ctrl},bindaddr=127.0.0.1",
                "--flags", "not-need-init,startup-clear"],
               name="swtpm", log_dir=tmp_dir, ready_port=port)
    d.start()
    try:
        yield Swtpm(d, port)
    finally:
        d.stop()


def attester_tool(*args, env=None, check=True):
    """Runs attester-tool; returns CompletedProcess (text)."""
    import os
    full = dict(os.environ)
    full.update(env or {})
    r = subprocess.run([str(find_binary("attester-tool")), *map(str, args)], env=full,
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"attester-tool {args} failed: {r.stderr}")
    return r


def parse_attest(msg):
    """Fields of a TPMS_ATTEST quote (big-endian): extraData, PCR selection, pcrDigest."""
    off = 0
    magic, typ = struct.unpack_from(">IH", msg, off)
    off += 6
    (n,) = struct.unpack_from(">H", msg, off)
    off += 2 + n                      # qualifiedSigner
    (n,) = struct.unpack_from(">H", msg, off)
    extra = msg[off + 2:off + 2 + n]
    off += 2 + n
    off += 17 + 8                     # clockInfo, firmwareVersion
    (count,) = struct.unpack_from(">I", msg, off)
    off += 4
    sel = []
    for _ in range(count):
        alg, size = struct.unpack_from(">HB", msg, off)
        off += 3
        bits = msg[off:off + size]
        off += size
        sel.append((alg, [i for i in range(8 * size) if bits[i // 8] & (1 << (i % 8))]))
    (n,) = struct.unpack_from(">H", msg, off)
    digest = msg[off + 2:off + 2 + n]
    assert off + 2 + n == len(msg), "trailing bytes after TPMS_ATTEST"
    return {"magic": magic, "type": typ, "extra": extra, "selection": sel, "pcr_digest": digest}


def checkquote(tmp_dir, evidence, nonce_hex):
    """Runs the independent verifier tpm2_checkquote; returns (rc, stderr)."""
    q = evidence["tpm_quote"]
    der = tmp_dir / "ak.der"
    der.write_bytes(base64.b64decode(evidence["ak_public"]))
    pem = tmp_dir / "ak.pem"
    subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(der), "-out",
                    str(pem)], check=True, capture_output=True)
    (tmp_dir / "msg.bin").write_bytes(base64.b64decode(q["message"]))
    (tmp_dir / "sig.bin").write_bytes(base64.b64decode(q["signature"]))
    r = subprocess.run(["tpm2_checkquote", "-u", str(pem), "-m", str(tmp_dir / "msg.bin"),
                        "-s", str(tmp_dir / "sig.bin"), "-g", "sha256", "-q", nonce_hex],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def pcr_extend_value(old, digest):
    return hashlib.sha256(old + digest).digest()
