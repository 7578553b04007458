# SPDX-License-Identifier: Apache-2.0
"""kbsfs-csi driven over its unix socket the way kubelet does (python3-grpcio, stubs generated
from k8s/csi/proto/csi.proto at test time): the Identity and Node checks csi-sanity makes for a
node-only plugin, the spec's error codes, idempotent publish/unpublish, a real kbsfs mount at
target_path served by a real kbs, and a plugin killed and restarted (mount still served,
re-adopted, unpublish still works)."""

import base64
import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kbs_server import Kbs
from kbsfs_mountlib import force_unmount, is_mounted
from kbsfs_testlib import Daemon, find_binary, wait_for

grpc = pytest.importorskip("grpc")
pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse") or os.geteuid() != 0,
                                reason="needs root and /dev/fuse")

SECRET = b"csi secret \x00\x01 bytes"
OTHER = b"second resource"
DRIVER = "csi.kbsfs.io"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.TOKEN-MUST-NOT-LEAK.sig"


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """csi_pb2 / csi_pb2_grpc generated with Debian's grpc_tools."""
    pytest.importorskip("grpc_tools")
    source_dir = Path(os.environ.get("KBS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
    out = tmp_path_factory.mktemp("csi_stubs")
    wkt = "/usr/lib/python3/dist-packages/grpc_tools/_proto"
    r = subprocess.run([sys.executable, "-m", "grpc_tools.protoc",
                        f"-I{source_dir / 'k8s' / 'csi' / 'proto'}", f"-I{wkt}",
                        f"--python_out={out}", f"--grpc_python_out={out}", "csi.proto"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    sys.path.insert(0, str(out))
    import csi_pb2
    import csi_pb2_grpc
    return csi_pb2, csi_pb2_grpc


@pytest.fixture
def kbs(daemons, tmp_dir, free_port, tls_cert):
    k = Kbs(daemons, tmp_dir, free_port(), tls_cert()).start()
    k.set_resource("default/akv/coco_one", SECRET)
    k.set_resource("default/akv/other", OTHER)
    return k


class Plugin:
    def __init__(self, tmp_dir, kbs, pb):
        self.tmp_dir, self.kbs = tmp_dir, kbs
        self.pb, self.rpc = pb
        self.sock = tmp_dir / "csi.sock"
        self.state = tmp_dir / "state"
        self.root = tmp_dir / "kubelet"
        self.daemon = None
        self.runs = 0
        self.targets = []

    def start(self, extra=()):
        self.runs += 1
        argv = [str(find_binary("kbsfs-csi")), "--endpoint", f"unix://{self.sock}",
                "--nodeid", "node-1", "--state-dir", str(self.state),
                "--kbsfs", str(find_binary("kbsfs")), "--kbs-url", self.kbs.url,
                "--kbs-cert", str(self.kbs.cert.cert), "--allow-sample", *extra]
        self.daemon = Daemon(argv, name=f"kbsfs-csi-{self.runs}", log_dir=self.tmp_dir,
                             ready_log=r"serving ", ready_timeout=60,
                             env=dict(os.environ, GRPC_VERBOSITY="ERROR"))
        self.daemon.start()
        self.channel = grpc.insecure_channel(f"unix://{self.sock}")
        self.ident = self.rpc.IdentityStub(self.channel)
        self.node = self.rpc.NodeStub(self.channel)
        return self

    def kill(self):
        self.channel.close()
        os.kill(self.daemon.pid, signal.SIGKILL)
        self.daemon.stop()

    def stop(self):
        if self.daemon:
            self.channel.close()
            self.daemon.stop()

    def publish(self, pod_uid="uid-1", vol="secrets", attrs=None, tokens=None, readonly=True,
                ns="default", drop=(), cap="mount", target=None, volume_id=None, sa="default",
                access=None):
        pb = self.pb
        vid = volume_id if volume_id is not None else \
            "csi-" + hashlib.sha256((pod_uid + vol).encode()).hexdigest()
        parent = self.root / "pods" / pod_uid / "volumes" / "kubernetes.io~csi" / vol
        parent.mkdir(parents=True, exist_ok=True, mode=0o750)  # kubelet creates the parent
        tp = target if target is not None else str(parent / "mount")
        if tp and tp not in self.targets:
            self.targets.append(tp)
        ctx = {"resources": "default/akv/coco_one,kbs:///default/akv/other", "tee": "sample",
               "mode": "0440"}
        ctx.update(attrs or {})
        ctx.update({"csi.storage.k8s.io/pod.name": "p", "csi.storage.k8s.io/pod.namespace": ns,
                    "csi.storage.k8s.io/pod.uid": pod_uid,
                    "csi.storage.k8s.io/serviceAccount.name": sa,
                    "csi.storage.k8s.io/ephemeral": "true"})
        if tokens is not None:
            ctx["csi.storage.k8s.io/serviceAccount.tokens"] = json.dumps(tokens)
        for k in drop:
            ctx.pop(k, None)
        kw = {}
        mode = pb.VolumeCapability.AccessMode(
            mode=access if access is not None
            else pb.VolumeCapability.AccessMode.SINGLE_NODE_WRITER)
        if cap == "mount":
            kw["volume_capability"] = pb.VolumeCapability(
                mount=pb.VolumeCapability.MountVolume(), access_mode=mode)
        elif cap == "block":
            kw["volume_capability"] = pb.VolumeCapability(
                block=pb.VolumeCapability.BlockVolume(), access_mode=mode)
        req = pb.NodePublishVolumeRequest(volume_id=vid, target_path=tp, readonly=readonly,
                                          volume_context=ctx, **kw)
        self.node.NodePublishVolume(req, timeout=120)
        return vid, tp

    def unpublish(self, vid, tp):
        self.node.NodeUnpublishVolume(
            self.pb.NodeUnpublishVolumeRequest(volume_id=vid, target_path=tp), timeout=60)

    def cleanup(self):
        for t in self.targets:
            force_unmount(t)


@pytest.fixture
def plugin(tmp_dir, kbs, pb):
    p = Plugin(tmp_dir, kbs, pb).start()
    yield p
    p.stop()
    p.cleanup()


def code_of(fn, *a, **kw):
    with pytest.raises(grpc.RpcError) as ei:
        fn(*a, **kw)
    return ei.value.code(), ei.value.details()


def mounts_at(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split(" - ")[1].split()[0] for line in f
                if line.split()[4] == str(path)]


# ------------------------------------------------------------------ identity / node info

def test_identity_service(plugin):
    pb = plugin.pb
    info = plugin.ident.GetPluginInfo(pb.GetPluginInfoRequest(), timeout=30)
    assert info.name == DRIVER
    assert len(info.name) <= 63
    assert re.fullmatch(r"[a-zA-Z][A-Za-z0-9-\.\_]{0,61}[a-zA-Z]", info.name)
    assert info.vendor_version
    caps = plugin.ident.GetPluginCapabilities(pb.GetPluginCapabilitiesRequest(), timeout=30)
    known = set(pb.PluginCapability.Service.Type.values())
    for c in caps.capabilities:
        assert c.service.type in known
        assert c.service.type != pb.PluginCapability.Service.CONTROLLER_SERVICE
    probe = plugin.ident.Probe(pb.ProbeRequest(), timeout=30)
    assert probe.ready.value is True


def test_node_info_and_capabilities(plugin):
    pb = plugin.pb
    info = plugin.node.NodeGetInfo(pb.NodeGetInfoRequest(), timeout=30)
    assert info.node_id == "node-1"
    assert info.max_volumes_per_node >= 0
    caps = plugin.node.NodeGetCapabilities(pb.NodeGetCapabilitiesRequest(), timeout=30)
    types = [c.rpc.type for c in caps.capabilities]
    assert pb.NodeServiceCapability.RPC.STAGE_UNSTAGE_VOLUME not in types
    assert set(types) <= set(pb.NodeServiceCapability.RPC.Type.values())


def test_unimplemented_rpcs(plugin):
    pb = plugin.pb
    code, _ = code_of(plugin.node.NodeStageVolume,
                      pb.NodeStageVolumeRequest(volume_id="v", staging_target_path="/x"),
                      timeout=30)
    assert code == grpc.StatusCode.UNIMPLEMENTED
    code, _ = code_of(plugin.node.NodeGetVolumeStats,
                      pb.NodeGetVolumeStatsRequest(volume_id="v", volume_path="/x"), timeout=30)
    assert code == grpc.StatusCode.UNIMPLEMENTED


# ------------------------------------------------------------------ argument errors

@pytest.mark.parametrize("case,kw", [
    ("no volume id", {"volume_id": ""}),
    ("no target path", {"target": ""}),
    ("relative target path", {"target": "relative/mount"}),
    ("no capability", {"cap": None}),
    ("block capability", {"cap": "block"}),
    ("not read-only", {"readonly": False}),
    ("no pod info", {"drop": ["csi.storage.k8s.io/pod.namespace"]}),
    ("no resources", {"drop": ["resources"]}),
    ("bad resource", {"attrs": {"resources": "default/akv/../x"}}),
    ("unknown attribute", {"attrs": {"kbs_urll": "https://x"}}),
    ("foreign kbs_url", {"attrs": {"kbs_url": "https://evil.example"}}),
    ("bad mode", {"attrs": {"mode": "rw"}}),
    ("bad uid", {"attrs": {"uid": "-1"}}),
    ("relative kbs_cert", {"attrs": {"kbs_cert": "ca.pem"}}),
    ("guest placement", {"attrs": {"placement": "guest"}}),
])
def test_publish_argument_errors(plugin, case, kw):
    code, details = code_of(plugin.publish, tokens={"kbsfs": {"token": TOKEN}}, **kw)
    assert code == grpc.StatusCode.INVALID_ARGUMENT, (case, code, details)
    assert TOKEN not in details
    # nothing was created at the target
    assert not any(is_mounted(t) for t in plugin.targets if t)


def test_unpublish_argument_errors(plugin):
    pb = plugin.pb
    for req in (pb.NodeUnpublishVolumeRequest(target_path="/tmp/x"),
                pb.NodeUnpublishVolumeRequest(volume_id="x")):
        code, _ = code_of(plugin.node.NodeUnpublishVolume, req, timeout=30)
        assert code == grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------------------ real mounts

def test_publish_serves_kbs_secrets_and_is_idempotent(plugin, kbs):
    vid, tp = plugin.publish(tokens={"kbsfs": {"token": TOKEN}})
    assert mounts_at(tp) == ["fuse.kbsfs"]
    assert open(os.path.join(tp, "default/akv/coco_one"), "rb").read() == SECRET
    assert open(os.path.join(tp, "default/akv/other"), "rb").read() == OTHER
    assert oct(os.stat(os.path.join(tp, "default/akv/coco_one")).st_mode & 0o777) == "0o440"
    assert sorted(os.listdir(os.path.join(tp, "default/akv"))) == ["coco_one", "other"]
    # publish again, and again with a fresh token (requiresRepublish): OK, still one mount
    plugin.publish(tokens={"kbsfs": {"token": TOKEN}})
    plugin.publish(tokens={"kbsfs": {"token": TOKEN + "-renewed"}})
    assert mounts_at(tp) == ["fuse.kbsfs"]
    # same target, different parameters
    code, _ = code_of(plugin.publish, attrs={"resources": "default/akv/other"})
    assert code == grpc.StatusCode.ALREADY_EXISTS
    # same volume, another target path (SINGLE_NODE_WRITER)
    other = str(plugin.root / "other-target")
    code, _ = code_of(plugin.publish, target=other, volume_id=vid)
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert not os.path.exists(other)
    # unpublish twice; the target directory is gone after the first
    plugin.unpublish(vid, tp)
    assert mounts_at(tp) == [] and not os.path.exists(tp)
    plugin.unpublish(vid, tp)
    assert TOKEN not in plugin.daemon.log_text()


def test_unpublish_unknown_volume_is_ok_and_touches_nothing(plugin):
    keep = plugin.root / "keep"
    keep.mkdir(parents=True)
    (keep / "file").write_text("x")
    plugin.unpublish("never-published", str(plugin.root / "nonexistent" / "mount"))
    plugin.unpublish("never-published", str(keep))  # not empty, not a mount: left alone
    assert (keep / "file").read_text() == "x"


def test_something_else_mounted_is_failed_precondition(plugin):
    parent = plugin.root / "pods" / "uid-9" / "volumes" / "kubernetes.io~csi" / "secrets"
    target = parent / "mount"
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "foreign", str(target)], check=True)
    plugin.targets.append(str(target))
    try:
        code, _ = code_of(plugin.publish, pod_uid="uid-9")
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert mounts_at(target) == ["tmpfs"]
    finally:
        subprocess.run(["umount", str(target)], check=False)


def test_kbsfs_failure_is_final_and_leaves_nothing(plugin):
    code, details = code_of(plugin.publish, attrs={"kbs_cert": "/nonexistent/ca.pem"})
    assert code == grpc.StatusCode.INTERNAL
    assert "kbsfs" in details
    tp = plugin.targets[-1]
    assert not is_mounted(tp) and not os.path.exists(tp)
    assert os.listdir(plugin.state) == []


def test_plugin_restart_keeps_mount_and_readopts(plugin):
    vid, tp = plugin.publish()
    assert open(os.path.join(tp, "default/akv/coco_one"), "rb").read() == SECRET
    status = json.loads(open(os.path.join(tp, ".kbsfs/status")).read())
    kbsfs_pid = status["pid"]
    plugin.kill()                                  # SIGKILL: no clean-up at all
    assert is_mounted(tp)
    assert open(os.path.join(tp, "default/akv/other"), "rb").read() == OTHER
    plugin.start()
    plugin.daemon.wait_log(r"adopted volume", timeout=60)
    plugin.publish()                               # republish after restart: OK, no new mount
    assert mounts_at(tp) == ["fuse.kbsfs"]
    plugin.unpublish(vid, tp)
    assert not is_mounted(tp) and not os.path.exists(tp)
    wait_for(lambda: not os.path.exists(f"/proc/{kbsfs_pid}"), 10, what="kbsfs exit")


NAMESPACE_POLICY = """package policy

default allow := false

# kbsfs-csi node mode: the pod's identity arrives as the request's query string
allow if {
    data.plugin == "resource"
    data.query.pod_namespace == "a"
    data.query.service_account == "reader"
    data["resource-path"][0] == "default"
}
"""


def test_resource_policy_selects_pods_by_namespace_and_service_account(plugin, kbs):
    kbs.set_policy(NAMESPACE_POLICY)
    vid_a, tp_a = plugin.publish(pod_uid="uid-a", ns="a", sa="reader")
    vid_b, tp_b = plugin.publish(pod_uid="uid-b", ns="b", sa="reader")
    vid_c, tp_c = plugin.publish(pod_uid="uid-c", ns="a", sa="writer")
    assert open(os.path.join(tp_a, "default/akv/coco_one"), "rb").read() == SECRET
    for tp in (tp_b, tp_c):
        with pytest.raises(PermissionError):
            open(os.path.join(tp, "default/akv/coco_one"), "rb").read()
    # the denial came from the kbs resource policy (not from the mount or attestation)
    assert "default/akv/coco_one denied" in kbs.daemon.log_text()
    for vid, tp in ((vid_a, tp_a), (vid_b, tp_b), (vid_c, tp_c)):
        plugin.unpublish(vid, tp)


def test_killing_every_plugin_process_spares_kbsfs_and_launcher_is_used(tmp_dir, kbs, pb):
    """A container restart kills all of the plugin's processes. kbsfs is started in a session
    of its own through the --launcher prefix (here a bare command name found in PATH, as
    "nsenter ..." or "systemd-run ..." would be): SIGKILL to the plugin's whole process group
    leaves the mount serving; the restarted plugin adopts it and unpublish unmounts."""
    p = Plugin(tmp_dir, kbs, pb)
    p.start(["--launcher", "env KBSFS_LAUNCHED_BY=csi-test"])
    try:
        vid, tp = p.publish()
        assert open(os.path.join(tp, "default/akv/coco_one"), "rb").read() == SECRET
        pid = json.loads(open(os.path.join(tp, ".kbsfs/status")).read())["pid"]
        # the daemon was started through the launcher
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        assert b"KBSFS_LAUNCHED_BY=csi-test" in env
        assert os.getsid(pid) != os.getsid(p.daemon.pid)
        p.channel.close()
        os.killpg(os.getpgid(p.daemon.pid), signal.SIGKILL)
        p.daemon.stop()
        assert os.path.exists(f"/proc/{pid}")
        assert open(os.path.join(tp, "default/akv/other"), "rb").read() == OTHER
        p.start()
        p.daemon.wait_log(r"adopted volume", timeout=60)
        p.unpublish(vid, tp)
        assert not is_mounted(tp) and not os.path.exists(tp)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10, what="kbsfs exit")
    finally:
        p.stop()
        p.cleanup()


def test_stale_state_is_dropped_on_restart(plugin):
    vid, tp = plugin.publish()
    plugin.kill()
    subprocess.run(["umount", tp], check=True)     # someone unmounted behind our back
    plugin.start()
    plugin.daemon.wait_log(r"no longer mounted", timeout=60)
    assert [f for f in os.listdir(plugin.state) if f.endswith(".json")] == []
    plugin.publish()                               # publishes afresh
    assert mounts_at(tp) == ["fuse.kbsfs"]
    plugin.unpublish(vid, tp)


# ------------------------------------------------------------------ guest mode

SEAL_KID = "kbs:///default/keys/sealing"


class Agent:
    """Our unseal path: the project's attestation-agent (sample TEE) given a sealed file on
    POST /cdh/unseal verifies the ES256 signature with the key its kid names (fetched from
    the kbs under attestation for kbs:/// kids) and fetches the named resource."""

    def __init__(self, tmp_dir, kbs, port, name="aa"):
        self.port = port
        cfg = tmp_dir / f"{name}.toml"
        cfg.write_text(f"[token_configs.kbs]\nurl = \"{kbs.url}\"\ncert = \'\'\'\n"
                       f"{open(kbs.cert.cert).read()}\'\'\'\n")
        cl = tmp_dir / f"{name}-cmdline"
        cl.write_text("quiet\n")
        self.daemon = Daemon(["attestation-agent", "-b", f"127.0.0.1:{port}", "--tee", "sample",
                              "-f", "resource", "-c", str(cfg), "--cmdline", str(cl),
                              "--sealed-secret-dir", str(tmp_dir / f"{name}-keys")],
                             name=name, log_dir=tmp_dir, ready_port=port)
        self.daemon.start()

    def unseal(self, sealed):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("POST", "/cdh/unseal", body=sealed.encode())
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def stop(self):
        self.daemon.stop()


def test_guest_mode_writes_only_sealed_references(tmp_dir, kbs, pb, keypair, free_port):
    key = keypair("ec", name="sealing")
    p = Plugin(tmp_dir, kbs, pb).start(["--sealing-key", str(key.private),
                                        "--sealing-kid", SEAL_KID])
    agent = None
    try:
        vid, tp = p.publish(attrs={"placement": "guest", "uid": "1000"})
        with open("/proc/self/mountinfo") as f:
            (line,) = [x for x in f if x.split()[4] == tp]
        opts, (fstype, source, _) = line.split()[5].split(","), line.split(" - ")[1].split()
        assert (fstype, source) == ("tmpfs", "kbsfs-csi") and "ro" in opts
        # the kubelet atomic-writer layout the kata agent's unseal hook expects
        stamp = os.readlink(os.path.join(tp, "..data"))
        assert re.fullmatch(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}", stamp)
        assert sorted(os.listdir(tp)) == sorted(
            ["..data", stamp, "coco_one", "other", ".kbsfs-volume.json"])
        for name in ("coco_one", "other", ".kbsfs-volume.json"):
            assert os.readlink(os.path.join(tp, name)) == f"..data/{name}"
            assert os.path.isfile(os.path.join(tp, stamp, name))
        # no byte of any secret anywhere the plugin wrote
        for root in (p.root, p.state):
            for dirpath, _, files in os.walk(root):
                for fn in files:
                    data = open(os.path.join(dirpath, fn), "rb").read()
                    assert SECRET not in data and OTHER not in data, fn
        # the admin publishes the verification key (public JWK) at the kid's resource
        from jwcrypto import jwk as jwcrypto_jwk
        pub_jwk = jwcrypto_jwk.JWK.from_pem(open(key.public, "rb").read())
        kbs.set_resource(SEAL_KID[len("kbs:///"):], pub_jwk.export_public().encode())
        agent = Agent(tmp_dir, kbs, free_port())
        for name, want in (("coco_one", SECRET), ("other", OTHER)):
            sealed = open(os.path.join(tp, name)).read()
            assert agent.unseal(sealed) == (200, want)
        desc = json.loads(open(os.path.join(tp, ".kbsfs-volume.json")).read())
        assert desc["kbsfs_volume"] == 1 and desc["volume_id"] == vid
        assert desc["pod"]["namespace"] == "default" and desc["uid"] == 1000
        assert [r["uri"] for r in desc["resources"]] == [
            "kbs:///default/akv/coco_one", "kbs:///default/akv/other"]
        # in-guest path for images running our own agent: kata copies the tree into the guest
        # (symlinks preserved); mount.kbsfs reads .kbsfs-volume.json and mounts kbsfs over it
        guest = tmp_dir / "guest-copy"
        subprocess.run(["cp", "-a", tp, str(guest)], check=True)
        mnt = tmp_dir / "guest-mnt"
        mnt.mkdir()
        script = (f"{find_binary('mount.kbsfs')} {guest} {mnt} -o "
                  f"kbs_url={kbs.url},kbs_cert={kbs.cert.cert},tee=sample,allow_sample || exit 3\n"
                  f"base64 -w0 {mnt}/default/akv/coco_one; echo\n"
                  f"stat -c %a:%u {mnt}/default/akv/other\n"
                  f"umount {mnt}\n")
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, KBSFS_BINARY=str(find_binary("kbsfs"))))
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split()
        assert base64.b64decode(lines[0]) == SECRET
        assert lines[1] == "440:1000"  # mode and uid from the descriptor
        assert not is_mounted(mnt)
        # a reference re-pointed at another resource, or signed by another key, is refused
        sealed = open(os.path.join(tp, "coco_one")).read()
        h, pl, sig = sealed[len("sealed."):].split(".")
        ref = json.loads(base64.urlsafe_b64decode(pl + "=="))
        ref["name"] = "kbs:///default/akv/other"
        pl2 = base64.urlsafe_b64encode(json.dumps(ref).encode()).rstrip(b"=").decode()
        st, body = agent.unseal(f"sealed.{h}.{pl2}.{sig}")
        assert st == 403 and OTHER not in body
        other_key = keypair("ec", name="other")
        from jwcrypto import jws as jwcrypto_jws
        forged = jwcrypto_jws.JWS(base64.urlsafe_b64decode(pl + "=="))
        forged.add_signature(jwcrypto_jwk.JWK.from_pem(open(other_key.private, "rb").read()),
                             alg="ES256", protected=json.dumps({"alg": "ES256",
                                                                "kid": SEAL_KID}))
        st, body = agent.unseal("sealed." + forged.serialize(compact=True))
        assert st == 403 and SECRET not in body
        assert "does not verify" in agent.daemon.log_text()
        # idempotent, then unpublish removes the tmpfs and the directory
        p.publish(attrs={"placement": "guest", "uid": "1000"})
        assert mounts_at(tp) == ["tmpfs"]
        code, _ = code_of(p.publish, attrs={"placement": "guest", "uid": "0"})
        assert code == grpc.StatusCode.ALREADY_EXISTS
        p.unpublish(vid, tp)
        assert not os.path.exists(tp)
        # two resources with the same file name cannot share the top level
        code, details = code_of(p.publish, pod_uid="uid-2", attrs={
            "placement": "guest", "resources": "a/b/same,c/d/same"})
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "same" in details
        assert not is_mounted(p.targets[-1])
    finally:
        if agent:
            agent.stop()
        p.stop()
        p.cleanup()


def test_static_pv_shared_by_two_pods_with_kata_mountinfo(tmp_dir, kbs, pb, keypair,
                                                          source_dir):
    """The static-PV manifest's attributes published for two pods on one node
    (MULTI_NODE_READER_ONLY, one volume id, two targets), with the off-by-default kata
    mountInfo.json output switched on: one descriptor per target, no secret and no KBS URL in
    it, removed on unpublish; unpublishing one pod leaves the other's volume alone."""
    import yaml
    pv = next(d for d in yaml.safe_load_all(
        (source_dir / "k8s/csi/deploy/static-pv/kbsfs-static-pv.yaml").read_text()) if d)
    attrs, vid = pv["spec"]["csi"]["volumeAttributes"], pv["spec"]["csi"]["volumeHandle"]
    key = keypair("ec", name="sealing")
    kata = tmp_dir / "direct-volumes"
    p = Plugin(tmp_dir, kbs, pb).start(["--sealing-key", str(key.private),
                                        "--sealing-kid", SEAL_KID,
                                        "--kata-mountinfo-dir", str(kata)])
    shared = pb[0].VolumeCapability.AccessMode.MULTI_NODE_READER_ONLY
    try:
        _, tp1 = p.publish(pod_uid="uid-p1", attrs=attrs, volume_id=vid, access=shared,
                           ns="team-a")
        _, tp2 = p.publish(pod_uid="uid-p2", attrs=attrs, volume_id=vid, access=shared,
                           ns="team-a")
        assert mounts_at(tp1) == ["tmpfs"] and mounts_at(tp2) == ["tmpfs"]
        for tp in (tp1, tp2):
            for tag in ("coco_one", "coco_two"):
                assert open(os.path.join(tp, tag)).read().startswith("sealed.")
        # kata's layout: <dir>/<base64url(target) with padding>/mountInfo.json, 0700/0600
        d1 = kata / base64.urlsafe_b64encode(tp1.encode()).decode()
        mi_text = (d1 / "mountInfo.json").read_text()
        mi = json.loads(mi_text)
        assert (mi["volume-type"], mi["device"], mi["fstype"]) == \
            ("kbsfs", "kbsfs", "fuse.kbsfs")
        assert mi["metadata"]["kbsfs.volume_id"] == vid
        assert mi["metadata"]["kbsfs.pod_namespace"] == "team-a"
        assert mi["options"] == ["ro", "resources=default/akv/coco_one:default/akv/coco_two",
                                 "uid=1000", "gid=1000", "mode=0440"]
        assert kbs.url not in mi_text and SECRET.decode(errors="ignore") not in mi_text
        assert os.stat(d1).st_mode & 0o777 == 0o700
        assert os.stat(d1 / "mountInfo.json").st_mode & 0o777 == 0o600
        d2 = kata / base64.urlsafe_b64encode(tp2.encode()).decode()
        assert (d2 / "mountInfo.json").exists()
        # republish of pod 1: OK, nothing new
        p.publish(pod_uid="uid-p1", attrs=attrs, volume_id=vid, access=shared, ns="team-a")
        assert mounts_at(tp1) == ["tmpfs"]
        p.unpublish(vid, tp1)
        assert not os.path.exists(tp1) and not d1.exists()
        assert mounts_at(tp2) == ["tmpfs"] and (d2 / "mountInfo.json").exists()
        # pod 2's state survived pod 1's unpublish: a republish is still recognised
        seen = p.daemon.log_text().count("already published")
        p.publish(pod_uid="uid-p2", attrs=attrs, volume_id=vid, access=shared, ns="team-a")
        wait_for(lambda: p.daemon.log_text().count("already published") == seen + 1, 5,
                 what="republish recognised")
        p.unpublish(vid, tp2)
        assert not os.path.exists(tp2) and not d2.exists()
        assert [f for f in os.listdir(p.state) if f.endswith(".json")] == []
    finally:
        p.stop()
        p.cleanup()
