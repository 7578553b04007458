# SPDX-License-Identifier: Apache-2.0
"""rvps daemon driven through Trustee's gRPC API (Python stubs compiled from reference.proto in
the test), rvps-tool, the kbs with rvps_config GrpcRemote, and the end-to-end case: restful-as
turns Trustee's real SNP evidence into an EAR token, and Trustee's default_cpu policy affirms
or not depending on the reference values registered in the RVPS (built-in store or remote)."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from kbs_pyclient import b64u, jwt_verify_es256
from kbsfs_testlib import find_binary

grpc = pytest.importorskip("grpc")

SNP_MEASUREMENT = ("6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4"
                   "ae62a36d75c837974dd50b315506e73e")
CORIM_NAME = "ACME/RoadRunner/31fb5abf-023e-4992-aa4e-95f9c1503bfa/digests"


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """reference_pb2 / reference_pb2_grpc from rvps/proto/reference.proto with Debian's
    grpc_tools. Its protoc predates proto3 `optional`; the field is rewritten to the
    one-member oneof it is defined as (same wire format, HasField works the same)."""
    pytest.importorskip("grpc_tools")
    src = Path(os.environ.get("KBS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
    out = tmp_path_factory.mktemp("rvps_stubs")
    text = (src / "rvps" / "proto" / "reference.proto").read_text()
    text = text.replace("optional string reference_value_results = 1;",
                        "oneof _r { string reference_value_results = 1; }")
    (out / "reference.proto").write_text(text)
    r = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{out}",
                        f"--python_out={out}", f"--grpc_python_out={out}", "reference.proto"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(out))
    import reference_pb2
    import reference_pb2_grpc
    return reference_pb2, reference_pb2_grpc


def message(test_data, name):
    return (test_data / "rvps" / name).read_text()


def sample_message(values):
    payload = base64.b64encode(json.dumps(values).encode()).decode()
    return json.dumps({"version": "0.1.0", "type": "sample", "payload": payload})


class Rvps:
    def __init__(self, daemons, free_port, tmp_dir, pb, storage=None):
        self.daemons, self.pb = daemons, pb
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.config = tmp_dir / ("rvps-%d.json" % self.port)
        self.config.write_text(json.dumps({"storage": storage} if storage else {}))
        self.daemon = None
        self.channel = None

    def start(self):
        self.daemon = self.daemons.start(["rvps", "--config", str(self.config), "--address",
                                          self.addr], ready_port=self.port)
        self.channel = grpc.insecure_channel(self.addr)
        self.stub = self.pb[1].ReferenceValueProviderServiceStub(self.channel)
        return self

    def stop(self):
        self.channel.close()
        self.daemon.stop()

    def register(self, msg):
        return self.stub.RegisterReferenceValue(
            self.pb[0].ReferenceValueRegisterRequest(message=msg), timeout=10)

    def query(self, rv_id):
        r = self.stub.QueryReferenceValue(
            self.pb[0].ReferenceValueQueryRequest(reference_value_id=rv_id), timeout=10)
        return json.loads(r.reference_value_results) if r.HasField(
            "reference_value_results") else None


@pytest.fixture
def rvps(daemons, free_port, tmp_dir, pb):
    return Rvps(daemons, free_port, tmp_dir, pb).start()


def test_register_and_query_over_grpc(rvps, test_data):
    rvps.register(message(test_data, "rvps-sample-message-all-integration-rvs.json"))
    rvps.register(message(test_data, "rvps-swid-message-test-rim.json"))
    rvps.register(message(test_data, "rvps-corim-message-example.json"))
    assert rvps.query("svn") == ["1"]
    assert rvps.query("major_version") == 1
    assert rvps.query("NVIDIA_Corporation.GPU.measurement_12")[0].startswith("758af96044c7")
    assert rvps.query(CORIM_NAME) == [
        "a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478"]
    assert rvps.query("absent") is None  # the optional field is not set, as Trustee's None
    # Trustee answers every failure with ABORTED and the reason
    with pytest.raises(grpc.RpcError) as e:
        rvps.register('{"version":"0.2.0","type":"sample","payload":"e30="}')
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert "Version unmatched" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        rvps.register('{"type":"spdx","payload":"e30="}')
    assert "Could not find extractor for spdx" in e.value.details()
    # gRPC health service, as Trustee's rvps serves it (raw bytes: no health stubs here)
    check = rvps.channel.unary_unary("/grpc.health.v1.Health/Check",
                                     request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
    assert check(b"", timeout=10) == b"\x08\x01"  # status: SERVING
    with pytest.raises(grpc.RpcError) as e:
        rvps.channel.unary_unary("/reference.ReferenceValueProviderService/Nope",
                                 request_serializer=lambda b: b,
                                 response_deserializer=lambda b: b)(b"", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_localfs_store_layout_restart_and_expiry(daemons, free_port, tmp_dir, pb, test_data):
    store = tmp_dir / "store"
    cfg = {"storage_type": "LocalFs", "backends": {"local_fs": {"dir_path": str(store)}}}
    r = Rvps(daemons, free_port, tmp_dir, pb, cfg).start()
    r.register(message(test_data, "rvps-corim-message-example.json"))
    r.register(sample_message({"svn": ["7"]}))
    r.stop()
    # Trustee's LocalFs layout: namespace directory, '/' as the 4 characters \x2F
    f = store / "reference_value" / CORIM_NAME.replace("/", "\\x2F")
    rec = json.loads(f.read_text())
    assert list(rec) == ["version", "name", "expiration", "value"]
    assert rec["name"] == CORIM_NAME and rec["version"] == "0.1.0"
    assert sorted(p.name for p in (store / "reference_value").iterdir()) == sorted(
        [f.name, "svn"])  # no temporary files left behind
    # a record whose expiration passed (Trustee would still return it)
    (store / "reference_value" / "old").write_text(json.dumps(
        {"version": "0.1.0", "name": "old", "expiration": "2020-01-01T00:00:00Z",
         "value": ["1"]}))
    r = Rvps(daemons, free_port, tmp_dir, pb, cfg).start()
    assert r.query("svn") == ["7"]
    assert r.query(CORIM_NAME)[0].startswith("a3a5e715")
    assert r.query("old") is None
    assert "expired" in r.daemon.log_text()


def test_invalid_config_falls_back_to_memory(daemons, free_port, tmp_dir, pb):
    r = Rvps(daemons, free_port, tmp_dir, pb, {"storage_type": "LocalFs"})  # no local_fs
    r.start()
    assert "Local FS configuration is required" in r.daemon.log_text()
    r.register(sample_message({"svn": ["1"]}))
    assert r.query("svn") == ["1"]


def run_tool(*args):
    return subprocess.run([str(find_binary("rvps-tool"))] + list(args), capture_output=True,
                          text=True, timeout=30)


def test_rvps_tool_register_and_query(rvps, test_data, tmp_dir):
    msg = test_data / "rvps" / "rvps-sample-message-svn.json"
    addr = "http://" + rvps.addr
    r = run_tool("register", "--path", str(msg), "--addr", addr)
    assert r.returncode == 0, r.stderr
    assert "Register provenance succeeded" in r.stderr
    r = run_tool("query", "-r", "svn", "-a", addr)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == rvps.query("svn")
    r = run_tool("query", "--reference-value-id", "absent", "--addr", addr)
    assert r.returncode == 0 and r.stdout == ""
    assert "No reference values found" in r.stderr
    bad = tmp_dir / "bad.json"
    bad.write_text('{"type":"sample","payload":"!"}')
    r = run_tool("register", "-p", str(bad), "-a", addr)
    assert r.returncode == 1 and "base64" in r.stderr
    r = run_tool("query", "-r", "svn")  # default address 127.0.0.1:50003: nobody there
    assert r.returncode == 1
    assert run_tool("query").returncode == 2


def start_kbs(daemons, free_port, tmp_dir, rvps_addr):
    port = free_port()
    cfg = tmp_dir / "kbs.toml"
    cfg.write_text("\n".join([
        "[http_server]", 'sockets = ["127.0.0.1:%d"]' % port, "insecure_http = true", "",
        "[admin]", 'authorization_mode = "InsecureAllowAll"', "",
        "[attestation_service]", 'type = "coco_as_builtin"', "",
        "[attestation_service.rvps_config]", 'type = "GrpcRemote"',
        'address = "%s"' % rvps_addr, ""]))
    daemons.start(["kbs", "--config-file", str(cfg)], ready_port=port)
    return "http://127.0.0.1:%d" % port


def test_kbs_grpc_remote_rvps(daemons, free_port, tmp_dir, rvps, test_data):
    kbs = start_kbs(daemons, free_port, tmp_dir, "http://" + rvps.addr)
    r = requests.post(kbs + "/kbs/v0/reference-value", timeout=10,
                      data=message(test_data, "rvps-sample-message-launch_digest.json"))
    assert r.status_code == 200, r.text
    assert rvps.query("launch_digest") is not None  # stored in the remote rvps
    rvps.register(sample_message({"svn": ["3"]}))    # and read back through the kbs
    r = requests.get(kbs + "/kbs/v0/reference-value/svn", timeout=10)
    assert r.status_code == 200 and r.json() == ["3"]
    r = requests.post(kbs + "/kbs/v0/reference-value", data='{"type":"x","payload":""}',
                      timeout=10)
    assert r.status_code == 401 and "Could not find extractor" in r.text
    rvps.stop()  # unreachable RVPS: the kbs says so instead of "not found"
    r = requests.get(kbs + "/kbs/v0/reference-value/svn", timeout=30)
    assert r.status_code == 401 and "RvpsError" in r.text


# ------------------------------------------------------------------ end to end (issue #10)

def start_ras(daemons, free_port, tmp_dir, rvps_config, store):
    port = free_port()
    cfg = tmp_dir / ("as-%d.json" % port)
    cfg.write_text(json.dumps({
        "storage_backend": {"storage_type": "LocalFs",
                            "backends": {"local_fs": {"dir_path": str(store)}}},
        "rvps_config": rvps_config,
        "attestation_token_broker": {"duration_min": 5}}))
    daemons.start(["restful-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg],
                  ready_port=port, env={"KBSFS_SNP_VCEK_DIR": tmp_dir})
    return "http://127.0.0.1:%d" % port


def attest_snp(ras, test_data):
    ev = json.loads((test_data / "snp" / "e2e-evidence-genoa.json").read_text())
    rd = bytes(ev["attestation_report"]["report_data"])
    vr = {"tee": "snp", "evidence": b64u(json.dumps(ev).encode()),
          "runtime_data": {"raw": b64u(rd)}, "runtime_data_hash_algorithm": "sha384"}
    r = requests.post(ras + "/attestation", timeout=30,
                      json={"verification_requests": [vr], "policy_ids": []})
    assert r.status_code == 200, r.text
    jwk = requests.get(ras + "/.well-known/jwks.json", timeout=10).json()["keys"][0]
    return jwt_verify_es256(r.text, jwk)["submods"]["cpu0"]


def snp_reference_values(snp, measurement):
    """What an operator registers for this platform under Trustee's default_cpu ids: the
    launch measurement under test, the rest taken from the verified report."""
    return {
        "snp_launch_measurement": [measurement],
        "snp_bootloader": [snp["reported_tcb_bootloader"]],
        "snp_microcode": [snp["reported_tcb_microcode"]],
        "snp_snp_svn": [snp["reported_tcb_snp"]],
        "snp_tee_svn": [snp["reported_tcb_tee"]],
        "snp_smt_enabled": snp["platform_smt_enabled"],
        "snp_tsme_enabled": snp["platform_tsme_enabled"],
        "snp_guest_abi_major": snp["policy_abi_major"],
        "snp_guest_abi_minor": snp["policy_abi_minor"],
        "snp_single_socket": snp["policy_single_socket"],
        "snp_smt_allowed": snp["policy_smt_allowed"],
    }


@pytest.mark.parametrize("mode", ["builtin", "remote"])
def test_snp_token_and_policy_follow_rvps(mode, daemons, free_port, tmp_dir, pb, test_data):
    store = tmp_dir / "store"
    rvps_cfg = {"storage_type": "LocalFs", "backends": {"local_fs": {"dir_path": str(store)}}}
    if mode == "builtin":
        # the built-in RVPS of restful-as reads the store the rvps daemon writes (same
        # Trustee layout); restful-as itself has no registration endpoint, like Trustee's
        r = Rvps(daemons, free_port, tmp_dir, pb, rvps_cfg).start()
        ras = start_ras(daemons, free_port, tmp_dir, {"type": "BuiltIn"}, store)
    else:
        r = Rvps(daemons, free_port, tmp_dir, pb).start()  # Memory store, remote only
        ras = start_ras(daemons, free_port, tmp_dir,
                        {"type": "GrpcRemote", "address": r.addr}, tmp_dir / "as-store")
    policy = (test_data / "kbs" / "trustee" / "policies-as" /
              "ear_default_policy_cpu.rego").read_bytes()
    resp = requests.post(ras + "/policy", timeout=10,
                         json={"policy_id": "default_cpu", "policy": b64u(policy)})
    assert resp.status_code == 200, resp.text

    # no reference values: Trustee's default policy leaves real TEEs contraindicated
    cpu0 = attest_snp(ras, test_data)
    snp = cpu0["ear.veraison.annotated-evidence"]["snp"]
    assert snp["measurement"] == SNP_MEASUREMENT  # the token carries the measurement
    assert cpu0["ear.status"] == "contraindicated"
    assert cpu0["ear.trustworthiness-vector"]["executables"] == 33

    # every reference value matches the report: affirming, executables 3 (measurement known)
    r.register(sample_message(snp_reference_values(snp, SNP_MEASUREMENT)))
    cpu0 = attest_snp(ras, test_data)
    tv = cpu0["ear.trustworthiness-vector"]
    assert (tv["executables"], tv["hardware"], tv["configuration"]) == (3, 2, 2)
    assert cpu0["ear.status"] == "affirming"

    # another launch measurement registered: this guest's is not a known one any more
    r.register(sample_message({"snp_launch_measurement": ["00" * 48]}))
    cpu0 = attest_snp(ras, test_data)
    assert cpu0["ear.trustworthiness-vector"]["executables"] == 33
    assert cpu0["ear.status"] == "warning"

    # both measurements registered: known again
    r.register(sample_message({"snp_launch_measurement": ["00" * 48, SNP_MEASUREMENT]}))
    assert attest_snp(ras, test_data)["ear.status"] == "affirming"
