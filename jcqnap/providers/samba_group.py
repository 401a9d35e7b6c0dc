"""`jumpcloud:SambaGroup`: a JumpCloud user group that Samba (on the NAS) can use.

JumpCloud refuses `sambaEnabled` until the group has a Linux (posix) group and is bound to the LDAP
directory, so create runs in the service's order: POST with `posixGroups` → bind to the
`ldap_server` → GET, merge `sambaEnabled: true`, PUT (PUT is a full replace) → members. The posix
name and GID are create-only in JumpCloud's model (Terraform providers force a new group), so a
change replaces the group. `read` reports every part that can drift: the name and description, the
Samba flag, the binding and the members (as usernames), as outputs and as inputs, so a refreshed diff
names the field and `ignore_changes=["members"]` keeps a membership managed elsewhere. `check` sets
the always-wanted `samba_enabled` and `bound` inputs, so their drift shows too.

Membership is managed only as `members_mode` says: `exact` (the declared list), `add-only` (declared
members are added, nobody is removed) or `unmanaged` (JumpCloud or the identity provider owns it;
jcqnap reads the members and shows them, never writes them). A group that already exists with the
wanted Linux name and GID is adopted: only what differs is written, and `adoption` lists it. `delete`
leaves an adopted group in place (undoing only the membership changes jcqnap made) unless
`delete_adopted` is set. A Linux name or GID change replaces the group create-before-delete when the
name, Linux name and GID all change (both groups can coexist, so members keep access through the new
one); otherwise the old group would have to go first, so it is refused with the procedure.
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
from jcqnap.providers import group_index, group_reads
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
    adopted: bool
    adoption: str
    added_ids: dict[str, str]  # adopted groups: members jcqnap added, removed again on delete
    removed_ids: dict[str, str]  # adopted groups: members jcqnap removed, added back on delete


#: What a managed group always is.
WANTED = {"samba_enabled": True, "bound": True}
FIELDS = ["name", "linux_name", "gid", "description", *WANTED]
MODES = ("exact", "add-only", "unmanaged")
#: Outputs that are not JumpCloud fields, carried over by read and update.
KEPT = ("members_mode", "delete_adopted", "adopted", "adoption", "added_ids", "removed_ids")


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

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        inputs = dict(news)
        mode = news.get("members_mode") or ("unmanaged" if news.get("members") is None else "exact")
        if not is_unknown(mode) and mode not in MODES:
            failures.append(failure("members_mode", f"must be one of {', '.join(MODES)}, got {mode!r}"))
        inputs["members_mode"] = mode
        inputs["delete_adopted"] = bool(news.get("delete_adopted"))
        refusal = posix_refusal(olds, news)
        if refusal:
            failures.append(failure(refusal[0], refusal[1]))
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
            inputs["members"] = None if mode == "unmanaged" else []
        elif mode == "unmanaged":
            failures.append(failure("members", "is set but members_mode is unmanaged; remove one"))
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
            [*FIELDS, "members_mode", "delete_adopted"],
            replace_on=["linux_name", "gid"],
            normalize={"description": _text, "gid": as_int, "delete_adopted": bool,
                       "members_mode": lambda m: m or "exact"},
        )
        changes = [f for f in (*FIELDS, "members_mode", "delete_adopted") if f not in (result.stables or [])]
        if members_differ(olds, news):
            changes.append("members")
        replaces = list(result.replaces or [])
        return DiffResult(
            changes=bool(changes),
            replaces=replaces,
            stables=[f for f in (*FIELDS, "members") if f not in changes],
            # `check` lets a replacement through only when both groups can coexist: the new one first.
            delete_before_replace=False,
        )
        return with_connection_diff(result, olds, news)

    @group_reads.invalidates
    def create(self, props: dict[str, Any]) -> CreateResult:
        name, linux_name, gid = str(props["name"]), str(props["linux_name"]), int(as_int(props["gid"]))
        mode = str(props.get("members_mode") or "exact")
        description = _text(props.get("description"))
        with client(connection=props.get(CONNECTION)) as jc:
            ldap_id = jc.ldap_server_id()
            # Resolve members before creating anything, so a typo leaves nothing behind.
            wanted = _resolve(jc, props.get("members") or [], {}) if mode != "unmanaged" else {}

            def matches(group: dict[str, Any]) -> bool:
                posix = posix_group(group)
                return posix.get("name") == linux_name and as_int(posix.get("id")) == gid

            # Both lookups come from one listing of the org shared by this process's creates.
            existing = group_index.find(jc, lambda g: g.get("name") == name)
            changed: list[str] = []
            clash = existing if existing is not None and not matches(existing) else None
            if existing is None:
                clash = group_index.find(jc, lambda g: _posix_clash(g, linux_name, gid))
            if clash is not None:
                raise JcqnapError(clash_message(name, linux_name, gid, clash))
            if existing is None:
                body = {"name": name, "description": description,
                        "attributes": {"posixGroups": [{"id": gid, "name": linux_name}]}}
                created = jc.create_user_group(body, matches)  # adopts a matching group of that name
                if created.adopted:  # it existed after all (made since the listing, or by a killed run)
                    existing = created.obj
                group_id = object_id(created.obj)
            else:
                group_id = object_id(existing)
            bound = existing is not None and ldap_id in jc.list_group_association_ids(group_id, "ldap_server")
            if not bound:
                jc.change_group_association(group_id, "add", "ldap_server", ldap_id)
                changed.append("bound to the LDAP directory")
            group, put = _put_group(jc, group_id, name, description)
            group_index.remember(jc, group)
            if put and existing is not None:
                changed.append("description/sambaEnabled")
            current = _usernames(jc, jc.list_group_member_ids(group_id), {}) if existing is not None else {}
            members, added, removed = _apply_members(jc, group_id, mode, current, wanted)
        outs = _outputs(group, ldap_id, True, members)
        if added:
            changed.append("members added: " + ", ".join(sorted(added)))
        if removed:
            changed.append("members removed: " + ", ".join(sorted(removed)))
        adopted = existing is not None
        outs.update(
            members_mode=mode, delete_adopted=bool(props.get("delete_adopted")), adopted=adopted,
            adoption=("adopted, unchanged" if not changed else "adopted; changed: " + "; ".join(changed))
            if adopted else "created",
            added_ids=added if adopted else {}, removed_ids=removed if adopted else {},
        )
        return CreateResult(group_id, keep_connection(outs, props))

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
            members = _names_by_id(jc, ids, known)
        outs = _outputs(group, ldap_id, bound, members)
        outs.update({k: props[k] for k in KEPT if k in props})
        return ReadResult(id_, keep_connection(outs, props), keep_connection(read_inputs(outs), props))

    @group_reads.invalidates
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        name, description = str(news["name"]), _text(news.get("description"))
        ldap_id = str(olds.get("ldap_server_id") or "")
        old_members: dict[str, str] = dict(olds.get("member_ids") or {})
        mode = str(news.get("members_mode") or "exact")
        with client(connection=news.get(CONNECTION)) as jc:
            ldap_id = ldap_id or jc.ldap_server_id()
            if not olds.get("bound"):
                jc.change_group_association(id_, "add", "ldap_server", ldap_id)
            if (
                not olds.get("samba_enabled")
                or olds.get("name") != name
                or _text(olds.get("description")) != description
            ):
                group, _ = _put_group(jc, id_, name, description)
            else:
                group = {"name": olds.get("name"), "description": olds.get("description"),
                         "attributes": {"posixGroups": [{"id": olds.get("gid"), "name": olds.get("linux_name")}],
                                        "sambaEnabled": True}}
            wanted = _resolve(jc, news.get("members") or [], old_members) if mode != "unmanaged" else {}
            members, added, removed = _apply_members(jc, id_, mode, old_members, wanted)
        outs = _outputs(group, ldap_id, True, members)
        outs.update({k: olds[k] for k in KEPT if k in olds}, members_mode=mode,
                    delete_adopted=bool(news.get("delete_adopted")))
        if olds.get("adopted"):
            # Remember jcqnap's own membership changes, so destroy can leave the group as found.
            add_ids, rem_ids = dict(olds.get("added_ids") or {}), dict(olds.get("removed_ids") or {})
            for n, i in added.items():
                if rem_ids.pop(n, None) is None:
                    add_ids[n] = i
            for n, i in removed.items():
                if add_ids.pop(n, None) is None:
                    rem_ids[n] = i
            outs.update(added_ids=add_ids, removed_ids=rem_ids)
        return UpdateResult(keep_connection(outs, news))

    @group_reads.invalidates
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with client(connection=props.get(CONNECTION)) as jc:
            if props.get("adopted") and not props.get("delete_adopted"):
                # It existed before jcqnap: left in place, with jcqnap's membership changes undone.
                for user_id in sorted((props.get("added_ids") or {}).values()):
                    jc.change_group_member(id_, "remove", user_id)
                for user_id in sorted((props.get("removed_ids") or {}).values()):
                    try:
                        jc.change_group_member(id_, "add", user_id)
                    except NotFound:
                        pass  # the user is gone from JumpCloud
                return
            # Memberships and the binding are edges of the group; they go with it.
            jc.delete_user_group(id_)
            group_index.forget(jc, id_)


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


def _put_group(jc: JumpCloudClient, group_id: str, name: str, description: str) -> tuple[dict[str, Any], bool]:
    """GET, merge name/description/sambaEnabled, PUT the whole group (PUT is a full replace).

    Returns the group and whether a PUT was needed."""
    group = jc.get_user_group(group_id)
    attributes = dict(group.get("attributes") or {})
    if group.get("name") == name and group.get("description", "") == description and attributes.get("sambaEnabled"):
        return group, False
    attributes["sambaEnabled"] = True
    group.update(name=name, description=description, attributes=attributes)
    return jc.put_user_group(group_id, group), True


def _usernames(jc: JumpCloudClient, ids: list[str], known: dict[str, str]) -> dict[str, str]:
    """username -> id for member ids; `known` (username -> id) saves a GET per known member."""
    by_id = {uid: name for name, uid in known.items()}
    unknown = [i for i in ids if i not in by_id]
    if len(unknown) > 3:
        by_id.update(jc.usernames_by_id())  # one listing instead of a GET per member
    return _names_by_id(jc, ids, by_id)


def _names_by_id(jc: JumpCloudClient, ids: list[str], by_id: dict[str, str]) -> dict[str, str]:
    """username -> id for member ids, GETting each user `by_id` (id -> username) does not know;
    a user deleted meanwhile is left out."""
    out: dict[str, str] = {}
    for user_id in ids:
        username = by_id.get(user_id)
        if username is None:
            try:
                username = str(jc.get_user(user_id).get("username"))
            except NotFound:
                continue
        out[username] = user_id
    return out


def _apply_members(
    jc: JumpCloudClient, group_id: str, mode: str, current: dict[str, str], wanted: dict[str, str]
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Write the membership `mode` asks for; (members after, added, removed), each username -> id."""
    if mode == "unmanaged":
        return dict(current), {}, {}
    current_ids = set(current.values())
    added = {n: i for n, i in wanted.items() if i not in current_ids}
    removed = {} if mode == "add-only" else {n: i for n, i in current.items() if i not in set(wanted.values())}
    for user_id in sorted(added.values()):
        jc.change_group_member(group_id, "add", user_id)
    for user_id in sorted(removed.values()):
        jc.change_group_member(group_id, "remove", user_id)
    after = {n: i for n, i in current.items() if n not in removed}
    after.update(added)
    return after, added, removed


def members_differ(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Whether the membership needs a write, as the new `members_mode` sees it."""
    mode = news.get("members_mode") or "exact"
    new = news.get("members")
    if mode == "unmanaged":
        return False
    if is_unknown(new):
        return True
    have, want = set(olds.get("members") or []), set(new or [])
    return not want <= have if mode == "add-only" else have != want


def _posix_clash(group: dict[str, Any], linux_name: str, gid: int) -> bool:
    posix = posix_group(group)
    return bool(posix) and (posix.get("name") == linux_name or as_int(posix.get("id")) == gid)


def clash_message(name: str, linux_name: str, gid: int, other: dict[str, Any]) -> str:
    """Why a new group cannot be created next to `other`, and what to do (nothing was written)."""
    posix = posix_group(other)
    return (
        f"jcqnap:groups: cannot create group {name!r} ({linux_name!r}, GID {gid}): JumpCloud group "
        f"{other.get('name')!r} already has Linux group {posix.get('name')!r} GID {posix.get('id')}. To adopt it, set "
        "name, linuxName and gid to its values (`python -m jcqnap discover` writes them). If you are renaming "
        "a group's Linux name or GID: the new group can exist next to the old one only with a new name, Linux "
        "name and GID (jcqnap then creates it with the members before it deletes the old one); to keep them, "
        "remove the entry in one `pulumi up` and add it back in the next, in a maintenance window. Nothing "
        "was changed"
    )


def posix_refusal(olds: dict[str, Any], news: dict[str, Any]) -> tuple[str, str] | None:
    """(field, message) when a Linux name/GID change cannot be done without cutting members off.

    The posix name and GID are create-only, so a change needs a new group. JumpCloud holds two groups
    side by side only when their names, Linux names and GIDs all differ; then the new one is created
    (with the members) before the old one is deleted. Otherwise the old group would have to go first.
    """
    fields = ("name", "linux_name", "gid")
    if any(olds.get(f) is None or is_unknown(news.get(f)) for f in fields):
        return None
    changed = [f for f in ("linux_name", "gid") if as_int(olds.get(f)) != as_int(news.get(f))]
    if not changed:
        return None
    same = [f for f in fields if str(olds.get(f)).casefold() == str(news.get(f)).casefold()]
    if not same:
        return None
    name = olds.get("name")
    what = " and ".join({"name": "name", "linux_name": "Linux name", "gid": "GID"}[f] for f in same)
    return changed[0], (
        f"changing group {name!r} from Linux group {olds.get('linux_name')!r} GID {olds.get('gid')} to "
        f"{news.get('linux_name')!r} GID {news.get('gid')} needs a new JumpCloud group, and two groups cannot "
        f"share the same {what}, so the old group would be deleted first and its members would lose access "
        "mid-run. Safe procedure: give the group a new name, Linux name and GID in one change (jcqnap creates "
        "the new group with its members before it deletes the old one); to keep the GID, remove the entry in "
        "one `pulumi up` and add it back with the new Linux name in the next, in a maintenance window"
    )


def read_inputs(outs: dict[str, Any]) -> dict[str, Any]:
    """The inputs as JumpCloud has them, shaped as `check` shapes the program's (a refresh without
    drift then leaves the stored inputs equal to the program's). An unmanaged group has no members input."""
    inputs = {k: outs[k] for k in FIELDS}
    mode = outs.get("members_mode") or "exact"
    inputs.update(members=None if mode == "unmanaged" else outs.get("members"), members_mode=mode,
                  delete_adopted=bool(outs.get("delete_adopted")))
    return inputs


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
    adoption: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        name: pulumi.Input[str],
        linux_name: pulumi.Input[str],
        gid: pulumi.Input[int],
        members: pulumi.Input[list[pulumi.Input[str]]] | None = None,
        description: pulumi.Input[str] | None = None,
        members_mode: pulumi.Input[str] | None = None,
        delete_adopted: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        connection: JumpCloudConnection | None = None,
    ) -> None:
        # The provider's other outputs (member_ids, adopted, added_ids, removed_ids) are kept in
        # state but not exposed here: each property is an Output the SDK resolves per resource, and
        # at 500 groups these four were ~20% of the program's CPU (docs/performance.md).
        props = {
            "name": name,
            "linux_name": linux_name,
            "gid": gid,
            "members": members,
            "members_mode": members_mode,
            "delete_adopted": delete_adopted,
            "adoption": None,
            "description": description,
            "samba_enabled": None,
            "bound": None,
            "ldap_server_id": None,
            "connection": connection_input(connection),
        }
        super().__init__(SambaGroupProvider(), resource_name, props, secret_outputs(opts))
