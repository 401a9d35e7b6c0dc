"""Issue 13, through the real CLI: take over an org and a NAS that were set up by hand.

One sandbox, one project, a directory and a site stack reused across the steps (in file order):
`seed-manual` lays down the hand-made setup, `discover` writes both stack files reading only,
`pulumi up` adopts everything with 0 JumpCloud writes and no NAS write or restart while SMB logins
keep working, one added member is exactly one write, the replacements keep people logged in, and
destroy leaves every pre-existing object as it was found.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jcqnap import demo
from tests.e2e import aio
from tests.e2e.takeover import (
    DIR,
    NAS,
    SITE,
    NasWatch,
    SmbProbe,
    discover,
    hand_made_world,
    org_snapshot,
    read_config,
    stack_path,
    up,
    write_config,
    writes,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def world(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with hand_made_world(sandbox, tmp_path_factory, "brownfield") as w:
        yield w


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
