# SPDX-License-Identifier: Apache-2.0
"""kbs configuration end to end: one-line config, --check-config messages, legacy layouts."""
import os
import subprocess

import pytest

from kbs_pyclient import ALLOW_ALL, Admin, KbsClient, error_type, start_kbs
from kbsfs_testlib import find_binary


def check_config(path):
    return subprocess.run([str(find_binary("kbs")), "--check-config", "--config-file",
                           str(path)], capture_output=True, text=True, timeout=30)


def test_one_line_config_starts(daemons, tmp_dir, free_port):
    port = free_port()
    cfg = tmp_dir / "kbs.toml"
    cfg.write_text('[http_server]\nsockets = ["127.0.0.1:%d"]\ninsecure_http = true\n' % port)
    daemons.start(["kbs", "--config-file", cfg], ready_port=port)
    url = "http://127.0.0.1:%d" % port
    KbsClient(url).rcar()  # RCAR works; the in-process AS key is trusted, no insecure switch
    r = Admin(url).set_resource("default/a/b", b"x")
    assert r.status_code == 401 and "DenyAll" in r.text


def test_wrong_type_names_key_and_line(tmp_dir):
    cfg = tmp_dir / "bad.toml"
    cfg.write_text('[http_server]\nsockets = ["127.0.0.1:1"]\n\ninsecure_http = "yes"\n')
    p = check_config(cfg)
    assert p.returncode == 1
    assert "bad.toml:4: key 'http_server.insecure_http': expected boolean, got string" in p.stderr


def test_unknown_keys_warned_with_line(tmp_dir):
    cfg = tmp_dir / "warn.toml"
    cfg.write_text('[http_server]\ninsecure_http = true\nfrobnicate = 1\n')
    p = check_config(cfg)
    assert p.returncode == 0, p.stderr
    assert "warn.toml:3: unknown configuration key 'http_server.frobnicate'" in p.stderr


def test_tls_without_certificate_refused(tmp_dir):
    cfg = tmp_dir / "tls.toml"
    cfg.write_text('[http_server]\nsockets = ["127.0.0.1:1"]\n')
    p = check_config(cfg)
    assert p.returncode == 1 and "Missing certificate" in p.stderr


@pytest.mark.parametrize("name", ["kbs-config.toml", "e2e-kbs.toml", "docker-compose-kbs-config.toml",
                                  "legacy-v0.10.0-kbs-config.toml", "legacy-v0.13.0-kbs-config.toml",
                                  "legacy-v0.17.0-kbs-config.toml", "parse-coco-as-grpc-2.toml",
                                  "kubernetes-base-kbs-config.toml"])
def test_shipped_configs_parse(test_data, name):
    # --check-config goes on to build the service (keys, directories), which these
    # deployment configs point at; parsing itself must succeed: no "key '" error
    p = check_config(test_data / "kbs" / "trustee" / "configs" / name)
    assert "expected " not in p.stderr, p.stderr
    assert ": key '" not in p.stderr, p.stderr


def test_legacy_tree_repository_with_k8s_symlinks(daemons, tmp_dir, free_port):
    repo = tmp_dir / "repo"
    ts = repo / "default" / "akv" / "..2026_01_01_00_00_00.1"
    ts.mkdir(parents=True)
    (ts / "coco_one").write_bytes(b"from-akv")
    os.symlink("..2026_01_01_00_00_00.1", repo / "default" / "akv" / "..data")
    os.symlink("..data/coco_one", repo / "default" / "akv" / "coco_one")
    os.symlink("/etc/hostname", repo / "default" / "akv" / "escape")
    extra = '[[plugins]]\nname = "resource"\ntype = "LocalFs"\ndir_path = "%s"\n' % repo
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra, storage=False)
    Admin(url).set_resource_policy(ALLOW_ALL)
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/akv/coco_one") == b"from-akv"
    r = c.get("default/akv/escape")
    assert r.status_code == 401 and error_type(r) == "PluginInternalError"
    assert "escapes the repository" in r.json()["detail"]
    # uploads land in the tree layout
    assert Admin(url).set_resource("default/new/key", b"n").status_code == 200
    assert (repo / "default" / "new" / "key").read_bytes() == b"n"


def test_policy_and_resources_survive_restart(daemons, tmp_dir, free_port):
    port = free_port()
    url, _, d, cfg = start_kbs(daemons, tmp_dir, port)
    Admin(url).set_resource("default/p/r", b"persisted")
    Admin(url).set_resource_policy(ALLOW_ALL)
    d.stop()
    daemons.start(["kbs", "--config-file", cfg], ready_port=port, name="kbs-again")
    c = KbsClient(url)
    c.rcar()
    assert c.get_secret("default/p/r") == b"persisted"


def test_legacy_simple_token(daemons, tmp_dir, free_port):
    """attestation_token_broker type = "Simple" (Trustee <= v0.14): RS384 token, accepted."""
    from kbs_pyclient import jwt_decode
    extra = ('[attestation_service]\ntype = "coco_as_builtin"\n'
             '[attestation_service.attestation_token_broker]\ntype = "Simple"\n')
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra)
    Admin(url).set_resource("default/s/t", b"simple")
    Admin(url).set_resource_policy(ALLOW_ALL)
    c = KbsClient(url)
    tok = c.rcar()
    hdr, claims = jwt_decode(tok)
    assert hdr["alg"] == "RS384" and hdr["jwk"]["kty"] == "RSA"
    assert claims["tee"] == "sample"
    assert claims["customized_claims"]["runtime_data"]["tee-pubkey"] == c.key.jwk
    assert c.get_secret("default/s/t") == b"simple"
    assert c.get_secret("default/s/t", bearer=tok, cookie=False) == b"simple"
