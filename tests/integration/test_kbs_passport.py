# SPDX-License-Identifier: Apache-2.0
"""Passport mode with two processes: KBS1 (`kbs`, built-in AS) signs EAR tokens with a configured
P-256 key whose certificate chain travels in the header jwk's x5c; KBS2 (`resource-kbs`, no AS)
serves resources only to Bearer tokens it can trust. The guest (kbs-client, sample TEE) attests
on KBS1 and fetches from KBS2. Refusals at KBS2, each a TokenVerifierError naming its check:
untrusted signer, expired token, expired signer certificate, header jwk != x5c leaf, and for
trusted_jwk_sets (served over https, cached and refreshed) an unknown kid.

The CA, intermediate and signer certificates are generated here with python3-cryptography.
"""
import base64
import datetime
import http.server
import json
import os
import ssl
import subprocess
import threading
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kbs_pyclient import error_type, jwt_decode, jwt_sign
from kbsfs_testlib import Daemon, find_binary, free_port, make_self_signed_cert

SECRET = b"passport-secret\x00\x01"
RES = "default/passport/one"
NOW = datetime.datetime.now(datetime.timezone.utc)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kbsfs passport test")])


def issue(subject_cn, key, issuer_cert=None, issuer_key=None, ca=False,
          not_before=NOW - datetime.timedelta(hours=1),
          not_after=NOW + datetime.timedelta(days=1)):
    """Certificate for key; self-signed when issuer_cert is None."""
    issuer_name = issuer_cert.subject if issuer_cert else name(subject_cn)
    b = (x509.CertificateBuilder().subject_name(name(subject_cn)).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(not_before).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                          False), critical=True)
    return b.sign(issuer_key or key, hashes.SHA256())


def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Pki:
    """root CA -> intermediate CA -> token signer (P-256), as a deployment would have."""

    def __init__(self, d, tag):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = issue(f"{tag} root", self.root_key, ca=True)
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.inter = issue(f"{tag} intermediate", self.int_key, self.root, self.root_key,
                           ca=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = issue(f"{tag} token signer", self.key, self.inter, self.int_key)
        self.ca_file = d / f"{tag}-ca-cert.pem"
        self.ca_file.write_bytes(pem(self.root))
        self.key_file = d / f"{tag}-token.key"
        self.key_file.write_bytes(key_pem(self.key))
        self.chain_file = d / f"{tag}-token-cert-chain.pem"
        self.chain_file.write_bytes(pem(self.leaf, self.inter))

    def x5c(self, *certs):
        certs = certs or (self.leaf, self.inter)
        return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                for c in certs]


def ec_jwk(key, **extra):
    n = key.public_key().public_numbers()
    j = {"kty": "EC", "crv": "P-256", "alg": "ES256",
         "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
    j.update(extra)
    return j


def run_client(d, url, *args):
    argv = [str(find_binary("kbs-client")), "--url", url, "--tee", "sample"]
    argv += [str(a) for a in args]
    env = dict(os.environ, HOME=str(d))
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=d, env=env)


ALLOW_ALL = "package policy\n\ndefault allow = true\n"


def admin_setup(url):
    r = requests.post(url + "/kbs/v0/resource-policy",
                      json={"policy": b64u(ALLOW_ALL.encode())}, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(url + "/kbs/v0/resource/" + RES, data=SECRET, timeout=10)
    assert r.status_code == 200, r.text


KBS1_CONFIG = """[http_server]
sockets = ["127.0.0.1:{port}"]
insecure_http = true

[attestation_token]
trusted_certs_paths = ["{ca}"]

[attestation_service]
type = "coco_as_builtin"

[attestation_service.attestation_token_broker]
duration_min = 5

[attestation_service.attestation_token_broker.signer]
key_path = "{key}"
cert_path = "{chain}"
cert_url = "https://kbs1.example/token-cert-chain.pem"

[attestation_service.rvps_config]
type = "BuiltIn"

[storage_backend]
storage_type = "LocalFs"

[storage_backend.backends.local_fs]
dir_path = "{d}/kbs1-storage"

[admin]
authorization_mode = "InsecureAllowAll"
"""

# Trustee's e2e-resource-kbs.toml with the test's paths (admin opened for the test)
KBS2_CONFIG = """[http_server]
sockets = ["127.0.0.1:{port}"]
insecure_http = true

[admin]
authorization_mode = "InsecureAllowAll"

[attestation_token]
{trust}

[storage_backend]
storage_type = "LocalFs"

[storage_backend.backends.local_fs]
dir_path = "{d}/{tag}-storage"

[[plugins]]
name = "resource"
storage_backend_type = "kvstorage"
"""


class Passport:
    pass


@pytest.fixture(scope="module")
def passport(tmp_path_factory):
    d = tmp_path_factory.mktemp("passport")
    p = Passport()
    p.dir = d
    p.pki = Pki(d, "issuer")
    p1, p2 = free_port(), free_port()
    cfg1 = d / "kbs1.toml"
    cfg1.write_text(KBS1_CONFIG.format(port=p1, ca=p.pki.ca_file, key=p.pki.key_file,
                                       chain=p.pki.chain_file, d=d))
    cfg2 = d / "kbs2.toml"
    cfg2.write_text(KBS2_CONFIG.format(port=p2, d=d, tag="kbs2",
                                       trust=f'trusted_certs_paths = ["{p.pki.ca_file}"]'))
    k1 = Daemon(["kbs", "--config-file", cfg1], name="kbs1", log_dir=d, ready_port=p1).start()
    k2 = Daemon(["resource-kbs", "--config-file", cfg2], name="kbs2", log_dir=d,
                ready_port=p2).start()
    try:
        p.kbs1, p.kbs2 = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
        p.d1, p.d2 = k1, k2
        admin_setup(p.kbs2)
        # the guest's TEE key and its token from KBS1
        p.tee_key = ec.generate_private_key(ec.SECP256R1())
        p.tee_key_file = d / "tee.pem"
        p.tee_key_file.write_bytes(key_pem(p.tee_key))
        r = run_client(d, p.kbs1, "attest", "--tee-key-file", p.tee_key_file)
        assert r.returncode == 0, r.stderr
        p.token = r.stdout.strip()
        yield p
    finally:
        k2.stop()
        k1.stop()


def bearer_get(url, token):
    return requests.get(url + "/kbs/v0/resource/" + RES,
                        headers={"Authorization": "Bearer " + token}, timeout=10)


def refused(r, check):
    assert r.status_code == 401, (r.status_code, r.text)
    assert error_type(r) == "TokenVerifierError", r.text
    assert check in r.json()["detail"], r.text


def fetch_with(p, token, url=None):
    tf = p.dir / ("tok-%d" % time.monotonic_ns())
    tf.write_text(token)
    return run_client(p.dir, url or p.kbs2, "get-resource", "--path", RES, "--tee-key-file",
                      p.tee_key_file, "--attestation-token", tf)


# ------------------------------------------------------------------------------ signing side

def test_kbs1_token_header_carries_the_signer_chain_like_trustee(passport):
    p = passport
    hdr, claims = jwt_decode(p.token)
    assert hdr["alg"] == "ES256" and hdr["typ"] == "JWT"
    jwk = hdr["jwk"]
    n = p.pki.key.public_key().public_numbers()
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("EC", "P-256", "ES256")
    assert jwk["x"] == b64u(n.x.to_bytes(32, "big")) and jwk["y"] == b64u(n.y.to_bytes(32, "big"))
    # x5c: every certificate of cert_path, DER, standard base64 with padding, leaf first
    assert jwk["x5c"] == p.pki.x5c()
    assert all("-" not in c and "_" not in c and len(c) % 4 == 0 for c in jwk["x5c"])
    assert jwk["x5u"] == "https://kbs1.example/token-cert-chain.pem"
    assert claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["runtime_data_claims"][
        "tee-pubkey"]["crv"] == "P-256"
    # the JWKS endpoint of the AS is not part of kbs; the key is the configured one
    assert "d" not in jwk


def test_kbs1_refuses_a_signer_key_that_is_not_p256(tmp_path):
    rk = tmp_path / "p384.key"
    rk.write_bytes(key_pem(ec.generate_private_key(ec.SECP384R1())))
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[http_server]\ninsecure_http = true\n[attestation_service."
                   f"attestation_token_broker.signer]\nkey_path = \"{rk}\"\n")
    r = subprocess.run([str(find_binary("kbs")), "--config-file", str(cfg), "--check-config"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "only P-256 attestation token signing keys are supported" in r.stderr


# ---------------------------------------------------------------------------- passport flow

def test_guest_attests_on_kbs1_and_fetches_from_kbs2(passport):
    p = passport
    r = fetch_with(p, p.token)
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == SECRET
    # plain Bearer request: the JWE goes to the TEE key in the token
    r = bearer_get(p.kbs2, p.token)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}


def test_kbs2_has_no_attestation_endpoints(passport):
    p = passport
    for path in ("auth", "attest"):
        r = requests.post(p.kbs2 + "/kbs/v0/" + path, json={}, timeout=10)
        assert r.status_code == 404 and error_type(r) == "PluginNotFound", r.text
    r = requests.post(p.kbs2 + "/kbs/v0/attestation-policy", json={}, timeout=10)
    assert r.status_code == 404 and error_type(r) == "PluginNotFound"
    # no cookie session can exist at KBS2: without a Bearer token there is nothing to check
    r = requests.get(p.kbs2 + "/kbs/v0/resource/" + RES, timeout=10)
    assert r.status_code == 401 and error_type(r) == "TokenNotFound"


def test_untrusted_signer_refused(passport, tmp_path):
    p = passport
    other = Pki(tmp_path, "rogue")
    hdr, claims = jwt_decode(p.token)
    hdr["jwk"] = ec_jwk(other.key, x5c=other.x5c())
    r = bearer_get(p.kbs2, jwt_sign(hdr, claims, other.key))
    refused(r, "x5c: certificate chain not trusted")
    # a bare self-signed header key (what insecure_header_jwk would accept)
    hdr["jwk"] = ec_jwk(other.key)
    refused(bearer_get(p.kbs2, jwt_sign(hdr, claims, other.key)), "x5c: token header jwk "
            "has no x5c")


def test_expired_token_refused(passport):
    p = passport
    hdr, claims = jwt_decode(p.token)
    claims["iat"] = int(time.time()) - 1000
    claims["exp"] = int(time.time()) - 120  # beyond the 60 s leeway
    refused(bearer_get(p.kbs2, jwt_sign(hdr, claims, p.pki.key)), "exp: token expired")
    # the same claims within their lifetime, same signer: accepted
    claims["exp"] = int(time.time()) + 120
    r = fetch_with(p, jwt_sign(hdr, claims, p.pki.key))
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == SECRET


def test_expired_signer_certificate_refused(passport):
    p = passport
    old_key = ec.generate_private_key(ec.SECP256R1())
    old_leaf = issue("expired signer", old_key, p.pki.inter, p.pki.int_key,
                     not_before=NOW - datetime.timedelta(days=30),
                     not_after=NOW - datetime.timedelta(days=1))
    hdr, claims = jwt_decode(p.token)
    hdr["jwk"] = ec_jwk(old_key, x5c=p.pki.x5c(old_leaf, p.pki.inter))
    refused(bearer_get(p.kbs2, jwt_sign(hdr, claims, old_key)), "certificate has expired")


def test_header_jwk_leaf_mismatch_refused(passport):
    p = passport
    hdr, claims = jwt_decode(p.token)
    imposter = ec.generate_private_key(ec.SECP256R1())
    # genuine chain, but the header key (which made the signature) is not the leaf's
    hdr["jwk"] = ec_jwk(imposter, x5c=p.pki.x5c())
    refused(bearer_get(p.kbs2, jwt_sign(hdr, claims, imposter)),
            "x5c: the leaf certificate's public key does not match the header jwk")
    # genuine header and chain, signature by another key
    hdr, claims = jwt_decode(p.token)
    refused(bearer_get(p.kbs2, jwt_sign(hdr, claims, imposter)), "signature:")


def test_resource_kbs_without_trust_material_does_not_start(tmp_path):
    cfg = tmp_path / "none.toml"
    cfg.write_text(KBS2_CONFIG.format(port=free_port(), d=tmp_path, tag="x", trust=""))
    r = subprocess.run([str(find_binary("resource-kbs")), "--config-file", str(cfg),
                        "--check-config"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no token issuer can be trusted" in r.stderr


def test_trustee_e2e_resource_kbs_config_is_accepted(tmp_path, test_data):
    """Trustee's own e2e-resource-kbs.toml (relative ./work paths) loads in resource-kbs."""
    work = tmp_path / "work"
    work.mkdir()
    pki = Pki(work, "e2e")
    (work / "ca-cert.pem").write_bytes(pki.ca_file.read_bytes())
    admin_pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    (work / "kbs.pem").write_bytes(admin_pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    src = test_data / "kbs" / "trustee" / "configs" / "e2e-resource-kbs.toml"
    r = subprocess.run([str(find_binary("resource-kbs")), "--config-file", str(src),
                        "--check-config"], capture_output=True, text=True, timeout=30,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 trust anchor(s) from ./work/ca-cert.pem" in r.stderr


# ------------------------------------------------------------------- trusted_jwk_sets (https)

class JwksServer:
    """https server for one JWK set document; counts GETs."""

    def __init__(self, d):
        self.cert = make_self_signed_cert(d, name="jwks")
        self.doc = {"keys": []}
        self.gets = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.gets += 1
                body = json.dumps(outer.doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert.cert), str(self.cert.key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d/.well-known/jwks.json" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread = None


def test_trusted_jwk_set_over_https_by_kid(passport, tmp_path):
    p = passport
    srv = JwksServer(tmp_path)
    k1, k2 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    srv.doc = {"keys": [ec_jwk(k1, kid="issuer-key-1")]}
    port = free_port()
    cfg = tmp_path / "kbs3.toml"
    cfg.write_text(KBS2_CONFIG.format(port=port, d=tmp_path, tag="kbs3",
                                      trust=f'trusted_jwk_sets = ["{srv.url}"]'))
    k3 = Daemon(["resource-kbs", "--config-file", cfg], name="kbs3", log_dir=tmp_path,
                ready_port=port, env={"SSL_CERT_FILE": srv.cert.cert,
                                      "KBS_JWKS_REFRESH_S": "2"}).start()
    try:
        url = f"http://127.0.0.1:{port}"
        admin_setup(url)
        assert srv.gets == 1  # loaded at start
        _, claims = jwt_decode(p.token)

        def tok(key, kid):
            claims["iat"] = int(time.time())
            claims["exp"] = int(time.time()) + 300
            claims["jti"] = os.urandom(8).hex()  # a fresh token each time (no cache hit)
            return jwt_sign({"typ": "JWT", "kid": kid}, claims, key)

        r = fetch_with(p, tok(k1, "issuer-key-1"), url)
        assert r.returncode == 0, r.stderr
        assert base64.b64decode(r.stdout) == SECRET
        before = srv.gets
        for _ in range(6):
            assert bearer_get(url, tok(k1, "issuer-key-1")).status_code == 200
        assert srv.gets - before < 6  # cached, not fetched per token

        refused(bearer_get(url, tok(k2, "issuer-key-2")),
                "kid: kid 'issuer-key-2' is not in any trusted JWK set")
        # a known kid with a signature by another key
        refused(bearer_get(url, tok(k2, "issuer-key-1")), "signature:")

        # key rotation at the issuer: after the refresh interval the new set is in force
        srv.doc = {"keys": [ec_jwk(k2, kid="issuer-key-2")]}
        time.sleep(2.2)
        r = bearer_get(url, tok(k2, "issuer-key-2"))
        assert r.status_code == 200, r.text
        refused(bearer_get(url, tok(k1, "issuer-key-1")), "kid: kid 'issuer-key-1'")

        # issuer unreachable: the last good set stays in force
        srv.stop()
        time.sleep(2.2)
        assert bearer_get(url, tok(k2, "issuer-key-2")).status_code == 200
        assert "keeping the 1 key(s) loaded before" in k3.log_text()
    finally:
        k3.stop()
        srv.stop()
