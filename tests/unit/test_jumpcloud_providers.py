"""check and diff of the JumpCloud resources: validation messages, what updates and what replaces."""

from __future__ import annotations

import re
import string

import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.runtime import rpc

from jcqnap.providers import jumpcloud_common
from jcqnap.providers.base import UNKNOWN
from jcqnap.providers.bind_user import BindUserProvider, bind_dn, generate_password
from jcqnap.providers.samba_domain import SambaDomainProvider, generate_sid, sid_problem, workgroup_problem
from jcqnap.providers.samba_group import SambaGroupProvider, _outputs, read_inputs

USER_OUT = {
    "username": "svc-samba",
    "email": "svc@example.com",
    "firstname": "",
    "lastname": "",
    "password": "OldPassw0rd!",
    "ldap_binding_user": True,
    "samba_service_user": True,
    "password_never_expires": True,
    "org_id": "5f0c1b2a3d4e5f6a7b8c9d0e",
}
GROUP_OUT = {
    "name": "NAS Staff",
    "linux_name": "nas-staff",
    "gid": 5001,
    "description": "",
    "members": ["alice", "bob"],
    "samba_enabled": True,
    "bound": True,
}


def failed_fields(result: object) -> set[str]:
    return {f.property for f in result.failures}  # type: ignore[attr-defined]


# -- BindUser -----------------------------------------------------------------------------------


def test_bind_user_check_accepts_minimal_inputs() -> None:
    res = BindUserProvider().check({}, {"username": "svc-samba", "email": " svc@example.com "})
    assert not res.failures
    assert res.inputs["email"] == "svc@example.com"


@pytest.mark.parametrize(
    ("news", "field"),
    [
        ({"username": "svc samba", "email": "a@b.co"}, "username"),
        ({"username": "uid=x,ou=y", "email": "a@b.co"}, "username"),
        ({"username": "svc", "email": "not-an-email"}, "email"),
        ({"username": "svc", "email": "a@b.co", "password": "short"}, "password"),
    ],
)
def test_bind_user_check_names_the_bad_field(news: dict, field: str) -> None:
    res = BindUserProvider().check({}, news)
    assert failed_fields(res) == {field}
    assert res.failures[0].reason.startswith(f"{field}: ")


def test_bind_user_check_lets_unknowns_through() -> None:
    assert not BindUserProvider().check({}, {"username": UNKNOWN, "email": UNKNOWN}).failures


def test_bind_user_no_change_when_outputs_match() -> None:
    res = BindUserProvider().diff("u1", USER_OUT, {"username": "svc-samba", "email": "SVC@example.com"})
    assert not res.changes


def test_bind_user_password_change_rotates_in_place() -> None:
    news = {"username": "svc-samba", "email": "svc@example.com", "password": "NewPassw0rd!"}
    res = BindUserProvider().diff("u1", USER_OUT, news)
    assert res.changes and res.replaces == []


def test_bind_user_username_change_replaces() -> None:
    res = BindUserProvider().diff("u1", USER_OUT, {"username": "svc-other", "email": "svc@example.com"})
    assert res.changes and res.replaces == ["username"]


@pytest.mark.parametrize("flag", ["ldap_binding_user", "samba_service_user", "password_never_expires"])
def test_bind_user_flag_switched_off_is_drift(flag: str) -> None:
    news = {"username": "svc-samba", "email": "svc@example.com"}
    res = BindUserProvider().diff("u1", {**USER_OUT, flag: False}, news)
    assert res.changes and not res.replaces


def test_bind_user_read_inputs_match_what_check_makes_of_the_program() -> None:
    """A refresh with no drift stores inputs equal to the program's, so a refreshed diff marks only drift."""
    program = BindUserProvider().check({}, {"username": "svc-samba", "email": "svc@example.com"}).inputs
    read = BindUserProvider._inputs({**USER_OUT, "password_is_input": False})
    assert read == program  # flags set on both sides; no firstname/lastname; a generated password left out


def test_bind_user_read_returns_a_given_password_marked_secret() -> None:
    read = BindUserProvider._inputs({**USER_OUT, "password_is_input": True})
    assert rpc.is_rpc_secret(read["password"]) and read["password"]["value"] == USER_OUT["password"]


def test_generated_password_is_long_and_mixed() -> None:
    pw = generate_password()
    assert len(pw) == 32
    assert any(c in string.ascii_lowercase for c in pw) and any(c in string.ascii_uppercase for c in pw)
    assert any(c in string.digits for c in pw) and any(c in "-_.!#%+=" for c in pw)
    assert generate_password() != pw


def test_bind_dn_layout() -> None:
    assert bind_dn("svc", "abc") == "uid=svc,ou=Users,o=abc,dc=jumpcloud,dc=com"


# -- SambaDomain --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "A" * 16, "MY DOMAIN", "CORP.LOCAL", "A,B", "A;B", "A=B", "A+B", "A[B]", 'A"B',
                                 "A\\B", "A/B", "A:B", "A*B", "A?B", "A<B", "A|B", "DOMÄNE"])
def test_invalid_workgroups_are_refused(bad: str) -> None:
    assert workgroup_problem(bad) is not None
    res = SambaDomainProvider().check({}, {"workgroup": bad})
    assert failed_fields(res) == {"workgroup"}


def test_workgroup_is_stored_upper_case() -> None:
    res = SambaDomainProvider().check({}, {"workgroup": "acme-nas"})
    assert not res.failures and res.inputs["workgroup"] == "ACME-NAS"


def test_generated_sid_is_valid() -> None:
    for _ in range(50):
        sid = generate_sid()
        assert re.fullmatch(r"S-1-5-21-\d+-\d+-\d+", sid) and sid_problem(sid) is None


@pytest.mark.parametrize("bad", ["S-1-5-32-1-2-3", "S-1-5-21-1-2", "S-1-5-21-1-2-4294967296", "x"])
def test_invalid_sids_are_refused(bad: str) -> None:
    res = SambaDomainProvider().check({}, {"workgroup": "ACME", "sid": bad})
    assert failed_fields(res) == {"sid"}


def test_workgroup_change_updates_and_sid_change_replaces() -> None:
    old = {"workgroup": "ACME", "sid": "S-1-5-21-1-2-3", "ldap_server_id": "l1"}
    p = SambaDomainProvider()
    assert not p.diff("d1", old, {"workgroup": "ACME"}).changes  # generated SID kept
    res = p.diff("d1", old, {"workgroup": "OTHER"})
    assert res.changes and not res.replaces
    res = p.diff("d1", old, {"workgroup": "ACME", "sid": "S-1-5-21-4-5-6"})
    assert res.replaces == ["sid"]


def test_workgroup_changed_in_jumpcloud_is_drift() -> None:
    old = {"workgroup": "acme", "sid": "S-1-5-21-1-2-3"}
    assert SambaDomainProvider().diff("d1", old, {"workgroup": "ACME"}).changes


# -- SambaGroup ---------------------------------------------------------------------------------

GROUP_IN = {"name": "NAS Staff", "linux_name": "nas-staff", "gid": 5001.0, "members": ["bob", "alice", "bob"]}


def test_samba_group_check_normalises() -> None:
    res = SambaGroupProvider().check({}, GROUP_IN)
    assert not res.failures
    assert res.inputs["gid"] == 5001 and isinstance(res.inputs["gid"], int)
    assert res.inputs["members"] == ["alice", "bob"]
    assert res.inputs["description"] == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"linux_name": "NAS Staff"}, "linux_name"),
        ({"linux_name": "9staff"}, "linux_name"),
        ({"gid": 999}, "gid"),
        ({"gid": 60001}, "gid"),
        ({"gid": 1000.5}, "gid"),
        ({"members": "alice"}, "members"),
        ({"name": ""}, "name"),
    ],
)
def test_samba_group_check_names_the_bad_field(change: dict, field: str) -> None:
    res = SambaGroupProvider().check({}, {**GROUP_IN, **change})
    assert failed_fields(res) == {field}


def test_samba_group_no_change_when_outputs_match() -> None:
    news = SambaGroupProvider().check({}, GROUP_IN).inputs
    assert not SambaGroupProvider().diff("g1", GROUP_OUT, news).changes


@pytest.mark.parametrize("field", ["linux_name", "gid"])
def test_samba_group_posix_change_replaces(field: str) -> None:
    news = {**SambaGroupProvider().check({}, GROUP_IN).inputs, field: {"linux_name": "nas-other", "gid": 5002}[field]}
    assert SambaGroupProvider().diff("g1", GROUP_OUT, news).replaces == [field]


@pytest.mark.parametrize(
    "drift",
    [{"samba_enabled": False}, {"bound": False}, {"members": ["alice"]}, {"description": "edited"}, {"name": "x"}],
)
def test_samba_group_drift_is_an_in_place_change(drift: dict) -> None:
    news = SambaGroupProvider().check({}, GROUP_IN).inputs
    res = SambaGroupProvider().diff("g1", {**GROUP_OUT, **drift}, news)
    assert res.changes and not res.replaces


def test_unknown_members_during_preview_is_a_change() -> None:
    news = {**SambaGroupProvider().check({}, GROUP_IN).inputs, "members": UNKNOWN}
    assert SambaGroupProvider().diff("g1", GROUP_OUT, news).changes


# -- configuration ------------------------------------------------------------------------------


def test_configure_reads_the_three_config_keys_and_keeps_them_off_the_instance() -> None:
    cfg = {
        "jcqnap:jumpcloudApiKey": "key-123",
        "jcqnap:jumpcloudApiUrl": "eu",
        "jcqnap:jumpcloudOrgId": "org-1",
    }
    p = BindUserProvider()
    p.configure(ConfigureRequest(Config(cfg, "jcqnap")))
    try:
        with jumpcloud_common.client() as jc:
            assert jc.settings.api_url == "https://console.eu.jumpcloud.com/api"
            assert jc.settings.org_id == "org-1"
        assert "key-123" not in repr(vars(p))
    finally:
        jumpcloud_common.set_settings(None)


def test_missing_api_key_fails_with_the_config_command() -> None:
    BindUserProvider().configure(ConfigureRequest(Config({}, "jcqnap")))
    with pytest.raises(Exception, match="pulumi config set --secret jcqnap:jumpcloudApiKey"):
        jumpcloud_common.client()


# -- read returns inputs (issue 17): a refresh without drift stores inputs equal to the program's ---------
SID = "S-1-5-21-1-2-3"


@pytest.mark.parametrize("given_sid", [False, True])
def test_samba_domain_read_inputs_match_check(given_sid: bool) -> None:
    program = SambaDomainProvider().check({}, {"workgroup": "acme", "sid": SID if given_sid else None}).inputs
    outs = SambaDomainProvider._outputs({"id": "d1", "name": "ACME", "sid": SID}, "ldap1", sid_is_input=given_sid)
    assert SambaDomainProvider._inputs(outs) == program  # a generated SID is no input: never shown as removed


def test_samba_group_read_inputs_match_check() -> None:
    program = SambaGroupProvider().check({}, {"name": "NAS Staff", "linux_name": "nas-staff", "gid": 5001.0,
                                              "members": ["bob", "alice", "bob"], "description": None}).inputs
    group = {"id": "g1", "name": "NAS Staff", "description": "",
             "attributes": {"posixGroups": [{"id": 5001, "name": "nas-staff"}], "sambaEnabled": True}}
    assert read_inputs(_outputs(group, "ldap1", True, {"alice": "u1", "bob": "u2"})) == program
