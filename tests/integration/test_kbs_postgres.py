# SPDX-License-Identifier: Apache-2.0
"""Scale-out on PostgreSQL: two kbs replicas on one real database (started by the test in a
temp dir), Trustee's table layout, handshake on one replica and GET on the other, a policy
upload on one enforced on the other, and a database outage (503 naming Postgres, recovery
after restart)."""
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kbs_pyclient import ALLOW_ALL, DENY_ALL, Admin, KbsClient, error_type, start_kbs
from kbsfs_testlib import find_binary
from pg_lib import PgServer, pg_bindir

SECRET = b"pg-secret\x00\x01\xff"
TRUSTEE_SQL = Path(__file__).resolve().parents[1] / "data" / "trustee-pg" / "postgres-initkv.sql"

pytestmark = pytest.mark.skipif(pg_bindir() is None,
                                reason="PostgreSQL server binaries (postgresql-15) not installed")


@pytest.fixture
def pg(free_port):
    s = PgServer(free_port()).init().start()
    try:
        # Trustee's helm init script: the tables exist before kbs starts, as in a Trustee DB
        s.psql(TRUSTEE_SQL.read_text())
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def signer(tmp_dir):
    """One AS signing key for all replicas: a token one replica issued verifies on the other."""
    p = tmp_dir / "as-signer.pem"
    p.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return p


def replica(daemons, tmp_dir, free_port, pg, signer, name, url_env=False):
    if url_env:
        # wrong host in the file: only POSTGRES_URL can make this replica work
        backend = 'host = "192.0.2.1"\nport = 1\n'
        env = {"POSTGRES_URL": "postgresql://postgres@127.0.0.1:%d/postgres" % pg.port}
    else:
        backend = 'host = "127.0.0.1"\nport = %d\ndb = "postgres"\nusername = "postgres"\n' \
                  'password = "unused-with-trust-auth"\npool_size = 2\n' % pg.port
        env = None
    extra = ('[storage_backend]\nstorage_type = "Postgres"\n'
             '[storage_backend.backends.postgres]\n' + backend +
             '[attestation_service.attestation_token_broker.signer]\nkey_path = "%s"\n' % signer)
    url, _, d, _ = start_kbs(daemons, tmp_dir, free_port(), extra=extra, storage=False,
                             name=name, env=env)
    return url, d


@pytest.fixture
def two(daemons, tmp_dir, free_port, pg, signer):
    a, _ = replica(daemons, tmp_dir, free_port, pg, signer, "kbs-a")
    b, _ = replica(daemons, tmp_dir, free_port, pg, signer, "kbs-b", url_env=True)
    return a, b


def test_handshake_on_one_replica_get_on_the_other(pg, two):
    a, b = two
    assert Admin(a).set_resource("default/test/secret", SECRET).status_code == 200
    assert Admin(a).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(a)
    c.rcar()
    c.url = b  # same cookie (session id), other replica
    assert c.get_secret("default/test/secret") == SECRET
    # and a handshake split across replicas: /auth on b, /attest on a, GET on b
    c2 = KbsClient(b)
    nonce = c2.auth().json()["nonce"]
    c2.url = a
    r = c2.attest(c2.attest_body(nonce))
    assert r.status_code == 200, r.text
    # the attested state is shared: a repeated /attest on b returns a's token (as Trustee)
    tok = r.json()["token"]
    c2.url = b
    r = c2.attest(c2.attest_body(nonce))
    assert r.status_code == 200 and r.json()["token"] == tok
    assert c2.get_secret("default/test/secret") == SECRET


def test_libpq_is_loaded_only_by_a_kbs_on_postgres(daemons, tmp_dir, free_port, pg, signer):
    """libpq is dlopen()ed by the Postgres store (server/kbs/pgstore.c), not linked: a kbs on
    Postgres maps it, and serves (the py_kbs_libs tests show a LocalFs kbs does not)."""
    url, d = replica(daemons, tmp_dir, free_port, pg, signer, "kbs-pq")
    with open("/proc/%d/maps" % d.pid) as f:
        assert "libpq.so" in f.read()
    assert Admin(url).set_resource("default/test/pq", SECRET).status_code == 200


def test_nonce_is_single_use_across_replicas(pg, two):
    a, b = two
    c = KbsClient(a)
    nonce = c.auth().json()["nonce"]
    c.url = b
    # wrong evidence binding: consumes the nonce on b, attestation fails
    r = c.attest(c.attest_body(nonce, report_data=b"\x00" * 64))
    assert r.status_code == 401 and error_type(r) == "AttestationError"
    c.url = a
    r = c.attest(c.attest_body(nonce))
    assert r.status_code == 401 and "already used" in r.json()["detail"]


def test_trustee_rows_are_read_and_ours_are_trustee_rows(pg, two):
    a, b = two
    # a resource written the way Trustee writes it (repository table, key repo/type/tag)
    pg.psql("INSERT INTO repository (key, value) VALUES ('default/trustee/key', "
            "decode('00ff7472757374656501', 'hex'))")
    assert Admin(b).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(b)
    c.rcar()
    assert c.get_secret("default/trustee/key") == b"\x00\xfftrustee\x01"
    # and what we write is a plain row Trustee reads
    assert Admin(a).set_resource("default/ours/key", SECRET).status_code == 200
    assert pg.psql("SELECT encode(value, 'hex') FROM repository WHERE key = "
                   "'default/ours/key'").strip() == SECRET.hex()
    pol = pg.psql("SELECT convert_from(value, 'UTF8') FROM kbs WHERE key = "
                  "'resource-policy.rego'")
    assert "default allow = true" in pol
    assert Admin(a).delete_resource("default/ours/key").status_code == 200
    assert pg.psql("SELECT count(*) FROM repository WHERE key = 'default/ours/key'").strip() \
        == "0"
    # sessions live in Trustee's session table
    assert int(pg.psql("SELECT count(*) FROM kbs_protocol_session").strip()) >= 1


def test_policy_uploaded_on_one_replica_applies_on_the_other(pg, two):
    a, b = two
    assert Admin(a).set_resource("default/test/secret", SECRET).status_code == 200
    assert Admin(a).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(b)
    c.rcar()
    assert c.get_secret("default/test/secret") == SECRET
    assert Admin(a).set_resource_policy(DENY_ALL).status_code == 200
    r = c.get("default/test/secret")  # next request on b, no restart
    assert r.status_code == 401 and error_type(r) == "PolicyDeny"
    assert Admin(b).set_resource_policy(ALLOW_ALL).status_code == 200
    c.url = a
    assert c.get_secret("default/test/secret") == SECRET


TRUSTEE_POLICIES = Path(__file__).resolve().parents[1] / "data" / "kbs" / "trustee" / "integration"


def test_attestation_policy_uploaded_on_one_replica_applies_on_the_other(pg, two):
    """EAR policies live in Trustee's attestation_service_policy table ("<id>.rego"): an
    upload through a appraises the next attestation on b, without a restart."""
    a, b = two
    contra = (TRUSTEE_POLICIES / "as-ear-contraindicated_cpu.rego").read_text()
    affirm = contra.replace("default hardware := 97", "default hardware := 2")
    assert affirm != contra
    assert Admin(a).set_resource("default/test/secret", SECRET).status_code == 200
    assert Admin(a).set_resource_policy(
        (TRUSTEE_POLICIES / "kbs-check-contraindicated.rego").read_text()).status_code == 200

    def fetch(url):
        c = KbsClient(url)
        c.rcar()
        return c.get("default/test/secret")

    # built-in default_cpu without reference values: the sample TEE is contraindicated
    r = fetch(b)
    assert r.status_code == 401 and error_type(r) == "PolicyDeny", r.text

    r = Admin(a).set_attestation_policy(affirm)
    assert r.status_code == 200, r.text
    assert pg.psql("SELECT convert_from(value, 'UTF8') FROM attestation_service_policy "
                   "WHERE key = 'default_cpu.rego'").strip() == affirm.strip()
    assert fetch(b).status_code == 200  # next attestation on b, no restart

    # a row written the way Trustee's storage writes it is what both replicas appraise with
    pg.psql("DELETE FROM attestation_service_policy WHERE key = 'default_cpu.rego'")
    pg.psql("INSERT INTO attestation_service_policy (key, value) VALUES ('default_cpu.rego', "
            "convert_to($pol$%s$pol$, 'UTF8'))" % contra)
    for url in (a, b):
        r = fetch(url)
        assert r.status_code == 401 and error_type(r) == "PolicyDeny", r.text

    # outage: no upload lands in a replica's memory only, a 503 naming the backend
    pg.stop()
    r = Admin(b).set_attestation_policy(affirm)
    assert r.status_code == 503 and error_type(r) == "PostgresUnavailable", r.text
    pg.start()


def test_database_outage_gives_503_naming_postgres_then_recovers(pg, two):
    a, b = two
    assert Admin(a).set_resource("default/test/secret", SECRET).status_code == 200
    assert Admin(a).set_resource_policy(ALLOW_ALL).status_code == 200
    c = KbsClient(a)
    c.rcar()
    c.url = b
    assert c.get_secret("default/test/secret") == SECRET

    pg.stop()
    for url in (a, b):
        c.url = url
        r = c.get("default/test/secret")
        assert r.status_code == 503, r.text
        assert error_type(r) == "PostgresUnavailable"
        assert SECRET.hex() not in r.text and b"pg-secret" not in r.content
        r = KbsClient(url).auth()
        assert r.status_code == 503 and error_type(r) == "PostgresUnavailable"
        r = Admin(url).set_resource_policy(DENY_ALL)
        assert r.status_code == 503 and error_type(r) == "PostgresUnavailable"
        r = Admin(url).set_resource("default/test/other", b"x")
        assert r.status_code == 503 and error_type(r) == "PostgresUnavailable"

    pg.start()
    # both replicas reconnect by themselves; the session started before the outage survives
    deadline = time.time() + 15
    while True:
        c.url = b
        r = c.get("default/test/secret")
        if r.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert c.get_secret("default/test/secret") == SECRET
    c.url = a
    assert c.get_secret("default/test/secret") == SECRET
    c3 = KbsClient(b)
    c3.rcar()
    assert c3.get_secret("default/test/secret") == SECRET


def test_reference_values_live_in_trustee_reference_value_table(pg, two):
    """The built-in RVPS of a Postgres kbs keeps Trustee's records in the reference_value
    table: a value registered through a decides the next attestation on b (no restart), b's
    GET reads it, and a row Trustee wrote with a past expiration is not returned."""
    a, b = two
    rv_policy = (TRUSTEE_POLICIES / "as-ear-rv_cpu.rego").read_text()
    assert Admin(a).set_resource("default/test/secret", SECRET).status_code == 200
    assert Admin(a).set_resource_policy(
        (TRUSTEE_POLICIES / "kbs-check-contraindicated.rego").read_text()).status_code == 200
    assert Admin(a).set_attestation_policy(rv_policy).status_code == 200

    def fetch(url):
        c = KbsClient(url)
        c.rcar()
        return c.get("default/test/secret")

    r = fetch(b)  # no svn reference value: hardware 97, contraindicated
    assert r.status_code == 401 and error_type(r) == "PolicyDeny", r.text
    assert Admin(a).set_reference_values({"svn": ["1"]}).status_code == 200
    rec = json.loads(pg.psql("SELECT convert_from(value, 'UTF8') FROM reference_value "
                             "WHERE key = 'svn'"))
    assert list(rec) == ["version", "name", "expiration", "value"]
    assert rec["name"] == "svn" and rec["value"] == ["1"]
    assert fetch(b).status_code == 200
    adm = Admin(b)
    r = requests.get(b + "/kbs/v0/reference-value/svn", headers=adm._h(), verify=adm.verify,
                     timeout=10)
    assert r.status_code == 200 and r.json() == ["1"]
    old = json.dumps({"version": "0.1.0", "name": "old", "expiration": "2020-01-01T00:00:00Z",
                      "value": ["1"]})
    pg.psql("INSERT INTO reference_value (key, value) VALUES ('old', "
            "convert_to($r$%s$r$, 'UTF8'))" % old)
    r = requests.get(b + "/kbs/v0/reference-value/old", headers=adm._h(), verify=adm.verify,
                     timeout=10)
    assert r.status_code == 401 and "expired" in r.text


def test_check_config_creates_no_table(free_port, tmp_dir):
    """`kbs --check-config` on a Postgres config connects (so a wrong host or password is
    reported) but creates nothing: the tables a real start would create are only named."""
    s = PgServer(free_port()).init().start()  # an empty database, no Trustee tables
    try:
        cfg = tmp_dir / "kbs.toml"
        cfg.write_text('[http_server]\ninsecure_http = true\nsockets = ["127.0.0.1:1"]\n'
                       '[storage_backend]\nstorage_type = "Postgres"\n'
                       '[storage_backend.backends.postgres]\nhost = "127.0.0.1"\nport = %d\n'
                       'db = "postgres"\nusername = "postgres"\n' % s.port)
        p = subprocess.run([str(find_binary("kbs")), "--check-config", "-c", str(cfg)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        for table in ("kbs", "repository", "kbs_protocol_session", "attestation_service_policy",
                      "reference_value"):
            assert "would create table %s " % table in p.stderr, p.stderr
        assert s.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0\n"
    finally:
        s.cleanup()
