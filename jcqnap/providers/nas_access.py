"""How `qnap:LdapConfig` reaches a NAS *now*: credentials, host key and flags from the current stack config.

State holds the NAS login and pinned host key of the last successful run. After an admin password
change or a re-key they are stale, and `read` (refresh) or `delete` with them would fail before the
new values could ever be stored. So, like the JumpCloud key, they come from the stack config the
engine hands to the provider's `configure()` (decrypted, kept only in this process's memory, never
on the pickled provider). A resource is matched to its `jcqnap:nas[]` entry by address (`host:port`,
which is also its id); a NAS the config does not list keeps the values in state.

The same entry carries the per-NAS flags:

* `retired: true`: the NAS leaves the stack; `read` and `delete` do not connect to it at all.
* `offline: true`: when the NAS does not answer, its last known state is kept and reported as
  `unreachable` instead of failing the run (see `ldap_config`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jcqnap.config import ConfigError, load_sandbox, usable_nas
from jcqnap.errors import JcqnapError


@dataclass(frozen=True)
class NasAccess:
    """One `jcqnap:nas[]` entry as the current config has it, with its secret credentials."""

    name: str
    user: str
    host_key: str | None
    password: str | None
    private_key: str | None
    retired: bool = False
    offline: bool = False


_by_address: dict[tuple[str, int], NasAccess] = {}


def _decode(value: Any) -> Any:
    """Structured config reaches providers as JSON text; plain values pass through."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def load(get: Callable[[str], Any]) -> dict[tuple[str, int], NasAccess]:
    """Every usable `jcqnap:nas[]` entry by address, from a `get(key)` over the `jcqnap:` namespace.

    Bad entries are skipped: the program's own config check reports them (a refresh runs before it).
    """
    raw = _decode(get("nas"))
    if not isinstance(raw, list):
        return {}
    try:
        sandbox = load_sandbox(str(get("sandbox"))) if get("sandbox") else None
    except (ConfigError, JcqnapError, OSError, ValueError):
        sandbox = None
    sims = {s["name"]: s for s in (sandbox or {}).get("nas", [])}
    creds = _decode(get("nasCredentials"))
    creds = creds if isinstance(creds, Mapping) else {}
    out: dict[tuple[str, int], NasAccess] = {}
    for spec in usable_nas(raw, sandbox):
        mine = creds.get(spec.name)
        mine = mine if isinstance(mine, Mapping) else {}
        sim = sims.get(spec.sandbox or "")
        password, key = nas_login(mine, sim)
        out[(spec.host, spec.port)] = NasAccess(spec.name, spec.user, spec.host_key, password, key,
                                                spec.retired, spec.offline)
    return out


def nas_login(creds: Mapping[str, Any], sim: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(password, private key) for one NAS: `nasCredentials.<name>` first, else the sandbox simulator's."""
    password = creds.get("password") or None
    key = creds.get("privateKey") or None
    if password is None and key is None and sim is not None:
        password = sim.get("admin_password")
    return (str(password) if password else None), (str(key) if key else None)


def install(entries: dict[tuple[str, int], NasAccess]) -> None:
    """Set the entries for this process (`configure()` does it for the engine; tests call it)."""
    _by_address.clear()
    _by_address.update(entries)


def lookup(props: Mapping[str, Any]) -> NasAccess | None:
    """The current config's entry for the NAS these props address, if the config lists it."""
    try:
        address = (str(props["nas_host"]), int(props.get("nas_port") or 22))
    except (KeyError, TypeError, ValueError):
        return None
    return _by_address.get(address)


def with_current_access(props: Mapping[str, Any]) -> tuple[dict[str, Any], NasAccess | None]:
    """`props` with the login and host key the current config gives (the stored ones when it gives none)."""
    out = dict(props)
    access = lookup(props)
    if access is None:
        return out, None
    out["nas_user"] = access.user
    if access.host_key:
        out["nas_host_key"] = access.host_key
    if access.password or access.private_key:
        out["nas_password"] = access.password
        out["nas_private_key"] = access.private_key
    return out, access
