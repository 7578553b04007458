# SPDX-License-Identifier: Apache-2.0
"""restful-as with the SGX verifier: Trustee's own restful-as request (coco-as/request.json,
SGX DCAP quote v3) posted verbatim becomes an EAR token whose annotated evidence carries the
enclave's MRENCLAVE/MRSIGNER under "sgx"; a flipped quote byte and a wrong report_data are
refused with the failed check named."""
import base64
import json

import pytest
import requests

from kbs_pyclient import b64u, jwt_verify_es256

MR_ENCLAVE = "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68"
MR_SIGNER = "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"


@pytest.fixture
def ras(daemons, free_port, as_config):
    port = free_port()
    cfg = as_config
    daemons.start(["restful-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg],
                  ready_port=port)
    return "http://127.0.0.1:%d" % port


def request_json(test_data):
    return json.loads((test_data / "sgx" / "coco-as-sgx-request.json").read_text())


def evidence_of(req):
    ev = req["verification_requests"][0]["evidence"]
    return json.loads(base64.urlsafe_b64decode(ev + "=" * (-len(ev) % 4)))


def test_trustee_sgx_request_becomes_token(ras, test_data):
    r = requests.post(ras + "/attestation", json=request_json(test_data), timeout=30)
    assert r.status_code == 200, r.text
    jwk = requests.get(ras + "/.well-known/jwks.json", timeout=10).json()["keys"][0]
    claims = jwt_verify_es256(r.text, jwk)
    ae = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    assert ae["sgx"]["body"]["mr_enclave"] == MR_ENCLAVE
    assert ae["sgx"]["body"]["mr_signer"] == MR_SIGNER
    assert ae["sgx"]["header"]["version"] == "0300"
    assert ae["sgx"]["platform_instance_id"] == "7a3a6941065cd5060bd93d3db2cfc0c8"
    assert ae["report_data"].startswith("74657374")


def test_flipped_quote_and_wrong_report_data_refused(ras, test_data):
    req = request_json(test_data)
    quote = bytearray(base64.b64decode(evidence_of(req)["quote"]))
    quote[48 + 64] ^= 1  # first byte of MRENCLAVE
    vr = req["verification_requests"][0]
    vr["evidence"] = b64u(json.dumps({"quote": base64.b64encode(quote).decode()}).encode())
    r = requests.post(ras + "/attestation", json=req, timeout=30)
    assert r.status_code == 500
    assert "sgx: quote signature does not verify with the attestation key" in r.text
    # the genuine quote, but the runtime data the AS expects is not what the enclave reported
    req = request_json(test_data)
    req["verification_requests"][0]["runtime_data"] = {"raw": b64u(b"tesT")}
    r = requests.post(ras + "/attestation", json=req, timeout=30)
    assert r.status_code == 500
    assert "sgx: REPORTDATA does not match the runtime data digest" in r.text
