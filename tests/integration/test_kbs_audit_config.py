# SPDX-License-Identifier: Apache-2.0
"""Issue #6: "unknown keys are warned about, wrong types are an error naming the key and line"
also inside arrays of tables ([[plugins]] of Trustee <= v0.18, [[admin.personas]] of v0.10-0.13)
and in the attestation-service tables, where the message used to lose its line ("t.toml:0:",
"t.toml: key 'plugins.dir_path'") or repeat the key."""
import re
import subprocess

import pytest

from kbsfs_testlib import find_binary

HTTP = '[http_server]\ninsecure_http = true\n'


def check(tmp_dir, text):
    cfg = tmp_dir / "t.toml"
    cfg.write_text(text)
    p = subprocess.run([str(find_binary("kbs")), "--check-config", "--config-file", str(cfg)],
                       capture_output=True, text=True, timeout=30, cwd=str(tmp_dir))
    return p.returncode, p.stderr


@pytest.mark.parametrize("text,want", [
    (HTTP + '[[plugins]]\nname = "resource"\ntype = "LocalFs"\ndir_path = 5\n',
     "t.toml:6: key 'plugins[0].dir_path': expected string, got number"),
    (HTTP + '[[plugins]]\nname = "sample"\n[[plugins]]\nname = "resource"\ntype = 7\n',
     "t.toml:7: key 'plugins[1].type': expected string, got number"),
    (HTTP + '[[plugins]]\nname = "resource"\nstorage_backend_type = "Floppy"\n',
     "t.toml:5: key 'plugins[0].storage_backend_type': resource storage backend 'Floppy'"),
    ('[admin]\ntype = "Simple"\n[[admin.personas]]\nid = "a"\npublic_key_path = 3\n',
     "t.toml:5: key 'admin.personas[0].public_key_path': expected string, got number"),
    (HTTP + '[attestation_service.attestation_token_broker]\nduration_min = "5"\n',
     "t.toml:4: key 'attestation_service.attestation_token_broker.duration_min': "
     "expected integer 1..525600"),
])
def test_type_errors_in_nested_tables_name_key_and_line(tmp_dir, text, want):
    rc, err = check(tmp_dir, text)
    assert rc == 1, err
    assert want in err, err
    line = [ln for ln in err.splitlines() if want in ln][0]
    assert line.count("key '") == 1, line  # the key is named once


def test_unknown_key_in_plugin_entry_is_warned_with_its_line(tmp_dir):
    (tmp_dir / "repo").mkdir()
    rc, err = check(tmp_dir, HTTP + '[[plugins]]\nname = "resource"\ntype = "LocalFs"\n'
                    'dir_path = "repo"\ncolour = 1\n')
    assert rc == 0, err
    assert "t.toml:7: unknown configuration key 'plugins[0].colour'" in err, err
    assert not re.search(r"t\.toml:0:", err), err
