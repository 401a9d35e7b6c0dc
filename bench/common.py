"""What bench/run.py and bench/scale.py share: table rows, projects and stacks, timed CLI runs."""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import PeakRss, stack_objects
from bench.sandbox import BenchSandbox, Calls, Mark
from tests.e2e.harness import CliResult, PulumiProject

ROOT = Path(__file__).resolve().parents[1]
UP = ("up", "--yes", "--skip-preview")
PREVIEW = ("preview",)
PREVIEW_REFRESH = ("preview", "--refresh", "--expect-no-changes")


@dataclass
class Row:
    figure: str
    measured: str
    goal: str
    ok: bool | None  # None: information only


def log(msg: str, start: float = time.monotonic()) -> None:
    print(f"[bench {time.monotonic() - start:6.1f}s] {msg}", flush=True)


# -- projects and stacks ------------------------------------------------------------------------
def jcqnap_source(tmp: Path) -> Path:
    """The project as a user has it: Pulumi.yaml, __main__.py and a stacks/ dir (filled below)."""
    src = tmp / "src-jcqnap"
    (src / "stacks").mkdir(parents=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy2(ROOT / name, src / name)
    return src


def bench_source(tmp: Path, name: str) -> Path:
    """A baseline project under bench/ (null_project, latency_project)."""
    src = tmp / f"src-{name}"
    shutil.copytree(ROOT / "bench" / name, src, ignore=shutil.ignore_patterns("__pycache__"))
    return src


def jcqnap_config(sb: BenchSandbox, tag: str, groups: int, members: list[list[str]], gid0: int,
                  with_nas: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "jcqnap:role": "all-in-one" if with_nas else "directory",
        "jcqnap:sandbox": str(sb.json_path),
        "jcqnap:bindUser": {"username": f"bench-{tag}", "email": f"bench-{tag}@example.com"},
        "jcqnap:workgroup": f"B{tag.upper()}"[:15],
        "jcqnap:groups": [
            {"name": f"Bench {tag} {i:03d}", "linuxName": f"b{tag}-{i:03d}", "gid": gid0 + i, "members": members[i]}
            for i in range(groups)
        ],
    }
    if with_nas:
        cfg["jcqnap:nas"] = [{"name": n, "sandbox": n} for n in sb.nas_names]
    return cfg


def add_stack(project: PulumiProject, stack: str, config: dict[str, Any]) -> None:
    # JSON is YAML; `stack init` adds the encryption salt to this file.
    (project.dir / "stacks" / f"Pulumi.{stack}.yaml").write_text(json.dumps({"config": config}, indent=1))
    project.run("stack", "init", stack).check()


def add_latency_stack(latency: PulumiProject, jc: PulumiProject, jc_stack: str, sb: BenchSandbox,
                      nas: int = 0) -> str:
    """The latency-bound twin of jcqnap stack `jc_stack`: one probe per object of its state."""
    name = f"lat-{jc_stack}"
    add_stack(latency, name, {"jcqnap-bench-latency:sandbox": str(sb.json_path),
                              "jcqnap-bench-latency:objects": json.dumps(stack_objects(jc, jc_stack)),
                              "jcqnap-bench-latency:nas": nas})
    return name


def run(project: PulumiProject, stack: str, *args: str) -> tuple[CliResult, float]:
    """One CLI run, timed; a non-zero exit stops the benchmark with the CLI's own words."""
    t0 = time.monotonic()
    res = project.run(*args, "--stack", stack, timeout=1800)
    elapsed = time.monotonic() - t0
    if res.returncode != 0:
        tail = "\n".join(res.output.strip().splitlines()[-40:])
        raise RuntimeError(f"pulumi {' '.join(args)} --stack {stack} exited {res.returncode}:\n{tail}")
    return res, elapsed


def measured(sb: BenchSandbox, fn: Callable[[], tuple[CliResult, float]]) -> tuple[Calls, dict[str, int], float]:
    mark = Mark.now(sb)
    _, elapsed = fn()
    calls, ssh = mark.since()
    return calls, ssh, elapsed


def measured_rss(sb: BenchSandbox, project: PulumiProject, stack: str, *args: str) -> tuple[Calls, float, float]:
    """Calls, seconds and the provider process's peak RSS (MiB) of one CLI run."""
    with PeakRss(project) as rss:
        calls, _, elapsed = measured(sb, lambda: run(project, stack, *args))
    return calls, elapsed, rss.peak_mb


def alternate(runs: list[tuple[PulumiProject, str]], rounds: int, args: tuple[str, ...] = PREVIEW_REFRESH,
              label: str = "") -> list[list[float]]:
    """Wall times of `args` on each (project, stack), alternately, `rounds` times (load hits all alike)."""
    times: list[list[float]] = [[] for _ in runs]
    for i in range(rounds):
        for j, (project, stack) in enumerate(runs):
            times[j].append(run(project, stack, *args)[1])
        done = zip(runs, times, strict=True)
        log(f"  {label} round {i + 1}: " + ", ".join(f"{s} {t[-1]:.2f} s" for (_, s), t in done))
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_ssh(ssh: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(ssh.items()))
