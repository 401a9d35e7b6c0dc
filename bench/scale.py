"""Figure 10: an org of thousands of users and a thousand groups, of which jcqnap manages 50 and 500.

Two directory stacks (`s50`, `s500`, 20 members per group) are created at no latency (creating is not
what is measured), then the org is filled up to `ORG_GROUPS` groups with groups jcqnap does not manage
(made through the API as an admin would, `OTHER_MEMBERS` members each). At the bench's latency it measures, per
stack: calls and wall time of `preview --refresh` and of a second `up --refresh`, the provider
process's peak RSS, and the latency-bound baseline over the same objects. Cost must grow with the
managed groups, not with the org (apart from the org-wide list pages).
"""

from __future__ import annotations

from bench.common import (
    PREVIEW_REFRESH,
    UP,
    Row,
    add_latency_stack,
    add_stack,
    alternate,
    jcqnap_config,
    log,
    measured_rss,
    run,
)
from bench.sandbox import BenchSandbox, Calls
from tests.e2e.harness import PulumiProject

USERS = 5000
ORG_GROUPS = 1000
MANAGED = (50, 500)
MEMBERS = 20
#: Members of the groups jcqnap does not manage. jcqnap never reads them (only their list pages), so
#: they change no figure; adding 20 each through the emulator would take ~13 minutes on a busy machine.
OTHER_MEMBERS = 0
GID0 = {50: 9000, 500: 10000}
GOAL_RATIO = 1.25


def figures(jc: PulumiProject, latency: PulumiProject, sb: BenchSandbox, users: dict[str, str], latency_ms: int,
            routes: dict[str, Calls], points: dict[str, list[tuple[int, float]]], managed: tuple[int, ...] = MANAGED,
            existing: dict[int, tuple[str, str, int]] | None = None) -> list[Row]:
    """`managed`: sizes of new stacks `s<n>` (20 members per group); `existing`: managed count ->
    (jcqnap stack, its latency-bound twin, members per group) already made by run.py, measured too."""
    names, ids = list(users), list(users.values())
    stacks: dict[int, tuple[str, str, int]] = dict(existing or {})
    sb.set_faults(latency_ms=0)
    try:
        offset = 0
        for n in managed:
            members = [[names[(offset + i * MEMBERS + k) % len(names)] for k in range(MEMBERS)] for i in range(n)]
            offset += n * MEMBERS
            add_stack(jc, f"s{n}", jcqnap_config(sb, f"s{n}", n, members, GID0.get(n, 9000 + 10 * n), with_nas=False))
            log(f"s{n}: up (create {n} groups x {MEMBERS} members; no latency, creation is not measured)")
            _, t = run(jc, f"s{n}", *UP)
            log(f"s{n}: created in {t:.0f} s")
        count = sb.count_groups()
        extra = max(0, ORG_GROUPS - count)
        log(f"org: {count} groups so far; adding {extra} groups jcqnap does not manage, {OTHER_MEMBERS} members each")
        sb.create_groups({f"Other {i:04d}": [ids[(i * OTHER_MEMBERS + k) % len(ids)] for k in range(OTHER_MEMBERS)]
                          for i in range(extra)})
        for n in managed:
            twin = add_latency_stack(latency, jc, f"s{n}", sb)
            run(latency, twin, *UP)
            stacks[n] = (f"s{n}", twin, MEMBERS)
    finally:
        sb.set_faults(latency_ms=latency_ms)
    total = sb.count_groups()
    org = f"org of {len(users)} users, {total} groups"
    rows: list[Row] = []
    calls: dict[int, Calls] = {}
    shared = {sb.ldap_server_id}
    sizes = sorted(stacks)
    for n in sizes:
        stack, _, per = stacks[n]
        log(f"{stack}: preview --refresh, then a second up --refresh ({org}; calls, peak RSS)")
        c, t, rss = measured_rss(sb, jc, stack, *PREVIEW_REFRESH)
        calls[n] = c
        routes[f"`preview --refresh` ({n} managed groups, {org})"] = c
        pages = c.gets - c.per_object_gets(shared)
        rows.append(Row(f"10. {org}; {n} managed x {per} members: `preview --refresh`",
                        f"{c.gets} GETs ({c.per_object_gets(shared)} per object, {pages} list pages, "
                        f"{c.repeated_list_pages(shared)} repeated), {c.writes} writes; {t:.1f} s; "
                        f"provider peak RSS {rss:.0f} MiB", f"<= {n + 2} per object + list pages once; 0 writes",
                        c.per_object_gets(shared) <= n + 2 and c.repeated_list_pages(shared) == 0 and c.writes == 0))
        cu, tu, rssu = measured_rss(sb, jc, stack, *UP, "--refresh")
        rows.append(Row(f"10. {org}; {n} managed: second `up --refresh`",
                        f"{cu.gets} GETs, {cu.writes} writes; {tu:.1f} s; provider peak RSS {rssu:.0f} MiB",
                        "0 writes", cu.writes == 0))
    log(f"figure 10: preview --refresh, jcqnap vs latency-bound at {sizes} managed groups, alternately x2")
    w = alternate([(jc, stacks[n][0]) for n in sizes] + [(latency, stacks[n][1]) for n in sizes], 2, label="scale")
    best = [min(x) for x in w]
    j, b = dict(zip(sizes, best[:len(sizes)], strict=True)), dict(zip(sizes, best[len(sizes):], strict=True))
    for n in sizes:
        rows.append(Row(f"10. {n} managed groups ({org}): `preview --refresh` jcqnap / latency-bound (best of 2)",
                        f"{j[n] / b[n]:.2f}x ({j[n]:.1f} s / {b[n]:.1f} s)", f"<= {GOAL_RATIO}x",
                        j[n] / b[n] <= GOAL_RATIO))
    lo, hi = sizes[0], sizes[-1]
    grow = hi / lo
    c_lo, c_hi = calls[lo].gets, calls[hi].gets
    rows.append(Row(f"10. linear in managed groups: calls {lo} -> {hi} managed ({org})",
                    f"{c_hi / c_lo:.2f}x ({c_lo} -> {c_hi})", f"<= {grow * 1.05:.1f}x", c_hi / c_lo <= grow * 1.05))
    rows.append(Row(f"10. linear in managed groups: wall time {lo} -> {hi} managed (best of 2)",
                    f"{j[hi] / j[lo]:.2f}x ({j[lo]:.1f} s -> {j[hi]:.1f} s)", f"<= {grow * 1.05:.1f}x",
                    j[hi] / j[lo] <= grow * 1.05))
    for n in sizes:
        c = calls[n]
        pages = c.gets - c.per_object_gets(shared)
        rows.append(Row(f"11. group reads at {n} of {total} groups: org-wide snapshot vs per-group reads",
                        f"{c.gets} GETs taken ({pages} list pages); per-group reads would take {3 * n + 2} "
                        f"(3 per group + domain + user)", "-", None))
    points.clear()  # the plot shows one org size: this one
    points["jcqnap"] = [(n, j[n]) for n in sizes]
    points["latency-bound baseline"] = [(n, b[n]) for n in sizes]
    return rows
