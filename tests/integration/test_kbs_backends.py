# SPDX-License-Identifier: Apache-2.0
"""Resource backends other than the key-value storage, each against a real or replayed
service: PKCS#11 on SoftHSM2 (a token created in a temp dir). Every backend: kbs-client
uploads, an attested RCAR client fetches, missing resources and outages map to the same wire
errors as LocalFs (PluginInternalError / 503 naming the backend), no secret in the log."""
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kbs_pyclient import ALLOW_ALL, Admin, KbsClient, error_type, start_kbs
from kbsfs_testlib import find_binary

SECRET = b"hsm-secret\x00\x01\xfe-bytes"

SOFTHSM_MODULES = ["/usr/lib/softhsm/libsofthsm2.so",
                   "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
SOFTHSM_MODULE = next((m for m in SOFTHSM_MODULES if os.path.exists(m)), None)
PIN, SO_PIN = "4321", "87654321"


def kbs_client(tmp_dir, url, *args):
    env = dict(os.environ, HOME=str(tmp_dir))
    env.pop("KBS_LOG", None)
    return subprocess.run([str(find_binary("kbs-client")), "--url", url, "--tee", "sample",
                           *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=60, cwd=tmp_dir, env=env)


def upload(tmp_dir, url, path, data):
    f = tmp_dir / ("upload-" + path.replace("/", "_"))
    f.write_bytes(data)
    return kbs_client(tmp_dir, url, "config", "set-resource", "--path", path,
                      "--resource-file", f)


def log_text(daemon):
    return Path(daemon.log_path).read_bytes()


# ------------------------------------------------------------------ PKCS#11 (SoftHSM2)

@pytest.fixture
def softhsm(tmp_dir):
    if not SOFTHSM_MODULE or not shutil.which("softhsm2-util"):
        pytest.skip("softhsm2 not installed")
    tokens = tmp_dir / "tokens"
    tokens.mkdir()
    conf = tmp_dir / "softhsm2.conf"
    conf.write_text("directories.tokendir = %s\nobjectstore.backend = file\n"
                    "log.level = ERROR\n" % tokens)
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "kbs-test",
                    "--pin", PIN, "--so-pin", SO_PIN], check=True, env=env,
                   capture_output=True, timeout=30)
    return {"SOFTHSM2_CONF": str(conf)}, tokens


def p11_table(pin=PIN, extra=""):
    return 'module = "%s"\nslot_index = 0\npin = "%s"\n%s' % (SOFTHSM_MODULE, pin, extra)


def test_pkcs11_resource_backend_upload_fetch_and_errors(daemons, tmp_dir, free_port, softhsm):
    env, tokens = softhsm
    extra = ('[[plugins]]\nname = "resource"\nstorage_backend_type = "Pkcs11"\n' +
             p11_table())
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra, storage=False,
                             env=env)
    r = upload(tmp_dir, url, "default/hsm/key", SECRET)
    assert r.returncode == 0, r.stderr
    assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/hsm/key") == SECRET
    # replace: the newest value wins, one object per label
    assert upload(tmp_dir, url, "default/hsm/key", b"v2").returncode == 0
    assert c.get_secret("default/hsm/key") == b"v2"
    # kbs-client fetches through the whole RCAR too
    r = kbs_client(tmp_dir, url, "get-resource", "--path", "default/hsm/key")
    assert r.returncode == 0, r.stderr
    # missing = the LocalFs wire error
    r = c.get("default/hsm/missing")
    assert r.status_code == 401 and error_type(r) == "PluginInternalError"
    assert "not found" in r.json()["detail"]
    assert Admin(url).delete_resource("default/hsm/key").status_code == 200
    r = c.get("default/hsm/key")
    assert r.status_code == 401 and "not found" in r.json()["detail"]
    # the token's files never hold the value in clear? (SoftHSM encrypts private objects)
    blob = b"".join(p.read_bytes() for p in tokens.rglob("*") if p.is_file())
    assert SECRET not in blob
    assert SECRET not in log_text(d) and PIN.encode() not in log_text(d)


def test_pkcs11_values_survive_restart_and_wrong_pin_fails_start(daemons, tmp_dir, free_port,
                                                                 softhsm):
    env, _ = softhsm
    extra = ('[[plugins]]\nname = "resource"\nstorage_backend_type = "pkcs11"\n' +
             p11_table(extra='object_class = "data"\n'))
    port = free_port()
    url, _, d, _ = start_kbs(daemons, tmp_dir, port, extra=extra, storage=False, env=env)
    assert upload(tmp_dir, url, "default/hsm/data-obj", SECRET).returncode == 0
    d.stop()
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra, storage=False,
                             env=env, name="kbs2")
    assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/hsm/data-obj") == SECRET  # a token object, not a session one
    d.stop()
    # wrong PIN: kbs refuses to start and says why, without echoing the PIN
    bad = tmp_dir / "bad.toml"
    bad.write_text('[http_server]\nsockets = ["127.0.0.1:%d"]\ninsecure_http = true\n'
                   '[admin]\nauthorization_mode = "InsecureAllowAll"\n'
                   '[[plugins]]\nname = "resource"\nstorage_backend_type = "Pkcs11"\n%s'
                   % (free_port(), p11_table(pin="999999")))
    r = subprocess.run([str(find_binary("kbs")), "--config-file", str(bad)],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, **env))
    assert r.returncode != 0
    assert "wrong pin" in (r.stdout + r.stderr)
    assert "999999" not in r.stdout + r.stderr


def test_pkcs11_plugin_path_as_trustee(daemons, tmp_dir, free_port, softhsm):
    """Trustee's separate `pkcs11` plugin: POST (admin) and GET (attested, JWE) on
    /kbs/v0/pkcs11/resource/<repo>/<type>/<tag>; the LocalFs resource plugin stays."""
    env, _ = softhsm
    extra = '[[plugins]]\nname = "pkcs11"\n' + p11_table()
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra, env=env)
    import requests
    r = requests.post(url + "/kbs/v0/pkcs11/resource/default/p11/one", data=SECRET,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    r = c.s.get(url + "/kbs/v0/pkcs11/resource/default/p11/one")
    assert r.status_code == 200, r.text
    assert c.key.decrypt(r.json()) == SECRET
    # not in the LocalFs repository
    assert c.get("default/p11/one").status_code == 401


# ------------------------------------------------------------------ HashiCorp Vault KV

VAULT_TOKEN = "hvs.test-root-token-0123456789"


def vault_table(url, token=VAULT_TOKEN, extra=""):
    return ('[[plugins]]\nname = "resource"\nstorage_backend_type = "Vault"\n'
            'vault_url = "%s"\ntoken = "%s"\ntimeout_ms = 3000\n%s' % (url, token, extra))


def test_vault_kv1_trustee_layout_and_errors(daemons, tmp_dir, free_port):
    from backend_mocks import VaultMock, b64
    vault = VaultMock(free_port(), VAULT_TOKEN, {"secret": 1}).start()
    try:
        # written the way Trustee's Vault backend writes: {"data": base64(resource)}
        vault.put("secret", "default/vault/pre", {"data": b64(b"from-trustee\x00")})
        url, _, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=vault_table(vault.url))
        assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
        c = KbsClient(url)
        c.rcar()
        assert c.get_secret("default/vault/pre") == b"from-trustee\x00"
        assert upload(tmp_dir, url, "default/vault/one", SECRET).returncode == 0
        assert vault.get("secret", "default/vault/one") == {"data": b64(SECRET)}
        assert c.get_secret("default/vault/one") == SECRET
        m, path, hdrs, _ = vault.requests[-1]
        assert (m, path) == ("GET", "/v1/secret/default/vault/one")
        assert hdrs["X-Vault-Token"] == VAULT_TOKEN
        r = c.get("default/vault/missing")
        assert r.status_code == 401 and error_type(r) == "PluginInternalError"
        assert "not found" in r.json()["detail"]
        # a secret without Trustee's "data" field cannot be served
        vault.put("secret", "default/vault/odd", {"password": "x"})
        r = c.get("default/vault/odd")
        assert r.status_code == 401 and "could not be read" in r.json()["detail"]
        assert Admin(url).delete_resource("default/vault/one").status_code == 200
        assert vault.get("secret", "default/vault/one") is None
        r = Admin(url).delete_resource("default/vault/one")
        assert r.status_code == 401 and error_type(r) == "PluginInternalError"
        # sealed (503 from Vault) and gone: 503 naming the backend
        vault.sealed = True
        r = c.get("default/vault/pre")
        assert r.status_code == 503 and error_type(r) == "VaultUnavailable", r.text
        assert r.headers.get("Retry-After") == "1"
        vault.sealed = False
        vault.stop()
        r = c.get("default/vault/pre")
        assert r.status_code == 503 and error_type(r) == "VaultUnavailable"
        log = log_text(d)
        assert VAULT_TOKEN.encode() not in log and SECRET not in log
        assert b64(SECRET).encode() not in log
    finally:
        try:
            vault.stop()
        except Exception:
            pass


def test_vault_kv2_and_wrong_token(daemons, tmp_dir, free_port):
    from backend_mocks import VaultMock, b64
    vault = VaultMock(free_port(), VAULT_TOKEN, {"kv": 2}).start()
    try:
        url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=vault_table(
            vault.url + "/", extra='mount_path = "/kv/"\nkv_version = 2\n'))
        assert upload(tmp_dir, url, "tenant/db/password", SECRET).returncode == 0
        assert vault.get("kv", "tenant/db/password") == {"data": b64(SECRET)}
        m, path, _, body = vault.requests[-1]
        assert (m, path) == ("POST", "/v1/kv/data/tenant/db/password")
        assert upload(tmp_dir, url, "tenant/db/password", b"second").returncode == 0
        assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
        c = KbsClient(url)
        c.rcar()
        assert c.get_secret("tenant/db/password") == b"second"  # the latest version
        assert vault.requests[-1][1] == "/v1/kv/data/tenant/db/password"
        assert Admin(url).delete_resource("tenant/db/password").status_code == 200
        assert vault.requests[-1][:2] == ("DELETE", "/v1/kv/metadata/tenant/db/password")
        r = c.get("tenant/db/password")
        assert r.status_code == 401 and "not found" in r.json()["detail"]
    finally:
        vault.stop()
    # a token Vault refuses (403 permission denied): access denied, not "not found"
    vault = VaultMock(free_port(), "other-token", {"secret": 1}).start()
    try:
        vault.put("secret", "default/vault/x", {"data": b64(b"x")})
        url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=vault_table(vault.url),
                                 name="kbs-badtoken")
        assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
        c = KbsClient(url)
        c.rcar()
        r = c.get("default/vault/x")
        assert r.status_code == 401 and error_type(r) == "PluginInternalError"
        assert "access denied by the backend Vault" in r.json()["detail"]
    finally:
        vault.stop()


# ------------------------------------------------------------------ Azure Key Vault

TENANT, CLIENT = "72f988bf-86f1-41af-91ab-2d7cd011db47", "3d1b2c4e-aaaa-bbbb-cccc-0123456789ab"
CLIENT_SECRET = "client~secret.value_0123456789"


@pytest.fixture
def akv(tmp_dir, free_port):
    from backend_mocks import AkvMock
    from kbsfs_testlib import make_self_signed_cert
    cf = make_self_signed_cert(tmp_dir / "akv-tls", name="akv")
    crt, key = cf.cert, cf.key
    mocks = []

    def make(**kw):
        m = AkvMock(free_port(), (str(crt), str(key)), TENANT, CLIENT, **kw).start()
        mocks.append(m)
        return m, crt
    yield make
    for m in mocks:
        m.stop()


def akv_table(mock, crt, extra=""):
    return ('[[plugins]]\nname = "resource"\nstorage_backend_type = "AzureKeyVault"\n'
            'vault_url = "%s"\nauthority_host = "%s"\ntenant_id = "%s"\nclient_id = "%s"\n'
            'ca_file = "%s"\n%s' % (mock.url, mock.url, TENANT, CLIENT, crt, extra))


def test_akv_client_secret_versions_throttling_and_token_renewal(daemons, tmp_dir, free_port,
                                                                akv):
    mock, crt = akv(client_secret=CLIENT_SECRET)
    v1 = mock.set_secret("coco-one", "first value")
    mock.set_secret("coco-one", "second value")
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=akv_table(
        mock, crt, 'client_secret = "%s"\n' % CLIENT_SECRET))
    assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    # tag coco_one -> secret "coco-one", latest version; a 32-hex type selects a version
    assert c.get_secret("default/akv/coco_one") == b"second value"
    assert c.get_secret("default/%s/coco_one" % v1) == b"first value"
    assert mock.requests[-1][1] == "/secrets/coco-one/%s?api-version=7.4" % v1
    assert len(mock.token_requests) == 1  # the token is cached
    assert mock.token_requests[0]["client_secret"] == CLIENT_SECRET
    r = c.get("default/akv/absent")
    assert r.status_code == 401 and error_type(r) == "PluginInternalError"
    assert "not found" in r.json()["detail"]
    # read-only by default: uploads are refused by the kbs itself
    r = upload(tmp_dir, url, "default/akv/new", b"x")
    assert r.returncode != 0
    assert not any(m == "PUT" for m, *_ in mock.requests)
    # throttled once (429 + Retry-After): waited and retried
    mock.throttle = 1
    assert c.get_secret("default/akv/coco_one") == b"second value"
    # the Retry-After the vault names is the wait (2 s here, not the 1 s default)
    mock.throttle, mock.retry_after = 1, "2"
    t0 = time.monotonic()
    assert c.get_secret("default/akv/coco_one") == b"second value"
    assert time.monotonic() - t0 >= 2.0
    # a Retry-After beyond what a request may wait: 503 at once, no second vault call
    mock.throttle, mock.retry_after = 1, "30"
    n0 = len(mock.requests)
    t0 = time.monotonic()
    r = c.get("default/akv/coco_one")
    assert r.status_code == 503 and error_type(r) == "AzureKeyVaultUnavailable", r.text
    assert time.monotonic() - t0 < 5.0
    assert len(mock.requests) == n0 + 1
    mock.retry_after = "1"
    # throttled for longer: 503 naming the backend, the guest retries later
    mock.throttle = 10
    r = c.get("default/akv/coco_one")
    assert r.status_code == 503 and error_type(r) == "AzureKeyVaultUnavailable", r.text
    mock.throttle = 0
    # the vault rejects the cached token (401): one new token, then success
    mock.revoke_tokens()
    assert c.get_secret("default/akv/coco_one") == b"second value"
    assert len(mock.token_requests) == 2
    # the identity platform refuses the client (401 invalid_client): access denied
    mock.revoke_tokens()
    mock.auth_broken = True
    r = c.get("default/akv/coco_one")
    assert r.status_code == 401 and error_type(r) == "PluginInternalError"
    assert "access denied by the backend AzureKeyVault" in r.json()["detail"]
    log = log_text(d)
    assert CLIENT_SECRET.encode() not in log and b"second value" not in log
    assert b"invalid_client" in log  # the cause is logged


def test_akv_workload_identity_writable_binary(daemons, tmp_dir, free_port, akv):
    assertion = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a2JzIn0.c2ln"
    tokfile = tmp_dir / "azure-identity-token"
    tokfile.write_text(assertion + "\n")
    mock, crt = akv(assertion=assertion)
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=akv_table(
        mock, crt, 'federated_token_file = "%s"\nwritable = true\n' % tokfile))
    assert upload(tmp_dir, url, "default/akv/bin_key", SECRET).returncode == 0
    name, versions = "bin-key", mock.secrets["bin-key"]
    assert versions[-1][2] == "application/octet-stream;base64"
    assert mock.token_requests[0]["client_assertion"] == assertion
    assert "client_secret" not in mock.token_requests[0]
    assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/akv/bin_key") == SECRET
    assert Admin(url).delete_resource("default/akv/bin_key").status_code == 200
    assert name not in mock.secrets
    r = c.get("default/akv/bin_key")
    assert r.status_code == 401 and "not found" in r.json()["detail"]
    # the vault is gone: 503 naming the backend
    mock.stop()
    r = c.get("default/akv/bin_key")
    assert r.status_code == 503 and error_type(r) == "AzureKeyVaultUnavailable"


def test_vault_https_ca_certs_and_verification(daemons, tmp_dir, free_port):
    """Trustee's ca_certs: the Vault server's certificate is verified against them; without
    them (verify_ssl = false is not honoured) the TLS handshake fails: 503, no secret."""
    from backend_mocks import VaultMock, b64
    from kbsfs_testlib import make_self_signed_cert
    cf = make_self_signed_cert(tmp_dir / "vault-tls", name="vault")
    vault = VaultMock(free_port(), VAULT_TOKEN, {"secret": 1},
                      tls=(str(cf.cert), str(cf.key))).start()
    try:
        vault.put("secret", "default/tls/one", {"data": b64(SECRET)})
        url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=vault_table(
            vault.url, extra='verify_ssl = true\nca_certs = ["%s"]\n' % cf.cert))
        assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
        c = KbsClient(url)
        c.rcar()
        assert c.get_secret("default/tls/one") == SECRET
        url2, _, d2, _ = start_kbs(daemons, tmp_dir, free_port(), name="kbs-noca",
                                   extra=vault_table(vault.url, extra="verify_ssl = false\n"))
        assert Admin(url2).set_resource_policy(ALLOW_ALL).status_code == 200
        c2 = KbsClient(url2)
        c2.rcar()
        r = c2.get("default/tls/one")
        assert r.status_code == 503 and error_type(r) == "VaultUnavailable", r.text
        assert b"verify_ssl = false is not honoured" in log_text(d2)
    finally:
        vault.stop()


def test_akv_managed_identity_through_imds(daemons, tmp_dir, free_port, akv):
    """Managed identity: the token comes from the instance metadata service (Metadata: true,
    api-version 2018-02-01, resource https://vault.azure.net, client_id for a user-assigned
    identity); IMDS refusing the identity is an access denial."""
    mock, crt = akv()
    mock.set_secret("mi-secret", "via managed identity")
    extra = ('[[plugins]]\nname = "resource"\nstorage_backend_type = "AzureKeyVault"\n'
             'vault_url = "%s"\nmanaged_identity = true\nclient_id = "%s"\n'
             'imds_endpoint = "%s"\nca_file = "%s"\n' % (mock.url, CLIENT, mock.url, crt))
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra)
    assert Admin(url).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/akv/mi_secret") == b"via managed identity"
    (q,) = mock.token_requests
    assert q == {"api-version": "2018-02-01", "resource": "https://vault.azure.net",
                 "client_id": CLIENT}
    mock.revoke_tokens()
    mock.auth_broken = True
    r = c.get("default/akv/mi_secret")
    assert r.status_code == 401 and "access denied by the backend AzureKeyVault" in \
        r.json()["detail"]
