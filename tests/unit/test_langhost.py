"""The language host stand-in depends on the SDK's private LanguageServer; fail loudly if it moves.

The stand-in is part of the offline engine build (tools/engine), not of the jcqnap package: nothing
installed with jcqnap may be a Pulumi language host.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from importlib.metadata import distribution, version
from pathlib import Path
from types import ModuleType

from pulumi.automation._server import LanguageServer

ROOT = Path(__file__).resolve().parents[2]


def _standin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jcqnap_langhost_standin", ROOT / "tools/engine/langhost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sdk_version_is_the_pinned_one() -> None:
    # The stand-in was written against the SDK pinned in constraints.txt; a new SDK needs it re-checked.
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M))
    assert version("pulumi") == pins["pulumi"]


def test_sdk_language_server_still_has_the_shape_the_standin_uses() -> None:
    params = list(inspect.signature(LanguageServer.__init__).parameters)
    assert params == ["self", "program"]
    for method in ("Run", "About", "GetRequiredPlugins", "GetPluginInfo"):
        assert callable(getattr(LanguageServer, method))
    assert list(inspect.signature(LanguageServer.Run).parameters) == ["self", "request", "context"]


def test_standin_runs_main_of_the_requested_directory(tmp_path, monkeypatch) -> None:
    (tmp_path / "__main__.py").write_text("import marker_mod\nmarker_mod.hit.append(__name__)\n")
    (tmp_path / "marker_mod.py").write_text("hit = []\n")
    server = _standin().ProjectProgramServer()
    server._program_dir = str(tmp_path)
    monkeypatch.chdir(tmp_path)
    server.program()
    import marker_mod

    assert marker_mod.hit == ["__main__"]


def test_the_package_installs_no_language_host() -> None:
    # No console script of jcqnap, and nothing called pulumi-language-* in the venv's bin after install.
    scripts = [ep.name for ep in distribution("jcqnap").entry_points if ep.group == "console_scripts"]
    assert not [s for s in scripts if s.startswith("pulumi-")], scripts
    venv_bin = Path(sys.executable).parent
    assert (venv_bin / "python").exists()
    assert sorted(p.name for p in venv_bin.glob("pulumi-language-*")) == []
    assert not (ROOT / "jcqnap" / "langhost.py").exists()
