# SPDX-License-Identifier: Apache-2.0
"""End to end: TPM evidence from our attester on a real swtpm, verified by restful-as with the
TPM verifier configured through verifier_config.tpm_verifier. The AK is trusted through
trusted_ak_keys_dir or through an AK certificate issued by the configured CA; an AK trusted by
neither, a foreign AK, a flipped byte, a wrong nonce, and event logs (firmware log for PCR 16,
AAEL for PCR 17) that do not replay to the quoted PCRs are refused with the check named."""
import base64
import datetime
import hashlib
import json
import struct

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kbs_pyclient import b64u, jwt_verify_es256
from swtpm_lib import attester_tool, swtpm  # noqa: F401


def start_as(daemons, free_port, tmp_dir, tpm_cfg, name="restful-as"):
    port = free_port()
    cfg = tmp_dir / f"{name}.json"
    cfg.write_text(json.dumps({"verifier_config": {"tpm_verifier": tpm_cfg}}))
    daemons.start(["restful-as", "--socket", f"127.0.0.1:{port}", "--config-file", cfg],
                  ready_port=port, name=name)
    return f"http://127.0.0.1:{port}"


def attest(ras, evidence, report_data):
    vr = {"tee": "tpm", "evidence": b64u(json.dumps(evidence).encode()),
          "runtime_data": {"raw": b64u(report_data)},
          "runtime_data_hash_algorithm": "sha384"}
    return requests.post(ras + "/attestation",
                         json={"verification_requests": [vr], "policy_ids": []}, timeout=30)


def tpm_claims(ras, token):
    jwk = requests.get(ras + "/.well-known/jwks.json", timeout=10).json()["keys"][0]
    claims = jwt_verify_es256(token, jwk)
    return claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["tpm"]


def evidence(tpm, rd, **env):
    return json.loads(attester_tool("evidence", "tpm", rd.hex(), env=tpm.env(**env)).stdout)


def ak_der(ev):
    return base64.b64decode(ev["ak_public"])


def test_swtpm_evidence_verifies_and_tampering_is_refused(swtpm, daemons, free_port, tmp_dir):
    rd = hashlib.sha256(b"nonce from the kbs").digest()
    ev = evidence(swtpm, rd)
    trusted = tmp_dir / "trusted_aks"
    trusted.mkdir()
    (trusted / "ak.der").write_bytes(ak_der(ev))
    ras = start_as(daemons, free_port, tmp_dir, {"trusted_ak_keys_dir": str(trusted)})

    r = attest(ras, ev, rd)
    assert r.status_code == 200, r.text
    tpm = tpm_claims(ras, r.text)
    assert tpm["pcr00"] == ev["tpm_quote"]["pcrs"][0]
    assert tpm["pcr23"] == ev["tpm_quote"]["pcrs"][23]
    assert tpm["ak_public"] == ev["ak_public"]
    assert tpm["ak_trust"] == "trusted_ak_keys_dir"

    # wrong nonce
    r = attest(ras, ev, hashlib.sha256(b"another nonce").digest())
    assert r.status_code != 200 and "extraData does not match" in r.text
    # a flipped byte in the quote (inside qualifyingData)
    msg = bytearray(base64.b64decode(ev["tpm_quote"]["message"]))
    msg[45] ^= 1
    bad = json.loads(json.dumps(ev))
    bad["tpm_quote"]["message"] = base64.b64encode(bytes(msg)).decode()
    r = attest(ras, bad, rd)
    assert r.status_code != 200 and "signature does not verify with the AK" in r.text
    # a changed PCR value
    bad = json.loads(json.dumps(ev))
    bad["tpm_quote"]["pcrs"][7] = "11" * 32
    r = attest(ras, bad, rd)
    assert r.status_code != 200 and "pcrDigest does not match" in r.text
    # a foreign AK substituted for the quoting one
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    bad = json.loads(json.dumps(ev))
    bad["ak_public"] = base64.b64encode(foreign.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    r = attest(ras, bad, rd)
    assert r.status_code != 200 and "signature does not verify with the AK" in r.text


def test_ak_trusted_by_neither_is_refused(swtpm, daemons, free_port, tmp_dir):
    rd = bytes(range(32))
    ev = evidence(swtpm, rd)
    other = tmp_dir / "other_aks"
    other.mkdir()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    (other / "someone-else.pem").write_bytes(key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    ras = start_as(daemons, free_port, tmp_dir, {"trusted_ak_keys_dir": str(other)})
    r = attest(ras, ev, rd)
    assert r.status_code != 200 and "AK is not trusted" in r.text
    # Trustee's behaviour only when the configuration says so
    ras2 = start_as(daemons, free_port, tmp_dir, {"allow_unverified_ak": True}, name="as2")
    r = attest(ras2, ev, rd)
    assert r.status_code == 200, r.text
    assert tpm_claims(ras2, r.text)["ak_trust"] == "unverified"


def make_ca(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def issue_ak_cert(ca_key, ca_cert, ak_public_der):
    ak = serialization.load_der_public_key(ak_public_der)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tpm-ak")]))
            .issuer_name(ca_cert.subject).public_key(ak)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_ak_certificate_chain_to_configured_ca(swtpm, daemons, free_port, tmp_dir):
    rd = hashlib.sha256(b"cert path").digest()
    ev = evidence(swtpm, rd)
    ca_key, ca_cert = make_ca("AK CA")
    ca_pem = tmp_dir / "ak-ca.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ras = start_as(daemons, free_port, tmp_dir, {"ak_ca_certs": str(ca_pem)})

    r = attest(ras, ev, rd)
    assert r.status_code != 200 and "AK is not trusted" in r.text
    good = dict(ev, ak_cert=issue_ak_cert(ca_key, ca_cert, ak_der(ev)))
    r = attest(ras, good, rd)
    assert r.status_code == 200, r.text
    assert tpm_claims(ras, r.text)["ak_trust"] == "ak_certificate"
    # a certificate from another CA
    other_key, other_cert = make_ca("Other CA")
    r = attest(ras, dict(ev, ak_cert=issue_ak_cert(other_key, other_cert, ak_der(ev))), rd)
    assert r.status_code != 200 and "does not chain to the AK CA" in r.text
    # a valid certificate for another key
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    fder = foreign.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
    r = attest(ras, dict(ev, ak_cert=issue_ak_cert(ca_key, ca_cert, fder)), rd)
    assert r.status_code != 200 and "certifies another key" in r.text


def spec_id_header():
    spec = (b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 1) +
            struct.pack("<HH", 0x000B, 32) + b"\0")
    return struct.pack("<II", 0, 3) + bytes(20) + struct.pack("<I", len(spec)) + spec


def event2(pcr, typ, digest, data):
    return (struct.pack("<III", pcr, typ, 1) + struct.pack("<H", 0x000B) + digest +
            struct.pack("<I", len(data)) + data)


def aael_record(pcr, text):
    tagged = struct.pack("<II", 0x4141454C, len(text)) + text
    return event2(pcr, 6, hashlib.sha256(tagged).digest(), tagged)


def test_event_logs_replay_against_quoted_pcrs(swtpm, daemons, free_port, tmp_dir):
    env4 = swtpm.env(AA_TPM_LOCALITY=4)
    d1 = hashlib.sha256(b"kernel").digest()
    d2 = hashlib.sha256(b"initrd").digest()
    for d in (d1, d2):
        attester_tool("pcr-extend", 16, d.hex(), env=env4)
    fw = tmp_dir / "binary_bios_measurements"
    fw.write_bytes(spec_id_header() + event2(16, 0x0D, d1, b"kernel") +
                   event2(16, 0x0D, d2, b"initrd"))
    aael = tmp_dir / "aael"
    rec = aael_record(17, b"github.com/confidential-containers PullImage busybox")
    aael.write_bytes(rec)
    attester_tool("pcr-extend", 17, rec[14:46].hex(), env=env4)

    rd = hashlib.sha256(b"logs").digest()
    ev = evidence(swtpm, rd, AA_TPM_EVENTLOG_PATH=fw, AAEL_PATH=aael)
    assert "eventlog" in ev and "aa_eventlog" in ev
    ras = start_as(daemons, free_port, tmp_dir, {"allow_unverified_ak": True})
    r = attest(ras, ev, rd)
    assert r.status_code == 200, r.text

    # a firmware log claiming another event for PCR 16
    bad = dict(ev, eventlog=base64.b64encode(
        spec_id_header() + event2(16, 0x0D, d1, b"kernel") +
        event2(16, 0x0D, hashlib.sha256(b"other initrd").digest(), b"initrd")).decode())
    r = attest(ras, bad, rd)
    assert r.status_code != 200 and "event log replay does not match PCR 16" in r.text
    # an AAEL with an entry that was never extended
    bad = dict(ev, aa_eventlog=base64.b64encode(
        rec + aael_record(17, b"github.com/confidential-containers PullImage evil")).decode())
    r = attest(ras, bad, rd)
    assert r.status_code != 200 and "event log replay does not match PCR 17" in r.text
    # an AAEL entry whose text was edited after the fact
    edited = bytearray(rec)
    edited[-1] ^= 1
    r = attest(ras, dict(ev, aa_eventlog=base64.b64encode(bytes(edited)).decode()), rd)
    assert r.status_code != 200 and "digest does not match its text" in r.text


@pytest.mark.parametrize("value", ["yes", 3])
def test_bad_tpm_verifier_config_is_refused_at_start(tmp_dir, value):
    import subprocess
    from kbsfs_testlib import find_binary
    cfg = tmp_dir / "bad.json"
    cfg.write_text(json.dumps({"verifier_config": {"tpm_verifier": {
        "allow_unverified_ak": value}}}))
    r = subprocess.run([str(find_binary("restful-as")), "--socket", "127.0.0.1:1",
                        "--config-file", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "verifier_config.tpm_verifier.allow_unverified_ak" in r.stderr + r.stdout
