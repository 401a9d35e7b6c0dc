"""The real CLI drives a dynamic resource built on jcqnap's provider base through its lifecycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import ROOT

TOKEN = "tok-7f3a9c1e-never-in-state"


def test_lifecycle_up_noop_change_drift_repair_destroy(pulumi_project, tmp_path: Path) -> None:
    target = tmp_path / "object.txt"
    p = pulumi_project("filedemo")
    p.config_set("path", str(target))
    p.config_set("content", "v1")
    p.config_set("token", TOKEN, secret=True)

    p.up().check()
    assert target.read_text() == "v1"

    # no changes: exit 0
    assert p.preview("--expect-no-changes").returncode == 0

    # a changed input: exit 7, and the change is shown
    p.config_set("content", "v2")
    res = p.preview("--expect-no-changes")
    assert res.returncode == 7, res.output
    assert "content" in res.output and "v2" in res.output
    p.up().check()
    assert target.read_text() == "v2"

    # drift behind Pulumi's back: seen only through read (refresh)
    target.write_text("changed by hand")
    assert p.preview("--expect-no-changes").returncode == 0
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 7, res.output
    p.up("--refresh").check()
    assert target.read_text() == "v2"
    assert p.preview("--refresh", "--expect-no-changes").returncode == 0

    # the secret config value is nowhere in plaintext
    state = p.export_text()
    assert TOKEN not in state
    assert '"ciphertext"' in state
    assert p.outputs() == {"content": "v2"}

    p.destroy().check()
    assert not target.exists()


def test_check_failure_names_the_field(pulumi_project, tmp_path: Path) -> None:
    p = pulumi_project("filedemo")
    p.config_set("path", "relative/path")
    p.config_set("content", "x")
    p.config_set("token", TOKEN, secret=True)
    res = p.preview()
    assert res.returncode != 0
    assert "path: must be an absolute path" in res.output


def test_language_host_standin_explains_itself() -> None:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/pulumi-language-python"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    assert "stand-in" in out.stdout and "official" in out.stdout
    assert sys.version_info >= (3, 11)
