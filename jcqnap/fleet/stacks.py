"""Which stacks a fleet run covers, their role, and the order they run in.

A stack is one `stacks/Pulumi.<name>.yaml` file next to the project (the `stackConfigDir` of
Pulumi.yaml). Its role is its `jcqnap:role` key (default `all-in-one`, as `jcqnap.config` reads it);
a site names its directory stack in `jcqnap:directoryStack` (`org/project/name` or just `name`).

Order: stacks that hold directory resources (`directory`, `all-in-one`) run first, then every site.
A site whose directory stack failed in the same run is skipped, since it would read stale outputs.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from jcqnap.config import NS, ROLES
from jcqnap.errors import JcqnapError


@dataclass(frozen=True)
class FleetStack:
    """One stack of the project, as its stack file describes it."""

    name: str
    role: str
    #: The short name of the directory stack a site reads (last part of `jcqnap:directoryStack`).
    directory: str | None = None

    @property
    def first(self) -> bool:
        """True for stacks that hold directory resources and so run before the sites."""
        return self.role in ("directory", "all-in-one")


def stack_config_dir(project_dir: Path) -> Path:
    """The folder of the stack files: Pulumi.yaml's `stackConfigDir`, else the project folder."""
    try:
        project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    except OSError as exc:
        raise JcqnapError(f"fleet: no Pulumi.yaml in {project_dir}; run from the project folder") from exc
    return project_dir / str(project.get("stackConfigDir") or ".")


def _describe(name: str, path: Path) -> FleetStack:
    try:
        doc: Any = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise JcqnapError(f"fleet: {path} is not readable YAML ({exc}); fix the stack file") from exc
    config = doc.get("config") or {} if isinstance(doc, dict) else {}
    role = config.get(f"{NS}:role", "all-in-one")
    if role not in ROLES:
        raise JcqnapError(f"fleet: {path}: {NS}:role must be one of {', '.join(ROLES)}, got {role!r}")
    ref = config.get(f"{NS}:directoryStack")
    directory = str(ref).rsplit("/", 1)[-1] if role == "site" and ref else None
    return FleetStack(name, role, directory)


def discover(project_dir: Path, patterns: list[str] | None = None) -> list[FleetStack]:
    """The project's stacks whose name matches any of `patterns` (shell globs; all when empty)."""
    folder = stack_config_dir(project_dir)
    found = []
    for path in sorted(folder.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi."):-len(".yaml")]
        if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        found.append(_describe(name, path))
    if not found:
        wanted = " or ".join(patterns) if patterns else "any name"
        raise JcqnapError(f"fleet: no stack file matching {wanted} in {folder}; check --stacks")
    return found


def phases(stacks: list[FleetStack]) -> tuple[list[FleetStack], list[FleetStack]]:
    """(directory and all-in-one stacks, site stacks), each in name order."""
    return [s for s in stacks if s.first], [s for s in stacks if not s.first]
