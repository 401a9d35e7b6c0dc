"""The emulated objects and the validation of what clients send for them.

Only the fields jcqnap and the runbook use are typed strictly; the other spec fields are accepted
with a top-level type check and stored as given, so a client sending a full spec object works.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from Crypto.Hash import MD4

from jcqnap.sandbox.jumpcloud.exceptions import BadRequest

USER_BOOL = {
    "account_locked", "activated", "allow_public_key", "disableDeviceMaxLoginAttempts", "enable_managed_uid",
    "enable_user_portal_multifactor", "externally_managed", "ldap_binding_user", "password_never_expires",
    "passwordless_sudo", "samba_service_user", "sudo", "suspended",
}
USER_STR = {
    "alternateEmail", "company", "costCenter", "department", "description", "displayname", "email",
    "employeeIdentifier", "employeeType", "external_dn", "external_password_expiration_date",
    "external_source_type", "firstname", "jobTitle", "lastname", "location", "managedAppleId", "manager",
    "middlename", "public_key", "username", "state",
}
USER_INT = {"unix_uid", "unix_guid"}
USER_LIST = {"addresses", "attributes", "phoneNumbers", "relationships", "tags", "ssh_keys"}
USER_DICT = {"mfa", "recoveryEmail"}
#: Item fields of the list attributes in the v1 ``systemuserreturn`` schema, all strings.
USER_LIST_ITEMS: dict[str, tuple[str, ...]] = {
    "addresses": ("country", "extendedAddress", "id", "locality", "poBox", "postalCode", "region",
                  "streetAddress", "type"),
    "attributes": ("name", "value"),
    "phoneNumbers": ("id", "number", "type"),
    "relationships": ("type", "value"),
    "ssh_keys": ("_id", "create_date", "name", "public_key"),
}
#: Fields of the object attributes: name -> (type, ...) as in ``systemuserreturn``.
USER_DICT_FIELDS: dict[str, dict[str, type]] = {
    "mfa": {"configured": bool, "exclusion": bool, "exclusionDays": int, "exclusionUntil": str},
    "recoveryEmail": {"address": str, "verified": bool, "verifiedAt": str},
}
TYPE_WORDS = {bool: "a boolean", int: "an integer", str: "a string"}
#: The spec caps most strings at 1024 characters (``employeeIdentifier`` at 256).
MAX_STR = 1024
USER_STATES = {"STAGED", "ACTIVATED", "SUSPENDED"}
USERNAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LINUX_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
SID_RE = re.compile(r"^S-1-5-21-\d{1,10}-\d{1,10}-\d{1,10}$")
WORKGROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
MAX_ID = 2**31 - 1
#: The attributes of ``GroupAttributes-UserGroup`` in the v2 spec; other keys are not stored.
GROUP_ATTRIBUTES = ("sambaEnabled", "posixGroups", "sudo", "ldapGroups", "radius")


def new_id() -> str:
    """A 24-hex-character id, the shape of JumpCloud's (MongoDB ObjectId) ids."""
    return secrets.token_hex(12)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ssha(password: str) -> str:
    """``{SSHA}`` hash for userPassword; slapd verifies it natively."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - SSHA is SHA-1 by definition
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def nt_hash(password: str) -> str:
    """sambaNTPassword: upper-case hex MD4 of the UTF-16LE password (OpenSSL 3 lacks MD4)."""
    return MD4.new(password.encode("utf-16-le")).hexdigest().upper()  # noqa: S303 - NT hash is MD4


@dataclass
class SystemUser:
    """A v1 system user. The password exists only as the two hashes the directory needs."""

    id: str
    data: dict[str, Any]
    password_ssha: str | None = None
    password_nt: str | None = None
    #: Bumped by every change to the user (``touch``), so the LDAP projection can keep the user's
    #: entry between syncs instead of rebuilding thousands of them after each API write.
    revision: int = 0

    def touch(self) -> None:
        self.revision += 1

    def set_password(self, password: str, samba_configured: bool) -> None:
        """Keep the password as JumpCloud does: only hashes, never the password itself.

        The NT hash (``sambaNTPassword``) is made only while Samba is configured on the directory
        (it has a Samba domain). A password set before that leaves the user without one until the
        next password change: the password is gone by then, so nothing can derive the hash later
        (see ``models.py`` for the evidence). A password set while Samba is off also drops an older
        NT hash, which would otherwise still accept the previous password.
        """
        self.password_ssha = ssha(password)
        self.password_nt = nt_hash(password) if samba_configured else None
        self.data["password_date"] = now_iso()
        self.touch()

    def render(self, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        out = {"_id": self.id, **self.data}
        if fields:
            keep = set(fields) | {"_id"}
            out = {k: v for k, v in out.items() if k in keep}
        return out


@dataclass
class UserGroup:
    """A v2 user group. ``attributes`` holds posixGroups and sambaEnabled as the spec spells them."""

    id: str
    name: str
    description: str = ""
    email: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def posix(self) -> tuple[str, int] | None:
        """(linux name, gid) of the first posixGroups item: JumpCloud uses only the first."""
        items = self.attributes.get("posixGroups") or []
        return (items[0]["name"], items[0]["id"]) if items else None

    @property
    def samba_enabled(self) -> bool:
        return bool(self.attributes.get("sambaEnabled"))

    def render(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": "user_group",
            "description": self.description,
            "email": self.email,
            "membershipMethod": "STATIC",
            **self.extra,
        }
        # The spec's example shows "attributes": null for a plain group, but the schema is not
        # nullable: leave the key out instead, so clients must cope with its absence.
        if self.attributes:
            out["attributes"] = self.attributes
        return out


@dataclass
class LdapServer:
    id: str
    name: str = "JumpCloud LDAP"
    userLockoutAction: str = "disable"
    userPasswordExpirationAction: str = "disable"

    def render(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SambaDomain:
    id: str
    name: str
    sid: str

    def render(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "sid": self.sid}


def require_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(f"{what}: request body must be a JSON object")
    return body


def validate_user_fields(body: dict[str, Any]) -> dict[str, Any]:
    """Type-check a v1 user body; returns the storable fields (password excluded)."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("_id", "id", "password", "organization", "created"):
            continue
        if key in USER_BOOL and not isinstance(value, bool):
            raise BadRequest(f"{key} must be a boolean")
        if key in USER_STR and not isinstance(value, str):
            raise BadRequest(f"{key} must be a string")
        if key in USER_INT and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID):
            raise BadRequest(f"{key} must be an integer between 1 and {MAX_ID}")
        if key in USER_LIST and not isinstance(value, list):
            raise BadRequest(f"{key} must be an array")
        if key in USER_DICT and not isinstance(value, dict):
            raise BadRequest(f"{key} must be an object")
        if key in USER_STR and len(value) > (256 if key == "employeeIdentifier" else MAX_STR):
            raise BadRequest(f"{key} is too long")
        if key in USER_LIST:
            value = _user_list(key, value)
        if key in USER_DICT:
            value = _user_dict(key, value)
        if key in USER_BOOL | USER_STR | USER_INT | USER_LIST | USER_DICT:
            out[key] = value  # unknown keys are ignored, as the service does
    if "username" in out and not USERNAME_RE.match(out["username"]):
        raise BadRequest("username is invalid: use letters, digits, '.', '_' or '-' (max 63)")
    if "email" in out and not EMAIL_RE.match(out["email"]):
        raise BadRequest("email is invalid")
    if "state" in out and out["state"] not in USER_STATES:
        raise BadRequest(f"state must be one of {', '.join(sorted(USER_STATES))}")
    if "password" in body and (not isinstance(body["password"], str) or not body["password"]):
        raise BadRequest("password must be a non-empty string")
    return out


def _user_list(key: str, value: list[Any]) -> list[Any]:
    """A list attribute as the spec's items: strings for ``tags``, else objects of string fields
    (unknown item keys dropped), so what is echoed back validates."""
    if key == "tags":
        if not all(isinstance(t, str) and len(t) <= MAX_STR for t in value):
            raise BadRequest("tags must be an array of strings")
        return list(value)
    fields = USER_LIST_ITEMS[key]
    out = []
    for item in value:
        if not isinstance(item, dict) or not all(
                isinstance(item[f], str) and len(item[f]) <= MAX_STR for f in fields if f in item):
            raise BadRequest(f"{key} must be an array of objects with string fields ({', '.join(fields)})")
        out.append({f: item[f] for f in fields if f in item})
    return out


def _user_dict(key: str, value: dict[str, Any]) -> dict[str, Any]:
    """``mfa`` / ``recoveryEmail`` with the spec's field types; unknown keys dropped."""
    fields = USER_DICT_FIELDS[key]
    out: dict[str, Any] = {}
    for name, kind in fields.items():
        if name not in value:
            continue
        item = value[name]
        if isinstance(item, bool) is not (kind is bool) or not isinstance(item, kind):
            raise BadRequest(f"{key}.{name} must be {TYPE_WORDS[kind]}")
        out[name] = item
    if "exclusionDays" in out and out["exclusionDays"] < 1:
        raise BadRequest("mfa.exclusionDays must be at least 1")
    if "exclusionUntil" in out:
        try:
            dt.datetime.fromisoformat(out["exclusionUntil"].replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest("mfa.exclusionUntil must be a date-time") from None
    return out


def validate_group_body(body: Any) -> dict[str, Any]:
    """Check a UserGroupPost/UserGroupPut body; returns normalised name/description/email/attributes/extra.

    What is stored is what the spec's ``UserGroup`` allows, so every answer echoing it validates:
    ``null`` attributes count as absent, the known attributes are type-checked (400 otherwise) and
    unknown attribute keys are dropped, as are unknown top-level keys.
    """
    body = require_object(body, "user group")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("name is required and must be a non-empty string")
    for key in ("description", "email"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise BadRequest(f"{key} must be a string")
    return {
        "name": name,
        "description": body.get("description") or "",
        "email": body.get("email") or "",
        "attributes": _group_attributes(body.get("attributes")),
        "extra": _group_extra(body),
    }


def _group_attributes(raw: Any) -> dict[str, Any]:
    """``GroupAttributes-UserGroup``: sambaEnabled, posixGroups, sudo, ldapGroups, radius."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest("attributes must be an object")
    attributes = {k: v for k, v in raw.items() if v is not None and k in GROUP_ATTRIBUTES}
    if "sambaEnabled" in attributes and not isinstance(attributes["sambaEnabled"], bool):
        raise BadRequest("attributes.sambaEnabled must be a boolean")
    posix = attributes.get("posixGroups")
    if posix is not None:
        if not isinstance(posix, list):
            raise BadRequest("attributes.posixGroups must be an array")
        for item in posix:
            if not isinstance(item, dict) or set(item) - {"id", "name"}:
                raise BadRequest("attributes.posixGroups items must be objects with id and name")
            gid, lname = item.get("id"), item.get("name")
            if isinstance(gid, bool) or not isinstance(gid, int) or not 1 <= gid <= MAX_ID:
                raise BadRequest("attributes.posixGroups[].id must be an integer GID")
            if not isinstance(lname, str) or not LINUX_NAME_RE.match(lname):
                raise BadRequest("attributes.posixGroups[].name must be a valid Linux group name")
        if not posix:
            attributes.pop("posixGroups")
    sudo = attributes.get("sudo")
    if sudo is not None and not (isinstance(sudo, dict) and all(isinstance(sudo.get(k), bool)
                                                                for k in ("enabled", "withoutPassword"))):
        raise BadRequest("attributes.sudo must be an object with booleans enabled and withoutPassword")
    ldap_groups = attributes.get("ldapGroups")
    if ldap_groups is not None and not (isinstance(ldap_groups, list) and all(
            isinstance(g, dict) and isinstance(g.get("name", ""), str) for g in ldap_groups)):
        raise BadRequest("attributes.ldapGroups must be an array of objects with a string name")
    radius = attributes.get("radius")
    if radius is not None:
        reply = radius.get("reply", []) if isinstance(radius, dict) else None
        if not isinstance(reply, list) or not all(
                isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("value"), str)
                for r in reply):
            raise BadRequest("attributes.radius must be an object whose reply is an array of {name, value} strings")
    return attributes


def _group_extra(body: dict[str, Any]) -> dict[str, Any]:
    """The other UserGroupPost fields the emulator keeps, type-checked; nulls count as absent."""
    extra: dict[str, Any] = {}
    for key in ("memberSuggestionsNotify", "membershipAutomated"):
        if body.get(key) is not None:
            if not isinstance(body[key], bool):
                raise BadRequest(f"{key} must be a boolean")
            extra[key] = body[key]
    exemptions = body.get("memberQueryExemptions")
    if exemptions is not None:
        if not isinstance(exemptions, list) or not all(
                isinstance(o, dict) and isinstance(o.get("id"), str) and isinstance(o.get("type"), str)
                and isinstance(o.get("attributes", {}), dict) for o in exemptions):
            raise BadRequest("memberQueryExemptions must be an array of graph objects with string id and type")
        extra["memberQueryExemptions"] = [
            {k: o[k] for k in ("id", "type", "attributes") if k in o} for o in exemptions
        ]
    return extra


def validate_samba_domain(body: Any) -> tuple[str, str]:
    """(workgroup, sid) from a samba-domain body; both are required by the spec."""
    body = require_object(body, "samba domain")
    name, sid = body.get("name"), body.get("sid")
    if not isinstance(name, str) or not WORKGROUP_RE.match(name):
        raise BadRequest("name is required: a NetBIOS workgroup name of 1-15 letters, digits, '_', '.' or '-'")
    if not isinstance(sid, str) or not SID_RE.match(sid):
        raise BadRequest("sid is required: a domain SID like S-1-5-21-<n>-<n>-<n>")
    return name, sid


def graph_op(body: Any, allowed_types: set[str]) -> tuple[str, str, str]:
    """(op, type, id) from a GraphOperation body."""
    body = require_object(body, "graph operation")
    op, typ, target = body.get("op"), body.get("type"), body.get("id")
    if op not in ("add", "remove", "update"):
        raise BadRequest("op must be one of add, remove, update")
    if not isinstance(typ, str) or not typ:
        raise BadRequest("type is required")
    if typ not in allowed_types:
        raise BadRequest(f"type {typ!r} is not supported here (supported: {', '.join(sorted(allowed_types))})")
    if not isinstance(target, str) or not target:
        raise BadRequest("id is required")
    if op == "update":
        raise BadRequest("op 'update' is not supported for this association")
    return op, typ, target
