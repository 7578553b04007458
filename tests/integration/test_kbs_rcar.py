# SPDX-License-Identifier: Apache-2.0
"""End-to-end RCAR against a real kbs with an independent Python client (kbs_pyclient)."""
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kbs_pyclient import (ALLOW_ALL, DENY_ALL, Admin, KbsClient, TeeKey, error_type,
                          jwt_decode, jwt_verify_es256, metric_value, start_kbs)

SECRET = b"shhhhhhh\x00\x01binary\xff"


@pytest.fixture(params=["http", "tls"])
def kbs(request, daemons, tmp_dir, free_port, tls_cert):
    tls = tls_cert() if request.param == "tls" else None
    url, verify, d, _ = start_kbs(daemons, tmp_dir, free_port(), tls=tls)
    return url, verify


@pytest.mark.parametrize("key", ["ec-p256", "ec-p521", "rsa-oaep-256", "rsa1_5"])
def test_rcar_then_cookie_get_returns_exact_bytes(kbs, key):
    url, verify = kbs
    tk = {"ec-p256": lambda: TeeKey("ec"), "ec-p521": lambda: TeeKey("ec", ec.SECP521R1()),
          "rsa-oaep-256": lambda: TeeKey("rsa"),
          "rsa1_5": lambda: TeeKey("rsa", rsa_alg="RSA1_5")}[key]()
    admin = Admin(url, verify=verify)
    assert admin.set_resource("default/test/secret", SECRET).status_code == 200
    assert admin.set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url, verify=verify, tee_key=tk)
    c.rcar()
    assert c.get_secret("default/test/secret") == SECRET


def test_auth_response_shape_and_cookie(kbs):
    url, verify = kbs
    c = KbsClient(url, verify=verify)
    r = c.auth()
    assert r.status_code == 200
    assert r.text.startswith('{"nonce":"') and r.text.endswith('","extra-params":""}')
    import base64
    assert len(base64.b64decode(r.json()["nonce"], validate=True)) == 32
    sc = r.headers["Set-Cookie"]
    assert sc.startswith("kbs-session-id=") and "; Expires=" in sc
    sid = sc.split(";")[0].split("=", 1)[1]
    assert len(sid) == 32 and all(ch in "0123456789abcdef" for ch in sid)
    # Trustee's session lifetime: 5 minutes by default
    from email.utils import parsedate_to_datetime
    import time
    expires = parsedate_to_datetime(sc.split("; Expires=")[1].split(";")[0]).timestamp()
    assert abs(expires - (time.time() + 300)) <= 15, sc


def test_token_is_ear_signed_by_header_key(kbs):
    url, verify = kbs
    c = KbsClient(url, verify=verify)
    tok = c.rcar()
    hdr, claims = jwt_decode(tok)
    assert hdr["alg"] == "ES256" and hdr["jwk"]["crv"] == "P-256"
    # Trustee's member order: header typ, alg, jwk; jwk alg before the key parameters
    import base64
    raw = base64.urlsafe_b64decode(tok.split(".")[0] + "==")
    assert raw.startswith(b'{"typ":"JWT","alg":"ES256","jwk":{"alg":"ES256","kty":"EC",'
                          b'"crv":"P-256","x":"'), raw
    assert list(claims["ear.verifier-id"]) == ["developer", "build"]
    assert jwt_verify_es256(tok, hdr["jwk"]) == claims
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iss"] == "CoCo-Attestation-Service"
    cpu0 = claims["submods"]["cpu0"]
    ae = cpu0["ear.veraison.annotated-evidence"]
    assert ae["runtime_data_claims"]["tee-pubkey"] == c.key.jwk
    assert ae["sample"]["svn"] == "1" and "report_data" not in ae["sample"]
    # no reference values: Trustee's default_cpu gives executables 33, hardware 97
    assert cpu0["ear.status"] == "contraindicated"
    assert cpu0["ear.trustworthiness-vector"]["hardware"] == 97


def test_bearer_token_get_without_cookie(kbs):
    url, verify = kbs
    admin = Admin(url, verify=verify)
    admin.set_resource("default/k/bearer", b"via-bearer")
    admin.set_resource_policy(ALLOW_ALL)
    c = KbsClient(url, verify=verify)
    tok = c.rcar()
    assert c.get_secret("default/k/bearer", bearer=tok, cookie=False) == b"via-bearer"


def test_default_policy_denies_sample_tee(kbs):
    url, verify = kbs
    Admin(url, verify=verify).set_resource("default/test/secret", SECRET)
    c = KbsClient(url, verify=verify)
    c.rcar()
    r = c.get("default/test/secret")
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"
    assert "annotated-evidence" in r.json()["detail"]  # the rule that denied
    assert SECRET.decode("latin-1") not in r.text


def test_delete_then_get_is_not_found(kbs):
    url, verify = kbs
    admin = Admin(url, verify=verify)
    admin.set_resource_policy(ALLOW_ALL)
    admin.set_resource("default/test/gone", b"x")
    c = KbsClient(url, verify=verify)
    c.rcar()
    assert c.get_secret("default/test/gone") == b"x"
    assert admin.delete_resource("default/test/gone").status_code == 200
    r = c.get("default/test/gone")
    assert r.status_code == 401 and error_type(r) == "PluginInternalError"
    assert "default/test/gone not found" in r.json()["detail"]
    r = admin.delete_resource("default/test/gone")
    assert r.status_code == 401 and error_type(r) == "PluginInternalError"


def test_policy_change_takes_effect(kbs):
    url, verify = kbs
    admin = Admin(url, verify=verify)
    admin.set_resource("default/p/one", b"1")
    c = KbsClient(url, verify=verify)
    c.rcar()
    assert admin.set_resource_policy(ALLOW_ALL).status_code == 200
    assert c.get_secret("default/p/one") == b"1"
    assert admin.set_resource_policy(DENY_ALL).status_code == 200
    r = c.get("default/p/one")
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"
    assert admin.set_resource_policy(ALLOW_ALL).status_code == 200
    assert c.get_secret("default/p/one") == b"1"


def test_overwrite_returns_new_bytes(kbs):
    url, verify = kbs
    admin = Admin(url, verify=verify)
    admin.set_resource_policy(ALLOW_ALL)
    admin.set_resource("default/o/v", b"old")
    admin.set_resource("default/o/v", b"new")
    c = KbsClient(url, verify=verify)
    c.rcar()
    assert c.get_secret("default/o/v") == b"new"


def test_attestation_metric_counts_successes(kbs):
    url, verify = kbs
    labels = {"tee": "sample", "result": "success"}
    before = metric_value(url, "kbs_attestations_total", labels, verify)
    KbsClient(url, verify=verify).rcar()
    KbsClient(url, verify=verify).rcar()
    assert metric_value(url, "kbs_attestations_total", labels, verify) == before + 2


def test_repeated_attest_returns_same_token(kbs):
    url, verify = kbs
    c = KbsClient(url, verify=verify)
    r = c.auth()
    body = c.attest_body(r.json()["nonce"])
    t1 = c.attest(body).json()["token"]
    r2 = c.attest(body)
    assert r2.status_code == 200 and r2.json()["token"] == t1


def test_healthz_and_metrics(kbs):
    import requests
    url, verify = kbs
    assert requests.get(url + "/healthz", verify=verify).status_code == 200
    m = requests.get(url + "/metrics", verify=verify)
    assert m.status_code == 200 and "kbs_http_requests_total" in m.text
    assert requests.post(url + "/metrics", verify=verify).status_code == 405
    # requests by endpoint and status, attestations by tee and result, latency histograms
    c = KbsClient(url, verify=verify)
    c.rcar()
    assert c.get("default/none/here").status_code == 401
    ep = lambda e, st: metric_value(url, "kbs_http_requests_total",  # noqa: E731
                                    {"endpoint": e, "status": st}, verify=verify)
    assert ep("auth", "200") == 1 and ep("attest", "200") == 1
    assert ep("resource", "401") == 1 and ep("resource", "200") == 0
    assert metric_value(url, "kbs_attestations_total", {"tee": "sample", "result": "success"},
                        verify=verify) == 1
    assert metric_value(url, "kbs_http_request_duration_seconds_count", {"endpoint": "attest"},
                        verify=verify) == 1
    assert metric_value(url, "kbs_http_request_duration_seconds_bucket",
                        {"endpoint": "attest", "le": "+Inf"}, verify=verify) == 1


def test_generated_signing_key_is_logged_by_thumbprint(daemons, tmp_dir, free_port):
    """Without a configured key the AS generates one at start and logs its RFC 7638
    thumbprint; the tokens it issues carry exactly that key."""
    import base64
    import hashlib
    import json
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port())
    hdr, _ = jwt_decode(KbsClient(url).rcar())
    jwk = hdr["jwk"]
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, sort_keys=True,
                         separators=(",", ":")).encode()
    tp = base64.urlsafe_b64encode(hashlib.sha256(members).digest()).rstrip(b"=").decode()
    log = d.log_path.read_text()
    assert "thumbprint " + tp in log, log[-2000:]


def test_resource_policy_sees_form_decoded_query(kbs):
    # the query string reaches the resource policy as data.query, form-decoded
    # (common/http_util http_form_decode); a pair that decodes to a NUL byte is dropped
    url, verify = kbs
    admin = Admin(url, verify=verify)
    admin.set_resource("default/q/one", b"1")
    policy = ('package policy\n\ndefault allow = false\n\nallow if {\n'
              '    data.query.a == "x y!"\n    data.query["k=1"] == "v=2"\n'
              '    data.query.c == ""\n    not data.query.b\n}\n')
    assert admin.set_resource_policy(policy).status_code == 200
    c = KbsClient(url, verify=verify)
    c.rcar()
    assert c.get_secret("default/q/one?a=x+y%21&k%3D1=v=2&c&b=%00z") == b"1"
    r = c.get("default/q/one?a=x+y")
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"
