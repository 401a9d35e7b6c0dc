"""Typed, validated stack config.

`parse()` turns the raw stack config into dataclasses, or raises `ConfigError` whose lines each
read `jcqnap:<key>: <what is wrong>; <the fix>` (the first line too). It runs before any resource is
registered, so a bad config fails `pulumi preview` with nothing touched.

Secret values (`jumpcloudApiKey`, `bindPassword`, `nasCredentials`) only have their shape checked
here, and no message includes them; the program reads them with `Config.get_secret*`, which keeps
them secret in state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from jcqnap import validation as v

NS = "jcqnap"
ROLES = ("directory", "site", "all-in-one")
SECURITY = ("ldaps", "starttls", "ldap")
SMB_MODES = ("ldap_only", "local_only")
DEFAULT_LDAP_HOST = "ldap.jumpcloud.com"

#: Plain (non-secret) keys this program reads; anything else under `jcqnap:` is a typo.
KNOWN_KEYS = (
    "role", "sandbox", "jumpcloudApiUrl", "jumpcloudOrgId", "jumpcloudTimeout", "bindUser", "workgroup",
    "domainSid", "groups", "directoryStack", "ldapHost", "ldapPort", "ldapSecurity", "allowInsecureLdap",
    "nas", "smbMode", "caCertFile", "qtsProfile", "forceQtsProfile", "verifyGroup", "rotateBindPassword",
    "deleteAdopted",
)
SECRET_KEYS = ("jumpcloudApiKey", "bindPassword", "nasCredentials")
#: Keys of the directory role; a site stack gets their values from the directory stack.
DIRECTORY_KEYS = ("bindUser", "workgroup", "domainSid", "groups")
#: How a group's membership is managed: the declared list exactly, only additions, or not at all.
MEMBER_MODES = ("exact", "add-only", "unmanaged")


class ConfigError(pulumi.RunError):
    """Bad stack config. A RunError, so the CLI prints the message without a traceback."""


@dataclass(frozen=True)
class BindUserSpec:
    username: str
    email: str
    firstname: str | None = None
    lastname: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    name: str
    linux_name: str
    gid: int
    description: str = ""
    members: tuple[str, ...] | None = ()  # None: unmanaged (JumpCloud or the identity provider owns it)
    members_mode: str = "exact"


@dataclass(frozen=True)
class NasSpec:
    name: str
    host: str
    port: int
    user: str
    host_key: str | None
    sandbox: str | None = None
    #: Taken out of service: its LdapConfig leaves the stack without SSH (nothing on the box changes).
    retired: bool = False
    #: Known to be unreachable: its last known state is kept and its changes wait (see README).
    offline: bool = False


@dataclass(frozen=True)
class DirectorySpec:
    bind_user: BindUserSpec
    workgroup: str
    domain_sid: str | None
    groups: tuple[GroupSpec, ...]
    rotate_bind_password: bool = False
    #: caCertFile (or the sandbox's CA): checks an adopted account's bindPassword by an LDAP bind
    ca_cert_file: str | None = None


@dataclass(frozen=True)
class SiteSpec:
    nas: tuple[NasSpec, ...]
    directory_stack: str | None
    smb_mode: str
    ca_cert_file: str | None
    qts_profile: dict[str, Any]
    verify_group: str | None
    force_profile: bool = False


@dataclass(frozen=True)
class StackConfig:
    role: str
    sandbox_file: str | None
    ldap_host: str
    ldap_port: int | None
    ldap_security: str
    allow_insecure: bool
    directory: DirectorySpec | None
    site: SiteSpec | None
    delete_adopted: bool = False


class _Collector:
    """Gathers every problem, so one preview shows them all."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, key: str, reason: str) -> None:
        self.errors.append(f"{NS}:{key}: {reason}")

    def check(self, key: str, value: object, validator: Callable[[object], str | None]) -> bool:
        problem = validator(value)
        if problem:
            self.add(key, problem)
        return problem is None


def _choice(c: _Collector, key: str, value: object, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        c.add(key, f"must be one of {', '.join(allowed)}, got {value!r}")
        return default
    return str(value)


def _bind_user(c: _Collector, raw: object) -> BindUserSpec | None:
    if not isinstance(raw, Mapping):
        c.add("bindUser", "is required: an object {username, email}; "
              "set it with: pulumi config set --path bindUser.username samba-bind")
        return None
    ok = c.check("bindUser.username", raw.get("username"), v.username)
    email = raw.get("email")
    ok &= c.check("bindUser.email", email, v.email)
    for opt in ("firstname", "lastname"):
        c.check(f"bindUser.{opt}", raw.get(opt), lambda x: v.text(x, required=False))
    if not ok:
        return None
    return BindUserSpec(str(raw["username"]), str(email), raw.get("firstname"), raw.get("lastname"))


def _groups(c: _Collector, raw: object) -> tuple[GroupSpec, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add("groups", "must be a list of {name, linuxName, gid, members}")
        return ()
    out: list[GroupSpec] = []
    names: set[object] = set()
    linux: set[object] = set()
    gids: set[object] = set()
    for i, g in enumerate(raw):
        k = f"groups[{i}]"
        if not isinstance(g, Mapping):
            c.add(k, "must be an object {name, linuxName, gid, members}")
            continue
        ok = c.check(f"{k}.name", g.get("name"), lambda x: v.text(x, max_len=64))
        ok &= c.check(f"{k}.linuxName", g.get("linuxName"), v.linux_group)
        ok &= c.check(f"{k}.gid", g.get("gid"), v.gid)
        c.check(f"{k}.description", g.get("description"), lambda x: v.text(x, required=False))
        members = g.get("members")
        mode = g.get("membersMode", "exact" if members is not None else "unmanaged")
        if mode not in MEMBER_MODES:
            c.add(f"{k}.membersMode", f"must be one of {', '.join(MEMBER_MODES)}, got {mode!r}")
            ok = False
        elif mode == "unmanaged" and members is not None:
            c.add(f"{k}.members", "is set but membersMode is unmanaged (jcqnap never writes its members); "
                  "remove members, or set membersMode to exact or add-only")
            ok = False
        elif mode != "unmanaged" and members is None:
            c.add(f"{k}.members", f"is required with membersMode {mode}: a list of usernames "
                  "(omit both to leave the membership to JumpCloud)")
            ok = False
        if members is not None and not isinstance(members, list):
            c.add(f"{k}.members", "must be a list of usernames")
            ok = False
            members = []
        for j, m in enumerate(members or []):
            ok &= c.check(f"{k}.members[{j}]", m, v.username)
        if not ok:
            continue
        name, lname, gid = str(g["name"]), str(g["linuxName"]), int(g["gid"])
        uniques: tuple[tuple[set[object], object, str], ...] = (
            (names, name.lower(), "name"), (linux, lname, "linuxName"), (gids, gid, "gid"))
        for seen, value, what in uniques:
            if value in seen:
                c.add(f"{k}.{what}", f"duplicates another group's {what} {value!r}; each group needs its own")
                ok = False
            seen.add(value)
        if ok:
            out.append(GroupSpec(name, lname, gid, str(g.get("description") or ""),
                                 None if members is None else tuple(sorted(set(members))), str(mode)))
    return tuple(out)


NAS_FLAGS = ("retired", "offline")


def _nas(c: _Collector, raw: object, sandbox: dict[str, Any] | None) -> tuple[NasSpec, ...]:
    if not isinstance(raw, list) or not raw:
        c.add("nas", "is required for a site: a list of {name, host, port, user, hostKey}")
        return ()
    out: list[NasSpec] = []
    for i, n in enumerate(raw):
        spec = nas_entry(c, f"nas[{i}]", n, sandbox)
        if spec is not None:
            out.append(spec)
    if len({n.name for n in out}) != len(out):
        c.add("nas", "has two NAS entries with the same name; names must be unique")
    return tuple(out)


def nas_entry(c: _Collector, k: str, n: object, sandbox: dict[str, Any] | None) -> NasSpec | None:
    """One `jcqnap:nas[i]` entry, with the sandbox's values filled in; None (and errors in `c`) when bad.

    A retired NAS needs no host key: nothing connects to it any more.
    """
    if not isinstance(n, Mapping):
        c.add(k, "must be an object {name, host, port, user, hostKey}")
        return None
    entry = dict(n)
    if "sandbox" in entry:
        by_name = {s["name"]: s for s in (sandbox or {}).get("nas", [])}
        name = entry["sandbox"]
        sims = ", ".join(sorted(by_name)) or "none: set jcqnap:sandbox to the sandbox file first"
        if not isinstance(name, str) or not name.strip():
            c.add(f"{k}.sandbox", f"must name a NAS simulator of the local sandbox ({sims}), got {name!r}; "
                  "or remove the key for a real NAS")
            return None
        sim = by_name.get(name)
        if sim is None:
            c.add(f"{k}.sandbox", f"no NAS simulator named {name!r} in the sandbox (it has {sims}); "
                  "run: python -m jcqnap.sandbox up")
            return None
        entry.setdefault("host", sim["ssh_host"])
        entry.setdefault("port", sim["ssh_port"])
        entry.setdefault("user", sim["admin_user"])
        entry.setdefault("hostKey", sim["host_key"])
    entry.setdefault("port", 22)
    entry.setdefault("user", "admin")
    ok = c.check(f"{k}.name", entry.get("name"), v.linux_group)
    ok &= c.check(f"{k}.host", entry.get("host"), v.hostname)
    ok &= c.check(f"{k}.port", entry.get("port"), v.port)
    ok &= c.check(f"{k}.user", entry.get("user"), v.username)
    flags = {}
    for flag in NAS_FLAGS:
        value = entry.get(flag, False)
        if not isinstance(value, bool):
            c.add(f"{k}.{flag}", f"must be true or false, got {value!r}")
            ok = False
        flags[flag] = value is True
    if flags["retired"] and flags["offline"]:
        c.add(f"{k}.offline", "a retired NAS is not managed any more; remove offline (retired wins) or retired")
        ok = False
    if not flags["retired"] or entry.get("hostKey") is not None:
        ok &= c.check(f"{k}.hostKey", entry.get("hostKey"), v.host_key)
    if not ok:
        return None
    key = entry.get("hostKey")
    return NasSpec(str(entry["name"]), str(entry["host"]), int(entry["port"]), str(entry["user"]),
                   str(key) if key is not None else None, entry.get("sandbox"), **flags)


def usable_nas(raw: list[Any], sandbox: dict[str, Any] | None) -> list[NasSpec]:
    """The entries of `jcqnap:nas` that parse, skipping bad ones (the program's `parse` reports those)."""
    specs = (nas_entry(_Collector(), f"nas[{i}]", n, sandbox) for i, n in enumerate(raw))
    return [s for s in specs if s is not None]


#: What jcqnap reads from a sandbox file, by section.
SANDBOX_SHAPE = {"jumpcloud": ("api_url", "api_key", "org_id"), "ldap": ("uri", "starttls_uri", "ca_cert")}


def load_sandbox(path: str | None) -> dict[str, Any] | None:
    """The sandbox description (`python -m jcqnap.sandbox up` writes it), or None.

    Anything else at that path (not JSON, not an object, missing a section) is a ConfigError naming
    `jcqnap:sandbox`, never a decoder traceback.
    """
    if not path:
        return None
    problem = v.text(path, max_len=4096)
    if problem:
        raise ConfigError(f"{NS}:sandbox: {problem}")
    p = Path(path)
    fix = "point it at the sandbox.json that `make sandbox-up` writes (.sandbox/sandbox.json)"
    if not p.exists():
        raise ConfigError(f"{NS}:sandbox: {p} does not exist; start the sandbox with: make sandbox-up")
    try:
        doc = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a JSON file"
        raise ConfigError(f"{NS}:sandbox: {p} is not a sandbox file ({reason}); {fix}") from None
    missing = [f"{section}.{key}" for section, keys in SANDBOX_SHAPE.items() for key in keys
               if not isinstance(doc, dict) or not isinstance(doc.get(section), dict)
               or not isinstance(doc[section].get(key), str)]
    nas = doc.get("nas", []) if isinstance(doc, dict) else None
    if missing or not isinstance(nas, list) or not all(isinstance(n, dict) and "name" in n for n in nas):
        what = f"it lacks {', '.join(missing[:3])}" if missing else "its nas list is malformed"
        raise ConfigError(f"{NS}:sandbox: {p} is not a sandbox file ({what}); {fix}")
    return dict(doc)


def _read_text(path: str) -> str | None:
    """The file's text, or None when the path is odd or the file is not readable text."""
    try:
        return Path(path).read_text() if not v.has_control_chars(path) else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _is_pem_file(path: str) -> bool:
    """A cheap check for the directory role, whose program must not load cryptography (issue 16)."""
    return "-----BEGIN CERTIFICATE-----" in (_read_text(path) or "")


def _site_files(c: _Collector, ca: object, profile: Mapping[str, Any]) -> None:
    """caCertFile must hold a PEM certificate; qtsProfile must be a valid set of overrides."""
    if ca is not None:
        pem = _read_text(str(ca))
        fix = "point it at the PEM of the CA that signed the LDAP server"
        if pem is None:
            c.add("caCertFile", f"file {ca!r} not found or not readable text; {fix}")
        else:
            from cryptography import x509

            try:
                x509.load_pem_x509_certificates(pem.encode())
            except ValueError:
                c.add("caCertFile", f"file {ca!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----); {fix}")
    if profile:
        from jcqnap.qnap.profile import Profile, ProfileError

        try:
            Profile.from_overrides(profile)
        except ProfileError as exc:
            where, _, reason = str(exc).partition(":")
            c.add("qtsProfile" + where.removeprefix("qts_profile"),
                  f"{reason.strip()}; see `python -m jcqnap.qnap snapshot` for the names your firmware uses")


def parse(raw: Mapping[str, Any], sandbox: dict[str, Any] | None = None,
          organization: str | None = None,
          secret: Callable[[str], str | None] | None = None) -> StackConfig:
    """Validate the plain stack config. Raises ConfigError listing every problem found.

    `organization` is the current stack's (`pulumi.get_organization()`), to check `directoryStack`
    against what the backend accepts. `secret(key)` reads a secret key's value to check its shape
    (default: the running program's config); messages never include it.
    """
    c = _Collector()
    role = _choice(c, "role", raw.get("role"), ROLES, "all-in-one")
    security = _choice(c, "ldapSecurity", raw.get("ldapSecurity"), SECURITY, "ldaps")
    allow_insecure = raw.get("allowInsecureLdap", False)
    if not isinstance(allow_insecure, bool):
        c.add("allowInsecureLdap", f"must be true or false, got {allow_insecure!r}")
        allow_insecure = False
    if security == "ldap" and not allow_insecure:
        c.add("ldapSecurity", "is plain ldap, which sends the bind password in clear; use ldaps or starttls "
              "(or set jcqnap:allowInsecureLdap true for a lab)")
    ldap_host = raw.get("ldapHost", DEFAULT_LDAP_HOST)
    ldap_port = raw.get("ldapPort")
    if sandbox is not None:
        uri = sandbox["ldap"]["uri"] if security == "ldaps" else sandbox["ldap"]["starttls_uri"]
        host_port = uri.split("://", 1)[1].rstrip("/")
        ldap_host, _, port_s = host_port.rpartition(":")
        ldap_port = int(port_s)
    c.check("ldapHost", ldap_host, v.hostname)
    if "jumpcloudApiUrl" in raw:
        c.check("jumpcloudApiUrl", raw["jumpcloudApiUrl"], v.api_url)
    if "jumpcloudOrgId" in raw:
        c.check("jumpcloudOrgId", raw["jumpcloudOrgId"], v.org_id)
    if "jumpcloudTimeout" in raw:
        c.check("jumpcloudTimeout", raw["jumpcloudTimeout"], v.timeout_seconds)
    if ldap_port is not None:
        c.check("ldapPort", ldap_port, v.port)

    ca = raw.get("caCertFile")
    if ca is None and sandbox is not None:
        ca = sandbox["ldap"]["ca_cert"]
    directory = None
    if role in ("directory", "all-in-one"):
        bind_user = _bind_user(c, raw.get("bindUser"))
        wg = raw.get("workgroup")
        c.check("workgroup", wg, v.workgroup)
        sid = raw.get("domainSid")
        if sid is not None:
            c.check("domainSid", sid, v.domain_sid)
        groups = _groups(c, raw.get("groups"))
        if not groups and raw.get("groups") is None:
            c.add("groups", "is required: at least one Samba group {name, linuxName, gid, members}")
        rotate = _flag(c, "rotateBindPassword", raw.get("rotateBindPassword", False))
        if role == "directory" and ca is not None and not _is_pem_file(str(ca)):
            c.add("caCertFile", f"file {ca!r} is not a readable PEM certificate; point it at the PEM of the CA "
                  "that signed the LDAP server (the directory uses it to check an adopted bindPassword)")
        if bind_user and isinstance(wg, str):
            directory = DirectorySpec(bind_user, wg.upper(), sid, groups, rotate,
                                      None if ca is None else str(ca))

    site = None
    if role in ("site", "all-in-one"):
        nas = _nas(c, raw.get("nas"), sandbox)
        dstack = raw.get("directoryStack")
        if role == "site":
            c.check("directoryStack", dstack, lambda x: v.stack_reference(x, organization))
        smb_mode = _choice(c, "smbMode", raw.get("smbMode"), SMB_MODES, "ldap_only")
        profile = raw.get("qtsProfile") or {}
        if not isinstance(profile, Mapping):
            c.add("qtsProfile", "must be an object of profile overrides")
            profile = {}
        force = raw.get("forceQtsProfile", False)
        if not isinstance(force, bool):
            c.add("forceQtsProfile", f"must be true or false, got {force!r}")
            force = False
        _site_files(c, ca, profile)
        verify_group = raw.get("verifyGroup")
        if verify_group is not None:
            c.check("verifyGroup", verify_group, v.account_name)
        site = SiteSpec(nas, dstack if role == "site" else None, smb_mode, ca, dict(profile), verify_group, force)

    _secret_problems(c, secret or runtime_secret, role in ("directory", "all-in-one"), site)
    if role == "site":
        for key in DIRECTORY_KEYS:
            if key in raw:
                c.add(key, "belongs to the directory stack; a site takes it from there through the "
                      "StackReference (so it cannot differ), remove it from this stack")
    for key in raw:
        if key not in KNOWN_KEYS and key not in SECRET_KEYS:
            c.add(key, f"is not a jcqnap setting; known keys: {', '.join(KNOWN_KEYS)}")
    delete_adopted = _flag(c, "deleteAdopted", raw.get("deleteAdopted", False))
    if c.errors:
        # The first line names a key and its fix: summaries and logs often keep only that line.
        more = f" ({len(c.errors)} problems, the others below)" if len(c.errors) > 1 else ""
        raise ConfigError(f"invalid stack config{more}: " + "\n  ".join(c.errors))
    return StackConfig(role, raw.get("sandbox"), str(ldap_host), ldap_port, security, allow_insecure,
                       directory, site, delete_adopted)


def _flag(c: _Collector, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        c.add(key, f"must be true or false, got {value!r}")
        return False
    return value


STRUCTURED_KEYS = ("bindUser", "groups", "nas", "qtsProfile")
SCALAR_KEYS = ("ldapPort", "jumpcloudTimeout", "allowInsecureLdap", "forceQtsProfile", "rotateBindPassword",
               "deleteAdopted")


def read_raw(cfg: pulumi.Config) -> dict[str, Any]:
    """The plain keys of this stack's `jcqnap:` config, decoded, plus any unknown key (to report typos).

    Structured keys and numbers/booleans are JSON-decoded; a value that does not decode is kept as
    the raw string so `parse` can name the key in its error.
    """
    from pulumi.runtime.config import CONFIG, is_config_secret

    raw: dict[str, Any] = {}
    for full_key in CONFIG.get():
        ns, _, key = full_key.partition(":")
        if ns != NS or key in SECRET_KEYS:
            continue
        value = cfg.get(key)
        if value is None:
            continue
        decoded: Any = value
        if key in STRUCTURED_KEYS or key in SCALAR_KEYS:
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError:
                decoded = value
        # Pulumi.yaml gives optional keys empty defaults; empty means "not set".
        if decoded in ("", [], {}) or (key == "ldapPort" and decoded == 0):
            continue
        raw[key] = decoded
    for key in SECRET_KEYS:
        if cfg.get(key) is not None and not is_config_secret(f"{NS}:{key}"):
            raise ConfigError(f"{NS}:{key}: is stored in plaintext; set it again with: "
                              f"pulumi config set --secret {key}")
    return raw


CREDENTIAL_FIELDS = ("password", "privateKey")


def runtime_secret(key: str) -> str | None:
    """A secret `jcqnap:` value of the running program, decrypted (no `get` warning, no Output)."""
    from pulumi.runtime.config import get_config

    return get_config(f"{NS}:{key}")


def _secret_problems(c: _Collector, secret: Callable[[str], str | None], directory: bool,
                     site: SiteSpec | None) -> None:
    """The secret keys the roles use, named by key and never by value.

    The SDK's `get_secret_object` puts a value that is not JSON into its error message, which would
    print a secret; other mistakes (no entry for a NAS, a password too short) used to surface as a
    resource field (`nas_password`, `password`) instead of the stack config key.
    """
    api_key = secret("jumpcloudApiKey")
    if api_key is not None and (not api_key.isascii() or any(ch.isspace() or not ch.isprintable() for ch in api_key)):
        c.add("jumpcloudApiKey", "holds spaces, control or non-ASCII characters, which no API key has; "
              "set it again with: pulumi config set --secret jumpcloudApiKey <key>")
    password = secret("bindPassword")
    if directory and password is not None and (len(password) < 8 or v.has_control_chars(password)):
        c.add("bindPassword", "must be at least 8 characters without control characters; set it again with: "
              "pulumi config set --secret bindPassword, or remove it to have one generated")
    if site is not None:
        for key, reason in _credential_problems(secret("nasCredentials"), site):
            c.add(key, reason)


def _credential_problems(text: str | None, site: SiteSpec) -> list[tuple[str, str]]:
    real = [n.name for n in site.nas if not n.sandbox and not n.retired]  # a retired NAS is not logged in to
    if text is None or not real:
        return []  # none at all: the program says which command sets them (jcqnap.stack)
    fix = "pulumi config set --secret --path 'nasCredentials.{}.password' <admin password> (or .privateKey)"
    try:
        creds = json.loads(text)
    except ValueError:
        creds = None
    if not isinstance(creds, dict):
        return [("nasCredentials", f"must be an object by NAS name; set it with: {fix.format(real[0])}")]
    errors = []
    for name in real:
        entry = creds.get(name)
        if entry is None:
            errors.append((f"nasCredentials.{name}", f"is missing; set it with: {fix.format(name)}"))
            continue
        if not isinstance(entry, dict):
            errors.append((f"nasCredentials.{name}",
                           f"must be an object {{password | privateKey}}; set it with: {fix.format(name)}"))
            continue
        for key in entry:
            if key not in CREDENTIAL_FIELDS:
                errors.append((f"nasCredentials.{name}.{key}", "is not a credential field (password, privateKey); "
                               "remove it"))
        given = [k for k in CREDENTIAL_FIELDS if entry.get(k) not in (None, "")]
        if not given or any(not isinstance(entry[k], str) for k in given):
            errors.append((f"nasCredentials.{name}",
                           f"needs a password or privateKey string; set it with: {fix.format(name)}"))
    return errors
