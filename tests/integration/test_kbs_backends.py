# SPDX-License-Identifier: Apache-2.0
"""Resource backends other than the key-value storage, each against a real or replayed
service: PKCS#11 on SoftHSM2 (a token created in a temp dir). Every backend: kbs-client
uploads, an attested RCAR client fetches, missing resources and outages map to the same wire
errors as LocalFs (PluginInternalError / 503 naming the backend), no secret in the log."""
import os
import shutil
import subprocess
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
