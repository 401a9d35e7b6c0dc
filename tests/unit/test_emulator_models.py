"""The JumpCloud backend's rules and the LDAP layout, without HTTP and without slapd."""

from __future__ import annotations

from typing import Any

import pytest
from Crypto.Hash import MD4

from jcqnap.sandbox.jumpcloud import query as q
from jcqnap.sandbox.jumpcloud.exceptions import AlreadyExists, BadRequest, Conflict, NotFound, Unauthorized
from jcqnap.sandbox.jumpcloud.models import JumpCloudBackend, hash_api_key
from jcqnap.sandbox.ldap_projection import desired_entries, user_dn

ORG = "a" * 24
LDAP = "b" * 24
SID = "S-1-5-21-1-2-3"


@pytest.fixture
def b() -> JumpCloudBackend:
    return JumpCloudBackend(ORG, LDAP, hash_api_key("key"))


def bound_samba_group(b: JumpCloudBackend, name: str = "g", gid: int = 7000) -> dict:
    g = b.create_group({"name": name, "attributes": {"posixGroups": [{"id": gid, "name": name}]}})
    b.change_association(g["id"], {"op": "add", "type": "ldap_server", "id": LDAP})
    return g


def test_api_key_is_checked_against_its_hash_and_org_header(b: JumpCloudBackend) -> None:
    b.authenticate("key", None)
    b.authenticate("key", ORG)
    for key, org in ((None, None), ("nope", None), ("key", "c" * 24)):
        with pytest.raises(Unauthorized):
            b.authenticate(key, org)


def test_users_get_unix_ids_from_5000_and_no_password_back(b: JumpCloudBackend) -> None:
    u1 = b.create_user({"username": "a", "email": "a@x.io", "password": "pw"})
    u2 = b.create_user({"username": "b", "email": "b@x.io"})
    assert (u1["unix_uid"], u2["unix_uid"]) == (5000, 5001)
    assert "password" not in u1 and len(u1["_id"]) == 24


def test_nt_hash_only_for_a_password_set_while_samba_is_configured(b: JumpCloudBackend) -> None:
    u = b.create_user({"username": "a", "email": "a@x.io", "password": "pw"})
    assert b.users[u["_id"]].password_ssha and b.users[u["_id"]].password_nt is None  # set before Samba
    domain = b.create_samba_domain(LDAP, {"name": "WG", "sid": "S-1-5-21-1-2-3"})
    assert b.users[u["_id"]].password_nt is None  # configuring Samba cannot derive it afterwards
    b.update_user(u["_id"], {"password": "pw2"})
    assert b.users[u["_id"]].password_nt == MD4.new("pw2".encode("utf-16-le")).hexdigest().upper()  # noqa: S303
    b.delete_samba_domain(LDAP, domain["id"])
    b.update_user(u["_id"], {"password": "pw3"})
    assert b.users[u["_id"]].password_nt is None  # no stale hash that still takes the old password


def test_duplicate_username_or_email_is_400_user_already_exists(b: JumpCloudBackend) -> None:
    b.create_user({"username": "a", "email": "a@x.io"})
    for body in ({"username": "A", "email": "z@x.io"}, {"username": "z", "email": "A@X.io"}):
        with pytest.raises(BadRequest, match="User already exists"):
            b.create_user(body)


def test_put_merges_and_service_account_delete_is_409(b: JumpCloudBackend) -> None:
    u = b.create_user({"username": "svc", "email": "s@x.io", "firstname": "S", "samba_service_user": True})
    assert b.update_user(u["_id"], {"lastname": "L"})["firstname"] == "S"
    with pytest.raises(Conflict):
        b.delete_user(u["_id"])
    b.update_user(u["_id"], {"samba_service_user": False})
    b.delete_user(u["_id"])
    with pytest.raises(NotFound):
        b.get_user(u["_id"])


def test_group_rules_duplicate_name_and_samba_preconditions(b: JumpCloudBackend) -> None:
    b.create_group({"name": "g"})
    with pytest.raises(AlreadyExists):
        b.create_group({"name": "G"})
    g = bound_samba_group(b, "h", 7001)
    body = {"name": "h", "attributes": {"posixGroups": [{"id": 7001, "name": "h"}], "sambaEnabled": True}}
    with pytest.raises(BadRequest, match="Samba domain"):
        b.replace_group(g["id"], body)  # bound, but the directory has no Samba domain yet
    b.create_samba_domain(LDAP, {"name": "WG", "sid": SID})
    assert b.replace_group(g["id"], body)["attributes"]["sambaEnabled"] is True
    no_posix = b.create_group({"name": "np"})
    b.change_association(no_posix["id"], {"op": "add", "type": "ldap_server", "id": LDAP})
    with pytest.raises(BadRequest, match="Linux group"):
        b.replace_group(no_posix["id"], {"name": "np", "attributes": {"sambaEnabled": True}})
    with pytest.raises(BadRequest, match="already used"):
        b.create_group({"name": "other", "attributes": {"posixGroups": [{"id": 7001, "name": "x"}]}})


def test_put_replaces_the_whole_group(b: JumpCloudBackend) -> None:
    g = b.create_group({"name": "g", "description": "d", "attributes": {"posixGroups": [{"id": 7, "name": "g"}]}})
    out = b.replace_group(g["id"], {"name": "g2"})
    assert out["description"] == "" and "attributes" not in out


def test_members_and_associations_are_idempotence_aware(b: JumpCloudBackend) -> None:
    g = b.create_group({"name": "g"})
    u = b.create_user({"username": "a", "email": "a@x.io"})
    b.change_member(g["id"], {"op": "add", "type": "user", "id": u["_id"]})
    with pytest.raises(AlreadyExists):
        b.change_member(g["id"], {"op": "add", "type": "user", "id": u["_id"]})
    b.change_member(g["id"], {"op": "remove", "type": "user", "id": u["_id"]})
    with pytest.raises(NotFound):
        b.change_member(g["id"], {"op": "remove", "type": "user", "id": u["_id"]})
    with pytest.raises(BadRequest):
        b.list_associations(g["id"], [], q.paging_only({}))
    with pytest.raises(BadRequest):
        b.change_association(g["id"], {"op": "add", "type": "user", "id": u["_id"]})


def test_list_parameters() -> None:
    assert q.parse_v1({"filter": ["username:$eq:a:b"]}).all_of[0] == q.Filter("username", "eq", "a:b")
    with pytest.raises(BadRequest):
        q.parse_v1({"filter": ["username:eq:a"]})
    with pytest.raises(BadRequest):
        q.parse_v2({"sort": ["id"]}, {"name"})
    with pytest.raises(BadRequest):
        q.parse_v1({"limit": ["101"]})
    assert q.parse_v1({"limit": ["0"]}).limit == 10
    assert q.parse_v1({"fields": ["username  email"]}).fields == ("username", "email")


def test_reset_keeps_org_and_ldap_server(b: JumpCloudBackend) -> None:
    b.create_user({"username": "a", "email": "a@x.io"})
    b.reset()
    assert b.list_users(q.ListQuery()).total == 0
    assert b.list_ldap_servers(q.ListQuery()).items[0]["id"] == LDAP


def test_ldap_layout_follows_jumpcloud_visibility_rules(b: JumpCloudBackend) -> None:
    svc = b.create_user({"username": "svc", "email": "s@x.io", "password": "p", "ldap_binding_user": True})
    member = b.create_user({"username": "m", "email": "m@x.io", "password": "pw"})
    b.create_user({"username": "loner", "email": "l@x.io", "password": "pw"})
    g = bound_samba_group(b, "nas", 7000)
    entries = desired_entries(b)
    assert user_dn(ORG, "svc") in entries and user_dn(ORG, "loner") not in entries
    assert not any("cn=nas," in dn for dn in entries)  # bound but empty: not published
    b.change_member(g["id"], {"op": "add", "type": "user", "id": member["_id"]})
    b.create_samba_domain(LDAP, {"name": "WG", "sid": SID})
    b.replace_group(g["id"], {"name": "nas", "attributes": {"posixGroups": [{"id": 7000, "name": "nas"}],
                                                           "sambaEnabled": True}})
    entries = desired_entries(b)
    m = entries[user_dn(ORG, "m")]
    assert "sambaSamAccount" in m["objectClass"] and m["sambaSID"] == [f"{SID}-{2 * member['unix_uid'] + 1000}"]
    assert m["userPassword"][0].startswith("{SSHA}")
    assert "sambaSamAccount" not in entries[user_dn(ORG, "svc")]["objectClass"]
    posix = entries[f"cn=nas,ou=Users,o={ORG},dc=jumpcloud,dc=com"]
    assert posix["gidNumber"] == ["7000"] and posix["memberUid"] == ["m"]
    assert entries[f"sambaDomainName=WG,o={ORG},dc=jumpcloud,dc=com"]["sambaSID"] == [SID]
    b.update_user(svc["_id"], {"suspended": True})
    assert "userPassword" not in desired_entries(b)[user_dn(ORG, "svc")]


def test_user_entries_kept_between_syncs_follow_every_change(b: JumpCloudBackend) -> None:
    """The projection keeps user entries between syncs (an org of thousands re-projected after each
    write was what made the bench's 500-group stack take an hour); what it publishes must not differ
    from a fresh computation after a user change, a password change, a new SID or a deleted user."""
    cache: dict = {}
    member = b.create_user({"username": "m", "email": "m@x.io", "password": "pw"})
    g = bound_samba_group(b, "nas", 7000)
    b.change_member(g["id"], {"op": "add", "type": "user", "id": member["_id"]})
    steps = [
        lambda: b.update_user(member["_id"], {"firstname": "Mia"}),
        lambda: b.create_samba_domain(LDAP, {"name": "WG", "sid": SID}),
        lambda: b.replace_group(g["id"], {"name": "nas", "attributes": {
            "posixGroups": [{"id": 7000, "name": "nas"}], "sambaEnabled": True}}),
        lambda: b.update_user(member["_id"], {"password": "new one"}),
        lambda: b.update_user(member["_id"], {"suspended": True}),
        lambda: b.delete_user(member["_id"]),
    ]
    seen = []
    for step in steps:
        before = desired_entries(b, cache)
        step()
        after = desired_entries(b, cache)
        assert after == desired_entries(b)
        seen.append(before != after)
    assert all(seen)  # every step changed what is published, so a stale cache would have failed above
    assert member["_id"] not in cache


def test_group_bodies_are_normalised_to_what_the_spec_allows(b: JumpCloudBackend) -> None:
    """Fuzz findings: null attributes were echoed as null, exemptions without id were echoed back."""
    g = b.create_group({"name": "g", "bogus": 1, "attributes": {"posixGroups": None, "sambaEnabled": None, "x": 1}})
    assert "attributes" not in g and "bogus" not in g
    bad_bodies: list[dict[str, Any]] = [{"memberQueryExemptions": [{}]}, {"attributes": {"sudo": {"enabled": "yes"}}},
                                        {"memberSuggestionsNotify": "no"}]
    for bad in bad_bodies:
        with pytest.raises(BadRequest):
            b.create_group({"name": "h", **bad})
    with pytest.raises(BadRequest):
        b.create_user({"username": "u", "email": "u@x.io", "addresses": [[]]})
