"""Fuzz the JumpCloud emulator from the vendor's OpenAPI files: every answer must be what the spec says.

Requests come from Schemathesis (positive and negative data for each emulated operation, with real
and made-up ids) plus what a hostile client sends outside any spec: other methods (TRACE, OPTIONS,
HEAD, made-up ones), unknown paths, bodies that are not JSON. The oracle is ``tests.spec_validation``
(openapi-core over the same vendor files):

- a status the operation declares: status, content type and body validate against the spec;
- any other 4xx/5xx: the body is the vendor's ``Error`` object (JSON, ``code`` equal to the status);
- a 5xx is never acceptable (bad input is a 4xx), nor is an undeclared 2xx.

Bounded and repeatable: Hypothesis runs derandomized with a fixed example budget (``FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
import re
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.spec_validation import SPEC_DIR, _fix_vendor_spec, validate_error_body, validate_response

pytestmark = pytest.mark.integration
#: JCQNAP_FUZZ_EXAMPLES raises the budget for a deeper run by hand (not in `make test`).
FUZZ_EXAMPLES = int(os.environ.get("JCQNAP_FUZZ_EXAMPLES", "300"))

#: (spec version, method, path as the spec spells it): the operations the emulator serves.
OPERATIONS: list[tuple[str, str, str]] = [
    ("v1", "GET", "/organizations"),
    ("v1", "GET", "/systemusers"),
    ("v1", "POST", "/systemusers"),
    ("v1", "GET", "/systemusers/{id}"),
    ("v1", "PUT", "/systemusers/{id}"),
    ("v1", "DELETE", "/systemusers/{id}"),
    ("v2", "GET", "/usergroups"),
    ("v2", "POST", "/usergroups"),
    ("v2", "GET", "/usergroups/{id}"),
    ("v2", "PUT", "/usergroups/{id}"),
    ("v2", "DELETE", "/usergroups/{id}"),
    ("v2", "GET", "/usergroups/{group_id}/members"),
    ("v2", "POST", "/usergroups/{group_id}/members"),
    ("v2", "GET", "/usergroups/{group_id}/associations"),
    ("v2", "POST", "/usergroups/{group_id}/associations"),
    ("v2", "GET", "/ldapservers"),
    ("v2", "GET", "/ldapservers/{id}"),
    ("v2", "GET", "/ldapservers/{ldapserver_id}/associations"),
    ("v2", "GET", "/ldapservers/{ldapserver_id}/sambadomains"),
    ("v2", "POST", "/ldapservers/{ldapserver_id}/sambadomains"),
    ("v2", "GET", "/ldapservers/{ldapserver_id}/sambadomains/{id}"),
    ("v2", "PUT", "/ldapservers/{ldapserver_id}/sambadomains/{id}"),
    ("v2", "DELETE", "/ldapservers/{ldapserver_id}/sambadomains/{id}"),
]
#: Requests outside the spec: (method, path below /api, raw body or None).
RAW: list[tuple[str, str, bytes | None]] = [
    ("TRACE", "/v2/usergroups", None),
    ("OPTIONS", "/systemusers", None),
    ("HEAD", "/v2/ldapservers", None),
    ("PATCH", "/v2/usergroups", b"{}"),
    ("BREW", "/organizations", None),
    ("GET", "/v2/nothing-here", None),
    ("GET", "/", None),
    ("POST", "/v2/usergroups", b"{not json"),
    ("POST", "/systemusers", b"\xff\xfe"),
    ("PUT", "/v2/usergroups/{group}", b"[1, 2]"),
]


@functools.cache
def _schema(version: str) -> Any:
    with open(SPEC_DIR / f"{version}.yaml") as f:
        document = yaml.safe_load(f)
    _fix_vendor_spec(document)
    _stringify_dates(document)
    wanted = {path for v, _, path in OPERATIONS if v == version}
    document["paths"] = {p: item for p, item in document["paths"].items() if p in wanted}
    return schemathesis.openapi.from_dict(document)


def _stringify_dates(node: Any) -> None:
    """YAML reads unquoted example timestamps as datetimes; JSON Schema knows only strings."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in list(items):
        if isinstance(value, dt.date):
            node[key] = value.isoformat()
        else:
            _stringify_dates(value)


def _operation(version: str, method: str, path: str) -> Any:
    return _schema(version)[path][method]


def _check(resp: requests.Response, declared: set[str] | None) -> None:
    """The oracle described in the module docstring."""
    where = f"{resp.request.method} {resp.request.url} -> {resp.status_code} {resp.text[:300]!r}"
    assert resp.status_code < 500, where
    status = resp.status_code
    if declared is not None and (str(status) in declared or ("default" in declared and status >= 400)):
        try:
            validate_response(resp)
        except Exception as exc:
            raise AssertionError(f"{where}: {str(exc)[:600]}") from exc
        return
    assert resp.status_code >= 400, f"undeclared success: {where}"
    if resp.request.method == "HEAD":
        return  # no body on a HEAD answer
    assert resp.headers.get("Content-Type", "").startswith("application/json"), where
    try:
        validate_error_body(resp)
    except Exception as exc:
        raise AssertionError(f"{where}: {str(exc)[:600]}") from exc


@pytest.fixture
def seeded(jc_reset: dict[str, Any]) -> dict[str, Any]:
    """Real ids for path parameters, so the fuzzer reaches past the 404s."""
    jc = jc_reset["jumpcloud"]
    s = requests.Session()
    s.headers.update({"x-api-key": jc["api_key"], "Content-Type": "application/json"})
    api = jc["api_url"]
    server = jc["ldap_server_id"]
    user = s.post(f"{api}/systemusers", json={"username": "fuzz", "email": "fuzz@example.com"}, timeout=10).json()
    group = s.post(f"{api}/v2/usergroups", json={"name": "Fuzz", "attributes": {
        "posixGroups": [{"id": 7777, "name": "fuzz"}]}}, timeout=10).json()
    domain = s.post(f"{api}/v2/ldapservers/{server}/sambadomains",
                    json={"name": "FUZZWG", "sid": "S-1-5-21-1-2-3"}, timeout=10).json()
    s.headers["x-org-id"] = jc["org_id"]
    return {"api": api, "session": s, "ids": {
        "/systemusers/{id}": user["_id"], "/usergroups/{id}": group["id"], "group_id": group["id"],
        "/ldapservers/{id}": server, "ldapserver_id": server, "/sambadomains/{id}": domain["id"]}}


def _real_ids(path: str, ids: dict[str, str]) -> dict[str, str]:
    """The seeded object's id for each path parameter (``{id}`` is named by the segment before it)."""
    out = {}
    for name in re.findall(r"\{(\w+)\}", path):
        out[name] = ids[name] if name != "id" else ids[re.search(r"(/\w+/)\{id\}", path)[1] + "{id}"]  # type: ignore[index]
    return out


def _cases(ids: dict[str, str]) -> st.SearchStrategy[tuple[Any, set[str], bool]]:
    """Per operation: positive data with real ids (repaired or not), negative data with real ids (repaired)
    and negative data with made-up ids."""
    strategies = []
    for version, method, path in OPERATIONS:
        op = _operation(version, method, path)
        declared = set(op.definition.raw.get("responses", {}))
        real = (_real_ids(path, ids) or None) if method != "DELETE" else None  # keep the seeded objects
        positive = op.as_strategy(GenerationMode.POSITIVE, path_parameters=real)
        negative = op.as_strategy(GenerationMode.NEGATIVE, path_parameters=real)
        made_up = op.as_strategy(GenerationMode.NEGATIVE)
        strategies += [positive.map(lambda case, d=declared: (case, d, True)),
                       positive.map(lambda case, d=declared: (case, d, False)),
                       negative.map(lambda case, d=declared: (case, d, True)),
                       made_up.map(lambda case, d=declared: (case, d, False))]
    return st.one_of(strategies)


def _repair(case: Any, n: int, ids: dict[str, str]) -> None:
    """Make a generated body pass the emulator's own checks (unique names, a valid workgroup and SID,
    a real member) so the fuzzer reaches what is stored and echoed back, not only the 400s."""
    body = case.body
    if not isinstance(body, dict):
        return
    if case.path in ("/systemusers", "/systemusers/{id}"):
        body.update(username=f"fuzz{n}", email=f"fuzz{n}@example.com")
    elif case.path in ("/usergroups", "/usergroups/{id}"):
        body["name"] = f"Fuzz {n}"
        attributes = body.get("attributes")
        if isinstance(attributes, dict):  # random Linux names and the Samba flag's preconditions fail anyway
            if isinstance(attributes.get("posixGroups"), list):
                attributes.pop("posixGroups")
            if attributes.get("sambaEnabled") is True:
                attributes.pop("sambaEnabled")
    elif case.path.endswith("/sambadomains") or case.path.endswith("/sambadomains/{id}"):
        body.update(name=f"WG{n}", sid=f"S-1-5-21-{n}-2-3")
    elif case.path.endswith("/members"):
        body.update(op="add", type="user", id=ids["/systemusers/{id}"])
    elif case.path.endswith("/associations"):
        body.update(op="add", type="ldap_server", id=ids["ldapserver_id"])


def test_every_emulator_answer_matches_the_vendor_spec(seeded: dict[str, Any]) -> None:
    api, session = seeded["api"], seeded["session"]
    key = session.headers["x-api-key"]
    counter = itertools.count()

    @settings(max_examples=FUZZ_EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_cases(seeded["ids"]))
    def fuzz(item: tuple[Any, set[str], bool]) -> None:
        case, declared, repair = item
        if repair:
            _repair(case, next(counter), seeded["ids"])
        base = api + ("/v2" if "/api/v2" in case.operation.schema.raw_schema["servers"][0]["url"] else "")
        kwargs = case.as_transport_kwargs(base_url=base, headers=dict(session.headers))
        resp = session.request(**{**kwargs, "timeout": 10})
        event(f"{case.method} {case.path} -> {resp.status_code}")
        _check(resp, declared)

    fuzz()
    group = seeded["ids"]["group_id"]
    for method, path, body in RAW:
        resp = requests.request(method, api + path.format(group=group), data=body, timeout=10,
                                headers={"x-api-key": key, "Content-Type": "application/json"})
        _check(resp, None)
