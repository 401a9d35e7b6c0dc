"""`python -m jcqnap.qnap snapshot`: print a real NAS's LDAP-related state, to check the QTS profile.

Most QTS names in the profile are unconfirmed (`domain-facts.md` §3). This command lets a user see
what *their* firmware has: every profile setting with its value and evidence level, the relevant
`smb.conf` lines, the generated NSS config, and which files exist with which modes. It runs in one
SSH round trip with the pinned host key, changes nothing, and masks anything that looks like a
password (the Root DN secret file is only `stat`-ed, never read).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from jcqnap.qnap.profile import Profile
from jcqnap.qnap.settings import (
    FILES_TO_STAT,
    NasSettings,
    new_nonce,
    parse_settings_output,
    read_settings_script,
)
from jcqnap.qnap.ssh import NasSession

#: smb.conf keys that matter for LDAP authentication (prefix match, case-insensitive).
SMB_KEYS = ("workgroup", "passdb backend", "ldap", "security", "server role", "netbios name", "realm",
            "domain logons", "encrypt passwords")
_SECRETISH = re.compile(r"(pw\s*$|password|secret|credential)", re.I)


@dataclass
class Snapshot:
    settings: NasSettings
    smb_lines: list[str]
    nss_lines: list[str]


def snapshot_script(profile: Profile, nonce: str) -> str:
    """The settings fact plus the relevant lines of smb.conf and the generated NSS config."""
    q = shlex.quote
    m = f"@@{nonce}"
    lines = [read_settings_script(profile, nonce)]
    for p in profile.files:
        if p.name not in FILES_TO_STAT:  # same record format, so the settings parser picks them up
            path = q(p.path)
            lines.append(
                f"if [ -e {path} ]; then printf '%s %s\\n' {q(f'{m} file {p.name}')}"
                f" \"$(stat -c %a {path} 2>/dev/null || echo '?')\";"
                f" else printf '%s\\n' {q(f'{m} file {p.name} -')}; fi"
            )
    for label, name in (("smb", "smb_conf"), ("nss", "nss_ldap_conf")):
        path = q(profile.path(name))
        lines.append(
            f"if [ -r {path} ]; then while IFS= read -r line || [ -n \"$line\" ]; do "
            f"printf '%s %s\\n' {q(m + ' ' + label)} \"$line\"; done < {path}; fi"
        )
    return "\n".join(lines) + "\n"


def mask_line(line: str) -> str:
    """`key = value` with the value replaced by *** when the key looks like a password."""
    key, sep, _ = _split(line)
    return f"{key}{sep}***" if _SECRETISH.search(key) else line


def _split(line: str) -> tuple[str, str, str]:
    match = re.match(r"^(\s*[^=]*?)(\s*=\s*|\s+)(.*)$", line)
    if not match:
        return line, "", ""
    return match.group(1), match.group(2), match.group(3)


def parse_snapshot(profile: Profile, output: str, nonce: str) -> Snapshot:
    m = re.escape(f"@@{nonce}")
    settings = parse_settings_output(profile, output, nonce)
    smb: list[str] = []
    nss: list[str] = []
    for match in re.finditer(rf"^{m} (smb|nss) (.*)$", output, re.M):
        line = match.group(2)
        if match.group(1) == "smb":
            stripped = line.strip().lower()
            if stripped.startswith("[") or any(stripped.startswith(k) for k in SMB_KEYS):
                smb.append(mask_line(line))
        elif line.strip() and not line.lstrip().startswith("#"):
            nss.append(mask_line(line))
    return Snapshot(settings, smb, nss)


def take(session: NasSession, profile: Profile) -> Snapshot:
    nonce = new_nonce()
    result = session.run(["sh", "-c", snapshot_script(profile, nonce)])
    return parse_snapshot(profile, result.text, nonce)


def render(profile: Profile, snap: Snapshot) -> str:
    """The report, as plain text."""
    out: list[str] = ["# QTS profile settings (value as stored on the NAS; <missing> = key absent)"]
    rows: list[Sequence[str]] = [("setting", "where", "evidence", "value")]
    for s in profile.settings:
        value = snap.settings.raw.get(s.name)
        shown = "<missing>" if value is None else repr(value)
        if _SECRETISH.search(s.key):
            shown = "***"
        rows.append((s.name, f"{profile.path(s.file)} [{s.section}] {s.key}", s.evidence, shown))
    out += _table(rows)
    out.append("")
    out.append("# files")
    rows = [("file", "path", "evidence", "state")]
    for p in profile.files:
        state = snap.settings.files.get(p.name)
        shown = "(not checked)" if state is None else (f"exists, mode {state.mode}" if state.exists else "missing")
        rows.append((p.name, p.path, p.evidence, shown))
    out += _table(rows)
    out.append(f"# Root DN password: secret_store {profile.secret_store} ({profile.secret_store_evidence}); "
               + ("jcqnap writes root_secret" if profile.secret_store == "jcqnap" else "typed in the QTS UI only"))  # noqa: S105
    out.append("")
    out.append("# status commands (exit code; 0 = running)")
    for name, rc in snap.settings.status.items():
        out.append(f"{name:<12} {profile.command(name)!r}: {rc}")
    out.append("")
    out.append(f"# {profile.smb_conf}: LDAP-related lines")
    out += [f"  {line}" for line in snap.smb_lines] or ["  (none)"]
    out.append("")
    out.append(f"# {profile.path('nss_ldap_conf')} (secrets masked)")
    out += [f"  {line}" for line in snap.nss_lines] or ["  (missing or empty)"]
    return "\n".join(out) + "\n"


def _table(rows: list[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1] for r in rows]
