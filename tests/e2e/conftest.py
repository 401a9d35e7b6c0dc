"""Fixtures for tests that drive the real Pulumi CLI (see harness.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import PulumiProject, engine_bin

PROJECTS = Path(__file__).parent / "projects"


@pytest.fixture(scope="session")
def pulumi_engine() -> str:
    """Build (or reuse) the engine once per test session; returns its bin directory."""
    return engine_bin()


@pytest.fixture
def pulumi_project(
    tmp_path: Path, pulumi_engine: str
) -> Callable[..., PulumiProject]:
    """Factory: `pulumi_project("filedemo")` or `pulumi_project(path)` -> an initialised stack."""

    def make(source: str | Path, stack: str | None = None, env: dict[str, str] | None = None) -> PulumiProject:
        src = Path(source) if Path(source).is_absolute() else PROJECTS / str(source)
        work = tmp_path / f"p-{uuid.uuid4().hex[:6]}"
        work.mkdir()
        project = PulumiProject(src, work, pulumi_engine, env)
        return project.init(stack or f"e2e-{uuid.uuid4().hex[:6]}")

    return make
