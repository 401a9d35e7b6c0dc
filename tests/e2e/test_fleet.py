"""Fleet operations on shared state: the real project, a directory and two site stacks, their Pulumi
state in a real S3 store (SeaweedFS from `sandbox up --s3`), driven by `python -m jcqnap fleet`.

Proves: the sites update in parallel and read the directory through a StackReference with every
byte of state in the bucket; `fleet preview|verify` exit 0 clean, 7 on drift, 1 on failure, and a
failed directory stops its sites; a second concurrent `up` on one stack is refused by the S3 lock and
nothing is corrupted; a bind password rotation (`fleet rotate`) while every NAS is forced to bind
again every few seconds keeps each site's SMB outage under 30 s (docs/rotation.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from jcqnap import demo
from jcqnap.qnap.profile import DEFAULT_PROFILE
from jcqnap.sandbox import nas as nas_sim
from jcqnap.sandbox import s3
from tests.conftest import sandbox_cli
from tests.e2e.aio import BASE_GROUPS, BIND_USER, WORKGROUP, Emulator
from tests.e2e.harness import ROOT, PulumiProject, engine_bin

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DIRECTORY, SITES = "f-directory", ("f-site-a", "f-site-b")
FLEET_TIMEOUT = 900
#: The issue's bound for the outage a rotation may cause at one site.
WINDOW_LIMIT = 30.0


class Fleet:
    """The project copy on S3 state, its stacks and the sandbox, with a runner for the fleet CLI."""

    def __init__(self, p: PulumiProject, sandbox: dict[str, Any], users: dict[str, dict[str, Any]]) -> None:
        self.p, self.sandbox, self.users = p, sandbox, users
        self.state = Path(sandbox["state_dir"])
        #: The report of the fixture's first `fleet up`.
        self.first_up: dict[str, Any] = {}

    def run(self, *args: str) -> tuple[int, str, dict[str, Any]]:
        """`python -m jcqnap fleet <args>` on this test's stacks (the copy also holds the repo's local ones)."""
        report = self.p.dir / f"report-{time.monotonic_ns()}.json"
        select = [] if "--stacks" in args else ["--stacks", "f-*"]
        res = subprocess.run([sys.executable, "-m", "jcqnap", "fleet", *args, *select, "--report", str(report)],
                             cwd=self.p.dir, env=self.p.env, capture_output=True, text=True, timeout=FLEET_TIMEOUT,
                             check=False)
        data = json.loads(report.read_text()) if report.exists() else {}
        return res.returncode, res.stdout + res.stderr, data

    def keys(self, prefix: str) -> list[str]:
        """Object keys under `prefix` in the state bucket, read from SeaweedFS's filer (not through Pulumi)."""
        filer, bucket = self.sandbox["s3"]["filer_url"], self.sandbox["s3"]["bucket"]
        out: list[str] = []
        todo = [prefix.strip("/")]
        while todo:
            path = todo.pop()
            res = requests.get(f"{filer}/buckets/{bucket}/{path}/", headers={"Accept": "application/json"}, timeout=10)
            if res.status_code == 404:
                continue
            res.raise_for_status()
            for entry in res.json().get("Entries") or []:
                rel = entry["FullPath"].split(f"/buckets/{bucket}/", 1)[1]
                (todo if entry["Mode"] & (1 << 31) else out).append(rel)
        return sorted(out)

    def smb(self, nas: str, user: str) -> bool:
        entry = next(n for n in self.sandbox["nas"] if n["name"] == nas)
        return demo.smb_login(entry, self.users[user])[0]

    def smb_detail(self, nas: str, user: str) -> str:
        entry = next(n for n in self.sandbox["nas"] if n["name"] == nas)
        return demo.smb_login(entry, self.users[user])[1]


def _stack_file(p: PulumiProject, stack: str, config: dict[str, Any]) -> None:
    (p.dir / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))


def _by_stack(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["stack"]: s for s in report.get("stacks", [])}


@pytest.fixture(scope="module")
def fleet(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The session sandbox plus SeaweedFS; the directory and both sites brought up by `fleet up`."""
    res = sandbox_cli(Path(sandbox["state_dir"]), "up", "--s3")
    assert res.returncode == 0, res.stdout + res.stderr
    info = json.loads((Path(sandbox["state_dir"]) / "sandbox.json").read_text())
    users = {u["username"]: u for u in Emulator(info).reset(info)}
    p = PulumiProject(ROOT, tmp_path_factory.mktemp("fleet"), engine_bin(), s3.pulumi_env(info))
    sandbox_json = str(Path(info["state_dir"]) / "sandbox.json")
    _stack_file(p, DIRECTORY, {
        "jcqnap:role": "directory", "jcqnap:sandbox": sandbox_json, "jcqnap:workgroup": WORKGROUP,
        "jcqnap:bindUser": {"username": BIND_USER, "email": f"{BIND_USER}@example.com"},
        "jcqnap:groups": BASE_GROUPS,
    })
    for stack, nas in zip(SITES, ("site-a", "site-b"), strict=True):
        _stack_file(p, stack, {"jcqnap:role": "site", "jcqnap:sandbox": sandbox_json,
                               "jcqnap:directoryStack": f"organization/jcqnap/{DIRECTORY}",
                               "jcqnap:nas": [{"name": nas, "sandbox": nas}]})
    f = Fleet(p, info, users)
    code, out, report = f.run("up", "--parallel", "2")
    assert code == 0, out
    f.first_up = report
    # JumpCloud makes a Samba hash only from a password set once Samba is configured: set them again.
    demo.seed_demo_users(info)
    yield f
    # The sites' destroys side by side (each is one pulumi process), then the directory.
    sites = [subprocess.Popen(["pulumi", "destroy", "--yes", "--skip-preview", "--stack", s, "--non-interactive"],
                              cwd=p.dir, env=p.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for s in SITES]
    for proc in sites:
        proc.wait(timeout=FLEET_TIMEOUT)
    p.use(DIRECTORY).destroy()


def test_fleet_on_s3_state_parallel_sites_exit_codes_and_stop_rule(fleet: Fleet) -> None:
    runs = _by_stack(fleet.first_up)
    assert {n: r["result"] for n, r in runs.items()} == {DIRECTORY: "updated", SITES[0]: "updated",
                                                          SITES[1]: "updated"}
    # The sites ran side by side: each started before the other ended.
    a, b = runs[SITES[0]], runs[SITES[1]]
    assert a["started"] < b["ended"] and b["started"] < a["ended"], runs
    # Their LdapConfig updates came after the directory's last step (they read its outputs).
    dir_done = max(t for t, *_ in runs[DIRECTORY]["steps"])
    assert all(t > dir_done for s in SITES for t, _, typ, _ in runs[s]["steps"] if typ == "qnap:LdapConfig")
    # StackReference worked: both NAS boxes accept a Samba member and refuse an outsider.
    for nas in ("site-a", "site-b"):
        assert fleet.smb(nas, "alice"), fleet.smb_detail(nas, "alice")
        assert not fleet.smb(nas, "bob"), nas
    # Every stack's state is an object in the bucket (read from SeaweedFS itself), nothing on local disk.
    keys = fleet.keys(".pulumi/stacks")
    assert {f".pulumi/stacks/jcqnap/{s}.json" for s in (DIRECTORY, *SITES)} <= set(keys), keys
    assert not any(fleet.p.backend.iterdir())

    # Drift on one NAS: preview exits 7 naming the site; verify exits 1 with the failed check and the fix.
    nas_sim.run_in_nas(fleet.state, "site-a", ["/sbin/setcfg", "System", "Workgroup", "OTHERWG"])
    code, out, report = fleet.run("preview", "--stacks", "f-site-*")
    assert code == 7, out
    assert {n: r["result"] for n, r in _by_stack(report).items()} == {SITES[0]: "drift", SITES[1]: "ok"}
    code, out, report = fleet.run("verify", "--stacks", SITES[0])
    assert code == 1, out
    assert "workgroup" in _by_stack(report)[SITES[0]]["detail"].lower(), out
    code, out, _ = fleet.run("up", "--stacks", "f-site-*")
    assert code == 0, out
    code, out, report = fleet.run("verify")  # every stack: no drift and the whole chain checks out
    assert code == 0, out
    assert {n: r["result"] for n, r in _by_stack(report).items()} == dict.fromkeys((DIRECTORY, *SITES), "ok")
    header = next(ln for ln in out.splitlines() if ln.startswith("stack "))
    assert header.split() == ["stack", "role", "result", "changes", "duration"], out

    # A directory stack that fails stops its sites: they are skipped, the run exits 1.
    path = fleet.p.dir / "stacks" / f"Pulumi.{DIRECTORY}.yaml"
    good = path.read_text()
    try:
        cfg = yaml.safe_load(good)
        cfg["config"]["jcqnap:workgroup"] = "WAY-TOO-LONG-WORKGROUP"
        path.write_text(yaml.safe_dump(cfg))
        code, out, report = fleet.run("up")
    finally:
        path.write_text(good)
    assert code == 1, out
    results = {n: r["result"] for n, r in _by_stack(report).items()}
    assert results == {DIRECTORY: "failed", SITES[0]: "skipped", SITES[1]: "skipped"}, out
    assert "jcqnap:workgroup" in _by_stack(report)[DIRECTORY]["detail"]
    assert all(not r["steps"] or all(op in ("same", "read", "refresh") for _, op, *_ in r["steps"])
               for n, r in _by_stack(report).items() if n in SITES)


def test_second_concurrent_up_on_one_stack_is_refused_and_state_intact(fleet: Fleet) -> None:
    p = fleet.p.use(DIRECTORY)
    jc = Emulator(fleet.sandbox)
    jc.faults(latency_ms=2500)  # the first up's refresh now holds the stack's lock for a while
    first = subprocess.Popen(["pulumi", "up", "--yes", "--refresh", "--skip-preview", "--stack", DIRECTORY,
                              "--non-interactive"], cwd=p.dir, env=p.env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300
        locks: list[str] = []
        while not locks and time.monotonic() < deadline and first.poll() is None:
            locks = [k for k in fleet.keys(".pulumi/locks") if f"/{DIRECTORY}/" in k]
            time.sleep(0.2)
        assert locks, "the first up never took its lock in the bucket"
        second = p.up()
        assert second.returncode != 0
        assert "locked" in second.output, second.output
    finally:
        jc.faults()
        out, _ = first.communicate(timeout=FLEET_TIMEOUT)
    assert first.returncode == 0, out
    assert not [k for k in fleet.keys(".pulumi/locks") if f"/{DIRECTORY}/" in k]
    assert p.export()["deployment"]["resources"]
    assert p.preview("--expect-no-changes").returncode == 0


class Prober(threading.Thread):
    """Forces one NAS to bind to LDAP again (ldap.sh restart), then logs in over SMB; again and again."""

    def __init__(self, fleet: Fleet, nas: str) -> None:
        super().__init__(daemon=True)
        self.fleet, self.nas = fleet, nas
        self.stop = threading.Event()
        self.probes: list[tuple[float, float, bool]] = []  # (start, end, login ok)
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.monotonic()
            res = nas_sim.run_in_nas(self.fleet.state, self.nas, ["sh", "-c", DEFAULT_PROFILE.command("ldap_restart")],
                                     timeout=60)
            if res.returncode != 0:
                self.errors.append(res.stderr.strip())
            ok = self.fleet.smb(self.nas, "alice")
            self.probes.append((t0, time.monotonic(), ok))
            self.stop.wait(1.0)

    def window(self) -> float:
        """Upper bound of the outage: last good login before the first failure to the first good one after."""
        bad = [i for i, (_, _, ok) in enumerate(self.probes) if not ok]
        if not bad:
            return 0.0
        before = self.probes[bad[0] - 1][1] if bad[0] > 0 else self.probes[0][0]
        after = next((end for _, end, ok in self.probes[bad[-1] + 1:] if ok), float("inf"))
        return after - before


def test_rotation_outage_window_per_site_under_30s(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    probers = {nas: Prober(fleet, nas) for nas in ("site-a", "site-b")}
    for pr in probers.values():
        pr.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(len(pr.probes) >= 2 for pr in probers.values()):
            time.sleep(0.5)
        assert all(pr.probes and all(ok for *_, ok in pr.probes) for pr in probers.values()), \
            {n: pr.probes for n, pr in probers.items()}  # forced re-binds alone break nothing
        old = fleet.p.use(DIRECTORY).outputs(show_secrets=True)["bindPassword"]
        code, out, report = fleet.run("rotate")
        assert code == 0, out
        settle = time.monotonic() + 60  # until every NAS has logged in again after the rotation
        while time.monotonic() < settle and not all(pr.probes[-1][2] for pr in probers.values()):
            time.sleep(0.5)
    finally:
        for pr in probers.values():
            pr.stop.set()
        for pr in probers.values():
            pr.join(timeout=120)
    new = fleet.p.use(DIRECTORY).outputs(show_secrets=True)["bindPassword"]
    assert new != old and old not in out and new not in out
    windows = {nas: pr.window() for nas, pr in probers.items()}
    tool = report.get("windows", {})
    with capsys.disabled():
        print("\nrotation outage window per site (SMB logins failing while each NAS re-binds every ~2 s): "
              + ", ".join(f"{n} {w:.1f}s" for n, w in windows.items())
              + "; fleet's own bound: " + ", ".join(f"{n} {w:.1f}s" for n, w in tool.items()))
    for nas, pr in probers.items():
        assert not pr.errors, pr.errors
        assert any(not ok for *_, ok in pr.probes), f"{nas}: no failed login, so the re-binds measured nothing"
        assert pr.probes[-1][2], f"{nas}: logins did not come back after the rotation"
        assert windows[nas] < WINDOW_LIMIT, (nas, windows, pr.probes)
    assert set(tool) == set(SITES) and all(0 < w < WINDOW_LIMIT for w in tool.values()), tool
