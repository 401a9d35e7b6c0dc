"""Reading and writing a NAS's LDAP settings as pure text: commands in, parsed facts out.

This is pyinfra's "fact" split: ``read_settings_script`` builds one shell script that reads
every LDAP-related setting in a single SSH round trip, and ``parse_settings_output`` turns its
output into ``NasSettings`` with no SSH at all, so parsing is tested on captured text. The
``setcfg_*`` builders give the commands an operation emits. Nothing here opens a connection.

The script prints each config file that holds settings once (``cat``) and the parser looks every
setting up in that text (``qtsini``, getcfg's rules), instead of starting one ``getcfg`` per key on
the NAS; a setting whose profile entry says ``read_with: getcfg`` is still printed by getcfg.

Framing: each file or value sits between marker lines that carry a per-read random nonce, so a
stored value (even one with newlines or fake markers) cannot forge a record without guessing the
nonce. For getcfg, a missing key is told apart from an empty one by ``-d`` set to a nonce-derived
sentinel; for a file, by the key's absence from the text (an absent file has no keys).
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass, field

from jcqnap.qnap import qtsini
from jcqnap.qnap.profile import Profile

FORMAT = "jcqnap-settings/1"
STATUS_COMMANDS = ("ldap_status", "smb_status")
FILES_TO_STAT = ("ulinux_conf", "smb_conf", "nss_ldap_conf", "root_secret")
#: Files a read never prints, whatever the profile says: a setting kept there is read with getcfg.
NEVER_PRINTED = ("root_secret",)


class SettingsParseError(ValueError):
    """The read script's output is not what it should be (wrong nonce, truncated, tool missing)."""


def new_nonce() -> str:
    """A fresh random nonce for one read."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class FileState:
    """Whether a NAS file exists and its octal mode (``"600"``); never its content."""

    exists: bool
    mode: str | None = None


@dataclass(frozen=True)
class NasSettings:
    """The parsed fact: stored values by setting name (None = key missing), files and status."""

    raw: dict[str, str | None]
    files: dict[str, FileState] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)

    def value(self, profile: Profile, name: str) -> str | None:
        """Setting ``name`` as jcqnap's logical value (``"ldaps"``, ``"true"``), or None if missing."""
        return profile.setting(name).logical(self.raw.get(name))

    def enabled(self, profile: Profile) -> bool:
        """LDAP is on. A missing ``[LDAP]`` section means off, as on a stock QTS box."""
        return self.value(profile, "enable") == "true"

    def logical(self, profile: Profile) -> dict[str, str | None]:
        """Every setting as its logical value, for diffs and ``read``."""
        return {name: self.value(profile, name) for name in self.raw}


def _marker(nonce: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z]{8,64}", nonce):
        raise ValueError("nonce must be 8-64 letters or digits")
    return f"@@{nonce}"


def missing_sentinel(nonce: str) -> str:
    """The ``-d`` default that marks a key as missing for the read with ``nonce``."""
    return f"{_marker(nonce)}-missing"


def read_settings_script(profile: Profile, nonce: str, *, include_status: bool = True) -> str:
    """One POSIX sh script that prints every profile setting, file state and status code.

    Nothing reads stdin and no secret is printed: the root-password file is only ``stat``-ed.
    """
    m = _marker(nonce)
    q = shlex.quote
    lines = [f"printf '%s\\n' {q(f'{m} {FORMAT}')}"]
    for name in files_to_read(profile):
        # "$?" is expanded before printf runs: it is cat's exit status. The added newline ends a file
        # whose last line has none, so the end marker always starts a line; the parser removes it.
        path = q(profile.path(name))
        lines.append(
            f"if [ -e {path} ]; then printf '%s\\n' {q(f'{m} cat {name}')}; cat {path} </dev/null 2>/dev/null;"
            f" printf '\\n%s %s\\n' {q(f'{m} endcat')} \"$?\"; else printf '%s\\n' {q(f'{m} cat {name} -')}; fi"
        )
    getcfg = with_getcfg(profile)
    for s in profile.settings:
        if s.name not in getcfg:
            continue
        lines.append(f"printf '%s\\n' {q(f'{m} begin {s.name}')}")
        lines.append(
            f"{q(profile.getcfg)} {q(s.section)} {q(s.key)} -f {q(profile.path(s.file))}"
            f" -d {q(missing_sentinel(nonce))} </dev/null 2>/dev/null"
        )
        lines.append(f"printf '%s %s\\n' {q(f'{m} end')} \"$?\"")
    for name in FILES_TO_STAT:
        path = q(profile.path(name))
        lines.append(
            f"if [ -e {path} ]; then printf '%s %s\\n' {q(f'{m} file {name}')}"
            f" \"$(stat -c %a {path} 2>/dev/null || echo '?')\";"
            f" else printf '%s\\n' {q(f'{m} file {name} -')}; fi"
        )
    if include_status:
        for name in STATUS_COMMANDS:
            # A subshell, so a status command that exits or execs cannot end the read early.
            lines.append(f"( {profile.command(name)} ) </dev/null >/dev/null 2>&1")
            lines.append(f"printf '%s %s\\n' {q(f'{m} status {name}')} \"$?\"")
    lines.append(f"printf '%s\\n' {q(f'{m} done')}")
    return "\n".join(lines) + "\n"


def with_getcfg(profile: Profile) -> list[str]:
    """The settings the read script has getcfg print (the others come from their file's text)."""
    return [s.name for s in profile.settings if s.read_with == "getcfg" or s.file in NEVER_PRINTED]


def files_to_read(profile: Profile) -> list[str]:
    """The profile files whose text the read script prints: those holding a setting read from its file."""
    getcfg = with_getcfg(profile)
    out: list[str] = []
    for s in profile.settings:
        if s.name not in getcfg and s.file not in out:
            out.append(s.file)
    return out


def parse_settings_output(profile: Profile, output: str, nonce: str) -> NasSettings:
    """Parse what ``read_settings_script(profile, nonce)`` printed.

    Raises ``SettingsParseError`` when the output is truncated, belongs to another read, a file could
    not be read, or getcfg failed (for instance exit 127 when the profile names a tool the firmware
    lacks). A setting printed by getcfg wins over the same setting found in its file's text.
    """
    m = re.escape(_marker(nonce))
    if not re.search(rf"^{m} {re.escape(FORMAT)}$", output, re.M):
        raise SettingsParseError("the output does not start with this read's header")
    if not re.search(rf"^{m} done$", output, re.M):
        raise SettingsParseError("the output is truncated (no end marker)")
    raw: dict[str, str | None] = {}
    record = re.compile(rf"^{m} begin (\S+)\n(.*?)^{m} end (\d+)\n", re.S | re.M)
    for match in record.finditer(output):
        name, body, rc = match.group(1), match.group(2), int(match.group(3))
        value = body[:-1] if body.endswith("\n") else body  # getcfg ends its value with one newline
        if rc != 0 and value == "":
            raise SettingsParseError(f"getcfg failed with exit {rc} reading setting {name!r}")
        raw[name] = None if value == missing_sentinel(nonce) else value
    texts: dict[str, str | None] = {}
    for match in re.finditer(rf"^{m} cat (\S+) -$", output, re.M):
        texts[match.group(1)] = None  # no such file: every key in it is missing, as getcfg sees it
    for match in re.finditer(rf"^{m} cat (\S+)\n(.*?)\n{m} endcat (\d+)$", output, re.S | re.M):
        name, body, rc = match.group(1), match.group(2), int(match.group(3))
        if rc != 0:
            raise SettingsParseError(f"reading {name} ({profile.path(name)}) failed with exit {rc}")
        texts[name] = body
    for s in profile.settings:
        if s.name not in raw and s.file in texts:
            text = texts[s.file]
            raw[s.name] = None if text is None else qtsini.get(text, s.section, s.key)
    wanted = [s.name for s in profile.settings]
    absent = [n for n in wanted if n not in raw]
    if absent:
        raise SettingsParseError(f"no value for setting(s): {', '.join(absent)}")
    files: dict[str, FileState] = {}
    for match in re.finditer(rf"^{m} file (\S+) (\S+)$", output, re.M):
        name, mode = match.group(1), match.group(2)
        files[name] = FileState(False) if mode == "-" else FileState(True, mode)
    status = {
        match.group(1): int(match.group(2))
        for match in re.finditer(rf"^{m} status (\S+) (\d+)$", output, re.M)
    }
    return NasSettings(raw={n: raw[n] for n in wanted}, files=files, status=status)


def setcfg_command(profile: Profile, name: str, stored: str) -> str:
    """The ``setcfg`` command that stores ``stored`` (already spelled for the NAS) in setting ``name``."""
    s = profile.setting(name)
    q = shlex.quote
    return f"{q(profile.setcfg)} {q(s.section)} {q(s.key)} {q(stored)} -f {q(profile.path(s.file))}"


def setcfg_logical(profile: Profile, name: str, logical: str) -> str:
    """``setcfg_command`` for a logical value (``"ldaps"`` is stored as the profile spells it)."""
    return setcfg_command(profile, name, profile.setting(name).stored(logical))


def erase_command(profile: Profile, name: str) -> str:
    """The ``setcfg -e`` command that removes setting ``name`` (restoring a "missing" snapshot)."""
    s = profile.setting(name)
    q = shlex.quote
    return f"{q(profile.setcfg)} -e {q(s.section)} {q(s.key)} -f {q(profile.path(s.file))}"


def restore_commands(profile: Profile, before: NasSettings) -> list[str]:
    """Commands that put every managed setting back to the snapshot ``before`` (missing → erased)."""
    out: list[str] = []
    for s in profile.settings:
        if not s.managed:
            continue
        stored = before.raw.get(s.name)
        out.append(erase_command(profile, s.name) if stored is None else setcfg_command(profile, s.name, stored))
    return out
