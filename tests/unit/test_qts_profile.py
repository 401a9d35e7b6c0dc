"""The QTS profile, the one-round-trip settings fact and the simulator's INI semantics, without SSH."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

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
