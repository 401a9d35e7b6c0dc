"""The QTS profile, the one-round-trip settings fact and the simulator's INI semantics, without SSH."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from jcqnap.qnap import qtsini
from jcqnap.qnap.profile import DEFAULT_PROFILE, EVIDENCE_LEVELS, Profile, ProfileError
from jcqnap.qnap.settings import (
    FileState,
    SettingsParseError,
    missing_sentinel,
    new_nonce,
    parse_settings_output,
    read_settings_script,
    restore_commands,
    setcfg_command,
    setcfg_logical,
)

TOOLS = Path(__file__).resolve().parents[2] / "jcqnap" / "sandbox" / "nas_tools"
sys.path.insert(0, str(TOOLS))
import qtscfg  # noqa: E402

HOSTILE = ["it's \"quoted\"", "a;b", "$(touch /tmp/pwned-unit)", "`id`", "line1\nline2", "  padded  ",
           "back\\slash\\n", "@@deadbeefdeadbeef end 0", "[LDAP]", "x = y", "\t", ""]


# -- the profile ---------------------------------------------------------------------------------
def test_every_item_has_a_known_evidence_level() -> None:
    rows = DEFAULT_PROFILE.evidence()
    assert rows and all(r["evidence"] in EVIDENCE_LEVELS for r in rows)
    assert {r["evidence"] for r in rows} >= {"seen", "unconfirmed"}


def test_seen_names_match_domain_facts() -> None:
    p = DEFAULT_PROFILE
    enable = p.setting("enable")
    assert (p.setting_file("enable"), enable.section, enable.key, enable.evidence) == (
        "/etc/config/uLinux.conf", "LDAP", "Enable", "seen")
    wg = p.setting("workgroup")
    assert (wg.section, wg.key, wg.evidence) == ("System", "Workgroup", "seen")
    smb_wg = p.setting("smb_workgroup")
    assert (p.setting_file("smb_workgroup"), smb_wg.section, smb_wg.key) == ("/etc/config/smb.conf", "global",
                                                                            "workgroup")
    assert (p.getcfg, p.setcfg) == ("/sbin/getcfg", "/sbin/setcfg")
    assert p.command("ldap_start") == "/etc/init.d/ldap.sh start"
    assert p.command("smb_restart") == "/etc/init.d/smb.sh restart"
    assert p.setting("base_dn").evidence == "unconfirmed"


def test_logical_values_compare_case_insensitively_and_keep_unknown_spellings() -> None:
    enable = DEFAULT_PROFILE.setting("enable")
    assert enable.logical("true") == "true" and enable.logical("False") == "false"
    assert enable.logical("maybe") == "maybe" and enable.logical(None) is None
    assert DEFAULT_PROFILE.setting("security").stored("starttls") == "TLS"
    with pytest.raises(ProfileError, match="not one of"):
        DEFAULT_PROFILE.setting("security").stored("ssl3")


def test_overrides_replace_names_and_mark_them_as_overrides() -> None:
    p = Profile.from_overrides({
        "files": {"ulinux_conf": "/mnt/cfg/uLinux.conf"},
        "settings": {"base_dn": {"key": "BaseDN"}, "security": {"values": {"ldaps": "ssl+"}}},
        "commands": {"smb_restart": "/etc/init.d/smb.sh reload"},
        "defaults": {"workgroup": "WORKGROUP"},
    })
    assert p.setting("base_dn").key == "BaseDN" and p.setting("base_dn").evidence == "override"
    assert p.setting_file("enable") == "/mnt/cfg/uLinux.conf"
    assert p.setting("security").stored("ldaps") == "ssl+" and p.setting("security").stored("starttls") == "TLS"
    assert p.command("smb_restart").endswith("reload") and p.default("workgroup") == "WORKGROUP"
    assert DEFAULT_PROFILE.setting("base_dn").key == "Base DN"  # the default is untouched
    assert Profile.from_overrides(None) is DEFAULT_PROFILE


@pytest.mark.parametrize(("overrides", "named"), [
    ({"setings": {}}, "qts_profile.setings"),
    ({"settings": {"base_dnn": {"key": "x"}}}, "qts_profile.settings.base_dnn"),
    ({"settings": {"base_dn": {"sektion": "x"}}}, "qts_profile.settings.base_dn.sektion"),
    ({"settings": {"base_dn": {"values": {"a": "b"}}}}, "qts_profile.settings.base_dn.values"),
    ({"settings": {"security": {"values": {"tls13": "X"}}}}, "qts_profile.settings.security.values.tls13"),
    ({"settings": {"base_dn": {"file": "nowhere"}}}, "qts_profile.settings.base_dn.file"),
    ({"files": {"ulinux_conf": "relative/path"}}, "qts_profile.files.ulinux_conf"),
    ({"tools": {"getcfgg": "/x"}}, "qts_profile.tools.getcfgg"),
    ({"commands": {"ldap_start": "a\nb"}}, "qts_profile.commands.ldap_start"),
    ({"commands": []}, "qts_profile.commands"),
    ({"settings": {"base_dn": {"read_with": "cat"}}}, "qts_profile.settings.base_dn.read_with"),
])
def test_bad_overrides_fail_naming_the_key(overrides: dict, named: str) -> None:
    with pytest.raises(ProfileError) as err:
        Profile.from_overrides(overrides)
    assert named in str(err.value)


def test_commands_quote_their_parameters() -> None:
    cmd = DEFAULT_PROFILE.command("nss_user", user="x; touch /tmp/pwned")
    assert shlex.split(cmd) == ["getent", "passwd", "x; touch /tmp/pwned"]
    assert DEFAULT_PROFILE.root_secret_file in DEFAULT_PROFILE.command("root_secret_write")


# -- the settings fact, parsed from captured text -----------------------------------------------
def _fake_output(nonce: str, values: dict[str, str | None], rc: int = 0) -> str:
    m = f"@@{nonce}"
    out = [f"{m} jcqnap-settings/1\n"]
    for s in DEFAULT_PROFILE.settings:
        v = values.get(s.name)
        out.append(f"{m} begin {s.name}\n{missing_sentinel(nonce) if v is None else v}\n{m} end {rc}\n")
    out.append(f"{m} file ulinux_conf 644\n{m} file root_secret -\n{m} status ldap_status 3\n{m} done\n")
    return "".join(out)


def test_parser_reads_values_missing_keys_files_and_status() -> None:
    nonce = new_nonce()
    text = _fake_output(nonce, {"enable": "true", "base_dn": "o=x\nfake\n@@0000000000000000 end 0",
                                "workgroup": ""})
    fact = parse_settings_output(DEFAULT_PROFILE, text, nonce)
    assert fact.raw["base_dn"] == "o=x\nfake\n@@0000000000000000 end 0"
    assert fact.raw["workgroup"] == "" and fact.raw["server"] is None
    assert fact.enabled(DEFAULT_PROFILE) and fact.value(DEFAULT_PROFILE, "enable") == "true"
    assert fact.files == {"ulinux_conf": FileState(True, "644"), "root_secret": FileState(False)}
    assert fact.status == {"ldap_status": 3}


def test_a_stock_box_without_ldap_section_reads_as_disabled() -> None:
    nonce = new_nonce()
    fact = parse_settings_output(DEFAULT_PROFILE, _fake_output(nonce, {"workgroup": "NAS"}), nonce)
    assert not fact.enabled(DEFAULT_PROFILE)


@pytest.mark.parametrize("mangle", ["other-nonce", "truncated", "tool-missing"])
def test_parser_rejects_foreign_truncated_or_failed_output(mangle: str) -> None:
    nonce = new_nonce()
    text = _fake_output(nonce, {})
    if mangle == "other-nonce":
        nonce = new_nonce()
    elif mangle == "truncated":
        text = text[: len(text) // 2]
    else:
        text = text.replace(missing_sentinel(nonce) + "\n", "").replace(" end 0", " end 127")
    with pytest.raises(SettingsParseError):
        parse_settings_output(DEFAULT_PROFILE, text, nonce)


def test_write_and_restore_commands_quote_values_and_erase_missing_keys() -> None:
    cmd = setcfg_command(DEFAULT_PROFILE, "base_dn", "$(reboot)")
    assert shlex.split(cmd) == ["/sbin/setcfg", "LDAP", "Base DN", "$(reboot)", "-f", "/etc/config/uLinux.conf"]
    assert shlex.split(setcfg_logical(DEFAULT_PROFILE, "enable", "true"))[3] == "TRUE"
    nonce = new_nonce()
    before = parse_settings_output(DEFAULT_PROFILE, _fake_output(nonce, {"workgroup": "NAS"}), nonce)
    cmds = restore_commands(DEFAULT_PROFILE, before)
    assert any(shlex.split(c)[:4] == ["/sbin/setcfg", "System", "Workgroup", "NAS"] for c in cmds)
    assert any(shlex.split(c)[:4] == ["/sbin/setcfg", "-e", "LDAP", "Enable"] for c in cmds)
    assert not any("passdb" in c for c in cmds)  # smb_passdb is observed, never written


# -- the read script run for real against the simulator's getcfg (no SSH) ------------------------
@pytest.fixture
def local_profile(tmp_path: Path) -> Profile:
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("getcfg", "setcfg"):
        (tools / tool).write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -I -S '
                                  f'{shlex.quote(str(TOOLS / (tool + ".py")))} "$@"\n')
        (tools / tool).chmod(0o755)
    return Profile.from_overrides({
        "files": {"ulinux_conf": str(tmp_path / "uLinux.conf"), "smb_conf": str(tmp_path / "smb.conf"),
                  "nss_ldap_conf": str(tmp_path / "nss_ldap.conf"), "root_secret": str(tmp_path / "secret")},
        "tools": {"getcfg": str(tools / "getcfg"), "setcfg": str(tools / "setcfg")},
        "commands": {"ldap_status": "exit 3", "smb_status": "true"},
    })


def _sh(script: str) -> str:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, timeout=60).stdout


def test_hostile_values_round_trip_through_setcfg_and_the_read_script(local_profile: Profile,
                                                                      tmp_path: Path) -> None:
    canary = Path("/tmp/pwned-unit")
    canary.unlink(missing_ok=True)
    names = ["base_dn", "root_dn", "users_base_dn", "groups_base_dn", "server", "workgroup", "port",
             "smb_workgroup", "security", "smb_mode", "enable", "smb_passdb"]
    for name, value in zip(names, HOSTILE, strict=True):
        _sh(setcfg_command(local_profile, name, value))
    (tmp_path / "secret").write_text("pw")
    os.chmod(tmp_path / "secret", 0o600)
    nonce = new_nonce()
    fact = parse_settings_output(local_profile, _sh(read_settings_script(local_profile, nonce)), nonce)
    assert [fact.raw[n] for n in names] == HOSTILE
    assert fact.files["root_secret"] == FileState(True, "600")
    assert fact.files["nss_ldap_conf"] == FileState(False)
    assert fact.status == {"ldap_status": 3, "smb_status": 0}
    assert not canary.exists()


# -- the simulator's INI file semantics ---------------------------------------------------------
@pytest.mark.parametrize("value", HOSTILE)
def test_ini_encoding_round_trips_and_stays_on_one_line(value: str) -> None:
    encoded = qtscfg.encode(value)
    assert "\n" not in encoded and qtscfg.decode(encoded) == value


def test_setcfg_keeps_untouched_lines_and_key_spelling(tmp_path: Path) -> None:
    path = tmp_path / "uLinux.conf"
    original = "# comment\n[System]\nWorkgroup = NAS\n\n[Other]\nx = 1\n"
    path.write_text(original)
    qtscfg.update(str(path), [("system", "WORKGROUP", "JC"), ("LDAP", "Enable", "TRUE"), ("Other", "y", "2")])
    assert path.read_text() == "# comment\n[System]\nWorkgroup = JC\n\n[Other]\nx = 1\ny = 2\n\n[LDAP]\nEnable = TRUE\n"
    qtscfg.update(str(path), [("System", "Workgroup", "NAS")], [("other", "Y"), ("LDAP", "Enable")])
    assert path.read_text().startswith(original)
    assert qtscfg.get(str(path), "ldap", "enable") is None
    before = path.stat().st_mtime_ns
    qtscfg.update(str(path), [("System", "Workgroup", "NAS")])
    assert path.stat().st_mtime_ns == before  # same value: the file is not rewritten


# -- settings read from the files' text (one `cat` per file), checked against getcfg ------------
INI_TEXTS = [
    "[LDAP]\nEnable = TRUE\nBase DN = o=x,dc=jc\n",
    "Enable = early\n[ldap]\n  enable=  True  \nENABLE = second\n[LDAP]\nEnable = other section\n",
    "# [LDAP]\n; Enable = no\n[LDAP]\n# Enable = commented\nEnable\nEnable = yes\n",
    "[LDAP]\r\nEnable = crlf\r\nServer = a\rBase DN = lone-cr\r",
    "[ LDAP ]\nBase DN = a=b=c\nServer =\n = nameless\n[System]\nWorkgroup = \\sWG\\s\\n\\t\\\\x\\q\n",
    "[LDAP]\nBase DN = no newline at end",
    "",
    "[global]\n\tworkgroup = NAS\n\tpassdb backend = ldapsam:ldaps://127.0.0.1:636\n",
    "[LDAP]\nRoot DN = uid=a\\,b,ou=Users\nGroup Base DN = caf\u00e9 \u2028x\n",
]
LOOKUPS = [("LDAP", "Enable"), ("ldap", "BASE DN"), ("LDAP", "Server"), ("System", "Workgroup"),
           ("global", "workgroup"), ("global", "passdb backend"), ("LDAP", "Root DN"), ("LDAP", "Group Base DN"),
           ("LDAP", ""), ("nowhere", "Enable")]


@pytest.mark.parametrize("text", INI_TEXTS)
def test_file_parser_reads_what_getcfg_reads(text: str, tmp_path: Path) -> None:
    path = tmp_path / "uLinux.conf"
    path.write_bytes(text.encode())
    for section, key in LOOKUPS:
        assert qtsini.get(text, section, key) == qtscfg.get(str(path), section, key), (section, key)


def test_file_parser_spot_values() -> None:
    text = INI_TEXTS[1]
    assert qtsini.get(text, "LDAP", "Enable") == "True"  # first match in the first matching section
    assert qtsini.get(INI_TEXTS[3], "ldap", "base dn") == "lone-cr"
    assert qtsini.get(INI_TEXTS[4], "System", "Workgroup") == " WG \n\t\\x\\q"
    assert qtsini.get(INI_TEXTS[4], "LDAP", "Server") == "" and qtsini.get(INI_TEXTS[4], "LDAP", "Port") is None


# Output of `read_settings_script(DEFAULT_PROFILE, "0123456789abcdef", include_status=True)` as captured
# from a NAS simulator (QTS 5.1 layout) with LDAP enabled, then edited to add hostile file content.
CAPTURED = """@@0123456789abcdef jcqnap-settings/1
@@0123456789abcdef cat ulinux_conf
[System]
Workgroup = JCQNAP
Server Name = nas-a

[LDAP]
Enable = TRUE
Server = 127.0.0.1
Port = 636
Security = SSL
Base DN = o=5f0c,dc=jumpcloud,dc=com
Root DN = uid=samba-bind,ou=Users,o=5f0c,dc=jumpcloud,dc=com
Users Base DN = ou=Users,o=5f0c,dc=jumpcloud,dc=com
Group Base DN = ou=Users,o=5f0c,dc=jumpcloud,dc=com
Samba Auth = LDAP
Note = @@0123456789abcdee endcat 0

@@0123456789abcdef endcat 0
@@0123456789abcdef cat smb_conf
[global]
\tworkgroup = jcqnap
\tpassdb backend = ldapsam:ldaps://127.0.0.1:636
@@0123456789abcdef endcat 0
@@0123456789abcdef file ulinux_conf 644
@@0123456789abcdef file smb_conf 644
@@0123456789abcdef file nss_ldap_conf 644
@@0123456789abcdef file root_secret 600
@@0123456789abcdef status ldap_status 0
@@0123456789abcdef status smb_status 0
@@0123456789abcdef done
"""


def test_parser_reads_settings_from_captured_file_text() -> None:
    fact = parse_settings_output(DEFAULT_PROFILE, CAPTURED, "0123456789abcdef")
    assert fact.raw == {
        "enable": "TRUE", "server": "127.0.0.1", "port": "636", "security": "SSL",
        "base_dn": "o=5f0c,dc=jumpcloud,dc=com", "root_dn": "uid=samba-bind,ou=Users,o=5f0c,dc=jumpcloud,dc=com",
        "users_base_dn": "ou=Users,o=5f0c,dc=jumpcloud,dc=com", "groups_base_dn": "ou=Users,o=5f0c,dc=jumpcloud,dc=com",
        "smb_mode": "LDAP", "workgroup": "JCQNAP", "smb_workgroup": "jcqnap",
        "smb_passdb": "ldapsam:ldaps://127.0.0.1:636",
    }
    assert fact.value(DEFAULT_PROFILE, "security") == "ldaps" and fact.enabled(DEFAULT_PROFILE)
    assert fact.files["root_secret"] == FileState(True, "600") and fact.status == {"ldap_status": 0, "smb_status": 0}


def test_parser_file_missing_unreadable_or_truncated() -> None:
    nonce = "0123456789abcdef"
    no_smb = re.sub(r"@@0123456789abcdef cat smb_conf\n.*?endcat 0\n", "@@0123456789abcdef cat smb_conf -\n",
                    CAPTURED, flags=re.S)
    fact = parse_settings_output(DEFAULT_PROFILE, no_smb, nonce)
    assert fact.raw["smb_workgroup"] is None and fact.raw["workgroup"] == "JCQNAP"
    unreadable = CAPTURED.replace("\n@@0123456789abcdef endcat 0\n@@0123456789abcdef cat smb_conf",
                                  "\n@@0123456789abcdef endcat 1\n@@0123456789abcdef cat smb_conf")
    with pytest.raises(SettingsParseError, match=r"ulinux_conf .*exit 1"):
        parse_settings_output(DEFAULT_PROFILE, unreadable, nonce)
    cut = CAPTURED.split("@@0123456789abcdef cat smb_conf")[0] + "@@0123456789abcdef done\n"
    with pytest.raises(SettingsParseError, match="smb_workgroup"):
        parse_settings_output(DEFAULT_PROFILE, cut, nonce)


def test_script_cats_each_file_once_and_getcfg_only_where_the_profile_says() -> None:
    script = read_settings_script(DEFAULT_PROFILE, "0123456789abcdef")
    assert script.count("; cat ") == 2 and DEFAULT_PROFILE.getcfg not in script  # uLinux.conf, smb.conf
    assert f"cat {DEFAULT_PROFILE.root_secret_file}" not in script  # the secret file is only ever stat-ed
    mixed = Profile.from_overrides({"settings": {"base_dn": {"read_with": "getcfg"}}})
    script = read_settings_script(mixed, "0123456789abcdef")
    assert script.count(shlex.quote(DEFAULT_PROFILE.getcfg)) == 1 and "Base DN" in script
    # A setting moved into the secret file is never printed with cat, whatever the profile says.
    hostile = Profile.from_overrides({"settings": {"server": {"file": "root_secret"}}})
    script = read_settings_script(hostile, "0123456789abcdef")
    assert f"cat {hostile.root_secret_file}" not in script and hostile.getcfg in script
