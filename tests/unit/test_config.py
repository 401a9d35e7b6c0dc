"""Stack config validation: every problem names the key and the fix, before anything is touched."""

from __future__ import annotations

import json

import pytest

from jcqnap.config import ConfigError, load_sandbox, parse
from jcqnap.errors import JcqnapError
from jcqnap.providers.jumpcloud_common import sandbox_settings, settings_from_config

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
        ({"nas": [{"name": "a", "host": "h", "hostKey": HOST_KEY, "offline": "yes"}]},
         "jcqnap:nas[0].offline: must be true or false"),
        ({"nas": [{"name": "a", "host": "h", "retired": True, "offline": True}]}, "jcqnap:nas[0].offline: a retired"),
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


def test_a_retired_nas_needs_no_host_key_nor_credentials() -> None:
    nas: list[dict[str, object]] = [{"name": "site-a", "host": "10.0.0.5", "hostKey": HOST_KEY},
                                    {"name": "old", "host": "10.0.0.9", "retired": True}]
    creds = {"nasCredentials": json.dumps({"site-a": {"password": "Nas-Admin-Pw-1"}})}
    cfg = parse(good(nas=nas), secret=creds.get)
    assert cfg.site is not None and cfg.site.nas[1].retired and cfg.site.nas[1].host_key is None
    with pytest.raises(ConfigError, match=r"jcqnap:nasCredentials.old: is missing"):
        parse(good(nas=[*nas[:1], {**nas[1], "retired": False, "hostKey": HOST_KEY}]), secret=creds.get)


def test_plain_ldap_needs_an_explicit_allow_insecure() -> None:
    cfg = parse(good(ldapSecurity="ldap", allowInsecureLdap=True))
    assert cfg.ldap_security == "ldap"


def test_site_role_needs_the_directory_stack() -> None:
    with pytest.raises(ConfigError, match="jcqnap:directoryStack: is required"):
        parse({"role": "site", "nas": good()["nas"]})


def test_the_first_line_of_the_error_names_a_key_and_its_fix() -> None:
    # A summary that keeps only the first line used to read "invalid stack config:" and nothing more.
    with pytest.raises(ConfigError) as err:
        parse(good(nas=[{"name": "site-a", "sandbox": ""}]))
    assert str(err.value).splitlines() == [
        "invalid stack config: jcqnap:nas[0].sandbox: must name a NAS simulator of the local sandbox (none: set "
        "jcqnap:sandbox to the sandbox file first), got ''; or remove the key for a real NAS"]
    with pytest.raises(ConfigError) as err:
        parse(good(workgroup="A" * 20, nas=[{"name": "site-a", "sandbox": ""}]))
    first, *rest = str(err.value).splitlines()
    assert first.startswith("invalid stack config (2 problems, the others below): jcqnap:workgroup: must be at")
    assert rest == ["  jcqnap:nas[0].sandbox: must name a NAS simulator of the local sandbox (none: set jcqnap:sandbox "
                    "to the sandbox file first), got ''; or remove the key for a real NAS"]


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse(good(workgroup="A" * 20, role="directory", bindUser={"username": "x y", "email": "e@x"}))
    text = str(err.value)
    assert "jcqnap:workgroup" in text and "jcqnap:bindUser.username" in text


def test_a_site_cannot_set_its_own_workgroup() -> None:
    with pytest.raises(ConfigError, match="jcqnap:workgroup: belongs to the directory stack"):
        parse({"role": "site", "directoryStack": "org/jcqnap/dir", "nas": good()["nas"], "workgroup": "OTHER"})


# -- issue 17 (6a): values that used to reach the engine or a decoder with their words --------------
SITE = {"role": "site", "nas": [{"name": "site-a", "host": "10.0.0.5", "hostKey": HOST_KEY}]}


@pytest.mark.parametrize(
    ("ref", "organization", "expected"),
    [
        ("organization/jcqnap/dir;id", "organization", "ASCII letters, digits"),
        ("organization/jcqnap/$(id)", None, "ASCII letters, digits"),
        ("organization/jcqnap/dir)(cn=*", "organization", "ASCII letters, digits"),
        ("organization/jcqnap/verzeichnis-ä", "organization", "ASCII letters, digits"),
        ("organization/jcqnap/dir\n", "organization", "control or invisible"),
        ("a/b/c/d", "organization", "[<organization>/[<project>/]]<stack>"),
        ("organization//dir", "organization", "ASCII letters, digits"),
        ("acme/jcqnap/dir", "organization", "every stack is in organization 'organization'"),
        ("jcqnap/dir", "organization", "use organization/<project>/<stack>"),
    ],
)
def test_a_bad_directory_stack_is_named_before_the_engine_sees_it(ref, organization, expected) -> None:
    with pytest.raises(ConfigError) as err:
        parse({**SITE, "directoryStack": ref}, organization=organization)
    assert "jcqnap:directoryStack: " in str(err.value) and expected in str(err.value)


@pytest.mark.parametrize(("ref", "organization"), [
    ("organization/jcqnap/dir", "organization"), ("dir", "organization"), ("acme/jcqnap/prod.dir_1", "acme"),
    ("acme/dir", None),
])
def test_good_directory_stacks_pass(ref, organization) -> None:
    site = parse({**SITE, "directoryStack": ref}, organization=organization).site
    assert site is not None and site.directory_stack == ref


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("this is not JSON", "is not a sandbox file (not a JSON file)"),
        (b"\xff\xfe\x00binary", "is not a sandbox file (not a JSON file)"),
        ("[1, 2]", "lacks jumpcloud.api_url"),
        ('{"jumpcloud": {"api_url": "x", "api_key": "k", "org_id": "o"}}', "lacks ldap.uri"),
        (None, "is not a sandbox file (Is a directory)"),
    ],
)
def test_a_sandbox_path_that_is_not_a_sandbox_file_is_named(tmp_path, content, expected) -> None:
    path = tmp_path / "sandbox.json"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_sandbox(str(path))
    assert str(err.value).startswith(f"jcqnap:sandbox: {path} ") and expected in str(err.value)
    assert "make sandbox-up" in str(err.value)
    with pytest.raises(JcqnapError, match=r"jcqnap:sandbox: .* is not a sandbox file"):
        sandbox_settings(str(path))  # the providers read the same file


@pytest.mark.parametrize("value", ["", "   ", None, ["site-a"], {"name": "site-a"}, 7])
def test_an_empty_or_odd_nas_sandbox_is_named(value) -> None:
    sandbox = {"nas": [{"name": "site-a", "ssh_host": "127.0.0.1", "ssh_port": 2222, "admin_user": "admin",
                        "host_key": HOST_KEY}],
               "ldap": {"uri": "ldaps://127.0.0.1:6360", "starttls_uri": "ldap://127.0.0.1:3890", "ca_cert": None}}
    with pytest.raises(ConfigError) as err:
        parse(good(nas=[{"name": "site-a", "sandbox": value}]), sandbox)
    assert "jcqnap:nas[0].sandbox: must name a NAS simulator of the local sandbox (site-a)" in str(err.value)


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"jumpcloudApiUrl": "ftp://console.jumpcloud.com/api"}, "jcqnap:jumpcloudApiUrl: must be an http(s) URL"),
        ({"jumpcloudApiUrl": "https://console jumpcloud.com/api"}, "jcqnap:jumpcloudApiUrl: must be a plain ASCII"),
        ({"jumpcloudApiUrl": "https://cönsole.jumpcloud.com/api"}, "jcqnap:jumpcloudApiUrl: must be a plain ASCII"),
        ({"jumpcloudApiUrl": "https://x:99999/api"}, "jcqnap:jumpcloudApiUrl: must be an http(s) URL"),
        ({"jumpcloudOrgId": "5f0c1b2a3d4e5f6a7b8c9d0\n"}, "jcqnap:jumpcloudOrgId: contains control"),
        ({"jumpcloudOrgId": "acme corp"}, "jcqnap:jumpcloudOrgId: must be a JumpCloud organization id"),
        ({"jumpcloudTimeout": 0}, "jcqnap:jumpcloudTimeout: must be a number of seconds above 0"),
        ({"jumpcloudTimeout": "abc"}, "jcqnap:jumpcloudTimeout: must be a number"),
        ({"jumpcloudTimeout": float("nan")}, "jcqnap:jumpcloudTimeout: must be a number"),
        ({"bindUser": {"username": "samba-bind", "email": "a@b"}}, "jcqnap:bindUser.email: must be an e-mail"),
        ({"bindUser": {"username": "samba-bind", "email": "a b@example.com"}}, "jcqnap:bindUser.email: must be"),
        ({"verifyGroup": "-oProxyCommand=id"}, "jcqnap:verifyGroup: must be one user or group name"),
        ({"verifyGroup": "nas users"}, "jcqnap:verifyGroup: must be one user or group name"),
        ({"qtsProfile": {"setings": {}}}, "jcqnap:qtsProfile.setings: unknown key"),
        ({"caCertFile": "/etc/hostname"}, "jcqnap:caCertFile: file '/etc/hostname' holds no PEM certificate"),
        ({"caCertFile": "/etc"}, "jcqnap:caCertFile: file '/etc' not found or not readable"),
    ],
)
def test_other_keys_are_named_with_a_fix(over, expected) -> None:
    with pytest.raises(ConfigError) as err:
        parse(good(**over))
    assert expected in str(err.value)


def test_good_connection_settings_pass() -> None:
    cfg = parse(good(jumpcloudApiUrl="eu", jumpcloudOrgId="5f0c1b2a3d4e5f6a7b8c9d0e", jumpcloudTimeout=12.5,
                     verifyGroup="nas-users"))
    assert cfg.site is not None and cfg.site.verify_group == "nas-users"


@pytest.mark.parametrize("key", ["key with space", "kéy", "key\n"])
def test_an_api_key_that_cannot_be_a_header_is_named_without_echoing_it(key) -> None:
    with pytest.raises(JcqnapError) as err:
        settings_from_config({"jumpcloudApiKey": key}.get)
    assert str(err.value).startswith("jcqnap:jumpcloudApiKey holds") and key not in str(err.value)


SECRET = "Zq9-very-secret"


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        ({"nasCredentials": f"not JSON {SECRET}"}, "jcqnap:nasCredentials: must be an object by NAS name"),
        ({"nasCredentials": json.dumps([SECRET])}, "jcqnap:nasCredentials: must be an object by NAS name"),
        ({"nasCredentials": json.dumps({"other": {"password": SECRET}})}, "jcqnap:nasCredentials.site-a: is missing"),
        ({"nasCredentials": json.dumps({"site-a": SECRET})}, "jcqnap:nasCredentials.site-a: must be an object"),
        ({"nasCredentials": json.dumps({"site-a": {"pasword": SECRET}})},
         "jcqnap:nasCredentials.site-a.pasword: is not a credential field"),
        ({"nasCredentials": json.dumps({"site-a": {"password": 12345678}})},
         "jcqnap:nasCredentials.site-a: needs a password or privateKey string"),
        ({"bindPassword": "short"}, "jcqnap:bindPassword: must be at least 8 characters"),
        ({"bindPassword": SECRET + "\n"}, "jcqnap:bindPassword: must be at least 8 characters without control"),
        ({"jumpcloudApiKey": SECRET + " x"}, "jcqnap:jumpcloudApiKey: holds spaces"),
    ],
)
def test_secret_keys_are_named_and_never_echoed(secrets, expected) -> None:
    with pytest.raises(ConfigError) as err:
        parse(good(), secret=secrets.get)
    assert expected in str(err.value)
    assert SECRET not in str(err.value) and "short" not in str(err.value).split("at least")[0]


def test_good_secrets_pass() -> None:
    secrets = {"nasCredentials": json.dumps({"site-a": {"password": SECRET}}), "bindPassword": SECRET,
               "jumpcloudApiKey": "a" * 40}
    assert parse(good(), secret=secrets.get).site is not None


def test_a_directory_stack_takes_a_ca_file_to_check_an_adopted_bind_password(tmp_path) -> None:
    """Without cryptography (the directory program must not load it): a readable PEM file or a named error."""
    directory = {k: v for k, v in good(role="directory").items() if k != "nas"}
    assert parse(directory).directory.ca_cert_file is None  # type: ignore[union-attr]
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert parse({**directory, "caCertFile": str(pem)}).directory.ca_cert_file == str(pem)  # type: ignore[union-attr]
    for bad in ("/etc/hostname", str(tmp_path / "missing.pem")):
        with pytest.raises(ConfigError, match=r"jcqnap:caCertFile: file .* is not a readable PEM certificate"):
            parse({**directory, "caCertFile": bad})
