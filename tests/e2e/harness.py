"""Run the real `pulumi` CLI on a throw-away copy of a project, on a `file://` backend.

Every e2e test goes through `PulumiProject`: it copies a project directory (Pulumi.yaml,
__main__.py, helper modules, stacks/) into a temp dir, links the project venv next to it, and runs
the CLI there, so the source tree never gets stack files or state. Results carry the exit code and
the whole output, so tests can assert on what a user would see.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
PASSPHRASE = "e2e-test-passphrase"
COPY_IGNORE = (
    "__pycache__", ".pulumi*", ".venv", ".git", ".sandbox*", "*.egg-info", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", ".ci", "tests", "bench", "docs", "tools", "examples", "jcqnap", "build",
)


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> CliResult:
        if self.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(self.args)} exited {self.returncode}\n{self.stdout}\n{self.stderr}"
            )
        return self


def engine_bin() -> str:
    """The directory holding `pulumi` (official on PATH, or the project's cached build)."""
    out = subprocess.run(
        ["bash", str(ROOT / "tools/engine/build.sh")], capture_output=True, text=True, check=True, timeout=3600
    )
    return out.stdout.strip().splitlines()[-1]


class PulumiProject:
    """A copy of `source` in `workdir`, with its own backend and PULUMI_HOME."""

    def __init__(self, source: Path, workdir: Path, engine: str, extra_env: dict[str, str] | None = None):
        self.dir = workdir / "project"
        # The project's Python code comes from the editable install; copy only the Pulumi project files
        # (this also keeps the venv, the sandbox state and git out of the copy of the repository root).
        shutil.copytree(source, self.dir, ignore=shutil.ignore_patterns(*COPY_IGNORE))
        (self.dir / "stacks").mkdir(exist_ok=True)
        if not (self.dir / ".venv").exists():
            (self.dir / ".venv").symlink_to(VENV)
        self.backend = workdir / "backend"
        self.backend.mkdir()
        home = workdir / "pulumi-home"
        home.mkdir()
        self.env = dict(os.environ)
        self.env.update(
            {
                "PULUMI_BACKEND_URL": f"file://{self.backend}",
                "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
                "PULUMI_HOME": str(home),
                "PULUMI_SKIP_CONFIRMATIONS": "true",
                "NO_COLOR": "1",
                "PATH": f"{engine}:{os.environ.get('PATH', '')}",
            }
        )
        self.env.pop("PULUMI_ACCESS_TOKEN", None)
        self.env.update(extra_env or {})

    def run(self, *args: str, stdin: str | None = None, timeout: float = 600) -> CliResult:
        cmd = ["pulumi", *args, "--non-interactive"] if args[0] not in ("config",) else ["pulumi", *args]
        proc = subprocess.run(
            cmd, cwd=self.dir, env=self.env, input=stdin, capture_output=True, text=True, timeout=timeout
        )
        return CliResult(list(args), proc.returncode, proc.stdout, proc.stderr)

    # -- conveniences -------------------------------------------------------------------------
    def use(self, stack: str) -> PulumiProject:
        """Make `stack` (already initialised in this backend) the one the conveniences act on."""
        self.stack = stack
        return self

    def init(self, stack: str) -> PulumiProject:
        self.stack = stack
        self.run("stack", "init", stack).check()
        return self

    def config_set(self, key: str, value: str, secret: bool = False, path: bool = False) -> None:
        args = ["config", "set", key, "--stack", self.stack]
        if secret:
            args.append("--secret")
        if path:
            args.append("--path")
        # The value goes over stdin so it never appears on a command line.
        self.run(*args, stdin=value).check()

    def up(self, *extra: str) -> CliResult:
        return self.run("up", "--yes", "--skip-preview", "--stack", self.stack, *extra)

    def preview(self, *extra: str) -> CliResult:
        return self.run("preview", "--diff", "--stack", self.stack, *extra)

    def refresh(self, *extra: str) -> CliResult:
        return self.run("refresh", "--yes", "--stack", self.stack, *extra)

    def destroy(self, *extra: str) -> CliResult:
        return self.run("destroy", "--yes", "--stack", self.stack, *extra)

    def export(self) -> dict[str, Any]:
        res = self.run("stack", "export", "--stack", self.stack).check()
        return dict(json.loads(res.stdout))

    def export_text(self) -> str:
        return self.run("stack", "export", "--stack", self.stack).check().stdout

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json", "--stack", self.stack]
        if show_secrets:
            args.append("--show-secrets")
        return dict(json.loads(self.run(*args).check().stdout))
