# SPDX-License-Identifier: Apache-2.0
"""grpc-as driven by Debian's python3-grpcio through stubs compiled here (grpc_tools.protoc)
from Trustee's attestation.proto: a sample and an SNP sample evaluate to EAR tokens that verify
with the JWK set; NVIDIA device evidence next to a CPU evidence becomes submod gpu0; an
attestation policy set over gRPC changes the next token; bad evidence,
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
def gas(daemons, free_port, as_config, tmp_dir, stubs):
    pb, pbg = stubs
    port, jport = free_port(), free_port()
    cfg = as_config
    daemons.start(["grpc-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg,
                   "--jwks-socket", "127.0.0.1:%d" % jport], ready_port=jport,
                  env={"KBSFS_SNP_VCEK_DIR": tmp_dir})
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    grpc.channel_ready_future(ch).result(timeout=10)
    yield pb, pbg.AttestationServiceStub(ch), "http://127.0.0.1:%d" % jport, "127.0.0.1:%d" % port
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
    pb, stub, url, _ = gas
    req, rd = sample_request(pb)
    tok = stub.AttestationEvaluate(req, timeout=30).attestation_token
    sm = submod(tok, url)
    ae = sm["ear.veraison.annotated-evidence"]
    assert ae["sample"]["svn"] == "1"
    assert ae["runtime_data_claims"]["tee-pubkey"] == rd["tee-pubkey"]
    assert sm["ear.appraisal-policy-id"] == "default"


def test_snp_sample_evaluates(gas, test_data):
    pb, stub, url, _ = gas
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
    pb, stub, url, _ = gas
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
    pb, stub, _, _ = gas
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


def test_kbs_with_coco_as_grpc_completes_rcar(daemons, free_port, tmp_dir, keypair, tls_cert):
    """kbs [attestation_service] type = "coco_as_grpc" attests through grpc-as; the token is
    trusted through the AS signer's certificate (trusted_certs_paths), as Trustee deploys it."""
    from kbs_pyclient import ALLOW_ALL, Admin, KbsClient, error_type, jwt_decode
    signer = tls_cert("as-signer")  # a self-signed P-256 certificate and its key
    as_cfg = tmp_dir / "as.json"
    as_cfg.write_text(json.dumps({"attestation_token_broker": {
        "signer": {"key_path": str(signer.key), "cert_path": str(signer.cert)}}}))
    gport, kport = free_port(), free_port()
    daemons.start(["grpc-as", "--socket", "127.0.0.1:%d" % gport, "--config-file", as_cfg],
                  name="grpc-as", ready_log="listening on")
    kcfg = tmp_dir / "kbs.toml"
    kcfg.write_text(f"""[http_server]
sockets = ["127.0.0.1:{kport}"]
insecure_http = true

[admin]
authorization_mode = "InsecureAllowAll"

[attestation_token]
trusted_certs_paths = ["{signer.cert}"]

[attestation_service]
type = "coco_as_grpc"
as_addr = "http://127.0.0.1:{gport}"
pool_size = 2

[storage_backend]
storage_type = "LocalFs"
[storage_backend.backends.local_fs]
dir_path = "{tmp_dir}/kbs-storage"
""")
    daemons.start(["kbs", "--config-file", kcfg], name="kbs", ready_port=kport)
    url = "http://127.0.0.1:%d" % kport
    adm = Admin(url)
    assert adm.set_resource_policy(ALLOW_ALL).status_code == 200
    assert adm.set_resource("default/grpc/secret", b"via grpc-as").status_code == 200
    c = KbsClient(url)
    tok = c.rcar()
    hdr, claims = jwt_decode(tok)
    assert hdr["jwk"]["x5c"]  # signed by grpc-as with the configured signer chain
    assert "sample" in claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]
    assert c.get_secret("default/grpc/secret") == b"via grpc-as"
    # an attestation policy uploaded at the kbs is applied by the remote AS
    rego = ("package policy\n\ndefault hardware := 97\n"
            "trust_claims := {\"hardware\": hardware}\n")
    r = adm.set_attestation_policy(rego)
    assert r.status_code == 200, r.text
    _, claims = jwt_decode(KbsClient(url).rcar())
    assert claims["submods"]["cpu0"]["ear.status"] == "contraindicated"
    # evidence the remote AS refuses: the kbs answers AttestationError with its cause
    c2 = KbsClient(url)
    nonce = c2.auth().json()["nonce"]
    r = c2.attest(c2.attest_body(nonce, report_data=b"\x01" * 48))
    assert r.status_code == 401 and error_type(r) == "AttestationError"
    # reference values live in the remote AS: the kbs has no such endpoint
    r = requests_get(url + "/kbs/v0/reference-value/x")
    assert r.status_code == 404


def requests_get(u):
    import requests
    return requests.get(u, timeout=10)


def test_kbs_with_unreachable_grpc_as_refuses_attestation(daemons, free_port, tmp_dir):
    from kbs_pyclient import KbsClient, error_type
    kport, dead = free_port(), free_port()
    kcfg = tmp_dir / "kbs-dead.toml"
    kcfg.write_text(f"""[http_server]
sockets = ["127.0.0.1:{kport}"]
insecure_http = true
[admin]
authorization_mode = "InsecureAllowAll"
[attestation_token]
insecure_header_jwk = true
[attestation_service]
type = "coco_as_grpc"
as_addr = "127.0.0.1:{dead}"
""")
    daemons.start(["kbs", "--config-file", kcfg], name="kbs-dead", ready_port=kport)
    c = KbsClient("http://127.0.0.1:%d" % kport)
    nonce = c.auth().json()["nonce"]
    r = c.attest(c.attest_body(nonce))
    assert r.status_code == 401 and error_type(r) == "AttestationError"
    assert "remote attestation service" in r.json()["detail"]


def test_rvps_service_on_the_same_port(gas, tmp_path):
    """reference.ReferenceValueProviderService answers on grpc-as's port (Trustee's grpc-as
    serves both); the stub comes from rvps/proto/reference.proto (proto3 `optional` rewritten
    to its one-member oneof for Debian's older protoc, as test_rvps.py does)."""
    pb, _, _, target = gas
    text = (_source_dir() / "rvps" / "proto" / "reference.proto").read_text()
    text = text.replace("optional string reference_value_results = 1;",
                        "oneof _r { string reference_value_results = 1; }")
    (tmp_path / "reference.proto").write_text(text)
    r = subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(tmp_path),
                        "--python_out", str(tmp_path), "--grpc_python_out", str(tmp_path),
                        "reference.proto"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        rpb = importlib.import_module("reference_pb2")
        rpbg = importlib.import_module("reference_pb2_grpc")
    finally:
        sys.path.remove(str(tmp_path))
    ch = grpc.insecure_channel(target)
    stub = rpbg.ReferenceValueProviderServiceStub(ch)
    payload = base64.b64encode(json.dumps({"svn": ["1"]}).encode()).decode()
    msg = json.dumps({"version": "0.1.0", "type": "sample", "payload": payload})
    stub.RegisterReferenceValue(rpb.ReferenceValueRegisterRequest(message=msg), timeout=30)
    got = stub.QueryReferenceValue(rpb.ReferenceValueQueryRequest(reference_value_id="svn"),
                                   timeout=30)
    assert got.HasField("reference_value_results")
    assert json.loads(got.reference_value_results) == ["1"]
    none = stub.QueryReferenceValue(rpb.ReferenceValueQueryRequest(reference_value_id="nope"),
                                    timeout=30)
    assert not none.HasField("reference_value_results")
    with pytest.raises(grpc.RpcError) as e:
        stub.RegisterReferenceValue(rpb.ReferenceValueRegisterRequest(message="{"), timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED
    ch.close()


def test_nvidia_device_evidence_becomes_a_gpu_submod(gas, test_data):
    """Trustee's recorded H100 report next to a sample CPU evidence: the GPU is its own
    submod gpu0 with exactly the claims Trustee's test expects (nonce as raw runtime data)."""
    import os
    pb, stub, url, _ = gas
    nv = test_data / "nvidia"
    ev = {"device_evidence_list": [{
        "arch": "HOPPER", "uuid": "1111-2222-33333-444444-555555",
        "evidence": (nv / "hopperAttestationReport.txt").read_text(),
        "certificate": base64.b64encode((nv / "hopper_cert_chain_case1.txt").read_bytes())
        .decode()}]}
    rd = os.urandom(48)
    cpu = pb.IndividualAttestationRequest(
        tee="sample", raw_runtime_data=b64u(rd),
        evidence=b64u(json.dumps({"svn": "1", "report_data": base64.b64encode(rd).decode()})
                      .encode()))
    nonce = bytes.fromhex("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb")
    gpu = pb.IndividualAttestationRequest(tee="nvidia", evidence=b64u(json.dumps(ev).encode()),
                                          raw_runtime_data=b64u(nonce))
    tok = stub.AttestationEvaluate(pb.AttestationRequest(verification_requests=[cpu, gpu]),
                                   timeout=30).attestation_token
    sm = jwt_verify_es256(tok, jwks_key(url))["submods"]
    expected = json.loads((nv / "hopperAttestationReport-claims.txt").read_text())
    assert sm["gpu0"]["ear.veraison.annotated-evidence"] == {"nvidia": expected}
    gpu.raw_runtime_data = b64u(bytes(32))
    with pytest.raises(grpc.RpcError) as e:
        stub.AttestationEvaluate(pb.AttestationRequest(verification_requests=[cpu, gpu]),
                                 timeout=30)
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert "Nvidia report nonce mismatch" in e.value.details()
