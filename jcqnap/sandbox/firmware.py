"""Firmware variants of the NAS simulator: QTS lines that store LDAP differently from jcqnap's default profile.

Real firmware cannot be reached from here, so the simulator can pretend to be firmware that differs
from `DEFAULT_PROFILE` in the ways the public evidence says real boxes may (`domain-facts.md` §3):

- ``default``: exactly the profile's names (the demo, the benchmarks and every older test).
- ``ensecret``: other ``[LDAP]`` key names and spellings; the QTS UI keeps the Root DN password
  encrypted-looking in ``/etc/config/nss_ldap.ensecret``, which this firmware's own ``ldap.sh``
  decodes into ``/etc/ldap.secret`` (nss_ldap-265's compiled-in path) for the LDAP client; local
  SMB users are ``passdb backend = smbpasswd``.
- ``passdb``: other ``[LDAP]`` key names; no uLinux key for "LDAP users only": smb.conf's
  ``passdb backend`` (``smbpasswd`` or ``ldapsam:<uri>``) is the only switch, as QTS 4.4.1's
  avahi.sh reads it; the UI writes the password as plain text into ``/etc/ldap.secret`` (0600).

Each variant's *true* layout is a profile (``Firmware.profile()``) that the simulator's tools read
from nas.json, plus two behaviours the profile cannot express (``secret``, ``smb_switch``).
``nas_tools/uiapply.py`` is each variant's "Apply in the QTS UI": it writes what that firmware's
UI would, then applies. jcqnap itself never sees these definitions; it must learn them (`learn`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile

DECODED_SECRET = "/etc/ldap.secret"  # noqa: S105 - a name, not a password
PASSDB_SPELLINGS = {"ldap_only": "ldapsam:{uri}", "local_only": "smbpasswd"}


@dataclass(frozen=True)
class Firmware:
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    secret: str = "plain"  # plain: the UI writes root_secret; ensecret: the UI writes ui_secret, ldap.sh decodes  # noqa: S105 - a name, not a password
    smb_switch: str = "ulinux"  # ulinux: smb.sh renders passdb from smb_mode; passdb: the stored passdb decides
    stock_smb: tuple[tuple[str, str], ...] = ()  # extra smb.conf [global] keys of a factory-fresh box

    def profile(self) -> Profile:
        """This firmware's real layout, as a profile (what `learn` should find)."""
        return Profile.from_overrides(self.overrides or None, DEFAULT_PROFILE)

    def nas_conf(self) -> dict[str, Any]:
        """The behaviours the simulator's tools read from nas.json (``firmware``)."""
        return {"name": self.name, "secret": self.secret, "smb_switch": self.smb_switch,
                "decoded_secret": DECODED_SECRET}


VARIANTS: dict[str, Firmware] = {
    "default": Firmware("default"),
    "ensecret": Firmware(
        "ensecret",
        overrides={
            "settings": {
                "server": {"key": "LDAP Server"},
                "port": {"key": "LDAP Port"},
                "security": {"key": "LDAP Security", "values": {"ldaps": "ldaps", "starttls": "ldap_tls",
                                                                 "plain": "ldap"}},
                "base_dn": {"key": "BaseDN"},
                "root_dn": {"key": "RootDN"},
                "users_base_dn": {"key": "UserBaseDN"},
                "groups_base_dn": {"key": "GroupBaseDN"},
                "smb_mode": {"key": "Samba Users", "values": {"ldap_only": "LDAP_ONLY", "local_only": "LOCAL_ONLY"}},
                "smb_passdb": {"values": PASSDB_SPELLINGS},
            },
            "files": {"root_secret": DECODED_SECRET},
            "secret_store": "qts_ui",
        },
        secret="ensecret",  # noqa: S106 - a name, not a password
        stock_smb=(("passdb backend", "smbpasswd"),),
    ),
    "passdb": Firmware(
        "passdb",
        overrides={
            "settings": {
                "server": {"key": "Server Host"},
                "port": {"key": "Server Port"},
                "security": {"key": "Encryption", "values": {"ldaps": "SSL", "starttls": "StartTLS", "plain": "None"}},
                "base_dn": {"key": "Base"},
                "root_dn": {"key": "Bind DN"},
                "users_base_dn": {"key": "Users DN"},
                "groups_base_dn": {"key": "Groups DN"},
                "smb_mode": {"file": "smb_conf", "section": "global", "key": "passdb backend",
                             "values": PASSDB_SPELLINGS},
                "smb_passdb": {"values": PASSDB_SPELLINGS},
            },
            "files": {"root_secret": DECODED_SECRET},
        },
        smb_switch="passdb",
        stock_smb=(("passdb backend", "smbpasswd"),),
    ),
}


def variant(name: str) -> Firmware:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown firmware variant {name!r} (known: {', '.join(VARIANTS)})") from None
