"""Issue 17: drift found by a refresh names its field in the update `preview --refresh --diff`
proposes, for every resource type, and `ignore_changes` keeps a refreshed difference.

One stack holds one resource of each type (tests/e2e/projects/drift). The drift is made behind
Pulumi's back: over the emulator's REST API and with setcfg on the NAS simulator.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import aio
from tests.e2e.harness import PulumiProject

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
NAS = "site-a"
GROUP = "Drift Staff"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
STEP = re.compile(r"^\s*[-+~<>]+ (?P<type>pulumi-python:dynamic/\S+): \((?P<op>[\w-]+)\)")
CHANGED = re.compile(r"^\s*([-+~]) (\w+)\s*:")

#: Resource name -> the fields the drift below changes (what the proposed update must mark).
DRIFTED = {
    "bind-user": {"email", "password_never_expires"},
    "workgroup": {"workgroup"},
    "group": {"description", "members"},
    "nas": {"base_dn"},
}


def steps(output: str, op: str) -> dict[str, str]:
    """The text of each `op` step of a `--diff` output, by resource name (from its urn line)."""
    out: dict[str, str] = {}
    buf: list[str] | None = None
    name: str | None = None
    for line in output.splitlines():
        m = STEP.match(line)
        if m or not line.startswith(" "):
            buf = [line] if m and m["op"] == op else None
            name = None
            continue
        if buf is None:
            continue
        buf.append(line)
        urn = re.search(r"\[urn=\S+::(\S+?)\]", line)
        if name is None and urn:
            name = urn.group(1)
        if name:
            out[name] = "\n".join(buf)
    return out


def changed_fields(block: str) -> set[str]:
    return {m.group(2) for line in block.splitlines() if (m := CHANGED.match(line))}


def members(jc: aio.Emulator) -> set[str]:
    group_id = jc.group(GROUP)["id"]
    ids = {c["to"]["id"] for c in jc.get(f"/v2/usergroups/{group_id}/members", limit=100)}
    return {u["username"] for u in jc.user_records() if u["_id"] in ids}


def make_drift(jc: aio.Emulator, sandbox: dict[str, Any]) -> None:
    user = jc.user("svc-drift")
    jc.call("PUT", f"/systemusers/{user['_id']}", {"email": "drifted@example.com", "password_never_expires": False})
    domain = jc.domain_records()[0]
    jc.call("PUT", f"/v2/ldapservers/{jc.ldap_id}/sambadomains/{domain['id']}", {"name": "OTHER", "sid": domain["sid"]})
    group = jc.group(GROUP)
    jc.call("PUT", f"/v2/usergroups/{group['id']}", {**group, "description": "edited in the console"})
    jc.call("POST", f"/v2/usergroups/{group['id']}/members",
            {"op": "remove", "type": "user", "id": jc.user("bob")["_id"]})
    aio.in_nas(sandbox, NAS, '/sbin/setcfg LDAP "Base DN" "o=drifted,dc=example"')


@pytest.fixture
def stack(sandbox: dict[str, Any], pulumi_project: Callable[..., PulumiProject]) -> Iterator[PulumiProject]:
    aio.Emulator(sandbox).reset(sandbox)  # alice, bob, carol
    p = pulumi_project("drift")
    p.config_set("jcqnap:sandbox", str(Path(sandbox["state_dir"]) / "sandbox.json"))
    p.config_set("nas", NAS)
    try:
        yield p
    finally:
        p.config_set("ignoreMembers", "false")
        p.destroy().check()  # puts the NAS simulator back as other tests expect it


def test_refreshed_drift_names_each_field_and_ignore_changes_keeps_it(
    stack: PulumiProject, sandbox: dict[str, Any]
) -> None:
    p, jc = stack, aio.Emulator(sandbox)
    t0 = time.monotonic()
    p.up().check()
    figures = {"up_s": time.monotonic() - t0}
    password = p.outputs(show_secrets=True)["bindPassword"]

    make_drift(jc, sandbox)
    t0 = time.monotonic()
    res = p.preview("--refresh", "--expect-no-changes")
    figures["preview_refresh_s"] = time.monotonic() - t0
    assert res.returncode == 7, res.output
    updates = steps(res.output, "update")
    assert set(updates) == set(DRIFTED), res.output
    for name, fields in DRIFTED.items():
        block = updates[name]
        # The JumpCloud resources mark exactly what drifted; LdapConfig may also show inputs that
        # are not known during a preview (values from resources being updated).
        marked = changed_fields(block)
        assert fields <= marked, f"{name}: marked {marked}, drifted {fields}\n{block}"
        if name != "nas":
            assert marked == fields, f"{name}: marked {marked}, drifted {fields}\n{block}"
        for field in fields:
            assert re.search(rf"~ {field}\s*:.*=>", block) or field == "members", block
    assert re.search(r'~ email\s*: "drifted@example.com" => "svc-drift@example.com"', updates["bind-user"])
    assert re.search(r'~ base_dn\s*: "o=drifted,dc=example" => ', updates["nas"])
    assert re.search(r'\+ \[1\]\s*: "bob"', updates["group"]), updates["group"]
    print("\n" + "\n".join(updates.values()))

    # Secrets read back as inputs stay secret: the generated password is no input, the NAS's are ciphertext.
    state = p.export_text()
    assert password not in state and password not in res.output
    resources = {r["urn"].rsplit("::", 1)[1]: r for r in json.loads(state)["deployment"]["resources"]}
    assert "password" not in resources["bind-user"]["inputs"]
    for key in ("root_password", "nas_password"):
        assert SECRET_SIG in resources["nas"]["inputs"][key], key

    # The membership is managed elsewhere from now on: the refreshed difference proposes nothing.
    p.config_set("ignoreMembers", "true")
    p.up("--refresh").check()
    assert members(jc) == {"alice"}  # up repaired the rest but left the membership alone
    assert jc.group(GROUP)["description"] == "managed by jcqnap"
    assert jc.user("svc-drift")["email"] == "svc-drift@example.com"
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 0, res.output
    print("figures:", {k: round(v, 1) for k, v in figures.items()})
