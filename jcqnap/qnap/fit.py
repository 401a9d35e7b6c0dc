"""Does this NAS fit the QTS profile? Checked before LdapConfig's first write, so a guess is never written.

Most QTS names are unconfirmed (`profile.py`). On a box whose firmware stores LDAP differently,
writing the profile's guesses either fails half-way or, worse, "succeeds" while SMB logins through
LDAP never work. So before the first write, the fact read also lists (same SSH round trip):

- every key in the sections that belong to LDAP alone (`Profile.ldap_sections`, `[LDAP]` by default);
- the LDAP-related files that exist (`nss_ldap.*` next to nss_ldap.conf, nss_ldap-265's compiled-in
  `/etc/ldap.secret`, `*ldap*secret*` in the config directory).

`problems` then names what the profile cannot account for: a key it does not name, a stored value
it has no spelling for (smb.conf's `passdb backend = smbpasswd`, the local-users value QTS 4.4.1's
avahi.sh tests for, is one), a file it does not name, or the QTS UI's encrypted password file when the
profile has jcqnap write its own. Any problem stops the write with one line that says what was found
and which `learn` command turns it into a profile. Pure parsing and checking; no SSH here.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from jcqnap.errors import JcqnapError
from jcqnap.qnap.profile import Profile
from jcqnap.qnap.settings import NasSettings

#: LDAP-related files looked for besides the profile's own (shell globs; `{confdir}` is nss_ldap.conf's dir).
FILE_GLOBS = ("{confdir}/nss_ldap.*", "/etc/ldap.secret", "{confdir}/*ldap*secret*", "{confdir}/*ldap*.secret")

FORCE_KEY = "jcqnap:forceQtsProfile"


class ProfileMismatch(JcqnapError):
    """The NAS holds LDAP settings or files the QTS profile does not account for; nothing was written."""


@dataclass
class FitScan:
    """What the scan found: keys per (file name, section), and LDAP-related files that exist."""

    keys: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _globs(profile: Profile) -> list[str]:
    confdir = posixpath.dirname(profile.path("nss_ldap_conf"))
    return [g.format(confdir=shlex.quote(confdir)) for g in FILE_GLOBS]


def fit_script(profile: Profile, nonce: str) -> str:
    """Shell that prints `@@nonce key <file> <section-index> <key>` and `@@nonce lfile <path>` lines."""
    q = shlex.quote
    m = f"@@{nonce}"
    lines: list[str] = []
    awk = (
        '/^[ \t]*\\[/ { s=$0; sub(/^[ \t]*\\[[ \t]*/, "", s); sub(/[ \t]*\\][ \t\r]*$/, "", s);'
        ' cur=tolower(s); next }'
        ' cur==want && /=/ && !/^[ \t]*[#;]/ { k=$0; sub(/[ \t]*=.*/, "", k); sub(/^[ \t]+/, "", k);'
        ' print tag " " k }'
    )
    for i, (fname, section) in enumerate(profile.ldap_sections()):
        path = q(profile.path(fname))
        lines.append(f"[ -r {path} ] && awk -v want={q(section.lower())} -v tag={q(f'{m} key {fname} {i}')} "
                     f"{q(awk)} {path} 2>/dev/null")
    lines.append(
        f"for f in {' '.join(_globs(profile))}; do [ -e \"$f\" ] && printf '%s %s\\n' {q(m + ' lfile')} \"$f\"; done"
    )
    lines.append("true")
    return "\n".join(lines) + "\n"


def parse_fit(profile: Profile, output: str, nonce: str) -> FitScan:
    m = re.escape(f"@@{nonce}")
    sections = profile.ldap_sections()
    scan = FitScan(keys={pair: [] for pair in sections})
    for match in re.finditer(rf"^{m} key (\S+) (\d+) (.*)$", output, re.M):
        idx = int(match.group(2))
        if idx < len(sections):
            scan.keys[sections[idx]].append(match.group(3).strip())
    for match in re.finditer(rf"^{m} lfile (.+)$", output, re.M):
        path = match.group(1)
        if path not in scan.files:
            scan.files.append(path)
    return scan


def problems(profile: Profile, settings: NasSettings, scan: FitScan) -> list[str]:
    """What on the NAS the profile cannot account for, one short phrase each (empty: it fits)."""
    found: list[str] = []
    for (fname, section), keys in scan.keys.items():
        named = {s.key.casefold() for s in profile.settings
                 if s.file == fname and s.section.casefold() == section.casefold()}
        unknown = [repr(k) for k in keys if k.casefold() not in named]
        if unknown:
            found.append(f"key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in {profile.path(fname)} "
                         f"[{section}], which the profile does not name")
    seen: set[tuple[str, str, str]] = set()
    for s in profile.settings:
        raw = settings.raw.get(s.name)
        where = (s.file, s.section.casefold(), s.key.casefold())
        if not s.maps(raw) and where not in seen:
            seen.add(where)
            spellings = ", ".join(v for _, v in s.values)
            found.append(f"{profile.path(s.file)} [{s.section}] {s.key} = {raw!r}, which the profile cannot map "
                         f"(it knows {spellings})")
    named_files = {p.path for p in profile.files}
    ui_secret = profile.path("ui_secret")
    for path in scan.files:
        if path == ui_secret and profile.secret_store == "jcqnap":  # noqa: S105 - a name, not a password
            found.append(f"{path} (the QTS UI's encrypted Root DN password; this profile has jcqnap write its own "
                         f"{profile.root_secret_file} instead)")
        elif path not in named_files:
            found.append(f"file {path}, which the profile does not name")
    return found


def mismatch_message(label: str, host: str, port: int, found: list[str]) -> str:
    """One line: what was found, that nothing changed, and how to learn the profile (or force it)."""
    return (
        f"NAS {label}: does not fit the QTS profile, nothing was changed: found {'; '.join(found)}. Learn this "
        f"firmware's names from a NAS set up once in the QTS UI: python -m jcqnap.qnap learn --host {host} "
        f"--port {port} --host-key '<its ssh-ed25519 key>' ... and put the qtsProfile block it writes into the "
        f"stack (or set {FORCE_KEY} true to write the default names anyway)"
    )
