"""LdapConfig without a NAS: check rules, diff against stored outputs, the setcfg plan and the fact parser."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import paramiko
import pytest
from pulumi.output import Unknown

from jcqnap.providers.base import UNKNOWN
from jcqnap.providers.ldap_config import (
    LdapConfigProvider,
    default_verify_user,
    nas_id,
    observed,
    same_nas,
    status_of,
    wanted_settings,
)
from jcqnap.providers.ldap_config_inputs import normalize
from jcqnap.qnap.apply import fact_script, parse_fact, plan_setcfg
from jcqnap.qnap.profile import DEFAULT_PROFILE
from jcqnap.qnap.settings import NasSettings, parse_settings_output, read_settings_script
from jcqnap.qnap.ssh import fingerprint, parse_host_key

ORG = "o=5f0000000000000000000001,dc=jumpcloud,dc=com"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbkA4OQ3Kd/Vn2VgIaMYXgDfrQ8eUSPc+n7qnKt7ZDd nas"


def inputs(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "nas_host": "127.0.0.1",
        "nas_port": 2201,
        "nas_user": "admin",
        "nas_password": "nas-pass",
        "nas_host_key": HOST_KEY,
        "ldap_host": "ldap.jumpcloud.com",
        "security": "ldaps",
        "base_dn": ORG,
        "root_dn": f"uid=svc-samba,ou=Users,{ORG}",
        "root_password": "r00t-pass",
        "users_base_dn": f"ou=Users,{ORG}",
        "groups_base_dn": f"ou=Users,{ORG}",
        "workgroup": "acme",
        "smb_mode": "ldap_only",
    }
    base.update(over)
    return base


def check(**over: Any) -> tuple[dict[str, Any], list[str]]:
    result = LdapConfigProvider().check({}, inputs(**over))
    return result.inputs, [f.reason for f in result.failures]


def fields(**over: Any) -> list[str]:
    return [r.split(":")[0] for r in check(**over)[1]]


# -- check -----------------------------------------------------------------------------------------
def test_valid_inputs_pass_and_are_normalized():
    ins, fails = check()
    assert fails == []
    assert ins["workgroup"] == "ACME"
    assert ins["enabled"] is True
    assert ins["allow_insecure"] is False


def test_plain_ldap_needs_allow_insecure():
    assert fields(security="ldap") == ["security"]
    assert fields(security="ldap", allow_insecure=True) == []
    assert "starttls" in check(security="ldap")[1][0]


def test_unknown_security_and_smb_mode_are_refused():
    assert fields(security="tls") == ["security"]
    assert fields(smb_mode="both") == ["smb_mode"]


@pytest.mark.parametrize("field", ["base_dn", "root_dn", "users_base_dn", "groups_base_dn"])
def test_bad_dns_name_the_field(field):
    _, fails = check(**{field: "not a dn"})
    assert len(fails) == 1 and fails[0].startswith(f"{field}:")


@pytest.mark.parametrize(
    "value", ["AC ME", "A" * 16, "AC;ME", 'AC"ME', "AC/ME", "AC\nME", "", "ac[me]"]
)
def test_workgroup_follows_netbios_rules(value):
    assert fields(workgroup=value) == ["workgroup"]


def test_hostile_but_legal_values_pass_check_to_be_stored_literally():
    # Backticks, $() and escaped ; are legal in DNs; they reach the NAS shell-quoted.
    # (A workgroup is stricter: JumpCloud's Samba domain takes only letters, digits, '-' and '_'.)
    ins, fails = check(base_dn="o=a`id`$(id)\\;b,dc=x", workgroup="A-1_b", root_password="p'\"; $(reboot)`x`")
    assert fails == []
    assert ins["workgroup"] == "A-1_B"
    assert fields(workgroup="A$(ID)`X`") == ["workgroup"]


@pytest.mark.parametrize("field", ["ldap_host", "base_dn", "root_dn", "workgroup", "nas_user", "root_password"])
def test_control_characters_and_newlines_are_refused(field):
    assert field in fields(**{field: "o=a\nEnable = FALSE,dc=x"})


def test_host_key_format_is_checked():
    assert fields(nas_host_key="ssh-ed25519 not-base64!") == ["nas_host_key"]
    assert fields(nas_host_key="ssh-dss AAAA") == ["nas_host_key"]
    assert fields(nas_host_key="") == ["nas_host_key"]


def test_an_ssh_credential_is_required_and_a_private_key_must_load():
    assert fields(nas_password=None) == ["nas_password"]
    _, fails = check(nas_private_key="-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n")
    assert [f.split(":")[0] for f in fails] == ["nas_private_key"]
    assert "garbage" not in fails[0]


def test_ldap_host_must_be_a_host_not_a_url():
    assert fields(ldap_host="ldaps://ldap.jumpcloud.com:636") == ["ldap_host"]


def test_ports_are_checked():
    assert fields(nas_port=0) == ["nas_port"]
    assert fields(ldap_port=70000) == ["ldap_port"]


def test_ca_cert_must_be_pem():
    assert fields(ca_cert="hello") == ["ca_cert"]


def test_profile_overrides_are_checked():
    assert fields(qts_profile={"settings": {"base_dn": {"key": "BaseDN"}}}) == []
    _, fails = check(qts_profile={"settings": {"nope": {"key": "x"}}})
    assert fails and fails[0].startswith("qts_profile:") and "nope" in fails[0]


@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["sentinel", "sdk-object"])
def test_unknown_values_during_preview_are_not_failures(unknown):
    # The SDK hands `check` unknowns as `pulumi.output.Unknown` objects (an all-in-one preview whose
    # BindUser is being updated); they were refused as "must be a string, got Unknown".
    assert fields(base_dn=unknown, root_password=unknown, workgroup=unknown, nas_password=unknown) == []


def test_failures_never_echo_secrets():
    _, fails = check(root_password="Zq9\nXw7", nas_password=None, nas_private_key="Kk3-not-a-key")
    assert len(fails) == 2
    assert not any("Zq9" in f or "Xw7" in f or "Kk3" in f for f in fails)


# -- diff ------------------------------------------------------------------------------------------
def stored(**over: Any) -> dict[str, Any]:
    outs = normalize(inputs())
    outs.update(enabled=True, original_workgroup="WORKGROUP", ldap_status="online")
    outs.update(over)
    return outs


def news(**over: Any) -> dict[str, Any]:
    return LdapConfigProvider().check({}, inputs(**over)).inputs


def test_no_diff_when_outputs_match_inputs():
    assert LdapConfigProvider().diff("id", stored(), news()).changes is False


def test_drift_found_by_read_is_a_change():
    p = LdapConfigProvider()
    assert p.diff("id", stored(base_dn="o=other"), news()).changes
    assert p.diff("id", stored(enabled=False), news()).changes
    assert p.diff("id", stored(workgroup="WORKGROUP"), news()).changes
    assert p.diff("id", stored(root_password=None), news()).changes


def test_status_alone_is_not_drift():
    assert LdapConfigProvider().diff("id", stored(ldap_status="offline"), news()).changes is False


def test_workgroup_case_is_not_a_change():
    assert LdapConfigProvider().diff("id", stored(workgroup="ACME"), news(workgroup="Acme")).changes is False


def test_another_nas_is_a_replacement_deleted_first():
    d = LdapConfigProvider().diff("id", stored(), news(nas_host="10.0.0.9"))
    assert d.replaces == ["nas_host"] and d.delete_before_replace


def test_password_rotation_is_an_update_not_a_replacement():
    d = LdapConfigProvider().diff("id", stored(), news(root_password="new"))
    assert d.changes and d.replaces == []


def test_unknown_inputs_are_changes():
    assert LdapConfigProvider().diff("id", stored(), news(base_dn=UNKNOWN)).changes


# -- plan ------------------------------------------------------------------------------------------
def settings_of(values: Mapping[str, str | None]) -> NasSettings:
    raw: dict[str, str | None] = {s.name: None for s in DEFAULT_PROFILE.settings}
    raw.update(values)
    return NasSettings(raw=raw)


def wanted_stored() -> dict[str, str]:
    w = wanted_settings(news())
    return {k: DEFAULT_PROFILE.setting(k).stored(v) for k, v in w.items()}


def test_plan_on_a_stock_box_sets_every_setting():
    cmds = plan_setcfg(DEFAULT_PROFILE, wanted_settings(news()), settings_of({"workgroup": "NAS"}))
    assert len(cmds) == len(wanted_settings(news()))
    assert all(c.startswith("/sbin/setcfg ") for c in cmds)


def test_plan_is_empty_when_the_nas_matches_so_a_second_run_is_a_no_op():
    assert plan_setcfg(DEFAULT_PROFILE, wanted_settings(news()), settings_of(wanted_stored())) == []


def test_plan_emits_only_the_differing_setting():
    current = wanted_stored()
    current["base_dn"] = "o=drifted"
    cmds = plan_setcfg(DEFAULT_PROFILE, wanted_settings(news()), settings_of(current))
    assert len(cmds) == 1 and "'Base DN'" in cmds[0]


def test_plan_compares_booleans_case_insensitively():
    current = wanted_stored()
    current["enable"] = "True"
    assert plan_setcfg(DEFAULT_PROFILE, wanted_settings(news()), settings_of(current)) == []


def test_plan_quotes_hostile_values_so_the_shell_stores_them_literally():
    hostile = "o=a'b`id`$(id)\\;c,dc=x"
    cmds = plan_setcfg(DEFAULT_PROFILE, {"base_dn": hostile}, settings_of({}))
    out = subprocess.run(["sh", "-c", cmds[0].replace("/sbin/setcfg", "printf '%s\\n'", 1)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[2] == hostile


def test_wanted_settings_spell_security_and_default_port():
    w = wanted_settings(news(security="starttls"))
    assert w["security"] == "starttls" and w["port"] == "389"
    assert wanted_settings(news(security="ldap", allow_insecure=True))["security"] == "plain"
    assert wanted_settings(news(ldap_port=1636))["port"] == "1636"


def test_default_verify_user_is_the_root_dn_uid():
    assert default_verify_user(f"uid=svc-samba,ou=Users,{ORG}") == "svc-samba"
    assert default_verify_user("cn=admin,dc=x") is None


# -- the fact --------------------------------------------------------------------------------------
def run_fact_locally(tmp_path, values: dict[str, str], snapshot_files: dict[str, bytes],
                     read_with: str = "getcfg") -> str:
    """Run the real fact script with stand-ins for getcfg and the status commands.

    With `read_with="getcfg"` every setting comes from the stand-in getcfg (which knows `values`);
    with "file" from the files' text, so `values` must be in `snapshot_files` too.
    """
    getcfg = tmp_path / "getcfg"
    lines = ["#!/bin/sh", 'case "$2" in']
    for s in DEFAULT_PROFILE.settings:
        if s.key in values:
            lines.append(f"  {s.key!r}) printf '%s\\n' {values[s.key]!r};;")
    lines += ['  *) printf "%s\\n" "$6";;', "esac"]
    getcfg.write_text("\n".join(lines) + "\n")
    getcfg.chmod(0o755)
    files = {}
    for name, data in snapshot_files.items():
        f = tmp_path / name
        f.write_bytes(data)
        f.chmod(0o600)
        files[name] = str(f)
    profile = DEFAULT_PROFILE.from_overrides({
        "tools": {"getcfg": str(getcfg)},
        "files": {"ulinux_conf": files["ulinux_conf"], "smb_conf": files["smb_conf"],
                  "root_secret": str(tmp_path / "absent")},
        "commands": {"ldap_status": "true", "smb_status": "false", "nss_user": "true {user}"},
        "settings": {s.name: {"read_with": read_with} for s in DEFAULT_PROFILE.settings},
    })
    script, args = fact_script(profile, "abcdef0123456789", snapshot=True, verify_user="svc")
    out = subprocess.run(["sh", "-c", script, "jcqnap", *args], capture_output=True, check=True).stdout.decode(
        "utf-8", errors="replace")  # as NasSession's CommandResult.text decodes
    fact = parse_fact(profile, out, "abcdef0123456789")
    assert fact.settings.raw["base_dn"] == values["Base DN"]
    assert fact.settings.raw["server"] is None
    assert fact.settings.status == {"ldap_status": 0, "smb_status": 1}
    assert fact.nss == {"user": 0}
    assert fact.files["ulinux_conf"].data == snapshot_files["ulinux_conf"]
    assert fact.files["ulinux_conf"].mode == "600"
    assert fact.files["root_secret"].mode is None
    assert "workgroup" not in repr(fact.files)  # bytes never show in a repr
    return out


@pytest.mark.parametrize("read_with", ["file", "getcfg"])
def test_fact_script_reads_settings_status_and_file_bytes_in_one_run(tmp_path, read_with):
    raw = bytes(range(256)) + b"\n[LDAP]\nEnable = TRUE\nBase DN = o=a$(x)`y`,dc=x\n"
    out = run_fact_locally(tmp_path, {"Base DN": "o=a$(x)`y`,dc=x", "Enable": "TRUE"},
                           {"ulinux_conf": raw, "smb_conf": b"[global]\nworkgroup = NAS\n"}, read_with)
    # One `cat` per file, or one getcfg per setting: never both.
    assert out.count(" endcat 0\n") == (2 if read_with == "file" else 0)
    assert out.count(" end 0\n") == (0 if read_with == "file" else len(DEFAULT_PROFILE.settings))


def test_read_fact_never_fetches_file_bytes():
    script, args = fact_script(DEFAULT_PROFILE, "abcdef0123456789", snapshot=False)
    assert "base64" not in script and args == []
    assert DEFAULT_PROFILE.root_secret_file not in script.replace("[ -e ", "").split("stat -c")[0]


def test_observed_outputs_and_status():
    profile = DEFAULT_PROFILE
    script_out = read_settings_script(profile, "abcdef0123456789")
    assert script_out  # the settings fact is the other half; here we feed parsed values directly
    current = wanted_stored()
    current["base_dn"] = "o=drifted"
    fact = parse_fact.__globals__["Fact"](settings_of(current))
    fact.settings.status.update({"ldap_status": 0, "smb_status": 0})
    outs = observed(profile, fact, stored())
    assert outs["base_dn"] == "o=drifted" and outs["workgroup"] == "ACME" and outs["enabled"] is True
    assert outs["root_password"] == "r00t-pass"  # never read back: kept from state
    assert outs["ldap_status"] == "online"
    fact.settings.status["ldap_status"] = 3
    assert status_of(fact, stored())[0] == "offline"


def test_parse_settings_rejects_output_of_another_read():
    with pytest.raises(ValueError):
        parse_settings_output(DEFAULT_PROFILE, "@@0000000000000000 jcqnap-settings/1\n", "abcdef0123456789")


# -- ssh helpers -----------------------------------------------------------------------------------
def test_fingerprint_matches_openssh():
    key = parse_host_key(HOST_KEY)
    blob = base64.b64decode(HOST_KEY.split()[1])
    assert isinstance(key, paramiko.PKey)
    assert fingerprint(key).startswith("SHA256:") and key.asbytes() == blob


def test_provider_pickles_by_reference_in_a_fresh_process():
    code = (
        "import dill, base64; from jcqnap.providers.ldap_config import LdapConfigProvider;"
        "print(base64.b64encode(dill.dumps(LdapConfigProvider(), recurse=True)).decode())"
    )
    blob = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    load = "import dill, base64, sys; p = dill.loads(base64.b64decode(sys.stdin.read())); print(type(p).__module__)"
    out = subprocess.run([sys.executable, "-c", load], input=blob, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "jcqnap.providers.ldap_config"


def test_nas_ids_carry_an_integer_port_and_older_float_ids_still_match() -> None:
    """Pulumi passes numbers to a dynamic provider as floats; ids made before read `host:35555.0`."""
    assert nas_id("10.0.0.5", 35555.0) == "10.0.0.5:35555"
    assert nas_id("10.0.0.5", None) == "10.0.0.5:22"
    assert same_nas("10.0.0.5:35555.0", "10.0.0.5:35555")
    assert same_nas("10.0.0.5:35555", "10.0.0.5:35555")
    assert not same_nas("10.0.0.5:35556.0", "10.0.0.5:35555")
    assert not same_nas("10.0.0.6:35555", "10.0.0.5:35555")
    assert not same_nas("weird-id", "10.0.0.5:35555")
