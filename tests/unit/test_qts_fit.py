"""Issue 14: the pre-write profile fit check and the `{uri}`/`*` value spellings, on captured text (no SSH)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jcqnap.qnap import fit
from jcqnap.qnap.apply import plan_setcfg
from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile, ProfileError
from jcqnap.qnap.settings import NasSettings
from jcqnap.sandbox.firmware import VARIANTS

NONCE = "0123456789abcdef"


def scan_of(
    tmp_path: Path, ulinux: str, files: list[str], profile: Profile | None = None
) -> tuple[Profile, fit.FitScan]:
    """Run the real fit script with sh against files laid out in tmp_path."""
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "uLinux.conf").write_text(ulinux)
    for name in files:
        (conf / name).write_text("x\n")
    prof = Profile.from_overrides({"files": {"ulinux_conf": str(conf / "uLinux.conf"),
                                             "nss_ldap_conf": str(conf / "nss_ldap.conf"),
                                             "ui_secret": str(conf / "nss_ldap.ensecret"),
                                             "root_secret": str(conf / "jcqnap_ldap_root.secret")}},
                                  profile or DEFAULT_PROFILE)
    out = subprocess.run(["sh", "-c", fit.fit_script(prof, NONCE)], capture_output=True, text=True, check=True)
    return prof, fit.parse_fit(prof, out.stdout, NONCE)


def test_a_box_laid_out_like_the_profile_fits(tmp_path: Path) -> None:
    prof, scan = scan_of(tmp_path, "[System]\nWorkgroup = NAS\n[LDAP]\nEnable = TRUE\nBase DN = o=x\n",
                         ["nss_ldap.conf", "jcqnap_ldap_root.secret"])
    assert scan.keys[("ulinux_conf", "LDAP")] == ["Enable", "Base DN"]
    settings = NasSettings(raw={"enable": "TRUE", "smb_passdb": "tdbsam:/var/lib/passdb.tdb"})
    assert fit.problems(prof, settings, scan) == []


def test_unknown_keys_files_values_and_the_ui_secret_are_each_named(tmp_path: Path) -> None:
    prof, scan = scan_of(tmp_path, "[LDAP]\nEnable = TRUE\n; Old = 1\n[ ldap ]\nServer IP = 10.0.0.1\n",
                         ["nss_ldap.ensecret", "nss_ldap.bak"])
    found = fit.problems(prof, NasSettings(raw={"enable": "1", "smb_passdb": "smbpasswd"}), scan)
    text = "\n".join(found)
    assert "'Server IP'" in text and "Old" not in text
    assert "Enable = '1'" in text and "passdb backend = 'smbpasswd'" in text
    assert "nss_ldap.ensecret (the QTS UI's encrypted" in text and "nss_ldap.bak" in text
    msg = fit.mismatch_message("nas1", "10.1.1.1", 2222, found)
    assert "\n" not in msg and "python -m jcqnap.qnap learn --host 10.1.1.1 --port 2222" in msg
    assert "jcqnap:forceQtsProfile" in msg and "nothing was changed" in msg


def test_a_profile_that_keeps_the_password_in_the_ui_accepts_the_ensecret(tmp_path: Path) -> None:
    prof, scan = scan_of(tmp_path, "", ["nss_ldap.ensecret"], VARIANTS["ensecret"].profile())
    found = fit.problems(prof, NasSettings(raw={"smb_passdb": "smbpasswd"}), scan)
    assert found == []


def test_uri_spellings_render_match_and_rewrite_on_a_new_server() -> None:
    prof = VARIANTS["passdb"].profile()
    mode = prof.setting("smb_mode")
    assert mode.stored("ldap_only", "ldaps://h:636") == "ldapsam:ldaps://h:636"
    assert mode.logical("LDAPSAM:ldap://other:389") == "ldap_only" and mode.logical("smbpasswd") == "local_only"
    assert not mode.maps("tdbsam") and mode.maps(None)
    with pytest.raises(ProfileError, match="needs the LDAP URI"):
        mode.stored("ldap_only")
    with pytest.raises(ProfileError, match="cannot write it"):
        DEFAULT_PROFILE.setting("smb_passdb").stored("local_only")
    wanted = {"server": "h", "port": "636", "security": "ldaps", "smb_mode": "ldap_only"}
    current = NasSettings(raw={"server": "h", "port": "636", "security": "SSL", "smb_mode": "ldapsam:ldaps://old:636"})
    cmds = plan_setcfg(prof, wanted, current)
    assert len(cmds) == 1 and "ldapsam:ldaps://h:636" in cmds[0] and "smb.conf" in cmds[0]
    current.raw["smb_mode"] = "ldapsam:ldaps://h:636"
    assert plan_setcfg(prof, wanted, current) == []


def test_overrides_take_only_the_uri_placeholder_and_a_known_secret_store() -> None:
    with pytest.raises(ProfileError, match="only placeholder"):
        Profile.from_overrides({"settings": {"smb_mode": {"values": {"ldap_only": "ldapsam:{host}"}}}})
    with pytest.raises(ProfileError, match="secret_store"):
        Profile.from_overrides({"secret_store": "vault"})
    assert Profile.from_overrides({"secret_store": "qts_ui"}).secret_store == "qts_ui"
