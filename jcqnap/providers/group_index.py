"""The org's user groups as SambaGroup `create` sees them: one listing per provider process.

Before its POST, a new group must know whether a group of its name already exists (then it is
adopted, and its state says so) and whether another group already holds its Linux name or GID (then
it is refused, nothing written). Listing the org for every create cost two extra GETs per new group
(first `up` of the bench's `main` stack: 303 calls before takeover safety, 345 with a list per
create, and ten pages per create in an org of 1,000 groups).

All creates of one `pulumi up` run in one provider process, so the listing is taken once (single
flight, per org), kept for `TTL_SECONDS`, and kept current with what this process creates and
deletes itself; a group found in an older listing is confirmed by a GET of it. What someone else
creates in the meantime is still caught: a POST of a taken name answers "Already Exists", which the
client adopts by name only when it matches (and the state then says adopted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jcqnap.jumpcloud import JumpCloudClient, NotFound, object_id
from jcqnap.jumpcloud.client import JSONObj

#: How long one listing serves creates. One `up` creates its groups within seconds of each other.
TTL_SECONDS = 60.0


@dataclass
class _Index:
    taken: float
    groups: dict[str, JSONObj] = field(default_factory=dict)  # id -> group

    def fresh(self) -> bool:
        return time.monotonic() - self.taken < TTL_SECONDS


_lock = threading.Lock()
_indexes: dict[tuple[str, str | None], _Index] = {}


def _org(jc: JumpCloudClient) -> tuple[str, str | None]:
    return (jc.settings.api_url, jc.settings.org_id)


def org_groups(jc: JumpCloudClient) -> list[JSONObj]:
    """Every user group of `jc`'s org, listed at most once per `TTL_SECONDS` in this process."""
    org = _org(jc)
    with _lock:
        index = _indexes.get(org)
        if index is None or not index.fresh():
            listed = {object_id(g): g for g in jc.list_user_groups()}
            index = _indexes[org] = _Index(time.monotonic(), listed)
        return list(index.groups.values())


def find(jc: JumpCloudClient, wanted: Callable[[JSONObj], bool]) -> JSONObj | None:
    """The first group of the org for which `wanted` is true, or None.

    A miss, the usual case for a new group, costs no call once the org is listed. A hit in a listing
    taken by an earlier call is confirmed with one GET of that group (as finding it by name would
    cost), so a group deleted or changed since neither blocks a create as a clash nor is adopted.
    """
    org = _org(jc)
    with _lock:
        listed_before = org in _indexes and _indexes[org].fresh()
    while True:
        hit = next((g for g in org_groups(jc) if wanted(g)), None)
        if hit is None or not listed_before:
            return hit
        try:
            current = jc.get_user_group(object_id(hit))
        except NotFound:
            forget(jc, object_id(hit))
            continue
        remember(jc, current)
        if wanted(current):
            return current


def remember(jc: JumpCloudClient, group: JSONObj) -> None:
    """Record a group this process created or changed, so later creates see it."""
    with _lock:
        index = _indexes.get(_org(jc))
        if index is not None:
            index.groups[object_id(group)] = group


def forget(jc: JumpCloudClient, group_id: str) -> None:
    """Drop a group this process deleted."""
    with _lock:
        index = _indexes.get(_org(jc))
        if index is not None:
            index.groups.pop(group_id, None)


def invalidate() -> None:
    """Forget every listing: the next create lists the org again."""
    with _lock:
        _indexes.clear()
