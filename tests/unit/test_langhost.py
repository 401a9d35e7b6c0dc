"""The language host stand-in depends on the SDK's private LanguageServer; fail loudly if it moves."""

from __future__ import annotations

import inspect

import pulumi
from pulumi.automation._server import LanguageServer

from jcqnap.langhost import ProjectProgramServer


def test_sdk_version_is_the_pinned_one() -> None:
    # The stand-in was written against this SDK; a new SDK needs the stand-in re-checked.
    from importlib.metadata import version

    assert version("pulumi") == "3.272.0"
    assert pulumi is not None


def test_sdk_language_server_still_has_the_shape_the_standin_uses() -> None:
    params = list(inspect.signature(LanguageServer.__init__).parameters)
    assert params == ["self", "program"]
    for method in ("Run", "About", "GetRequiredPlugins", "GetPluginInfo"):
        assert callable(getattr(LanguageServer, method))
    assert list(inspect.signature(LanguageServer.Run).parameters) == ["self", "request", "context"]


def test_standin_runs_main_of_the_requested_directory(tmp_path, monkeypatch) -> None:
    (tmp_path / "__main__.py").write_text("import marker_mod\nmarker_mod.hit.append(__name__)\n")
    (tmp_path / "marker_mod.py").write_text("hit = []\n")
    server = ProjectProgramServer()
    server._program_dir = str(tmp_path)
    monkeypatch.chdir(tmp_path)
    server.program()
    import marker_mod

    assert marker_mod.hit == ["__main__"]
