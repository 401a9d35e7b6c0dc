"""Issue 9, hostile-input sweep through the stack config of the real project, at `pulumi preview`.

Every value is either rejected before anything is touched, with its field named, or stored and
sent literally. To stay cheap, values that config validation rejects go in one config (each in its
own slot: `groups[7].linuxName`, `nas[3].hostKey` ...), since one preview lists every problem;
the scalar `workgroup` gets one preview per value. The rejected config is then run through `up`:
no JumpCloud write, NAS files byte-identical. Values that are legal are created by one `up` and
read back from the emulator exactly as written; a refresh then sees no drift.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.aio import BASE_GROUPS, Emulator, Stack, base_config, error_lines, nas_state
from tests.e2e.harness import ROOT, PulumiProject

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MEGABYTE = "x" * (1 << 20)
WRONG_TYPE_KEY = "ssh-rsa " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"\x00" * 36).decode()

# (class, field, value): each goes into its own group slot of an otherwise valid group.
GROUP_REJECTS: list[tuple[str, str, Any]] = [
    ("empty", "name", ""),
    ("whitespace only", "name", "   \t "),
    ("megabyte", "name", MEGABYTE),
    ("LDAP NUL", "name", "NAS\x00Users"),
    ("shell newline", "name", "ok\nrm -rf /"),
    ("right-to-left override", "name", "\u202egnp.exe"),
    ("right-to-left mark", "name", "\u200fStaff"),
    ("DN trailing space", "name", "Staff  "),
    ("DN leading space", "name", " Staff"),
    ("shell ;", "linuxName", "nas;id"),
    ("shell |", "linuxName", "nas|id"),
    ("shell &", "linuxName", "nas&id"),
    ("shell $()", "linuxName", "$(id)"),
    ("shell backtick", "linuxName", "`id`"),
    ("shell quote", "linuxName", "nas'x"),
    ("shell double quote", "linuxName", 'nas"x'),
    ("LDAP *", "linuxName", "*"),
    ("LDAP ( )", "linuxName", "nas)(gid=*"),
    ("LDAP backslash", "linuxName", "nas\\2a"),
    ("DN ,", "linuxName", "nas,ou=x"),
    ("DN +", "linuxName", "nas+x"),
    ("DN < >", "linuxName", "<nas>"),
    ("DN =", "linuxName", "cn=nas"),
    ("DN leading #", "linuxName", "#nas"),
    ("upper case", "linuxName", "NasUsers"),
    ("space", "linuxName", "nas users"),
    ("unicode", "linuxName", "näs"),
    ("megabyte", "linuxName", MEGABYTE),
    ("GID 0", "gid", 0),
    ("GID negative", "gid", -5),
    ("GID not a number", "gid", "5101; id"),
    ("duplicate GID", "gid", BASE_GROUPS[0]["gid"]),
    ("duplicate name", "name", BASE_GROUPS[0]["name"]),
    ("duplicate name, other case", "name", BASE_GROUPS[1]["name"].upper()),
    ("username upper case", "members", ["Alice"]),
    ("username space", "members", ["al ice"]),
    ("username LDAP filter", "members", ["alice)(uid=*"]),
    ("username shell", "members", ["alice;id"]),
    ("username NUL", "members", ["alice\x00"]),
    ("username empty", "members", [""]),
]

# (class, field, value) in extra NAS entries; a valid entry is name/host/port/user/hostKey.
NAS_REJECTS: list[tuple[str, str, Any]] = [
    ("host key not a key", "hostKey", "not a key"),
    ("host key not base64", "hostKey", "ssh-ed25519 !!!notbase64!!!"),
    ("host key type mismatch", "hostKey", WRONG_TYPE_KEY),
    ("host key empty", "hostKey", ""),
    ("host key with newline", "hostKey", "ssh-ed25519 AAAA\nssh-rsa AAAA"),
    ("host shell", "host", "127.0.0.1;id"),
    ("host $()", "host", "$(id)"),
    ("host option", "host", "-oProxyCommand=id"),
    ("user space", "user", "ad min"),
    ("user option", "user", "-oProxyCommand=id"),
    ("user upper case", "user", "Admin"),
    ("name shell", "name", "a;b"),
]

# Scalar keys, one value each, in the same batch.
SCALAR_REJECTS: list[tuple[str, str, Any]] = [
    ("username upper case + space", "bindUser", {"username": "Samba Bind", "email": "s@example.com"}),
    ("DN in SID", "domainSid", "S-1-5-21-1-2-3,ou=x"),
    ("plain LDAP without allowInsecureLdap", "ldapSecurity", "ldap"),
    ("workgroup over 15 characters", "workgroup", "WORKGROUP-TOO-LONG"),
]

# One preview each: the workgroup has a single slot.
WORKGROUP_REJECTS = ["A;B", "A|B", "A&B", "A$(ID)", "A`ID`", 'A"B', "A B", "A*B", "A,B", "A=B",
                     "#WG", "WG\u200f", "ÄRGER", "WG\nX", "   "]

# Legal values: created by one `up`, read back exactly.
LITERAL_NAMES = ["Ops; rm -rf / #", "$(reboot)", "`id`", "a | b & c", "O'Brien \"Q\"", "*)(cn=*",
                 "back\\slash", "cn=evil,ou=x", "a+b<c>=d;e", "#hash", "Ünïcødé 日本 ✓", "עברית", "a:b,c"]


def slot_group(i: int, **over: Any) -> dict[str, Any]:
    g: dict[str, Any] = {"name": f"Hostile {i}", "linuxName": f"hostile-{i}", "gid": 6000 + i, "members": ["alice"]}
    g.update(over)
    return g


@pytest.fixture(scope="module")
def world(sandbox: dict[str, Any], pulumi_engine: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Emulator]]:
    jc = Emulator(sandbox)
    jc.reset(sandbox)
    p = PulumiProject(ROOT, tmp_path_factory.mktemp("hostile"), pulumi_engine).init("hostile")
    stack = Stack(p, base_config(sandbox))
    stack.up().check()
    yield stack, jc
    stack.write(base_config(sandbox))
    p.destroy().check()


def test_rejected_values_name_their_field_and_touch_nothing(world: Any, sandbox: dict[str, Any]) -> None:
    stack, jc = world
    good = copy.deepcopy(stack.config)
    sim = sandbox["nas"][0]
    groups = copy.deepcopy(BASE_GROUPS)
    expected: list[tuple[str, str]] = []  # (field key, class)
    for cls, fld, value in GROUP_REJECTS:
        i = len(groups)
        groups.append(slot_group(i, **{fld: value}))
        expected.append((f"jcqnap:groups[{i}].{fld}" + ("[0]" if fld == "members" else ""), cls))
    nas = [{"name": "site-a", "sandbox": "site-a"}, {"name": "site-b", "sandbox": "site-b"}]
    for cls, fld, value in NAS_REJECTS:
        i = len(nas)
        entry = {"name": f"bad-{i}", "host": "127.0.0.1", "port": sim["ssh_port"], "user": "admin",
                 "hostKey": sim["host_key"]}
        entry[fld] = value
        nas.append(entry)
        expected.append((f"jcqnap:nas[{i}].{fld}", cls))
    cfg = {**good, "jcqnap:groups": groups, "jcqnap:nas": nas}
    for cls, key, value in SCALAR_REJECTS:
        cfg[f"jcqnap:{key}"] = value
        expected.append((f"jcqnap:{key}" + (".username" if key == "bindUser" else ""), cls))
    stack.write(cfg)

    before = nas_state(sandbox)
    jc.clear_log()
    res = stack.p.preview()
    assert res.returncode != 0
    assert "Traceback" not in res.output
    missing = [(k, c) for k, c in expected if f"{k}:" not in res.output]
    assert not missing, f"not named: {missing}\n{res.output[-5000:]}"
    assert MEGABYTE[:2000] not in res.output  # a megabyte value is measured, not echoed
    # The same config through `up`: it fails the same way before any resource is touched.
    res = stack.up()
    assert res.returncode != 0 and "jcqnap:groups[" in res.output
    assert [e for e in jc.log() if e["method"] != "GET"] == []
    assert nas_state(sandbox) == before
    print(f"\nhostile inputs rejected in one batch: {len(expected)}")

    # The workgroup, one value per preview.
    for value in WORKGROUP_REJECTS:
        stack.write({**good, "jcqnap:workgroup": value})
        res = stack.p.preview()
        assert res.returncode != 0 and "jcqnap:workgroup:" in res.output, (value, res.output[-3000:])
    assert [e for e in jc.log() if e["method"] != "GET"] == []
    assert nas_state(sandbox) == before
    print(f"hostile workgroups rejected: {len(WORKGROUP_REJECTS)}")
    stack.write(good)


def test_legal_hostile_values_are_stored_and_sent_literally(world: Any, sandbox: dict[str, Any]) -> None:
    stack, jc = world
    good = copy.deepcopy(stack.config)
    groups = copy.deepcopy(BASE_GROUPS) + [
        slot_group(100 + i, name=name) for i, name in enumerate(LITERAL_NAMES)
    ]
    stack.write({**good, "jcqnap:groups": groups})
    res = stack.p.preview()
    assert res.returncode == 0, res.output
    stack.up().check()
    assert sorted(jc.groups()) == sorted(g["name"] for g in groups)
    res = stack.p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 0, res.output
    print(f"\nhostile values stored literally: {len(LITERAL_NAMES)}")
    stack.write(good)
    stack.up().check()
    assert sorted(jc.groups()) == sorted(g["name"] for g in BASE_GROUPS)


# Issue 17 (6a): values that reached the engine (StackReference) or a decoder before being named.
DIRECTORY_STACK_REJECTS = [
    ("shell", "organization/jcqnap/dir;id", "ASCII letters, digits"),
    ("LDAP filter", "organization/jcqnap/dir)(cn=*", "ASCII letters, digits"),
    ("non-ASCII", "organization/jcqnap/verzeichnis-ä", "ASCII letters, digits"),
    ("other organization on a file:// backend", "acme/jcqnap/dir", "every stack is in organization"),
]


def test_bad_references_and_files_are_named_by_their_key(world: Any, sandbox: dict[str, Any], tmp_path: Any) -> None:
    stack, jc = world
    good = copy.deepcopy(stack.config)
    site = {k: v for k, v in good.items()
            if k not in ("jcqnap:bindUser", "jcqnap:workgroup", "jcqnap:groups")}
    before = nas_state(sandbox)
    jc.clear_log()
    for cls, ref, expected in DIRECTORY_STACK_REJECTS:
        stack.write({**site, "jcqnap:role": "site", "jcqnap:directoryStack": ref})
        res = stack.p.preview()
        assert res.returncode != 0 and "jcqnap:directoryStack: " in res.output and expected in res.output, (
            cls, res.output[-3000:])
        assert "organization name must be" not in res.output and "invalid character" not in res.output, cls
        assert "jcqnap:directoryStack: " in error_lines(res.output)[0], cls  # the `error:` line itself
    not_sandbox = tmp_path / "not-a-sandbox.json"
    not_sandbox.write_text("this is a note, not JSON\n")
    cases = [
        ("sandbox file not JSON", {**good, "jcqnap:sandbox": str(not_sandbox)}, "jcqnap:sandbox: "),
        ("empty nas[].sandbox", {**good, "jcqnap:nas": [{"name": "site-a", "sandbox": ""}]},
         "jcqnap:nas[0].sandbox: must name a NAS simulator"),
    ]
    for cls, cfg, expected in cases:
        stack.write(cfg)
        res = stack.p.preview()
        assert res.returncode != 0 and expected in res.output, (cls, res.output[-3000:])
        assert "Traceback" not in res.output and "JSONDecodeError" not in res.output, (cls, res.output[-3000:])
        assert expected in error_lines(res.output)[0], cls  # it used to read "invalid stack config:" alone
    # A secret that is not JSON: the SDK's own decoder would print it in its error.
    sim = sandbox["nas"][0]
    secret = "Not-Json-Secret-0x5f"
    stack.p.config_set("jcqnap:nasCredentials", secret, secret=True)
    try:
        stack.write({**good, "jcqnap:nas": [{"name": "real-nas", "host": "127.0.0.1", "port": sim["ssh_port"],
                                             "hostKey": sim["host_key"]}]})
        res = stack.p.preview()
    finally:
        stack.p.run("config", "rm", "jcqnap:nasCredentials", "--stack", stack.p.stack).check()
    assert res.returncode != 0 and "jcqnap:nasCredentials: must be an object by NAS name" in error_lines(res.output)[0]
    assert secret not in res.output and "Traceback" not in res.output, res.output[-3000:]
    assert [e for e in jc.log() if e["method"] != "GET"] == []
    assert nas_state(sandbox) == before
    print(f"\nbad references, files and secrets rejected: {len(DIRECTORY_STACK_REJECTS) + len(cases) + 1}")
    stack.write(good)
