# SPDX-License-Identifier: Apache-2.0
"""restful-as with the init_data member of Trustee's /attestation body (reference
kbs-protocol.md: `"init_data":{"init_data_toml":…}|{"init_data_digest":"<b64url>"}`), which
test_kbs_restful_as.py does not send: the digest (computed from the TOML with the algorithm
the TOML names, or taken as given) and the TOML's [data] claims appear in the token, and a
malformed digest is a 400."""
import base64
import hashlib
import json

import pytest
import requests

from kbs_pyclient import TeeKey, b64u, jwt_verify_es256, runtime_data_digest
from test_kbs_restful_as import ras  # noqa: F401 (fixture: restful-as on parse-example1.json)

TOML = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = "audit"\n'


def body(init_data):
    key, nonce = TeeKey(), "YXVkaXQtbm9uY2U="
    rd = {"tee-pubkey": key.jwk, "nonce": nonce, "additional-evidence": ""}
    ev = {"svn": "1",
          "report_data": base64.b64encode(runtime_data_digest(key.jwk, nonce)).decode()}
    return {"verification_requests": [{
        "tee": "sample", "evidence": b64u(json.dumps(ev).encode()),
        "runtime_data": {"structured": rd}, "init_data": init_data,
        "runtime_data_hash_algorithm": "sha384"}], "policy_ids": []}


def annotated(ras, token):
    jwks = requests.get(ras + "/.well-known/jwks.json").json()
    claims = jwt_verify_es256(token, jwks["keys"][0])
    return claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]


def test_init_data_toml_is_hashed_and_its_claims_land_in_the_token(ras):
    r = requests.post(ras + "/attestation", json=body({"init_data_toml": TOML}))
    assert r.status_code == 200, r.text
    ae = annotated(ras, r.text)
    assert base64.b64decode(ae["init_data"]) == hashlib.sha384(TOML.encode()).digest()
    assert ae["init_data_claims"] == {"aa.toml": "audit"}


def test_init_data_digest_is_taken_as_given(ras):
    digest = hashlib.sha256(b"some init-data").digest()
    r = requests.post(ras + "/attestation", json=body({"init_data_digest": b64u(digest)}))
    assert r.status_code == 200, r.text
    ae = annotated(ras, r.text)
    assert base64.b64decode(ae["init_data"]) == digest
    assert ae.get("init_data_claims") is None


@pytest.mark.parametrize("bad,status,text", [
    ({"init_data_digest": "***"}, 400, "init_data_digest is not base64url"),
    ({"init_data_toml": "version = \n"}, 500, "init-data is not valid TOML"),
    ({"init_data_toml": 'version = "0.1.0"\nalgorithm = "md5"\n'}, 500, "'md5' not supported"),
])
def test_bad_init_data_is_refused_naming_the_cause(ras, bad, status, text):
    r = requests.post(ras + "/attestation", json=body(bad))
    assert r.status_code == status and text in r.text, (r.status_code, r.text)


def test_https_with_trustee_flags(daemons, free_port, as_config, tls_cert):
    """Trustee's -t/--https-pubkey-cert and -k/--https-prikey serve the same API over TLS."""
    cert = tls_cert()
    port = free_port()
    cfg = as_config
    daemons.start(["restful-as", "-s", "127.0.0.1:%d" % port, "-c", cfg, "-t", cert.cert,
                   "-k", cert.key], ready_port=port)
    url = "https://127.0.0.1:%d" % port
    r = requests.post(url + "/attestation", json=body({"init_data_toml": TOML}),
                      verify=str(cert.cert))
    assert r.status_code == 200, r.text
    jwks = requests.get(url + "/.well-known/jwks.json", verify=str(cert.cert)).json()
    claims = jwt_verify_es256(r.text, jwks["keys"][0])
    assert claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["init_data_claims"] == \
        {"aa.toml": "audit"}
    try:  # no plain-HTTP service on the TLS port
        plain = requests.post("http://127.0.0.1:%d/attestation" % port,
                              json=body({"init_data_toml": TOML}), timeout=10).status_code
    except requests.exceptions.ConnectionError:
        plain = None
    assert plain != 200
