# SPDX-License-Identifier: Apache-2.0
"""kbs-client admin commands byte for byte against Trustee's tool (tools/kbs-client/src/main.rs
and lib.rs at Trustee 78962cd): the request each command sends (method, path, headers, body) is
captured by a recording HTTP server written here, and standard output / standard error are
compared with what Trustee's tool prints. Covers what test_kbs_client.py leaves out: the
set-attestation-policy defaults (type "rego", id "default_cpu"), set-resource-policy output,
--as-bool / --as-single-value / --as-integer payloads, get-reference-value's Rust {:?} output,
the admin token look-up order (--admin-token-file, ./kbs/config/docker-compose/admin-token,
~/.trustee/admin-token, anonymous), the "Request Failed" error text, and --help of the
commands that test does not ask (attest, config)."""
import base64
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kbsfs_testlib import find_binary

EX_OK, EX_FAIL, EX_USAGE = 0, 1, 2


def b64url_nopad(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Recorder:
    """HTTP server that records every request and answers with a scripted status/body."""

    def __init__(self):
        self.requests = []
        self.status, self.body = 200, b""
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else b""
                rec.requests.append({"method": self.command, "path": self.path,
                                     "headers": {k.lower(): v for k, v in self.headers.items()},
                                     "body": data})
                self.send_response(rec.status)
                self.send_header("Content-Length", str(len(rec.body)))
                self.end_headers()
                self.wfile.write(rec.body)

            do_GET = do_POST = do_DELETE = do_PUT = _any

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def last(self):
        assert self.requests, "kbs-client sent no request"
        return self.requests[-1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def rec():
    r = Recorder()
    yield r
    r.close()


@pytest.fixture
def run(rec, tmp_dir):
    home = tmp_dir / "home"
    home.mkdir()

    def go(*args, cwd=None, env=None):
        e = dict(os.environ, HOME=str(home))
        e.pop("KBS_LOG", None)
        e.update(env or {})
        return subprocess.run([str(find_binary("kbs-client")), "--url", rec.url] +
                              [str(a) for a in args], capture_output=True, text=True,
                              timeout=60, cwd=str(cwd or tmp_dir), env=e)
    go.home = home
    return go


@pytest.fixture
def token_file(tmp_dir):
    p = tmp_dir / "admin-token"
    p.write_text("  tok.en.value \n")
    return p


def test_set_attestation_policy_defaults_and_flags(rec, run, tmp_dir, token_file):
    pol = tmp_dir / "p.rego"
    pol.write_bytes(b"package policy\n\ndefault allow = true\n")
    r = run("config", "--admin-token-file", token_file, "set-attestation-policy",
            "--policy-file", pol)
    assert r.returncode == EX_OK, r.stderr
    assert r.stdout == "Set attestation policy success \n policy: %s\n" % \
        base64.b64encode(pol.read_bytes()).decode()
    q = rec.last()
    assert (q["method"], q["path"]) == ("POST", "/kbs/v0/attestation-policy")
    assert q["headers"]["content-type"] == "application/json"
    assert q["headers"]["authorization"] == "Bearer tok.en.value"
    # Trustee's lib.rs: type defaults to "rego", policy_id to "default_cpu", policy b64url
    assert json.loads(q["body"]) == {"type": "rego", "policy_id": "default_cpu",
                                     "policy": b64url_nopad(pol.read_bytes())}
    r = run("config", "--admin-token-file", token_file, "set-attestation-policy",
            "--policy-file", pol, "--type", "rego", "--id", "my_policy")
    assert r.returncode == EX_OK, r.stderr
    assert json.loads(rec.last()["body"])["policy_id"] == "my_policy"


def test_set_resource_policy_file_and_builtins(rec, run, tmp_dir, token_file):
    pol = tmp_dir / "r.rego"
    pol.write_bytes(b"package policy\n\ndefault allow = false\n# \xc3\xa4 + / ?\n")
    r = run("config", "--admin-token-file", token_file, "set-resource-policy",
            "--policy-file", pol)
    assert r.returncode == EX_OK, r.stderr
    assert r.stdout == "Set resource policy success \n policy: %s\n" % \
        base64.b64encode(pol.read_bytes()).decode()
    q = rec.last()
    assert (q["method"], q["path"]) == ("POST", "/kbs/v0/resource-policy")
    assert q["headers"]["content-type"] == "application/json"
    assert json.loads(q["body"]) == {"policy": b64url_nopad(pol.read_bytes())}
    for flag in ("--allow-all", "--deny-all", "--affirming", "--default"):
        r = run("config", "--admin-token-file", token_file, "set-resource-policy", flag)
        assert r.returncode == EX_OK, (flag, r.stderr)
        sent = base64.urlsafe_b64decode(json.loads(rec.last()["body"])["policy"] + "==")
        # the output shows the policy that was sent, in standard base64
        assert r.stdout == "Set resource policy success \n policy: %s\n" % \
            base64.b64encode(sent).decode(), flag
        assert sent.startswith(b"package policy"), (flag, sent)
    # exactly one policy source (clap group in Trustee's tool)
    n = len(rec.requests)
    r = run("config", "--admin-token-file", token_file, "set-resource-policy")
    assert r.returncode != EX_OK
    r = run("config", "--admin-token-file", token_file, "set-resource-policy", "--allow-all",
            "--deny-all")
    assert r.returncode == EX_USAGE
    assert len(rec.requests) == n


def test_set_resource_and_delete_requests(rec, run, tmp_dir, token_file):
    f = tmp_dir / "res.bin"
    f.write_bytes(b"\x00\x01raw bytes\xff")
    r = run("config", "--admin-token-file", token_file, "set-resource", "--path",
            "default/key/one", "--resource-file", f)
    assert r.returncode == EX_OK, r.stderr
    assert r.stdout == "Set resource success \n resource: %s\n" % \
        base64.b64encode(f.read_bytes()).decode()
    q = rec.last()
    assert (q["method"], q["path"]) == ("POST", "/kbs/v0/resource/default/key/one")
    assert q["headers"]["content-type"] == "application/octet-stream"
    assert q["body"] == f.read_bytes()
    r = run("config", "--admin-token-file", token_file, "delete-resource", "--path",
            "default/key/one")
    assert r.returncode == EX_OK, r.stderr
    assert r.stdout == "Delete resource success\n"
    q = rec.last()
    assert (q["method"], q["path"], q["body"]) == ("DELETE", "/kbs/v0/resource/default/key/one",
                                                   b"")
    assert q["headers"]["authorization"] == "Bearer tok.en.value"


@pytest.mark.parametrize("flags,value,want", [
    ([], "1.2.3", ["1.2.3"]),
    (["--as-integer"], "42", [42]),
    (["--as-bool"], "true", [True]),
    (["--as-single-value"], "abc", "abc"),
    (["--as-integer", "--as-single-value"], "-7", -7),
    (["--as-bool", "--as-single-value"], "false", False),
])
def test_set_sample_reference_value_payload(rec, run, token_file, flags, value, want):
    r = run("config", "--admin-token-file", token_file, "set-sample-reference-value",
            "svn", value, *flags)
    assert r.returncode == EX_OK, r.stderr
    assert r.stdout == "Reference Values Updated\n"
    q = rec.last()
    assert (q["method"], q["path"]) == ("POST", "/kbs/v0/reference-value")
    msg = json.loads(q["body"])
    assert set(msg) == {"version", "type", "payload"}
    assert msg["version"] == "0.1.0" and msg["type"] == "sample"
    assert json.loads(base64.b64decode(msg["payload"], validate=True)) == {"svn": want}


def test_set_sample_reference_value_bad_values(rec, run, token_file):
    for flags, value in ((["--as-integer"], "x"), (["--as-bool"], "yes"),
                         (["--as-integer"], "99999999999")):  # Rust parses --as-integer as i32
        r = run("config", "--admin-token-file", token_file, "set-sample-reference-value",
                "svn", value, *flags)
        assert r.returncode == EX_FAIL, (flags, value, r.stdout)
    # --as-integer and --as-bool exclude each other (clap group)
    r = run("config", "--admin-token-file", token_file, "set-sample-reference-value", "svn", "1",
            "--as-integer", "--as-bool")
    assert r.returncode == EX_USAGE
    assert rec.requests == []


def test_get_reference_value_prints_rust_debug_string(rec, run, token_file):
    rec.body = b'["a\\"b",1]\n'
    r = run("config", "--admin-token-file", token_file, "get-reference-value", "--id", "svn")
    assert r.returncode == EX_OK, r.stderr
    q = rec.last()
    assert (q["method"], q["path"]) == ("GET", "/kbs/v0/reference-value/svn")
    # println!("{:?}", String): quotes, backslashes and the newline escaped
    assert r.stdout == '"[\\"a\\\\\\"b\\",1]\\n"\n'


def test_error_answer_is_trustees_request_failed_text(rec, run, token_file, tmp_dir):
    rec.status = 401
    rec.body = b'{"type":"https://github.com/confidential-containers/kbs/errors/AdminAuth",' \
               b'"detail":"no"}'
    f = tmp_dir / "x.bin"
    f.write_bytes(b"x")
    r = run("config", "--admin-token-file", token_file, "set-resource", "--path", "a/b/c",
            "--resource-file", f)
    assert r.returncode != EX_OK and r.stdout == ""
    # anyhow's "Error: {:?}" of bail!("Request Failed, Response: {:?}", body)
    want = 'Error: Request Failed, Response: "%s"' % \
        rec.body.decode().replace("\\", "\\\\").replace('"', '\\"')
    assert want in r.stderr, r.stderr


def test_admin_token_lookup_order(rec, run, tmp_dir, token_file):
    f = tmp_dir / "x.bin"
    f.write_bytes(b"x")
    cmd = ("config", "set-resource", "--path", "a/b/c", "--resource-file", f)
    # 1. nothing configured: anonymous request (works only with InsecureAllowAll), a warning
    r = run(*cmd)
    assert r.returncode == EX_OK, r.stderr
    assert "authorization" not in rec.last()["headers"]
    # 2. ~/.trustee/admin-token
    (run.home / ".trustee").mkdir()
    (run.home / ".trustee" / "admin-token").write_text("home-token\n")
    assert run(*cmd).returncode == EX_OK
    assert rec.last()["headers"]["authorization"] == "Bearer home-token"
    # 3. kbs/config/docker-compose/admin-token relative to the working directory wins
    dc = tmp_dir / "kbs" / "config" / "docker-compose"
    dc.mkdir(parents=True)
    (dc / "admin-token").write_text("compose-token\n")
    assert run(*cmd).returncode == EX_OK
    assert rec.last()["headers"]["authorization"] == "Bearer compose-token"
    # 4. --admin-token-file beats both
    r = run("config", "--admin-token-file", token_file, *cmd[1:])
    assert r.returncode == EX_OK
    assert rec.last()["headers"]["authorization"] == "Bearer tok.en.value"
    # an unreadable token file is an error, nothing is sent
    n = len(rec.requests)
    r = run("config", "--admin-token-file", tmp_dir / "missing", *cmd[1:])
    assert r.returncode != EX_OK and "missing" in r.stderr
    assert len(rec.requests) == n


def test_help_of_every_command(run):
    for argv, must in ((["attest", "--help"], ["--tee-key-file", "INIT_DATA"]),
                       (["config", "--help"], ["set-resource", "delete-resource",
                                               "set-resource-policy", "set-attestation-policy",
                                               "set-sample-reference-value",
                                               "get-reference-value", "--admin-token-file",
                                               "--auth-private-key"]),
                       (["get-resource", "--help"], ["--path", "--tee-key-file",
                                                     "--attestation-token", "INIT_DATA"]),
                       (["--help"], ["--url", "--cert-file", "config", "get-resource",
                                     "attest"])):
        r = run(*argv)
        assert r.returncode == EX_OK, (argv, r.stderr)
        assert "Usage:" in r.stdout, argv
        for m in must:
            assert m in r.stdout, (argv, m)
    for sub, must in (("set-resource", ["--path", "--resource-file"]),
                      ("delete-resource", ["--path"]),
                      ("set-resource-policy", ["--policy-file", "--allow-all", "--deny-all",
                                               "--affirming", "--default"]),
                      ("set-attestation-policy", ["--policy-file", "--type", "--id"]),
                      ("set-sample-reference-value", ["--as-integer", "--as-bool",
                                                      "--as-single-value"]),
                      ("get-reference-value", ["--id"])):
        r = run("config", sub, "--help")
        assert r.returncode == EX_OK, sub
        for m in must:
            assert m in r.stdout, (sub, m)


def test_get_resource_sends_positional_init_data(daemons, tmp_dir, free_port):
    """Trustee's `get-resource [INIT_DATA]`: the init-data travels with the attestation, so a
    resource policy on its claims releases the resource only when it is given."""
    from kbs_pyclient import Admin, start_kbs
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port())
    admin = Admin(url)
    assert admin.set_resource("default/audit/init", b"init-data gated").status_code == 200
    assert admin.set_resource_policy(
        'package policy\n\ndefault allow = false\n\nallow if {\n'
        '    input["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["init_data_claims"]'
        '["cdh.toml"] == "audit"\n}\n').status_code == 200
    toml = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"cdh.toml" = "audit"\n'

    def get(*extra):
        return subprocess.run([str(find_binary("kbs-client")), "--url", url, "--tee", "sample",
                               "get-resource", "--path", "default/audit/init", *extra],
                              capture_output=True, text=True, timeout=60, cwd=str(tmp_dir))
    r = get(toml)
    assert r.returncode == EX_OK, r.stderr
    assert base64.b64decode(r.stdout.strip()) == b"init-data gated"
    r = get()
    assert r.returncode == 3 and "PolicyDeny" in r.stderr, r.stderr


@pytest.mark.parametrize("curve", ["P-521", "P-384"])
def test_tee_key_file_curves(daemons, tmp_dir, free_port, curve):
    """--tee-key-file takes PKCS#8 EC P-256 / P-521 keys (docs/kbs-client.md); another curve
    (P-384, which the KBS protocol's TEE key algorithms do not name) is refused before any
    request, not sent to the KBS."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from kbs_pyclient import ALLOW_ALL, Admin, start_kbs
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port())
    admin = Admin(url)
    assert admin.set_resource("default/audit/curve", b"curve bytes").status_code == 200
    assert admin.set_resource_policy(ALLOW_ALL).status_code == 200
    key = ec.generate_private_key({"P-521": ec.SECP521R1(), "P-384": ec.SECP384R1()}[curve])
    kf = tmp_dir / "tee.pem"
    kf.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))
    kc = [str(find_binary("kbs-client")), "--url", url, "--tee", "sample"]
    r = subprocess.run(kc + ["attest", "--tee-key-file", str(kf)], capture_output=True,
                       text=True, timeout=60, cwd=str(tmp_dir))
    if curve == "P-384":
        assert r.returncode == EX_FAIL and r.stdout == "", (r.returncode, r.stdout)
        assert "P-256/P-521" in r.stderr, r.stderr
        return
    assert r.returncode == EX_OK, r.stderr
    tok = tmp_dir / "tok"
    tok.write_text(r.stdout)
    claims = json.loads(base64.urlsafe_b64decode(r.stdout.split(".")[1] + "=="))
    tk = claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["runtime_data_claims"][
        "tee-pubkey"]
    assert tk["crv"] == "P-521" and tk["alg"] == "ECDH-ES+A256KW"
    r = subprocess.run(kc + ["get-resource", "--path", "default/audit/curve", "--tee-key-file",
                             str(kf), "--attestation-token", str(tok)],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_dir))
    assert r.returncode == EX_OK, r.stderr
    assert base64.b64decode(r.stdout.strip()) == b"curve bytes"
