# SPDX-License-Identifier: Apache-2.0
"""Device evidence end to end: a guest attests at a real kbs with sample TEE evidence plus
additional evidence for a `sampledevice` and an NVIDIA GPU, and the token carries one EAR
submod per device (cpu0, gpu0, gpu1) appraised by the gpu policy. NVIDIA's recorded reports
are bound to a fixed nonce, so the kbs test uses a synthetic Hopper-format GPU (its own P-384
device root, configured as nvidia_verifier.root_cert_path) whose SPDM report this test signs
over the kbs's runtime-data digest; Trustee's recorded H100 report goes through restful-as
with its nonce as raw runtime data and yields exactly Trustee's expected claims."""
import base64
import hashlib
import json
import os

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from kbs_pyclient import (Admin, KbsClient, b64u, error_type, jcs, jwt_decode,
                          jwt_verify_es256, start_kbs)

FWID_OID = x509.ObjectIdentifier("2.23.133.5.4.1")
HOPPER_NONCE = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"
SECRET = b"gpu-gated secret"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kbsfs test GPU vendor")])


class SyntheticGpu:
    """A device root, a signing certificate carrying a FWID, and SPDM 1.1 GET_MEASUREMENTS
    reports in NVIDIA's layout signed with ECDSA P-384 / SHA-384 (raw r||s)."""

    def __init__(self, tmp_dir):
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc)
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.key = ec.generate_private_key(ec.SECP384R1())
        self.fwid = os.urandom(48)
        self.root = (x509.CertificateBuilder().subject_name(_name("Test Device Root"))
                     .issuer_name(_name("Test Device Root"))
                     .public_key(self.root_key.public_key()).serial_number(1)
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(self.root_key, hashes.SHA384()))
        # the FWID is the last 48 bytes of the TCG DICE extension's value
        self.leaf = (x509.CertificateBuilder().subject_name(_name("Test GPU FMC"))
                     .issuer_name(self.root.subject).public_key(self.key.public_key())
                     .serial_number(2)
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.UnrecognizedExtension(
                         FWID_OID, b"\x04\x30" + self.fwid), False)
                     .sign(self.root_key, hashes.SHA384()))
        self.root_path = tmp_dir / "gpu-root.pem"
        self.root_path.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        self.measurement = hashlib.sha384(b"gpu firmware").digest()

    def chain_pem(self):
        return b"".join(c.public_bytes(serialization.Encoding.PEM)
                        for c in (self.leaf, self.root))

    def report(self, nonce32):
        assert len(nonce32) == 32
        req = bytes([0x11, 0xE0, 0x01, 0xFF]) + nonce32 + b"\x00"
        value = self.measurement
        dmtf = bytes([0x01]) + len(value).to_bytes(2, "little") + value
        record = bytes([1, 1]) + len(dmtf).to_bytes(2, "little") + dmtf

        def item(t, data):
            return t.to_bytes(2, "little") + len(data).to_bytes(2, "little") + data
        opaque = (item(3, b"550.90.07\x00\x00") + item(6, bytes.fromhex("009f009601000000")) +
                  item(20, self.fwid))
        resp = (bytes([0x11, 0x60, 0, 0, 1]) + len(record).to_bytes(3, "little") + record +
                os.urandom(32) + len(opaque).to_bytes(2, "little") + opaque)
        signed = req + resp
        r, s = decode_dss_signature(self.key.sign(signed, ec.ECDSA(hashes.SHA384())))
        return signed + r.to_bytes(48, "big") + s.to_bytes(48, "big")

    def evidence(self, nonce32, uuid="GPU-0000-test"):
        return {"device_evidence_list": [{
            "arch": "HOPPER", "uuid": uuid, "evidence": self.report(nonce32).hex(),
            "certificate": base64.b64encode(self.chain_pem()).decode()}]}


def device_digest(jwk, nonce):
    """Runtime-data digest of an additional device: no additional-evidence member."""
    return hashlib.sha384(jcs({"tee-pubkey": jwk, "nonce": nonce})).digest()


@pytest.fixture
def gpu(tmp_dir):
    return SyntheticGpu(tmp_dir)


@pytest.fixture
def kbs(daemons, tmp_dir, free_port, gpu):
    extra = ("[attestation_service.verifier_config.nvidia_verifier]\n"
             'type = "Local"\nroot_cert_path = "%s"\n' % gpu.root_path)
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra)
    return url, d


def attest_with_devices(url, devices_for):
    """RCAR with the sample TEE; devices_for(device_digest) -> additional evidence map."""
    c = KbsClient(url)
    nonce = c.auth().json()["nonce"]
    addl = json.dumps(devices_for(device_digest(c.key.jwk, nonce)))
    return c, c.attest(c.attest_body(nonce, additional=addl))


def test_kbs_token_has_a_submod_per_device(kbs, gpu):
    url, _ = kbs

    def devices(dd):
        return {"sampledevice": {"svn": "2", "report_data": base64.b64encode(dd).decode()},
                "nvidia": gpu.evidence(dd[:32])}
    c, r = attest_with_devices(url, devices)
    assert r.status_code == 200, r.text
    _, claims = jwt_decode(r.json()["token"])
    sm = claims["submods"]
    assert sorted(sm) == ["cpu0", "gpu0", "gpu1"]
    assert "sample" in sm["cpu0"]["ear.veraison.annotated-evidence"]
    # devices in the order of the additional-evidence object; each its own submod
    assert sm["gpu0"]["ear.veraison.annotated-evidence"]["sampledevice"]["svn"] == "2"
    nv = sm["gpu1"]["ear.veraison.annotated-evidence"]["nvidia"]
    assert nv["arch"] == "Hopper" and nv["uuid"] == "GPU-0000-test"
    assert nv["measurements"] == {"1": gpu.measurement.hex()}
    assert nv["config"]["driver_version"] == "550.90.07"
    assert nv["config"]["vbios_version"] == "96.00.9f.00.01"
    assert nv["config"]["fwid"] == gpu.fwid.hex()
    # the primary evidence binds the whole additional-evidence string (verbose token)
    rd = sm["cpu0"]["ear.veraison.annotated-evidence"]["runtime_data_claims"]
    assert json.loads(rd["additional-evidence"])["nvidia"]["device_evidence_list"]
    # Trustee's default_gpu: local claims are not NRAS claims, so hardware stays 97
    for g in ("gpu0", "gpu1"):
        assert sm[g]["ear.appraisal-policy-id"] == "default"
        assert sm[g]["ear.trustworthiness-vector"]["hardware"] == 97
        assert sm[g]["ear.status"] == "contraindicated"


def test_gpu_policy_decides_the_secret(kbs, gpu):
    """An uploaded default_gpu appraises the device claims; a resource policy that wants a
    non-contraindicated gpu0 releases the secret only then."""
    url, _ = kbs
    adm = Admin(url)
    assert adm.set_resource("default/gpu/secret", SECRET).status_code == 200
    rego = (open_policy("kbs-check-contraindicated-device.rego")
            .replace('input["submods"]["cpu0"]["ear.status"] != "contraindicated"\n', ""))
    assert adm.set_resource_policy(rego).status_code == 200

    def devices(dd):
        return {"nvidia": gpu.evidence(dd[:32])}
    c, r = attest_with_devices(url, devices)
    assert r.status_code == 200, r.text
    assert c.get("default/gpu/secret").status_code == 401
    gpu_policy = ('package policy\nimport rego.v1\n\ndefault hardware := 97\n'
                  'hardware := 2 if {\n  input.nvidia.arch == "Hopper"\n'
                  '  input.nvidia.config.fwid == "%s"\n}\n'
                  'trust_claims := {"hardware": hardware}\n' % gpu.fwid.hex())
    r = adm.set_attestation_policy(gpu_policy, policy_id="default_gpu")
    assert r.status_code == 200, r.text
    c, r = attest_with_devices(url, devices)
    assert r.status_code == 200, r.text
    _, claims = jwt_decode(r.json()["token"])
    assert claims["submods"]["gpu0"]["ear.status"] == "affirming"
    assert c.get_secret("default/gpu/secret") == SECRET


def open_policy(name):
    from kbsfs_testlib import _source_dir
    return (_source_dir() / "tests" / "data" / "policies" / "integration" / name).read_text()


def test_kbs_refuses_gpu_bound_to_another_nonce(kbs, gpu):
    url, d = kbs
    # a report signed over another session's digest
    c, r = attest_with_devices(url, lambda dd: {"nvidia": gpu.evidence(os.urandom(32))})
    assert r.status_code == 401 and error_type(r) == "AttestationError"
    assert "Nvidia report nonce mismatch" in r.json()["detail"]
    # a report signed by a device key the chain does not certify
    other = SyntheticGpu.__new__(SyntheticGpu)
    other.__dict__.update(gpu.__dict__)
    other.key = ec.generate_private_key(ec.SECP384R1())
    c, r = attest_with_devices(url, lambda dd: {"nvidia": other.evidence(dd[:32])})
    assert r.status_code == 401
    assert "NVIDIA report signature verification failed." in r.json()["detail"]


def test_kbs_without_the_test_root_refuses_the_synthetic_gpu(daemons, tmp_dir, free_port,
                                                             gpu):
    """The built-in anchor is NVIDIA's Device Identity CA: another root is not trusted."""
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), name="kbs-nvroot")
    c, r = attest_with_devices(url, lambda dd: {"nvidia": gpu.evidence(dd[:32])})
    assert r.status_code == 401
    assert "Root CA in the certificate chain is not trusted" in r.json()["detail"]


@pytest.fixture
def ras(daemons, free_port):
    port = free_port()
    daemons.start(["restful-as", "--socket", "127.0.0.1:%d" % port], ready_port=port)
    return "http://127.0.0.1:%d" % port


def hopper_request(test_data, report_hex=None):
    nv = test_data / "nvidia"
    ev = {"device_evidence_list": [{
        "arch": "HOPPER", "uuid": "1111-2222-33333-444444-555555",
        "evidence": report_hex or (nv / "hopperAttestationReport.txt").read_text(),
        "certificate": base64.b64encode((nv / "hopper_cert_chain_case1.txt").read_bytes())
        .decode()}]}
    rd = os.urandom(48)
    sample = {"svn": "1", "report_data": base64.b64encode(rd).decode()}
    return {"verification_requests": [
        {"tee": "sample", "evidence": b64u(json.dumps(sample).encode()),
         "runtime_data": {"raw": b64u(rd)}},
        {"tee": "nvidia", "evidence": b64u(json.dumps(ev).encode()),
         "runtime_data": {"raw": b64u(bytes.fromhex(HOPPER_NONCE))}}],
        "policy_ids": []}


def test_restful_as_trustee_hopper_report(ras, test_data):
    r = requests.post(ras + "/attestation", json=hopper_request(test_data), timeout=30)
    assert r.status_code == 200, r.text
    jwk = requests.get(ras + "/.well-known/jwks.json", timeout=10).json()["keys"][0]
    claims = jwt_verify_es256(r.text, jwk)
    expected = json.loads((test_data / "nvidia" / "hopperAttestationReport-claims.txt")
                          .read_text())
    assert sorted(claims["submods"]) == ["cpu0", "gpu0"]
    assert claims["submods"]["gpu0"]["ear.veraison.annotated-evidence"] == {"nvidia": expected}
    # one flipped byte of a measurement value: the signature no longer verifies
    hx = bytearray((test_data / "nvidia" / "hopperAttestationReport.txt").read_bytes())
    hx[200] = ord("0") if hx[200] != ord("0") else ord("1")
    r = requests.post(ras + "/attestation", json=hopper_request(test_data, hx.decode()),
                      timeout=30)
    assert r.status_code == 500
    assert "NVIDIA report signature verification failed." in r.text


def test_kbs_with_coco_as_grpc_passes_device_evidence(daemons, tmp_dir, free_port, gpu,
                                                      tls_cert):
    """The kbs forwards every device as its own IndividualAttestationRequest to grpc-as, which
    verifies the GPU against its own nvidia_verifier configuration."""
    from kbsfs_testlib import find_binary
    try:
        find_binary("grpc-as")
    except Exception:
        pytest.skip("grpc-as not built")
    signer = tls_cert("as-signer")
    as_cfg = tmp_dir / "as.json"
    as_cfg.write_text(json.dumps({
        "attestation_token_broker": {"signer": {"key_path": str(signer.key),
                                                "cert_path": str(signer.cert)}},
        "verifier_config": {"nvidia_verifier": {"type": "Local",
                                                "root_cert_path": str(gpu.root_path)}}}))
    gport = free_port()
    daemons.start(["grpc-as", "--socket", "127.0.0.1:%d" % gport, "--config-file", as_cfg],
                  name="grpc-as", ready_log="listening on")
    extra = ('[attestation_token]\ntrusted_certs_paths = ["%s"]\n'
             '[attestation_service]\ntype = "coco_as_grpc"\nas_addr = "http://127.0.0.1:%d"\n'
             % (signer.cert, gport))
    url, _, _, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra, name="kbs-grpc")

    def devices(dd):
        return {"nvidia": gpu.evidence(dd[:32]),
                "sampledevice": {"svn": "3", "report_data": base64.b64encode(dd).decode()}}
    c, r = attest_with_devices(url, devices)
    assert r.status_code == 200, r.text
    hdr, claims = jwt_decode(r.json()["token"])
    assert hdr["jwk"]["x5c"]  # issued by grpc-as
    sm = claims["submods"]
    assert sorted(sm) == ["cpu0", "gpu0", "gpu1"]
    assert sm["gpu0"]["ear.veraison.annotated-evidence"]["nvidia"]["config"]["fwid"] == \
        gpu.fwid.hex()
    assert sm["gpu1"]["ear.veraison.annotated-evidence"]["sampledevice"]["svn"] == "3"
    c, r = attest_with_devices(url, lambda dd: {"nvidia": gpu.evidence(os.urandom(32))})
    assert r.status_code == 401 and "Nvidia report nonce mismatch" in r.json()["detail"]
