# SPDX-License-Identifier: Apache-2.0
"""attestation-agent REST API: every endpoint in each exposure mode with upstream's statuses,
bodies and content types (tests/data/attester/rest/rest-api-cases.json), loopback-only
binding, the kernel command-line knob, aa.toml parsing, init-data refusal, the AAEL on a
real swtpm (PCR 17 changes exactly as replaying the log predicts), and /cdh/resource and
/aa/token against a real kbs (sample TEE allowed explicitly by an allow-all policy)."""
import base64
import hashlib
import http.client
import json
import os
import struct
import subprocess

import pytest
import requests

from kbs_server import ADMIN_AUDIENCE as AUDIENCE, ADMIN_ISSUER as ISSUER, start_admin_jwt_kbs
from kbsfs_testlib import Daemon, DaemonError, find_binary, free_port
from kbs_pyclient import jwt_verify_es256
from swtpm_lib import attester_tool, swtpm  # noqa: F401

DATA = os.environ.get("KBS_TEST_DATA", "")


def start_agent(tmp_dir, *args, config=None, env=None, cmdline="quiet", name="aa", wait=True):
    port = free_port()
    cl = tmp_dir / f"{name}-cmdline"
    cl.write_text(cmdline + "\n")
    argv = ["attestation-agent", "-b", f"127.0.0.1:{port}", "--cmdline", cl,
            "--eventlog-path", tmp_dir / f"{name}-run" / "eventlog", *args]
    if config is not None:
        cfg = tmp_dir / f"{name}.toml"
        cfg.write_text(config)
        argv += ["-c", cfg]
    d = Daemon(argv, name=name, log_dir=tmp_dir, env=env, ready_port=port if wait else None,
               ready_log=None if wait else r".")
    d.start()
    d.port = port
    return d


def call(d, method, target, body=None):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    c.request(method, target, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type"), data


def run_agent(tmp_dir, *args, cmdline="quiet"):
    cl = tmp_dir / "cmdline-once"
    cl.write_text(cmdline + "\n")
    return subprocess.run([str(find_binary("attestation-agent")), "--cmdline", str(cl), *args],
                          capture_output=True, text=True, timeout=30)


CASES = json.load(open(os.path.join(DATA, "attester/rest/rest-api-cases.json")))


def exact(resp):
    """The literal body of a case, or None when the case describes it in words."""
    if "(" in resp or "<" in resp or resp.startswith("raw ") or resp.startswith("method ") \
            or resp.startswith("empty ") or resp.startswith("report_data"):
        return None
    return resp


@pytest.mark.parametrize("level", ["resource", "attestation", "all"])
def test_rest_cases_per_feature_level(tmp_dir, level):
    """Every case of the upstream table that needs neither a KBS nor an event log."""
    d = start_agent(tmp_dir, "--tee", "sample", "-f", level)
    try:
        for c in CASES:
            if c["peer"] != "127.0.0.1" or c["features"] not in ("any", level) and not (
                    level == "all" and c["features"] in ("resource", "attestation")
                    and "Not Enabled" not in c["response"]):
                continue
            t = c["target"]
            if t.startswith("/cdh/resource/") and c["status"] != 404 or \
                    t.startswith("/aa/token?token_type=kbs") or t == "/aa/aael" and \
                    c["body"] and c["status"] == 200 or "newline" in c["response"]:
                continue  # need a KBS / event log: covered below
            if level == "all" and "Not Enabled" in c["response"]:
                continue
            st, ct, body = call(d, c["method"], t, c["body"])
            assert st == c["status"], (level, c, body)
            assert ct == c["content_type"], (level, c, ct)
            want = exact(c["response"])
            if t == "/info" and st == 200:
                info = json.loads(body)
                assert info["feature"] == level
                assert info["version"].startswith("Guest Components Version: ")
                assert ("tee" in info) == (level != "resource")
                assert "additional_tees" not in info
            elif want is not None and not want.startswith("Illegal"):
                assert body.decode() == want, (c, body)
            elif want is not None:
                assert body.decode().startswith("Illegal AAEL eventry format: ")
    finally:
        d.stop()


def test_evidence_encodings_and_sample_shape(tmp_dir):
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "attestation")
    try:
        want = b'{"svn":"1","report_data":"eHh4eA=="}'
        assert call(d, "GET", "/aa/evidence?runtime_data=xxxx")[2] == want
        assert call(d, "GET", "/aa/evidence?runtime_data=eHh4eA&encoding=base64")[2] == want
        st, _, body = call(d, "GET", "/aa/evidence?runtime_data=a+b%21&runtime_data=cmVw")
        assert json.loads(body)["report_data"] == base64.b64encode(b"cmVw").decode()
        assert call(d, "GET", "/aa/evidence?runtime_data=eHh4eA%3D%3D&encoding=base64")[0] == 400
        st, ct, body = call(d, "GET", "/aa/additional-evidence?runtime_data=x")
        assert (st, ct, body) == (200, "application/octet-stream", b"")
        assert call(d, "GET", "/aa/additional-evidence")[0] == 400
        assert call(d, "GET", "/aa/token?token_type=kbs")[:3:2] == (500, b"ttrpc request error")
        st, ct, body = call(d, "POST", "/aa/aael",
                            json.dumps({"domain": "d", "operation": "o", "content": "c"}))
        assert body == (b'{"success":"false","message": "Attestation Agent does not enable '
                        b'eventlog recording"}')
    finally:
        d.stop()


def test_eventlog_on_a_tee_without_registers_is_not_supported(tmp_dir):
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "all",
                    config="[eventlog_config]\nenable_eventlog = true\n")
    try:
        st, ct, body = call(d, "POST", "/aa/aael",
                            '{"domain":"test","operation":"test","content":"test"}')
        assert (st, ct) == (200, "application/json")
        assert body == (b'{"success":"false","message": "The platform does not support '
                        b'runtime measurement"}')
    finally:
        d.stop()


def test_kernel_cmdline_sets_the_level(tmp_dir):
    d = start_agent(tmp_dir, "--tee", "sample", cmdline="ro agent.guest_components_rest_api=all")
    try:
        assert json.loads(call(d, "GET", "/info")[2])["feature"] == "all"
    finally:
        d.stop()
    d = start_agent(tmp_dir, "--tee", "sample", name="aa2")
    try:
        assert json.loads(call(d, "GET", "/info")[2])["feature"] == "resource"
    finally:
        d.stop()
    r = run_agent(tmp_dir, "--tee", "sample", "-b", f"127.0.0.1:{free_port()}",
                  cmdline="agent.guest_components_rest_api=none")
    assert r.returncode == 1 and "guest_components_rest_api" in r.stderr


@pytest.mark.parametrize("bind", ["0.0.0.0:8006", "10.1.2.3:8006", "[::]:8006",
                                  "[::ffff:127.0.0.1]:8006"])
def test_non_loopback_bind_is_refused(tmp_dir, bind):
    r = run_agent(tmp_dir, "--tee", "sample", "-b", bind)
    assert r.returncode == 1 and "loopback" in r.stderr


def test_usage_errors_and_help(tmp_dir):
    r = run_agent(tmp_dir, "--help")
    assert r.returncode == 0
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "--config-file", "--bind", "--features",
                    "--initdata-toml", "--initdata-digest", "--tee", "EXIT STATUS"):
        assert section in r.stdout
    assert run_agent(tmp_dir, "--bogus").returncode == 2
    r = run_agent(tmp_dir, "-f", "everything", "--tee", "sample")
    assert r.returncode == 1
    r = run_agent(tmp_dir, "-b", f"127.0.0.1:{free_port()}")   # auto: no TEE on this machine
    assert r.returncode == 1 and "TEE" in r.stderr


@pytest.mark.parametrize("name", ["aa-config.example.toml", "aa-config.example.json",
                                  "aa-config1.toml", "aa-config2.toml", "aa-config3.toml",
                                  "aa-config4.toml", "aa-config5.toml", "aa-config6.toml"])
def test_upstream_configs_are_accepted(tmp_dir, name):
    path = os.path.join(DATA, "attester/config", name)
    port = free_port()
    d = Daemon(["attestation-agent", "-c", path, "--tee", "sample", "-f", "attestation",
                "-b", f"127.0.0.1:{port}", "--cmdline", "/dev/null",
                "--eventlog-path", tmp_dir / "ev" / "eventlog"],
               name="cfg", log_dir=tmp_dir, ready_port=port)
    d.start()
    d.port = port
    try:
        assert json.loads(call(d, "GET", "/info")[2])["tee"] == "sample"
    finally:
        d.stop()


def test_bad_config_is_refused(tmp_dir):
    cfg = tmp_dir / "bad.toml"
    cfg.write_text("[eventlog_config]\ninit_pcr = \"seventeen\"\n")
    r = run_agent(tmp_dir, "-c", str(cfg), "--tee", "sample")
    assert r.returncode == 1 and "init_pcr" in r.stderr


# ------------------------------------------------------------------ TPM: AAEL and init-data

def replay_pcr(log, pcr, start):
    reg, off = start, 0
    while off < len(log):
        idx, typ, cnt, alg = struct.unpack_from("<IIIH", log, off)
        dig = log[off + 14:off + 46]
        off += 46
        size, tag, tsize = struct.unpack_from("<III", log, off)
        text = log[off + 12:off + 12 + tsize]
        off += 12 + tsize
        assert (typ, cnt, alg, tag, size) == (6, 1, 0x000B, 0x4141454C, tsize + 8)
        assert hashlib.sha256(log[off - tsize - 8:off]).digest() == dig
        if idx == pcr:
            reg = hashlib.sha256(reg + dig).digest()
    return reg


def test_aael_extends_tpm_pcr_as_the_log_replays(tmp_dir, swtpm):
    # PCR 17 belongs to locality 4 (PC Client profile): at locality 0 the TPM refuses
    env = swtpm.env()
    d = start_agent(tmp_dir, "--tee", "tpm", "-f", "attestation", env=env, name="loc0",
                    config="[eventlog_config]\nenable_eventlog = true\n")
    try:
        st, _, resp = call(d, "POST", "/aa/aael", '{"domain":"a","operation":"b","content":"c"}')
        assert (st, resp) == (500, b"ttrpc request error")
        assert "bad locality" in d.output()
    finally:
        d.stop()
    env = swtpm.env(AA_TPM_LOCALITY=4)
    start = bytes.fromhex(attester_tool("pcr-read", 17, env=env).stdout.strip())
    d = start_agent(tmp_dir, "--tee", "tpm", "-f", "attestation", env=env,
                    config="[eventlog_config]\nenable_eventlog = true\ninit_pcr = 17\n")
    try:
        for body in ({"domain": "domain", "operation": "operation", "content": "content"},
                     {"domain": "test", "operation": "test", "content": "test"}):
            st, ct, resp = call(d, "POST", "/aa/aael", json.dumps(body))
            assert (st, resp) == (200, b'{"success":"true"}'), d.log_tail()
        st, _, resp = call(d, "POST", "/aa/aael",
                           '{"domain":"d","operation":"o","content":"a\\nb"}')
        assert (st, resp) == (500, b"ttrpc request error")
        st, _, resp = call(d, "POST", "/aa/aael", '{"domain":"a b","operation":"o","content":"c"}')
        assert st == 500
        log = (tmp_dir / "aa-run" / "eventlog").read_bytes()
        now = bytes.fromhex(attester_tool("pcr-read", 17, env=env).stdout.strip())
        assert now != start
        assert replay_pcr(log, 17, start) == now
        # the vTPM vector: same two events from all-ff (swtpm's PCR 17 start value)
        exp = json.load(open(os.path.join(DATA, "attester/aael/expected.json")))
        ff = exp["vtpm_chain"]["ff_start"]
        if start == b"\xff" * 32:
            assert now.hex() == ff["steps"][1]["register_after_hex"]
        # TPM evidence carries the AAEL
        st, _, ev = call(d, "GET", "/aa/evidence?runtime_data=abc")
        assert st == 200
        ev = json.loads(ev)
        assert ev["tpm_quote"]["pcrs"][17] == now.hex()
        assert (tmp_dir / "aa-run" / ".wal_event_entry").exists() is False
    finally:
        d.stop()
    # restart: the log is kept and appended to
    d = start_agent(tmp_dir, "--tee", "tpm", "-f", "attestation", env=env,
                    config="[eventlog_config]\nenable_eventlog = true\n", name="aa")
    try:
        assert call(d, "POST", "/aa/aael", '{"domain":"x","operation":"y","content":"z"}')[0] \
            == 200
        log = (tmp_dir / "aa-run" / "eventlog").read_bytes()
        now = bytes.fromhex(attester_tool("pcr-read", 17, env=env).stdout.strip())
        assert replay_pcr(log, 17, start) == now
    finally:
        d.stop()


def test_initdata_extends_pcr8_and_mismatch_refuses(tmp_dir, swtpm):
    env = swtpm.env()
    toml = os.path.join(DATA, "attester/initdata/initdata-sha256.toml")
    exp = json.load(open(os.path.join(DATA, "attester/initdata/expected.json")))
    d = start_agent(tmp_dir, "--tee", "tpm", "-f", "attestation", "--initdata-toml", toml,
                    env=env)
    d.stop()
    pcr8 = attester_tool("pcr-read", 8, env=env).stdout.strip()
    assert pcr8 == exp["initdata/initdata-sha256.toml"]["tpm_pcr8_after_extend_from_zero_hex"]
    # sha384 cannot be bound on a TPM: the agent refuses to start
    r = subprocess.run([str(find_binary("attestation-agent")), "--tee", "tpm", "--cmdline",
                        "/dev/null", "-b", f"127.0.0.1:{free_port()}", "--initdata-toml",
                        os.path.join(DATA, "attester/initdata/initdata-sha384.toml")],
                       env=dict(os.environ, **env), capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "sha256" in r.stderr
    bad = tmp_dir / "bad.toml"
    bad.write_text('version = "0.1.0"\nalgorithm = "sha256"\n')
    r = subprocess.run([str(find_binary("attestation-agent")), "--tee", "sample", "--cmdline",
                        "/dev/null", "-b", f"127.0.0.1:{free_port()}", "--initdata-toml",
                        str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "data" in r.stderr


@pytest.mark.parametrize("tee", ["az-snp-vtpm", "az-tdx-vtpm"])
def test_azure_vtpm_binds_initdata_to_pcr8_and_logs_to_a_pcr(tmp_dir, swtpm, tee):
    # as upstream's Azure attesters: init-data extends vTPM PCR 8, AAEL extends init_pcr
    env = swtpm.env()
    toml = os.path.join(DATA, "attester/initdata/initdata-sha256.toml")
    exp = json.load(open(os.path.join(DATA, "attester/initdata/expected.json")))
    start = bytes.fromhex(attester_tool("pcr-read", 23, env=env).stdout.strip())
    d = start_agent(tmp_dir, "--tee", tee, "-f", "attestation", "--initdata-toml", toml,
                    env=env, config="[eventlog_config]\nenable_eventlog = true\ninit_pcr = 23\n")
    try:
        st, _, resp = call(d, "POST", "/aa/aael", '{"domain":"d","operation":"o","content":"c"}')
        assert (st, resp) == (200, b'{"success":"true"}'), d.log_tail()
    finally:
        d.stop()
    pcr8 = attester_tool("pcr-read", 8, env=env).stdout.strip()
    assert pcr8 == exp["initdata/initdata-sha256.toml"]["tpm_pcr8_after_extend_from_zero_hex"]
    now = bytes.fromhex(attester_tool("pcr-read", 23, env=env).stdout.strip())
    log = (tmp_dir / "aa-run" / "eventlog").read_bytes()
    assert now != start and replay_pcr(log, 23, start) == now


# ------------------------------------------------------------------ against a real kbs

@pytest.fixture(scope="module")
def kbs(tmp_path_factory):
    d = tmp_path_factory.mktemp("kbs")
    k = start_admin_jwt_kbs(d)
    port, cert, admin_key, daemon = k.port, k.cert, k.admin, k.daemon

    def admin(*args):
        r = subprocess.run([str(find_binary("kbs-client")), "--url", f"https://127.0.0.1:{port}",
                            "--cert-file", str(cert), "config", "--auth-private-key",
                            str(admin_key.private), "--admin-issuer", ISSUER, "--admin-audience",
                            AUDIENCE, *map(str, args)], capture_output=True, text=True,
                           timeout=60, cwd=d, env=dict(os.environ, HOME=str(d)))
        assert r.returncode == 0, r.stderr
    try:
        yield {"url": k.url, "cert": cert, "admin": admin, "dir": d}
    finally:
        daemon.stop()


def kbs_config(kbs):
    pem = open(kbs["cert"]).read()
    return f"[token_configs.kbs]\nurl = \"{kbs['url']}/\"\ncert = '''\n{pem}'''\n"


def test_cdh_resource_from_a_real_kbs(tmp_dir, kbs):
    secret = b"agent-secret\x00\x01\xfe"
    f = kbs["dir"] / "agent-secret.bin"
    f.write_bytes(secret)
    kbs["admin"]("set-resource", "--path", "default/agent/one", "--resource-file", f)
    kbs["admin"]("set-resource-policy", "--allow-all")
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "resource", config=kbs_config(kbs))
    try:
        st, ct, body = call(d, "GET", "/cdh/resource/default/agent/one")
        assert (st, ct, body) == (200, "application/octet-stream", secret)
        st, ct, body = call(d, "PUT", "/cdh/resource/default/agent/one?x=1")
        assert (st, body) == (200, secret)
        st, ct, body = call(d, "GET", "/cdh/resource/default/agent/missing")
        assert (st, ct, body) == (500, None, b"ttrpc request error")
        assert call(d, "GET", "/aa/evidence?runtime_data=x")[2] == \
            b"Attestation Feature Not Enabled"
    finally:
        d.stop()
    # a denying policy: the agent answers 500, never the secret
    kbs["admin"]("set-resource-policy", "--deny-all")
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "all", config=kbs_config(kbs), name="aa3")
    try:
        st, _, body = call(d, "GET", "/cdh/resource/default/agent/one")
        assert st == 500 and secret not in body
    finally:
        d.stop()
        kbs["admin"]("set-resource-policy", "--allow-all")


def test_aa_token_from_a_real_kbs(tmp_dir, kbs):
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "attestation", config=kbs_config(kbs))
    try:
        st, ct, body = call(d, "GET", "/aa/token?token_type=kbs")
        assert (st, ct) == (200, "application/octet-stream"), body
        assert list(json.loads(body)) == ["token", "tee_keypair"]
        tok = json.loads(body)
        assert tok["tee_keypair"].startswith("-----BEGIN PRIVATE KEY-----")
        claims = json.loads(base64.urlsafe_b64decode(tok["token"].split(".")[1] + "=="))
        assert claims["exp"] > claims.get("iat", 0)
        assert call(d, "GET", "/aa/token?token_type=coco_as")[:3:2] == \
            (500, b"ttrpc request error")
    finally:
        d.stop()


# ------------------------------------------------------------------ TDX register files (fake)

def test_tdx_initdata_without_mrconfigid_file_asks_the_tdx_guest_device(tmp_dir):
    """No mrconfigid in the measurements directory (kernels < 6.16): MRCONFIGID comes from a
    TDREPORT of /dev/tdx_guest (AA_TDX_GUEST_DEVICE); without that device the agent refuses
    to start and names both places. The ioctl itself is covered by unit_tdx_guest."""
    meas = tmp_dir / "measurements"
    meas.mkdir()
    toml = os.path.join(DATA, "attester/initdata/initdata-sha384.toml")
    cl = tmp_dir / "cmdline-once"
    cl.write_text("quiet\n")
    r = subprocess.run([str(find_binary("attestation-agent")), "--cmdline", str(cl), "--tee",
                        "tdx", "--tdx-measurements", str(meas), "-b", f"127.0.0.1:{free_port()}",
                        "--initdata-toml", toml],
                       env=dict(os.environ, AA_TDX_GUEST_DEVICE=str(tmp_dir / "no-tdx-guest")),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "MRCONFIGID" in r.stderr and str(tmp_dir / "no-tdx-guest") in r.stderr


def test_tdx_aael_and_initdata_with_fake_measurement_files(tmp_dir):
    """A fake sysfs measurements directory: the agent binds init-data to mrconfigid (mismatch
    refuses) and writes each AAEL event digest to rtmr3:sha384, logging records with
    PCRIndex 4 (CCMR of PCR 17): the log equals the recorded TDX vector byte for byte."""
    meas = tmp_dir / "measurements"
    meas.mkdir()
    rtmr = meas / "rtmr3:sha384"
    rtmr.write_bytes(bytes(48))
    exp = json.load(open(os.path.join(DATA, "attester/initdata/expected.json")))
    toml = os.path.join(DATA, "attester/initdata/initdata-sha384.toml")
    mrc = bytes.fromhex(exp["initdata/initdata-sha384.toml"]["tdx_mrconfigid_hex"])
    (meas / "mrconfigid").write_bytes(bytes([mrc[0] ^ 1]) + mrc[1:])
    r = run_agent(tmp_dir, "--tee", "tdx", "--tdx-measurements", str(meas), "-b",
                  f"127.0.0.1:{free_port()}", "--initdata-toml", toml)
    assert r.returncode == 1 and "MRCONFIGID" in r.stderr
    (meas / "mrconfigid").write_bytes(mrc)
    d = start_agent(tmp_dir, "--tee", "tdx", "-f", "attestation", "--tdx-measurements", meas,
                    "--initdata-toml", toml,
                    config="[eventlog_config]\nenable_eventlog = true\n")
    try:
        aael = json.load(open(os.path.join(DATA, "attester/aael/expected.json")))["tdx_chain"]
        for step in aael["steps"]:
            st, _, resp = call(d, "POST", "/aa/aael", json.dumps(step["rest_body"]))
            assert (st, resp) == (200, b'{"success":"true"}'), d.log_tail()
            # a regular file stands in for the register: it holds the last extend value
            assert rtmr.read_bytes() == bytes.fromhex(step["event_digest_hex"])
        log = (tmp_dir / "aa-run" / "eventlog").read_bytes()
        assert log == open(os.path.join(DATA, "attester/aael/tdx-rtmr3-aael.bin"), "rb").read()
    finally:
        d.stop()


def test_initdata_digest_flag_binds_like_the_toml(tmp_dir, swtpm):
    """upstream's -i/--initdata-digest (standard base64): TDX compares it with MRCONFIGID,
    TPM extends PCR 8 with it (32 bytes only); --initdata-toml wins when both are given;
    malformed values stop the agent. The upstream ttRPC address flags are accepted."""
    exp = json.load(open(os.path.join(DATA, "attester/initdata/expected.json")))
    e384 = exp["initdata/initdata-sha384.toml"]
    meas = tmp_dir / "measurements"
    meas.mkdir()
    (meas / "mrconfigid").write_bytes(bytes.fromhex(e384["tdx_mrconfigid_hex"]))
    good = e384["digest_b64"]
    bad = base64.b64encode(bytes([1]) + base64.b64decode(good)[1:]).decode()

    def tdx(*args):
        return run_agent(tmp_dir, "--tee", "tdx", "--tdx-measurements", str(meas), "-b",
                         f"127.0.0.1:{free_port()}", *args)

    r = tdx("--initdata-digest", bad)
    assert r.returncode == 1 and "MRCONFIGID" in r.stderr
    for value in ("not base64!", base64.b64encode(bytes(65)).decode(), "", "AAA"):
        r = tdx("-i", value)
        assert r.returncode == 1 and "--initdata-digest" in r.stderr, value
    d = start_agent(tmp_dir, "--tee", "tdx", "--tdx-measurements", meas, "-i", good,
                    "-a", "unix:///run/aa.sock", "--cdh_addr", "unix:///run/cdh.sock",
                    name="digest")
    d.stop()
    # the TOML takes precedence over a (wrong) digest
    d = start_agent(tmp_dir, "--tee", "tdx", "--tdx-measurements", meas, "--initdata-digest",
                    bad, "--initdata-toml",
                    os.path.join(DATA, "attester/initdata/initdata-sha384.toml"), name="both")
    d.stop()
    # TPM: PCR 8 extended with the given digest; a 48-byte digest cannot be
    env = swtpm.env()
    e256 = exp["initdata/initdata-sha256.toml"]
    d = start_agent(tmp_dir, "--tee", "tpm", "--initdata-digest", e256["digest_b64"], env=env,
                    name="tpm")
    d.stop()
    assert attester_tool("pcr-read", 8, env=env).stdout.strip() == \
        e256["tpm_pcr8_after_extend_from_zero_hex"]
    r = subprocess.run([str(find_binary("attestation-agent")), "--tee", "tpm", "--cmdline",
                        "/dev/null", "-b", f"127.0.0.1:{free_port()}", "-i", good],
                       env=dict(os.environ, **env), capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "sha256" in r.stderr


def test_coco_as_token_from_a_real_restful_as(tmp_dir, daemons):
    """/aa/token?token_type=coco_as as upstream's CoCoASTokenGetter: evidence over empty
    report data posted to <url>/attestation of a Trustee-API AS (our restful-as); the body is
    its EAR token. An AS that refuses or is not there gives 500."""
    port = free_port()
    daemons.start(["restful-as", "--socket", f"127.0.0.1:{port}"], ready_port=port,
                  name="restful-as")
    ras = f"http://127.0.0.1:{port}"
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "attestation",
                    config=f'[token_configs.coco_as]\nurl = "{ras}"\n')
    try:
        st, ct, body = call(d, "GET", "/aa/token?token_type=coco_as")
        assert (st, ct) == (200, "application/octet-stream"), body
        jwk = requests.get(ras + "/.well-known/jwks.json", timeout=10).json()["keys"][0]
        claims = jwt_verify_es256(body.decode(), jwk)
        sub = claims["submods"]["cpu0"]
        assert "sample" in sub["ear.veraison.annotated-evidence"]
        # no [token_configs.kbs]: the kbs type is still refused
        assert call(d, "GET", "/aa/token?token_type=kbs")[:3:2] == (500, b"ttrpc request error")
    finally:
        d.stop()
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "attestation", name="gone",
                    config=f'[token_configs.coco_as]\nurl = "http://127.0.0.1:{free_port()}"\n')
    try:
        assert call(d, "GET", "/aa/token?token_type=coco_as")[:3:2] == \
            (500, b"ttrpc request error")
    finally:
        d.stop()


def test_cdh_unseal_with_a_key_file_from_a_real_kbs(tmp_dir, kbs):
    """POST /cdh/unseal with guest-components' signed vector (kid test-key, a file in the
    sealed-secret directory, naming kbs:///one/2/trois): verified, then fetched from the kbs.
    Tampered, unsigned and wrongly signed references are refused before any fetch."""
    secret = b"unsealed \x00 value"
    f = kbs["dir"] / "unseal-secret.bin"
    f.write_bytes(secret)
    kbs["admin"]("set-resource", "--path", "one/2/trois", "--resource-file", f)
    kbs["admin"]("set-resource-policy", "--allow-all")
    sealed_dir = os.path.join(DATA, "sealed")
    keys = tmp_dir / "keys"
    keys.mkdir()
    (keys / "test-key").write_bytes(open(os.path.join(sealed_dir, "test-key.json"), "rb").read())
    wrong = tmp_dir / "wrong-keys"
    wrong.mkdir()
    (wrong / "test-key").write_bytes(open(os.path.join(sealed_dir, "test-key-2.json"),
                                          "rb").read())

    def vector(name):
        return open(os.path.join(sealed_dir, name), "rb").read()

    d = start_agent(tmp_dir, "--tee", "sample", "-f", "resource", "--sealed-secret-dir", keys,
                    config=kbs_config(kbs), name="aa-unseal")
    try:
        assert call(d, "POST", "/cdh/unseal", vector("vault-2.sealed.txt")) == \
            (200, "application/octet-stream", secret)
        st, _, body = call(d, "POST", "/cdh/unseal", vector("vault-2.sealed-tampered.txt"))
        assert (st, body) == (403, b"sealed secret not verified")
        st, _, body = call(d, "POST", "/cdh/unseal", vector("vault-2.sealed-unsigned.txt"))
        assert (st, body) == (400, b"invalid sealed secret")
        st, _, body = call(d, "POST", "/cdh/unseal", b"not sealed")
        assert st == 400
        assert call(d, "GET", "/cdh/unseal")[0] == 404
        assert secret not in d.log_text().encode()
    finally:
        d.stop()
    d = start_agent(tmp_dir, "--tee", "sample", "-f", "resource", "--sealed-secret-dir", wrong,
                    config=kbs_config(kbs), name="aa-unseal-wrong")
    try:
        st, _, body = call(d, "POST", "/cdh/unseal", vector("vault-2.sealed.txt"))
        assert st == 403 and secret not in body
    finally:
        d.stop()
