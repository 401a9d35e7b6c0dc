"""Run one verb over a fleet of stacks with Pulumi's Automation API.

Each stack gets its own `LocalWorkspace` on the project folder (so the real Pulumi.yaml, program
and stack files are used) and runs in a worker thread; the engine's event stream feeds the live
progress line and records when each resource step started and finished (the rotation report
reads those times).

Verbs:
- `preview`: `pulumi preview --refresh --run-program`; `drift` when any step other than `same` is planned.
- `up`: `pulumi up` (with `--refresh --run-program` unless told otherwise), creating the stack when missing.
- `verify`: the `preview` above, then `jcqnap.verify`'s checks (TLS bind, groups, NAS state).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from jcqnap.fleet import gate
from jcqnap.fleet.progress import QUIET, Progress, StackRun
from jcqnap.fleet.stacks import FleetStack, phases

VERBS = ("preview", "up", "verify")
EXIT_OK, EXIT_FAILED, EXIT_DRIFT = 0, 1, 7
#: Steps that change nothing: they do not count as drift or as an update.
QUIET_OPS = QUIET


def exit_code(runs: list[StackRun]) -> int:
    """1 when a stack failed or was skipped, else 7 when one has pending changes, else 0."""
    if any(r.result in ("failed", "skipped") for r in runs):
        return EXIT_FAILED
    if any(r.result in ("drift", "new") for r in runs):
        return EXIT_DRIFT
    return EXIT_OK


def _short(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _type(token: str) -> str:
    """`jumpcloud:BindUser` for the dynamic provider's `pulumi-python:dynamic/jumpcloud:BindUser`."""
    return token.rsplit("/", 1)[-1] if token.startswith("pulumi-python:dynamic/") else token


def _shown(token: str, op: str) -> bool:
    """Steps worth a progress line: real changes to jcqnap's resources, not the stack or provider plumbing."""
    return op not in QUIET_OPS and not token.startswith(("pulumi:pulumi:", "pulumi:providers:"))


def _first_line(text: str, limit: int = 300) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:limit]
    return ""


class _Events:
    """Turns engine events of one stack into progress lines, step times and error lines."""

    def __init__(self, run: StackRun, progress: Progress, verb: str, opens: Path | None = None) -> None:
        self.run, self.progress, self.verb = run, progress, verb
        self.errors: list[str] = []
        self.lock = threading.Lock()
        #: The gate to open when this (directory) update is saved; `outputs_seen`: the program's
        #: stack outputs were registered (a refresh's own summary comes before that).
        self.opens = opens
        self.outputs_seen = False
        self.failed_step = False

    def __call__(self, event: auto.EngineEvent) -> None:
        t = self.progress.now()
        with self.lock:
            if event.resource_pre_event is not None:
                md = event.resource_pre_event.metadata
                step = (t, md.op.value, _type(md.type), _short(md.urn))
                self.run.begun.append(step)
                if _shown(md.type, step[1]):
                    self.progress.update(self.run.name, f"{self.verb}: {step[1]} {step[2]} {step[3]}...")
            elif event.res_outputs_event is not None:
                md = event.res_outputs_event.metadata
                step = (t, md.op.value, _type(md.type), _short(md.urn))
                self.run.steps.append(step)
                if _shown(md.type, step[1]):
                    self.progress.update(self.run.name, f"{self.verb}: {step[1]} {step[2]} {step[3]} done")
                if md.type == "pulumi:pulumi:Stack" and step[1] not in ("refresh", "read"):
                    self.outputs_seen = True
            elif event.summary_event is not None:
                # The engine is done and every step (the stack outputs too) is saved: sites may read them.
                if self.opens is not None and self.outputs_seen and not (self.errors or self.failed_step):
                    gate.write(self.opens, gate.OPEN)
                    self.progress.update(self.run.name, f"{self.verb}: saved; sites go ahead")
            elif event.res_op_failed_event is not None:
                self.failed_step = True
                self.progress.update(self.run.name, f"{self.verb}: a resource step failed")
            elif event.diagnostic_event is not None and event.diagnostic_event.severity == "error":
                diag = event.diagnostic_event
                line = _first_line(diag.message)
                if line:
                    # Errors about a resource say more than the engine's closing "update failed".
                    (self.errors.insert(0, line) if diag.urn else self.errors.append(line))

    def reason(self, exc: Exception) -> str:
        if self.errors:
            return self.errors[0]
        text = str(exc)
        found = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("error:")]
        return (found[-1][len("error:"):].strip() if found else _first_line(text)) or type(exc).__name__


def _changes(op_map: Mapping[Any, int] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for op, n in (op_map or {}).items():
        key = op.value if hasattr(op, "value") else str(op)
        out[key] = out.get(key, 0) + int(n)
    return out


def _pending(changes: dict[str, int]) -> bool:
    return any(n for op, n in changes.items() if op not in QUIET_OPS)


def _failed_checks(name: str) -> str:
    """'' when jcqnap verify passes on `name`, else one line naming the first failed check and its fix."""
    from jcqnap.verify import verify

    failed = [c for c in verify(name, None) if not c.ok]
    if not failed:
        return ""
    c = failed[0]
    more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
    return f"{c.name} at {c.target}: {c.detail}" + (f"; fix: {c.fix}" if c.fix else "") + more


class Fleet:
    """One fleet run: a verb over stacks, directory stacks first, sites in parallel (bounded).

    For `up`, sites start together with their directory and wait at a gate (`jcqnap.fleet.gate`)
    inside their program until the directory's update has finished, so their start-up overlaps it.
    """

    def __init__(self, project_dir: Path, progress: Progress, parallel: int = 4,
                 refresh: bool = True, site_refresh: bool | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.project_dir = project_dir
        self.progress = progress
        self.parallel = max(1, parallel)
        self.refresh = refresh
        self.site_refresh = refresh if site_refresh is None else site_refresh
        self.env = dict(env or {})

    def _stack(self, name: str, create: bool, env: Mapping[str, str]) -> auto.Stack:
        ws = auto.LocalWorkspace(work_dir=str(self.project_dir), env_vars=dict(env))
        return auto.Stack.create_or_select(name, ws) if create else auto.Stack.select(name, ws)

    def run_one(self, verb: str, fs: FleetStack, wait_at: Path | None = None,
                opens: Path | None = None) -> StackRun:
        """Run `verb` on one stack. `wait_at`: the gate this site waits at; `opens`: the gate this
        directory opens once its update is saved (or closes when it fails)."""
        run = StackRun(fs.name, fs.role, started=self.progress.now())
        events = _Events(run, self.progress, verb, opens)
        env = dict(self.env)
        if wait_at is not None:
            env.update({gate.ENV: str(wait_at), gate.ENV_OWNER: str(os.getpid())})
            self.progress.update(fs.name, f"{verb}: starting (waits for directory stack {fs.directory})")
        else:
            self.progress.update(fs.name, f"{verb}: starting")
        try:
            if verb == "up":
                stack = self._stack(fs.name, create=True, env=env)
                refresh = self.refresh if fs.first else self.site_refresh
                # --run-program: the refresh uses the current stack config (README: When a NAS changes).
                up = stack.up(refresh=refresh, run_program=True if refresh else None, color="never",
                              on_event=events)
                run.changes = _changes(up.summary.resource_changes)
                run.result = "updated" if _pending(run.changes) else "ok"
            else:
                try:
                    stack = self._stack(fs.name, create=False, env=env)
                except auto.StackNotFoundError:
                    run.result, run.detail = "new", "not in the backend yet; `fleet up` creates it"
                    return run
                pre = stack.preview(refresh=True, run_program=True, color="never", on_event=events)
                run.changes = _changes(pre.change_summary)
                run.result = "drift" if _pending(run.changes) else "ok"
                if run.result == "drift":
                    run.detail = f"{run.changes_text()} pending; apply with `fleet up`"
                if verb == "verify":
                    self.progress.update(fs.name, "verify: checking the chain (LDAP bind, groups, NAS)")
                    failed = _failed_checks(fs.name)
                    if failed:
                        run.result, run.detail = "failed", failed
        except auto.ConcurrentUpdateError as exc:
            run.result, run.detail = "failed", f"locked by another update ({events.reason(exc)})"
        except Exception as exc:  # one stack's failure is reported, never raised into the others
            run.result, run.detail = "failed", events.reason(exc)
        finally:
            if opens is not None:  # never leave a site waiting: open (fallback) or close the gate
                gate.write(opens, gate.OPEN if run.result != "failed" else
                           f"{gate.CLOSED}directory stack {fs.name} failed ({run.detail})")
            if run.result == "failed" and not run.changes:  # what a failed `up` did change before it stopped
                for _, op, token, _ in run.steps:
                    if _shown(token, op):
                        run.changes[op] = run.changes.get(op, 0) + 1
            run.ended = self.progress.now()
            self.progress.update(fs.name, f"{run.result} ({run.changes_text()}, {run.duration or 0:.1f}s)"
                                 + (f": {run.detail}" if run.result == "failed" else ""))
        return run

    def run(self, verb: str, stacks: list[FleetStack]) -> list[StackRun]:
        """Directory (and all-in-one) stacks, then sites; a site whose directory failed is skipped."""
        if verb not in VERBS:
            raise ValueError(f"unknown verb {verb!r}")
        first, sites = phases(stacks)
        if verb == "up":
            runs = self._up(first, sites)
        else:
            runs = self._pool(verb, [(s, None, None) for s in first])
            failed = {r.name: r for r in runs if r.result == "failed"}
            runs += self._pool(verb, [(s, None, None) for s in sites if s.directory not in failed])
            runs += [self._skipped(s) for s in sites if s.directory in failed]
        order = {s.name: i for i, s in enumerate(stacks)}
        return sorted(runs, key=lambda r: order[r.name])

    def _up(self, first: list[FleetStack], sites: list[FleetStack]) -> list[StackRun]:
        with tempfile.TemporaryDirectory(prefix="jcqnap-fleet-") as tmp:
            gates = {d.name: Path(tmp) / f"{d.name}.gate" for d in first}
            with ThreadPoolExecutor(max_workers=max(1, len(first))) as dirs, \
                    ThreadPoolExecutor(max_workers=self.parallel) as site_pool:
                dir_jobs = [dirs.submit(self.run_one, "up", d, None, gates[d.name]) for d in first]
                site_jobs = [site_pool.submit(self.run_one, "up", s, gates.get(s.directory or ""), None)
                             for s in sites]
                dir_runs = [j.result() for j in dir_jobs]
                site_runs = [j.result() for j in site_jobs]
        failed = {r.name for r in dir_runs if r.result == "failed"}
        return dir_runs + [self._skipped(s, r) if s.directory in failed else r
                           for s, r in zip(sites, site_runs, strict=True)]

    def _pool(self, verb: str, jobs: list[tuple[FleetStack, Path | None, Path | None]]) -> list[StackRun]:
        if not jobs:
            return []
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(jobs))) as pool:
            return list(pool.map(lambda j: self.run_one(verb, *j), jobs))

    def _skipped(self, s: FleetStack, run: StackRun | None = None) -> StackRun:
        out = run or StackRun(s.name, s.role)
        out.result, out.detail = "skipped", f"directory stack {s.directory} failed; fix it and run again"
        self.progress.update(s.name, f"skipped: directory stack {s.directory} failed")
        return out
