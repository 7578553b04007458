# SPDX-License-Identifier: Apache-2.0
"""The new user's path of docs/kbs.md: openssl admin key, 10-line config, kbs, kbs-client."""
import base64
import subprocess

import pytest

from kbsfs_testlib import find_binary


def run(argv, **kw):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60, **kw)
    assert p.returncode == 0, (argv, p.returncode, p.stdout, p.stderr)
    return p.stdout


@pytest.mark.parametrize("transport", ["insecure_http", "tls"])
def test_new_user_path(daemons, tmp_dir, free_port, tls_cert, transport):
    client = find_binary("kbs-client")  # always built: a missing binary is a failure
    # 1. admin key pair, exactly as docs/kbs.md shows
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", tmp_dir / "admin.key"])
    run(["openssl", "pkey", "-in", tmp_dir / "admin.key", "-pubout", "-out",
         tmp_dir / "admin.pub"])
    # 2. the 10-line config
    port = free_port()
    if transport == "tls":
        cert = tls_cert()
        t = 'certificate = "%s"\nprivate_key = "%s"' % (cert.cert, cert.key)
        url, extra = "https://127.0.0.1:%d" % port, ["--cert-file", cert.cert]
    else:
        t, url, extra = "insecure_http = true", "http://127.0.0.1:%d" % port, []
    cfg = ('[http_server]\nsockets = ["127.0.0.1:%d"]\n%s\n[admin]\n'
           'authorization_mode = "AuthenticatedAuthorization"\n'
           '[admin.authentication.bearer_jwt]\n'
           'identity_providers = [{ public_key_uri = "./admin.pub" }]\n'
           '[storage_backend]\nstorage_type = "LocalFs"\n'
           '[storage_backend.backends.local_fs]\ndir_path = "./kbs-storage"\n' % (port, t))
    (tmp_dir / "kbs.toml").write_text(cfg)
    # 3. start kbs (relative paths are relative to its working directory)
    daemons.start(["kbs", "--config-file", "kbs.toml"], cwd=str(tmp_dir), ready_port=port)
    # 4. upload a resource and a policy with kbs-client
    secret = b"my first secret\n"
    (tmp_dir / "secret.bin").write_bytes(secret)
    admin = [client, "--url", url] + extra + ["config", "--auth-private-key",
                                              tmp_dir / "admin.key"]
    run(admin + ["set-resource", "--path", "default/test/secret", "--resource-file",
                 tmp_dir / "secret.bin"])
    run(admin + ["set-resource-policy", "--allow-all"])
    # 5. fetch it as a guest (sample TEE)
    out = run([client, "--url", url] + extra + ["--tee", "sample", "get-resource", "--path",
                                                "default/test/secret"])
    assert base64.b64decode(out.strip()) == secret
    assert (tmp_dir / "kbs-storage" / "repository" / "default\\x2Ftest\\x2Fsecret").exists()
    # without the admin key, uploads are refused
    p = subprocess.run([str(a) for a in [client, "--url", url] + extra +
                        ["config", "set-resource", "--path", "default/test/x",
                         "--resource-file", tmp_dir / "secret.bin"]],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_dir))
    assert p.returncode != 0
