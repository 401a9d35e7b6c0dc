"""What the bench measures besides the emulator's request log: the provider process's peak memory, the
objects a jcqnap stack manages (for the latency-bound baseline), one NAS read, and the scale plot."""

from __future__ import annotations

import json
import os
import statistics
import textwrap
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.e2e.harness import PulumiProject


class PeakRss:
    """Peak resident memory (VmHWM) of the dynamic provider processes started by one project's CLI runs.

    A thread polls /proc for `python -m pulumi.dynamic` processes whose environment carries this
    project's PULUMI_HOME (other agents on the machine run their own), and keeps the highest
    VmHWM seen; VmHWM is the kernel's own peak, so a sample between two polls is not lost as long as
    the process is still alive at the next poll.
    """

    def __init__(self, project: PulumiProject, interval: float = 0.1) -> None:
        self.marker = f"PULUMI_HOME={project.env['PULUMI_HOME']}".encode()
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    self._sample(pid)
            self._stop.wait(self.interval)

    def _sample(self, pid: str) -> None:
        try:
            if b"pulumi.dynamic" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return
            if self.marker not in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                return
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def stack_objects(project: PulumiProject, stack: str) -> dict[str, Any]:
    """The JumpCloud objects of a jcqnap stack, as API paths one GET each reads (from its state)."""
    res = project.run("stack", "export", "--stack", stack)
    if res.returncode != 0:
        raise RuntimeError(f"pulumi stack export --stack {stack} failed: {res.output[-2000:]}")
    out: dict[str, Any] = {"groups": []}
    for r in json.loads(res.stdout)["deployment"]["resources"]:
        kind, rid, outs = r["type"].rsplit(":", 1)[-1], r.get("id"), r.get("outputs") or {}
        if kind == "SambaDomain":
            out["domain"] = f"/v2/ldapservers/{outs['ldap_server_id']}/sambadomains/{rid}"
        elif kind == "BindUser":
            out["user"] = f"/systemusers/{rid}"
        elif kind == "SambaGroup":
            out["groups"].append(f"/v2/usergroups/{rid}")
    return out


def nas_read_times(sandbox: dict[str, Any], rounds: int, verify_user: str | None = None,
                   verify_group: str | None = None) -> dict[str, float]:
    """Median seconds of the parts of one LdapConfig read over one SSH session (connect not included).

    `true`: one exec and nothing else (the latency-bound baseline's NAS read); `file`: the settings
    read as jcqnap does it (config files printed once and parsed, status commands); `getcfg`: the
    same with one getcfg per key; `read`: `file` plus the NSS checks of the verify user and group,
    which is what `LdapConfig.read` runs.
    """
    from jcqnap.qnap.apply import read_fact
    from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile
    from jcqnap.qnap.ssh import NasSession, NasTarget

    nas = sandbox["nas"][0]
    target = NasTarget(host=nas["ssh_host"], port=int(nas["ssh_port"]), user=nas["admin_user"],
                       host_key=nas["host_key"], password=nas["admin_password"])
    every = {s.name: {"read_with": "getcfg"} for s in DEFAULT_PROFILE.settings}
    by_getcfg = Profile.from_overrides({"settings": every})
    times: dict[str, list[float]] = {"true": [], "file": [], "getcfg": [], "read": []}
    with NasSession(target) as session:
        for _ in range(rounds):
            t0 = time.monotonic()
            session.run(["true"])
            times["true"].append(time.monotonic() - t0)
            for name, profile, user, group in (("file", DEFAULT_PROFILE, None, None),
                                               ("getcfg", by_getcfg, None, None),
                                               ("read", DEFAULT_PROFILE, verify_user, verify_group)):
                t0 = time.monotonic()
                fact = read_fact(session, profile, verify_user=user, verify_group=group)
                times[name].append(time.monotonic() - t0)
                assert fact.settings.raw, "the read returned no settings"
    return {name: statistics.median(ts) for name, ts in times.items()}


def plot(points: dict[str, list[tuple[int, float]]], path: Path, title: str) -> None:
    """Wall time of `preview --refresh` against managed groups, one line per series (matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for i, (label, series) in enumerate(points.items()):
        xs, ys = zip(*sorted(series), strict=True)
        ax.plot(xs, ys, marker="o", label=label)
        for x, y in zip(xs, ys, strict=True):  # the first series' values above its points, the others' below
            ax.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 6 if i == 0 else -13),
                        ha="center", fontsize=8)
    ax.set_xscale("log")
    ticks = sorted({x for series in points.values() for x, _ in series})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("managed groups in the stack, log scale\n(20 members per group at 50 and 500, 5 at 20 and 200)",
                  fontsize=9)
    ax.set_ylabel("`pulumi preview --refresh` wall time (s)")
    ax.set_title(textwrap.fill(title, 80), fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
