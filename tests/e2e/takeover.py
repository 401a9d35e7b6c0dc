"""A hand-made org and NAS for the takeover tests (issue 13), and how they watch it.

`hand_made_world` resets the emulator, runs `sandbox seed-manual` (a service account, a workgroup,
Samba groups and NAS site-a configured through its own setcfg, as an admin following the runbook
would), and makes a project with a directory and a site stack pointing at it. Everything here reads
the emulator and the NAS directly, never through jcqnap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from jcqnap import demo
from jcqnap.qnap.profile import DEFAULT_PROFILE
from jcqnap.sandbox import nas as nas_sim
from tests.conftest import sandbox_cli
from tests.e2e import aio
from tests.e2e.harness import ROOT, CliResult, PulumiProject, engine_bin

DIR, SITE = "bf-directory", "bf-site"
NAS = "site-a"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


# -- what exists, read straight from the emulator and the NAS (never through jcqnap) -----------------
def org_snapshot(jc: aio.Emulator) -> dict[str, Any]:
    """Every user, group (attributes, members, associations of every kind) and Samba domain."""
    users = {u["username"]: {k: u.get(k) for k in ("email", "samba_service_user", "ldap_binding_user")}
             for u in jc.user_records()}
    names = {u["_id"]: u["username"] for u in jc.user_records()}
    groups = {}
    for g in jc.group_records():
        full = jc.get(f"/v2/usergroups/{g['id']}")
        members = sorted(names[m["to"]["id"]] for m in jc.get(f"/v2/usergroups/{g['id']}/members"))
        links = sorted((a["to"]["type"], a["to"]["id"]) for a in jc.get(
            f"/v2/usergroups/{g['id']}/associations", targets=["ldap_server", "system"]))
        groups[g["name"]] = {"id": g["id"], "description": full.get("description"),
                             "attributes": full.get("attributes"), "members": members, "links": links}
    return {"users": users, "groups": groups, "domains": jc.domain_records()}


def writes(jc: aio.Emulator) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in jc.log() if r["method"] in WRITE_METHODS]


class NasWatch:
    """NAS `site-a` as seen from the host: its session log, file hashes and daemon pids."""

    def __init__(self, sandbox: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.dir = nas_sim.nas_dir(Path(sandbox["state_dir"]), NAS)
        self.mark()

    def mark(self) -> None:
        self.log_at = len(self._log())
        self.files = aio.nas_files(self.sandbox, NAS)
        self.pids = self._pids()

    def _log(self) -> list[str]:
        path = self.dir / "logs" / "commands.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line).get("command") or "" for line in lines]

    def _pids(self) -> dict[str, str]:
        files = [self.dir / "run/nslcd/nslcd.pid", *sorted((self.dir / "run/samba").glob("smbd*.pid"))]
        return {p.name: p.read_text().strip() for p in files if p.exists()}

    def commands(self) -> list[str]:
        return self._log()[self.log_at:]

    def writes(self) -> list[str]:
        """Commands since `mark` that change settings or restart a service."""
        return [c for c in self.commands() if any(w in c for w in ("setcfg", "restart", " stop", "root_secret_write",
                                                                    "cat >"))]

    def unchanged(self) -> bool:
        return aio.nas_files(self.sandbox, NAS) == self.files and self._pids() == self.pids


class SmbProbe:
    """SMB logins in a loop while a `pulumi` command runs: each one must succeed."""

    def __init__(self, nas: dict[str, Any], user: dict[str, Any]) -> None:
        self.nas, self.user = nas, user
        self.results: list[tuple[bool, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.results.append(demo.smb_login(self.nas, self.user))
            self._stop.wait(0.3)

    def __enter__(self) -> SmbProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=90)

    def failures(self) -> list[str]:
        return [detail for ok, detail in self.results if not ok]


# -- the shared sandbox, project and stacks ----------------------------------------------------------
NAS_PATHS = [DEFAULT_PROFILE.path(n) for n in aio.NAS_FILES]
_CAPTURE = ('for f; do if [ -f "$f" ]; then echo "$(stat -c %a "$f") $(base64 < "$f" | tr -d "\\n")"; '
            "else echo -; fi; done")
_RESTORE = """set -e
IFS= read -r line
mode=${line%% *}
if [ "$line" = "-" ]; then rm -f "$1"; else printf '%s' "${line#* }" | base64 -d > "$1"; chmod "$mode" "$1"; fi
"""


def nas_capture(state: Path) -> list[str]:
    """Each LDAP-related NAS file as `mode base64` (or `-`), to put site-a back for the tests after us."""
    out = nas_sim.run_in_nas(state, NAS, ["sh", "-c", _CAPTURE, "x", *NAS_PATHS])
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def nas_restore(state: Path, saved: list[str]) -> None:
    for path, line in zip(NAS_PATHS, saved, strict=True):
        nas_sim.run_in_nas(state, NAS, ["sh", "-c", _RESTORE, "x", path], input_text=line + "\n")
    enabled = nas_sim.run_in_nas(state, NAS, ["/sbin/getcfg", "LDAP", "Enable"]).stdout.strip().upper() == "TRUE"
    ldap = DEFAULT_PROFILE.command("ldap_restart" if enabled else "ldap_stop")
    nas_sim.run_in_nas(state, NAS, ["sh", "-c", f"{ldap}; {DEFAULT_PROFILE.command('smb_restart')}"], timeout=180)


def stack_path(p: PulumiProject, stack: str) -> Path:
    return p.dir / "stacks" / f"Pulumi.{stack}.yaml"


def write_config(p: PulumiProject, stack: str, config: dict[str, Any]) -> None:
    path = stack_path(p, stack)
    doc = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    doc["config"] = {**(doc.get("config") or {}), **{f"jcqnap:{k}": v for k, v in config.items()}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def read_config(p: PulumiProject, stack: str) -> dict[str, Any]:
    doc = yaml.safe_load(stack_path(p, stack).read_text()) or {}
    return {k.partition(":")[2]: v for k, v in (doc.get("config") or {}).items()}


def discover(p: PulumiProject, stack: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jcqnap", "discover", "--stack", stack], cwd=p.dir, env=p.env,
                          capture_output=True, text=True, timeout=300, check=False)


def up(w: dict[str, Any], stack: str) -> CliResult:
    return w["p"].use(stack).up()


@contextmanager
def hand_made_world(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
                    name: str) -> Iterator[dict[str, Any]]:
    """The seeded org and NAS, and a project whose two stacks point at them (no other config yet)."""
    requests.post(f"{sandbox['jumpcloud']['sandbox_url']}/_sandbox/reset", timeout=10).raise_for_status()
    aio.Emulator(sandbox).faults()
    aio.clear_nas_knobs(sandbox)
    state = Path(sandbox["state_dir"])
    saved = nas_capture(state)
    res = sandbox_cli(state, "seed-manual")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "NAS site-a configured by hand" in res.stdout
    setup_file = state / "manual-setup.json"
    assert oct(setup_file.stat().st_mode & 0o777) == "0o600"
    setup = json.loads(setup_file.read_text())
    assert setup["bind_user"]["password"] not in res.stdout
    p = PulumiProject(ROOT, tmp_path_factory.mktemp(name), engine_bin())
    sb_file = str(state / "sandbox.json")
    p.init(DIR)
    write_config(p, DIR, {"role": "directory", "sandbox": sb_file})
    p.init(SITE)
    write_config(p, SITE, {"role": "site", "sandbox": sb_file, "directoryStack": f"organization/jcqnap/{DIR}",
                           "nas": [{"name": NAS, "sandbox": NAS}]})
    w = {"p": p, "sandbox": sandbox, "setup": setup, "jc": aio.Emulator(sandbox),
         "users": {u["username"]: u for u in setup["users"]},
         "nas": next(n for n in sandbox["nas"] if n["name"] == NAS)}
    try:
        yield w
    finally:
        # Whatever a failed step left: destroy without deleting adopted objects (unless the stack
        # says so), then put site-a back as the sandbox made it (later tests expect a stock NAS).
        for stack in (SITE, DIR):
            p.use(stack).destroy()
        nas_restore(state, saved)
