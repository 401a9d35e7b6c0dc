"""The real CLI drives a dynamic resource built on jcqnap's provider base through its lifecycle."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.harness import ROOT

TOKEN = "tok-7f3a9c1e-never-in-state"


def test_lifecycle_up_noop_change_drift_repair_destroy(pulumi_project, tmp_path: Path) -> None:
    target = tmp_path / "object.txt"
    p = pulumi_project("filedemo")
    p.config_set("path", str(target))
    p.config_set("content", "v1")
    p.config_set("token", TOKEN, secret=True)

    first = p.up().check()
    assert target.read_text() == "v1"
    # The Python language host is the one bundled next to the CLI, not one found elsewhere on $PATH.
    assert "from $PATH" not in first.output, first.output

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


def test_language_host_standin_is_bundled_with_the_engine_only(pulumi_engine: str) -> None:
    bundled = Path(pulumi_engine) / "pulumi-language-python"
    assert not (ROOT / ".venv/bin/pulumi-language-python").exists()
    if "/jcqnap/engine/" not in str(bundled.resolve()):
        # An official CLI: its own host, and nothing of jcqnap next to it.
        assert not (bundled.parent / "pulumi-language-python-standin.py").exists()
        return
    out = subprocess.run([str(bundled), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "stand-in" in out.stdout and "official" in out.stdout
    # The launcher runs the stand-in installed beside it, identical to the source in tools/engine.
    assert (bundled.parent / "pulumi-language-python-standin.py").read_bytes() == (
        ROOT / "tools/engine/langhost.py"
    ).read_bytes()
