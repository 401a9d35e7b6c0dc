"""The JumpCloud backend: users, groups, bindings, memberships, Samba domains and their rules.

No HTTP here (that is ``responses.py``) and no LDAP (that is ``ldap_projection.py``, which
subscribes with ``add_listener`` and is called after every change).

Rules and the decisions behind them (evidence levels from domain-facts.md):
- ``POST /systemusers``: ``username`` and ``email`` required; a duplicate of either (case-
  insensitive) is 400 "User already exists" [spec]. ``unix_uid``/``unix_guid`` are assigned from
  5000 up when omitted [seen]. PUT merges [seen].
- Deleting a user whose ``samba_service_user`` is still true is 409 [seen].
- A duplicate user group name is **409 "Already Exists"** [seen: the text; the status is
  inferred, JumpCloud's v2 graph API uses 409 for conflicts]. Adding an existing member or
  association is also 409 "Already Exists" (clients treat it as success); removing a missing one
  is 404 (clients treat 404 on remove as success) [inferred].
- ``sambaEnabled: true`` is refused (400) unless the group is bound to an LDAP server that has a
  Samba domain [seen, UI] and has a Linux group (posixGroups) [inferred: Samba needs a GID]. It is
  checked when the flag is switched on, so a GET-merge-PUT of an enabled group keeps working.
- Two groups may not claim the same Linux group name or GID (400) [inferred].
- **The Samba hash (``sambaNTPassword``) exists only for a password set while Samba is configured on
  the directory** (the LDAP server has a Samba domain: the console's "Configure Samba
  Authentication" sets its workgroup and SID). Users whose password was set before that have no
  hash, so they cannot log in over SMB until they change it or an admin resets it. Evidence:
  [kb] JumpCloud's QNAP and Synology articles (jumpcloud.desk.com/customer/en/portal/articles/2971873,
  jumpcloud.com/support/configure-synology-nas-dsm-7-x-to-use-cloud-ldap) have Samba configured on
  the directory and "Enable Samba Authentication" on the group let members use "their JumpCloud
  username and password"; [kb] JumpCloud's Samba page (jumpcloud.com/daas-product/samba-authentication)
  says SMB authentication rests on the MD4 NT password hash; [seen] a directory that keeps only
  hashes can make the NT hash only at the next password change (explained for FusionDirectory's Samba plugin in
  github.com/fusiondirectory/fusiondirectory-plugins/issues/12). The rule itself is [inferred]:
  no vendor sentence stating it was found; ``verify`` names the members it affects.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from jcqnap.sandbox.jumpcloud import query as q
from jcqnap.sandbox.jumpcloud.exceptions import AlreadyExists, BadRequest, Conflict, NotFound, Unauthorized
from jcqnap.sandbox.jumpcloud.records import (
    LdapServer,
    SambaDomain,
    SystemUser,
    UserGroup,
    graph_op,
    new_id,
    now_iso,
    require_object,
    validate_group_body,
    validate_samba_domain,
    validate_user_fields,
)

FIRST_UNIX_ID = 5000
USER_DEFAULTS: dict[str, Any] = {
    "account_locked": False, "activated": True, "allow_public_key": True, "enable_managed_uid": False,
    "enable_user_portal_multifactor": False, "externally_managed": False, "firstname": "", "lastname": "",
    "middlename": "", "displayname": "", "ldap_binding_user": False, "password_expired": False,
    "password_never_expires": False, "passwordless_sudo": False, "samba_service_user": False, "sudo": False,
    "suspended": False, "state": "ACTIVATED", "totp_enabled": False, "badLoginAttempts": 0,
    "attributes": [], "addresses": [], "phoneNumbers": [], "ssh_keys": [], "tags": [],
}


def hash_api_key(api_key: str) -> str:
    """How the emulator keeps the API key: a SHA-256 hex digest, never the key itself."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class Page:
    """A page of rendered records plus the total before paging (``totalCount``/``x-total-count``)."""

    items: list[dict[str, Any]]
    total: int


#: GraphOperation (UserGroup) association types in the v2 spec.
GROUP_ASSOCIATION_TYPES = {"active_directory", "application", "g_suite", "ldap_server", "office_365",
                           "radius_server", "system", "system_group"}


class JumpCloudBackend:
    """One emulated organisation with its single LDAP server. Thread-safe: one lock for all."""

    def __init__(self, org_id: str, ldap_server_id: str, api_key_hash: str, org_name: str = "jcqnap sandbox") -> None:
        self.org_id = org_id
        self.org_name = org_name
        self._api_key_hash = api_key_hash
        self._ldap_server = LdapServer(ldap_server_id)
        self.lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self.reset()

    # -- plumbing ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every user, group and Samba domain; keep the org and its LDAP server."""
        with self._change():
            self.users: dict[str, SystemUser] = {}
            self.groups: dict[str, UserGroup] = {}
            self.members: dict[str, list[str]] = {}
            self.bindings: dict[str, list[str]] = {}
            # Associations to targets the emulator does not model (system, application...): kept as
            # (type, id) so a group can carry them, as hand-made orgs do; nothing else reads them.
            self.links: dict[str, list[tuple[str, str]]] = {}
            self.samba_domains: dict[str, list[SambaDomain]] = {self._ldap_server.id: []}

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (under the backend lock) after every change, e.g. the LDAP projection."""
        self._listeners.append(listener)

    @property
    def samba_configured(self) -> bool:
        """True when the directory has a Samba domain: only then does a new password get an NT hash."""
        return any(self.samba_domains.values())

    @contextmanager
    def _change(self) -> Iterator[None]:
        with self.lock:
            yield
            for listener in self._listeners:
                listener()

    def key_matches(self, api_key: str) -> bool:
        return hmac.compare_digest(hash_api_key(api_key), self._api_key_hash)

    def authenticate(self, api_key: str | None, org_header: str | None) -> None:
        """401 without a key or with a wrong one; 401 when ``x-org-id`` names another org."""
        if not api_key:
            raise Unauthorized("Unauthorized: missing x-api-key header")
        if not hmac.compare_digest(hash_api_key(api_key), self._api_key_hash):
            raise Unauthorized("Unauthorized: invalid API key")
        if org_header and org_header != self.org_id:
            raise Unauthorized("Unauthorized: the API key has no access to this organization")

    # -- organizations ----------------------------------------------------------------------------
    def list_organizations(self) -> dict[str, Any]:
        return {"totalCount": 1, "results": [{"_id": self.org_id, "displayName": self.org_name}]}

    # -- v1 systemusers ---------------------------------------------------------------------------
    def _user(self, user_id: str) -> SystemUser:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    def _check_unique(self, data: dict[str, Any], exclude: str | None) -> None:
        for other in self.users.values():
            if other.id == exclude:
                continue
            for key in ("username", "email"):
                if key in data and str(other.data.get(key, "")).lower() == data[key].lower():
                    raise BadRequest("User already exists")

    def _next_unix_id(self) -> int:
        used = [FIRST_UNIX_ID - 1] + [
            u.data[k] for u in self.users.values() for k in ("unix_uid", "unix_guid") if k in u.data
        ]
        return max(used) + 1

    def list_users(self, params: q.ListQuery) -> Page:
        with self.lock:
            records = params.select(u.render() for u in self.users.values())
            page = params.page(records)
            by_id = {r["_id"]: r for r in page}
            return Page([self.users[i].render(params.fields) for i in by_id], len(records))

    def create_user(self, body: Any) -> dict[str, Any]:
        body = require_object(body, "system user")
        data = validate_user_fields(body)
        for key in ("username", "email"):
            if not data.get(key):
                raise BadRequest(f"{key} is required")
        with self._change():
            self._check_unique(data, None)
            user = SystemUser(new_id(), {**USER_DEFAULTS, **data, "organization": self.org_id, "created": now_iso()})
            next_id = self._next_unix_id()
            user.data.setdefault("unix_uid", next_id)
            user.data.setdefault("unix_guid", user.data["unix_uid"] if "unix_uid" in data else next_id)
            if isinstance(body.get("password"), str):
                user.set_password(body["password"], self.samba_configured)
            self.users[user.id] = user
            return user.render()

    def get_user(self, user_id: str, fields: tuple[str, ...] | None = None) -> dict[str, Any]:
        with self.lock:
            return self._user(user_id).render(fields)

    def update_user(self, user_id: str, body: Any) -> dict[str, Any]:
        body = require_object(body, "system user")
        data = validate_user_fields(body)
        with self._change():
            user = self._user(user_id)
            self._check_unique(data, user.id)
            user.data.update(data)
            user.touch()
            if isinstance(body.get("password"), str):
                user.set_password(body["password"], self.samba_configured)
            return user.render()

    def delete_user(self, user_id: str) -> dict[str, Any]:
        with self._change():
            user = self._user(user_id)
            if user.data.get("samba_service_user"):
                raise Conflict("Cannot delete the Samba service account: clear samba_service_user first")
            del self.users[user_id]
            for members in self.members.values():
                if user_id in members:
                    members.remove(user_id)
            return user.render()

    # -- v2 usergroups ----------------------------------------------------------------------------
    def _group(self, group_id: str) -> UserGroup:
        group = self.groups.get(group_id)
        if group is None:
            raise NotFound(f"user group {group_id} not found")
        return group

    def _check_group(self, fields: dict[str, Any], current: UserGroup | None) -> None:
        posix_items = fields["attributes"].get("posixGroups") or []
        for other in self.groups.values():
            if current is not None and other.id == current.id:
                continue
            if other.name.lower() == fields["name"].lower():
                raise AlreadyExists()
            if posix_items and other.posix:
                lname, gid = posix_items[0]["name"], posix_items[0]["id"]
                if other.posix[0] == lname or other.posix[1] == gid:
                    raise BadRequest(f"Linux group {lname!r} / GID {gid} is already used by group {other.name!r}")
        was_enabled = current is not None and current.samba_enabled
        if fields["attributes"].get("sambaEnabled") and not was_enabled:
            if not posix_items:
                raise BadRequest("Samba authentication needs a Linux group: set attributes.posixGroups first")
            bound = self.bindings.get(current.id, []) if current else []
            if not any(self.samba_domains.get(server) for server in bound):
                raise BadRequest(
                    "Samba authentication cannot be enabled: bind the group to an LDAP directory "
                    "that has a Samba domain first"
                )

    def list_groups(self, params: q.ListQuery) -> Page:
        with self.lock:
            records = params.select(g.render() for g in self.groups.values())
            page = params.page(records)
            if params.fields:
                keep = set(params.fields) | {"id"}
                page = [{k: v for k, v in r.items() if k in keep} for r in page]
            return Page([dict(r) for r in page], len(records))

    def create_group(self, body: Any) -> dict[str, Any]:
        fields = validate_group_body(body)
        with self._change():
            self._check_group(fields, None)
            group = UserGroup(new_id(), **fields)
            self.groups[group.id] = group
            self.members[group.id] = []
            self.bindings[group.id] = []
            self.links[group.id] = []
            return group.render()

    def get_group(self, group_id: str) -> dict[str, Any]:
        with self.lock:
            return self._group(group_id).render()

    def replace_group(self, group_id: str, body: Any) -> dict[str, Any]:
        """PUT: the body replaces the whole group (omitted attributes are dropped)."""
        fields = validate_group_body(body)
        with self._change():
            group = self._group(group_id)
            self._check_group(fields, group)
            for key, value in fields.items():
                setattr(group, key, value)
            return group.render()

    def delete_group(self, group_id: str) -> dict[str, Any]:
        with self._change():
            group = self._group(group_id)
            del self.groups[group_id]
            self.members.pop(group_id, None)
            self.bindings.pop(group_id, None)
            self.links.pop(group_id, None)
            return group.render()

    def list_members(self, group_id: str, params: q.ListQuery) -> Page:
        with self.lock:
            ids = self.members[self._group(group_id).id]
            conns = [{"to": {"id": i, "type": "user"}, "attributes": {}} for i in ids]
            return Page(params.page(conns), len(conns))

    def change_member(self, group_id: str, body: Any) -> None:
        op, _, user_id = graph_op(body, {"user"})
        with self._change():
            members = self.members[self._group(group_id).id]
            if op == "add":
                self._user(user_id)
                if user_id in members:
                    raise AlreadyExists()
                members.append(user_id)
            elif user_id not in members:
                raise NotFound(f"user {user_id} is not a member of group {group_id}")
            else:
                members.remove(user_id)

    def list_associations(self, group_id: str, targets: list[str], params: q.ListQuery) -> Page:
        if not targets:
            raise BadRequest("targets is required")
        with self.lock:
            bound = self.bindings[self._group(group_id).id]
            conns = [
                {"to": {"id": i, "type": "ldap_server"}, "attributes": {}} for i in bound if "ldap_server" in targets
            ]
            conns += [{"to": {"id": i, "type": t}, "attributes": {}}
                      for t, i in self.links.get(group_id, []) if t in targets]
            return Page(params.page(conns), len(conns))

    def list_server_associations(self, server_id: str, targets: list[str], params: q.ListQuery) -> Page:
        """The directory's side of the graph: the user groups bound to it (direct user bindings are
        not modelled, so ``targets=user`` lists nothing)."""
        if not targets:
            raise BadRequest("targets is required")
        bad = [t for t in targets if t not in ("user", "user_group")]
        if bad:
            raise BadRequest(f"targets: {', '.join(bad)} is not one of user, user_group")
        with self.lock:
            self._server(server_id)
            conns = [
                {"to": {"id": group_id, "type": "user_group"}, "attributes": {}}
                for group_id, servers in self.bindings.items()
                if server_id in servers and "user_group" in targets
            ]
            return Page(params.page(conns), len(conns))

    def change_association(self, group_id: str, body: Any) -> None:
        op, typ, server_id = graph_op(body, GROUP_ASSOCIATION_TYPES)
        if typ != "ldap_server":
            self._change_link(group_id, op, typ, server_id)
            return
        with self._change():
            bound = self.bindings[self._group(group_id).id]
            if op == "add":
                self._server(server_id)
                if server_id in bound:
                    raise AlreadyExists()
                bound.append(server_id)
            elif server_id not in bound:
                raise NotFound(f"group {group_id} is not bound to ldap_server {server_id}")
            else:
                bound.remove(server_id)

    def _change_link(self, group_id: str, op: str, typ: str, target_id: str) -> None:
        with self._change():
            links = self.links.setdefault(self._group(group_id).id, [])
            if op == "add":
                if (typ, target_id) in links:
                    raise AlreadyExists()
                links.append((typ, target_id))
            elif (typ, target_id) not in links:
                raise NotFound(f"group {group_id} is not associated with {typ} {target_id}")
            else:
                links.remove((typ, target_id))

    # -- v2 ldapservers and sambadomains ----------------------------------------------------------
    def _server(self, server_id: str) -> LdapServer:
        if server_id != self._ldap_server.id:
            raise NotFound(f"ldap server {server_id} not found")
        return self._ldap_server

    @property
    def ldap_server_id(self) -> str:
        return self._ldap_server.id

    def list_ldap_servers(self, params: q.ListQuery) -> Page:
        records = params.select([self._ldap_server.render()])
        return Page([dict(r) for r in params.page(records)], len(records))

    def get_ldap_server(self, server_id: str) -> dict[str, Any]:
        return self._server(server_id).render()

    def _domain(self, server_id: str, domain_id: str) -> SambaDomain:
        for domain in self.samba_domains[self._server(server_id).id]:
            if domain.id == domain_id:
                return domain
        raise NotFound(f"samba domain {domain_id} not found")

    def _check_domain(self, server_id: str, name: str, sid: str, exclude: str | None) -> None:
        for other in self.samba_domains[server_id]:
            if other.id != exclude and (other.name.upper() == name.upper() or other.sid == sid):
                raise AlreadyExists()

    def list_samba_domains(self, server_id: str, params: q.ListQuery) -> Page:
        with self.lock:
            records = params.select(d.render() for d in self.samba_domains[self._server(server_id).id])
            return Page([dict(r) for r in params.page(records)], len(records))

    def create_samba_domain(self, server_id: str, body: Any) -> dict[str, Any]:
        name, sid = validate_samba_domain(body)
        with self._change():
            self._check_domain(self._server(server_id).id, name, sid, None)
            domain = SambaDomain(new_id(), name, sid)
            self.samba_domains[server_id].append(domain)
            return domain.render()

    def get_samba_domain(self, server_id: str, domain_id: str) -> dict[str, Any]:
        with self.lock:
            return self._domain(server_id, domain_id).render()

    def replace_samba_domain(self, server_id: str, domain_id: str, body: Any) -> dict[str, Any]:
        name, sid = validate_samba_domain(body)
        with self._change():
            domain = self._domain(server_id, domain_id)
            self._check_domain(server_id, name, sid, domain.id)
            domain.name, domain.sid = name, sid
            return domain.render()

    def delete_samba_domain(self, server_id: str, domain_id: str) -> None:
        with self._change():
            domain = self._domain(server_id, domain_id)
            self.samba_domains[server_id].remove(domain)
