"""The JumpCloud emulator driven with plain HTTP, as the runbook does, validated against the spec."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.spec_validation import validate_error_body, validate_exchange, validate_response

pytestmark = pytest.mark.integration

PASSWORD = "Svc-Passw0rd!"


class Api:
    """A thin requests wrapper that validates every exchange against the vendor spec."""

    def __init__(self, sandbox: dict[str, Any]) -> None:
        self.url = sandbox["jumpcloud"]["api_url"]
        self.s = requests.Session()
        self.s.headers.update(
            {"x-api-key": sandbox["jumpcloud"]["api_key"], "Accept": "application/json",
             "Content-Type": "application/json"}
        )

    def call(self, method: str, path: str, expect: int, validate: bool = True, **kw: Any) -> requests.Response:
        resp = self.s.request(method, self.url + path, timeout=10, **kw)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text)
        if validate:
            validate_exchange(resp)
        if resp.status_code >= 400:
            validate_error_body(resp)
        return resp


@pytest.fixture
def api(jc_reset: dict[str, Any]) -> Api:
    return Api(jc_reset)


def runbook(api: Api, sandbox: dict[str, Any]) -> dict[str, Any]:
    """Service account, two groups, binding, Samba domain, Samba flag, members; returns the ids."""
    svc = api.call("POST", "/systemusers", 200, json={
        "username": "svc-samba", "email": "svc@example.com", "password": PASSWORD,
        "ldap_binding_user": True, "samba_service_user": True, "password_never_expires": True,
    }).json()
    server = api.call("GET", "/v2/ldapservers", 200).json()
    assert len(server) == 1
    ldap_id = server[0]["id"]
    domain = api.call("POST", f"/v2/ldapservers/{ldap_id}/sambadomains", 201,
                      json={"name": "JCWORK", "sid": "S-1-5-21-1111-2222-3333"}).json()
    # alice's password is set once Samba is configured, so the directory has her Samba hash.
    alice = api.call("POST", "/systemusers", 200, json={
        "username": "alice", "email": "alice@example.com", "password": "Alice-pw1", "firstname": "Alice",
    }).json()
    groups = []
    for name, gid in (("NAS Users", 7001), ("NAS Admins", 7002)):
        posix = [{"id": gid, "name": name.lower().replace(" ", "-")}]
        g = api.call("POST", "/v2/usergroups", 201, json={"name": name, "attributes": {"posixGroups": posix}}).json()
        bind = {"op": "add", "type": "ldap_server", "id": ldap_id}
        api.call("POST", f"/v2/usergroups/{g['id']}/associations", 204, json=bind)
        current = api.call("GET", f"/v2/usergroups/{g['id']}", 200).json()
        current["attributes"]["sambaEnabled"] = True
        body = {k: v for k, v in current.items() if k in ("name", "description", "email", "attributes")}
        updated = api.call("PUT", f"/v2/usergroups/{g['id']}", 200, json=body).json()
        assert updated["attributes"]["sambaEnabled"] is True
        groups.append(g["id"])
    api.call("POST", f"/v2/usergroups/{groups[0]}/members", 204, json={"op": "add", "type": "user", "id": alice["_id"]})
    return {"svc": svc, "alice": alice, "ldap_id": ldap_id, "domain": domain, "groups": groups}


def test_runbook_responses_match_the_spec(api: Api, jc_reset: dict[str, Any]) -> None:
    ids = runbook(api, jc_reset)
    assert "password" not in ids["svc"]
    assert ids["svc"]["unix_uid"] >= 5000 and len(ids["svc"]["_id"]) == 24
    members = api.call("GET", f"/v2/usergroups/{ids['groups'][0]}/members", 200)
    assert members.json() == [{"to": {"id": ids["alice"]["_id"], "type": "user"}, "attributes": {}}]
    assert members.headers["x-total-count"] == "1"
    assoc = api.call("GET", f"/v2/usergroups/{ids['groups'][0]}/associations", 200, params={"targets": "ldap_server"})
    assert assoc.json()[0]["to"] == {"id": ids["ldap_id"], "type": "ldap_server"}
    doms = api.call("GET", f"/v2/ldapservers/{ids['ldap_id']}/sambadomains", 200).json()
    assert doms == [ids["domain"]]
    api.call("GET", f"/v2/ldapservers/{ids['ldap_id']}/sambadomains/{ids['domain']['id']}", 200)
    api.call("PUT", f"/v2/ldapservers/{ids['ldap_id']}/sambadomains/{ids['domain']['id']}", 200,
             json={"name": "JCWORK", "sid": "S-1-5-21-1111-2222-3333"})
    api.call("GET", f"/v2/ldapservers/{ids['ldap_id']}", 200)
    orgs = api.call("GET", "/organizations", 200).json()
    assert orgs["results"][0]["_id"] == jc_reset["jumpcloud"]["org_id"]
    # Adding an existing member answers "Already Exists" (clients treat it as success).
    dup = api.call("POST", f"/v2/usergroups/{ids['groups'][0]}/members", 409, validate=False,
                   json={"op": "add", "type": "user", "id": ids["alice"]["_id"]})
    assert "Already Exists" in dup.json()["message"]
    api.call("POST", f"/v2/usergroups/{ids['groups'][0]}/members", 204,
             json={"op": "remove", "type": "user", "id": ids["alice"]["_id"]})
    api.call("POST", f"/v2/usergroups/{ids['groups'][0]}/members", 404, validate=False,
             json={"op": "remove", "type": "user", "id": ids["alice"]["_id"]})


def test_systemusers_list_paging_filter_fields_and_sort(api: Api) -> None:
    for i in range(12):
        api.call("POST", "/systemusers", 200, json={"username": f"user{i:02d}", "email": f"u{i}@example.com"})
    first = api.call("GET", "/systemusers", 200).json()
    assert first["totalCount"] == 12 and len(first["results"]) == 10
    second = api.call("GET", "/systemusers", 200, params={"skip": 10, "limit": 10}).json()
    assert [u["username"] for u in second["results"]] == ["user10", "user11"]
    one = api.call("GET", "/systemusers", 200, params={"filter": "username:$eq:user05"}).json()
    assert one["totalCount"] == 1 and one["results"][0]["username"] == "user05"
    by_mail = api.call("GET", "/systemusers", 200, params={"filter": "email:$eq:u7@example.com"}).json()
    assert by_mail["results"][0]["username"] == "user07"
    sorted_desc = api.call("GET", "/systemusers", 200, params={"sort": "-username", "limit": 3}).json()
    assert [u["username"] for u in sorted_desc["results"]] == ["user11", "user10", "user09"]
    slim = api.call("GET", "/systemusers", 200, params={"fields": "username email", "limit": 1}).json()
    assert set(slim["results"][0]) == {"_id", "username", "email"}
    api.call("GET", "/systemusers", 400, validate=False, params={"filter": "username:eq:user05"})
    api.call("GET", "/systemusers", 400, validate=False, params={"limit": 101})


def test_systemuser_put_merges_and_delete_returns_the_user(api: Api) -> None:
    body = {"username": "bob", "email": "bob@example.com", "firstname": "Bob"}
    u = api.call("POST", "/systemusers", 200, json=body).json()
    upd = api.call("PUT", f"/systemusers/{u['_id']}", 200, json={"lastname": "Builder"}).json()
    assert upd["firstname"] == "Bob" and upd["lastname"] == "Builder" and upd["unix_uid"] == u["unix_uid"]
    gone = api.call("DELETE", f"/systemusers/{u['_id']}", 200).json()
    assert gone["username"] == "bob"
    api.call("GET", f"/systemusers/{u['_id']}", 404, validate=False)


def test_usergroups_list_filter_sort_and_full_replace(api: Api) -> None:
    for name in ("gamma", "alpha", "beta"):
        api.call("POST", "/v2/usergroups", 201, json={"name": name, "description": "d"})
    listed = api.call("GET", "/v2/usergroups", 200, params={"sort": "name"})
    assert [g["name"] for g in listed.json()] == ["alpha", "beta", "gamma"]
    assert listed.headers["x-total-count"] == "3"
    paged = api.call("GET", "/v2/usergroups", 200, params={"sort": "name", "limit": 1, "skip": 1})
    assert [g["name"] for g in paged.json()] == ["beta"] and paged.headers["x-total-count"] == "3"
    found = api.call("GET", "/v2/usergroups", 200, params={"filter": "name:eq:beta"}).json()
    assert len(found) == 1
    api.call("GET", "/v2/usergroups", 400, validate=False, params={"sort": "id"})
    replaced = api.call("PUT", f"/v2/usergroups/{found[0]['id']}", 200, json={"name": "beta2"}).json()
    assert replaced["description"] == ""  # PUT replaces: omitted fields are cleared
    api.call("DELETE", f"/v2/usergroups/{found[0]['id']}", 200)
    api.call("GET", f"/v2/usergroups/{found[0]['id']}", 404, validate=False)


def test_rules_401_400_409_and_samba_refused_on_unbound_group(api: Api, jc_reset: dict[str, Any]) -> None:
    url = jc_reset["jumpcloud"]["api_url"]
    for headers in ({}, {"x-api-key": "wrong"}):
        r = requests.get(f"{url}/systemusers", headers=headers, timeout=10)
        assert r.status_code == 401
        validate_error_body(r)
    r = api.s.get(f"{url}/systemusers", headers={"x-org-id": "0" * 24}, timeout=10)
    assert r.status_code == 401
    api.call("GET", "/systemusers", 200, headers={"x-org-id": jc_reset["jumpcloud"]["org_id"]})
    api.call("POST", "/systemusers", 200, json={"username": "dup", "email": "dup@example.com"})
    r = api.call("POST", "/systemusers", 400, json={"username": "dup", "email": "other@example.com"})
    assert r.json()["message"] == "User already exists"
    api.call("POST", "/systemusers", 400, json={"username": "other", "email": "DUP@example.com"})
    api.call("POST", "/v2/usergroups", 201, json={"name": "g1"})
    r = api.call("POST", "/v2/usergroups", 409, validate=False, json={"name": "g1"})
    assert "Already Exists" in r.json()["message"]
    r = api.call("POST", "/v2/usergroups", 400, validate=False,
                 json={"name": "g2", "attributes": {"posixGroups": [{"id": 7100, "name": "g2"}], "sambaEnabled": True}})
    assert "Samba" in r.json()["message"]
    svc = api.call("POST", "/systemusers", 200, json={"username": "svc", "email": "svc@example.com",
                                                     "samba_service_user": True}).json()
    r = api.call("DELETE", f"/systemusers/{svc['_id']}", 409)
    api.call("PUT", f"/systemusers/{svc['_id']}", 200, json={"samba_service_user": False})
    api.call("DELETE", f"/systemusers/{svc['_id']}", 200)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/systemusers", {"data": "{not json"}),
        ("POST", "/systemusers", {"json": ["a list"]}),
        ("POST", "/systemusers", {"json": {"username": "x"}}),
        ("POST", "/systemusers", {"json": {"username": "x", "email": "x@example.com", "unix_uid": "5000"}}),
        ("POST", "/systemusers", {"json": {"username": "x", "email": "x@example.com", "ldap_binding_user": "yes"}}),
        ("POST", "/systemusers", {"json": {"username": "a,b=c", "email": "x@example.com"}}),
        ("POST", "/v2/usergroups", {"json": {}}),
        ("POST", "/v2/usergroups", {"json": {"name": "p", "attributes": {"posixGroups": [{"id": "x", "name": "p"}]}}}),
        ("POST", "/v2/usergroups", {"json": {"name": "p", "attributes": "nope"}}),
        ("GET", "/systemusers", {"params": {"limit": "ten"}}),
        ("GET", "/systemusers", {"params": {"skip": "-1"}}),
        ("GET", "/v2/usergroups", {"params": {"filter": "name"}}),
    ],
)
def test_bad_input_gets_a_400_error_body(api: Api, method: str, path: str, kwargs: dict[str, Any]) -> None:
    api.call(method, path, 400, validate=False, **kwargs)


def test_graph_and_domain_bad_input(api: Api) -> None:
    g = api.call("POST", "/v2/usergroups", 201, json={"name": "g"}).json()
    ldap_id = api.call("GET", "/v2/ldapservers", 200).json()[0]["id"]
    api.call("GET", f"/v2/usergroups/{g['id']}/associations", 400, validate=False)
    api.call("POST", f"/v2/usergroups/{g['id']}/members", 400, validate=False, json={"op": "add", "type": "user"})
    api.call("POST", f"/v2/usergroups/{g['id']}/members", 404, validate=False,
             json={"op": "add", "type": "user", "id": "0" * 24})
    api.call("POST", f"/v2/usergroups/{g['id']}/associations", 404, validate=False,
             json={"op": "add", "type": "ldap_server", "id": "0" * 24})
    api.call("POST", f"/v2/ldapservers/{ldap_id}/sambadomains", 400, validate=False, json={"name": "X"})
    api.call("POST", f"/v2/ldapservers/{ldap_id}/sambadomains", 400, validate=False,
             json={"name": "X", "sid": "not-a-sid"})
    api.call("GET", "/v2/nothing-here", 404, validate=False)
    api.call("PATCH", "/v2/usergroups", 405, validate=False, json={})


def test_fault_injection_and_request_log(api: Api, jc_reset: dict[str, Any]) -> None:
    hooks = jc_reset["jumpcloud"]["sandbox_url"] + "/_sandbox"
    r = requests.post(f"{hooks}/faults", json={"status": 429, "rate": 1, "retry_after": 2}, timeout=10)
    assert r.status_code == 200
    r = api.s.get(api.url + "/systemusers", timeout=10)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    validate_error_body(r)
    requests.post(f"{hooks}/faults", json={"status": 503, "rate": 0.5}, timeout=10)
    codes = {api.s.get(api.url + "/systemusers", timeout=10).status_code for _ in range(40)}
    assert codes == {200, 503}
    requests.post(f"{hooks}/faults", json={"status": None, "latency_ms": 200}, timeout=10)
    t0 = time.monotonic()
    api.call("GET", "/systemusers", 200)
    assert time.monotonic() - t0 >= 0.2
    requests.post(f"{hooks}/faults", json={}, timeout=10)
    log = requests.get(f"{hooks}/requests", timeout=10).json()
    assert log[0] == {"method": "GET", "path": "/api/systemusers", "query": "", "status": 429}
    assert {"method", "path", "query", "status"} == set(log[-1])
    api.call("POST", "/systemusers", 200, json={"username": "x", "email": "x@example.com", "password": "Sekr3t-pw"})
    raw = requests.get(f"{hooks}/requests", timeout=10).text
    assert "Sekr3t-pw" not in raw and jc_reset["jumpcloud"]["api_key"] not in raw
    assert requests.post(f"{hooks}/requests/clear", timeout=10).status_code == 204
    assert requests.get(f"{hooks}/requests", timeout=10).json() == []
    r = requests.post(f"{hooks}/faults", json={"status": 200}, timeout=10)
    assert r.status_code == 400


def test_reset_keeps_org_and_ldap_server(api: Api, jc_reset: dict[str, Any]) -> None:
    api.call("POST", "/systemusers", 200, json={"username": "x", "email": "x@example.com"})
    requests.post(jc_reset["jumpcloud"]["sandbox_url"] + "/_sandbox/reset", timeout=10).raise_for_status()
    assert api.call("GET", "/systemusers", 200).json()["totalCount"] == 0
    servers = api.call("GET", "/v2/ldapservers", 200).json()
    assert [s["id"] for s in servers] == [jc_reset["jumpcloud"]["ldap_server_id"]]


def test_unvalidated_helper_rejects_an_off_spec_response(api: Api) -> None:
    """The spec helper must be able to fail: a 409 is not declared for POST /usergroups."""
    api.call("POST", "/v2/usergroups", 201, json={"name": "same"})
    r = api.s.post(api.url + "/v2/usergroups", json={"name": "same"}, timeout=10)
    with pytest.raises(Exception):  # noqa: B017 - any openapi-core validation error
        validate_response(r)


def test_ldap_server_associations_list_the_bound_groups(api: Api, jc_reset: dict[str, Any]) -> None:
    ldap_id = jc_reset["jumpcloud"]["ldap_server_id"]
    ids = [api.call("POST", "/v2/usergroups", 201, json={"name": f"g{i}"}).json()["id"] for i in range(3)]
    for gid in ids[:2]:
        api.call("POST", f"/v2/usergroups/{gid}/associations", 204,
                 json={"op": "add", "type": "ldap_server", "id": ldap_id})
    path = f"/v2/ldapservers/{ldap_id}/associations"
    listed = api.call("GET", path, 200, params={"targets": "user_group", "limit": 100}).json()
    assert sorted(c["to"]["id"] for c in listed) == sorted(ids[:2])
    assert {c["to"]["type"] for c in listed} == {"user_group"}
    page = api.call("GET", path, 200, params={"targets": "user_group", "limit": 1, "skip": 1})
    assert len(page.json()) == 1 and page.headers["x-total-count"] == "2"
    api.call("GET", path, 400, validate=False)  # targets is required
    api.call("GET", "/v2/ldapservers/000000000000000000000000/associations", 404, validate=False,
             params={"targets": "user_group"})
