"""Validators shared by stack config (`config.py`) and the providers' `check`.

Each returns None when the value is fine, or a reason that says what is wrong and how to fix it.
The caller prefixes the field name, so every message reads `field: reason`.
"""

from __future__ import annotations

import base64
import re
import unicodedata

#: Characters NetBIOS names may not contain (Microsoft's naming conventions), plus whitespace.
NETBIOS_FORBIDDEN = set('\\/:*?"<>|.,;=+[]') | {" ", "\t"}
NETBIOS_MAX = 15
WORKGROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
LINUX_GROUP_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
GID_MIN, GID_MAX = 1000, 60000
SID_RE = re.compile(r"^S-1-5-21-(\d{1,10})-(\d{1,10})-(\d{1,10})$")
HOST_KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
}
MAX_VALUE_LEN = 1024
#: One part of a Pulumi stack name (`tokens.ParseStackName`, `ValidateProjectName`, v3.274.1).
STACK_PART_RE = re.compile(r"[A-Za-z0-9_.-]{1,100}")
#: The organization of every stack on a self-managed (file://, S3) backend (`backend/diy/store.go`).
DIY_ORGANIZATION = "organization"
ORG_ID_RE = re.compile(r"[0-9a-fA-F]{24}")
#: What BindUser's check accepts as an e-mail address (JumpCloud requires one per user).
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
#: A user or group name QTS resolves with getent (as LdapConfig's `verify_group` takes it).
ACCOUNT_RE = re.compile(r"[^\s\x00-\x1f\x7f-][^\s\x00-\x1f\x7f]{0,255}")


def has_control_chars(value: str) -> bool:
    """Control characters (newline, NUL, bidi overrides...) never belong in a setting."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value)


def text(value: object, *, required: bool = True, max_len: int = MAX_VALUE_LEN) -> str | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return "is required; set a non-empty value" if required else None
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if len(value) > max_len:
        return f"is {len(value)} characters long; the limit is {max_len}"
    if has_control_chars(value):
        return "contains control or invisible characters (newline, NUL, bidi marks); remove them"
    if value != value.strip():
        return "has leading or trailing whitespace; remove it"
    return None


def workgroup(value: object) -> str | None:
    problem = text(value)
    if problem:
        return problem
    assert isinstance(value, str)
    if len(value) > NETBIOS_MAX:
        return f"must be at most {NETBIOS_MAX} characters (NetBIOS), got {len(value)}: {value!r}"
    bad = sorted({ch for ch in value if ch in NETBIOS_FORBIDDEN or not ch.isascii()})
    if bad:
        return f"contains characters NetBIOS forbids {''.join(bad)!r}; use letters, digits, '-' and '_'"
    # NetBIOS tolerates more ($ & ' ( ) ` ...), but JumpCloud's Samba domain name does not: a value
    # passing here must not fail later at the API, half-way through an `up`.
    if not WORKGROUP_RE.match(value):
        return (f"must start with a letter or digit and hold only letters, digits, '-' and '_' (what both "
                f"JumpCloud and NetBIOS accept), got {value!r}")
    return None


def username(value: object) -> str | None:
    problem = text(value, max_len=32)
    if problem:
        return problem
    assert isinstance(value, str)
    if not USERNAME_RE.match(value):
        return f"must be lower case letters, digits, '.', '_' or '-' and start with a letter, got {value!r}"
    return None


def linux_group(value: object) -> str | None:
    problem = text(value, max_len=32)
    if problem:
        return problem
    assert isinstance(value, str)
    if not LINUX_GROUP_RE.match(value):
        return f"must be a Linux group name (lower case letters, digits, '_', '-'), got {value!r}"
    return None


def gid(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value), 10)
        except ValueError:
            return f"must be an integer {GID_MIN}-{GID_MAX}, got {value!r}"
    if not GID_MIN <= value <= GID_MAX:
        return f"must be an integer {GID_MIN}-{GID_MAX}, got {value}"
    return None


def dn(value: object) -> str | None:
    problem = text(value)
    if problem:
        return problem
    assert isinstance(value, str)
    # ldap3 is imported here, not at the top: the program and the JumpCloud providers import this
    # module and never check a DN, so they need not pay for ldap3 (docs/performance.md).
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        parts = parse_dn(value, escape=False, strip=False)
    except (LDAPInvalidDnError, ValueError, IndexError) as exc:
        return f"is not a valid LDAP DN ({exc}); use the form uid=name,ou=Users,o=<orgId>,dc=jumpcloud,dc=com"
    if not parts:
        return "is not a valid LDAP DN; use the form ou=Users,o=<orgId>,dc=jumpcloud,dc=com"
    return None


def domain_sid(value: object) -> str | None:
    problem = text(value)
    if problem:
        return problem
    assert isinstance(value, str)
    m = SID_RE.match(value)
    if not m or any(int(x) > 0xFFFFFFFF for x in m.groups()):
        return f"must be a domain SID S-1-5-21-<a>-<b>-<c> with 32-bit numbers, got {value!r}"
    return None


def host_key(value: object) -> str | None:
    problem = text(value, max_len=16384)
    if problem:
        return problem
    assert isinstance(value, str)
    parts = value.split()
    if len(parts) < 2 or parts[0] not in HOST_KEY_TYPES:
        return (
            "must be an OpenSSH public key line like 'ssh-ed25519 AAAA...'; "
            "get it with: ssh-keyscan -t ed25519 <nas-host>"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        return "has a key blob that is not base64; copy the line from ssh-keyscan again"
    if not blob[4:].startswith(parts[0].encode()):
        return f"key blob does not match its type {parts[0]!r}; copy the line from ssh-keyscan again"
    return None


def hostname(value: object) -> str | None:
    problem = text(value, max_len=253)
    if problem:
        return problem
    assert isinstance(value, str)
    if not re.fullmatch(r"[A-Za-z0-9.:-]+", value) or value.startswith("-"):
        return f"must be a host name or IP address, got {value!r}"
    return None


def port(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"must be a TCP port number 1-65535, got {value!r}"
    return None


def stack_reference(value: object, organization: str | None = None) -> str | None:
    """A stack reference `[<organization>/[<project>/]]<stack>` the engine will accept.

    `organization` is the current stack's (`pulumi.get_organization()`): on a self-managed backend
    it is always `organization`, and the engine refuses any other in a reference.
    """
    problem = text(value, max_len=302)
    if problem:
        return problem
    assert isinstance(value, str)
    parts = value.split("/")
    example = f"{organization or DIY_ORGANIZATION}/jcqnap/prod-directory"
    if len(parts) > 3 or not all(STACK_PART_RE.fullmatch(p) for p in parts):
        return (f"must be a stack name [<organization>/[<project>/]]<stack> whose parts hold only ASCII letters, "
                f"digits, '-', '_' and '.', got {value!r}; e.g. {example}")
    if organization == DIY_ORGANIZATION and len(parts) > 1 and parts[0] != DIY_ORGANIZATION:
        return (f"names organization {parts[0]!r}, but on a self-managed backend (file://, S3) every stack is in "
                f"organization {DIY_ORGANIZATION!r}; use {DIY_ORGANIZATION}/<project>/<stack>, e.g. {example}")
    return None


def org_id(value: object) -> str | None:
    problem = text(value, max_len=64)
    if problem:
        return problem
    assert isinstance(value, str)
    if not ORG_ID_RE.fullmatch(value):
        return (f"must be a JumpCloud organization id (24 hex characters, Settings > Organization Profile in "
                f"the console), got {value!r}")
    return None


def api_url(value: object) -> str | None:
    """The JumpCloud API base URL: `eu`, or an http(s) URL with a host and nothing to escape."""
    problem = text(value, max_len=2048)
    if problem:
        return problem
    assert isinstance(value, str)
    from urllib.parse import urlsplit

    fix = "use https://console.jumpcloud.com/api, or eu for https://console.eu.jumpcloud.com/api"
    if value.lower() == "eu":
        return None
    if not value.isascii() or any(ch.isspace() for ch in value):
        return f"must be a plain ASCII URL without spaces, got {value!r}; {fix}"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return f"must be an http(s) URL such as https://console.jumpcloud.com/api, got {value!r}; {fix}"
    return None


def timeout_seconds(value: object, max_seconds: float = 600) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= max_seconds:
        return f"must be a number of seconds above 0 and at most {max_seconds:g}, got {value!r}"
    return None


def account_name(value: object) -> str | None:
    problem = text(value, max_len=256)
    if problem:
        return problem
    assert isinstance(value, str)
    if not ACCOUNT_RE.fullmatch(value):
        return f"must be one user or group name without spaces, not starting with '-', got {value!r}"
    return None


def email(value: object) -> str | None:
    problem = text(value, max_len=254)
    if problem:
        return problem
    assert isinstance(value, str)
    if not EMAIL_RE.fullmatch(value):
        return f"must be an e-mail address like samba-bind@example.com (JumpCloud requires one per user), got {value!r}"
    return None
