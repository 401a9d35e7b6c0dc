"""Issue 13's pure rules: membership modes in config and in the provider's diff, and which Linux name
or GID changes can be done create-before-delete. The real runs are in tests/e2e/test_brownfield.py."""

from __future__ import annotations

import pytest

from jcqnap.config import ConfigError, parse
from jcqnap.providers.bind_user import BindUserProvider
from jcqnap.providers.samba_group import SambaGroupProvider, members_differ, posix_refusal

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrr4K3uFAy2oAbQOYDs1GgtrJ8ryO6sbM2d1VkzTPc0"


def raw(group: dict, **over: object) -> dict:
    cfg: dict[str, object] = {
        "role": "directory",
        "bindUser": {"username": "samba-bind", "email": "samba-bind@example.com"},
        "workgroup": "WG",
        "groups": [{"name": "NAS Users", "linuxName": "nas-users", "gid": 5100, **group}],
    }
    cfg.update(over)
    return cfg


def test_a_group_without_members_is_unmanaged_not_emptied() -> None:
    cfg = parse(raw({}))
    assert cfg.directory is not None
    g = cfg.directory.groups[0]
    assert g.members is None and g.members_mode == "unmanaged"
    with_members = parse(raw({"members": ["bob", "alice"]})).directory
    assert with_members is not None and with_members.groups[0].members == ("alice", "bob")
    assert with_members.groups[0].members_mode == "exact"


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ({"membersMode": "sometimes", "members": []}, "jcqnap:groups[0].membersMode: must be one of exact, add-only"),
        ({"membersMode": "add-only"}, "jcqnap:groups[0].members: is required with membersMode add-only"),
        ({"membersMode": "unmanaged", "members": ["a"]}, "jcqnap:groups[0].members: is set but membersMode is "
                                                         "unmanaged"),
    ],
)
def test_bad_member_modes_name_the_key(group: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(raw(group))
    assert expected in str(err.value)


def test_opt_in_flags_must_be_booleans() -> None:
    assert parse(raw({}, rotateBindPassword=True, deleteAdopted=True)).delete_adopted is True
    with pytest.raises(ConfigError, match="jcqnap:deleteAdopted: must be true or false"):
        parse(raw({}, deleteAdopted="yes"))


@pytest.mark.parametrize(
    ("mode", "have", "want", "differs"),
    [
        ("exact", ["a", "b"], ["a"], True),
        ("exact", ["a"], ["a"], False),
        ("add-only", ["a", "b"], ["a"], False),  # b stays: add-only never removes
        ("add-only", ["a"], ["a", "c"], True),
        ("unmanaged", ["a"], None, False),
    ],
)
def test_members_differ_by_mode(mode: str, have: list[str], want: list[str] | None, differs: bool) -> None:
    assert members_differ({"members": have}, {"members_mode": mode, "members": want}) is differs


OLD = {"name": "Staff", "linux_name": "staff", "gid": 6000}


@pytest.mark.parametrize(
    ("new", "refused"),
    [
        ({"name": "Staff", "linux_name": "people", "gid": 6000}, True),  # same name and GID: cannot coexist
        ({"name": "People", "linux_name": "people", "gid": 6000}, True),  # same GID
        ({"name": "People", "linux_name": "people", "gid": 6001}, False),  # all new: create-before-delete
        ({"name": "Staff", "linux_name": "staff", "gid": 6000}, False),  # no posix change
    ],
)
def test_posix_changes_that_would_cut_members_off_are_refused(new: dict, refused: bool) -> None:
    result = posix_refusal(OLD, new)
    assert (result is not None) is refused
    if result:
        assert "maintenance window" in result[1]
    check = SambaGroupProvider().check({**OLD, "members": []}, {**new, "members": []})
    assert bool(check.failures) is refused


def test_group_replacement_is_create_before_delete() -> None:
    p = SambaGroupProvider()
    olds = {**OLD, "members": [], "members_mode": "exact", "description": "", "samba_enabled": True, "bound": True}
    news = p.check({}, {"name": "People", "linux_name": "people", "gid": 6001, "members": []}).inputs
    diff = p.diff("g1", olds, news)
    assert diff.replaces and diff.delete_before_replace is False


def test_bind_username_change_is_refused_with_the_procedure() -> None:
    p = BindUserProvider()
    olds = {"username": "svc-old", "email": "s@example.com"}
    res = p.check(olds, {"username": "svc-new", "email": "s@example.com"})
    assert len(res.failures) == 1
    reason = res.failures[0].reason
    assert "would cut off every NAS that binds as 'svc-old'" in reason and "pulumi state" in reason
    assert not p.check({}, {"username": "svc-new", "email": "s@example.com"}).failures
