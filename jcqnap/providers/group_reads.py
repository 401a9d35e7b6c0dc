"""Reads shared by every SambaGroup `read` in one provider process.

`pulumi preview --refresh` reads every group at once. Two of a group's three facts, its attributes
and whether it is bound to the LDAP directory, also come from two org-wide lists: one paged
`GET /v2/usergroups` and one paged `GET /v2/ldapservers/{id}/associations?targets=user_group`.
Taking those once per refresh leaves one GET per group (its members) plus the list pages, instead of
three GETs per group (bench figure 2), which is what JumpCloud's shared rate limit cares about.

The snapshot is only for reads. It lives a few seconds, the first reader takes it while the others
wait (single flight), and any write by this process drops it. An org with more than `MAX_GROUPS`
groups is read per group instead, since paging through all of them would cost more than it saves.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from jcqnap.jumpcloud import JumpCloudClient, object_id
from jcqnap.jumpcloud.client import JSONObj

#: How long a snapshot serves reads. A refresh reads all groups within a second or two.
TTL_SECONDS = 10.0
#: Above this many groups in the org, per-group GETs are cheaper than listing them all.
MAX_GROUPS = 1000


@dataclass(frozen=True)
class GroupSnapshot:
    taken: float
    ldap_id: str
    groups: dict[str, JSONObj] | None  # None: the org has too many groups; read each one instead
    bound: frozenset[str]


_lock = threading.Lock()
_snapshot: GroupSnapshot | None = None


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
        if snap is not None and snap.ldap_id == ldap_id and time.monotonic() - snap.taken < TTL_SECONDS:
            return snap
        # The two lists are independent: fetch them side by side.
        with ThreadPoolExecutor(max_workers=1) as pool:
            bound_f = pool.submit(jc.list_ldap_server_group_ids, ldap_id)
            groups = _all_groups(jc)
            bound = frozenset(bound_f.result())
        _snapshot = GroupSnapshot(time.monotonic(), ldap_id, groups, bound)
        return _snapshot


def _all_groups(jc: JumpCloudClient) -> dict[str, JSONObj] | None:
    """Every group of the org by id, or None past MAX_GROUPS (the caller then reads per group)."""
    groups: dict[str, JSONObj] = {}
    for group in jc.list_user_groups():
        groups[object_id(group)] = group
        if len(groups) > MAX_GROUPS:
            return None
    return groups
