#!/usr/bin/env python3
"""`make bench`: what a jcqnap run costs, measured with the real `pulumi` CLI on a sandbox of its own.

    .venv/bin/python bench/run.py [--latency-ms 50] [--rounds 5] [--keep-temp] [--no-scale] [--plot PNG]

Everything lives in a temp dir (/tmp/jcqnap-bench-XXXX): the sandbox (JCQNAP_SANDBOX_DIR, started
with `python -m jcqnap.sandbox up` and always stopped with `down`), a copy of the project with its
stack files, the two baseline projects and a `file://` backend with a passphrase. The emulator
answers every API request after `--latency-ms`, like a real network.

Baselines: the latency-bound one (bench/latency_project: one GET per JumpCloud object, one SSH
command per NAS, the least any drift check must do) is the goal's yardstick; the null provider
(bench/null_project: no I/O at all) is kept for information.

Figures come from the emulator's request log (`/_sandbox/requests`), the NAS simulators' sshd logs
("Accepted" lines), /proc (the provider process's peak RSS), `python -X importtime` and wall time
measured side by side in this one run. The table at the end has one row per figure with its goal;
the exit code is 0 when every goal is met, 1 when one is not. The scale figures (bench/scale.py) and
the plot of wall time against managed groups (docs/performance-scale.png) come last.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import imports, scale  # noqa: E402
from bench.common import (  # noqa: E402
    PREVIEW,
    PREVIEW_REFRESH,
    UP,
    Row,
    add_latency_stack,
    add_stack,
    alternate,
    bench_source,
    fmt_ssh,
    jcqnap_config,
    jcqnap_source,
    log,
    measured,
    median,
    run,
)
from bench.measure import nas_read_times  # noqa: E402
from bench.sandbox import BenchSandbox, Calls  # noqa: E402
from tests.e2e.harness import PulumiProject, engine_bin  # noqa: E402

MEMBERS = 5
SMALL, LARGE = 20, 200
RETRY_AFTER = 1
FAULT_RATE = 0.1
GOAL_RATIO = 1.25


# -- the benchmark ------------------------------------------------------------------------------
def bench(tmp: Path, engine: str, latency_ms: int, rounds: int, with_scale: bool,
          plot: Path | None, scale_managed: tuple[int, ...] = scale.MANAGED) -> tuple[list[Row], dict[str, Calls]]:
    rows: list[Row] = []
    routes: dict[str, Calls] = {}
    log("figure 8: import time per process (python -X importtime, best of 5)")
    rows += import_rows(imports.measure(runs=5))
    sb = BenchSandbox(tmp / "sandbox")
    try:
        log(f"sandbox up in {sb.state}")
        sb.up()
        n_users = scale.USERS if with_scale else LARGE * MEMBERS
        log(f"creating {n_users} JumpCloud users ({n_users // 100} pages of /systemusers)")
        users = sb.create_users([f"bu{i:04d}" for i in range(n_users)])
        sb.set_faults(latency_ms=latency_ms)
        log(f"emulator latency: {latency_ms} ms per API request")
        projects = Projects(tmp, engine)
        points = _figures(projects, sb, list(users), latency_ms, rounds, rows, routes)
        log("figure 9: one NAS settings read over SSH, files parsed by jcqnap vs getcfg per key")
        t = nas_read_times(sb.info, rounds=max(rounds, 5), verify_user="bench-main", verify_group="bmain-000")
        rows.append(Row("9. one NAS settings read (1 SSH exec): config files read once and parsed by jcqnap vs "
                        "one getcfg per key (median)", f"{t['file'] * 1000:.0f} ms vs {t['getcfg'] * 1000:.0f} ms",
                        "-", None))
        rows.append(Row("9. one NAS read in parts (median, one open session): exec `true` (the baseline's read); "
                        "settings + status; + NSS user/group checks (LdapConfig.read)",
                        f"{t['true'] * 1000:.0f} ms; {t['file'] * 1000:.0f} ms; {t['read'] * 1000:.0f} ms",
                        "-", None))
        if with_scale:
            existing = {SMALL: ("d20", "lat-d20", MEMBERS), LARGE: ("d200", "lat-d200", MEMBERS)}
            rows += scale.figures(projects.jc, projects.latency, sb, users, latency_ms, routes, points,
                                  scale_managed, existing)
        if plot is not None:
            from bench.measure import plot as draw

            org = f"org of {len(users)} users, {scale.ORG_GROUPS} groups; " if with_scale else ""
            draw(points, plot, f"preview --refresh, {org}{latency_ms} ms API latency, best of 2 (make bench)")
            log(f"plot written to {plot}")
        return rows, routes
    finally:
        log("sandbox down")
        sb.down()


class Projects:
    def __init__(self, tmp: Path, engine: str) -> None:
        self.jc = PulumiProject(jcqnap_source(tmp), tmp / "jcqnap", engine)
        self.null = PulumiProject(bench_source(tmp, "null_project"), tmp / "null", engine)
        self.latency = PulumiProject(bench_source(tmp, "latency_project"), tmp / "latency", engine)


def import_rows(costs: list[imports.ImportCost]) -> list[Row]:
    rows = [Row(f"8. imports of the {c.process} (beyond pulumi)", f"{c.own * 1000:.0f} ms; loads "
                f"{', '.join(c.heavy) or 'none of ' + '/'.join(imports.HEAVY)}", "-", None) for c in costs]
    by = {c.process: set(c.heavy) for c in costs}
    bad = (by["program, directory stack"] & {"paramiko", "ldap3"}) | (by["program, site stack"] & {
        "jcqnap.jumpcloud", "paramiko", "ldap3"}) | (by["provider process, directory stack"] & {"paramiko", "ldap3"})
    rows.append(Row("8. imports only where used", f"{', '.join(sorted(bad)) or 'nothing'} loaded where unused",
                    "directory stack and program: no paramiko/ldap3; site: no JumpCloud client", not bad))
    return rows


def _figures(p: Projects, sb: BenchSandbox, users: list[str], latency_ms: int, rounds: int,
             rows: list[Row], routes: dict[str, Calls]) -> dict[str, list[tuple[int, float]]]:
    jc, null, latency = p.jc, p.null, p.latency
    small = [users[i * MEMBERS:(i + 1) * MEMBERS] for i in range(LARGE)]
    add_stack(jc, "main", jcqnap_config(sb, "main", SMALL, small, 6000, with_nas=True))
    add_stack(jc, "d20", jcqnap_config(sb, "d20", SMALL, small, 7000, with_nas=False))
    add_stack(jc, "f20", jcqnap_config(sb, "f20", SMALL, small, 7500, with_nas=False))
    add_stack(jc, "d200", jcqnap_config(sb, "d200", LARGE, small, 8000, with_nas=False))
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

    log("null and latency-bound baselines: up")
    run(null, "null", *UP)
    lat_main = add_latency_stack(latency, jc, "main", sb, nas=nas)
    calls, ssh, _ = measured(sb, lambda: run(latency, lat_main, *UP))
    log("latency-bound baseline: preview --refresh (its calls)")
    calls, ssh, _ = measured(sb, lambda: run(latency, lat_main, *PREVIEW_REFRESH))
    rows.append(Row("5. latency-bound baseline: `preview --refresh` calls and SSH sessions",
                    f"{calls.gets} GETs ({calls.total} calls); SSH {fmt_ssh(ssh)}",
                    f"{jc_objects} GETs, 1 session per NAS", calls.total == calls.gets == jc_objects
                    and all(v == 1 for v in ssh.values())))
    log(f"figure 5: preview --refresh, jcqnap vs latency-bound vs null provider, alternately x{rounds}")
    t_jc, t_lat, t_null = alternate([(jc, "main"), (latency, lat_main), (null, "null")], rounds, label="main")
    ratio = median(t_jc) / median(t_lat)
    rows.append(Row(f"5. `preview --refresh` wall time, jcqnap / latency-bound baseline ({resources} resources, "
                    f"median of {rounds}, {latency_ms} ms latency)",
                    f"{ratio:.2f}x ({median(t_jc):.2f} s / {median(t_lat):.2f} s)", f"<= {GOAL_RATIO}x",
                    ratio <= GOAL_RATIO))
    rows.append(Row("5. (information) jcqnap / null provider (no I/O at all), same runs",
                    f"{median(t_jc) / median(t_null):.2f}x ({median(t_jc):.2f} s / {median(t_null):.2f} s)",
                    "-", None))

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
    lat20, lat200 = (add_latency_stack(latency, jc, s, sb) for s in ("d20", "d200"))
    for s in (lat20, lat200):
        run(latency, s, *UP)

    log(f"figure 6: preview --refresh, {SMALL} vs {LARGE} groups (jcqnap and latency-bound), alternately x2")
    c20, _, _ = measured(sb, lambda: run(jc, "d20", *PREVIEW_REFRESH))
    c200, _, _ = measured(sb, lambda: run(jc, "d200", *PREVIEW_REFRESH))
    routes[f"`preview --refresh` ({LARGE} groups)"] = c200
    w = alternate([(jc, "d20"), (jc, "d200"), (latency, lat20), (latency, lat200)], 2, label="d20/d200")
    w20, w200, l20, l200 = (min(x) for x in w)
    goal = LARGE / SMALL * 1.05
    rows.append(Row(f"6. scaling {SMALL} -> {LARGE} groups x {MEMBERS} members: calls of `preview --refresh`",
                    f"{c200.total / c20.total:.2f}x ({c20.total} -> {c200.total})", f"<= {goal:.1f}x",
                    c200.total / c20.total <= goal))
    rows.append(Row(f"6. scaling {SMALL} -> {LARGE} groups: wall time of `preview --refresh` (best of 2)",
                    f"{w200 / w20:.2f}x ({w20:.1f} s -> {w200:.1f} s)", f"<= {goal:.1f}x", w200 / w20 <= goal))
    rows.append(Row(f"6. {LARGE} groups: jcqnap / latency-bound `preview --refresh` (best of 2)",
                    f"{w200 / l200:.2f}x ({w200:.1f} s / {l200:.1f} s; {SMALL} groups: {w20 / l20:.2f}x)",
                    f"<= {GOAL_RATIO}x", w200 / l200 <= GOAL_RATIO))
    return {"jcqnap": [(SMALL, w20), (LARGE, w200)], "latency-bound baseline": [(SMALL, l20), (LARGE, l200)]}


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
    parser.add_argument("--no-scale", action="store_true",
                        help=f"skip the org of {scale.USERS} users and {scale.ORG_GROUPS} groups (figure 10)")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "performance-scale.png",
                        help="where to write the wall time vs managed groups plot (default docs/performance-scale.png)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the plot")
    parser.add_argument("--scale-managed", default=",".join(map(str, scale.MANAGED)),
                        help="sizes of the new managed stacks in the scale org, comma-separated (default "
                        f"{','.join(map(str, scale.MANAGED))}); the 20- and 200-group stacks are measured there too")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)

    found = shutil.which("pulumi")
    engine = os.path.dirname(found) if found else engine_bin()
    tmp = Path(tempfile.mkdtemp(prefix="jcqnap-bench-"))
    started = time.monotonic()
    try:
        managed = tuple(int(n) for n in args.scale_managed.split(",") if n.strip())
        rows, routes = bench(tmp, engine, args.latency_ms, args.rounds, not args.no_scale,
                             None if args.no_plot else args.plot, managed)
    finally:
        if args.keep_temp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    load = os.getloadavg()
    print(f"jcqnap benchmark: pulumi CLI {engine}, emulator latency {args.latency_ms} ms per API request, "
          f"{time.monotonic() - started:.0f} s in all; {os.cpu_count()} CPUs, load average at the end "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min)")
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
