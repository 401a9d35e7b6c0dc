"""Parsing `qtsProfile` overrides (stack config, `learn`'s block) onto a base profile.

Every error names the key path (``qts_profile.settings.base_dn.key``), so a typo in stack config
cannot silently fall back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from jcqnap.qnap.profile import PLACEHOLDER_RE, PLACEHOLDERS, READ_WITH, SECRET_STORES, Profile, ProfileError, Setting


def apply_overrides(prof: Profile, overrides: Mapping[str, Any] | None) -> Profile:
    """``prof`` with the names in ``overrides`` replaced (see ``Profile.from_overrides``)."""
    if not overrides:
        return prof
    _expect_mapping(overrides, "qts_profile")
    for group, value in overrides.items():
        where = f"qts_profile.{group}"
        if group in ("files", "tools"):
            prof = _override_paths(prof, group, value, where)
        elif group == "settings":
            prof = _override_settings(prof, value, where)
        elif group == "commands":
            prof = _override_commands(prof, value, where)
        elif group == "defaults":
            prof = _override_defaults(prof, value, where)
        elif group == "secret_store":
            if value not in SECRET_STORES:
                raise ProfileError(f"{where}: expected one of {', '.join(SECRET_STORES)}, got {value!r}")
            prof = replace(prof, secret_store=value, secret_store_evidence="override")  # noqa: S106 - a name, not a password
        else:
            raise ProfileError(f"{where}: unknown key (expected files, tools, settings, commands, defaults, "
                               "secret_store)")
    return prof


def _expect_mapping(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ProfileError(f"{where}: expected a mapping, got {type(value).__name__}")


def _text(value: Any, where: str, *, absolute: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: expected a non-empty string")
    if any(ch in value for ch in "\n\r\0"):
        raise ProfileError(f"{where}: must be a single line")
    if absolute and not value.startswith("/"):
        raise ProfileError(f"{where}: expected an absolute path on the NAS, got {value!r}")
    return value


def _override_paths(prof: Profile, group: str, value: Any, where: str) -> Profile:
    _expect_mapping(value, where)
    items = list(getattr(prof, group))
    names = [p.name for p in items]
    for name, path in value.items():
        if name not in names:
            raise ProfileError(f"{where}.{name}: unknown {group[:-1]} (known: {', '.join(names)})")
        i = names.index(name)
        items[i] = replace(items[i], path=_text(path, f"{where}.{name}", absolute=True), evidence="override")
    return replace(prof, files=tuple(items)) if group == "files" else replace(prof, tools=tuple(items))


_SETTING_FIELDS = ("file", "section", "key", "values", "read_with", "evidence")


def _override_settings(prof: Profile, value: Any, where: str) -> Profile:
    _expect_mapping(value, where)
    items = list(prof.settings)
    names = [s.name for s in items]
    files = [p.name for p in prof.files]
    for name, fields in value.items():
        here = f"{where}.{name}"
        if name not in names:
            raise ProfileError(f"{here}: unknown setting (known: {', '.join(names)})")
        _expect_mapping(fields, here)
        i = names.index(name)
        s = items[i]
        changes: dict[str, Any] = {"evidence": "override"}
        for fname, fvalue in fields.items():
            if fname not in _SETTING_FIELDS:
                raise ProfileError(f"{here}.{fname}: unknown field (expected {', '.join(_SETTING_FIELDS)})")
            if fname == "values":
                changes["values"] = _override_values(s, fvalue, f"{here}.values")
            elif fname == "file":
                f = _text(fvalue, f"{here}.file")
                if f not in files:
                    raise ProfileError(f"{here}.file: unknown file {f!r} (known: {', '.join(files)})")
                changes["file"] = f
            elif fname == "evidence":
                if fvalue not in ("learned", "override"):
                    raise ProfileError(f"{here}.evidence: expected learned or override, got {fvalue!r}")
                changes["evidence"] = fvalue
            elif fname == "read_with":
                if fvalue not in READ_WITH:
                    raise ProfileError(f"{here}.read_with: expected one of {', '.join(READ_WITH)}, got {fvalue!r}")
                changes["read_with"] = fvalue
            else:
                changes[fname] = _text(fvalue, f"{here}.{fname}")
        items[i] = replace(s, **changes)
    return replace(prof, settings=tuple(items))


def _override_values(s: Setting, value: Any, where: str) -> tuple[tuple[str, str], ...]:
    _expect_mapping(value, where)
    if not s.values:
        raise ProfileError(f"{where}: setting {s.name!r} is free text and has no value spellings")
    merged = dict(s.values)
    for logical, stored in value.items():
        if logical not in merged:
            raise ProfileError(f"{where}.{logical}: unknown value (known: {', '.join(merged)})")
        text = _text(stored, f"{where}.{logical}")
        bad = [p for p in PLACEHOLDER_RE.findall(text) if p not in PLACEHOLDERS]
        if bad or text.count("{") != text.count("{uri}"):
            raise ProfileError(f"{where}.{logical}: the only placeholder a spelling may hold is {{uri}}")
        merged[logical] = text
    return tuple(merged.items())


def _override_commands(prof: Profile, value: Any, where: str) -> Profile:
    _expect_mapping(value, where)
    items = list(prof.commands)
    names = [c.name for c in items]
    for name, cmd in value.items():
        if name not in names:
            raise ProfileError(f"{where}.{name}: unknown command (known: {', '.join(names)})")
        i = names.index(name)
        items[i] = replace(items[i], command=_text(cmd, f"{where}.{name}"), evidence="override")
    return replace(prof, commands=tuple(items))


def _override_defaults(prof: Profile, value: Any, where: str) -> Profile:
    _expect_mapping(value, where)
    merged = dict(prof.defaults)
    for name, v in value.items():
        if name not in merged:
            raise ProfileError(f"{where}.{name}: unknown default (known: {', '.join(merged)})")
        merged[name] = _text(v, f"{where}.{name}")
    return replace(prof, defaults=tuple(merged.items()))
