# SPDX-License-Identifier: Apache-2.0
"""TPM 2.0 evidence from a real swtpm: Trustee's tpm evidence shape, quote verified by the
independent tpm2_checkquote, PCR digest consistent with the listed PCRs, nonce = report data
fitted to 32 bytes, tampering and a different nonce rejected, AK persisted and reloaded; the
quote travels in an HMAC session with parameter encryption (seen on the wire through a
recording proxy between the attester and swtpm)."""
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading

from kbsfs_testlib import free_port

from swtpm_lib import attester_tool, checkquote, parse_attest, pcr_extend_value, swtpm  # noqa: F401


def evidence(tpm, rd_hex, **env):
    r = attester_tool("evidence", "tpm", rd_hex, env=tpm.env(**env))
    return json.loads(r.stdout)


def test_evidence_shape_and_checkquote(swtpm, tmp_dir):
    rd = hashlib.sha384(b"runtime data").digest()       # 48 bytes: truncated to 32
    ev = evidence(swtpm, rd.hex())
    shape = json.load(open(os.path.join(os.environ["KBS_TEST_DATA"],
                                        "attester/evidence/shape-tpm.json")))
    assert set(ev) == set(shape) == {"ak_public", "tpm_quote"}
    assert set(ev["tpm_quote"]) == set(shape["tpm_quote"]) == {"signature", "message", "pcrs"}
    pcrs = ev["tpm_quote"]["pcrs"]
    assert len(pcrs) == 24 and all(len(p) == 64 and p == p.lower() for p in pcrs)
    sig = base64.b64decode(ev["tpm_quote"]["signature"])
    assert sig[:4] == bytes.fromhex("0014000b")       # RSASSA, SHA-256
    assert int.from_bytes(sig[4:6], "big") == len(sig) - 6 == 256
    a = parse_attest(base64.b64decode(ev["tpm_quote"]["message"]))
    assert a["magic"] == 0xFF544347 and a["type"] == 0x8018
    assert a["extra"] == rd[:32]
    assert a["selection"] == [(0x000B, list(range(24)))]
    assert a["pcr_digest"] == hashlib.sha256(b"".join(bytes.fromhex(p) for p in pcrs)).digest()
    rc, err = checkquote(tmp_dir, ev, rd[:32].hex())
    assert rc == 0, err


def test_short_report_data_is_zero_padded(swtpm, tmp_dir):
    ev = evidence(swtpm, "00112233")
    nonce = bytes.fromhex("00112233") + bytes(28)
    assert parse_attest(base64.b64decode(ev["tpm_quote"]["message"]))["extra"] == nonce
    assert checkquote(tmp_dir, ev, nonce.hex())[0] == 0


def test_other_nonce_and_tampering_fail(swtpm, tmp_dir):
    rd = hashlib.sha256(b"nonce-a").digest()
    ev = evidence(swtpm, rd.hex())
    assert checkquote(tmp_dir, ev, rd.hex())[0] == 0
    assert checkquote(tmp_dir, ev, hashlib.sha256(b"nonce-b").hexdigest())[0] != 0
    msg = bytearray(base64.b64decode(ev["tpm_quote"]["message"]))
    msg[-1] ^= 1                                       # last byte of pcrDigest
    bad = json.loads(json.dumps(ev))
    bad["tpm_quote"]["message"] = base64.b64encode(bytes(msg)).decode()
    assert checkquote(tmp_dir, bad, rd.hex())[0] != 0
    sig = bytearray(base64.b64decode(ev["tpm_quote"]["signature"]))
    sig[10] ^= 0x80
    bad = json.loads(json.dumps(ev))
    bad["tpm_quote"]["signature"] = base64.b64encode(bytes(sig)).decode()
    assert checkquote(tmp_dir, bad, rd.hex())[0] != 0


def test_ak_persisted_and_required(swtpm, tmp_dir):
    r = attester_tool("evidence", "tpm", "00", env=swtpm.env(create_ak=False), check=False)
    assert r.returncode != 0 and "no AK at persistent handle 0x81010002" in r.stderr
    first = evidence(swtpm, "01")
    again = evidence(swtpm, "02", AA_TPM_CREATE_AK="0")   # loaded from 0x81010002
    assert again["ak_public"] == first["ak_public"]
    # the TPM itself (tpm2-tools) holds that key at the persistent handle
    der = tmp_dir / "persisted.der"
    subprocess.run(["tpm2_readpublic", "-T", swtpm.tcti, "-c", "0x81010002", "-f", "der",
                    "-o", str(der)], check=True, capture_output=True, timeout=30)
    assert base64.b64decode(first["ak_public"]) == der.read_bytes()


def test_pcr_extend_is_visible_in_quote(swtpm, tmp_dir):
    env = swtpm.env()
    before = bytes.fromhex(attester_tool("pcr-read", 16, env=env).stdout.strip())
    d = hashlib.sha256(b"event").digest()
    attester_tool("pcr-extend", 16, d.hex(), env=env)
    ev = evidence(swtpm, "aa")
    assert ev["tpm_quote"]["pcrs"][16] == pcr_extend_value(before, d).hex()
    assert checkquote(tmp_dir, ev, ("aa" + "00" * 31))[0] == 0


def test_event_logs_included(swtpm, tmp_dir):
    fw = tmp_dir / "bios_measurements"
    fw.write_bytes(b"\x00\x01firmware log")
    aael = tmp_dir / "aael"
    aael.write_bytes(b"aael records")
    ev = evidence(swtpm, "bb", AA_TPM_EVENTLOG_PATH=fw, AAEL_PATH=aael)
    assert base64.b64decode(ev["eventlog"]) == fw.read_bytes()
    assert base64.b64decode(ev["aa_eventlog"]) == aael.read_bytes()


class TpmWireRecorder:
    """TCP proxy in front of swtpm's data and control ports (the swtpm TCTI uses port and
    port + 1) that records the bytes of the data channel in both directions."""

    def __init__(self, tpm_port):
        self.sent, self.received = bytearray(), bytearray()
        self.listeners = []
        for _ in range(50):
            port = free_port()
            try:
                a = socket.create_server(("127.0.0.1", port))
                b = socket.create_server(("127.0.0.1", port + 1))
            except OSError:
                continue
            self.port = port
            self.listeners = [a, b]
            break
        assert self.listeners, "no two adjacent free ports"
        for lst, target, rec in ((self.listeners[0], tpm_port, True),
                                 (self.listeners[1], tpm_port + 1, False)):
            threading.Thread(target=self.accept, args=(lst, target, rec), daemon=True).start()

    def accept(self, lst, target, rec):
        while True:
            try:
                c, _ = lst.accept()
            except OSError:
                return
            u = socket.create_connection(("127.0.0.1", target))
            threading.Thread(target=self.pump, args=(c, u, self.sent if rec else None),
                             daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, self.received if rec else None),
                             daemon=True).start()

    @staticmethod
    def pump(src, dst, log):
        try:
            while True:
                b = src.recv(65536)
                if not b:
                    break
                if log is not None:
                    log.extend(b)
                dst.sendall(b)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        for lst in self.listeners:
            lst.close()

    def commands(self):
        """The TPM commands sent, as (tag, command code, bytes)."""
        out, off, data = [], 0, bytes(self.sent)
        while off + 10 <= len(data):
            tag, size, cc = struct.unpack_from(">HII", data, off)
            assert size >= 10 and off + size <= len(data), "not a TPM command stream"
            out.append((tag, cc, data[off:off + size]))
            off += size
        assert off == len(data)
        return out


def test_quote_runs_in_an_hmac_session_with_parameter_encryption(swtpm, tmp_dir):
    evidence(swtpm, "00")                                 # create the AK without the proxy
    rec = TpmWireRecorder(swtpm.port)
    try:
        rd = os.urandom(32)
        ev = evidence(swtpm, rd.hex(), AA_TPM_TCTI=f"swtpm:host=127.0.0.1,port={rec.port}")
    finally:
        rec.close()
    quotes = [c for c in rec.commands() if c[1] == 0x158]  # TPM2_CC_Quote
    assert len(quotes) == 1
    tag, _, cmd = quotes[0]
    assert tag == 0x8002                                   # TPM2_ST_SESSIONS
    (ak,) = struct.unpack_from(">I", cmd, 10)
    assert ak == 0x81010002
    off = 18                                               # after the authorizationSize
    (handle,) = struct.unpack_from(">I", cmd, off)
    assert handle >> 24 == 0x02                            # an HMAC session, not TPM_RS_PW
    (n,) = struct.unpack_from(">H", cmd, off + 4)
    attrs = cmd[off + 6 + n]
    assert attrs & 0x20 and attrs & 0x40                   # decrypt and encrypt
    # neither the qualifying data nor the TPMS_ATTEST carrying it cross the wire in clear
    assert rd not in bytes(rec.sent) and rd not in bytes(rec.received)
    starts = [c for c in rec.commands() if c[1] == 0x176]  # TPM2_CC_StartAuthSession
    assert starts and starts[0][2][-2:] == b"\x00\x0b"     # authHash SHA-256
    # and the evidence still carries the nonce and verifies
    a = parse_attest(base64.b64decode(ev["tpm_quote"]["message"]))
    assert a["extra"] == rd
    rc, err = checkquote(tmp_dir, ev, rd.hex())
    assert rc == 0, err
