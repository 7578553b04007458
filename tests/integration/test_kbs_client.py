# SPDX-License-Identifier: Apache-2.0
"""kbs-client (and through it the broker library) against the real `kbs` daemon over TLS.

Covers the admin commands (signed admin JWT, token file, policies, reference values), exact
resource bytes for every TEE key algorithm, the error-type mapping (PolicyDeny -> exit 3,
Trustee's PluginInternalError -> not found, exit 4), token reuse and single-flight
attestation (status file counters), one re-attestation when the KBS rejects a token, and the
checks that protect a secret: wrong KBS certificate, JWE for another key, wrong admin key,
KBS down (retries with backoff, then a network error).
"""
import base64
import json
import os
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kbs_server import ADMIN_AUDIENCE as AUDIENCE, ADMIN_ISSUER as ISSUER, start_admin_jwt_kbs
from kbsfs_testlib import find_binary, free_port, make_ed25519_keypair, make_self_signed_cert

EX_OK, EX_FAIL, EX_USAGE, EX_DENIED, EX_NOTFOUND, EX_NETWORK, EX_ATTEST, EX_CRYPTO = range(8)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Kbs:
    """A running kbs with TLS, bearer-JWT admin auth and the built-in AS (sample TEE)."""

    def __init__(self, d, daemon, url, cert, admin_key, other_admin_key):
        self.dir, self.daemon, self.url, self.cert = d, daemon, url, cert
        self.admin_key, self.other_admin_key = admin_key, other_admin_key

    def run(self, *args, cert=True, url=None, timeout=60):
        # HOME and cwd point into the test dir: no stray ~/.trustee/admin-token is picked up
        # the sample TEE explicitly: a build host with a TPM (or SNP/TDX) must not change
        # what these tests attest as
        argv = [str(find_binary("kbs-client")), "--url", url or self.url, "--tee", "sample"]
        if cert is True:
            argv += ["--cert-file", str(self.cert)]
        elif cert:
            argv += ["--cert-file", str(cert)]
        argv += [str(a) for a in args]
        env = dict(os.environ, HOME=str(self.dir))
        env.pop("KBS_LOG", None)
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=self.dir, env=env)

    def admin(self, *args, key=None, cert=True):
        key = key or self.admin_key
        return self.run("config", "--auth-private-key", key, "--admin-issuer", ISSUER,
                        "--admin-audience", AUDIENCE, *args, cert=cert)

    def put(self, path, data):
        f = self.dir / ("res-" + path.replace("/", "_"))
        f.write_bytes(data)
        r = self.admin("set-resource", "--path", path, "--resource-file", f)
        assert r.returncode == 0, r.stderr
        return r

    def status(self, name="st.json"):
        return json.loads((self.dir / name).read_text())


@pytest.fixture(scope="module")
def kbs(tmp_path_factory):
    d = tmp_path_factory.mktemp("kbs")
    k = start_admin_jwt_kbs(d)
    other = make_ed25519_keypair(d, "intruder")
    try:
        yield Kbs(d, k.daemon, k.url, k.cert, k.admin.private, other.private)
    finally:
        k.daemon.stop()


@pytest.fixture
def allow_all(kbs):
    r = kbs.admin("set-resource-policy", "--allow-all")
    assert r.returncode == 0, r.stderr
    return kbs


# ------------------------------------------------------------------------------ admin side

def test_set_resource_prints_trustee_output(kbs):
    data = b"admin-bytes\x00\xff"
    r = kbs.put("default/admin/out", data)
    assert r.stdout == "Set resource success \n resource: %s\n" % \
        base64.b64encode(data).decode()


def test_admin_token_file_is_sent_as_bearer(kbs):
    # a Trustee v0.21 style token minted outside kbs-client
    key = serialization.load_pem_private_key(kbs.admin_key.read_bytes(), None)
    now = int(time.time())
    hdr = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"iss": ISSUER, "aud": [AUDIENCE], "role": "admin", "iat": now,
                              "exp": now + 600}).encode())
    sig = b64url(key.sign(f"{hdr}.{body}".encode()))
    tok = kbs.dir / "admin-token"
    tok.write_text(f"{hdr}.{body}.{sig}\n")
    f = kbs.dir / "tf.bin"
    f.write_bytes(b"via token file")
    r = kbs.run("config", "--admin-token-file", tok, "set-resource", "--path",
                "default/admin/tokenfile", "--resource-file", f)
    assert r.returncode == 0, r.stderr


def test_wrong_admin_key_is_refused(kbs):
    f = kbs.dir / "evil.bin"
    f.write_bytes(b"evil")
    r = kbs.admin("set-resource", "--path", "default/admin/evil", "--resource-file", f,
                  key=kbs.other_admin_key)
    assert r.returncode == EX_DENIED, r.stderr
    assert "Request Failed, Response:" in r.stderr
    # no credentials at all (cwd has no admin-token file, HOME points nowhere useful)
    r = kbs.run("config", "set-resource", "--path", "default/admin/evil", "--resource-file", f)
    assert r.returncode == EX_DENIED, r.stderr


def test_delete_resource_then_not_found(allow_all):
    kbs = allow_all
    kbs.put("default/del/one", b"short-lived")
    r = kbs.run("get-resource", "--path", "default/del/one")
    assert r.returncode == 0, r.stderr
    r = kbs.admin("delete-resource", "--path", "default/del/one")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Delete resource success\n"
    r = kbs.run("--status-file", kbs.dir / "st-del.json", "get-resource", "--path",
                "default/del/one")
    assert r.returncode == EX_NOTFOUND, r.stderr
    assert "resource not found" in r.stderr
    st = kbs.status("st-del.json")
    assert st["last_error"]["code"] == "KBS_ERR_NOTFOUND"
    # the status says how Trustee's error type was read
    assert "PluginInternalError" in st["error_mapping"]
    assert "ENOENT" in st["error_mapping"]["PluginInternalError"]


def test_reference_value_round_trip(kbs):
    r = kbs.admin("set-sample-reference-value", "svn", "1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Reference Values Updated\n"
    r = kbs.admin("get-reference-value", "--id", "svn")
    assert r.returncode == 0, r.stderr
    assert json.loads(json.loads(r.stdout)) == ["1"]


# ------------------------------------------------------------------------------ guest side

@pytest.mark.parametrize("alg", ["ECDH-ES+A256KW-P256", "ECDH-ES+A256KW-P521", "RSA-OAEP-256"])
def test_get_resource_exact_bytes_per_tee_key(allow_all, alg):
    kbs = allow_all
    data = os.urandom(300) + b"\x00tail"
    path = "default/keys/" + alg.replace("+", "_")
    kbs.put(path, data)
    st = f"st-{alg}.json"
    r = kbs.run("--tee-key-algorithm", alg, "--status-file", kbs.dir / st,
                "get-resource", "--path", path)
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout.strip(), validate=True) == data
    assert kbs.status(st)["tee_key_algorithm"] == alg


def test_policy_denial_has_its_own_exit_code(kbs):
    kbs.put("default/deny/one", b"never released")
    for flag in ("--deny-all", "--default"):  # --default refuses the sample TEE
        r = kbs.admin("set-resource-policy", flag)
        assert r.returncode == 0, r.stderr
        r = kbs.run("get-resource", "--path", "default/deny/one")
        assert r.returncode == EX_DENIED, (flag, r.stderr)
        assert "access denied by policy" in r.stderr and "PolicyDeny" in r.stderr
        assert r.stdout == ""


def test_token_reused_across_fetches_and_threads(allow_all):
    kbs = allow_all
    kbs.put("default/reuse/a", b"A")
    kbs.put("default/reuse/b", b"B")
    r = kbs.run("--status-file", kbs.dir / "st-seq.json", "get-resource",
                "--path", "default/reuse/a", "--path", "default/reuse/b",
                "--path", "default/reuse/a")
    assert r.returncode == 0, r.stderr
    assert [base64.b64decode(x) for x in r.stdout.split()] == [b"A", b"B", b"A"]
    st = kbs.status("st-seq.json")
    assert st["attestations"] == 1 and st["fetches"] == 3 and st["attested"] is True
    paths = ["default/reuse/a", "default/reuse/b"] * 5
    r = kbs.run("--status-file", kbs.dir / "st-par.json", "get-resource", "--concurrent",
                *sum((["--path", p] for p in paths), []))
    assert r.returncode == 0, r.stderr
    assert [base64.b64decode(x) for x in r.stdout.split()] == [b"A", b"B"] * 5
    st = kbs.status("st-par.json")
    assert st["attestations"] == 1 and st["fetches"] == 10


def ec_key_file(d, name):
    k = ec.generate_private_key(ec.SECP256R1())
    p = d / name
    p.write_bytes(k.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return p


def test_attest_then_get_with_token_and_key(allow_all):
    kbs = allow_all
    kbs.put("default/tok/one", b"with a token")
    k1 = ec_key_file(kbs.dir, "tee1.pem")
    r = kbs.run("attest", "--tee-key-file", k1)
    assert r.returncode == 0, r.stderr
    tok = kbs.dir / "tok1"
    tok.write_text(r.stdout)
    assert r.stdout.count(".") == 2
    r = kbs.run("--status-file", kbs.dir / "st-tok.json", "get-resource", "--path",
                "default/tok/one", "--tee-key-file", k1, "--attestation-token", tok)
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == b"with a token"
    assert kbs.status("st-tok.json")["attestations"] == 0  # the given token was enough

    # JWE for another key: the KBS encrypts to the key in the token, we hold a different one
    k2 = ec_key_file(kbs.dir, "tee2.pem")
    r = kbs.run("get-resource", "--path", "default/tok/one", "--tee-key-file", k2,
                "--attestation-token", tok)
    assert r.returncode == EX_CRYPTO, r.stderr
    assert r.stdout == ""

    # an RSA key as TEE key works the same way (RSA-OAEP-256)
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rp = kbs.dir / "tee-rsa.pem"
    rp.write_bytes(rk.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()))
    r = kbs.run("get-resource", "--path", "default/tok/one", "--tee-key-file", rp)
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == b"with a token"


def test_rejected_token_triggers_one_reattestation(allow_all):
    kbs = allow_all
    kbs.put("default/tok/two", b"after re-attestation")
    k = ec_key_file(kbs.dir, "tee3.pem")
    r = kbs.run("attest", "--tee-key-file", k)
    assert r.returncode == 0, r.stderr
    h, p, s = r.stdout.strip().split(".")
    # still unexpired to the client, but the signature no longer verifies at the KBS
    sig = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    bad = kbs.dir / "tok-bad"
    bad.write_text(f"{h}.{p}.{b64url(bytes([sig[0] ^ 1]) + sig[1:])}")
    r = kbs.run("--status-file", kbs.dir / "st-re.json", "get-resource", "--path",
                "default/tok/two", "--tee-key-file", k, "--attestation-token", bad)
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == b"after re-attestation"
    st = kbs.status("st-re.json")
    assert st["attestations"] == 1 and st["reattestations"] == 1


def test_wrong_kbs_certificate_is_a_tls_failure(allow_all, tmp_path):
    kbs = allow_all
    kbs.put("default/tls/one", b"tls-protected")
    other = make_self_signed_cert(tmp_path, name="other")
    t0 = time.monotonic()
    r = kbs.run("get-resource", "--path", "default/tls/one", cert=other.cert)
    assert r.returncode == EX_NETWORK, r.stderr
    assert "certificate" in r.stderr.lower() or "SSL" in r.stderr
    assert r.stdout == ""
    # a verification failure is final: not retried for seconds
    assert time.monotonic() - t0 < 5
    # without --cert-file the system store does not know the KBS either
    r = kbs.run("get-resource", "--path", "default/tls/one", cert=False)
    assert r.returncode == EX_NETWORK, r.stderr
    # the admin side refuses the wrong certificate too
    r = kbs.admin("delete-resource", "--path", "default/tls/one", cert=other.cert)
    assert r.returncode == EX_NETWORK, r.stderr
    r = kbs.run("get-resource", "--path", "default/tls/one")
    assert r.returncode == 0 and base64.b64decode(r.stdout) == b"tls-protected", r.stderr


def test_kbs_down_retries_with_backoff_then_network_error(kbs):
    port = free_port()
    t0 = time.monotonic()
    r = kbs.run("--retries", "3", "--log-level", "info", "get-resource", "--path",
                "default/down/one", url=f"https://127.0.0.1:{port}")
    took = time.monotonic() - t0
    assert r.returncode == EX_NETWORK, r.stderr
    assert "network error" in r.stderr
    assert r.stderr.count("retrying POST") == 3
    # equal jitter: at least 100 + 200 + 400 ms of backoff, at most 200 + 400 + 800 (+slack)
    assert 0.7 <= took < 5.0, took


def test_help_and_usage_errors(kbs):
    r = kbs.run("--help")
    assert r.returncode == 0 and "get-resource" in r.stdout and "--cert-file" in r.stdout
    for sub in ("set-resource", "delete-resource", "set-resource-policy",
                "set-attestation-policy", "get-reference-value", "set-sample-reference-value"):
        r = kbs.run("config", sub, "--help")
        assert r.returncode == 0 and "Usage:" in r.stdout, sub
    r = kbs.run("get-resource", "--help")
    assert r.returncode == 0 and "--attestation-token" in r.stdout
    r = kbs.run("get-resource")
    assert r.returncode == EX_USAGE
    r = kbs.run("config", "set-resource", "--path", "a/b/c")
    assert r.returncode == EX_USAGE and "--resource-file" in r.stderr
    r = kbs.run("frobnicate")
    assert r.returncode == EX_USAGE
    # --attestation-token needs the key it was issued for
    r = kbs.run("get-resource", "--path", "a/b/c", "--attestation-token", "x")
    assert r.returncode == EX_FAIL and "--tee_key_file" in r.stderr


def test_attest_sends_init_data_and_binds_our_key(kbs):
    import hashlib
    toml = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "x"\n'
    k = ec_key_file(kbs.dir, "tee-init.pem")
    r = kbs.run("attest", "--tee-key-file", k, toml)
    assert r.returncode == 0, r.stderr
    p = r.stdout.strip().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    ae = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    assert ae["init_data_claims"] == {"aa.toml": "x"}
    assert base64.b64decode(ae["init_data"]) == hashlib.sha256(toml.encode()).digest()
    # the token names the TEE key we hold
    pub = serialization.load_pem_private_key(k.read_bytes(), None).public_key().public_numbers()
    tk = ae["runtime_data_claims"]["tee-pubkey"]
    assert tk["crv"] == "P-256" and tk["alg"] == "ECDH-ES+A256KW"
    assert base64.urlsafe_b64decode(tk["x"] + "==") == pub.x.to_bytes(32, "big")


def test_attestation_policy_and_reference_values_decide_release(kbs, test_data):
    """Trustee's integration scenario driven through kbs-client: an EAR policy that affirms
    hardware only when the sample svn matches a reference value, and a resource policy that
    refuses contraindicated tokens."""
    kbs.put("default/rv/one", b"released after appraisal")
    r = kbs.admin("set-resource-policy", "--policy-file",
                  test_data / "broker" / "kbs-check-contraindicated.rego")
    assert r.returncode == 0, r.stderr
    pol = test_data / "broker" / "as-ear-rv_cpu.rego"
    r = kbs.admin("set-attestation-policy", "--policy-file", pol, "--id", "default_cpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Set attestation policy success \n policy: %s\n" % \
        base64.b64encode(pol.read_bytes()).decode()
    # the sample evidence has svn "1": a reference value of "0" leaves hardware at 97
    r = kbs.admin("set-sample-reference-value", "svn", "0")
    assert r.returncode == 0, r.stderr
    r = kbs.run("get-resource", "--path", "default/rv/one")
    assert r.returncode == EX_DENIED, r.stderr
    r = kbs.admin("set-sample-reference-value", "svn", "1")
    assert r.returncode == 0, r.stderr
    r = kbs.run("get-resource", "--path", "default/rv/one")
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == b"released after appraisal"
    # integers are stored as typed JSON (in a one-element list unless --as-single-value)
    r = kbs.admin("set-sample-reference-value", "major_version", "1", "--as-integer")
    assert r.returncode == 0, r.stderr
    r = kbs.admin("get-reference-value", "--id", "major_version")
    assert r.returncode == 0 and json.loads(json.loads(r.stdout)) == [1], r.stdout
    r = kbs.admin("set-sample-reference-value", "x", "notanumber", "--as-integer")
    assert r.returncode == EX_FAIL
