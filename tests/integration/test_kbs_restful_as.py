# SPDX-License-Identifier: Apache-2.0
"""restful-as: Trustee's /attestation body for the sample TEE returns a token that verifies."""
import base64
import json

import pytest
import requests

from kbs_pyclient import TeeKey, b64u, jwt_decode, jwt_verify_es256, runtime_data_digest


@pytest.fixture
def ras(daemons, free_port, as_config):
    port = free_port()
    cfg = as_config
    daemons.start(["restful-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg],
                  ready_port=port)
    return "http://127.0.0.1:%d" % port


def request_body(nonce="bm9uY2U=", svn="1", report_data=None, structured=True):
    key = TeeKey()
    rd = {"tee-pubkey": key.jwk, "nonce": nonce, "additional-evidence": ""}
    digest = runtime_data_digest(key.jwk, nonce) if report_data is None else report_data
    ev = {"svn": svn, "report_data": base64.b64encode(digest).decode()}
    vr = {"tee": "sample", "evidence": b64u(json.dumps(ev).encode()),
          "runtime_data_hash_algorithm": "sha384"}
    if structured:
        vr["runtime_data"] = {"structured": rd}
    else:
        vr["runtime_data"] = {"raw": b64u(digest)}
    return {"verification_requests": [vr], "policy_ids": []}, rd


def test_attestation_returns_verifiable_ear(ras):
    body, rd = request_body()
    r = requests.post(ras + "/attestation", json=body)
    assert r.status_code == 200, r.text
    token = r.text
    jwks = requests.get(ras + "/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 1 and jwks["keys"][0]["alg"] == "ES256"
    claims = jwt_verify_es256(token, jwks["keys"][0])
    hdr, _ = jwt_decode(token)
    assert hdr["jwk"]["x"] == jwks["keys"][0]["x"]
    ae = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    assert ae["runtime_data_claims"] == rd
    assert claims["submods"]["cpu0"]["ear.appraisal-policy-id"] == "default"


def test_raw_runtime_data(ras):
    body, _ = request_body(structured=False)
    r = requests.post(ras + "/attestation", json=body)
    assert r.status_code == 200, r.text
    assert r.text.count(".") == 2


def test_wrong_report_data_is_500_with_cause(ras):
    body, _ = request_body(report_data=b"\1" * 48)
    r = requests.post(ras + "/attestation", json=body)
    assert r.status_code == 500
    assert r.text.startswith("An internal error occured: \n0: ")
    assert "report_data does not match" in r.text


def test_malformed_requests_are_400(ras):
    assert requests.post(ras + "/attestation", data=b"{").status_code == 400
    body, _ = request_body()
    del body["policy_ids"]
    assert requests.post(ras + "/attestation", json=body).status_code == 400


def test_policy_endpoints(ras, as_config):
    r = requests.post(ras + "/policy", json={
        "policy_id": "some-id", "policy": b64u(b"package policy\n\ndefault allow = true\n")})
    assert r.status_code == 200, r.text
    # persisted under the test's own state dir, never the shipped /opt/confidential-containers
    assert (as_config.parent / "as-state" / "attestation_service_policy" / "some-id.rego").is_file()
    ids = [p["policy-id"] for p in requests.get(ras + "/policy").json()]
    assert "some-id" in ids and "default_cpu" in ids
    r = requests.post(ras + "/policy", json={"policy_id": "x", "policy": b64u(b"package q\nallow {")})
    assert r.status_code == 500
    assert requests.get(ras + "/healthz").status_code == 200


def test_help_is_man_page_style(build_dir):
    import subprocess
    from kbsfs_testlib import find_binary
    for name in ["restful-as", "kbs"]:
        out = subprocess.run([str(find_binary(name)), "--help"], capture_output=True,
                             text=True, timeout=10)
        assert out.returncode == 0
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS"]:
            assert "\n" + section + "\n" in "\n" + out.stdout, (name, section)
        if name == "restful-as":  # the list comes from the verifier registry
            line = [ln for ln in out.stdout.splitlines() if "with a verifier" in ln][0]
            for tee in ["sample", "sampledevice", "snp", "tdx"]:
                assert " " + tee + "," in line or " " + tee + "." in line, line
