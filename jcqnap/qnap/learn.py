"""`learn`: turn the difference the QTS UI made on one NAS into a QTS profile override, with evidence.

The admin applies LDAP once in the QTS UI, between two snapshots (`learn_snapshot`). Each changed
key is matched to the profile's logical settings by the values the admin typed: the server host,
the port, the DNs and the workgroup by equality (DNs compared case- and space-insensitively; users
and groups base DN, equal for JumpCloud, told apart by the key's name); ``enable``, ``security``
and "LDAP users only" among the keys that changed in the same section and hold none of the typed
values. smb.conf's ``passdb backend`` going from the local value to ``ldapsam:<uri>`` becomes the
SMB switch's spellings (with ``{uri}``), and *the* switch when no uLinux key is left for it.

The password: every secret file the UI added or changed is checked against the typed password by
salted hash (when ``JCQNAP_BIND_PASSWORD`` is given): a file that holds exactly that password is
plain (jcqnap's way: a 0600 file written from stdin); one that changed but does not is encrypted
(QTS's ``nss_ldap.ensecret``), which jcqnap cannot produce, so the profile then says
``secret_store: qts_ui``. Nothing is guessed: a setting that no change explains is reported as
"default" (the NAS already held the typed value under the profile's name) or "not found".
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from jcqnap.qnap.learn_snapshot import EntryChange, FileChange, diff, salted
from jcqnap.qnap.profile import Profile, ldap_uri

FREE_TEXT = ("server", "port", "base_dn", "root_dn", "users_base_dn", "groups_base_dn")
TRUTHY = ("true", "yes", "on", "1", "enable", "enabled")
SECURITY_WORDS = ("ssl", "tls", "starttls", "start_tls", "ldaps", "ldap+ssl", "ldap+tls", "ldap_tls", "ldap_ssl",
                  "none", "ldap", "plain")
SECURITY_KEY = re.compile(r"secur|ssl|tls|encrypt", re.I)


@dataclass(frozen=True)
class Typed:
    """What the admin typed into the QTS UI's LDAP page (the password only to find where it went)."""

    host: str
    port: int
    security: str  # ldaps | starttls | ldap
    base_dn: str
    root_dn: str
    users_base_dn: str
    groups_base_dn: str
    workgroup: str
    smb_mode: str = "ldap_only"
    password: str | None = None

    def value(self, name: str) -> str:
        return {"server": self.host, "port": str(self.port), "base_dn": self.base_dn, "root_dn": self.root_dn,
                "users_base_dn": self.users_base_dn, "groups_base_dn": self.groups_base_dn,
                "workgroup": self.workgroup, "smb_workgroup": self.workgroup}[name]

    @property
    def uri(self) -> str:
        return ldap_uri("ldaps" if self.security == "ldaps" else "ldap", self.host, self.port)

    @property
    def security_logical(self) -> str:
        return "plain" if self.security == "ldap" else self.security


@dataclass
class Finding:
    """One setting's outcome: evidence ``learned``, ``default (<level>)`` or ``not found``."""

    name: str
    evidence: str
    where: str
    detail: str = ""


@dataclass
class Learned:
    overrides: dict[str, Any]
    findings: list[Finding]
    secret_lines: list[str]
    secret_verdict: str
    unmapped: list[EntryChange]
    rendered: list[EntryChange]
    init_changes: list[FileChange]
    complete: bool = True
    notes: list[str] = field(default_factory=list)


def _dn(value: str) -> str:
    return re.sub(r"\s*([,=])\s*", r"\1", value.strip()).casefold()


def _equal(name: str, stored: str, typed: str) -> bool:
    if name in ("base_dn", "root_dn", "users_base_dn", "groups_base_dn"):
        return _dn(stored) == _dn(typed)
    if name in ("workgroup", "smb_workgroup"):
        return stored.strip().casefold() == typed.casefold()
    return stored.strip() == typed


def _template(stored: str, uri: str) -> str:
    at = stored.casefold().find(uri.casefold())
    return stored if at < 0 else stored[:at] + "{uri}" + stored[at + len(uri):]


class _Mapper:
    def __init__(self, profile: Profile, changes: list[EntryChange], after: dict[str, Any], typed: Typed) -> None:
        self.p = profile
        self.typed = typed
        self.after = after
        self.files = {profile.path(f.name): f.name for f in profile.files}
        self.changes = [c for c in changes if c.after is not None]
        self.used: set[int] = set()
        self.settings: dict[str, dict[str, Any]] = {}
        self.findings: list[Finding] = []
        self.sections: list[tuple[str, str]] = []

    def where(self, c: EntryChange) -> str:
        return f"{c.path} [{c.section}] {c.key}"

    def learn(self, name: str, c: EntryChange, values: dict[str, str] | None = None, detail: str = "") -> None:
        self.used.add(id(c))
        entry: dict[str, Any] = {"file": self.files[c.path], "section": c.section, "key": c.key, "evidence": "learned"}
        if values:
            entry["values"] = values
        self.settings[name] = entry
        self.findings.append(Finding(name, "learned", self.where(c), detail or f"set to {c.after!r} by the UI"))

    def unlearned(self, name: str, why: str = "") -> None:
        """No change explains `name`: say whether the NAS holds the typed value under the profile's name."""
        s = self.p.setting(name)
        path = self.p.path(s.file)
        held = next((v for sec, k, v in self.after["text"].get(path, {}).get("entries", [])
                     if sec.casefold() == s.section.casefold() and k.casefold() == s.key.casefold()), None)
        where = f"{path} [{s.section}] {s.key}"
        if name in ("workgroup", "smb_workgroup", *FREE_TEXT) and held is not None \
                and _equal(name, held, self.typed.value(name)):
            self.findings.append(Finding(name, f"default ({s.evidence})", where,
                                         "already held the typed value before the UI apply; the name is the profile's"))
        else:
            self.findings.append(Finding(name, "not found", where, why or "no key the UI changed holds this value"))

    def free(self, c: EntryChange) -> bool:
        return id(c) not in self.used

    def in_file(self, name: str) -> list[EntryChange]:
        return [c for c in self.changes if self.files.get(c.path) == name and self.free(c)]

    def run(self) -> None:
        ulinux = self.in_file("ulinux_conf")
        for name in FREE_TEXT:
            hits = [c for c in ulinux if self.free(c) and _equal(name, c.after or "", self.typed.value(name))]
            if name in ("users_base_dn", "groups_base_dn") and len(hits) > 1:
                word = "user" if name == "users_base_dn" else "group"
                hits = [c for c in hits if word in c.key.casefold()]
            if len(hits) == 1:
                self.learn(name, hits[0])
                if (hits[0].path, hits[0].section) not in self.sections:
                    self.sections.append((hits[0].path, hits[0].section))
            else:
                self.unlearned(name, f"{len(hits)} changed keys hold this value: "
                                     f"{', '.join(self.where(c) for c in hits)}" if hits else "")
        for name, fname in (("workgroup", "ulinux_conf"), ("smb_workgroup", "smb_conf")):
            hits = [c for c in self.in_file(fname) if _equal(name, c.after or "", self.typed.workgroup)]
            if len(hits) > 1:
                hits = [c for c in hits if "workgroup" in c.key.casefold()]
            if len(hits) == 1:
                self.learn(name, hits[0])
            else:
                self.unlearned(name)
        section_changes = [c for c in ulinux if (c.path, c.section) in self.sections]
        self._enable(section_changes)
        self._security(section_changes)
        self._smb(section_changes)

    def _enable(self, changes: list[EntryChange]) -> None:
        hits = [c for c in changes if self.free(c) and (c.after or "").strip().casefold() in TRUTHY
                and "enable" in c.key.casefold()]
        hits = hits or [c for c in changes if self.free(c) and (c.after or "").strip().casefold() in TRUTHY]
        if len(hits) != 1:
            return self.unlearned("enable", f"{len(hits)} candidate keys" if hits else "")
        c = hits[0]
        values = {"true": (c.after or "").strip()}
        if c.before and c.before.strip().casefold() not in TRUTHY:
            values["false"] = c.before.strip()
        self.learn("enable", c, values, f"{c.after!r} when on" + (f", {c.before!r} before" if c.before else ""))

    def _security(self, changes: list[EntryChange]) -> None:
        hits = [c for c in changes if self.free(c) and ((c.after or "").strip().casefold() in SECURITY_WORDS
                                                          or SECURITY_KEY.search(c.key))]
        if len(hits) != 1:
            return self.unlearned("security", f"{len(hits)} candidate keys" if hits else "")
        c = hits[0]
        self.learn("security", c, {self.typed.security_logical: (c.after or "").strip()},
                   f"{c.after!r} for {self.typed.security} (other modes keep the profile's spellings)")

    def _smb(self, changes: list[EntryChange]) -> None:
        passdb = next((c for c in self.in_file("smb_conf") if c.section.casefold() == "global"
                       and c.key.casefold() == "passdb backend"
                       and (c.after or "").lower().startswith("ldapsam")), None)
        local = passdb.before.strip() if passdb and passdb.before and not passdb.before.lower().startswith("ldapsam") \
            else None
        left = [c for c in changes if self.free(c)]
        if passdb is not None:
            values = {"ldap_only": _template(passdb.after or "", self.typed.uri)}
            if local:
                values["local_only"] = local
            entry = {"file": "smb_conf", "section": passdb.section, "key": passdb.key, "values": values,
                     "evidence": "learned"}
            self.settings["smb_passdb"] = entry
            self.used.add(id(passdb))
            self.findings.append(Finding("smb_passdb", "learned", self.where(passdb),
                                         f"{passdb.before!r} -> {passdb.after!r}"))
        else:
            self.unlearned("smb_passdb", "passdb backend did not change to ldapsam")
        mode = self.typed.smb_mode
        if len(left) == 1:
            c = left[0]
            values = {mode: (c.after or "").strip()}
            other = "local_only" if mode == "ldap_only" else "ldap_only"
            if c.before:
                values[other] = c.before.strip()
            self.learn("smb_mode", c, values, f"{c.after!r} for {mode}, the only other key the UI changed there"
                       + ("" if c.before else f"; {other} keeps the profile's spelling (not seen)"))
        elif not left and passdb is not None:
            self.settings["smb_mode"] = copy.deepcopy(self.settings["smb_passdb"])
            self.findings.append(Finding("smb_mode", "learned", self.where(passdb),
                                         "no uLinux key changed for it: smb.conf's passdb backend is the switch"))
        else:
            self.unlearned("smb_mode", f"{len(left)} keys left unexplained" if left else "")


def _secrets(
    profile: Profile, files: list[FileChange], typed: Typed, salt: str
) -> tuple[list[str], str, dict[str, Any]]:
    """Report lines on the password files, the verdict on jcqnap's way, and the override part."""
    lines: list[str] = []
    plain: list[str] = []
    opaque: list[str] = []
    wanted = {salted(salt, typed.password.encode()), salted(salt, (typed.password + "\n").encode())} \
        if typed.password else set()
    for f in files:
        meta = f.after or f.before or {}
        if f.after is None:
            lines.append(f"{f.path}: removed")
            continue
        if not wanted:
            verdict = "not checked (set JCQNAP_BIND_PASSWORD to compare)"
        elif f.after["hash"] in wanted:
            verdict = "holds the typed password as plain text"
            plain.append(f.path)
        else:
            verdict = "does not hold the typed password as plain text (encrypted or other content)"
            opaque.append(f.path)
        lines.append(f"{f.path}: {f.what}, mode {meta.get('mode')}, {meta.get('size')} bytes; {verdict}")
    part: dict[str, Any] = {}
    if not typed.password:
        return lines, "not checked: set JCQNAP_BIND_PASSWORD to the password typed in the UI", part
    if not files:
        return lines, "not found: the UI changed no file that could hold the password", part
    if plain:
        part["files"] = {"root_secret": plain[0]}
    if opaque and any(p for p in opaque if "nss_ldap" in p or p == profile.path("ui_secret")):
        enc = next(p for p in opaque if "nss_ldap" in p or p == profile.path("ui_secret"))
        part["secret_store"] = "qts_ui"  # noqa: S105 - a storage mode, not a password
        part.setdefault("files", {})["ui_secret"] = enc
        verdict = (f"does not match: the UI keeps the password encrypted in {enc}, which jcqnap cannot produce; "
                   "the profile says secret_store: qts_ui (type the password in the QTS UI; jcqnap never writes "
                   "it and proves it by logging in)"
                   + (f"; the LDAP client reads it decoded from {plain[0]}" if plain else ""))
    elif plain:
        part["secret_store"] = "jcqnap"  # noqa: S105 - a storage mode, not a password
        verdict = (f"matches: the UI keeps it as plain text in {plain[0]}; jcqnap writes the same file (0600, from "
                   "stdin)")
    else:
        verdict = "not found: no changed file holds the typed password as plain text, and none looks like QTS's"
    return lines, verdict, part


def learn(profile: Profile, before: dict[str, Any], after: dict[str, Any], typed: Typed) -> Learned:
    changes, secrets_, init = diff(before, after)
    mapper = _Mapper(profile, changes, after, typed)
    mapper.run()
    secret_lines, verdict, secret_part = _secrets(profile, secrets_, typed, before["salt"])
    overrides: dict[str, Any] = {}
    if mapper.settings:
        overrides["settings"] = mapper.settings
    overrides.update({k: v for k, v in secret_part.items() if k != "files"})
    if secret_part.get("files"):
        overrides["files"] = secret_part["files"]
    section_paths = {(p, s.casefold()) for p, s in mapper.sections}
    unmapped = [c for c in mapper.changes if mapper.free(c) and (c.path, c.section.casefold()) in section_paths]
    rendered = [c for c in changes if (c.after is None or mapper.free(c)) and c not in unmapped]
    complete = not unmapped and all(f.evidence != "not found" for f in mapper.findings) \
        and not verdict.startswith("not")
    return Learned(overrides, mapper.findings, secret_lines, verdict, unmapped, rendered, init, complete)
