"""Stack config validation: every problem names the key and the fix, before anything is touched."""

from __future__ import annotations

import pytest

from jcqnap.config import ConfigError, parse

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrr4K3uFAy2oAbQOYDs1GgtrJ8ryO6sbM2d1VkzTPc0"


def good(**over):
    raw = {
        "role": "all-in-one",
        "bindUser": {"username": "samba-bind", "email": "samba-bind@example.com"},
        "workgroup": "jcqnap",
        "groups": [{"name": "NAS Users", "linuxName": "nas-users", "gid": 5100, "members": ["alice"]}],
        "nas": [{"name": "site-a", "host": "10.0.0.5", "hostKey": HOST_KEY}],
    }
    raw.update(over)
    return raw


def test_a_good_config_parses_and_uppercases_the_workgroup() -> None:
    cfg = parse(good())
    assert cfg.directory is not None and cfg.directory.workgroup == "JCQNAP"
    assert cfg.site is not None and cfg.site.nas[0].port == 22 and cfg.site.nas[0].user == "admin"
    assert cfg.ldap_host == "ldap.jumpcloud.com" and cfg.ldap_security == "ldaps"


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"groups": [{"name": "g", "linuxName": "g", "gid": "abc", "members": []}]},
         'jcqnap:groups[0].gid: must be an integer 1000-60000, got \'abc\''),
        ({"groups": [{"name": "g", "linuxName": "g", "gid": 0}]}, "jcqnap:groups[0].gid: must be an integer"),
        ({"groups": [{"name": "g", "linuxName": "g", "gid": -5}]}, "jcqnap:groups[0].gid"),
        ({"workgroup": "A" * 16}, "jcqnap:workgroup: must be at most 15 characters"),
        ({"workgroup": "WG;rm"}, "jcqnap:workgroup: contains characters NetBIOS forbids"),
        ({"workgroup": "   "}, "jcqnap:workgroup: is required"),
        ({"bindUser": {"username": "Bad User", "email": "x@y"}}, "jcqnap:bindUser.username"),
        ({"bindUser": None}, "jcqnap:bindUser: is required"),
        ({"nas": [{"name": "a", "host": "h", "hostKey": "not a key"}]}, "jcqnap:nas[0].hostKey: must be an OpenSSH"),
        ({"nas": [{"name": "a", "host": "h;rm -rf /", "hostKey": HOST_KEY}]}, "jcqnap:nas[0].host"),
        ({"ldapSecurity": "ldap"}, "jcqnap:ldapSecurity: is plain ldap"),
        ({"role": "everything"}, "jcqnap:role: must be one of"),
        ({"wrokgroup": "x"}, "jcqnap:wrokgroup: is not a jcqnap setting"),
        ({"groups": [{"name": "a", "linuxName": "a", "gid": 5000}, {"name": "A", "linuxName": "b", "gid": 5000}]},
         "jcqnap:groups[1].name: duplicates"),
    ],
)
def test_bad_values_are_named_with_a_fix(over, expected) -> None:
    with pytest.raises(ConfigError) as err:
        parse(good(**over))
    assert expected in str(err.value)


def test_plain_ldap_needs_an_explicit_allow_insecure() -> None:
    cfg = parse(good(ldapSecurity="ldap", allowInsecureLdap=True))
    assert cfg.ldap_security == "ldap"


def test_site_role_needs_the_directory_stack() -> None:
    with pytest.raises(ConfigError, match="jcqnap:directoryStack: is required"):
        parse({"role": "site", "nas": good()["nas"]})


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse(good(workgroup="A" * 20, role="directory", bindUser={"username": "x y", "email": "e@x"}))
    text = str(err.value)
    assert "jcqnap:workgroup" in text and "jcqnap:bindUser.username" in text


def test_a_site_cannot_set_its_own_workgroup() -> None:
    with pytest.raises(ConfigError, match="jcqnap:workgroup: belongs to the directory stack"):
        parse({"role": "site", "directoryStack": "org/jcqnap/dir", "nas": good()["nas"], "workgroup": "OTHER"})
