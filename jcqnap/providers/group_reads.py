"""Reads shared by every SambaGroup `read` in one provider process.

`pulumi preview --refresh` reads every group at once. Two of a group's three facts, its attributes
and whether it is bound to the LDAP directory, also come from two org-wide lists: one paged
`GET /v2/usergroups` and one paged `GET /v2/ldapservers/{id}/associations?targets=user_group`.
Taking those once per refresh leaves one GET per group (its members) plus the list pages, instead of
three GETs per group (bench figure 2), which is what JumpCloud's shared rate limit cares about.

The snapshot also starts the members GETs of the groups this stack manages (`set_managed`, from
the stack config's `jcqnap:groups`, matched by name or Linux name in the listing), `MEMBER_WORKERS`
at a time on a client of its own, with the same retries (429 included) as every call. Pulumi's dynamic
provider host serves only 4 calls at once, so without this the 20th group's read would wait in line
for the first 16; with it, each group's `read` finds its members fetched or in flight. No GET is
added: a managed group's members are fetched once either way, and a read of a group the snapshot did
not prefetch (not in the config, or a large org) GETs them itself.

The snapshot is only for reads. It lives a few seconds, the first reader takes it while the others
wait (single flight), and any write by this process drops it. An org with more than `MAX_GROUPS`
groups is read per group instead, since paging through all of them would cost more than it saves.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jcqnap.jumpcloud import JumpCloudClient, object_id
from jcqnap.jumpcloud.client import JSONObj

#: How long a snapshot serves reads. A refresh reads all groups within a second or two.
TTL_SECONDS = 10.0
#: Above this many groups in the org, per-group GETs are cheaper than listing them all.
MAX_GROUPS = 1000
#: Concurrent members GETs of one snapshot's prefetch (on top of the host's 4 calls in flight).
MEMBER_WORKERS = 8


@dataclass(frozen=True)
class GroupSnapshot:
    taken: float
    ldap_id: str
    groups: dict[str, JSONObj] | None  # None: the org has too many groups; read each one instead
    bound: frozenset[str]
    #: group id -> its member ids, fetched or in flight, for the managed groups found in `groups`.
    members: dict[str, Future[list[str]]] = field(default_factory=dict)

    def fresh(self, ldap_id: str) -> bool:
        return self.ldap_id == ldap_id and time.monotonic() - self.taken < TTL_SECONDS


_lock = threading.Lock()
_snapshot: GroupSnapshot | None = None
#: Names and Linux names of the groups this stack manages (the provider's `configure`).
_managed: frozenset[str] = frozenset()


def set_managed(names: Iterable[str]) -> None:
    """The groups whose members a snapshot prefetches: JumpCloud names or Linux (posix) names."""
    global _managed
    _managed = frozenset(names)


def prefetching() -> bool:
    """True when a snapshot will prefetch members, so a read should wait for it rather than GET them."""
    return bool(_managed)


def invalidate() -> None:
    """Drop the snapshot (this process changed a group, a binding or a membership)."""
    global _snapshot
    with _lock:
        _snapshot = None


F = TypeVar("F", bound=Callable[..., Any])


def invalidates(method: F) -> F:
    """Decorator for a provider write: the snapshot is dropped before it starts and after it ends."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        invalidate()
        try:
            return method(*args, **kwargs)
        finally:
            invalidate()

    return wrapper  # type: ignore[return-value]


def snapshot(jc: JumpCloudClient, ldap_id: str) -> GroupSnapshot:
    """The current snapshot, taken now when missing, stale or for another directory."""
    global _snapshot
    with _lock:
        snap = _snapshot
        if snap is not None and snap.fresh(ldap_id):
            return snap
        # The two lists are independent: fetch them side by side.
        with ThreadPoolExecutor(max_workers=1) as pool:
            bound_f = pool.submit(jc.list_ldap_server_group_ids, ldap_id)
            groups = _all_groups(jc)
            bound = frozenset(bound_f.result())
        members = _prefetch_members(jc, _managed_ids(groups)) if groups is not None else {}
        _snapshot = GroupSnapshot(time.monotonic(), ldap_id, groups, bound, members)
        return _snapshot


def _managed_ids(groups: dict[str, JSONObj]) -> list[str]:
    """Ids of the listed groups this stack manages, by JumpCloud name or Linux name."""
    if not _managed:
        return []
    out = []
    for gid, group in groups.items():
        posix = ((group.get("attributes") or {}).get("posixGroups") or [{}])[0] or {}
        if group.get("name") in _managed or posix.get("name") in _managed:
            out.append(gid)
    return out


def _prefetch_members(jc: JumpCloudClient, ids: list[str]) -> dict[str, Future[list[str]]]:
    """Start the members GETs of `ids`, MEMBER_WORKERS at a time, on a client closed when all are done.

    The caller's client belongs to one provider call and is closed when it returns, so the prefetch,
    which outlives it, has its own (same settings: same timeouts, retries and 429 handling).
    """
    if not ids:
        return {}
    own = JumpCloudClient(jc.settings)
    pool = ThreadPoolExecutor(max_workers=min(MEMBER_WORKERS, len(ids)), thread_name_prefix="jcqnap-members")
    futures = {gid: pool.submit(own.list_group_member_ids, gid) for gid in ids}
    pool.shutdown(wait=False)  # the queued GETs still run; the workers exit after the last one
    left = [len(futures)]
    count_lock = threading.Lock()

    def done(_: Future[list[str]]) -> None:
        with count_lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            own.close()

    for fut in futures.values():
        fut.add_done_callback(done)
    return futures


def _all_groups(jc: JumpCloudClient) -> dict[str, JSONObj] | None:
    """Every group of the org by id, or None past MAX_GROUPS (the caller then reads per group)."""
    groups: dict[str, JSONObj] = {}
    for group in jc.list_user_groups():
        groups[object_id(group)] = group
        if len(groups) > MAX_GROUPS:
            return None
    return groups
