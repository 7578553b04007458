# SPDX-License-Identifier: Apache-2.0
"""grpc-as driven by Debian's python3-grpcio through stubs compiled here (grpc_tools.protoc)
from Trustee's attestation.proto: a sample and an SNP sample evaluate to EAR tokens that verify
with the JWK set; an attestation policy set over gRPC changes the next token; bad evidence,
a wrong runtime data binding, an invalid policy and a challenge request are ABORTED with
the cause."""
import base64
import importlib
import json
import subprocess
import sys

import pytest

from kbs_pyclient import TeeKey, b64u, jwt_verify_es256, runtime_data_digest
from kbsfs_testlib import _source_dir

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory):
    out = tmp_path_factory.mktemp("stubs")
    proto_dir = _source_dir() / "server" / "as" / "proto"
    r = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(proto_dir),
                        "--python_out", str(out), "--grpc_python_out", str(out),
                        str(proto_dir / "attestation.proto")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(out))
    try:
        pb = importlib.import_module("attestation_pb2")
        pbg = importlib.import_module("attestation_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    return pb, pbg


@pytest.fixture
def gas(daemons, free_port, test_data, tmp_dir, stubs):
    pb, pbg = stubs
    port, jport = free_port(), free_port()
    cfg = test_data / "kbs" / "trustee" / "configs" / "parse-example1.json"
    daemons.start(["grpc-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg,
                   "--jwks-socket", "127.0.0.1:%d" % jport], ready_port=jport,
                  env={"KBSFS_SNP_VCEK_DIR": tmp_dir})
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    grpc.channel_ready_future(ch).result(timeout=10)
    yield pb, pbg.AttestationServiceStub(ch), "http://127.0.0.1:%d" % jport
    ch.close()


def jwks_key(url):
    import requests
    keys = requests.get(url + "/.well-known/jwks.json", timeout=10).json()["keys"]
    assert len(keys) == 1 and keys[0]["alg"] == "ES256"
    return keys[0]


def sample_request(pb, digest=None):
    key = TeeKey()
    rd = {"tee-pubkey": key.jwk, "nonce": "bm9uY2U=", "additional-evidence": ""}
    d = runtime_data_digest(key.jwk, rd["nonce"]) if digest is None else digest
    ev = {"svn": "1", "report_data": base64.b64encode(d).decode()}
    vr = pb.IndividualAttestationRequest(
        tee="sample", evidence=b64u(json.dumps(ev).encode()),
        structured_runtime_data=json.dumps(rd), runtime_data_hash_algorithm="sha384")
    return pb.AttestationRequest(verification_requests=[vr], policy_ids=[]), rd


def submod(token, url):
    return jwt_verify_es256(token, jwks_key(url))["submods"]["cpu0"]


def test_sample_evaluates_to_verifiable_ear(gas):
    pb, stub, url = gas
    req, rd = sample_request(pb)
    tok = stub.AttestationEvaluate(req, timeout=30).attestation_token
    sm = submod(tok, url)
    ae = sm["ear.veraison.annotated-evidence"]
    assert ae["sample"]["svn"] == "1"
    assert ae["runtime_data_claims"]["tee-pubkey"] == rd["tee-pubkey"]
    assert sm["ear.appraisal-policy-id"] == "default"


def test_snp_sample_evaluates(gas, test_data):
    pb, stub, url = gas
    ev = json.loads((test_data / "snp" / "e2e-evidence-genoa.json").read_text())
    rd = bytes(ev["attestation_report"]["report_data"])
    vr = pb.IndividualAttestationRequest(tee="snp", evidence=b64u(json.dumps(ev).encode()),
                                         raw_runtime_data=b64u(rd))
    tok = stub.AttestationEvaluate(pb.AttestationRequest(verification_requests=[vr]),
                                   timeout=30).attestation_token
    snp = submod(tok, url)["ear.veraison.annotated-evidence"]["snp"]
    assert snp["measurement"].startswith("6a6519d757e68c2e")
    # the same evidence bound to other runtime data is refused, with the check named
    vr.raw_runtime_data = b64u(bytes([rd[0] ^ 1]) + rd[1:])
    with pytest.raises(grpc.RpcError) as e:
        stub.AttestationEvaluate(pb.AttestationRequest(verification_requests=[vr]), timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert "REPORT_DATA does not match" in e.value.details()


def test_set_policy_changes_the_next_token(gas):
    pb, stub, url = gas
    rego = ("package policy\n\ndefault executables := 33\ndefault hardware := 97\n"
            "default configuration := 36\ndefault file_system := 0\ndefault instance_identity := 0\n"
            "default runtime_opaque := 0\ndefault storage_opaque := 0\ndefault sourced_data := 0\n"
            "trust_claims := {\"executables\": executables, \"hardware\": hardware, "
            "\"configuration\": configuration, \"file-system\": file_system, "
            "\"instance-identity\": instance_identity, \"runtime-opaque\": runtime_opaque, "
            "\"storage-opaque\": storage_opaque, \"sourced-data\": sourced_data}\n")
    stub.SetAttestationPolicy(pb.SetPolicyRequest(policy_id="default_cpu",
                                                  policy=b64u(rego.encode())), timeout=30)
    req, _ = sample_request(pb)
    sm = submod(stub.AttestationEvaluate(req, timeout=30).attestation_token, url)
    assert sm["ear.status"] == "contraindicated"
    assert sm["ear.trustworthiness-vector"]["hardware"] == 97
    with pytest.raises(grpc.RpcError) as e:
        stub.SetAttestationPolicy(pb.SetPolicyRequest(policy_id="default_cpu",
                                                      policy=b64u(b"package policy\nallow {")),
                                  timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED


def test_failures_are_aborted_with_the_cause(gas):
    pb, stub, _ = gas
    req, _ = sample_request(pb, digest=b"\x01" * 48)
    with pytest.raises(grpc.RpcError) as e:
        stub.AttestationEvaluate(req, timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED and "report" in e.value.details().lower()
    bad = pb.IndividualAttestationRequest(tee="sample", evidence="!!!")
    with pytest.raises(grpc.RpcError) as e:
        stub.AttestationEvaluate(pb.AttestationRequest(verification_requests=[bad]), timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED and "base64url" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        stub.GetAttestationChallenge(pb.ChallengeRequest(inner={"tee": "se"}), timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED
