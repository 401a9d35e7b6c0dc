"""Issue 13's two opt-ins, through the real CLI, on the hand-made org and NAS of `takeover.py`.

A wrong `bindPassword` for the adopted account is refused by one LDAP bind before any write.
`rotateBindPassword: true` gives the adopted service account a new password with exactly one
JumpCloud write, the old password stops binding over LDAP and the new one binds, the site's next
`up` writes it to the NAS (logins work again), and later runs do not rotate again.
`deleteAdopted: true` makes destroy remove what jcqnap took over (the service account, the Samba
domain, the configured groups, LDAP on the NAS) and still nothing that no config names.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jcqnap import demo
from jcqnap.ldapcheck import can_bind
from tests.e2e import aio
from tests.e2e.takeover import (
    DIR,
    NAS,
    SITE,
    NasWatch,
    discover,
    hand_made_world,
    org_snapshot,
    write_config,
    writes,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def world(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with hand_made_world(sandbox, tmp_path_factory, "takeover-opt-ins") as w:
        for stack in (DIR, SITE):
            res = discover(w["p"], stack)
            assert res.returncode == 0, res.stdout + res.stderr
        yield w


def binds(w: dict[str, Any], bind_dn: str, password: str) -> bool:
    ldap = w["sandbox"]["ldap"]
    return can_bind(ldap["uri"], bind_dn, password, ldap["ca_cert"])


def test_1_rotate_bind_password_is_one_write_and_reaches_the_nas(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    old = w["setup"]["bind_user"]["password"]
    svc = jc.user("svc-nas-ldap")
    before = org_snapshot(jc)
    # A wrong bindPassword for the existing account: refused by one LDAP bind, before any write.
    wrong = "Not-Its-Passw0rd-7"
    p.use(DIR).config_set("bindPassword", wrong, secret=True)
    jc.clear_log()
    res = p.use(DIR).up()
    assert res.returncode != 0
    assert any("jcqnap:bindPassword does not bind as the existing service account 'svc-nas-ldap'" in e
               for e in aio.error_lines(res.output)), res.output
    assert wrong not in res.output and "Traceback" not in res.output
    assert writes(jc) == [] and org_snapshot(jc) == before
    p.use(DIR).run("config", "rm", "bindPassword", "--stack", DIR).check()

    # No bindPassword at all: the opt-in alone is enough, and a new password is generated.
    write_config(p, DIR, {"rotateBindPassword": True})
    jc.clear_log()
    res = p.use(DIR).up().check()
    assert writes(jc) == [f"PUT /api/systemusers/{svc['_id']}"], res.output
    outs = p.use(DIR).outputs(show_secrets=True)
    assert any("password (rotateBindPassword)" in note for note in outs["adoption"].values()), outs["adoption"]
    new = outs["bindPassword"]
    assert new and new != old
    assert new not in res.output and new not in p.use(DIR).export_text()
    assert binds(w, outs["bindDn"], new) and not binds(w, outs["bindDn"], old)

    # The NAS still holds the old password: adopting it writes the new one (and only then restarts).
    nas = NasWatch(w["sandbox"])
    res = p.use(SITE).up().check()
    note = p.use(SITE).outputs()["nasAdoption"][NAS]
    assert "bind password written" in note, note
    assert any("root_secret_write" in c or "cat >" in c for c in nas.writes()), nas.writes()
    assert demo.smb_login(w["nas"], w["users"]["alice"])[0]

    # The opt-in stays in the stack file; it acted on first contact only.
    jc.clear_log()
    p.use(DIR).up().check()
    assert writes(jc) == []
    assert p.use(DIR).outputs(show_secrets=True)["bindPassword"] == new
    for stack in (DIR, SITE):
        pre = p.use(stack).preview("--refresh", "--expect-no-changes")
        assert pre.returncode == 0, pre.output


def test_2_delete_adopted_removes_what_was_taken_over_and_nothing_else(world: dict[str, Any]) -> None:
    w, p, jc = world, world["p"], world["jc"]
    before = org_snapshot(jc)
    for stack in (DIR, SITE):
        write_config(p, stack, {"deleteAdopted": True})
    jc.clear_log()
    nas = NasWatch(w["sandbox"])
    p.use(DIR).up().check()
    p.use(SITE).up().check()
    assert writes(jc) == [] and nas.writes() == [], (writes(jc), nas.writes())  # the flag alone writes nothing

    p.use(SITE).destroy().check()
    assert aio.getcfg(w["sandbox"], NAS, "LDAP", "Enable").upper() == "FALSE"
    assert not demo.smb_login(w["nas"], w["users"]["alice"])[0]

    p.use(DIR).destroy().check()
    after = org_snapshot(jc)
    assert "svc-nas-ldap" not in after["users"] and after["domains"] == []
    configured = {"NAS Staff", "NAS Managers", "Finance"}
    assert configured <= set(before["groups"]) and not configured & set(after["groups"])
    # What no config names is still there, unchanged: the Samba-less group and every person.
    assert after["groups"] == {k: v for k, v in before["groups"].items() if k not in configured}
    assert after["users"] == {k: v for k, v in before["users"].items() if k != "svc-nas-ldap"}
