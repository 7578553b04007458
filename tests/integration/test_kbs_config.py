# SPDX-License-Identifier: Apache-2.0
"""kbs configuration end to end: one-line config, --check-config messages, legacy layouts."""
import os
import re
import shutil
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


# Every Trustee KBS config copied into tests/data, with the exit status of --check-config and
# why it refuses: only files/keys the deployment provides, intel_ta, and configs without
# token trust material (Trustee's own JwtVerifier::new refuses those too).
NO_TRUST = "no token issuer can be trusted"
INTEL_TA = "intel_ta is not supported"
SHIPPED_CHECKS = {
    "docker-compose-kbs-config.toml": (1, "cannot read identity provider key "
                                          "/opt/confidential-containers/kbs/user-keys/public.pub"),
    "e2e-external-plugin-attest.toml": (1, "cannot read token signing key ./work/token.key"),
    "e2e-external-plugin-resource-tls.toml": (1, "cannot read token signing key ./work/token.key"),
    "e2e-external-plugin-resource.toml": (1, "cannot read token signing key ./work/token.key"),
    "e2e-external-plugin-tls.toml": (0, None),
    "e2e-external-plugin.toml": (0, None),
    "e2e-kbs.toml": (1, "cannot read token signing key ./work/token.key"),
    "e2e-resource-kbs.toml": (1, "cannot read identity provider key ./work/kbs.pem"),
    "kbs-config-grpc.toml": (0, None),
    "kbs-config-intel-trust-authority.toml": (1, INTEL_TA),
    "kbs-config.toml": (0, None),
    "kubernetes-base-kbs-config.toml": (1, "cannot read identity provider key /kbs/kbs.pem"),
    "kubernetes-ita-kbs-config.toml": (1, INTEL_TA),
    "legacy-v0.10.0-kbs-config.toml": (0, None),
    "legacy-v0.13.0-kbs-config.toml": (0, None),
    "legacy-v0.17.0-kbs-config.toml": (0, None),
    "parse-coco-as-builtin-1.toml": (1, "Missing certificate"),
    "parse-coco-as-builtin-2.toml": (0, None),
    "parse-coco-as-builtin-3.toml": (1, "AuthenticatedAuthorization needs at least one identity"),
    "parse-coco-as-grpc-1.toml": (1, "trusted_certs_paths: cannot open /etc/ca"),
    "parse-coco-as-grpc-2.toml": (1, "cannot read identity provider key "
                                     "/opt/confidential-containers/trustee/admin1-pubkey.pem"),
    "parse-coco-as-grpc-3.toml": (1, NO_TRUST),
    "parse-intel-ta-1.toml": (1, INTEL_TA),
    "parse-intel-ta-2.toml": (1, INTEL_TA),
    "parse-intel-ta-3.toml": (1, INTEL_TA),
    "parse-tls-profile-custom-pqc.toml": (1, NO_TRUST),
    "parse-tls-profile-custom.toml": (1, NO_TRUST),
    "parse-tls-profile-intermediate.toml": (1, NO_TRUST),
    "parse-tls-profile-modern.toml": (1, NO_TRUST),
    "parse-tls-profile-old.toml": (1, NO_TRUST),
    "test-external-plugin-test.toml": (0, None),
}
# system calls that create or change something in the file system
WRITE_CALLS = "mkdir,mkdirat,open,openat,creat,rename,renameat,renameat2,unlink,unlinkat," \
              "rmdir,symlink,symlinkat,link,linkat,truncate,chmod,fchmodat,chown,fchownat"


def test_every_shipped_config_is_listed(test_data):
    names = sorted(p.name for p in (test_data / "kbs" / "trustee" / "configs").glob("*.toml"))
    assert names == sorted(SHIPPED_CHECKS)


@pytest.mark.parametrize("name", sorted(SHIPPED_CHECKS))
def test_shipped_configs_check_without_side_effects(test_data, tmp_dir, name):
    """--check-config gives the listed verdict and writes nothing (strace: no mkdir, no
    open with O_CREAT/O_WRONLY/O_RDWR, no rename/unlink...), although these configs point at
    /opt/confidential-containers and ./work directories a real start creates."""
    want_rc, why = SHIPPED_CHECKS[name]
    argv = [str(find_binary("kbs")), "--check-config", "--config-file",
            str(test_data / "kbs" / "trustee" / "configs" / name)]
    log = tmp_dir / "strace.log"
    traced = shutil.which("strace") is not None
    env = dict(os.environ)
    if traced:
        argv = ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=" + WRITE_CALLS] + argv
        # LeakSanitizer cannot run under ptrace (check-asan build)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    # cwd: the e2e configs use ./work relative paths
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_dir, env=env)
    assert p.returncode == want_rc, p.stderr
    assert "expected " not in p.stderr and ": key '" not in p.stderr, p.stderr
    if why:
        assert why in p.stderr, p.stderr
    else:
        assert "is usable" in p.stdout
    assert not (tmp_dir / "work").exists()
    if traced:
        writes = [ln for ln in log.read_text().splitlines()
                  if re.search(r"\b(mkdir|mkdirat|creat|rename\w*|unlink\w*|rmdir|symlink\w*|"
                               r"link\w*|truncate|chmod|fchmodat|chown|fchownat)\(", ln)
                  or (re.search(r"\bopen(at)?\(", ln)
                      and re.search(r"O_CREAT|O_WRONLY|O_RDWR|O_TRUNC", ln)
                      and '"/dev/null"' not in ln)]
        assert writes == [], "\n".join(writes)


def test_check_config_reports_what_it_would_create(tmp_dir):
    """Directories a real start creates (LocalFs repository, RVPS store) are named as "would
    create" and left absent."""
    store = tmp_dir / "state" / "nested"
    repo = tmp_dir / "tree-repo"
    cfg = tmp_dir / "kbs.toml"
    cfg.write_text('[http_server]\ninsecure_http = true\nsockets = ["127.0.0.1:1"]\n\n'
                   '[storage_backend]\nstorage_type = "LocalFs"\n\n'
                   '[storage_backend.backends.local_fs]\ndir_path = "%s"\n\n'
                   '[[plugins]]\nname = "resource"\ntype = "LocalFs"\ndir_path = "%s"\n'
                   % (store, repo))
    p = check_config(cfg)
    assert p.returncode == 0, p.stderr
    assert "would create %s/reference_value" % store in p.stderr
    assert "would create %s" % repo in p.stderr
    assert "would create %s/kbs/resource-policy.rego" % store in p.stderr
    assert not (tmp_dir / "state").exists() and not repo.exists()


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
