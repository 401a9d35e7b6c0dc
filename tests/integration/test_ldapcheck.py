"""ldapcheck against the sandbox's real slapd (fed by the emulator): TLS, visibility, Samba attributes."""

from __future__ import annotations

from typing import Any

import pytest
from Crypto.Hash import MD4

from jcqnap import verify
from jcqnap.jumpcloud import JumpCloudClient, JumpCloudSettings, object_id
from jcqnap.ldapcheck import LdapCheckError, can_bind, check_directory

pytestmark = pytest.mark.integration
SVC_PASSWORD = "Svc-Integr4tion-Pw!"
MEMBER_PASSWORD = "Member-Integr4tion-Pw!"


@pytest.fixture
def directory(jc_reset: dict[str, Any]) -> dict[str, Any]:
    """A bind user, a Samba domain and a bound Samba group with alice (password set before Samba was
    configured, so no Samba hash) and dave (password set after); carol in no group."""
    info = jc_reset["jumpcloud"]
    with JumpCloudClient(JumpCloudSettings(api_key=info["api_key"], api_url=info["api_url"])) as jc:
        jc.create_user({"username": "svc-samba", "email": "svc@example.com", "password": SVC_PASSWORD,
                        "ldap_binding_user": True, "samba_service_user": True, "password_never_expires": True})
        alice = jc.create_user({"username": "alice", "email": "alice@example.com", "password": MEMBER_PASSWORD}).obj
        jc.create_user({"username": "carol", "email": "carol@example.com", "password": MEMBER_PASSWORD})
        ldap_id = jc.ldap_server_id()
        jc.create_samba_domain(ldap_id, "ACME", "S-1-5-21-1-2-3")
        dave = jc.create_user({"username": "dave", "email": "dave@example.com", "password": MEMBER_PASSWORD}).obj
        group = jc.create_user_group(
            {"name": "NAS Staff", "attributes": {"posixGroups": [{"id": 5001, "name": "nas-staff"}]}}, lambda g: False
        ).obj
        gid = object_id(group)
        jc.change_group_association(gid, "add", "ldap_server", ldap_id)
        full = jc.get_user_group(gid)
        full["attributes"] = {**full.get("attributes", {}), "sambaEnabled": True}
        jc.put_user_group(gid, full)
        jc.change_group_member(gid, "add", object_id(alice))
        jc.change_group_member(gid, "add", object_id(dave))
    ldap = jc_reset["ldap"]
    return {**ldap, "alice_id": object_id(alice), "svc_dn": f"uid=svc-samba,ou=Users,{ldap['base_dn']}",
            "alice_dn": f"uid=alice,ou=Users,{ldap['base_dn']}", "carol_dn": f"uid=carol,ou=Users,{ldap['base_dn']}"}


@pytest.mark.parametrize("uri_key", ["uri", "starttls_uri"])
def test_service_account_sees_groups_members_and_samba(directory: dict[str, Any], uri_key: str) -> None:
    d = directory
    report = check_directory(d[uri_key], d["svc_dn"], SVC_PASSWORD, d["base_dn"], d["ca_cert"])
    assert report.tls == ("ldaps" if uri_key == "uri" else "starttls")
    assert report.can_search
    assert report.samba_domains == {"ACME": "S-1-5-21-1-2-3"}
    staff = report.group("NAS Staff")
    assert staff is not None
    assert [(m.uid, m.samba, m.samba_hash) for m in staff.members] == [("alice", True, False), ("dave", True, True)]
    assert staff.members[0].samba_sid and staff.members[0].samba_sid.startswith("S-1-5-21-1-2-3-")
    # The report never holds an NT hash.
    nt = MD4.new(MEMBER_PASSWORD.encode("utf-16-le")).hexdigest()  # noqa: S303 - NT hash is MD4
    assert nt not in repr(report).lower() and "ntpassword" not in repr(report).lower()


def test_non_member_has_no_samba_attributes(directory: dict[str, Any]) -> None:
    d = directory
    report = check_directory(d["uri"], d["svc_dn"], SVC_PASSWORD, d["base_dn"], d["ca_cert"])
    assert "carol" not in report.member_samba()


def test_a_user_without_bind_dn_can_bind_but_not_search(directory: dict[str, Any]) -> None:
    d = directory
    assert can_bind(d["uri"], d["alice_dn"], MEMBER_PASSWORD, d["ca_cert"])
    report = check_directory(d["uri"], d["alice_dn"], MEMBER_PASSWORD, d["base_dn"], d["ca_cert"])
    assert not report.can_search and report.groups == []


def test_wrong_password_is_a_one_line_error_without_the_password(directory: dict[str, Any]) -> None:
    d = directory
    assert not can_bind(d["uri"], d["svc_dn"], "Wrong-Passw0rd!", d["ca_cert"])
    with pytest.raises(LdapCheckError) as info:
        check_directory(d["uri"], d["svc_dn"], "Wrong-Passw0rd!", d["base_dn"], d["ca_cert"])
    assert "invalid credentials" in str(info.value) and "Wrong-Passw0rd!" not in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_ca_is_refused(directory: dict[str, Any]) -> None:
    d = directory
    with pytest.raises(LdapCheckError):
        check_directory(d["uri"], d["svc_dn"], SVC_PASSWORD, d["base_dn"], ca_cert=None)


def test_plain_ldap_uri_always_upgrades_with_starttls(directory: dict[str, Any]) -> None:
    d = directory
    report = check_directory(d["starttls_uri"], d["svc_dn"], SVC_PASSWORD, d["base_dn"], d["ca_cert"])
    assert report.tls == "starttls"


def test_filter_values_are_escaped(directory: dict[str, Any]) -> None:
    d = directory
    report = check_directory(d["uri"], d["svc_dn"], SVC_PASSWORD, d["base_dn"], d["ca_cert"],
                             groups=["*)(cn=*", "NAS Staff"])
    assert [g.cn for g in report.groups] == ["NAS Staff"]


def test_verify_names_members_without_a_samba_hash_until_their_password_changes(
        jc_reset: dict[str, Any], directory: dict[str, Any]) -> None:
    d = directory
    outs = {"ldapHost": d["host"], "ldapPort": d["ldaps_port"], "ldapSecurity": "ldaps", "bindDn": d["svc_dn"],
            "bindPassword": SVC_PASSWORD, "baseDn": d["base_dn"], "groupNames": ["NAS Staff"], "workgroup": "ACME"}
    (check,) = [c for c in verify.check_ldap(outs, d["ca_cert"]) if "Samba hash" in c.name]
    assert not check.ok and check.target == "NAS Staff"
    assert "alice" in check.detail and "dave" not in check.detail
    assert "alice" in check.fix and "password" in check.fix
    info = jc_reset["jumpcloud"]
    with JumpCloudClient(JumpCloudSettings(api_key=info["api_key"], api_url=info["api_url"])) as jc:
        jc.update_user(d["alice_id"], {"password": "Alice-Changed-Pw1!"})  # what the fix asks for
    checks = verify.check_ldap(outs, d["ca_cert"])
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


@pytest.mark.parametrize("uri_key", ["uri", "starttls_uri"])
def test_adopted_bind_password_is_checked_by_one_bind(directory: dict[str, Any], uri_key: str) -> None:
    """BindUser's adoption check: the CA given as PEM text, as the directory stack passes it."""
    from jcqnap.errors import JcqnapError
    from jcqnap.providers.bind_user import check_given_password

    d = directory
    where = {"uri": d[uri_key], "ca_cert": open(d["ca_cert"]).read()}
    org = d["base_dn"].split(",")[0].removeprefix("o=")
    assert check_given_password(where, "svc-samba", org, SVC_PASSWORD) == ""
    with pytest.raises(JcqnapError) as refused:
        check_given_password(where, "svc-samba", org, "Not-The-Password-1")
    line = str(refused.value)
    assert line.startswith("jcqnap:bindPassword does not bind") and "nothing was changed" in line
    assert "\n" not in line and "Not-The-Password-1" not in line
    # Not reachable (a closed port) or no endpoint: adoption goes on, and its note says why.
    closed = {"uri": "ldaps://127.0.0.1:9", "ca_cert": where["ca_cert"]}
    assert check_given_password(closed, "svc-samba", org, SVC_PASSWORD).startswith("not checked: LDAP ldaps")
    assert check_given_password(None, "svc-samba", org, SVC_PASSWORD) == "not checked: no LDAP endpoint to bind to"
