#!/usr/bin/env python3
"""`make bench`: what a jcqnap run costs, measured with the real `pulumi` CLI on a sandbox of its own.

    .venv/bin/python bench/run.py [--latency-ms 50] [--rounds 5] [--keep-temp]

Everything lives in a temp dir (/tmp/jcqnap-bench-XXXX): the sandbox (JCQNAP_SANDBOX_DIR, started
with `python -m jcqnap.sandbox up` and always stopped with `down`), a copy of the project with its
stack files, the null-provider baseline project (bench/null_project) and a `file://` backend with a
passphrase. The emulator answers every API request after `--latency-ms`, like a real network.

Figures come from the emulator's request log (`/_sandbox/requests`), the NAS simulators' sshd logs
("Accepted" lines) and wall time measured side by side in this one run. The table at the end has
one row per figure with its goal; the exit code is 0 when every goal is met, 1 when one is not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.sandbox import BenchSandbox, Calls, Mark  # noqa: E402
from tests.e2e.harness import CliResult, PulumiProject, engine_bin  # noqa: E402

MEMBERS = 5
SMALL, LARGE = 20, 200
RETRY_AFTER = 1
FAULT_RATE = 0.1


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


def null_source(tmp: Path) -> Path:
    src = tmp / "src-null"
    shutil.copytree(ROOT / "bench" / "null_project", src, ignore=shutil.ignore_patterns("__pycache__"))
    return src


def jcqnap_config(sb: BenchSandbox, tag: str, groups: int, users: list[str], gid0: int,
                  with_nas: bool) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "jcqnap:role": "all-in-one" if with_nas else "directory",
        "jcqnap:sandbox": str(sb.json_path),
        "jcqnap:bindUser": {"username": f"bench-{tag}", "email": f"bench-{tag}@example.com"},
        "jcqnap:workgroup": f"B{tag.upper()}"[:15],
        "jcqnap:groups": [
            {"name": f"Bench {tag} {i:03d}", "linuxName": f"b{tag}-{i:03d}", "gid": gid0 + i,
             "members": users[i * MEMBERS:(i + 1) * MEMBERS]}
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


def run(project: PulumiProject, stack: str, *args: str) -> tuple[CliResult, float]:
    """One CLI run, timed; a non-zero exit stops the benchmark with the CLI's own words."""
    t0 = time.monotonic()
    res = project.run(*args, "--stack", stack)
    elapsed = time.monotonic() - t0
    if res.returncode != 0:
        tail = "\n".join(res.output.strip().splitlines()[-40:])
        raise RuntimeError(f"pulumi {' '.join(args)} --stack {stack} exited {res.returncode}:\n{tail}")
    return res, elapsed


UP = ("up", "--yes", "--skip-preview")
PREVIEW = ("preview",)
PREVIEW_REFRESH = ("preview", "--refresh", "--expect-no-changes")


def measured(sb: BenchSandbox, fn: Callable[[], tuple[CliResult, float]]) -> tuple[Calls, dict[str, int], float]:
    mark = Mark.now(sb)
    _, elapsed = fn()
    calls, ssh = mark.since()
    return calls, ssh, elapsed


def fmt_ssh(ssh: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(ssh.items()))


# -- the benchmark ------------------------------------------------------------------------------
def bench(tmp: Path, engine: str, latency_ms: int, rounds: int) -> tuple[list[Row], dict[str, Calls]]:
    rows: list[Row] = []
    routes: dict[str, Calls] = {}
    sb = BenchSandbox(tmp / "sandbox")
    try:
        log(f"sandbox up in {sb.state}")
        sb.up()
        users = [f"bu{i:04d}" for i in range(LARGE * MEMBERS)]
        log(f"creating {len(users)} JumpCloud users (members of {LARGE} groups x {MEMBERS}, "
            f"{len(users) // 100} pages of /systemusers)")
        sb.create_users(users)
        sb.set_faults(latency_ms=latency_ms)
        log(f"emulator latency: {latency_ms} ms per API request")
        return _figures(tmp, engine, sb, users, latency_ms, rounds, rows, routes)
    finally:
        log("sandbox down")
        sb.down()


def _figures(tmp: Path, engine: str, sb: BenchSandbox, users: list[str], latency_ms: int, rounds: int,
             rows: list[Row], routes: dict[str, Calls]) -> tuple[list[Row], dict[str, Calls]]:
    jc = PulumiProject(jcqnap_source(tmp), tmp / "jcqnap", engine)
    null = PulumiProject(null_source(tmp), tmp / "null", engine)
    add_stack(jc, "main", jcqnap_config(sb, "main", SMALL, users, 6000, with_nas=True))
    add_stack(jc, "d20", jcqnap_config(sb, "d20", SMALL, users, 7000, with_nas=False))
    add_stack(jc, "f20", jcqnap_config(sb, "f20", SMALL, users, 7500, with_nas=False))
    add_stack(jc, "d200", jcqnap_config(sb, "d200", LARGE, users, 8000, with_nas=False))
    nas = len(sb.nas_names)
    add_stack(null, "null", {"jcqnap-bench-null:groups": SMALL, "jcqnap-bench-null:members": MEMBERS,
                             "jcqnap-bench-null:nas": nas})
    jc_objects = 2 + SMALL  # SambaDomain, BindUser, the groups; LdapConfig is SSH only
    resources = jc_objects + nas

    log(f"main: up (create {resources} resources: workgroup, bind user, {SMALL} groups, {nas} LdapConfig)")
    calls, ssh, t_create = measured(sb, lambda: run(jc, "main", *UP))
    rows.append(Row("main: first `up` (create)", f"{t_create:.1f} s, {calls.total} calls, SSH {fmt_ssh(ssh)}",
                    "-", None))

    log("main: second up --refresh (as `make up` runs it)")
    calls, ssh, t = measured(sb, lambda: run(jc, "main", *UP, "--refresh"))
    routes["second `up --refresh` (main)"] = calls
    rows.append(Row("4. writes of a second `up --refresh`", f"{calls.writes} writes ({calls.gets} GETs, {t:.1f} s)",
                    "0", calls.writes == 0))

    log("main: preview (no refresh)")
    calls, ssh, t = measured(sb, lambda: run(jc, "main", *PREVIEW))
    sessions = sum(ssh.values())
    rows.append(Row("1. no-op `preview`: JumpCloud calls, SSH sessions", f"{calls.total} and {sessions} ({t:.1f} s)",
                    "0 and 0", calls.total == 0 and sessions == 0))

    log("main: preview --refresh")
    calls, ssh, t = measured(sb, lambda: run(jc, "main", *PREVIEW_REFRESH))
    routes["`preview --refresh` (main)"] = calls
    shared = {sb.ldap_server_id}
    per_object, repeated = calls.per_object_gets(shared), calls.repeated_list_pages(shared)
    rows.append(Row("2. `preview --refresh`: JumpCloud calls",
                    f"{calls.gets} GETs: {per_object} per object for {jc_objects} objects, "
                    f"{calls.gets - per_object} list pages ({repeated} repeated); {calls.writes} writes",
                    f"<= {jc_objects} per object + list pages, each page once; 0 writes",
                    per_object <= jc_objects and repeated == 0 and calls.writes == 0))
    rows.append(Row("3. `preview --refresh`: SSH sessions", fmt_ssh(ssh), "1 per NAS",
                    all(v == 1 for v in ssh.values())))

    log("null: up")
    run(null, "null", *UP)
    log(f"figure 5: preview --refresh, jcqnap vs null provider, alternately x{rounds}")
    t_jc, t_null = [], []
    for i in range(rounds):
        _, t = run(jc, "main", *PREVIEW_REFRESH)
        t_jc.append(t)
        _, t = run(null, "null", *PREVIEW_REFRESH)
        t_null.append(t)
        log(f"  round {i + 1}: jcqnap {t_jc[-1]:.2f} s, null {t_null[-1]:.2f} s")
    ratio = statistics.median(t_jc) / statistics.median(t_null)
    rows.append(Row(f"5. `preview --refresh` wall time, jcqnap / null provider ({resources} resources, "
                    f"median of {rounds}, {latency_ms} ms latency)",
                    f"{ratio:.2f}x ({statistics.median(t_jc):.2f} s / {statistics.median(t_null):.2f} s)",
                    "<= 1.25x", ratio <= 1.25))

    log(f"d20: up (create {SMALL} groups, no faults)")
    calls, _, t_base = measured(sb, lambda: run(jc, "d20", *UP))
    base_calls = calls.total
    log(f"f20: up (create {SMALL} groups) with {FAULT_RATE:.0%} 429 + Retry-After: {RETRY_AFTER}")
    sb.set_faults(status=429, rate=FAULT_RATE, retry_after=RETRY_AFTER, latency_ms=latency_ms)
    try:
        calls, _, t_fault = measured(sb, lambda: run(jc, "f20", *UP))
    finally:
        sb.set_faults(latency_ms=latency_ms)
    waits = calls.throttled * RETRY_AFTER
    allowed = waits + 0.2 * t_base
    extra = t_fault - t_base
    rows.append(Row(f"7. `up` ({SMALL} groups) under {FAULT_RATE:.0%} 429, Retry-After: {RETRY_AFTER}",
                    f"succeeded; {t_fault:.1f} s vs {t_base:.1f} s: +{extra:.1f} s "
                    f"({calls.throttled} 429s of {calls.total} calls, vs {base_calls} without faults)",
                    f"succeeds; extra <= {waits} s waits + 20% ({allowed:.1f} s)", extra <= allowed))

    log(f"d200: up (create {LARGE} groups x {MEMBERS} members)")
    calls, _, t = measured(sb, lambda: run(jc, "d200", *UP))
    rows.append(Row(f"d200: first `up` (create {LARGE} groups)", f"{t:.1f} s, {calls.total} calls", "-", None))

    log(f"figure 6: preview --refresh, {SMALL} vs {LARGE} groups, alternately x2")
    small: list[tuple[Calls, float]] = []
    large: list[tuple[Calls, float]] = []
    for _ in range(2):
        c, _, t = measured(sb, lambda: run(jc, "d20", *PREVIEW_REFRESH))
        small.append((c, t))
        c, _, t = measured(sb, lambda: run(jc, "d200", *PREVIEW_REFRESH))
        large.append((c, t))
    routes[f"`preview --refresh` ({LARGE} groups)"] = large[0][0]
    c20, c200 = small[0][0].total, large[0][0].total
    w20, w200 = min(t for _, t in small), min(t for _, t in large)
    goal = LARGE / SMALL * 1.05
    rows.append(Row(f"6. scaling {SMALL} -> {LARGE} groups x {MEMBERS} members: calls of `preview --refresh`",
                    f"{c200 / c20:.2f}x ({c20} -> {c200})", f"<= {goal:.1f}x", c200 / c20 <= goal))
    rows.append(Row(f"6. scaling {SMALL} -> {LARGE} groups: wall time of `preview --refresh` (best of 2)",
                    f"{w200 / w20:.2f}x ({w20:.1f} s -> {w200:.1f} s)", f"<= {goal:.1f}x", w200 / w20 <= goal))
    return rows, routes


def table(rows: list[Row]) -> str:
    lines = ["| figure | measured | goal | pass/fail |", "|---|---|---|---|"]
    for r in rows:
        verdict = "info" if r.ok is None else ("pass" if r.ok else "FAIL")
        lines.append(f"| {r.figure} | {r.measured} | {r.goal} | {verdict} |")
    return "\n".join(lines)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the sandbox


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=int, default=50, help="emulator latency per API request (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated runs for the null-provider ratio")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir (stacks, logs) for inspection")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    found = shutil.which("pulumi")
    engine = os.path.dirname(found) if found else engine_bin()
    tmp = Path(tempfile.mkdtemp(prefix="jcqnap-bench-"))
    started = time.monotonic()
    try:
        rows, routes = bench(tmp, engine, args.latency_ms, args.rounds)
    finally:
        if args.keep_temp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"jcqnap benchmark: pulumi CLI {engine}, emulator latency {args.latency_ms} ms per API request, "
          f"{time.monotonic() - started:.0f} s in all")
    print()
    print(table(rows))
    print()
    for name, calls in routes.items():
        print(f"JumpCloud calls of {name}:")
        for route, n in sorted(calls.by_route().items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {n:5d}  {route}")
    failed = [r.figure for r in rows if r.ok is False]
    if failed:
        print(f"\n{len(failed)} goal(s) not met; see docs/performance.md for causes and fixes.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
