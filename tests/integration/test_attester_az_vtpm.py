# SPDX-License-Identifier: Apache-2.0
"""az-snp-vtpm evidence from a real swtpm provisioned like an Azure CVM vTPM: the recorded HCL
report in NV 0x01400001, the AK at 0x81000003. Checks Trustee's v2 evidence shape, the HCL
report read back byte for byte, the report data written to the user-data index 0x01400002,
the vTPM quote (nonce = report data unmodified) verified by tpm2_checkquote, and that
tee=auto picks az-snp-vtpm only when the HCL index exists."""
import base64
import hashlib
import json
import os
import struct
import subprocess

from swtpm_lib import attester_tool, parse_attest, swtpm  # noqa: F401

DATA = os.path.join(os.environ.get("KBS_TEST_DATA", ""), "attester", "azure")


def small_hcl_report():
    """Recorded HCL report with the variable data cut to the first key (fits swtpm's 2 KiB)."""
    b = open(os.path.join(DATA, "snp-hcl-report.bin"), "rb").read()
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
    struct.pack_into("<I", report, 0x4C8, 4)              # a TDX HCL report
    provision_hcl(swtpm, tmp_dir, bytes(report))
    env = az_env(swtpm)
    assert attester_tool("detect", env=env).stdout.strip() == "tpm"
    assert attester_tool("evidence", "az-snp-vtpm", "11" * 32, env=env,
                         check=False).returncode != 0
    assert attester_tool("evidence", "az-snp-vtpm", "11" * 65, env=env,
                         check=False).returncode != 0
