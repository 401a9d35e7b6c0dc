"""`learn`'s snapshot: everything on a NAS that can matter for LDAP, read in one SSH round trip, and its diff.

Read-only. It takes:

- the whole text of uLinux.conf and smb.conf (INI) and of nss_ldap.conf and the ldap.conf files
  (``key value`` lines), as (section, key, value) entries; a value under a key that looks like a
  password (``bindpw``...) is replaced by a salted hash before it is kept;
- the name, size, mode and a *salted* sha256 of every file that may hold the Root DN password
  (``nss_ldap.*``, nss_ldap-265's compiled-in ``/etc/ldap.secret``, ``*secret*`` and ``*.pw`` in the
  config directory, the profile's own secret files), never their content;
- the size and sha256 of the init scripts jcqnap calls (``ldap.sh``, ``smb.sh``).

The salt is random per ``before`` snapshot and reused for ``after``, so hashes compare across the two
and `learn` can tell whether a file holds exactly the password the admin typed (hashing that password
with the same salt on this side), while a snapshot file is no dictionary for anyone else.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
import shlex
import time
from dataclasses import dataclass
from typing import Any

from jcqnap.qnap.profile import Profile
from jcqnap.qnap.settings import new_nonce
from jcqnap.qnap.ssh import NasSession

FORMAT = "jcqnap-learn-snapshot/1"
LDAP_CONF_FILES = ("/etc/ldap.conf", "/etc/openldap/ldap.conf", "/etc/ldap/ldap.conf",
                   "/usr/local/etc/openldap/ldap.conf", "{confdir}/ldap.conf")
SECRET_GLOBS = ("{confdir}/nss_ldap.*", "/etc/ldap.secret", "{confdir}/*secret*", "{confdir}/*.pw")
SECRETISH_KEY = re.compile(r"(pw$|password|secret|credential)", re.I)


def salted(salt: str, data: bytes) -> str:
    return hashlib.sha256(salt.encode() + data).hexdigest()


def text_files(profile: Profile) -> list[tuple[str, str]]:
    """(path, kind) of the config files whose text is taken: ``ini`` or ``conf`` (``key value`` lines)."""
    confdir = posixpath.dirname(profile.path("nss_ldap_conf"))
    out = [(profile.ulinux_conf, "ini"), (profile.smb_conf, "ini"), (profile.path("nss_ldap_conf"), "conf")]
    for path in LDAP_CONF_FILES:
        p = path.format(confdir=confdir)
        if p not in [o[0] for o in out]:
            out.append((p, "conf"))
    return out


def init_scripts(profile: Profile) -> list[str]:
    out: list[str] = []
    for name in ("ldap_start", "smb_restart"):
        first = shlex.split(profile.command(name))[0]
        if first.startswith("/") and first not in out:
            out.append(first)
    return out


def capture_script(profile: Profile, nonce: str, salt: str) -> str:
    q = shlex.quote
    m = f"@@{nonce}"
    texts = text_files(profile)
    lines: list[str] = []
    for i, (path, _) in enumerate(texts):
        lines.append(
            f"if [ -r {q(path)} ]; then printf '%s\\n' {q(f'{m} text {i}')}; cat {q(path)} </dev/null 2>/dev/null;"
            f" printf '\\n%s\\n' {q(f'{m} endtext {i}')}; fi"
        )
    confdir = q(posixpath.dirname(profile.path("nss_ldap_conf")))
    globs = [g.format(confdir=confdir) for g in SECRET_GLOBS]
    globs += [q(profile.root_secret_file), q(profile.path("ui_secret"))]
    skip = " | ".join(q(p) for p, _ in texts)
    lines.append(
        f"for f in {' '.join(globs)}; do [ -f \"$f\" ] || continue; case \"$f\" in {skip}) continue;; esac; "
        f"h=$( {{ printf '%s' {q(salt)}; cat \"$f\"; }} </dev/null 2>/dev/null | sha256sum | cut -d' ' -f1); "
        f"printf '%s %s %s %s\\n' {q(f'{m} secret')} \"$(stat -c '%s %a' \"$f\")\" \"$h\" \"$f\"; done"
    )
    for path in init_scripts(profile):
        lines.append(
            f"if [ -f {q(path)} ]; then printf '%s %s %s %s\\n' {q(f'{m} init')} \"$(stat -c %s {q(path)})\""
            f" \"$(sha256sum < {q(path)} | cut -d' ' -f1)\" {q(path)}; fi"
        )
    lines.append(f"printf '%s\\n' {q(f'{m} done')}")
    return "\n".join(lines) + "\n"


def parse_entries(text: str, kind: str, salt: str) -> list[list[str]]:
    """[section, key, value] per setting line, first occurrence wins (as getcfg); password-ish values masked."""
    entries: list[list[str]] = []
    seen: set[tuple[str, str]] = set()
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if kind == "ini":
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            if "=" not in line:
                continue
            key, _, value = line.partition("=")
        else:
            key, _, value = line.replace("\t", " ").partition(" ")
        key, value = key.strip(), value.strip()
        ident = (section.casefold(), key.casefold())
        if ident in seen:
            continue
        seen.add(ident)
        if SECRETISH_KEY.search(key):
            value = f"<masked, salted sha256 {salted(salt, value.encode())[:16]}>"
        entries.append([section, key, value])
    return entries


def parse_capture(profile: Profile, output: str, nonce: str, salt: str, label: str) -> dict[str, Any]:
    m = re.escape(f"@@{nonce}")
    if not re.search(rf"^{m} done$", output, re.M):
        raise ValueError("the snapshot output is truncated (no end marker)")
    snap: dict[str, Any] = {"format": FORMAT, "nas": label, "taken": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "salt": salt, "text": {}, "secrets": {}, "init": {}}
    texts = text_files(profile)
    for i, (path, kind) in enumerate(texts):
        match = re.search(rf"^{m} text {i}\n(.*?)\n{m} endtext {i}$", output, re.S | re.M)
        snap["text"][path] = ({"kind": kind, "exists": True, "entries": parse_entries(match.group(1), kind, salt)}
                              if match else {"kind": kind, "exists": False, "entries": []})
    for match in re.finditer(rf"^{m} secret (\d+) (\d+) ([0-9a-f]+) (.+)$", output, re.M):
        snap["secrets"][match.group(4)] = {"size": int(match.group(1)), "mode": match.group(2),
                                           "hash": match.group(3)}
    for match in re.finditer(rf"^{m} init (\d+) ([0-9a-f]+) (.+)$", output, re.M):
        snap["init"][match.group(3)] = {"size": int(match.group(1)), "sha256": match.group(2)}
    return snap


def take(session: NasSession, profile: Profile, salt: str | None = None) -> dict[str, Any]:
    """One read-only round trip; ``salt`` comes from the ``before`` snapshot when there is one."""
    nonce = new_nonce()
    salt = salt or secrets.token_hex(16)
    result = session.run(["sh", "-c", capture_script(profile, nonce, salt)])
    return parse_capture(profile, result.text, nonce, salt, session.target.label)


@dataclass(frozen=True)
class EntryChange:
    path: str
    section: str
    key: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class FileChange:
    path: str
    what: str  # added, changed, removed
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[EntryChange], list[FileChange], list[FileChange]]:
    """(changed setting entries, changed secret files, changed init scripts)."""
    entries: list[EntryChange] = []
    for path, now in after["text"].items():
        old = {(s.casefold(), k.casefold()): (s, k, v) for s, k, v in before["text"].get(path, {}).get("entries", [])}
        new = {(s.casefold(), k.casefold()): (s, k, v) for s, k, v in now["entries"]}
        for ident, (s, k, v) in new.items():
            prev = old.get(ident)
            if prev is None or prev[2] != v:
                entries.append(EntryChange(path, s, k, prev[2] if prev else None, v))
        for ident, (s, k, v) in old.items():
            if ident not in new:
                entries.append(EntryChange(path, s, k, v, None))
    return entries, _file_diff(before["secrets"], after["secrets"]), _file_diff(before["init"], after["init"])


def _file_diff(before: dict[str, Any], after: dict[str, Any]) -> list[FileChange]:
    out: list[FileChange] = []
    for path, meta in after.items():
        if path not in before:
            out.append(FileChange(path, "added", None, meta))
        elif before[path] != meta:
            out.append(FileChange(path, "changed", before[path], meta))
    out += [FileChange(path, "removed", meta, None) for path, meta in before.items() if path not in after]
    return out
