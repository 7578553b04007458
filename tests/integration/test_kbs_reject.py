# SPDX-License-Identifier: Apache-2.0
"""Every refusal of the KBS: right status, right Trustee error type, no secret in the body."""
import base64
import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kbs_pyclient import (ALLOW_ALL, Admin, KbsClient, TeeKey, b64u, error_type, jwt_decode,
                          jwt_sign, raw_http, start_kbs)

SECRET = b"TOP-SECRET-VALUE-4711"


@pytest.fixture
def signer(tmp_dir):
    """A known AS signing key, so the test can mint tokens the KBS trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    p = tmp_dir / "as-signer.pem"
    p.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return key, p


@pytest.fixture
def kbs(daemons, tmp_dir, free_port, signer):
    # sessions expire after 2 s (kbsfs_timeout_seconds: our extension of Trustee's
    # minute-granular [attestation_service] timeout)
    extra = ("[attestation_service]\nkbsfs_timeout_seconds = 2\n"
             "[attestation_service.attestation_token_broker.signer]\nkey_path = \"%s\"\n"
             % signer[1])
    url, verify, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra)
    admin = Admin(url)
    assert admin.set_resource("default/test/secret", SECRET).status_code == 200
    assert admin.set_resource_policy(ALLOW_ALL).status_code == 200
    return url


def no_secret(r):
    assert SECRET.decode() not in r.text
    assert base64.b64encode(SECRET).decode() not in r.text


def expect(r, status, etype, detail_part=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert error_type(r) == etype, r.text
    if detail_part:
        assert detail_part in r.json()["detail"], r.text
    assert "Content-Type" not in r.headers or r.headers["Content-Type"] != "application/json"
    no_secret(r)


def test_attest_without_cookie(kbs):
    c = KbsClient(kbs)
    nonce = c.auth().json()["nonce"]
    r = requests.post(kbs + "/kbs/v0/attest", json=c.attest_body(nonce))
    expect(r, 401, "AttestationError", "no kbs-session-id cookie")


def test_attest_with_unknown_cookie(kbs):
    c = KbsClient(kbs)
    nonce = c.auth().json()["nonce"]
    r = requests.post(kbs + "/kbs/v0/attest", json=c.attest_body(nonce),
                      cookies={"kbs-session-id": "0" * 32})
    expect(r, 401, "AttestationError", "session unknown")


def test_get_with_unattested_or_foreign_cookie(kbs):
    c = KbsClient(kbs)
    c.auth()  # authed, not attested
    expect(c.get("default/test/secret"), 401, "TokenNotFound")
    r = requests.get(kbs + "/kbs/v0/resource/default/test/secret",
                     cookies={"kbs-session-id": "f" * 32})
    expect(r, 401, "TokenNotFound")
    expect(requests.get(kbs + "/kbs/v0/resource/default/test/secret"), 401, "TokenNotFound")


def test_reused_nonce_is_refused(kbs):
    c = KbsClient(kbs)
    nonce = c.auth().json()["nonce"]
    bad = c.attest_body(nonce, report_data=b"\0" * 48)
    expect(c.attest(bad), 401, "AttestationError", "report_data does not match")
    # the nonce was consumed by the failed attempt; correct evidence cannot reuse it
    expect(c.attest(c.attest_body(nonce)), 401, "AttestationError", "nonce already used")
    # nonce of session A presented in session B
    other = KbsClient(kbs)
    other.auth()
    expect(other.attest(other.attest_body(nonce)), 401, "AttestationError",
           "nonce does not match")


def test_expired_session(kbs):
    c = KbsClient(kbs)
    nonce = c.auth().json()["nonce"]
    time.sleep(2.5)
    expect(c.attest(c.attest_body(nonce)), 401, "AttestationError", "session")


def test_cookie_session_expiry_then_bearer_still_works(kbs):
    c = KbsClient(kbs)
    tok = c.rcar()
    time.sleep(2.5)
    expect(c.get("default/test/secret"), 401, "TokenNotFound")
    assert c.get_secret("default/test/secret", bearer=tok) == SECRET


def test_report_data_for_another_key(kbs):
    c = KbsClient(kbs)
    nonce = c.auth().json()["nonce"]
    other = TeeKey()
    # evidence binds other.jwk, runtime-data claims c.key
    from kbs_pyclient import runtime_data_digest
    body = c.attest_body(nonce, report_data=runtime_data_digest(other.jwk, nonce))
    expect(c.attest(body), 401, "AttestationError", "report_data does not match")


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "0.3.0", "0.4.1", "0.4.0-rc1", "1.0.0",
                                     "", "x"])
def test_unsupported_protocol_version(kbs, version):
    r = KbsClient(kbs).auth(version=version)
    expect(r, 401, "AttestationError", "Protocol Version Mismatch")


def test_protocol_version_build_metadata_accepted(kbs):
    assert KbsClient(kbs).auth(version="0.4.0+build.7").status_code == 200


def test_unknown_tee_and_missing_members(kbs):
    expect(KbsClient(kbs).auth(tee="nosuchtee"), 401, "AttestationError", "unknown tee")
    r = requests.post(kbs + "/kbs/v0/auth", json={"version": "0.4.0", "tee": "sample"})
    expect(r, 401, "AttestationError", "extra-params")


def test_tee_mismatch_between_auth_and_attest(kbs):
    c = KbsClient(kbs)
    nonce = c.auth(tee="snp").json()["nonce"]
    # sample evidence in an snp session: the TEE comes from the session
    expect(c.attest(c.attest_body(nonce)), 401, "AttestationError", "snp")


def test_foreign_signed_token(kbs):
    c = KbsClient(kbs)
    tok = c.rcar()
    hdr, claims = jwt_decode(tok)
    evil = ec.generate_private_key(ec.SECP256R1())
    n = evil.public_key().public_numbers()
    hdr["jwk"] = {"kty": "EC", "crv": "P-256", "alg": "ES256",
                  "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
    forged = jwt_sign(hdr, claims, evil)
    r = KbsClient(kbs).get("default/test/secret", bearer=forged, cookie=False)
    expect(r, 401, "TokenVerifierError", "not trusted")
    # the genuine header key but a signature by another key
    hdr2, _ = jwt_decode(tok)
    forged2 = jwt_sign(hdr2, claims, evil)
    r = KbsClient(kbs).get("default/test/secret", bearer=forged2, cookie=False)
    expect(r, 401, "TokenVerifierError")


def test_expired_token(kbs, signer):
    c = KbsClient(kbs)
    tok = c.rcar()
    hdr, claims = jwt_decode(tok)
    claims["iat"] = int(time.time()) - 1000
    claims["exp"] = int(time.time()) - 120  # beyond the 60 s leeway
    expired = jwt_sign(hdr, claims, signer[0])
    r = KbsClient(kbs).get("default/test/secret", bearer=expired, cookie=False)
    expect(r, 401, "TokenVerifierError", "token expired")
    # same claims, still valid: accepted (proves the signer key is the trusted one)
    claims["exp"] = int(time.time()) + 100
    ok = jwt_sign(hdr, claims, signer[0])
    assert c.key.decrypt(KbsClient(kbs).get("default/test/secret", bearer=ok,
                                            cookie=False).json()) == SECRET


def test_garbage_bearer(kbs):
    for tok in ["x", "a.b.c", "e30.e30.", "Bearer"]:
        r = KbsClient(kbs).get("default/test/secret", bearer=tok, cookie=False)
        expect(r, 401, "TokenVerifierError")


# Sent as raw bytes (requests would resolve "../" and re-quote escapes first). Trustee's
# actix-web hands every one of these to the resource plugin unchanged (%00 decoded, malformed
# escapes kept), whose repository/type/tag regex refuses it: 401 PluginInternalError, for the
# attested GET and the admin POST alike. Our detail says which rule the path broke.
TAG = "component 3 (tag) has a character outside [A-Za-z0-9_.-] or starts with '.'"
TRAVERSAL = [
    ("default/test/../secret", TAG),
    ("../test/secret", "component 1 (repository) has a character"),
    ("default/../../etc", "component 2 (type) has a character"),
    ("default/test/.hidden", TAG),
    (".default/test/secret", "component 1 (repository) has a character"),
    ("default//secret", "component 2 (type) is empty"),
    ("default/test/secret/extra", "more than 3 components"),
    ("default/test", "has 2 components"),
    ("default/test/sec%2Fret", TAG),
    ("default/test/%2e%2e", TAG),
    ("default/te%00st/secret", "component 2 (type) has a character"),
    ("default/test/" + "a" * 129, "component 3 (tag) is longer than"),
    ("default/test/sp%20ace", TAG),
    ("default/test/%C3%BCmlaut", TAG),
    ("default/test/secret%00.txt", TAG),
    ("default/test/sec%zzret", TAG),
    ("default/test/secret%", TAG),
]


@pytest.mark.parametrize("path,why", TRAVERSAL, ids=[p[:40] for p, _ in TRAVERSAL])
def test_path_traversal_variants_rejected(kbs, path, why):
    c = KbsClient(kbs)
    tok = c.rcar()
    target = "/kbs/v0/resource/" + path
    for method, hdrs, body in (("GET", [("Authorization", "Bearer " + tok)], b""),
                               ("POST", [("Content-Type", "application/octet-stream")],
                                b"pwned")):
        r = raw_http(kbs, method, target, hdrs, body)
        assert (r.status, r.etype) == (401, "PluginInternalError"), (method, r.head, r.text)
        assert "invalid resource path" in r.detail and why in r.detail, (method, r.detail)
        assert SECRET.decode() not in r.text and base64.b64encode(SECRET).decode() not in r.text
    assert c.get_secret("default/test/secret", bearer=tok) == SECRET  # nothing overwritten


def test_admin_write_traversal_never_escapes(kbs, tmp_dir):
    for p in ["../../../tmp/x/y", "default/../escape", "a/b/..", "a/b/c/../../.."]:
        Admin(kbs).set_resource(p, b"pwned")
    found = [str(f) for f in tmp_dir.rglob("*") if f.is_file() and f.read_bytes() == b"pwned"]
    assert found == []


@pytest.mark.parametrize("case", ["one_huge_field", "too_many_fields"])
def test_oversize_headers_are_431(kbs, case):
    """actix-web (Trustee) answers a request head over its buffer, or with more header fields
    than it parses, with 431 Request Header Fields Too Large; so do we (64 KiB, 100 fields)."""
    if case == "one_huge_field":
        hdrs = [("X-Big", "y" * (65 * 1024))]
    else:
        hdrs = [("X-F%d" % i, "v") for i in range(101)]
    r = raw_http(kbs, "GET", "/kbs/v0/resource/default/test/secret", hdrs)
    assert r.status == 431, r.head
    assert r.head.startswith("HTTP/1.1 431 Request Header Fields Too Large")
    # a head within the bounds reaches the KBS (401: no cookie or token)
    r = raw_http(kbs, "GET", "/kbs/v0/resource/default/test/secret", hdrs[:1] if case ==
                 "too_many_fields" else [("X-Big", "y" * 1024)])
    assert r.status == 401 and r.etype == "TokenNotFound", r.text


def test_oversize_body(kbs):
    big = b"x" * (2 * 1024 * 1024 + 1)
    r = Admin(kbs).set_resource("default/test/big", big)
    assert r.status_code == 413


@pytest.mark.parametrize("body", [b"{", b"not json", b"[]", b'{"version":"0.4.0"',
                                  b'{"version":"0.4.0","version":"0.4.0","tee":"sample",'
                                  b'"extra-params":""}', b"\xff\xfe"])
def test_malformed_json(kbs, body):
    r = requests.post(kbs + "/kbs/v0/auth", data=body)
    expect(r, 401, "AttestationError")
    c = KbsClient(kbs)
    c.auth()
    r = c.s.post(kbs + "/kbs/v0/attest", data=body)
    expect(r, 401, "AttestationError")
    r = requests.post(kbs + "/kbs/v0/resource-policy", data=body)
    expect(r, 401, "ParsePolicyError")


def test_bad_tee_pubkeys(kbs):
    for jwk in [{"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW", "x": "AA", "y": "AA"},
                {"kty": "oct", "k": "AAAA"}, {"kty": "EC"}, "string"]:
        c = KbsClient(kbs)
        nonce = c.auth().json()["nonce"]
        body = c.attest_body(nonce, jwk=jwk, report_data=b"\0" * 48)
        expect(c.attest(body), 401, "AttestationError")


def test_unknown_plugin_is_404_and_wrong_methods(kbs):
    expect(requests.get(kbs + "/kbs/v0/nosuch/a"), 404, "PluginNotFound", "Plugin nosuch")
    expect(requests.get(kbs + "/kbs/v0/auth"), 404, "PluginNotFound", "Plugin auth not found")
    expect(requests.put(kbs + "/kbs/v0/resource/default/test/secret", data=b"x"), 401,
           "PluginInternalError")
    assert requests.patch(kbs + "/kbs/v0/resource/default/test/secret").status_code == 405


def test_bad_policy_upload(kbs):
    admin = Admin(kbs)
    r = requests.post(kbs + "/kbs/v0/resource-policy",
                      json={"policy": base64.urlsafe_b64encode(ALLOW_ALL.encode()).decode()
                            + "=="})
    expect(r, 401, "ParsePolicyError")
    r = admin.set_resource_policy("package policy\nallow { input.x == \n")
    expect(r, 401, "PolicyEngineError", "Rego")
    # a policy the engine cannot evaluate is refused at upload, the old one stays in force
    c = KbsClient(kbs)
    c.rcar()
    assert c.get_secret("default/test/secret") == SECRET


def test_point_not_on_curve_fails_at_encryption(kbs):
    """The attest step checks the key's shape; the point itself is validated when a resource
    is encrypted to it (as Trustee does), and the GET then fails closed."""
    from kbs_pyclient import b64u
    c = KbsClient(kbs)
    nonce = c.auth().json()["nonce"]
    jwk = {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
           "x": b64u(b"\x01" * 32), "y": b64u(b"\x02" * 32)}
    r = c.attest(c.attest_body(nonce, jwk=jwk))
    assert r.status_code == 200, r.text
    expect(c.get("default/test/secret"), 401, "TokenVerifierError", "no usable TEE public key")
