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
wait (single flight), and any write by this process drops it. Each list's first page gives its total
(`x-total-count`), and the other pages are fetched side by side (`PAGE_WORKERS`).

Whether to list at all: per-group reads cost 3 GETs per managed group, the snapshot costs the pages
of the two lists plus one GET per managed group. The bindings list is never longer than the groups
list, so the snapshot never costs more when the groups list has at most as many pages as the stack
manages groups (measured in bench figure 11: 1,000 groups and 50 managed: 68 GETs instead of 152).
A larger org is read per group, having spent the two first pages. Without the stack config (a
provider used on its own) the rule is the earlier fixed one: at most `MAX_GROUPS` groups.
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
from jcqnap.jumpcloud.client import PAGE, JSONObj

#: How long a snapshot serves reads. A refresh reads all groups within a second or two.
TTL_SECONDS = 10.0
#: Without the managed groups' count: above this many groups in the org, read each group instead.
MAX_GROUPS = 1000
#: Concurrent members GETs of one snapshot's prefetch (on top of the host's 4 calls in flight).
MEMBER_WORKERS = 8
#: Concurrent list pages per list (after the first page, which gives the total).
PAGE_WORKERS = 4


@dataclass(frozen=True)
class GroupSnapshot:
    taken: float
    ldap_id: str
    groups: dict[str, JSONObj] | None  # None: listing the org costs more than reading each group
    bound: frozenset[str]
    #: group id -> its member ids, fetched or in flight, for the managed groups found in `groups`.
    members: dict[str, Future[list[str]]] = field(default_factory=dict)

    def fresh(self, ldap_id: str) -> bool:
        return self.ldap_id == ldap_id and time.monotonic() - self.taken < TTL_SECONDS


_lock = threading.Lock()
#: One snapshot per org (API URL, org id): one provider process may serve two orgs.
_snapshots: dict[tuple[str, str | None], GroupSnapshot] = {}
#: Names and Linux names of the groups this stack manages (the provider's `configure`), and how many.
_managed: frozenset[str] = frozenset()
_managed_count = 0


def set_managed(groups: Iterable[Iterable[str]]) -> None:
    """The groups this stack manages, each as its names (JumpCloud name, Linux name): the snapshot
    prefetches their members, and their number decides whether listing the org pays off."""
    global _managed, _managed_count
    listed = [list(names) for names in groups]
    _managed = frozenset(name for names in listed for name in names)
    _managed_count = len(listed)


def prefetching() -> bool:
    """True when a snapshot will prefetch members, so a read should wait for it rather than GET them."""
    return bool(_managed)


def invalidate() -> None:
    """Drop the snapshots (this process changed a group, a binding or a membership)."""
    with _lock:
        _snapshots.clear()


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
    """The org's current snapshot, taken now when missing, stale or for another directory."""
    org = (jc.settings.api_url, jc.settings.org_id)
    with _lock:
        snap = _snapshots.get(org)
        if snap is not None and snap.fresh(ldap_id):
            return snap
        # The two lists are independent: fetch them side by side, each with its pages side by side.
        with ThreadPoolExecutor(max_workers=1) as side:
            bound_f = side.submit(_all_pages, lambda skip: jc.ldap_server_group_ids_page(ldap_id, skip),
                                  _worth_listing)
            group_items = _all_pages(jc.user_groups_page, _worth_listing)
            bound_ids = bound_f.result()
        listed = group_items is not None and bound_ids is not None
        groups = {object_id(g): g for g in group_items or []} if listed else None
        bound = frozenset(bound_ids or [])
        members = _prefetch_members(jc, _managed_ids(groups)) if groups is not None else {}
        snap = _snapshots[org] = GroupSnapshot(time.monotonic(), ldap_id, groups, bound, members)
        return snap


T = TypeVar("T")


def _worth_listing(total: int) -> bool:
    """True when listing `total` groups costs no more GETs than reading the managed groups one by one."""
    if _managed_count:
        return -(-total // PAGE) <= _managed_count
    return total <= MAX_GROUPS


def _all_pages(page: Callable[[int], tuple[list[T], int | None]],
               worth: Callable[[int], bool] | None) -> list[T] | None:
    """Every item of a paged list: the first page, then the rest side by side once the total is known.

    None when `worth(total)` says listing does not pay off (only the first page was fetched). Without
    a total the pages are fetched one after the other until a short page.
    """
    items, total = page(0)
    if total is not None and worth is not None and not worth(total):
        return None
    if total is None:
        while items and len(items) % PAGE == 0:
            more, _ = page(len(items))
            if not more:
                break
            items += more
        return items
    skips = list(range(len(items), total, PAGE)) if items else []
    if skips:
        with ThreadPoolExecutor(max_workers=min(PAGE_WORKERS, len(skips))) as pool:
            for more, _ in pool.map(page, skips):
                items += more
    return items


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

