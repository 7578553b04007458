# SPDX-License-Identifier: Apache-2.0
"""Project rules that are cheap to check mechanically: README lists exactly the packages
scripts/install-deps.sh installs and documents the two commands, and no build or test file
reads the shared test-data folder outside the repository (tests use tests/data copies)."""
import os
import re
import subprocess

from kbsfs_testlib import _source_dir

SRC = _source_dir()


def test_readme_package_list_is_the_install_deps_list():
    readme = (SRC / "README.md").read_text()
    listed = subprocess.run([str(SRC / "scripts" / "install-deps.sh"), "--list"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed, "install-deps.sh --list printed nothing"
    # the fenced block that follows the `--list` mention
    block = readme.split("install-deps.sh --list`")[1].split("```")[1]
    assert sorted(block.split()) == sorted(listed)


def test_readme_documents_the_two_commands_and_make_has_them():
    readme = (SRC / "README.md").read_text()
    assert re.search(r"^make demo\b", readme, re.M)
    assert re.search(r"^make check\b", readme, re.M)
    makefile = (SRC / "Makefile").read_text()
    for target in ("demo", "check", "check-asan", "fuzz-smoke"):
        assert re.search(r"^%s:" % re.escape(target), makefile, re.M), target
    ci = (SRC / ".ci" / "run").read_text()
    assert ci.index("make check\n") < ci.index("make check-asan") < ci.index("make fuzz-smoke")


def test_no_build_or_test_file_reads_the_shared_folder():
    shared = re.compile(r"(/work|\.\.)/" + "shared\\b")
    roots = ["CMakeLists.txt", "Makefile", "cmake", "scripts", "tests", ".ci"]
    roots += [d for d in os.listdir(SRC) if (SRC / d / "CMakeLists.txt").exists()]
    offenders = []
    for root in roots:
        p = SRC / root
        files = [p] if p.is_file() else [q for q in p.rglob("*") if q.is_file()]
        for f in files:
            if f.suffix == ".md" or f.name.startswith("NOTICE") or "corpus" in f.parts:
                continue
            try:
                text = f.read_text(errors="strict")
            except (UnicodeDecodeError, OSError):
                continue  # binary test data
            if shared.search(text):
                offenders.append(str(f.relative_to(SRC)))
    assert offenders == []
