"""The JumpCloud client's pure logic: paging, filters, error mapping, redaction, create recovery.

Only the network edge is replaced (a requests transport adapter answering canned responses); the
same paths run for real against the emulator in tests/integration/test_jumpcloud_client.py, which
also covers retries, Retry-After and timeouts that need a real socket.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from jcqnap.jumpcloud import (
    AlreadyExists,
    AuthError,
    Conflict,
    JumpCloudClient,
    JumpCloudSettings,
    NotFound,
    RateLimited,
    ServerError,
    Unreachable,
    ValidationError,
)

KEY = "jc-api-key-0123456789abcdef"
PASSWORD = "Sup3r-Secret-Pw!"
Handler = Callable[[requests.PreparedRequest], tuple[int, Any, dict[str, str]]]


class FakeTransport(BaseAdapter):
    """Answers each request with `handler(request)` -> (status, json body, headers)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        assert kwargs.get("timeout"), "every call must carry a timeout"
        self.seen.append(request)
        status, body, headers = self.handler(request)
        resp = requests.Response()
        resp.status_code = status
        resp._content = b"" if body is None else json.dumps(body).encode()
        resp.headers.update({"Content-Type": "application/json", **headers})
        resp.request = request
        resp.url = str(request.url)
        resp.reason = "X"
        return resp

    def close(self) -> None:
        pass


def make(handler: Handler, org_id: str | None = None) -> tuple[JumpCloudClient, FakeTransport]:
    jc = JumpCloudClient(JumpCloudSettings(api_key=KEY, api_url="http://jc.test/api", org_id=org_id))
    fake = FakeTransport(handler)
    jc._session.mount("http://", fake)
    return jc, fake


def query(req: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(req.url)).query)


def test_headers_carry_key_org_and_json() -> None:
    jc, fake = make(lambda r: (200, {"totalCount": 0, "results": []}, {}), org_id="5f0c1b2a3d4e5f6a7b8c9d0e")
    list(jc.list_users())
    h = fake.seen[0].headers
    assert h["x-api-key"] == KEY
    assert h["x-org-id"] == "5f0c1b2a3d4e5f6a7b8c9d0e"
    assert h["Accept"] == "application/json" and h["Content-Type"] == "application/json"


def test_no_org_header_without_org_id() -> None:
    jc, fake = make(lambda r: (200, {"totalCount": 0, "results": []}, {}))
    list(jc.list_users())
    assert "x-org-id" not in fake.seen[0].headers


def test_v1_paging_follows_total_count_with_limit_100() -> None:
    users = [{"_id": f"id{i}", "username": f"u{i:03}"} for i in range(250)]

    def handler(r: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        q = query(r)
        skip, limit = int(q["skip"][0]), int(q["limit"][0])
        return 200, {"totalCount": len(users), "results": users[skip : skip + limit]}, {}

    jc, fake = make(handler)
    got = list(jc.list_users())
    assert [u["_id"] for u in got] == [u["_id"] for u in users]
    assert [query(r)["skip"][0] for r in fake.seen] == ["0", "100", "200"]
    assert all(query(r)["limit"] == ["100"] for r in fake.seen)


def test_v2_paging_follows_x_total_count() -> None:
    conns = [{"to": {"id": f"u{i}", "type": "user"}} for i in range(205)]

    def handler(r: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        q = query(r)
        skip = int(q["skip"][0])
        return 200, conns[skip : skip + 100], {"x-total-count": str(len(conns))}

    jc, fake = make(handler)
    assert jc.list_group_member_ids("g1") == [f"u{i}" for i in range(205)]
    assert len(fake.seen) == 3


def test_v2_paging_without_header_stops_on_short_page() -> None:
    jc, fake = make(lambda r: (200, [{"id": "l1", "name": "ldap"}], {}))
    assert jc.ldap_server_id() == "l1"
    assert len(fake.seen) == 1


def test_filters_use_v1_and_v2_syntax() -> None:
    def handler(r: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        if "/v2/" in str(r.url):
            return 200, [{"id": "g1", "name": "Staff NAS"}], {"x-total-count": "1"}
        return 200, {"totalCount": 1, "results": [{"_id": "u1", "username": "svc-samba"}]}, {}

    jc, fake = make(handler)
    assert jc.find_user("svc-samba") == {"_id": "u1", "username": "svc-samba"}
    assert jc.find_user_group("Staff NAS") == {"id": "g1", "name": "Staff NAS"}
    assert query(fake.seen[0])["filter"] == ["username:$eq:svc-samba"]
    assert query(fake.seen[1])["filter"] == ["name:eq:Staff NAS"]


def test_find_ignores_inexact_matches() -> None:
    jc, _ = make(lambda r: (200, {"totalCount": 1, "results": [{"_id": "u1", "username": "svc-samba2"}]}, {}))
    assert jc.find_user("svc-samba") is None


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (404, {"message": "Not Found"}, NotFound),
        (400, {"message": "User already exists"}, AlreadyExists),
        (400, {"message": "Already Exists"}, AlreadyExists),
        (401, {"message": "Unauthorized"}, AuthError),
        (403, {"message": "Your IP has been blocked due to suspected abuse"}, AuthError),
        (409, {"message": "cannot delete the samba service user"}, Conflict),
        (429, {"message": "Too Many Requests"}, RateLimited),
        (503, {"message": "unavailable"}, ServerError),
        (400, {"message": "invalid email"}, ValidationError),
    ],
)
def test_statuses_map_to_typed_errors(status: int, body: dict[str, Any], cls: type[Exception]) -> None:
    jc, _ = make(lambda r: (status, body, {}))
    with pytest.raises(cls) as info:
        jc.get_user("abc")
    msg = str(info.value)
    assert msg.startswith("JumpCloud GET /systemusers/abc: ")
    assert "\n" not in msg and ";" in msg  # one line, with a fix after the semicolon


def test_validation_error_names_the_field() -> None:
    body = {"message": "Bad Request", "details": [{"field": "email", "message": "must be an email"}]}
    jc, _ = make(lambda r: (400, body, {}))
    with pytest.raises(ValidationError) as info:
        jc.update_user("abc", {"email": "nope"})
    assert info.value.field == "email"
    assert "invalid email" in str(info.value)


def test_messages_never_contain_key_password_or_query() -> None:
    echo = {"message": f"bad key {KEY} for password {PASSWORD}"}
    jc, _ = make(lambda r: (400, echo, {}))
    with pytest.raises(ValidationError) as info:
        jc.update_user("abc", {"username": "svc", "password": PASSWORD})
    assert KEY not in str(info.value) and PASSWORD not in str(info.value)
    jc, _ = make(lambda r: (500, {"message": "boom"}, {}))
    with pytest.raises(ServerError) as info2:
        jc.find_user("secret-username-in-filter")
    assert "secret-username-in-filter" not in str(info2.value)
    assert "/systemusers:" in str(info2.value)


def test_unreachable_is_one_line(unused_tcp_port: int) -> None:
    settings = JumpCloudSettings(api_key=KEY, api_url=f"http://127.0.0.1:{unused_tcp_port}/api", retries=0)
    with JumpCloudClient(settings) as jc, pytest.raises(Unreachable) as info:
        jc.get_user("abc")
    assert "127.0.0.1" in str(info.value) and KEY not in str(info.value)


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_create_adopts_existing_user_with_same_email() -> None:
    existing = {"_id": "u1", "username": "svc", "email": "Svc@Example.com"}

    def handler(r: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        if r.method == "POST":
            return 400, {"message": "User already exists"}, {}
        return 200, {"totalCount": 1, "results": [existing]}, {}

    jc, _ = make(handler)
    created = jc.create_user({"username": "svc", "email": "svc@example.com", "password": PASSWORD})
    assert created.adopted and created.obj == existing


def test_create_refuses_user_with_other_email() -> None:
    existing = {"_id": "u1", "username": "svc", "email": "someone@else.com"}

    def handler(r: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        if r.method == "POST":
            return 400, {"message": "User already exists"}, {}
        return 200, {"totalCount": 1, "results": [existing]}, {}

    jc, _ = make(handler)
    with pytest.raises(AlreadyExists) as info:
        jc.create_user({"username": "svc", "email": "svc@example.com", "password": PASSWORD})
    assert "'svc'" in str(info.value) and "different email" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_create_after_exhausted_retries_recovers_by_name() -> None:
    group = {"id": "g1", "name": "staff", "attributes": {"posixGroups": [{"id": 5001, "name": "staff"}]}}

    def handler(r: requests.PreparedRequest) -> tuple[int, Any, dict[str, str]]:
        if r.method == "POST":
            return 503, {"message": "busy"}, {}
        return 200, [group], {"x-total-count": "1"}

    jc, _ = make(handler)
    created = jc.create_user_group({"name": "staff"}, lambda g: True)
    assert created.adopted and created.obj["id"] == "g1"


def test_member_add_already_exists_and_remove_not_found_are_success() -> None:
    jc, _ = make(lambda r: (400, {"message": "Already Exists"}, {}))
    jc.change_group_member("g1", "add", "u1")
    jc, _ = make(lambda r: (404, {"message": "Not Found"}, {}))
    jc.change_group_member("g1", "remove", "u1")
    jc.delete_user("u1")
    jc.delete_user_group("g1")
    with pytest.raises(NotFound):
        jc.change_group_member("g1", "add", "u1")


def test_put_user_group_drops_read_only_fields() -> None:
    jc, fake = make(lambda r: (200, {"id": "g1", "name": "x"}, {}))
    jc.put_user_group("g1", {"id": "g1", "type": "user_group", "name": "x", "suggestionCounts": {}})
    assert json.loads(fake.seen[0].body or b"{}") == {"name": "x"}


def test_org_id_discovered_when_not_configured() -> None:
    jc, _ = make(lambda r: (200, {"totalCount": 1, "results": [{"_id": "o1", "displayName": "Acme"}]}, {}))
    assert jc.org_id() == "o1"
    jc, _ = make(lambda r: (200, [{"_id": "o2"}], {}))
    assert jc.org_id() == "o2"


def test_settings_repr_hides_the_key() -> None:
    assert KEY not in repr(JumpCloudSettings(api_key=KEY))
