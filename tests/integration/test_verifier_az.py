# SPDX-License-Identifier: Apache-2.0
"""restful-as with the Azure verifiers: Trustee's az-snp-vtpm (v1, Genoa v0) and az-tdx-vtpm
(v1) evidence turn into EAR tokens carrying the vTPM PCRs and the hardware measurement; a
wrong nonce or a flipped vTPM quote byte is refused with the failed check named."""
import json

import requests

from kbs_pyclient import b64u, jwt_verify_es256


def start(daemons, free_port):
    port = free_port()
    daemons.start(["restful-as", "--socket", f"127.0.0.1:{port}"], ready_port=port)
    return f"http://127.0.0.1:{port}"


def attest(ras, tee, evidence, report_data):
    vr = {"tee": tee, "evidence": b64u(json.dumps(evidence).encode()),
          "runtime_data": {"raw": b64u(report_data)},
          "runtime_data_hash_algorithm": "sha384"}
    return requests.post(ras + "/attestation",
                         json={"verification_requests": [vr], "policy_ids": []}, timeout=30)


def annotated(ras, token, tee):
    jwk = requests.get(ras + "/.well-known/jwks.json", timeout=10).json()["keys"][0]
    claims = jwt_verify_es256(token, jwk)
    return claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"][tee]


def test_az_snp_vtpm_samples_become_tokens(daemons, free_port, test_data):
    ras = start(daemons, free_port)
    ev = json.loads((test_data / "az" / "snp" / "evidence-v1.json").read_text())
    r = attest(ras, "az-snp-vtpm", ev, b"challenge")
    assert r.status_code == 200, r.text
    c = annotated(ras, r.text, "az-snp-vtpm")
    assert c["tpm"]["pcr00"] == \
        "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced"
    assert isinstance(c["measurement"], str) and len(c["measurement"]) == 64
    assert c["policy_debug_allowed"] == "false"
    genoa = json.loads((test_data / "az" / "snp" / "evidence-genoa.json").read_text())
    rd = bytes.fromhex("0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938c"
                       "a05475f8b46094de6b64270ea35d950f")
    r = attest(ras, "az-snp-vtpm", genoa, rd)
    assert r.status_code == 200, r.text
    assert annotated(ras, r.text, "az-snp-vtpm")["tpm"]["pcr00"] == \
        "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"
    r = attest(ras, "az-snp-vtpm", ev, b"egnellahc")
    assert r.status_code != 200 and "vTPM quote nonce does not match" in r.text
    bad = json.loads(json.dumps(ev))
    m = bad["tpm_quote"]["message"]
    bad["tpm_quote"]["message"] = m[:-1] + ("0" if m[-1] != "0" else "1")
    r = attest(ras, "az-snp-vtpm", bad, b"challenge")
    assert r.status_code != 200 and "signature does not verify with HCLAkPub" in r.text


def test_az_tdx_vtpm_sample_becomes_token(daemons, free_port, test_data):
    ras = start(daemons, free_port)
    ev = json.loads((test_data / "az" / "tdx" / "evidence-v1.json").read_text())
    r = attest(ras, "az-tdx-vtpm", ev, b"challenge")
    assert r.status_code == 200, r.text
    c = annotated(ras, r.text, "az-tdx-vtpm")
    assert c["tpm"]["pcr00"] == \
        "782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273"
    assert c["quote"]["body"]["mr_td"]
    assert c["tcb_status"] == "Unknown"
    r = attest(ras, "az-tdx-vtpm", ev, b"egnellahc")
    assert r.status_code != 200 and "vTPM quote nonce does not match" in r.text
