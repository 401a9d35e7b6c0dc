"""List parameters of the v1 and v2 APIs: paging, filters, sort and field selection.

Parsed from the raw query string into plain values that the backend applies, so the rules about
what is accepted (``$eq`` in v1 vs ``eq`` in v2, ``sort=id`` rejected on usergroups...) live in one
place and can be unit-tested.

Decisions where the vendor's behaviour is not documented (inferred, kept strict on purpose so
client bugs surface in tests rather than in production):
- ``limit`` above 100 is a 400, not silently clamped; ``limit=0`` means the default (10);
- an unknown filter operator, or a v1 operator without its ``$``, is a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jcqnap.sandbox.jumpcloud.exceptions import BadRequest

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
V1_OPERATORS = {"$eq", "$ne"}
V2_OPERATORS = {"eq", "ne", "search"}
_FILTER_KEY = re.compile(r"^filter(\[(or|and)\])?(\[\d+\])?$")

Query = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Filter:
    """One ``field:operator:value`` condition, operator normalised without ``$``."""

    field: str
    op: str
    value: str

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual = _as_text(record.get(self.field))
        if self.op == "eq":
            return actual == self.value
        if self.op == "ne":
            return actual != self.value
        return self.value.lower() in (actual or "").lower()  # "search": case-insensitive substring


@dataclass(frozen=True)
class ListQuery:
    """What a list call asked for. ``any_of`` filters are ORed, ``all_of`` filters ANDed."""

    limit: int = DEFAULT_LIMIT
    skip: int = 0
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    fields: tuple[str, ...] | None = None
    all_of: tuple[Filter, ...] = ()
    any_of: tuple[Filter, ...] = field(default=())

    def select(self, records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Filter and sort ``records`` (not paged: callers need the total first)."""
        out = [
            r
            for r in records
            if all(f.matches(r) for f in self.all_of) and (not self.any_of or any(f.matches(r) for f in self.any_of))
        ]
        for name, desc in reversed(self.sort):
            out.sort(key=_sort_key(name), reverse=desc)
        return out

    def page(self, records: Sequence[Any]) -> list[Any]:
        return list(records[self.skip : self.skip + self.limit])


def _sort_key(name: str) -> Callable[[Mapping[str, Any]], tuple[bool, str]]:
    def key(record: Mapping[str, Any]) -> tuple[bool, str]:
        return (record.get(name) is None, _as_text(record.get(name)) or "")

    return key


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int_param(query: Query, name: str, default: int) -> int:
    raw = query.get(name)
    if not raw or raw[-1] == "":
        return default
    try:
        return int(raw[-1])
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None


def _paging(query: Query) -> tuple[int, int]:
    limit = _int_param(query, "limit", DEFAULT_LIMIT)
    skip = _int_param(query, "skip", 0)
    if limit < 0 or skip < 0:
        raise BadRequest("limit and skip must not be negative")
    if limit > MAX_LIMIT:
        raise BadRequest(f"limit must be less than or equal to {MAX_LIMIT}")
    return (limit or DEFAULT_LIMIT), skip


def _words(query: Query, name: str, sep: str | None) -> list[str]:
    out: list[str] = []
    for raw in query.get(name, ()):
        out.extend(w for w in (raw.split(sep) if sep else raw.split()) if w)
    return out


def _parse_filter(text: str, operators: set[str], strip_dollar: bool) -> Filter:
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise BadRequest(f"invalid filter {text!r}: expected <field>:<operator>:<value>")
    name, op, value = parts
    if op not in operators:
        raise BadRequest(f"invalid filter operator {op!r}: supported are {', '.join(sorted(operators))}")
    return Filter(name, op.lstrip("$") if strip_dollar else op, value)


def _filters(query: Query, operators: set[str], strip_dollar: bool) -> tuple[tuple[Filter, ...], tuple[Filter, ...]]:
    all_of: list[Filter] = []
    any_of: list[Filter] = []
    for key, values in query.items():
        m = _FILTER_KEY.match(key)
        if not m:
            continue
        target = any_of if m.group(2) == "or" else all_of
        target.extend(_parse_filter(v, operators, strip_dollar) for v in values if v)
    return tuple(all_of), tuple(any_of)


def _sort(words: list[str], allowed: Callable[[str], bool]) -> tuple[tuple[str, bool], ...]:
    out = []
    for w in words:
        name = w.lstrip("-")
        if not allowed(name):
            raise BadRequest(f"sort by {name!r} is not supported")
        out.append((name, w.startswith("-")))
    return tuple(out)


def parse_v1(query: Query) -> ListQuery:
    """v1 list parameters: space-separated ``sort``/``fields``, ``filter=<field>:$eq:<value>``."""
    limit, skip = _paging(query)
    all_of, any_of = _filters(query, V1_OPERATORS, strip_dollar=True)
    fields = _words(query, "fields", None)
    return ListQuery(
        limit=limit,
        skip=skip,
        sort=_sort(_words(query, "sort", None), lambda n: bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n))),
        fields=tuple(fields) if fields else None,
        all_of=all_of,
        any_of=any_of,
    )


def parse_v2(query: Query, sortable: set[str]) -> ListQuery:
    """v2 list parameters: comma-separated ``sort``/``fields``, ``filter=<field>:eq:<value>``.

    ``sortable`` lists the fields the endpoint sorts on; anything else (``id`` on usergroups is
    the known case) is a 400.
    """
    limit, skip = _paging(query)
    all_of, any_of = _filters(query, V2_OPERATORS, strip_dollar=False)
    fields = _words(query, "fields", ",")
    return ListQuery(
        limit=limit,
        skip=skip,
        sort=_sort(_words(query, "sort", ","), lambda n: n in sortable),
        fields=tuple(fields) if fields else None,
        all_of=all_of,
        any_of=any_of,
    )


def paging_only(query: Query) -> ListQuery:
    """``limit``/``skip`` for the graph endpoints (members, associations)."""
    limit, skip = _paging(query)
    return ListQuery(limit=limit, skip=skip)
