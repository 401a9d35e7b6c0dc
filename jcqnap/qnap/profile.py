"""The QTS profile: every QTS-specific name jcqnap uses, in one place, with its evidence level.

QTS's LDAP client internals are mostly undocumented (``shared/docs/domain-facts.md`` §3), so
nothing else in jcqnap hard-codes a QTS file, key or command: the ``LdapConfig`` resource writes
through this profile and the NAS simulator renders whatever it names. A user whose firmware
differs overrides names from stack config (``Profile.from_overrides``), not code.

Each item carries its evidence level as data, so ``snapshot`` and the docs can say which names
are known and which are guesses:

- ``seen``: observed in QNAP's own scripts or third-party code that drives real boxes;
- ``inferred``: follows from a seen fact, not observed itself;
- ``unconfirmed``: a reasoned default, to be checked against a real box (``snapshot`` helps);
- ``override``: set by the user through ``from_overrides``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EVIDENCE_LEVELS = ("seen", "inferred", "unconfirmed", "override", "learned")
#: How a read gets a setting: parsed by jcqnap from its file (one `cat` per file for all settings) or
#: printed by the NAS's own getcfg (one process per key; for firmware whose getcfg does more).
READ_WITH = ("file", "getcfg")

#: Where the Root DN password lives: ``jcqnap`` writes it as plain text into the 0600 ``root_secret``
#: file (from stdin); ``qts_ui`` means the firmware keeps it in a form jcqnap cannot produce (QTS's
#: encrypted ``nss_ldap.ensecret``), so the admin types it in the QTS UI and jcqnap never writes it.
SECRET_STORES = ("jcqnap", "qts_ui")

#: Placeholders a value spelling may carry: ``{uri}`` is rendered from the wanted LDAP settings
#: (``ldaps://host:636``) when stored and matches any URI when read; ``*`` matches anything and
#: marks a spelling that can be recognised but never written.
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+)\}")
PLACEHOLDERS = ("uri",)


class ProfileError(ValueError):
    """A profile override is malformed; the message names the offending key path."""


@dataclass(frozen=True)
class ProfilePath:
    """An absolute path on the NAS: a config file or a tool."""

    name: str
    path: str
    evidence: str
    note: str = ""


@dataclass(frozen=True)
class Setting:
    """One LDAP-related setting: which file, section and key hold it, and how values are spelled.

    ``values`` maps jcqnap's logical value (``"ldaps"``) to the string stored on the NAS
    (``"SSL"``); an empty mapping means free text stored as is. ``managed`` is False for settings
    jcqnap only observes (smbd's passdb line, which ``smb.sh`` renders). ``read_with`` is how a read
    gets the value (``READ_WITH``): ``file`` parses the file's text on jcqnap's side (``qtsini``).
    """

    name: str
    file: str  # the name of a ProfilePath in Profile.files
    section: str
    key: str
    evidence: str
    values: tuple[tuple[str, str], ...] = ()
    managed: bool = True
    note: str = ""
    read_with: str = "file"

    def spelling(self, logical: str) -> str:
        """The raw spelling (maybe with ``{uri}``) the profile has for ``logical``."""
        for want, stored in self.values:
            if want == logical:
                return stored
        allowed = ", ".join(w for w, _ in self.values)
        raise ProfileError(f"setting {self.name!r}: value {logical!r} is not one of {allowed}")

    def stored(self, logical: str, uri: str | None = None) -> str:
        """The string to store for ``logical``; free-text settings store it unchanged.

        A spelling with ``{uri}`` needs ``uri`` (the LDAP URI being configured); one with ``*`` can
        only be recognised, so storing it is an error that names the setting.
        """
        if not self.values:
            return logical
        spelling = self.spelling(logical)
        if "*" in spelling:
            raise ProfileError(f"setting {self.name!r}: the profile only recognises {spelling!r} for "
                               f"{logical!r} and cannot write it; give a literal spelling")
        if "{uri}" in spelling:
            if uri is None:
                raise ProfileError(f"setting {self.name!r}: {spelling!r} needs the LDAP URI")
            return spelling.replace("{uri}", uri)
        return spelling

    def templated(self, logical: str) -> bool:
        """True when the stored spelling of ``logical`` depends on the LDAP URI."""
        return bool(self.values) and "{uri}" in self.spelling(logical)

    def maps(self, stored: str | None) -> bool:
        """True when ``stored`` is missing, free text, or one of the profile's spellings."""
        if stored is None or not self.values:
            return True
        return any(_spelling_regex(v).fullmatch(stored.strip()) for _, v in self.values)

    def logical(self, stored: str | None) -> str | None:
        """Map a stored string back to its logical value, case-insensitively as QTS compares.

        Unknown spellings come back unchanged so drift shows the NAS's real value.
        """
        if stored is None or not self.values:
            return stored
        for want, value in self.values:
            if _spelling_regex(value).fullmatch(stored.strip()):
                return want
        return stored


def _spelling_regex(spelling: str) -> re.Pattern[str]:
    """``ldapsam:{uri}`` -> a case-insensitive pattern; ``{uri}`` matches a URI, ``*`` anything."""
    parts = re.split(r"(\{uri\}|\*)", spelling)
    body = "".join(r"[a-z]+://\S+" if p == "{uri}" else ".*" if p == "*" else re.escape(p) for p in parts)
    return re.compile(body, re.I | re.S)


def ldap_uri(security: str, host: str, port: str | int) -> str:
    """The URI QTS-style tools render: ``ldaps://host:636`` for ldaps, ``ldap://host:389`` otherwise."""
    scheme = "ldaps" if security == "ldaps" else "ldap"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class Command:
    """A shell command run on the NAS. ``{placeholders}`` are filled shell-quoted by ``Profile.command``."""

    name: str
    command: str
    evidence: str
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """The QTS layout jcqnap writes and the simulator implements."""

    files: tuple[ProfilePath, ...]
    tools: tuple[ProfilePath, ...]
    settings: tuple[Setting, ...]
    commands: tuple[Command, ...]
    defaults: tuple[tuple[str, str], ...] = field(default=())
    secret_store: str = "jcqnap"  # noqa: S105 - a name, not a password
    secret_store_evidence: str = "unconfirmed"  # noqa: S105 - a name, not a password

    # -- lookups -------------------------------------------------------------------------------
    def path(self, name: str) -> str:
        """The NAS path of file or tool ``name`` (``ulinux_conf``, ``getcfg``...)."""
        for item in (*self.files, *self.tools):
            if item.name == name:
                return item.path
        raise KeyError(f"the QTS profile has no file or tool named {name!r}")

    def setting(self, name: str) -> Setting:
        """The setting called ``name`` (``base_dn``, ``workgroup``...)."""
        for s in self.settings:
            if s.name == name:
                return s
        raise KeyError(f"the QTS profile has no setting named {name!r}")

    def setting_file(self, name: str) -> str:
        """The NAS path of the file that holds setting ``name``."""
        return self.path(self.setting(name).file)

    def default(self, name: str) -> str:
        """A default value jcqnap assumes when the NAS has none (e.g. the stock workgroup)."""
        return dict(self.defaults)[name]

    def command(self, name: str, **params: str) -> str:
        """Command ``name`` with each ``{param}`` filled in with ``shlex.quote``.

        ``{secret_file}`` is always available: the root-password file's path.
        """
        for c in self.commands:
            if c.name == name:
                values = {"secret_file": self.path("root_secret"), **params}
                return c.command.format(**{k: shlex.quote(v) for k, v in values.items()})
        raise KeyError(f"the QTS profile has no command named {name!r}")

    @property
    def ulinux_conf(self) -> str:
        return self.path("ulinux_conf")

    @property
    def smb_conf(self) -> str:
        return self.path("smb_conf")

    @property
    def root_secret_file(self) -> str:
        return self.path("root_secret")

    def ldap_sections(self) -> list[tuple[str, str]]:
        """(file name, section) pairs that belong to LDAP alone: any key there the profile does not
        name is unknown. The sections of uLinux.conf settings, minus the workgroup's ([System])."""
        shared = {(s.file, s.section.casefold()) for s in self.settings if s.name in ("workgroup", "smb_workgroup")}
        out: list[tuple[str, str]] = []
        for s in self.settings:
            pair = (s.file, s.section)
            if s.file == "ulinux_conf" and (s.file, s.section.casefold()) not in shared and pair not in out:
                out.append(pair)
        return out

    @property
    def getcfg(self) -> str:
        return self.path("getcfg")

    @property
    def setcfg(self) -> str:
        return self.path("setcfg")

    # -- documentation as data ------------------------------------------------------------------
    def evidence(self) -> list[dict[str, str]]:
        """Every item with its evidence level, for ``snapshot`` output and the docs."""
        rows: list[dict[str, str]] = []
        for p in (*self.files, *self.tools):
            rows.append({"kind": "path", "name": p.name, "where": p.path, "evidence": p.evidence,
                         "note": p.note})
        for s in self.settings:
            where = f"{self.path(s.file)} [{s.section}] {s.key}"
            rows.append({"kind": "setting", "name": s.name, "where": where, "evidence": s.evidence,
                         "note": s.note})
        for c in self.commands:
            rows.append({"kind": "command", "name": c.name, "where": c.command, "evidence": c.evidence,
                         "note": c.note})
        rows.append({"kind": "secret", "name": "secret_store", "where": self.secret_store,
                     "evidence": self.secret_store_evidence,
                     "note": "jcqnap: jcqnap writes root_secret (0600, from stdin); qts_ui: typed in the QTS UI only"})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form in the same shape ``from_overrides`` takes (the simulator's tools read it)."""
        return {
            "files": {p.name: p.path for p in self.files},
            "tools": {p.name: p.path for p in self.tools},
            "settings": {
                s.name: {"file": s.file, "section": s.section, "key": s.key, "values": dict(s.values),
                         "managed": s.managed, "read_with": s.read_with}
                for s in self.settings
            },
            "commands": {c.name: c.command for c in self.commands},
            "defaults": dict(self.defaults),
            "secret_store": self.secret_store,
        }

    # -- overrides -----------------------------------------------------------------------------
    @classmethod
    def from_overrides(cls, overrides: Mapping[str, Any] | None, base: Profile | None = None) -> Profile:
        """``base`` (the default profile) with the names in ``overrides`` replaced.

        ``overrides`` has the shape of ``to_dict()``, e.g.
        ``{"settings": {"base_dn": {"key": "BaseDN"}}, "commands": {"smb_restart": "..."}}``.
        Overridden items get evidence ``override``. Unknown keys are errors that name the key, so a
        typo in stack config cannot silently fall back to a default.
        """
        from jcqnap.qnap.profile_overrides import apply_overrides  # the parsing lives apart; it needs Profile

        return apply_overrides(base or DEFAULT_PROFILE, overrides)


_FILES = (
    ProfilePath("ulinux_conf", "/etc/config/uLinux.conf", "seen", "QTS's main INI settings file"),
    ProfilePath("smb_conf", "/etc/config/smb.conf", "seen", "Samba config that smbd reads on QTS"),
    ProfilePath("nss_ldap_conf", "/etc/config/nss_ldap.conf", "seen",
                "PADL nss_ldap config QTS regenerates on Apply; jcqnap only reads it"),
    ProfilePath("root_secret", "/etc/config/jcqnap_ldap_root.secret", "unconfirmed",
                "QTS keeps the Root DN password encrypted in /etc/config/nss_ldap.ensecret (format "
                "undisclosed); this profile stores it in a 0600 file written from stdin"),
    ProfilePath("ui_secret", "/etc/config/nss_ldap.ensecret", "seen",
                "where the QTS UI keeps the Root DN password, encrypted in an undisclosed format; nss_ldap-265 "
                "(QTS 4.4.1 GPL) has no ensecret handling, so something closed decodes it"),
    ProfilePath("ca_cert", "/etc/config/jcqnap_ldap_ca.pem", "unconfirmed",
                "where LdapConfig installs its optional ca_cert (PEM, 0644); QTS's own CA store for LDAP "
                "is undocumented, so point this at whatever your firmware's LDAP client trusts"),
)

_TOOLS = (
    ProfilePath("getcfg", "/sbin/getcfg", "seen", "getcfg SECTION KEY [-f FILE] [-d DEFAULT] [-u]"),
    ProfilePath("setcfg", "/sbin/setcfg", "seen", "setcfg SECTION KEY VALUE [-f FILE]; setcfg -e erases"),
)

_SETTINGS = (
    Setting("enable", "ulinux_conf", "LDAP", "Enable", "seen", (("true", "TRUE"), ("false", "FALSE")),
            note="a stock box has no [LDAP] section until LDAP is first applied: missing = off"),
    Setting("server", "ulinux_conf", "LDAP", "Server", "unconfirmed", note="LDAP server host name or IP"),
    Setting("port", "ulinux_conf", "LDAP", "Port", "unconfirmed",
            note="QTS's UI implies the port from the security mode; missing = 636 (ldaps) or 389"),
    Setting("security", "ulinux_conf", "LDAP", "Security", "unconfirmed",
            (("ldaps", "SSL"), ("starttls", "TLS"), ("plain", "NONE")),
            note="UI: ldaps:// (ldap + SSL), ldap:// (ldap + TLS), ldap:// (none)"),
    Setting("base_dn", "ulinux_conf", "LDAP", "Base DN", "unconfirmed"),
    Setting("root_dn", "ulinux_conf", "LDAP", "Root DN", "unconfirmed", note="the Samba service account"),
    Setting("users_base_dn", "ulinux_conf", "LDAP", "Users Base DN", "unconfirmed"),
    Setting("groups_base_dn", "ulinux_conf", "LDAP", "Group Base DN", "unconfirmed"),
    Setting("smb_mode", "ulinux_conf", "LDAP", "Samba Auth", "unconfirmed",
            (("ldap_only", "LDAP"), ("local_only", "LOCAL")),
            note="UI: Microsoft Networking authenticates 'LDAP users only' or 'local users only'"),
    Setting("workgroup", "ulinux_conf", "System", "Workgroup", "seen"),
    Setting("smb_workgroup", "smb_conf", "global", "workgroup", "seen",
            note="QNAP's own scripts write both workgroups, then run smb.sh restart"),
    Setting("smb_passdb", "smb_conf", "global", "passdb backend", "seen",
            (("ldap_only", "ldapsam:{uri}"), ("local_only", "tdbsam*")), managed=False,
            note="QTS 4.4.1 avahi.sh: Samba uses LDAP when [LDAP] Enable = TRUE and this is not smbpasswd; "
                 "this profile expects smb.sh to render it (ldapsam or tdbsam) from smb_mode, so a box "
                 "whose local users are smbpasswd does not fit it"),
)

_COMMANDS = (
    Command("ldap_start", "/etc/init.d/ldap.sh start", "seen"),
    Command("ldap_stop", "/etc/init.d/ldap.sh stop", "seen"),
    Command("ldap_restart", "/etc/init.d/ldap.sh restart", "inferred", "the usual init-script verb"),
    Command("smb_restart", "/etc/init.d/smb.sh restart", "seen"),
    Command("ldap_status", "/etc/init.d/ldap.sh status", "unconfirmed",
            "exit 0 when the LDAP client is on and running; QTS's UI 'Online' has no documented source"),
    Command("smb_status", "/etc/init.d/smb.sh status", "unconfirmed", "exit 0 when smbd runs"),
    Command("nss_user", "getent passwd {user}", "inferred", "a domain user resolves on the NAS"),
    Command("nss_group", "getent group {group}", "inferred", "a domain group resolves on the NAS"),
    Command("root_secret_write",
            "umask 077 && cat > {secret_file}.new && chmod 600 {secret_file}.new"
            " && mv -f {secret_file}.new {secret_file}",
            "unconfirmed", "the password arrives on stdin, never on a command line"),
    Command("root_secret_erase", "rm -f {secret_file}", "unconfirmed"),
)

DEFAULT_PROFILE = Profile(
    files=_FILES,
    tools=_TOOLS,
    settings=_SETTINGS,
    commands=_COMMANDS,
    defaults=(("workgroup", "NAS"),),
)
"""The profile jcqnap uses unless stack config overrides it."""
