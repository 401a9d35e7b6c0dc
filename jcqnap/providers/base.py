"""Shared machinery for jcqnap's dynamic providers.

Rules every provider follows (see docs in README "How the providers work"):

* `diff` compares the *outputs* stored in state (what the object looked like after the last
  create/update/read) with the new inputs, and sets `changes` and `replaces` explicitly, so drift
  found by `read` shows up in `preview --refresh`.
* `read` returns the inputs as the service has them (not only the outputs). The engine stores them
  as the resource's inputs, so the update `preview --refresh --diff` proposes marks each drifted
  field (`~ field: old => new`, the CLI prints old inputs against new ones), and `ignore_changes`
  keeps the refreshed value (the engine swaps the old input into the new ones, and `diff` then
  finds it equal to the stored output). Fields that are not inputs but always wanted (flags) are
  set by `check`, so they show too. An optional input the provider generated when omitted (a
  password, a SID) is returned only when the user gave it, or the diff would show it removed.
  Secret inputs are returned wrapped with `secret()`.
* During `preview`, inputs that are not known yet arrive as `UNKNOWN`; they count as a change, and as
  a replacement when the field forces one.
* The provider object is pickled by reference into state, so it holds only plain data. Clients
  (HTTP sessions, SSH connections) are built per call from inputs or from `configure()`.
* Credentials come from secret inputs or from `configure()` (the stack config, decrypted), never
  from fields pickled on the provider.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi.dynamic import CheckFailure, ConfigureRequest, DiffResult, ResourceProvider

from jcqnap.errors import JcqnapError

#: The value the engine sends for an input that is not known during preview.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

Normalizer = Callable[[Any], Any]


def is_unknown(value: Any) -> bool:
    """True when `value` (or anything inside it) is not known yet (during preview).

    `check` and `diff` receive unknowns as `pulumi.output.Unknown` objects (the SDK deserializes
    with `keep_unknowns`); other paths may carry the raw sentinel string.
    """
    from pulumi.output import Unknown

    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def diff_fields(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    fields: Iterable[str],
    replace_on: Iterable[str] = (),
    normalize: Mapping[str, Normalizer] | None = None,
    optional: Iterable[str] = (),
) -> DiffResult:
    """Compare stored outputs with new inputs field by field.

    `replace_on` fields force a replacement. `optional` fields are compared only when the new inputs
    set them (e.g. a password that is generated when omitted). `normalize` maps a field to a
    function applied to both sides before comparing (e.g. upper-casing a workgroup, sorting members).
    """
    replace_set = set(replace_on)
    optional_set = set(optional)
    norms = normalize or {}
    changes: list[str] = []
    replaces: list[str] = []
    for field in fields:
        new = news.get(field)
        if field in optional_set and new is None:
            continue
        old = olds.get(field)
        if is_unknown(new):
            changed = True
        else:
            fn = norms.get(field)
            changed = (fn(old) if fn else old) != (fn(new) if fn else new)
        if changed:
            changes.append(field)
            if field in replace_set:
                replaces.append(field)
    return DiffResult(
        changes=bool(changes),
        replaces=replaces,
        stables=[f for f in fields if f not in changes],
        delete_before_replace=bool(replaces),
    )


def failure(field: str, reason: str) -> CheckFailure:
    """A check failure whose reason names the field, what is wrong, and (in `reason`) the fix."""
    return CheckFailure(field, f"{field}: {reason}")


def sorted_unique(values: Any) -> list[Any]:
    """Normalizer for set-like list inputs (members, group names)."""
    if values is None:
        return []
    return sorted(set(values))


def secret(value: Any) -> Any:
    """`value` marked secret for the engine, in what `read` returns as inputs.

    The dynamic provider host tells the engine it does not accept secrets, so the engine keeps a
    returned value secret only when the old input of that name was; a value the user did not give
    (a generated password) would land in state in plaintext. The explicit marker always holds.
    """
    from pulumi.runtime.rpc import wrap_rpc_secret

    return None if value is None else wrap_rpc_secret(value)


def config_value(req: ConfigureRequest, key: str) -> Any:
    """Read `jcqnap:<key>` from the stack config the engine hands to `configure()`.

    The stack config arrives decrypted; it is kept only in the provider process's memory.
    """
    return req.config.get(f"jcqnap:{key}")


class JcqnapProvider(ResourceProvider):
    """Base class: turns jcqnap's own errors into the one-line message the user sees.

    The dynamic provider host formats any exception with `traceback.format_exc()`, which would show
    a Python traceback under every `pulumi up` error. For errors jcqnap raised on purpose (they
    already say what failed, where, and what to do) only the message is worth showing, so the
    formatter is narrowed to them, once per provider process.
    """

    def configure(self, req: ConfigureRequest) -> None:
        _install_short_errors()


_installed = False


def _install_short_errors() -> None:
    global _installed
    if _installed:
        return
    original: Callable[..., str] = traceback.format_exc

    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, JcqnapError):
            return str(exc)
        return original(limit, chain)

    traceback.format_exc = format_exc
    _installed = True
