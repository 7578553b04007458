# SPDX-License-Identifier: Apache-2.0
"""Offline checks of the kbsfs-csi manifests (k8s/csi/deploy): they parse, name one driver
consistently, set what kubelet needs for inline volumes, pass flags the plugin accepts, and
the example pod's attributes are accepted by the plugin's validation (kbsfs-csi --help lists
them). `kubectl kustomize` runs when kubectl is installed."""

import os
import re
import shutil
import subprocess

import pytest

from kbsfs_testlib import find_binary

yaml = pytest.importorskip("yaml")


def docs(source_dir, name):
    return [d for d in yaml.safe_load_all((source_dir / "k8s/csi/deploy" / name).read_text())
            if d]


def test_csidriver_for_inline_volumes(source_dir):
    (drv,) = docs(source_dir, "csidriver.yaml")
    assert drv["kind"] == "CSIDriver" and drv["apiVersion"] == "storage.k8s.io/v1"
    spec = drv["spec"]
    assert spec["podInfoOnMount"] is True        # the plugin refuses requests without pod keys
    assert spec["attachRequired"] is False
    assert spec["volumeLifecycleModes"] == ["Ephemeral", "Persistent"]
    assert spec["fsGroupPolicy"] == "None"
    assert re.fullmatch(r"[a-zA-Z][A-Za-z0-9-\.\_]{0,61}[a-zA-Z]", drv["metadata"]["name"])


def test_daemonset_matches_plugin(source_dir):
    (drv,) = docs(source_dir, "csidriver.yaml")
    name = drv["metadata"]["name"]
    (ds,) = docs(source_dir, "daemonset.yaml")
    assert ds["kind"] == "DaemonSet"
    tmpl = ds["spec"]["template"]
    assert ds["spec"]["selector"]["matchLabels"].items() <= tmpl["metadata"]["labels"].items()
    pod = tmpl["spec"]
    c = {x["name"]: x for x in pod["containers"]}
    assert set(c) == {"node-driver-registrar", "kbsfs-csi", "liveness-probe"}
    reg = " ".join(c["node-driver-registrar"]["args"])
    assert f"--kubelet-registration-path=/var/lib/kubelet/plugins/{name}/csi.sock" in reg
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["plugin-dir"]["hostPath"]["path"].rstrip("/") == f"/var/lib/kubelet/plugins/{name}"
    plugin = c["kbsfs-csi"]
    assert plugin["securityContext"]["privileged"] is True
    mounts = {m["name"]: m for m in plugin["volumeMounts"]}
    assert mounts["pods-dir"]["mountPropagation"] == "Bidirectional"
    for m in (x for cc in c.values() for x in cc["volumeMounts"]):
        assert m["name"] in vols
    # every flag the manifest passes is one kbsfs-csi documents
    helptext = subprocess.run([str(find_binary("kbsfs-csi")), "--help"], capture_output=True,
                              text=True, timeout=10).stdout
    for a in plugin["args"]:
        flag = a.split("=", 1)[0]
        assert flag in helptext, flag
    env = {e["name"] for e in plugin["env"]}
    for ref in re.findall(r"\$\((\w+)\)", " ".join(plugin["args"])):
        assert ref in env
    (sa,) = docs(source_dir, "rbac.yaml")
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    assert ds["metadata"]["namespace"] == sa["metadata"]["namespace"]


def test_example_pod_uses_the_driver_read_only(source_dir):
    (drv,) = docs(source_dir, "csidriver.yaml")
    (pod,) = docs(source_dir, "example-pod.yaml")
    (vol,) = pod["spec"]["volumes"]
    assert vol["csi"]["driver"] == drv["metadata"]["name"]
    assert vol["csi"]["readOnly"] is True                # the plugin refuses read-write
    attrs = vol["csi"]["volumeAttributes"]
    assert set(attrs) <= {"kbs_url", "kbs_cert", "kbs_cert_pem", "tee", "resources", "uid",
                          "gid", "mode", "refresh", "placement"}
    assert all(isinstance(v, str) for v in attrs.values())  # volumeAttributes are strings
    for r in attrs["resources"].split(","):
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*){2}", r)


def test_kustomize_builds(source_dir):
    if not shutil.which("kubectl"):
        pytest.skip("kubectl not installed")
    r = subprocess.run(["kubectl", "kustomize", str(source_dir / "k8s/csi/deploy")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(r.stdout) if d]
    assert sorted(kinds) == ["CSIDriver", "DaemonSet", "ServiceAccount"]


# ------------------------------------------------------------------ server side (k8s/deploy)

def test_kbs_config_in_the_base_is_valid(source_dir, tmp_dir, tls_cert, keypair):
    """The ConfigMap's kbs-config.toml passes `kbs --check-config` once its paths exist."""
    cert = tls_cert()
    admin = keypair("ed25519", name="admin")
    text = (source_dir / "k8s/deploy/base/kbs-config.toml").read_text()
    for path, real in (("/etc/kbs/tls/tls.crt", cert.cert), ("/etc/kbs/tls/tls.key", cert.key),
                       ("/etc/kbs/admin/public.pub", admin.public),
                       ("/opt/confidential-containers/kbs", tmp_dir / "storage")):
        assert path in text
        text = text.replace(path, str(real))
    cfg = tmp_dir / "kbs-config.toml"
    cfg.write_text(text)
    r = subprocess.run([str(find_binary("kbs")), "--check-config", "-c", str(cfg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(0 warning(s))" in r.stdout + r.stderr


def test_akv_overlay_mounts_into_the_repository(source_dir):
    import tomllib
    base = source_dir / "k8s/deploy/base"
    cfg = tomllib.loads((base / "kbs-config.toml").read_text())
    dir_path = cfg["storage_backend"]["backends"]["local_fs"]["dir_path"]
    (dep,) = [d for d in yaml.safe_load_all((base / "deployment.yaml").read_text()) if d]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["args"][-1].endswith("/kbs-config.toml")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["storage"] == dir_path
    ov = source_dir / "k8s/deploy/overlays/akv"
    (patch,) = [d for d in yaml.safe_load_all((ov / "deployment-akv.yaml").read_text()) if d]
    (pc,) = patch["spec"]["template"]["spec"]["containers"]
    assert pc["name"] == c["name"]
    (m,) = pc["volumeMounts"]
    # tree layout: <dir_path>/repository/<repo>/<type>/<tag>
    assert m["mountPath"] == f"{dir_path}/repository/default/akv"
    (v,) = patch["spec"]["template"]["spec"]["volumes"]
    assert v["csi"]["driver"] == "secrets-store.csi.k8s.io"
    (spc,) = [d for d in yaml.safe_load_all((ov / "secretproviderclass.yaml").read_text()) if d]
    assert v["csi"]["volumeAttributes"]["secretProviderClass"] == spc["metadata"]["name"]
    assert spc["metadata"]["namespace"] == "kbs-system"
    objs = yaml.safe_load(spc["spec"]["parameters"]["objects"])["array"]
    for o in objs:
        name = yaml.safe_load(o)["objectName"]
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name)  # a valid resource tag


def test_server_kustomize_builds(source_dir):
    if not shutil.which("kubectl"):
        pytest.skip("kubectl not installed")
    for d, kinds in (("base", ["ConfigMap", "Deployment", "Namespace", "Service"]),
                     ("overlays/akv", ["ConfigMap", "Deployment", "Namespace",
                                       "SecretProviderClass", "Service"]),
                     ("overlays/postgres", ["ConfigMap", "Deployment", "Namespace",
                                            "PodDisruptionBudget", "Service"])):
        r = subprocess.run(["kubectl", "kustomize", str(source_dir / "k8s/deploy" / d)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = [x for x in yaml.safe_load_all(r.stdout) if x]
        assert sorted(x["kind"] for x in out) == kinds
        dep = next(x for x in out if x["kind"] == "Deployment")
        assert dep["metadata"]["namespace"] == "kbs-system"


def test_postgres_overlay_config_is_valid(source_dir, tmp_dir, tls_cert, keypair, free_port):
    """The overlay's kbs-config.toml (Postgres storage, shared AS signer) passes
    `kbs --check-config` without warnings once its paths exist, connecting through
    POSTGRES_URL as the Deployment does (the file's host name does not resolve here)."""
    from pg_lib import PgServer, pg_bindir
    if pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries not installed")
    cert = tls_cert()
    admin = keypair("ed25519", name="admin")
    signer = keypair("ec", name="signer")
    text = (source_dir / "k8s/deploy/overlays/postgres/kbs-config.toml").read_text()
    for path, real in (("/etc/kbs/tls/tls.crt", cert.cert), ("/etc/kbs/tls/tls.key", cert.key),
                       ("/etc/kbs/admin/public.pub", admin.public),
                       ("/etc/kbs/as/signer.pem", signer.private)):
        assert path in text
        text = text.replace(path, str(real))
    cfg = tmp_dir / "kbs-config.toml"
    cfg.write_text(text)
    pg = PgServer(free_port()).init().start()
    try:
        env = dict(os.environ,
                   POSTGRES_URL="postgresql://postgres@127.0.0.1:%d/postgres" % pg.port)
        r = subprocess.run([str(find_binary("kbs")), "--check-config", "-c", str(cfg)],
                           capture_output=True, text=True, timeout=30, env=env)
    finally:
        pg.cleanup()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(0 warning(s))" in r.stdout + r.stderr


def test_postgres_overlay_wires_database_and_shared_signer(source_dir):
    import tomllib
    ov = source_dir / "k8s/deploy/overlays/postgres"
    cfg = tomllib.loads((ov / "kbs-config.toml").read_text())
    assert cfg["storage_backend"]["storage_type"] == "Postgres"
    assert "password" not in cfg["storage_backend"]["backends"]["postgres"]  # Secret only
    signer = cfg["attestation_service"]["attestation_token_broker"]["signer"]["key_path"]
    kust = yaml.safe_load((ov / "kustomization.yaml").read_text())
    assert kust["namespace"] == "kbs-system"
    (gen,) = kust["configMapGenerator"]
    assert gen["name"] == "kbs-config" and gen["behavior"] == "replace"
    (patch,) = [d for d in yaml.safe_load_all((ov / "deployment-postgres.yaml").read_text())
                if d]
    assert patch["spec"]["replicas"] > 1
    pod = patch["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["POSTGRES_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    # every replica mounts the same signer key where the config expects it
    assert signer.startswith(mounts["as-signer"].rstrip("/") + "/")
    assert vols["as-signer"]["secret"]["secretName"] == "kbs-as-signer"


def test_static_pv_variant_for_genpolicy(source_dir):
    """genpolicy aborts on inline csi: volumes, so a CoCo pod mounts a claim bound to an
    admin's static PV carrying the same volumeAttributes (no controller needed)."""
    (drv,) = docs(source_dir, "csidriver.yaml")
    assert "Persistent" in drv["spec"]["volumeLifecycleModes"]
    pv, pvc, pod = [d for d in yaml.safe_load_all(
        (source_dir / "k8s/csi/deploy/static-pv/kbsfs-static-pv.yaml").read_text()) if d]
    assert (pv["kind"], pvc["kind"], pod["kind"]) == \
        ("PersistentVolume", "PersistentVolumeClaim", "Pod")
    spec, cspec = pv["spec"], pvc["spec"]
    csi = spec["csi"]
    assert csi["driver"] == drv["metadata"]["name"]
    assert csi["readOnly"] is True and csi["volumeHandle"]
    # static binding: no storage class, matching modes, sizes and names both ways
    assert spec["accessModes"] == cspec["accessModes"] == ["ReadOnlyMany"]
    assert spec["storageClassName"] == cspec["storageClassName"] == ""
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["claimRef"] == {"namespace": pvc["metadata"]["namespace"],
                                "name": pvc["metadata"]["name"]}
    assert cspec["volumeName"] == pv["metadata"]["name"]
    assert spec["capacity"]["storage"] == cspec["resources"]["requests"]["storage"]
    attrs = csi["volumeAttributes"]
    assert set(attrs) <= {"kbs_url", "kbs_cert", "kbs_cert_pem", "tee", "resources", "uid",
                          "gid", "mode", "refresh", "placement"}
    assert all(isinstance(v, str) for v in attrs.values())
    assert attrs["placement"] == "guest"
    for r in attrs["resources"].split(","):
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*){2}", r)
    # guest mode: top-level file names are the tags and must not collide
    tags = [r.rsplit("/", 1)[1] for r in attrs["resources"].split(",")]
    assert len(tags) == len(set(tags))
    # the pod: same namespace, no inline csi volume, the claim and the mount read-only
    assert pod["metadata"]["namespace"] == pvc["metadata"]["namespace"]
    assert pod["spec"]["runtimeClassName"].startswith("kata")
    (vol,) = pod["spec"]["volumes"]
    assert "csi" not in vol
    assert vol["persistentVolumeClaim"] == {"claimName": pvc["metadata"]["name"],
                                            "readOnly": True}
    for c in pod["spec"]["containers"]:
        for m in c["volumeMounts"]:
            if m["name"] == vol["name"]:
                assert m["readOnly"] is True


def test_kata_mountinfo_is_off_in_the_daemonset(source_dir):
    """Stock kata fails a pod whose direct volume is not a block device: the plugin's
    --kata-mountinfo-dir stays off in the shipped manifest (documented in --help)."""
    (ds,) = docs(source_dir, "daemonset.yaml")
    plugin = {c["name"]: c for c in ds["spec"]["template"]["spec"]["containers"]}["kbsfs-csi"]
    assert not any(a.startswith("--kata-mountinfo-dir") for a in plugin["args"])
    helptext = subprocess.run([str(find_binary("kbsfs-csi")), "--help"], capture_output=True,
                              text=True, timeout=10).stdout
    assert "--kata-mountinfo-dir" in helptext and "off by default" in helptext
