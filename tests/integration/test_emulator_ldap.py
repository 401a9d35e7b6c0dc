"""The emulator's LDAP projection, read back from the real slapd over LDAPS and StartTLS."""

from __future__ import annotations

import ssl
from typing import Any

import ldap3
import pytest
from Crypto.Hash import MD4
from ldap3.core.exceptions import LDAPBindError, LDAPException

from tests.integration.test_emulator_api import PASSWORD, Api, runbook

pytestmark = pytest.mark.integration


def connect(sandbox: dict[str, Any], dn: str, password: str, starttls: bool = False) -> ldap3.Connection:
    ldap = sandbox["ldap"]
    tls = ldap3.Tls(ca_certs_file=ldap["ca_cert"], validate=ssl.CERT_REQUIRED)
    uri = ldap["starttls_uri"] if starttls else ldap["uri"]
    server = ldap3.Server(uri, tls=tls, get_info=ldap3.NONE, connect_timeout=5)
    conn = ldap3.Connection(server, dn, password, receive_timeout=10, raise_exceptions=False)
    conn.open()
    if starttls:
        assert conn.start_tls()
    if not conn.bind():
        raise LDAPBindError(str(conn.result))
    return conn


def dn_of(sandbox: dict[str, Any], username: str) -> str:
    return f"uid={username},{sandbox['ldap']['users_base_dn']}"


def nt(password: str) -> str:
    return MD4.new(password.encode("utf-16-le")).hexdigest().upper()  # noqa: S303 - the NT hash is MD4


@pytest.fixture
def directory(jc_reset: dict[str, Any]) -> dict[str, Any]:
    api = Api(jc_reset)
    ids = runbook(api, jc_reset)
    carol = api.call("POST", "/systemusers", 200, json={"username": "carol", "email": "c@example.com",
                                                        "password": "Carol-pw1"}).json()
    reader = api.call("POST", "/systemusers", 200, json={"username": "reader", "email": "r@example.com",
                                                         "password": "Reader-pw1", "ldap_binding_user": True}).json()
    api.call("POST", "/systemusers", 200, json={"username": "hidden", "email": "h@example.com", "password": "Hid-pw1"})
    plain = api.call("POST", "/v2/usergroups", 201, json={"name": "Plain"}).json()
    api.call("POST", f"/v2/usergroups/{plain['id']}/associations", 204,
             json={"op": "add", "type": "ldap_server", "id": ids["ldap_id"]})
    member = {"op": "add", "type": "user", "id": carol["_id"]}
    api.call("POST", f"/v2/usergroups/{plain['id']}/members", 204, json=member)
    return {**ids, "api": api, "carol": carol, "reader": reader}


@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
def test_service_account_sees_samba_hash_for_members_only(jc_reset: dict[str, Any], directory: dict[str, Any],
                                                         starttls: bool) -> None:
    conn = connect(jc_reset, dn_of(jc_reset, "svc-samba"), PASSWORD, starttls=starttls)
    base = jc_reset["ldap"]["base_dn"]
    conn.search(base, "(uid=alice)", attributes=["objectClass", "sambaNTPassword", "sambaSID", "uidNumber"])
    (alice,) = conn.entries
    assert "sambaSamAccount" in alice.objectClass.values
    assert alice.sambaNTPassword.value == nt("Alice-pw1")
    assert alice.sambaSID.value.startswith("S-1-5-21-1111-2222-3333-")
    conn.search(base, "(uid=carol)", attributes=["objectClass", "sambaNTPassword"])
    (carol,) = conn.entries
    assert "sambaSamAccount" not in carol.objectClass.values
    assert not carol.entry_attributes_as_dict.get("sambaNTPassword")
    conn.search(base, "(uid=hidden)", attributes=["uid"])
    assert conn.entries == []  # not bound to the directory: invisible
    conn.search(base, "(objectClass=*)", attributes=["userPassword"])
    assert conn.entries and all(not e.entry_attributes_as_dict.get("userPassword") for e in conn.entries)
    conn.unbind()


def test_groups_and_samba_domain_are_laid_out_as_jumpcloud(jc_reset: dict[str, Any], directory: dict[str, Any]) -> None:
    conn = connect(jc_reset, dn_of(jc_reset, "svc-samba"), PASSWORD)
    base = jc_reset["ldap"]["base_dn"]
    conn.search(base, "(&(objectClass=posixGroup)(cn=nas-users))", attributes=["gidNumber", "memberUid"])
    (posix,) = conn.entries
    assert str(posix.gidNumber.value) == "7001" and posix.memberUid.values == ["alice"]
    conn.search(base, "(&(objectClass=groupOfNames)(cn=NAS Users))", attributes=["member"])
    (names,) = conn.entries
    assert names.member.values == [dn_of(jc_reset, "alice")]
    conn.search(base, "(cn=NAS Admins)", attributes=["cn"])
    assert conn.entries == []  # bound but without members: not published
    conn.search(base, "(&(objectClass=sambaDomain)(sambaDomainName=JCWORK))", attributes=["sambaSID"])
    (domain,) = conn.entries
    assert domain.sambaSID.value == "S-1-5-21-1111-2222-3333"
    conn.unbind()


def test_bind_dn_user_that_is_not_the_service_account_cannot_read_hashes(jc_reset: dict[str, Any],
                                                                       directory: dict[str, Any]) -> None:
    conn = connect(jc_reset, dn_of(jc_reset, "reader"), "Reader-pw1")
    conn.search(jc_reset["ldap"]["base_dn"], "(uid=alice)", attributes=["uid", "sambaNTPassword"])
    (alice,) = conn.entries
    assert alice.uid.value == "alice" and not alice.entry_attributes_as_dict.get("sambaNTPassword")
    conn.unbind()


def test_non_bind_dn_user_binds_but_cannot_search(jc_reset: dict[str, Any], directory: dict[str, Any]) -> None:
    conn = connect(jc_reset, dn_of(jc_reset, "carol"), "Carol-pw1", starttls=True)
    conn.search(jc_reset["ldap"]["base_dn"], "(objectClass=*)", attributes=["uid"])
    assert conn.entries == []
    conn.unbind()


def test_wrong_password_anonymous_and_cleartext_binds_are_refused(jc_reset: dict[str, Any],
                                                                  directory: dict[str, Any]) -> None:
    with pytest.raises(LDAPBindError):
        connect(jc_reset, dn_of(jc_reset, "alice"), "wrong-password")
    with pytest.raises(LDAPBindError):
        connect(jc_reset, "", "")
    server = ldap3.Server(jc_reset["ldap"]["starttls_uri"], get_info=ldap3.NONE, connect_timeout=5)
    plain = ldap3.Connection(server, dn_of(jc_reset, "alice"), "Alice-pw1", receive_timeout=10)
    assert not plain.bind()  # no StartTLS: confidentiality required


def test_deleted_or_password_changed_user_is_reflected(jc_reset: dict[str, Any], directory: dict[str, Any]) -> None:
    api: Api = directory["api"]
    connect(jc_reset, dn_of(jc_reset, "carol"), "Carol-pw1").unbind()
    api.call("DELETE", f"/systemusers/{directory['carol']['_id']}", 200)
    with pytest.raises(LDAPBindError):
        connect(jc_reset, dn_of(jc_reset, "carol"), "Carol-pw1")
    api.call("PUT", f"/systemusers/{directory['alice']['_id']}", 200, json={"password": "Alice-pw2"})
    with pytest.raises(LDAPBindError):
        connect(jc_reset, dn_of(jc_reset, "alice"), "Alice-pw1")
    conn = connect(jc_reset, dn_of(jc_reset, "svc-samba"), PASSWORD)
    conn.search(jc_reset["ldap"]["base_dn"], "(uid=alice)", attributes=["sambaNTPassword"])
    assert conn.entries[0].sambaNTPassword.value == nt("Alice-pw2")
    # Removing the member takes the Samba attributes (and the user) out of the directory.
    api.call("POST", f"/v2/usergroups/{directory['groups'][0]}/members", 204,
             json={"op": "remove", "type": "user", "id": directory["alice"]["_id"]})
    conn.search(jc_reset["ldap"]["base_dn"], "(uid=alice)", attributes=["uid"])
    assert conn.entries == []
    conn.unbind()


def test_reset_empties_the_directory_but_keeps_the_org(jc_reset: dict[str, Any], directory: dict[str, Any]) -> None:
    import requests

    requests.post(jc_reset["jumpcloud"]["sandbox_url"] + "/_sandbox/reset", timeout=10).raise_for_status()
    with pytest.raises(LDAPException):
        connect(jc_reset, dn_of(jc_reset, "svc-samba"), PASSWORD)
