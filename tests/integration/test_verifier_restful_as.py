# SPDX-License-Identifier: Apache-2.0
"""restful-as with the real evidence verifiers: Trustee's SNP e2e evidence (Genoa) and TDX
quote v4 turn into EAR tokens whose annotated evidence carries the report's measurement;
a wrong report_data or a flipped signature byte is refused with the failed check named."""
import base64
import json
import sys

import pytest
import requests

from kbs_pyclient import b64u, jwt_verify_es256

SNP_MEASUREMENT = ("6a6519d757e68c2e939c9dbbbc1828498e8de35d2766dd05f1a2cca5059d0cf4"
                   "ae62a36d75c837974dd50b315506e73e")


@pytest.fixture
def ras(daemons, free_port, as_config, tmp_dir):
    port = free_port()
    cfg = as_config
    daemons.start(["restful-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg],
                  ready_port=port, env={"KBSFS_SNP_VCEK_DIR": tmp_dir})
    return "http://127.0.0.1:%d" % port


def attest(ras, tee, evidence, report_data):
    vr = {"tee": tee, "evidence": b64u(json.dumps(evidence).encode()),
          "runtime_data": {"raw": b64u(report_data)},
          "runtime_data_hash_algorithm": "sha384"}
    return requests.post(ras + "/attestation",
                         json={"verification_requests": [vr], "policy_ids": []})


def annotated(ras, token):
    jwk = requests.get(ras + "/.well-known/jwks.json").json()["keys"][0]
    claims = jwt_verify_es256(token, jwk)
    return claims["submods"]["cpu0"]["ear.veraison.annotated-evidence"]


def snp_sample(test_data):
    ev = json.loads((test_data / "snp" / "e2e-evidence-genoa.json").read_text())
    return ev, bytes(ev["attestation_report"]["report_data"])


def test_snp_evidence_becomes_token_with_measurement(ras, test_data):
    ev, rd = snp_sample(test_data)
    r = attest(ras, "snp", ev, rd)
    assert r.status_code == 200, r.text
    snp = annotated(ras, r.text)["snp"]
    assert snp["measurement"] == SNP_MEASUREMENT
    assert snp["reported_tcb_snp"] == 23 and snp["reported_tcb_microcode"] == 25
    assert snp["policy_debug_allowed"] is False


def test_snp_wrong_report_data_and_flipped_signature_refused(ras, test_data):
    ev, rd = snp_sample(test_data)
    r = attest(ras, "snp", ev, bytes([rd[0] ^ 1]) + rd[1:])
    assert r.status_code == 500 and "REPORT_DATA does not match" in r.text
    ev["attestation_report"]["signature"]["r"][0] ^= 1
    r = attest(ras, "snp", ev, rd)
    assert r.status_code == 500 and "report signature does not verify" in r.text


def test_tdx_quote_becomes_token(ras, test_data):
    quote = (test_data / "tdx" / "tdx_quote_4.dat").read_bytes()
    rd = quote[48 + 520:48 + 584]
    ev = {"quote": base64.b64encode(quote).decode(), "cc_eventlog": None}
    r = attest(ras, "tdx", ev, rd)
    assert r.status_code == 200, r.text
    tdx = annotated(ras, r.text)["tdx"]
    assert tdx["quote"]["body"]["mr_td"].startswith("705ee938")
    assert tdx["tcb_status"] == "Unknown"
    r = attest(ras, "tdx", ev, b"\0" * 64)
    assert r.status_code == 500 and "REPORTDATA does not match" in r.text


CHIP_HEX = ("371c55d6d15cb50f16dc31d39a24e300caaabff4431e841111429b73ec45ad67"
            "ea6e687ffae7bf84b54a5d0e6d79b3ef6ff0bd8b4cff94c2163af5c5de8718e8")


def test_snp_vcek_fetched_from_kds_and_cached(daemons, free_port, test_data, tmp_dir, as_config):
    """Evidence without cert_chain: the VCEK comes from a (stand-in) KDS, lands in the cache
    directory, and is used from there once the KDS is gone."""
    ev, rd = snp_sample(test_data)
    der = bytes(ev.pop("cert_chain")[0]["data"])
    www = tmp_dir / "kds"
    (www / "vcek" / "v1" / "Genoa").mkdir(parents=True)
    (www / "vcek" / "v1" / "Genoa" / CHIP_HEX).write_bytes(der)  # query string is ignored
    kport = free_port()
    kds = daemons.start([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(kport),
                         "--directory", str(www)], ready_port=kport)
    cache = tmp_dir / "cache"
    port = free_port()
    cfg = as_config
    daemons.start(["restful-as", "--socket", "127.0.0.1:%d" % port, "--config-file", cfg],
                  ready_port=port, env={"KBSFS_SNP_VCEK_DIR": cache,
                                        "KBSFS_SNP_KDS_URL": "http://127.0.0.1:%d" % kport})
    ras = "http://127.0.0.1:%d" % port
    r = attest(ras, "snp", ev, rd)
    assert r.status_code == 200, r.text
    cached = cache / "vcek" / CHIP_HEX / "bl10_tee00_snp23_ucode25_vcek.der"
    assert cached.read_bytes() == der
    kds.stop()
    r = attest(ras, "snp", ev, rd)
    assert r.status_code == 200, r.text
    assert annotated(ras, r.text)["snp"]["measurement"] == SNP_MEASUREMENT


def test_snp_without_vcek_source_fails_closed(ras, test_data):
    ev, rd = snp_sample(test_data)
    del ev["cert_chain"]
    r = attest(ras, "snp", ev, rd)
    assert r.status_code == 500 and "KDS fetching not configured" in r.text
