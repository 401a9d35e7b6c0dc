"""Projects the emulator's backend into slapd, laid out as JumpCloud LDAP (domain-facts §2).

Two halves:
- ``desired_entries(backend)`` is pure: the entries JumpCloud would publish for this state.
  It is where the visibility rules live, so they are testable without a daemon;
- ``LdapProjection`` applies the difference between that and what slapd holds, over ldapi:// as
  the local admin (SASL EXTERNAL, no password). It is registered as a backend listener, so the
  directory is up to date when the HTTP call that changed the backend returns.

Layout under ``o=<orgId>,dc=jumpcloud,dc=com``:
- ``ou=Users``: users (``uid=<username>``: inetOrgPerson + posixAccount, ``userPassword`` as
  {SSHA}) and groups (``cn=<group name>``: groupOfNames, plus ``cn=<linux name>``: posixGroup);
- ``sambaDomainName=<WORKGROUP>``: one sambaDomain entry per Samba domain of the LDAP server.

Visibility: a user appears when it is a Bind DN user or a member of a group bound to the LDAP
server; a group appears when it is bound and has members. Members of a bound, Samba-enabled group
(when the server has a Samba domain) also get ``sambaSamAccount`` with ``sambaSID`` (algorithmic
RID 2*uid+1000 under the first domain) and ``sambaNTPassword``. Suspended or locked users lose
their ``userPassword`` so they can no longer bind. If a group's Linux name equals its own name the
posixGroup takes the DN (both classes are structural and cannot share one entry).

The hidden ACL groups (``ou=sandbox-acl``, see ``slapd.py``) are kept in step here too.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

import ldap3
from ldap3.utils.dn import escape_rdn

from jcqnap.sandbox.jumpcloud.models import JumpCloudBackend
from jcqnap.sandbox.jumpcloud.records import SystemUser
from jcqnap.sandbox.slapd import ACL_OU, BIND_DN_GROUP, SAMBA_SERVICE_GROUP, SUFFIX

log = logging.getLogger(__name__)
Entry = dict[str, list[str]]
PLACEHOLDER_MEMBER = f"cn=nobody,{ACL_OU}"
ALGORITHMIC_RID_BASE = 1000


def org_dn(org_id: str) -> str:
    return f"o={org_id},{SUFFIX}"


def users_dn(org_id: str) -> str:
    return f"ou=Users,{org_dn(org_id)}"


@functools.lru_cache(maxsize=65536)
def user_dn(org_id: str, username: str) -> str:
    return f"uid={escape_rdn(username)},{users_dn(org_id)}"


def _pwd_last_set(user: SystemUser) -> str:
    stamp = user.data.get("password_date") or user.data.get("created")
    try:
        return str(int(dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()))
    except ValueError:
        return "1"


def _user_entry(user: SystemUser, domain_sid: str | None) -> Entry:
    d = user.data
    name = d["username"]
    classes = ["top", "person", "organizationalPerson", "inetOrgPerson", "posixAccount"]
    full = " ".join(p for p in (d.get("firstname"), d.get("lastname")) if p)
    entry: Entry = {
        "uid": [name],
        "cn": [d.get("displayname") or full or name],
        "sn": [d.get("lastname") or name],
        "mail": [d["email"]],
        "uidNumber": [str(d["unix_uid"])],
        "gidNumber": [str(d["unix_guid"])],
        "homeDirectory": [f"/home/{name}"],
        "loginShell": ["/bin/bash"],
    }
    if d.get("firstname"):
        entry["givenName"] = [d["firstname"]]
    disabled = bool(d.get("suspended") or d.get("account_locked") or d.get("state") == "SUSPENDED")
    if user.password_ssha and not disabled:
        entry["userPassword"] = [user.password_ssha]
    if domain_sid is not None:
        classes.append("sambaSamAccount")
        flags = "U" + ("X" if d.get("password_never_expires") else "") + ("D" if disabled else "")
        entry["sambaSID"] = [f"{domain_sid}-{2 * int(d['unix_uid']) + ALGORITHMIC_RID_BASE}"]
        entry["sambaAcctFlags"] = [f"[{flags:<11}]"]
        entry["sambaPwdLastSet"] = [_pwd_last_set(user)]
        if user.password_nt:
            entry["sambaNTPassword"] = [user.password_nt]
    entry["objectClass"] = classes
    return entry


#: user id -> (the user's revision, the domain SID it was built with, its entry)
UserEntryCache = dict[str, tuple[int, str | None, Entry]]


def _cached_user_entry(cache: UserEntryCache, user: SystemUser, domain_sid: str | None) -> Entry:
    """``_user_entry``, rebuilt only when the user changed (``SystemUser.revision``) or the SID did."""
    hit = cache.get(user.id)
    if hit is not None and hit[0] == user.revision and hit[1] == domain_sid:
        return hit[2]
    entry = _user_entry(user, domain_sid)
    cache[user.id] = (user.revision, domain_sid, entry)
    return entry


def desired_entries(backend: JumpCloudBackend, user_cache: UserEntryCache | None = None) -> dict[str, Entry]:
    """Every entry slapd should hold under the suffix for the backend's current state.

    ``user_cache`` lets a caller that syncs after every write keep user entries between calls; the
    result is the same with or without it. Entries in the result must not be modified.
    """
    cache: UserEntryCache = {} if user_cache is None else user_cache
    org = backend.org_id
    server = backend.ldap_server_id
    domains = backend.samba_domains.get(server, [])
    domain_sid = domains[0].sid if domains else None
    out: dict[str, Entry] = {
        SUFFIX: {"objectClass": ["top", "dcObject", "organization"], "dc": ["jumpcloud"], "o": ["jumpcloud"]},
        ACL_OU: {"objectClass": ["top", "organizationalUnit"], "ou": ["sandbox-acl"]},
        org_dn(org): {"objectClass": ["top", "organization"], "o": [org]},
        users_dn(org): {"objectClass": ["top", "organizationalUnit"], "ou": ["Users"]},
    }
    for domain in domains:
        out[f"sambaDomainName={escape_rdn(domain.name)},{org_dn(org)}"] = {
            "objectClass": ["top", "sambaDomain"],
            "sambaDomainName": [domain.name],
            "sambaSID": [domain.sid],
            "sambaAlgorithmicRidBase": [str(ALGORITHMIC_RID_BASE)],
        }

    bound_groups = [g for g in backend.groups.values() if server in backend.bindings.get(g.id, [])]
    visible_ids: set[str] = {u.id for u in backend.users.values() if u.data.get("ldap_binding_user")}
    samba_ids: set[str] = set()
    for group in bound_groups:
        members = [m for m in backend.members.get(group.id, []) if m in backend.users]
        visible_ids.update(members)
        if group.samba_enabled and group.posix and domain_sid:
            samba_ids.update(members)

    for uid in visible_ids:
        user = backend.users[uid]
        out[user_dn(org, user.data["username"])] = _cached_user_entry(
            cache, user, domain_sid if uid in samba_ids else None)
    for gone in cache.keys() - backend.users.keys():
        del cache[gone]

    for group in bound_groups:
        people = [backend.users[m] for m in backend.members.get(group.id, []) if m in backend.users]
        if not people:
            continue
        posix = group.posix
        names_dn = f"cn={escape_rdn(group.name)},{users_dn(org)}"
        if posix is None or posix[0].lower() != group.name.lower():
            out[names_dn] = {
                "objectClass": ["top", "groupOfNames"],
                "cn": [group.name],
                "member": [user_dn(org, m.data["username"]) for m in people],
            }
        if posix is not None:
            entry: Entry = {
                "objectClass": ["top", "posixGroup"],
                "cn": [posix[0]],
                "gidNumber": [str(posix[1])],
                "memberUid": [m.data["username"] for m in people],
            }
            if group.samba_enabled and domain_sid:
                entry["objectClass"].append("sambaGroupMapping")
                entry["sambaSID"] = [f"{domain_sid}-{2 * posix[1] + ALGORITHMIC_RID_BASE + 1}"]
                entry["sambaGroupType"] = ["2"]
                entry["displayName"] = [posix[0]]
            out[f"cn={escape_rdn(posix[0])},{users_dn(org)}"] = entry

    def acl_group(dn: str, flag: str) -> Entry:
        dns = sorted(
            user_dn(org, u.data["username"])
            for u in backend.users.values()
            if u.id in visible_ids and u.data.get(flag)
        )
        cn = dn.split(",")[0][3:]
        return {"objectClass": ["top", "groupOfNames"], "cn": [cn], "member": dns or [PLACEHOLDER_MEMBER]}

    out[BIND_DN_GROUP] = acl_group(BIND_DN_GROUP, "ldap_binding_user")
    out[SAMBA_SERVICE_GROUP] = acl_group(SAMBA_SERVICE_GROUP, "samba_service_user")
    return out


def _depth(dn: str) -> int:
    return dn.count(",")  # escaped commas are rare here and only affect ordering among siblings


def _norm(entry: Entry) -> dict[str, tuple[str, frozenset[str]]]:
    out = {}
    for name, values in entry.items():
        vals = frozenset(v.lower() for v in values) if name.lower() == "objectclass" else frozenset(values)
        out[name.lower()] = (name, vals)
    return out


class LdapProjection:
    """Keeps slapd in step with a backend. Call ``attach`` once; it syncs and then listens."""

    def __init__(self, ldapi_uri: str, timeout: float = 10.0) -> None:
        self._uri = ldapi_uri
        self._timeout = timeout
        self._conn: ldap3.Connection | None = None
        self._current: dict[str, tuple[str, Entry]] = {}
        self._backend: JumpCloudBackend | None = None
        self._user_cache: UserEntryCache = {}

    def _connect(self) -> ldap3.Connection:
        if self._conn is None or self._conn.closed:
            server = ldap3.Server(self._uri, get_info=ldap3.NONE, connect_timeout=int(self._timeout))
            self._conn = ldap3.Connection(
                server,
                authentication=ldap3.SASL,
                sasl_mechanism=ldap3.EXTERNAL,
                sasl_credentials="",
                auto_bind=True,
                receive_timeout=int(self._timeout),
                raise_exceptions=True,
            )
        return self._conn

    def attach(self, backend: JumpCloudBackend) -> None:
        self._backend = backend
        with backend.lock:
            self._load()
            self.sync()
            backend.add_listener(self.sync)

    def _load(self) -> None:
        """Read what slapd holds under the suffix (after a restart, or to recover from errors)."""
        conn = self._connect()
        self._current = {}
        try:
            entries = conn.extend.standard.paged_search(
                SUFFIX, "(objectClass=*)", search_scope=ldap3.SUBTREE, attributes=["*"], paged_size=500, generator=False
            )
        except ldap3.core.exceptions.LDAPNoSuchObjectResult:
            return
        for item in entries:
            if item.get("type") != "searchResEntry":
                continue
            raw = item["raw_attributes"]
            attrs = {k: [v.decode() if isinstance(v, bytes) else str(v) for v in vals] for k, vals in raw.items()}
            self._current[item["dn"].lower()] = (item["dn"], attrs)

    def sync(self) -> None:
        """Apply the difference between the backend's desired entries and slapd's content."""
        assert self._backend is not None
        desired = {dn.lower(): (dn, entry) for dn, entry in desired_entries(self._backend, self._user_cache).items()}
        try:
            self._apply(desired)
        except ldap3.core.exceptions.LDAPException:
            log.exception("LDAP projection failed; reloading the directory and retrying once")
            self._conn = None
            self._load()
            self._apply(desired)

    def _apply(self, desired: dict[str, tuple[str, Entry]]) -> None:
        conn = self._connect()
        stale = [k for k, (dn, _) in self._current.items() if k not in desired or desired[k][0] != dn]
        for key in sorted(stale, key=lambda k: -_depth(k)):
            conn.delete(self._current[key][0])
            del self._current[key]
        # After the first sync nearly every entry is the very one applied last time: skip those
        # before sorting parents first, so one write costs little in an org of thousands.
        changed = [key for key, (_, entry) in desired.items()
                   if key not in self._current or self._current[key][1] != entry]
        for key in sorted(changed, key=_depth):
            dn, entry = desired[key]
            if key not in self._current:
                attrs = {k: v for k, v in entry.items() if k != "objectClass"}
                conn.add(dn, entry["objectClass"], attrs)
            else:
                changes = self._changes(self._current[key][1], entry)
                if changes:
                    conn.modify(dn, changes)
            self._current[key] = (dn, entry)

    @staticmethod
    def _changes(old: Entry, new: Entry) -> dict[str, Any]:
        before, after = _norm(old), _norm(new)
        changes: dict[str, Any] = {}
        for key, (name, vals) in after.items():
            if key not in before or before[key][1] != vals:
                changes[name] = [(ldap3.MODIFY_REPLACE, new[name])]
        for key, (name, _) in before.items():
            if key not in after:
                changes[name] = [(ldap3.MODIFY_REPLACE, [])]
        return changes

    def close(self) -> None:
        if self._conn is not None:
            self._conn.unbind()
            self._conn = None
