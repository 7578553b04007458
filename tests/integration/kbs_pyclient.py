# SPDX-License-Identifier: Apache-2.0
"""Independent Trustee KBS protocol client for the kbs integration tests.

Written from kbs-protocol.md with python3-cryptography primitives only (no project code):
RCAR (auth/attest) with the sample TEE, JCS + SHA-384 runtime-data binding, JWE decryption
(ECDH-ES+A256KW P-256/P-521, RSA-OAEP-256, RSA1_5; A256GCM), admin bearer JWTs (ES256, EdDSA),
and JWT decoding/signing helpers for token tests.
"""

import base64
import hashlib
import json
import socket
import time
from types import SimpleNamespace

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                             encode_dss_signature)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

PROTOCOL_VERSION = "0.4.0"
ERR_PREFIX = "https://github.com/confidential-containers/kbs/errors/"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jcs(obj):
    """RFC 8785 for objects made of strings and objects (all the runtime data holds)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class TeeKey:
    """A TEE key pair and its tee-pubkey JWK (guest-components member order)."""

    def __init__(self, kind="ec", curve=ec.SECP256R1(), rsa_alg="RSA-OAEP-256"):
        self.kind = kind
        if kind == "ec":
            self.priv = ec.generate_private_key(curve)
            nums = self.priv.public_key().public_numbers()
            size = (curve.key_size + 7) // 8
            crv = {256: "P-256", 521: "P-521", 384: "P-384"}[curve.key_size]
            self.jwk = {"kty": "EC", "crv": crv, "alg": "ECDH-ES+A256KW",
                        "x": b64u(nums.x.to_bytes(size, "big")),
                        "y": b64u(nums.y.to_bytes(size, "big"))}
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            nums = self.priv.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "alg": rsa_alg,
                        "n": b64u(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")),
                        "e": b64u(nums.e.to_bytes(3, "big"))}

    def decrypt(self, jwe):
        """Decrypts a flattened JWE JSON object (dict) addressed to this key."""
        prot_b64 = jwe["protected"]
        hdr = json.loads(b64u_dec(prot_b64))
        assert hdr["enc"] == "A256GCM", hdr
        ek = b64u_dec(jwe["encrypted_key"])
        if hdr["alg"] == "ECDH-ES+A256KW":
            epk = hdr["epk"]
            curve = {"P-256": ec.SECP256R1(), "P-521": ec.SECP521R1()}[epk["crv"]]
            pub = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64u_dec(epk["x"]), "big"),
                int.from_bytes(b64u_dec(epk["y"]), "big"), curve).public_key()
            z = self.priv.exchange(ec.ECDH(), pub)
            alg = b"ECDH-ES+A256KW"
            other = (len(alg).to_bytes(4, "big") + alg + (0).to_bytes(4, "big") +
                     (0).to_bytes(4, "big") + (256).to_bytes(4, "big"))
            kek = hashlib.sha256((1).to_bytes(4, "big") + z + other).digest()
            cek = aes_key_unwrap(kek, ek)
        elif hdr["alg"] == "RSA-OAEP-256":
            cek = self.priv.decrypt(ek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                     algorithm=hashes.SHA256(), label=None))
        elif hdr["alg"] == "RSA1_5":
            cek = self.priv.decrypt(ek, padding.PKCS1v15())
        else:
            raise AssertionError("unexpected alg %r" % hdr["alg"])
        iv = b64u_dec(jwe["iv"])
        ct = b64u_dec(jwe["ciphertext"]) + b64u_dec(jwe["tag"])
        return AESGCM(cek).decrypt(iv, ct, prot_b64.encode())


def runtime_data_digest(jwk, nonce, additional=""):
    return hashlib.sha384(jcs({"tee-pubkey": jwk, "nonce": nonce,
                               "additional-evidence": additional})).digest()


class KbsClient:
    """One guest: a requests.Session (cookie jar) against a KBS root URL."""

    def __init__(self, url, verify=True, tee_key=None):
        self.url = url.rstrip("/")
        self.s = requests.Session()
        self.s.verify = verify
        self.s.trust_env = False  # env CA bundles must not override verify
        self.key = tee_key or TeeKey()
        self.token = None

    def auth(self, tee="sample", version=PROTOCOL_VERSION, extra=None):
        body = {"version": version, "tee": tee,
                "extra-params": extra if extra is not None else
                {"supported-hash-algorithms": ["sha384"]}}
        return self.s.post(self.url + "/kbs/v0/auth", json=body, timeout=10)

    def attest_body(self, nonce, jwk=None, report_data=None, svn="1", init_data=None,
                    additional=""):
        jwk = jwk or self.key.jwk
        if report_data is None:
            report_data = runtime_data_digest(jwk, nonce, additional)
        body = {"runtime-data": {"nonce": nonce, "tee-pubkey": jwk},
                "tee-evidence": {"primary_evidence": {
                    "svn": svn, "report_data": base64.b64encode(report_data).decode()},
                    "additional_evidence": additional}}
        if init_data is not None:
            body["init-data"] = {"format": "toml", "body": init_data}
        return body

    def attest(self, body):
        return self.s.post(self.url + "/kbs/v0/attest", json=body, timeout=10)

    def rcar(self, tee="sample", **kw):
        r = self.auth(tee)
        assert r.status_code == 200, r.text
        nonce = r.json()["nonce"]
        r = self.attest(self.attest_body(nonce, **kw))
        assert r.status_code == 200, r.text
        self.token = r.json()["token"]
        return self.token

    def get(self, path, bearer=None, cookie=True):
        headers = {}
        if bearer:
            headers["Authorization"] = "Bearer " + bearer
        if cookie:
            return self.s.get(self.url + "/kbs/v0/resource/" + path, headers=headers,
                              timeout=10)
        return requests.get(self.url + "/kbs/v0/resource/" + path, headers=headers,
                            timeout=10, verify=self.s.verify)

    def get_secret(self, path, **kw):
        r = self.get(path, **kw)
        assert r.status_code == 200, r.text
        assert r.headers.get("Content-Type", "").startswith("application/json")
        return self.key.decrypt(r.json())


def error_type(resp):
    """The error Name of a Trustee error body (asserting its shape)."""
    body = resp.json()
    assert list(body.keys()) == ["type", "detail"], body
    assert body["type"].startswith(ERR_PREFIX), body
    return body["type"][len(ERR_PREFIX):]


def raw_http(url, method, target, headers=(), body=b""):
    """One request sent as raw bytes over plain HTTP (no client-side normalisation of the
    target: `requests` resolves "../" and re-quotes escapes before sending) with
    Connection: close. Returns SimpleNamespace(status, head, body, text) and, for a Trustee
    error body, .etype (its error Name) and .detail."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, target, host)
    head += "".join("%s: %s\r\n" % kv for kv in headers)
    if body or method in ("POST", "PUT"):
        head += "Content-Length: %d\r\n" % len(body)
    data = b""
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:  # refused mid-send: the answer came before the reset
                break
            if not chunk:
                break
            data += chunk
    h, _, payload = data.partition(b"\r\n\r\n")
    r = SimpleNamespace(status=int(h.split()[1]), head=h.decode(errors="replace"), body=payload,
                        text=payload.decode(errors="replace"), etype=None, detail=None)
    if payload.startswith(b"{"):
        j = json.loads(payload)
        assert list(j.keys()) == ["type", "detail"], j
        assert j["type"].startswith(ERR_PREFIX), j
        r.etype, r.detail = j["type"][len(ERR_PREFIX):], j["detail"]
    return r


# ------------------------------------------------------------------- JWT helpers

def jwt_decode(token):
    h, p, _ = token.split(".")
    return json.loads(b64u_dec(h)), json.loads(b64u_dec(p))


def jwt_sign(header, claims, key):
    """Signs a JWT with an EC P-256 (ES256), RSA (RS256) or Ed25519 (EdDSA) private key."""
    header = dict(header)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        header.setdefault("alg", "ES256")
    elif isinstance(key, rsa.RSAPrivateKey):
        header.setdefault("alg", "RS256")
    else:
        header.setdefault("alg", "EdDSA")
    si = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." +
          b64u(json.dumps(claims, separators=(",", ":")).encode())).encode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(si, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(si, padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = key.sign(si)
    return si.decode() + "." + b64u(sig)


def jwt_verify_es256(token, jwk):
    """Verifies an ES256 JWT against an EC P-256 JWK dict; returns the claims."""
    h, p, s = token.split(".")
    pub = ec.EllipticCurvePublicNumbers(int.from_bytes(b64u_dec(jwk["x"]), "big"),
                                        int.from_bytes(b64u_dec(jwk["y"]), "big"),
                                        ec.SECP256R1()).public_key()
    sig = b64u_dec(s)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pub.verify(der, (h + "." + p).encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64u_dec(p))


def admin_token(key, role="admin", issuer=None, audience=None, lifetime=3600, **extra):
    now = int(time.time())
    claims = {"iat": now, "exp": now + lifetime}
    if role is not None:
        claims["role"] = role
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    claims.update(extra)
    return jwt_sign({"typ": "JWT"}, claims, key)


def load_private_pem(path):
    return serialization.load_pem_private_key(open(path, "rb").read(), password=None)


class Admin:
    """Trustee admin API client (Python stand-in for kbs-client config ...)."""

    def __init__(self, url, token=None, verify=True):
        self.url = url.rstrip("/")
        self.verify = verify
        self.token = token

    def _h(self, extra=None):
        h = {} if self.token is None else {"Authorization": "Bearer " + self.token}
        h.update(extra or {})
        return h

    def set_resource(self, path, data):
        return requests.post(self.url + "/kbs/v0/resource/" + path, data=data,
                             headers=self._h({"Content-Type": "application/octet-stream"}),
                             verify=self.verify, timeout=10)

    def delete_resource(self, path):
        return requests.delete(self.url + "/kbs/v0/resource/" + path, headers=self._h(),
                               verify=self.verify, timeout=10)

    def set_resource_policy(self, rego):
        return requests.post(self.url + "/kbs/v0/resource-policy",
                             json={"policy": b64u(rego.encode())}, headers=self._h(),
                             verify=self.verify, timeout=10)

    def set_attestation_policy(self, rego, policy_id="default_cpu"):
        return requests.post(self.url + "/kbs/v0/attestation-policy",
                             json={"type": "rego", "policy_id": policy_id,
                                   "policy": b64u(rego.encode())},
                             headers=self._h(), verify=self.verify, timeout=10)

    def set_reference_values(self, values):
        msg = {"version": "0.1.0", "type": "sample",
               "payload": base64.b64encode(json.dumps(values).encode()).decode()}
        return requests.post(self.url + "/kbs/v0/reference-value", data=json.dumps(msg),
                             headers=self._h({"Content-Type": "application/json"}),
                             verify=self.verify, timeout=10)


ALLOW_ALL = "package policy\n\ndefault allow = true\n"
DENY_ALL = "package policy\n\ndefault allow = false\n"


def metric_value(url, name, labels, verify=True):
    """Value of one Prometheus sample (0 when absent)."""
    text = requests.get(url.rstrip("/") + "/metrics", verify=verify, timeout=10).text
    want = name + "{" + ",".join('%s="%s"' % kv for kv in labels.items()) + "}"
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


# ------------------------------------------------------------------- server fixture helper

def start_kbs(daemons, tmp_dir, port, extra="", admin="[admin]\nauthorization_mode = "
              "\"InsecureAllowAll\"\n", tls=None, storage=True, name="kbs", env=None,
              http_extra=""):
    """Writes a kbs config into tmp_dir and starts kbs; returns (url, verify, daemon, cfg).
    http_extra: more lines for the [http_server] table."""
    lines = ["[http_server]", 'sockets = ["127.0.0.1:%d"]' % port]
    if http_extra:
        lines += [http_extra.rstrip("\n")]
    if tls:
        lines += ['certificate = "%s"' % tls.cert, 'private_key = "%s"' % tls.key]
    else:
        lines += ["insecure_http = true"]
    cfg = "\n".join(lines) + "\n" + admin + "\n"
    if storage:
        cfg += ('[storage_backend]\nstorage_type = "LocalFs"\n'
                '[storage_backend.backends.local_fs]\ndir_path = "%s/storage"\n' % tmp_dir)
    cfg += extra
    path = tmp_dir / (name + ".toml")
    path.write_text(cfg)
    d = daemons.start(["kbs", "--config-file", str(path)], name=name, ready_port=port,
                      env=env)
    scheme = "https" if tls else "http"
    return "%s://127.0.0.1:%d" % (scheme, port), (str(tls.cert) if tls else True), d, path
