"""A live progress line per stack, and the summary table at the end of a fleet run.

On a terminal the block of lines (one per stack) is redrawn in place; elsewhere (CI logs, pipes)
each change of a stack's line is printed once, prefixed by the seconds since the run started, so a
log reads as a timeline.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

#: Result words, from best to worst. `drift`: changes are pending; `skipped`: not run because a
#: directory stack it needs failed.
RESULTS = ("ok", "updated", "new", "drift", "failed", "skipped")
#: Steps that change nothing (a StackReference is a `read`); they are not listed as changes.
QUIET = frozenset({"same", "read", "refresh"})


@dataclass
class StackRun:
    """What happened to one stack in a fleet run. Times are seconds since the run started."""

    name: str
    role: str
    result: str = "pending"
    changes: dict[str, int] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    #: One line: the error, or what verify found.
    detail: str = ""
    #: Resource steps that finished, as (seconds, op, type, name), in order.
    steps: list[tuple[float, str, str, str]] = field(default_factory=list)
    #: Resource steps that started, same shape.
    begun: list[tuple[float, str, str, str]] = field(default_factory=list)

    @property
    def duration(self) -> float | None:
        return None if self.started is None or self.ended is None else self.ended - self.started

    def changes_text(self) -> str:
        parts = [f"{n} {op}" for op, n in sorted(self.changes.items()) if op not in QUIET and n]
        return ", ".join(parts) if parts else "none"

    def as_dict(self) -> dict[str, object]:
        return {"stack": self.name, "role": self.role, "result": self.result, "changes": dict(self.changes),
                "started": self.started, "ended": self.ended, "duration": self.duration, "detail": self.detail,
                "steps": [list(s) for s in self.steps], "begun": [list(s) for s in self.begun]}


class Progress:
    """Thread-safe live lines, one per stack, keyed by stack name."""

    def __init__(self, names: list[str], out: TextIO | None = None, live: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.t0 = time.monotonic()
        self.width = max((len(n) for n in names), default=5)
        self.lines: dict[str, str] = dict.fromkeys(names, "waiting")
        self.lock = threading.Lock()
        self.drawn = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def update(self, name: str, text: str) -> None:
        with self.lock:
            if self.lines.get(name) == text:
                return
            self.lines[name] = text
            if self.live:
                self._redraw()
            else:
                self.out.write(f"[{self.now():6.1f}s] {name:<{self.width}}  {text}\n")
                self.out.flush()

    def _redraw(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}F")
        for name, text in self.lines.items():
            self.out.write(f"\x1b[2K{name:<{self.width}}  {text}\n")
        self.drawn = len(self.lines)
        self.out.flush()

    def message(self, text: str) -> None:
        """A line outside the per-stack block (printed below it on a terminal)."""
        with self.lock:
            self.out.write(text + "\n")
            self.drawn = 0
            self.out.flush()


def summary_table(runs: list[StackRun]) -> str:
    """stack | role | result | changes | duration, then one line per failure with its reason."""
    header = ("stack", "role", "result", "changes", "duration")
    rows = [(r.name, r.role, r.result, r.changes_text(),
             "-" if r.duration is None else f"{r.duration:.1f}s") for r in runs]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in runs:
        if r.detail and r.result in ("failed", "skipped", "drift", "new"):
            lines.append(f"{r.name}: {r.detail}")
    return "\n".join(lines)
