# SPDX-License-Identifier: Apache-2.0
"""az-snp-vtpm and az-tdx-vtpm evidence from a real swtpm provisioned like an Azure CVM vTPM:
the recorded HCL report in NV 0x01400001, the AK at 0x81000003, and a local stand-in for
Azure IMDS (AA_AZ_IMDS_URL) answering with the recorded TD quote / the recorded VCEK. Checks
Trustee's v2 evidence shapes, the HCL report read back byte for byte, the report data written
to the user-data index 0x01400002, the TDREPORT sent to IMDS exactly as upstream sends it, the
vTPM quote (nonce = report data unmodified) verified by tpm2_checkquote, and that tee=auto
tells az-snp-vtpm and az-tdx-vtpm apart by the HCL report type."""
import base64
import hashlib
import http.server
import json
import os
import struct
import subprocess
import threading

import pytest

from kbsfs_testlib import find_binary, free_port
from swtpm_lib import attester_tool, parse_attest, swtpm  # noqa: F401

DATA = os.path.join(os.environ.get("KBS_TEST_DATA", ""), "attester", "azure")
TDX_DATA = os.path.join(os.environ.get("KBS_TEST_DATA", ""), "az", "tdx")


def small_hcl_report(path=None):
    """Recorded HCL report with the variable data cut to the first key (fits swtpm's 2 KiB)."""
    b = open(path or os.path.join(DATA, "snp-hcl-report.bin"), "rb").read()
    var = json.loads(b[0x4D4:0x4D4 + struct.unpack_from("<I", b, 0x4D0)[0]])
    small = json.dumps({"keys": var["keys"][:1]}, separators=(",", ":")).encode()
    head = bytearray(b[:0x4D4])
    struct.pack_into("<I", head, 0x008, 0x4D4 - 0x20 + len(small))
    struct.pack_into("<I", head, 0x4C0, 20 + len(small))
    struct.pack_into("<I", head, 0x4D0, len(small))
    out = bytes(head) + small
    assert len(out) <= 2048
    return out


def tpm2(tpm, *args, data=None):
    env = dict(os.environ, TPM2TOOLS_TCTI=tpm.tcti)
    return subprocess.run(["tpm2_" + args[0], *args[1:]], env=env, input=data,
                          capture_output=True, check=True, timeout=30)


def provision_hcl(tpm, tmp_dir, report):
    path = tmp_dir / "hcl.bin"
    path.write_bytes(report)
    tpm2(tpm, "nvdefine", "0x01400001", "-C", "o", "-s", str(len(report)), "-a",
         "ownerread|ownerwrite")
    tpm2(tpm, "nvwrite", "0x01400001", "-C", "o", "-i", str(path))


def az_env(tpm):
    return tpm.env(AA_AZ_REPORT_WAIT_MS=0, AA_AZ_VCEK_PATH=os.path.join(DATA, "snp-vcek.pem"))


def checkquote(tmp_dir, ev, nonce_hex):
    q = ev["tpm_quote"]
    sig = bytes.fromhex(q["signature"])
    # TPMT_SIGNATURE around the raw RSA signature: RSASSA, SHA-256, size
    (tmp_dir / "sig.bin").write_bytes(struct.pack(">HHH", 0x14, 0x0B, len(sig)) + sig)
    (tmp_dir / "msg.bin").write_bytes(bytes.fromhex(q["message"]))
    return subprocess.run(["tpm2_checkquote", "-u", str(tmp_dir / "ak.pem"), "-m",
                           str(tmp_dir / "msg.bin"), "-s", str(tmp_dir / "sig.bin"), "-g",
                           "sha256", "-q", nonce_hex], capture_output=True, text=True,
                          timeout=30)


def ak_pem(tpm, tmp_dir):
    tpm2(tpm, "readpublic", "-c", "0x81000003", "-f", "pem", "-o", str(tmp_dir / "ak.pem"))


def test_az_snp_vtpm_evidence_shape_nv_and_quote(swtpm, tmp_dir):
    report = small_hcl_report()
    provision_hcl(swtpm, tmp_dir, report)
    rd = hashlib.sha384(b"runtime data").digest()
    ev = json.loads(attester_tool("evidence", "az-snp-vtpm", rd.hex(), env=az_env(swtpm)).stdout)
    shape = json.load(open(os.path.join(os.environ["KBS_TEST_DATA"],
                                        "attester/evidence/shape-az-snp-vtpm.json")))
    assert set(ev) == set(shape) == {"version", "tpm_quote", "hcl_report", "vcek"}
    assert ev["version"] == 2
    assert set(ev["tpm_quote"]) == set(shape["tpm_quote"])
    # padded base64url, exactly the bytes in the NV index
    assert base64.urlsafe_b64decode(ev["hcl_report"]) == report
    assert "+" not in ev["vcek"] and "/" not in ev["vcek"] and len(ev["vcek"]) % 4 == 0
    vcek_pem = open(os.path.join(DATA, "snp-vcek.pem")).read()
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=vcek_pem.encode(),
                         capture_output=True, check=True).stdout
    assert base64.urlsafe_b64decode(ev["vcek"]) == der
    # user-data index holds the report data, zero-padded to 64 bytes
    ud = tpm2(swtpm, "nvread", "0x01400002", "-C", "o").stdout
    assert ud == rd + bytes(16)
    q = ev["tpm_quote"]
    pcrs = q["pcrs"]
    assert len(pcrs) == 24 and all(len(p) == 64 and p == p.lower() for p in pcrs)
    assert len(bytes.fromhex(q["signature"])) == 256      # raw RSA-2048 signature
    a = parse_attest(bytes.fromhex(q["message"]))
    assert a["extra"] == rd                               # nonce unmodified (48 bytes)
    assert a["selection"] == [(0x000B, list(range(24)))]
    assert a["pcr_digest"] == hashlib.sha256(b"".join(bytes.fromhex(p) for p in pcrs)).digest()
    ak_pem(swtpm, tmp_dir)
    r = checkquote(tmp_dir, ev, rd.hex())
    assert r.returncode == 0, r.stderr
    assert checkquote(tmp_dir, ev, hashlib.sha384(b"other").hexdigest()).returncode != 0
    bad = dict(ev, tpm_quote=dict(q, message=q["message"][:-2] + "00"))
    assert checkquote(tmp_dir, bad, rd.hex()).returncode != 0


def test_auto_detects_az_snp_vtpm_only_with_hcl_index(swtpm, tmp_dir):
    env = az_env(swtpm)
    r = attester_tool("detect", env=env)
    assert r.stdout.strip() == "tpm"
    provision_hcl(swtpm, tmp_dir, small_hcl_report())
    assert attester_tool("detect", env=env).stdout.strip() == "az-snp-vtpm"


def test_az_snp_vtpm_refuses_non_snp_hcl_and_long_report_data(swtpm, tmp_dir):
    report = bytearray(small_hcl_report())
    struct.pack_into("<I", report, 0x4C8, 9)              # neither SNP (2) nor TDX (4)
    provision_hcl(swtpm, tmp_dir, bytes(report))
    env = az_env(swtpm)
    assert attester_tool("detect", env=env).stdout.strip() == "tpm"
    assert attester_tool("evidence", "az-snp-vtpm", "11" * 32, env=env,
                         check=False).returncode != 0
    assert attester_tool("evidence", "az-snp-vtpm", "11" * 65, env=env,
                         check=False).returncode != 0


# --------------------------------------------------------------------------- Azure IMDS stand-in

class Imds:
    """Answers /acc/tdquote and /metadata/THIM/amd/certification like Azure IMDS; records the
    requests. tdquote_status: status per attempt (the last one repeats)."""

    def __init__(self):
        self.requests = []
        self.tdquote_status = [200]
        self.quote = open(os.path.join(TDX_DATA, "td-quote.bin"), "rb").read()
        self.quote_form = "std"
        self.vcek_pem = open(os.path.join(DATA, "snp-vcek.pem")).read()
        imds = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, status, obj):
                body = json.dumps(obj).encode() if obj is not None else b"bad"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                imds.requests.append(("GET", self.path, dict(self.headers), b""))
                if self.path != "/metadata/THIM/amd/certification":
                    return self.answer(404, {"error": "not found"})
                self.answer(200, {"vcekCert": imds.vcek_pem,
                                  "certificateChain": "-----BEGIN CERTIFICATE-----\n..."})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                imds.requests.append(("POST", self.path, dict(self.headers), body))
                n = sum(1 for r in imds.requests if r[1] == "/acc/tdquote")
                status = imds.tdquote_status[min(n, len(imds.tdquote_status)) - 1]
                if self.path != "/acc/tdquote":
                    return self.answer(404, {"error": "not found"})
                if status != 200:
                    return self.answer(status, {"error": "refused"})
                if imds.quote_form == "std":
                    q = base64.b64encode(imds.quote).decode()
                else:
                    q = base64.urlsafe_b64encode(imds.quote).decode().rstrip("=")
                self.answer(200, {"quote": q})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def imds():
    i = Imds()
    yield i
    i.close()


def small_tdx_report():
    return small_hcl_report(os.path.join(TDX_DATA, "hcl-report.bin"))


def tdx_env(tpm, imds):
    return tpm.env(AA_AZ_REPORT_WAIT_MS=0, AA_AZ_IMDS_URL=imds.url + "/")


def test_az_tdx_vtpm_evidence_shape_imds_quote_and_tpm_quote(swtpm, tmp_dir, imds):
    report = small_tdx_report()
    provision_hcl(swtpm, tmp_dir, report)
    rd = hashlib.sha384(b"tdx runtime data").digest()
    ev = json.loads(attester_tool("evidence", "az-tdx-vtpm", rd.hex(),
                                  env=tdx_env(swtpm, imds)).stdout)
    shape = json.load(open(os.path.join(os.environ["KBS_TEST_DATA"],
                                        "attester/evidence/shape-az-tdx-vtpm.json")))
    assert list(ev) == list(shape) == ["version", "tpm_quote", "hcl_report", "td_quote"]
    assert ev["version"] == 2
    assert set(ev["tpm_quote"]) == set(shape["tpm_quote"])
    # padded base64url (Trustee's UrlSafe serde form), exactly the NV bytes / IMDS quote
    for k in ("hcl_report", "td_quote"):
        assert "+" not in ev[k] and "/" not in ev[k] and len(ev[k]) % 4 == 0
    assert base64.urlsafe_b64decode(ev["hcl_report"]) == report
    assert base64.urlsafe_b64decode(ev["td_quote"]) == imds.quote
    # one IMDS call: the 1024-byte TDREPORT from the HCL report, standard base64, as upstream
    [(method, path, headers, body)] = imds.requests
    assert (method, path) == ("POST", "/acc/tdquote")
    assert headers["Metadata"] == "true"
    assert headers["Content-Type"] == "application/json"
    sent = json.loads(body)
    assert list(sent) == ["report"]
    assert base64.b64decode(sent["report"], validate=True) == report[0x20:0x20 + 1024]
    ud = tpm2(swtpm, "nvread", "0x01400002", "-C", "o").stdout
    assert ud == rd + bytes(16)
    q = ev["tpm_quote"]
    a = parse_attest(bytes.fromhex(q["message"]))
    assert a["extra"] == rd
    assert a["selection"] == [(0x000B, list(range(24)))]
    ak_pem(swtpm, tmp_dir)
    r = checkquote(tmp_dir, ev, rd.hex())
    assert r.returncode == 0, r.stderr
    assert checkquote(tmp_dir, ev, hashlib.sha384(b"other").hexdigest()).returncode != 0


def test_az_tdx_vtpm_imds_fallback_form_and_failures(swtpm, tmp_dir, imds):
    report = small_tdx_report()
    provision_hcl(swtpm, tmp_dir, report)
    env = tdx_env(swtpm, imds)
    # IMDS refuses the standard form: the unpadded base64url form follows; the answer may be
    # base64url too
    imds.tdquote_status = [400, 200]
    imds.quote_form = "url"
    ev = json.loads(attester_tool("evidence", "az-tdx-vtpm", "22" * 48, env=env).stdout)
    assert base64.urlsafe_b64decode(ev["td_quote"]) == imds.quote
    bodies = [json.loads(r[3])["report"] for r in imds.requests]
    assert len(bodies) == 2
    assert bodies[0] == base64.b64encode(report[0x20:0x420]).decode()
    assert bodies[1] == base64.urlsafe_b64encode(report[0x20:0x420]).decode().rstrip("=")
    # IMDS refusing both forms, or not there at all: no evidence
    imds.requests.clear()
    imds.tdquote_status = [500]
    r = attester_tool("evidence", "az-tdx-vtpm", "22" * 48, env=env, check=False)
    assert r.returncode != 0 and len(imds.requests) == 2
    gone = dict(env, AA_AZ_IMDS_URL=f"http://127.0.0.1:{free_port()}")
    assert attester_tool("evidence", "az-tdx-vtpm", "22" * 48, env=gone,
                         check=False).returncode != 0


def test_auto_detects_az_tdx_vtpm_by_hcl_type(swtpm, tmp_dir, imds):
    env = tdx_env(swtpm, imds)
    provision_hcl(swtpm, tmp_dir, small_tdx_report())
    assert attester_tool("detect", env=env).stdout.strip() == "az-tdx-vtpm"
    # the SNP attester refuses a TDX HCL report and the TDX one an SNP report
    assert attester_tool("evidence", "az-snp-vtpm", "11" * 32,
                         env=dict(env, AA_AZ_VCEK_PATH=os.path.join(DATA, "snp-vcek.pem")),
                         check=False).returncode != 0
    assert imds.requests == []


def test_az_tdx_vtpm_refuses_snp_hcl_report(swtpm, tmp_dir, imds):
    provision_hcl(swtpm, tmp_dir, small_hcl_report())
    assert attester_tool("evidence", "az-tdx-vtpm", "11" * 32, env=tdx_env(swtpm, imds),
                         check=False).returncode != 0
    assert imds.requests == []


def test_az_snp_vtpm_vcek_from_imds_without_vcek_path(swtpm, tmp_dir, imds):
    provision_hcl(swtpm, tmp_dir, small_hcl_report())
    env = swtpm.env(AA_AZ_REPORT_WAIT_MS=0, AA_AZ_IMDS_URL=imds.url)
    env.pop("AA_AZ_VCEK_PATH", None)
    full = {k: v for k, v in os.environ.items() if k != "AA_AZ_VCEK_PATH"}
    full.update(env)
    r = subprocess.run([str(find_binary("attester-tool")), "evidence", "az-snp-vtpm", "33" * 32],
                       env=full, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=imds.vcek_pem.encode(),
                         capture_output=True, check=True).stdout
    assert base64.urlsafe_b64decode(ev["vcek"]) == der
    [(method, path, headers, _)] = imds.requests
    assert (method, path, headers["Metadata"]) == ("GET", "/metadata/THIM/amd/certification",
                                                   "true")
    # an IMDS answer without a certificate: no evidence
    imds.vcek_pem = "not a certificate"
    r = subprocess.run([str(find_binary("attester-tool")), "evidence", "az-snp-vtpm", "33" * 32],
                       env=full, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
