"""The JumpCloud client against the real emulator: paging, filters, errors, retries, timeouts, spec."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from jcqnap.jumpcloud import (
    AuthError,
    Conflict,
    JumpCloudClient,
    JumpCloudSettings,
    NotFound,
    RateLimited,
    ServerError,
    Timeout,
    ValidationError,
    object_id,
)
from tests.spec_validation import validate_error_body, validate_request, validate_response

pytestmark = pytest.mark.integration
PASSWORD = "Integr4tion-Pw!"


def settings(sandbox: dict[str, Any], **kw: Any) -> JumpCloudSettings:
    info = sandbox["jumpcloud"]
    return JumpCloudSettings(api_key=info["api_key"], api_url=info["api_url"], org_id=info["org_id"], **kw)


def faults(sandbox: dict[str, Any], **cfg: Any) -> None:
    requests.post(f"{sandbox['jumpcloud']['sandbox_url']}/_sandbox/faults", json=cfg, timeout=10).raise_for_status()


def request_log(sandbox: dict[str, Any]) -> list[dict[str, Any]]:
    return list(requests.get(f"{sandbox['jumpcloud']['sandbox_url']}/_sandbox/requests", timeout=10).json())


@pytest.fixture
def recorded(jc_reset: dict[str, Any]) -> Iterator[tuple[JumpCloudClient, list[requests.Response]]]:
    """A client whose every response (and request) is validated against the spec at teardown."""
    seen: list[requests.Response] = []
    jc = JumpCloudClient(settings(jc_reset, backoff_factor=0.05))
    jc._session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    yield jc, seen
    faults(jc_reset)
    jc.close()
    for resp in seen:
        validate_request(resp.request)
        if resp.status_code < 400:
            validate_response(resp)
        elif resp.content:
            validate_error_body(resp)


def test_v1_paging_reads_every_user_in_pages_of_100(recorded: Any, jc_reset: dict) -> None:
    jc, _ = recorded
    for i in range(205):
        jc.create_user({"username": f"user{i:03}", "email": f"user{i:03}@example.com"})
    requests.delete(f"{jc_reset['jumpcloud']['sandbox_url']}/_sandbox/requests", timeout=10)
    names = [u["username"] for u in jc.list_users()]
    assert len(names) == 205 and len(set(names)) == 205
    pages = [e for e in request_log(jc_reset) if e["path"] == "/api/systemusers"]
    assert len(pages) == 3 and all("limit=100" in e["query"] for e in pages)


def test_v2_member_paging_and_filters(recorded: Any) -> None:
    jc, _ = recorded
    ids = [object_id(jc.create_user({"username": f"m{i:03}", "email": f"m{i:03}@example.com"}).obj)
           for i in range(130)]
    group = jc.create_user_group({"name": "Paging Group"}, lambda g: False).obj
    for user_id in ids:
        jc.change_group_member(object_id(group), "add", user_id)
    jc.change_group_member(object_id(group), "add", ids[0])  # already a member: success
    assert sorted(jc.list_group_member_ids(object_id(group))) == sorted(ids)
    assert jc.find_user_group("Paging Group") is not None
    assert jc.find_user_group("Paging") is None
    assert jc.find_user("m007") is not None and jc.find_user("m00") is None


def test_errors_are_typed_and_say_the_fix(recorded: Any, jc_reset: dict) -> None:
    jc, _ = recorded
    with pytest.raises(NotFound, match=r"^JumpCloud GET /systemusers/000000000000000000000000: "):
        jc.get_user("000000000000000000000000")
    # A deliberately invalid body: sent by a client outside the spec-validated recording.
    with JumpCloudClient(settings(jc_reset)) as plain, pytest.raises(ValidationError):
        plain.create_user({"username": "no-email"})
    bad = JumpCloudClient(JumpCloudSettings(api_key="wrong-key", api_url=jc_reset["jumpcloud"]["api_url"]))
    with pytest.raises(AuthError) as info:
        bad.ldap_server_id()
    assert "wrong-key" not in str(info.value) and "jumpcloudApiKey" in str(info.value)


def test_deleting_the_samba_service_user_conflicts(recorded: Any) -> None:
    jc, _ = recorded
    user = jc.create_user({"username": "svc", "email": "svc@example.com", "password": PASSWORD,
                           "samba_service_user": True, "ldap_binding_user": True}).obj
    with pytest.raises(Conflict) as info:
        jc._json("DELETE", f"/systemusers/{object_id(user)}")
    assert PASSWORD not in str(info.value)


def test_429_is_retried_honouring_retry_after(jc_reset: dict) -> None:
    faults(jc_reset, status=429, rate=1.0, retry_after=1)
    try:
        with JumpCloudClient(settings(jc_reset, retries=2)) as jc:
            start = time.monotonic()
            with pytest.raises(RateLimited):
                jc.ldap_server_id()
            assert time.monotonic() - start >= 2.0  # two waits of Retry-After: 1
        assert sum(e["status"] == 429 for e in request_log(jc_reset)) == 3
    finally:
        faults(jc_reset)


def test_30_percent_429_creates_no_duplicates(recorded: Any, jc_reset: dict) -> None:
    jc, _ = recorded
    faults(jc_reset, status=429, rate=0.3, retry_after=0)
    for i in range(10):
        jc.create_user({"username": f"dup{i}", "email": f"dup{i}@example.com"})
        jc.create_user_group({"name": f"Dup {i}"}, lambda g: True)
    faults(jc_reset)
    assert sorted(u["username"] for u in jc.list_users()) == sorted(f"dup{i}" for i in range(10))
    assert len(list(jc.list_user_groups())) == 10
    assert any(e["status"] == 429 for e in request_log(jc_reset))


def test_5xx_after_retries_is_a_server_error(jc_reset: dict) -> None:
    faults(jc_reset, status=503, rate=1.0)
    try:
        with JumpCloudClient(settings(jc_reset, retries=1, backoff_factor=0)) as jc, pytest.raises(ServerError):
            jc.ldap_server_id()
    finally:
        faults(jc_reset)


def test_slow_answers_time_out(jc_reset: dict) -> None:
    faults(jc_reset, latency_ms=1500)
    try:
        with JumpCloudClient(settings(jc_reset, retries=0, read_timeout=0.3)) as jc, pytest.raises(Timeout) as info:
            jc.ldap_server_id()
        assert "jumpcloudTimeout" in str(info.value)
    finally:
        faults(jc_reset)
