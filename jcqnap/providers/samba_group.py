"""`jumpcloud:SambaGroup`: a JumpCloud user group that Samba (on the NAS) can use.

JumpCloud refuses `sambaEnabled` until the group has a Linux (posix) group and is bound to the LDAP
directory, so create runs in the service's order: POST with `posixGroups` → bind to the
`ldap_server` → GET, merge `sambaEnabled: true`, PUT (PUT is a full replace) → members. The posix
name and GID are create-only in JumpCloud's model (Terraform providers force a new group), so a
change replaces the group. `read` reports every part that can drift: the name and description, the
Samba flag, the binding and the members (as usernames), as outputs and as inputs, so a refreshed diff
names the field and `ignore_changes=["members"]` keeps a membership managed elsewhere. `check` sets
the always-wanted `samba_enabled` and `bound` inputs, so their drift shows too.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypedDict

import pulumi
from pulumi.dynamic import CheckResult, ConfigureRequest, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from jcqnap import validation as v
from jcqnap.connection import JumpCloudConnection, connection_input, secret_outputs
from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import JumpCloudClient, NotFound, object_id
from jcqnap.providers import group_reads
from jcqnap.providers.base import config_value, diff_fields, failure, is_unknown, sorted_unique
from jcqnap.providers.jumpcloud_common import (
    CONNECTION,
    JumpCloudProvider,
    as_int,
    check_connection,
    client,
    gone,
    keep_connection,
    with_connection_diff,
)


class SambaGroupInputs(TypedDict, total=False):
    name: str
    linux_name: str
    gid: int
    description: str | None
    members: list[str]  # usernames


class SambaGroupOutputs(SambaGroupInputs, total=False):
    ldap_server_id: str
    samba_enabled: bool
    bound: bool
    member_ids: dict[str, str]  # username -> user id, so read resolves only new members


#: What a managed group always is.
WANTED = {"samba_enabled": True, "bound": True}
FIELDS = ["name", "linux_name", "gid", "description", "members", *WANTED]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def posix_group(group: dict[str, Any]) -> dict[str, Any]:
    """The group's Linux group (only the first posixGroups item counts)."""
    items = ((group.get("attributes") or {}).get("posixGroups")) or []
    return dict(items[0]) if items else {}


class SambaGroupProvider(JumpCloudProvider):
    """Manages a `/v2/usergroups/{id}` with its posix group, LDAP binding, Samba flag and members."""

    def configure(self, req: ConfigureRequest) -> None:
        super().configure(req)
        group_reads.set_managed(managed_names(config_value(req, "groups")))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        inputs = dict(news)
        name = news.get("name")
        if not is_unknown(name) and (not isinstance(name, str) or not name.strip()):
            failures.append(failure("name", "set the JumpCloud group name"))
        linux_name = news.get("linux_name")
        problem = None if is_unknown(linux_name) else v.linux_group(linux_name)
        if problem:
            failures.append(failure("linux_name", problem))
        gid = as_int(news.get("gid"))
        if not is_unknown(gid):
            problem = v.gid(gid) if isinstance(gid, int) else f"must be a whole number, got {gid!r}"
            if problem:
                failures.append(failure("gid", problem))
            else:
                inputs["gid"] = gid
        members = news.get("members")
        if members is None:
            inputs["members"] = []
        elif not is_unknown(members):
            if not isinstance(members, list):
                failures.append(failure("members", "use a list of JumpCloud usernames"))
            elif bad := [m for m in members if not is_unknown(m) and v.username(m)]:
                failures.append(failure("members", f"{bad[0]!r} {v.username(bad[0])}"))
            else:
                inputs["members"] = sorted_unique(members)
        if news.get("description") is None:
            inputs["description"] = ""
        inputs.update(WANTED)
        if news.get(CONNECTION) is None:
            inputs.pop(CONNECTION, None)
        failures += check_connection(news)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = diff_fields(
            olds,
            {**news, **WANTED},
            FIELDS,
            replace_on=["linux_name", "gid"],
            normalize={"members": sorted_unique, "description": _text, "gid": as_int},
        )
        return with_connection_diff(result, olds, news)

    @group_reads.invalidates
    def create(self, props: dict[str, Any]) -> CreateResult:
        name, linux_name, gid = str(props["name"]), str(props["linux_name"]), int(as_int(props["gid"]))
        with client(connection=props.get(CONNECTION)) as jc:
            ldap_id = jc.ldap_server_id()
            # Resolve members before creating anything, so a typo leaves nothing behind.
            wanted = _resolve(jc, props.get("members") or [], {})
            body = {
                "name": name,
                "description": _text(props.get("description")),
                "attributes": {"posixGroups": [{"id": gid, "name": linux_name}]},
            }

            def matches(group: dict[str, Any]) -> bool:
                posix = posix_group(group)
                return posix.get("name") == linux_name and as_int(posix.get("id")) == gid

            created = jc.create_user_group(body, matches)
            group_id = object_id(created.obj)
            bound = created.adopted and ldap_id in jc.list_group_association_ids(group_id, "ldap_server")
            if not bound:
                jc.change_group_association(group_id, "add", "ldap_server", ldap_id)
            group = _put_group(jc, group_id, name, _text(props.get("description")))
            current = jc.list_group_member_ids(group_id) if created.adopted else []
            _sync_members(jc, group_id, current, list(wanted.values()))
        return CreateResult(group_id, keep_connection(_outputs(group, ldap_id, True, wanted), props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with client(connection=props.get(CONNECTION)) as jc:
            ldap_id = props.get("ldap_server_id") or jc.ldap_server_id()
            # Attributes and binding come from org-wide lists shared by every group read of this
            # refresh (group_reads); only the members are per group (bench/run.py, figure 2). When the
            # snapshot prefetches the managed groups' members, this read takes them from it; otherwise
            # its own members GET runs while the snapshot is taken or awaited.
            with ThreadPoolExecutor(max_workers=2) as pool:
                members_f: Future[list[str]] | None = None
                if not group_reads.prefetching():
                    members_f = pool.submit(jc.list_group_member_ids, id_)
                snap = group_reads.snapshot(jc, ldap_id)
                if members_f is None:
                    members_f = snap.members.get(id_) or pool.submit(jc.list_group_member_ids, id_)
                group: dict[str, Any] | None
                if snap.groups is not None and id_ in snap.groups:
                    group = snap.groups[id_]
                    bound = id_ in snap.bound
                else:
                    # A large org, or a group the lists did not show (deleted, or missed by paging while
                    # the org changed): read it and its binding directly before calling it gone.
                    bound_f = pool.submit(jc.list_group_association_ids, id_, "ldap_server")
                    try:
                        group = jc.get_user_group(id_)
                    except NotFound:
                        group = None
                    bound = group is not None and ldap_id in bound_f.result()
                if group is None:
                    return gone()
                ids = members_f.result()
            known = {uid: name for name, uid in (props.get("member_ids") or {}).items()}
            members: dict[str, str] = {}
            for user_id in ids:
                username = known.get(user_id)
                if username is None:
                    try:
                        username = str(jc.get_user(user_id).get("username"))
                    except NotFound:
                        continue
                members[username] = user_id
        outs = _outputs(group, ldap_id, bound, members)
        return ReadResult(id_, keep_connection(outs, props), keep_connection(read_inputs(outs), props))

    @group_reads.invalidates
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        name, description = str(news["name"]), _text(news.get("description"))
        ldap_id = str(olds.get("ldap_server_id") or "")
        old_members: dict[str, str] = dict(olds.get("member_ids") or {})
        with client(connection=news.get(CONNECTION)) as jc:
            ldap_id = ldap_id or jc.ldap_server_id()
            if not olds.get("bound"):
                jc.change_group_association(id_, "add", "ldap_server", ldap_id)
            if (
                not olds.get("samba_enabled")
                or olds.get("name") != name
                or _text(olds.get("description")) != description
            ):
                group = _put_group(jc, id_, name, description)
            else:
                group = {"name": olds.get("name"), "description": olds.get("description"),
                         "attributes": {"posixGroups": [{"id": olds.get("gid"), "name": olds.get("linux_name")}],
                                        "sambaEnabled": True}}
            wanted = _resolve(jc, news.get("members") or [], old_members)
            _sync_members(jc, id_, list(old_members.values()), list(wanted.values()))
        return UpdateResult(keep_connection(_outputs(group, ldap_id, True, wanted), news))

    @group_reads.invalidates
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        # Memberships and the binding are edges of the group; they go with it.
        with client(connection=props.get(CONNECTION)) as jc:
            jc.delete_user_group(id_)


def managed_names(raw: Any) -> list[list[str]]:
    """Per group of the stack config's `jcqnap:groups` (a JSON string): its name and Linux name.

    Only a hint for the members prefetch: a value that does not parse prefetches nothing, and the
    program reports the bad config itself.
    """
    try:
        groups = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    out: list[list[str]] = []
    for g in groups if isinstance(groups, list) else []:
        if isinstance(g, dict):
            out.append([str(g[k]) for k in ("name", "linuxName") if isinstance(g.get(k), str) and g[k]])
    return out


def _resolve(jc: JumpCloudClient, usernames: list[str], known: dict[str, str]) -> dict[str, str]:
    """username -> user id for every wanted member; a missing user is an error naming it."""
    out: dict[str, str] = {}
    missing = []
    for username in sorted_unique(usernames):
        if username in known:
            out[username] = known[username]
            continue
        user = jc.find_user(username)
        if user is None:
            missing.append(username)
        else:
            out[username] = object_id(user)
    if missing:
        raise JcqnapError(
            f"SambaGroup members: no JumpCloud user named {', '.join(repr(m) for m in missing)}; "
            "create the user(s) in JumpCloud or remove them from `members`"
        )
    return out


def _put_group(jc: JumpCloudClient, group_id: str, name: str, description: str) -> dict[str, Any]:
    """GET, merge name/description/sambaEnabled, PUT the whole group (PUT is a full replace)."""
    group = jc.get_user_group(group_id)
    attributes = dict(group.get("attributes") or {})
    if group.get("name") == name and group.get("description", "") == description and attributes.get("sambaEnabled"):
        return group
    attributes["sambaEnabled"] = True
    group.update(name=name, description=description, attributes=attributes)
    return jc.put_user_group(group_id, group)


def _sync_members(jc: JumpCloudClient, group_id: str, current: list[str], wanted: list[str]) -> None:
    for user_id in sorted(set(wanted) - set(current)):
        jc.change_group_member(group_id, "add", user_id)
    for user_id in sorted(set(current) - set(wanted)):
        jc.change_group_member(group_id, "remove", user_id)


def read_inputs(outs: dict[str, Any]) -> dict[str, Any]:
    """The inputs as JumpCloud has them, shaped as `check` shapes the program's (a refresh without
    drift then leaves the stored inputs equal to the program's)."""
    return {k: outs[k] for k in FIELDS}


def _outputs(group: dict[str, Any], ldap_id: str, bound: bool, members: dict[str, str]) -> dict[str, Any]:
    posix = posix_group(group)
    return {
        "name": group.get("name"),
        "description": _text(group.get("description")),
        "linux_name": posix.get("name"),
        "gid": as_int(posix.get("id")),
        "samba_enabled": bool((group.get("attributes") or {}).get("sambaEnabled")),
        "bound": bound,
        "members": sorted(members),
        "member_ids": dict(sorted(members.items())),
        "ldap_server_id": ldap_id,
    }


class SambaGroup(Resource, module="jumpcloud", name="SambaGroup"):
    """A Samba-enabled JumpCloud user group with a Linux group, bound to the LDAP directory.

    `connection`: the org to manage it in (default: the stack config's, see `JumpCloudConnection`).
    """

    name: pulumi.Output[str]
    linux_name: pulumi.Output[str]
    gid: pulumi.Output[int]
    description: pulumi.Output[str]
    members: pulumi.Output[list[str]]
    samba_enabled: pulumi.Output[bool]
    bound: pulumi.Output[bool]
    ldap_server_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        name: pulumi.Input[str],
        linux_name: pulumi.Input[str],
        gid: pulumi.Input[int],
        members: pulumi.Input[list[pulumi.Input[str]]] | None = None,
        description: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        connection: JumpCloudConnection | None = None,
    ) -> None:
        props = {
            "name": name,
            "linux_name": linux_name,
            "gid": gid,
            "members": members if members is not None else [],
            "description": description,
            "samba_enabled": None,
            "bound": None,
            "member_ids": None,
            "ldap_server_id": None,
            "connection": connection_input(connection),
        }
        super().__init__(SambaGroupProvider(), resource_name, props, secret_outputs(opts))
