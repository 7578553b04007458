# SPDX-License-Identifier: Apache-2.0
"""The new user's path exactly as docs/kbs.md "Quick start (new user)" prints it: the commands
and the config are read from the document (only the port is changed, so parallel tests do not
collide) and run with `kbs` and `kbs-client` from the build on PATH. test_kbs_newuser.py
re-types the same steps; this test fails when the document itself stops working or the config
grows past the 10 lines issue #6 asks for."""
import base64
import os
import re
import subprocess

from kbsfs_testlib import _source_dir, find_binary


def quick_start():
    doc = (_source_dir() / "docs" / "kbs.md").read_text()
    sec = doc.split("## Quick start (new user)", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", sec, re.S)
    step5 = re.search(r"5\. Fetch it as a guest: `([^`]+)`", sec, re.S)
    assert len(blocks) >= 2 and step5, "docs/kbs.md quick start changed shape"
    return blocks[0], blocks[1], " ".join(step5.group(1).split())


def test_documented_quick_start_works_verbatim(daemons, tmp_dir, free_port):
    setup, admin, fetch = quick_start()
    port = free_port()
    fix = lambda s: s.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)  # noqa: E731
    bindir = tmp_dir / "bin"
    bindir.mkdir()
    for name in ("kbs", "kbs-client"):
        os.symlink(find_binary(name), bindir / name)
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ["PATH"]), HOME=str(tmp_dir))

    # 1 + 2: key pair and config, as printed; 3 (start kbs) is run as a daemon below
    start = [ln for ln in setup.splitlines() if ln.startswith("kbs ")]
    assert start == ["kbs --config-file kbs.toml"], setup
    script = "set -e\n" + "\n".join(ln for ln in setup.splitlines() if not ln.startswith("kbs "))
    p = subprocess.run(["bash", "-c", fix(script)], cwd=tmp_dir, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    cfg = (tmp_dir / "kbs.toml").read_text()
    lines = [ln for ln in cfg.splitlines() if ln.strip()]
    assert len(lines) <= 10, "the quick-start config has %d lines, not 10:\n%s" % (len(lines), cfg)
    assert (tmp_dir / "admin.key").exists() and (tmp_dir / "admin.pub").exists()
    daemons.start(["kbs"] + start[0].split()[1:], cwd=str(tmp_dir), env=env, ready_port=port)

    # 4: upload a resource and the policy with kbs-client, as printed
    p = subprocess.run(["bash", "-c", "set -e\n" + fix(admin)], cwd=tmp_dir, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "Set resource success" in p.stdout and "Set resource policy success" in p.stdout

    # 5: fetch it as a guest, as printed
    p = subprocess.run(["bash", "-c", fix(fetch)], cwd=tmp_dir, env=env, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    secret = re.search(r"echo -n '([^']*)' > secret.bin", admin).group(1)
    assert base64.b64decode(p.stdout.strip(), validate=True) == secret.encode()
