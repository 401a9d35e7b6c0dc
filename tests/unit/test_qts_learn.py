"""Issue 14: `learn`'s diff and mapping on captured snapshots (no SSH); the real run: tests/e2e/test_qts_firmware.py."""

from __future__ import annotations

from typing import Any

from jcqnap.qnap.learn import Typed, learn
from jcqnap.qnap.learn_snapshot import FORMAT, parse_entries, salted
from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile

SALT = "5a17"
PW = "Typed-Bind-Pw-1"
USERS = "ou=Users,o=org,dc=jumpcloud,dc=com"
TYPED = Typed("ldap.example.com", 636, "ldaps", "o=org,dc=jumpcloud,dc=com", f"uid=svc,{USERS}", USERS, USERS, "WG",
              password=PW)


def snap(ulinux: str, smb: str, secrets: dict[str, bytes]) -> dict[str, Any]:
    return {"format": FORMAT, "salt": SALT, "taken": "t", "init": {},
            "text": {path: {"kind": "ini", "exists": True, "entries": parse_entries(text, "ini", SALT)}
                     for path, text in (("/etc/config/uLinux.conf", ulinux), ("/etc/config/smb.conf", smb))},
            "secrets": {p: {"size": len(b), "mode": "600", "hash": salted(SALT, b)} for p, b in secrets.items()}}


BEFORE = snap("[System]\nWorkgroup = NAS\n", "[global]\nworkgroup = NAS\npassdb backend = smbpasswd\n", {})
UI = ("[System]\nWorkgroup = WG\n[LDAP]\nEnable = TRUE\nHost = ldap.example.com\nPort = 636\nMode = ssl\n"
      "Base = o=org, dc=jumpcloud, dc=com\nBinder = uid=svc,ou=Users,o=org,dc=jumpcloud,dc=com\n"
      "UserDN = ou=Users,o=org,dc=jumpcloud,dc=com\nGroupDN = ou=Users,o=org,dc=jumpcloud,dc=com\n")
SMB_AFTER = "[global]\nworkgroup = WG\npassdb backend = ldapsam:ldaps://ldap.example.com:636\n"


def test_typed_values_name_the_keys_and_passdb_becomes_the_switch() -> None:
    out = learn(DEFAULT_PROFILE, BEFORE, snap(UI, SMB_AFTER, {"/etc/ldap.secret": (PW + "\n").encode()}), TYPED)
    prof = Profile.from_overrides(out.overrides)
    keys = {s.name: s.key for s in prof.settings}
    assert keys["server"] == "Host" and keys["base_dn"] == "Base" and keys["root_dn"] == "Binder"
    assert keys["users_base_dn"] == "UserDN" and keys["groups_base_dn"] == "GroupDN"
    assert prof.setting("security").stored("ldaps") == "ssl" and prof.setting("enable").stored("true") == "TRUE"
    assert (prof.setting("smb_mode").file, keys["smb_mode"]) == ("smb_conf", "passdb backend")
    assert prof.setting("smb_mode").stored("local_only") == "smbpasswd"
    assert prof.secret_store == "jcqnap" and prof.root_secret_file == "/etc/ldap.secret"
    assert out.complete and "matches" in out.secret_verdict
    assert all(f.evidence == "learned" for f in out.findings)


def test_an_encrypted_secret_means_qts_ui_and_nothing_is_guessed_without_a_change() -> None:
    after = snap(UI.replace("Port = 636\n", ""), SMB_AFTER,
                 {"/etc/config/nss_ldap.ensecret": b"QNAPENC1$opaque", "/etc/ldap.secret": PW.encode()})
    out = learn(DEFAULT_PROFILE, BEFORE, after, TYPED)
    assert out.overrides["secret_store"] == "qts_ui" and "does not match" in out.secret_verdict
    port = next(f for f in out.findings if f.name == "port")
    assert port.evidence == "not found" and not out.complete
    assert "port" not in out.overrides["settings"]


def test_without_the_typed_password_the_secret_is_not_judged() -> None:
    typed = Typed(**{**TYPED.__dict__, "password": None})
    out = learn(DEFAULT_PROFILE, BEFORE, snap(UI, SMB_AFTER, {"/etc/ldap.secret": PW.encode()}), typed)
    assert out.secret_verdict.startswith("not checked") and "secret_store" not in out.overrides
    assert PW not in repr(out)
