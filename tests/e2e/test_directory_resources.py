"""BindUser, SambaDomain and SambaGroup through the real `pulumi` CLI, against the emulator and slapd.

The JumpCloud URL in the stack config points at a recording proxy (tests/e2e/jc_recorder.py), so
every request the providers make is checked against the vendor spec, and the emulator's request log
counts the calls of each engine run.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from Crypto.Hash import MD4

from jcqnap.ldapcheck import can_bind, check_directory
from tests.e2e.aio import Emulator
from tests.e2e.harness import ROOT, CliResult, PulumiProject
from tests.e2e.jc_recorder import Recorder, recording_proxy
from tests.spec_validation import validate_error_body, validate_request, validate_response

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

MEMBER_PASSWORD = "Member-Passw0rd!"
SEED_USERS = ("alice", "bob", "carol")  # carol is in no group
GROUPS = [
    {"name": "NAS Staff", "linuxName": "nas-staff", "gid": 5001, "members": ["alice", "bob"]},
    {"name": "NAS Admins", "linuxName": "nas-admins", "gid": 5002, "members": ["alice"]},
]
WRITES = {"POST", "PUT", "DELETE", "PATCH"}


@pytest.fixture
def jc(jc_reset: dict[str, Any]) -> Emulator:
    client = Emulator(jc_reset)
    for name in SEED_USERS:
        client.call("POST", "/systemusers", {"username": name, "email": f"{name}@example.com",
                                             "password": MEMBER_PASSWORD})
    client.clear_log()
    return client


@pytest.fixture
def recorder(jc: Emulator) -> Iterator[tuple[str, Recorder]]:
    with recording_proxy(jc.hooks) as (url, rec):
        yield url, rec


@pytest.fixture
def stack(pulumi_project: Callable[..., PulumiProject], jc_reset: dict[str, Any], jc: Emulator,
          recorder: tuple[str, Recorder]) -> Iterator[tuple[PulumiProject, list[CliResult]]]:
    """An initialised, configured stack (not yet up) plus every CLI result it produced."""
    proxy_url, _ = recorder
    p = pulumi_project("directory")
    p.config_set("jcqnap:jumpcloudApiUrl", f"{proxy_url}/api")
    p.config_set("jcqnap:jumpcloudApiKey", jc_reset["jumpcloud"]["api_key"], secret=True)
    p.config_set("jcqnap:jumpcloudOrgId", jc_reset["jumpcloud"]["org_id"])
    p.config_set("bindUsername", "svc-samba")
    p.config_set("bindEmail", "svc-samba@example.com")
    p.config_set("workgroup", "acme")
    p.config_set("groups", json.dumps(GROUPS))
    results: list[CliResult] = []
    original = p.run

    def run(*args: str, **kw: Any) -> CliResult:
        res = original(*args, **kw)
        results.append(res)
        return res

    p.run = run  # type: ignore[method-assign]
    yield p, results


def writes(log: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["method"], e["path"]) for e in log if e["method"] in WRITES]


def secrets_of(p: PulumiProject, sandbox: dict[str, Any]) -> list[str]:
    password = p.outputs(show_secrets=True)["bindPassword"]
    nt = MD4.new(password.encode("utf-16-le")).hexdigest()  # noqa: S303 - the NT hash is MD4 by definition
    return [password, sandbox["jumpcloud"]["api_key"], nt, nt.upper(), MEMBER_PASSWORD]


def assert_no_secrets(p: PulumiProject, results: list[CliResult], sandbox: dict[str, Any]) -> None:
    found = secrets_of(p, sandbox)
    # Everything a user or CI log would see; the test's own `--show-secrets` reads are excluded.
    texts = [p.export_text(), *(r.output for r in results if "--show-secrets" not in r.args)]
    for text in texts:
        for secret in found:
            assert secret not in text


def assert_spec_conformant(rec: Recorder) -> int:
    """Every recorded request matches the spec; success responses too; error bodies are Error objects."""
    assert rec.exchanges
    for resp in rec.exchanges:
        validate_request(resp.request)
        if resp.status_code < 400:
            validate_response(resp)
        elif resp.status_code != 429 or resp.content:
            validate_error_body(resp)
    return len(rec.exchanges)


def test_up_creates_directory_objects_visible_over_ldap(
    stack: Any, jc: Emulator, jc_reset: dict, recorder: Any
) -> None:
    p, results = stack
    t0 = time.monotonic()
    p.up().check()
    up_seconds = time.monotonic() - t0
    out = p.outputs(show_secrets=True)
    user = jc.user("svc-samba")
    assert user["ldap_binding_user"] and user["samba_service_user"] and user["password_never_expires"]
    assert [d["name"] for d in jc.domain_records()] == ["ACME"]
    assert out["domainSid"].startswith("S-1-5-21-") and out["workgroup"] == "ACME"
    for g in GROUPS:
        group = jc.group(str(g["name"]))
        assert group["attributes"]["sambaEnabled"] is True
        assert group["attributes"]["posixGroups"] == [{"id": g["gid"], "name": g["linuxName"]}]

    ldap = jc_reset["ldap"]
    report = check_directory(ldap["uri"], out["bindDn"], out["bindPassword"], ldap["base_dn"], ldap["ca_cert"])
    assert report.can_search and report.samba_domains.get("ACME") == out["domainSid"]
    assert {g.cn for g in report.groups} >= {"NAS Staff", "NAS Admins"}
    staff = report.group("NAS Staff")
    assert staff is not None and {m.uid: m.samba for m in staff.members} == {"alice": True, "bob": True}
    # StartTLS reaches the same view; carol (in no group) carries no Samba attributes.
    report2 = check_directory(ldap["starttls_uri"], out["bindDn"], out["bindPassword"], ldap["base_dn"],
                              ldap["ca_cert"])
    assert report2.tls == "starttls" and report2.member_samba()["bob"] is True
    assert "carol" not in report2.member_samba()
    from jcqnap.ldapcheck import _member, connect

    conn, _ = connect(ldap["uri"], out["bindDn"], out["bindPassword"], ldap["ca_cert"])
    try:
        carol = _member(conn, f"uid=carol,ou=Users,{ldap['base_dn']}")
    finally:
        conn.unbind()
    assert not carol.samba
    # A user without the Bind DN flag can bind but not search.
    alice_dn = f"uid=alice,ou=Users,{ldap['base_dn']}"
    assert can_bind(ldap["uri"], alice_dn, MEMBER_PASSWORD, ldap["ca_cert"])
    assert not check_directory(ldap["uri"], alice_dn, MEMBER_PASSWORD, ldap["base_dn"], ldap["ca_cert"]).can_search

    # Second up: no calls that write. preview --refresh: GETs only, about one per object.
    jc.clear_log()
    p.up().check()
    second_up = jc.log()
    assert writes(second_up) == []
    jc.clear_log()
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 0, res.output
    refresh = jc.log()
    assert writes(refresh) == []
    # user + domain + one members GET per group + one page each of the shared group and binding lists
    assert len(refresh) <= 1 + 1 + len(GROUPS) + 2, refresh
    print(f"\nup {up_seconds:.1f}s; second up API calls: {len(second_up)}; preview --refresh GETs: {len(refresh)}")

    n = assert_spec_conformant(recorder[1])
    print(f"spec-validated exchanges: {n}")
    assert_no_secrets(p, results, jc_reset)


DRIFTS: dict[str, tuple[str, Callable[[Emulator], Any], Callable[[Emulator], Any]]] = {
    "bind flag off": (
        "bind-user",
        lambda jc: jc.call("PUT", f"/systemusers/{jc.user('svc-samba')['_id']}", {"ldap_binding_user": False}),
        lambda jc: bool(jc.user("svc-samba")["ldap_binding_user"]),
    ),
    "samba flag off": (
        "group-nas-staff",
        lambda jc: jc.call("PUT", f"/v2/usergroups/{jc.group('NAS Staff')['id']}", {
            "name": "NAS Staff", "attributes": {**jc.group("NAS Staff")["attributes"], "sambaEnabled": False}}),
        lambda jc: bool(jc.group("NAS Staff")["attributes"].get("sambaEnabled")),
    ),
    "binding removed": (
        "group-nas-staff",
        lambda jc: jc.call("POST", f"/v2/usergroups/{jc.group('NAS Staff')['id']}/associations",
                           {"op": "remove", "type": "ldap_server", "id": jc.ldap_id}),
        lambda jc: any(c["to"]["id"] == jc.ldap_id for c in jc.call(
            "GET", f"/v2/usergroups/{jc.group('NAS Staff')['id']}/associations", targets="ldap_server")),
    ),
    "member removed": (
        "group-nas-staff",
        lambda jc: jc.call("POST", f"/v2/usergroups/{jc.group('NAS Staff')['id']}/members",
                           {"op": "remove", "type": "user", "id": jc.user("bob")["_id"]}),
        lambda jc: jc.user("bob")["_id"] in [c["to"]["id"] for c in jc.call(
            "GET", f"/v2/usergroups/{jc.group('NAS Staff')['id']}/members", limit=100)],
    ),
    "workgroup changed": (
        "samba-domain",
        lambda jc: jc.call("PUT", f"/v2/ldapservers/{jc.ldap_id}/sambadomains/{jc.domain_records()[0]['id']}",
                           {"name": "OTHER", "sid": jc.domain_records()[0]["sid"]}),
        lambda jc: [d["name"] for d in jc.domain_records()] == ["ACME"],
    ),
    "user deleted": (
        "bind-user",
        lambda jc: (jc.call("PUT", f"/systemusers/{jc.user('svc-samba')['_id']}", {"samba_service_user": False}),
                    jc.call("DELETE", f"/systemusers/{jc.user('svc-samba')['_id']}")),
        lambda jc: sum(u["username"] == "svc-samba" for u in jc.user_records()) == 1,
    ),
}


@pytest.mark.parametrize("kind", list(DRIFTS))
def test_drift_is_reported_and_repaired(stack: Any, jc: Emulator, jc_reset: dict, kind: str) -> None:
    p, results = stack
    resource, make_drift, repaired = DRIFTS[kind]
    p.up().check()
    make_drift(jc)
    assert not repaired(jc)
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 7, res.output
    assert resource in res.output
    p.up("--refresh").check()
    assert repaired(jc)
    res = p.preview("--refresh", "--expect-no-changes")
    assert res.returncode == 0, res.output
    assert_no_secrets(p, results, jc_reset)


def test_up_survives_30_percent_429_without_duplicates(stack: Any, jc: Emulator, recorder: Any) -> None:
    p, _ = stack
    jc.faults(status=429, rate=0.3, retry_after=1)
    try:
        p.up().check()
        log = jc.log()
    finally:
        jc.faults()
    throttled = sum(e["status"] == 429 for e in log)
    assert throttled > 0
    assert sum(u["username"] == "svc-samba" for u in jc.user_records()) == 1
    names = [g["name"] for g in jc.group_records()]
    assert sorted(names) == sorted(str(g["name"]) for g in GROUPS)
    assert len(jc.domain_records()) == 1
    assert p.preview("--refresh", "--expect-no-changes").returncode == 0
    print(f"\n429s absorbed: {throttled} of {len(log)} requests")
    assert_spec_conformant(recorder[1])


def test_destroy_leaves_the_org_empty(stack: Any, jc: Emulator) -> None:
    p, _ = stack
    p.up().check()
    p.destroy().check()
    assert sorted(u["username"] for u in jc.user_records()) == sorted(SEED_USERS)  # only the test's own seed users
    assert jc.group_records() == [] and jc.domain_records() == []


def test_state_pickles_carry_no_key_and_load_in_a_fresh_process(stack: Any, jc_reset: dict) -> None:
    p, _ = stack
    p.up().check()
    state = json.loads(p.run("stack", "export", "--show-secrets", "--stack", p.stack).check().stdout)
    api_key = jc_reset["jumpcloud"]["api_key"]
    def plain(value: Any) -> str:  # a secret exported with --show-secrets: {sig, plaintext: JSON}
        return str(json.loads(value["plaintext"])) if isinstance(value, dict) else str(value)

    blobs = {
        r["type"]: plain(r["outputs"]["__provider"])
        for r in state["deployment"]["resources"]
        if r["type"].startswith("pulumi-python:dynamic/jumpcloud:")
    }
    assert set(blobs) == {f"pulumi-python:dynamic/jumpcloud:{n}" for n in ("BindUser", "SambaDomain", "SambaGroup")}
    code = (
        "import base64,sys,dill\n"
        "obj = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "print(type(obj).__module__ + '.' + type(obj).__qualname__)\n"
    )
    for blob in blobs.values():
        assert api_key not in base64.b64decode(blob).decode("latin-1")
        out = subprocess.run([sys.executable, "-c", code], input=blob, cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().startswith("jcqnap.providers.")


def test_password_change_rotates_in_place(stack: Any, jc: Emulator, jc_reset: dict) -> None:
    p, results = stack
    p.up().check()
    user_id = jc.user("svc-samba")["_id"]
    old = p.outputs(show_secrets=True)["bindPassword"]
    new = "Rotated-Passw0rd-1!"
    p.config_set("bindPassword", new, secret=True)
    res = p.preview("--expect-no-changes")
    assert res.returncode == 7 and "bind-user" in res.output
    jc.clear_log()
    p.up().check()
    assert writes(jc.log()) == [("PUT", f"/api/systemusers/{user_id}")]  # in place, no replace
    assert jc.user("svc-samba")["_id"] == user_id
    out = p.outputs(show_secrets=True)
    assert out["bindPassword"] == new
    ldap = jc_reset["ldap"]
    assert can_bind(ldap["uri"], out["bindDn"], new, ldap["ca_cert"])
    assert not can_bind(ldap["uri"], out["bindDn"], old, ldap["ca_cert"])
    assert_no_secrets(p, results, jc_reset)


def test_bad_inputs_fail_with_one_line_messages(stack: Any, jc: Emulator) -> None:
    p, _ = stack
    p.config_set("workgroup", "MY DOMAIN")
    res = p.preview()
    assert res.returncode != 0 and "workgroup:" in res.output and "Traceback" not in res.output
    p.config_set("workgroup", "ACME")
    p.config_set("groups", json.dumps([{**GROUPS[0], "members": ["alice", "nobody-here"]}]))
    res = p.up()
    assert res.returncode != 0
    assert "no JumpCloud user named 'nobody-here'" in res.output and "Traceback" not in res.output
    assert jc.group_records() == []  # members are resolved before the group is created
