"""`python -m jcqnap fleet preview|up|verify|rotate`: the directory, then every site, in one command.

    python -m jcqnap fleet preview [--stacks PATTERN ...] [--parallel N]
    python -m jcqnap fleet up      [--stacks PATTERN ...] [--parallel N] [--no-refresh]
    python -m jcqnap fleet verify  [--stacks PATTERN ...] [--parallel N]
    python -m jcqnap fleet rotate  [--stacks PATTERN ...] [--parallel N]

Stacks are the project's `stacks/Pulumi.<name>.yaml` files (PATTERN: shell globs, e.g. 'prod-*').
Directory (and all-in-one) stacks run first; then the sites run in parallel, at most N at a time
(default 4). A site whose directory stack failed is skipped. Each stack shows a live progress line;
a summary table (stack, role, result, changes, duration) closes the run.

Exit status: 0 clean, 7 when a stack has pending changes (preview/verify: drift), 1 when a stack
failed or was skipped.

`rotate` sets a new random bind password (`jcqnap:bindPassword`, secret) in every selected directory
stack, runs `up` on it and then, right after, `up` on every site (without a refresh, to keep the
window short). Between a directory's password change and a site's update, a NAS that has to bind
again (a restart, a dropped connection) fails to; the run prints that window per site. Commit the
changed directory stack file afterwards, or CI's next run sets the old password back.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from jcqnap.errors import JcqnapError
from jcqnap.fleet.progress import Progress, StackRun, summary_table
from jcqnap.fleet.runner import EXIT_FAILED, VERBS, Fleet, exit_code
from jcqnap.fleet.stacks import FleetStack, discover

#: How long `pulumi config set` may take (it only encrypts and writes the stack file).
CONFIG_TIMEOUT = 120


def set_secret(project_dir: Path, stack: str, key: str, value: str) -> None:
    """`pulumi config set --secret KEY` with the value on stdin, so it never appears on a command line.

    (The Automation API's `set_config` passes the value as an argument, visible to other users in `ps`.)
    """
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise JcqnapError("fleet rotate: the pulumi CLI is not on PATH; run it through make or add it to PATH")
    res = subprocess.run([pulumi, "config", "set", "--secret", key, "--stack", stack], input=value, text=True,
                         cwd=project_dir, capture_output=True, timeout=CONFIG_TIMEOUT, check=False)
    if res.returncode != 0:
        err = (res.stderr.strip().splitlines() or ["unknown error"])[-1].replace(value, "***")
        raise JcqnapError(f"fleet rotate: could not set {key} on stack {stack}: {err}; is the stack initialised "
                          "and its secrets provider reachable (PULUMI_CONFIG_PASSPHRASE)?")


def rotation_windows(runs: list[StackRun], stacks: list[FleetStack]) -> dict[str, float]:
    """Per site: seconds from its directory's BindUser update starting to its last LdapConfig update ending.

    That is an upper bound of the time its NAS boxes held a password JumpCloud no longer accepted.
    """
    by_name = {r.name: r for r in runs}
    out: dict[str, float] = {}
    for s in stacks:
        site, directory = by_name.get(s.name), by_name.get(s.directory or "")
        if s.role != "site" or site is None or directory is None:
            continue
        start = [t for t, op, typ, _ in directory.begun if typ.endswith("BindUser") and op == "update"]
        end = [t for t, op, typ, _ in site.steps if typ.endswith("LdapConfig") and op == "update"]
        if start and end:
            out[s.name] = max(end) - min(start)
    return out


def rotate(project_dir: Path, stacks: list[FleetStack], fleet: Fleet) -> list[StackRun]:
    from jcqnap.providers.bind_user import generate_password

    directories = [s for s in stacks if s.first]
    if not directories:
        raise JcqnapError("fleet rotate: no directory stack among the selected stacks; include it in --stacks")
    for d in directories:
        set_secret(project_dir, d.name, "jcqnap:bindPassword", generate_password())
        fleet.progress.update(d.name, "rotate: new bindPassword set (secret)")
    runs = fleet.run("up", stacks)
    windows = rotation_windows(runs, stacks)
    for name, seconds in windows.items():
        fleet.progress.message(f"rotation window {name}: {seconds:.1f}s from the password change in JumpCloud "
                               "to the NAS update (upper bound)")
    return runs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m jcqnap fleet", description=__doc__.split("\n")[0],
                                     epilog="See the module docstring (python -m pydoc jcqnap.fleet.cli).")
    parser.add_argument("verb", choices=[*VERBS, "rotate"])
    parser.add_argument("--stacks", nargs="+", metavar="PATTERN", help="stack name globs (default: all)")
    parser.add_argument("--parallel", type=int, default=4, metavar="N", help="sites at a time (default 4)")
    parser.add_argument("--no-refresh", action="store_true", help="up: skip the refresh before updating")
    parser.add_argument("--report", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project folder (default: here)")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be 1 or more")
    project_dir = args.project.resolve()
    try:
        stacks = discover(project_dir, args.stacks)
    except JcqnapError as exc:
        print(exc)
        return EXIT_FAILED
    os.chdir(project_dir)  # jcqnap verify and the pulumi CLI read the project from the working folder
    progress = Progress([s.name for s in stacks])
    fleet = Fleet(project_dir, progress, parallel=args.parallel, refresh=not args.no_refresh,
                  site_refresh=False if args.verb == "rotate" else None)
    try:
        runs = rotate(project_dir, stacks, fleet) if args.verb == "rotate" else fleet.run(args.verb, stacks)
    except JcqnapError as exc:
        print(exc)
        return EXIT_FAILED
    print()
    print(summary_table(runs))
    code = exit_code(runs)
    if args.report:
        report = {"verb": args.verb, "exit": code, "stacks": [r.as_dict() for r in runs]}
        if args.verb == "rotate":
            report["windows"] = rotation_windows(runs, stacks)
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return code
