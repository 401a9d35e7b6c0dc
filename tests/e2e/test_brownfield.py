"""Issue 13, through the real CLI: take over an org and a NAS that were set up by hand.

One sandbox, one project, a directory and a site stack reused across the steps (in file order):
`seed-manual` lays down the hand-made setup, `discover` writes both stack files reading only,
`pulumi up` adopts everything with 0 JumpCloud writes and no NAS write or restart while SMB logins
keep working, one added member is exactly one write, the replacements keep people logged in, and
destroy leaves every pre-existing object as it was found.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
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

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
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


@pytest.fixture(scope="module")
def world(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
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
    p = PulumiProject(ROOT, tmp_path_factory.mktemp("brownfield"), engine_bin())
    sb_file = str(state / "sandbox.json")
    p.init(DIR)
    write_config(p, DIR, {"role": "directory", "sandbox": sb_file})
    p.init(SITE)
    write_config(p, SITE, {"role": "site", "sandbox": sb_file, "directoryStack": f"organization/jcqnap/{DIR}",
                           "nas": [{"name": NAS, "sandbox": NAS}]})
    w = {"p": p, "sandbox": sandbox, "setup": setup, "jc": aio.Emulator(sandbox),
         "users": {u["username"]: u for u in setup["users"]},
         "nas": next(n for n in sandbox["nas"] if n["name"] == NAS)}
    yield w
    # Whatever a failed step left: destroy without deleting adopted objects (the default), then put
    # site-a back as the sandbox made it (the tests after this module expect a stock NAS).
    for stack in (SITE, DIR):
        p.use(stack).destroy()
    nas_restore(state, saved)


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


# -- the steps -------------------------------------------------------------------------------------------
def test_1_discover_reads_only_and_writes_matching_config(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    alice = w["users"]["alice"]
    assert demo.smb_login(w["nas"], alice)[0], "the hand-made NAS must serve SMB logins before jcqnap runs"
    w["before"] = org_snapshot(jc)
    jc.clear_log()
    nas = NasWatch(w["sandbox"])

    res = discover(p, DIR)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "service account svc-nas-ldap: exists, will be adopted" in res.stdout
    assert f"pulumi config set --secret bindPassword --stack {DIR}" in res.stdout
    res_site = discover(p, SITE)
    assert res_site.returncode == 0, res_site.stdout + res_site.stderr
    assert "NAS site-a" in res_site.stdout and "LDAP on" in res_site.stdout

    # Read-only: no write to JumpCloud, no change on the NAS (its files, daemons and session log).
    assert [r for r in jc.log() if r["method"] != "GET"] == []
    assert len(jc.log()) > 0
    assert nas.commands(), "discover reads the NAS over SSH"
    assert nas.writes() == [] and nas.unchanged()
    print(f"\ndiscover (directory + site): {len(jc.log())} JumpCloud requests, all GET; "
          f"{len(nas.commands())} NAS commands, none writing; NAS files and daemons unchanged")

    cfg = read_config(p, DIR)
    setup = w["setup"]
    assert cfg["bindUser"]["username"] == "svc-nas-ldap" and cfg["workgroup"] == "HANDMADE"
    assert cfg["domainSid"] == setup["domain_sid"]
    groups = {g["name"]: g for g in cfg["groups"]}
    assert set(groups) == {"NAS Staff", "NAS Managers", "Finance"}  # not the Samba-less "All Staff"
    assert groups["NAS Staff"] == {"name": "NAS Staff", "linuxName": "nas-staff", "gid": 6101,
                                   "description": "People who open the NAS shares", "membersMode": "unmanaged"}
    text = stack_path(p, DIR).read_text() + stack_path(p, SITE).read_text()
    for secret in [setup["bind_user"]["password"], *(u["password"] for u in setup["users"])]:
        assert secret not in text and secret not in res.stdout + res_site.stdout
    assert read_config(p, SITE)["smbMode"] == "ldap_only"


def test_2_without_bind_password_up_fails_before_any_write(world: dict[str, Any]) -> None:
    jc = world["jc"]
    jc.clear_log()
    res = up(world, DIR)
    assert res.returncode != 0
    errors = aio.error_lines(res.output)
    assert any("jcqnap:bindPassword is not set" in e and "pulumi config set --secret bindPassword" in e
               and "rotateBindPassword" in e for e in errors), res.output
    assert "Traceback" not in res.output
    assert writes(jc) == []
    assert org_snapshot(jc) == world["before"]


def test_3_up_adopts_everything_with_no_write_and_logins_keep_working(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    p.use(DIR).config_set("bindPassword", w["setup"]["bind_user"]["password"], secret=True)
    jc.clear_log()
    nas = NasWatch(w["sandbox"])
    res = up(w, DIR).check()
    assert writes(jc) == [], res.output
    adoption = p.use(DIR).outputs()["adoption"]
    assert set(adoption.values()) == {"adopted, unchanged"}, adoption
    assert "adopted, unchanged" in res.output  # the run's own output names each adopted object

    with SmbProbe(w["nas"], w["users"]["carol"]) as probe:
        res = up(w, SITE).check()
    assert probe.results and probe.failures() == [], probe.results
    assert nas.writes() == [] and nas.unchanged(), nas.writes()
    assert "adopted, unchanged" in p.use(SITE).outputs()["nasAdoption"][NAS]
    print(f"\nadopting up: {len(jc.log())} JumpCloud requests, 0 writes; site up: {len(probe.results)} SMB "
          f"logins during it, all OK; NAS: {len(nas.commands())} commands, 0 setcfg/restart")
    assert demo.smb_login(w["nas"], w["users"]["alice"])[0]
    for stack in (DIR, SITE):
        pre = p.use(stack).preview("--refresh", "--expect-no-changes")
        assert pre.returncode == 0, pre.output
    assert writes(jc) == []
    assert org_snapshot(jc) == w["before"]


def test_4_one_added_member_is_exactly_one_write(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    cfg = read_config(p, DIR)
    for g in cfg["groups"]:
        if g["name"] == "NAS Managers":  # carol (and nobody from config) today
            g.update(members=["alice"], membersMode="add-only")
    write_config(p, DIR, {"groups": cfg["groups"]})
    jc.clear_log()
    up(w, DIR).check()
    managers = w["before"]["groups"]["NAS Managers"]["id"]
    assert writes(jc) == [f"POST /api/v2/usergroups/{managers}/members"]
    assert org_snapshot(jc)["groups"]["NAS Managers"]["members"] == ["alice", "carol"]  # carol kept: add-only


def test_5_group_rename_creates_before_it_deletes(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    bob = w["users"]["bob"]
    assert not demo.smb_login(w["nas"], bob)[0]  # in no Samba group yet
    cfg = read_config(p, DIR)
    contractors = {"name": "Contractors", "linuxName": "contractors", "gid": 6200, "members": ["bob"]}
    write_config(p, DIR, {"groups": [*cfg["groups"], contractors]})
    res = up(w, DIR).check()
    assert "created" in res.output
    assert demo.smb_login(w["nas"], bob)[0]

    # Linux name under the same JumpCloud name: refused before any write, with the procedure.
    renamed = [dict(g, linuxName="nas-people") if g["name"] == "NAS Staff" else g for g in cfg["groups"]]
    write_config(p, DIR, {"groups": [*renamed, contractors]})
    jc.clear_log()
    res = up(w, DIR)
    assert res.returncode != 0
    assert any("cannot create group 'NAS Staff'" in e and "maintenance window" in e
               for e in aio.error_lines(res.output)), res.output
    assert writes(jc) == []

    # New name, Linux name and GID: the new group exists (with bob) before the old one goes.
    moved = dict(contractors, name="Contract Staff", linuxName="contract-staff", gid=6201)
    write_config(p, DIR, {"groups": [*cfg["groups"], moved]})
    jc.clear_log()
    with SmbProbe(w["nas"], bob) as probe:
        up(w, DIR).check()
    log = writes(jc)
    create = log.index("POST /api/v2/usergroups")
    old_id = next(r["path"] for r in jc.log() if r["method"] == "DELETE")
    assert create < log.index(f"DELETE {old_id}"), log
    assert probe.results and probe.failures() == [], probe.results
    assert demo.smb_login(w["nas"], bob)[0]


def test_6_bind_username_change_is_refused_with_the_procedure(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    cfg = read_config(p, DIR)
    write_config(p, DIR, {"bindUser": {**cfg["bindUser"], "username": "svc-nas-new"}})
    jc.clear_log()
    res = p.use(DIR).preview()
    assert res.returncode != 0
    assert "would cut off every NAS that binds as 'svc-nas-ldap'" in res.output and "pulumi state" in res.output
    assert writes(jc) == []
    write_config(p, DIR, {"bindUser": cfg["bindUser"]})
    assert demo.smb_login(w["nas"], w["users"]["alice"])[0]


def test_7_renamed_nas_entry_keeps_ldap_on(world: dict[str, Any]) -> None:
    w, p = world, world["p"]
    nas = NasWatch(w["sandbox"])
    # deleteAdopted on first, so the old entry's delete would turn LDAP off if it did not see that
    # the new entry (same address) took the NAS over in this run: that is what is tested here.
    write_config(p, SITE, {"deleteAdopted": True})
    up(w, SITE).check()
    write_config(p, SITE, {"nas": [{"name": "site-a-main", "sandbox": NAS}]})
    with SmbProbe(w["nas"], w["users"]["carol"]) as probe:
        res = up(w, SITE).check()
    assert "site-site-a-main" in res.output and "deleted" in res.output
    assert probe.results and probe.failures() == [], probe.results
    assert nas.writes() == [] and nas.unchanged(), nas.writes()
    assert aio.getcfg(w["sandbox"], NAS, "LDAP", "Enable").upper() == "TRUE"
    print(f"\nNAS entry renamed: {len(probe.results)} SMB logins during the up, all OK; 0 NAS writes")
    write_config(p, SITE, {"deleteAdopted": False})
    up(w, SITE).check()
    assert nas.writes() == [] and nas.unchanged(), nas.writes()


def test_8_destroy_leaves_what_existed_as_found(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    nas = NasWatch(w["sandbox"])
    p.use(SITE).destroy().check()
    assert nas.writes() == [] and nas.unchanged(), nas.writes()
    p.use(DIR).destroy().check()
    after = org_snapshot(jc)
    assert "Contract Staff" not in after["groups"]  # jcqnap created it: gone
    assert after == w["before"]  # everything else exactly as found (alice out of NAS Managers again)
    assert ("system", w["setup"]["linked_system"]) in after["groups"]["Finance"]["links"]
    assert demo.smb_login(w["nas"], w["users"]["alice"])[0]
    assert not demo.smb_login(w["nas"], w["users"]["bob"])[0]
