"""What the JumpCloud resources share: connection settings, and a client per call.

The default settings come from `configure()` (the stack config, decrypted by the engine) and live in
this module's memory inside the provider process. They are never set on the provider instance, which
the engine pickles into state, and the client (a live HTTP session) is built per call.

A resource may carry its own connection instead (`jcqnap.JumpCloudConnection`, so one program can
manage two orgs): it arrives as the secret input `connection` {api_url, api_key, org_id, timeout},
is kept in the outputs (secret: the engine stores it as ciphertext) so that refresh and delete reach
the same org, and wins over the stack config. Moving a resource to another org (URL or org id)
replaces it; a new API key for the same org is an in-place update that only stores the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import CheckFailure, ConfigureRequest, DiffResult, ReadResult

from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import DEFAULT_API_URL, EU_API_URL, JumpCloudClient, JumpCloudSettings
from jcqnap.providers.base import JcqnapProvider, config_value, failure, is_unknown, secret

#: Stack config keys (namespace `jcqnap:`).
API_URL_KEY = "jumpcloudApiUrl"
API_KEY_KEY = "jumpcloudApiKey"
ORG_ID_KEY = "jumpcloudOrgId"
#: Optional: read timeout in seconds for each JumpCloud call (connect timeout stays 5 s).
TIMEOUT_KEY = "jumpcloudTimeout"
#: Local sandbox stacks: path of sandbox.json, which holds the emulator's URL, key and org id.
SANDBOX_KEY = "sandbox"

_settings: JumpCloudSettings | None = None
_config_error: str | None = None


def sandbox_settings(path: str) -> dict[str, str]:
    """Connection settings of the local sandbox (`jcqnap:sandbox` points at its sandbox.json).

    Local stacks read the emulator's URL and key from the sandbox file instead of keeping a secret
    in their stack file; the key then lives only in this process's memory.
    """
    from jcqnap.config import ConfigError, load_sandbox

    try:
        doc = load_sandbox(path)
    except ConfigError as exc:
        raise JcqnapError(str(exc)) from None
    jc = (doc or {})["jumpcloud"]
    return {API_URL_KEY: jc["api_url"], API_KEY_KEY: jc["api_key"], ORG_ID_KEY: jc["org_id"]}


def settings_from_config(get: Any) -> JumpCloudSettings:
    """Build settings from a `get(key)` over the `jcqnap:` config namespace."""
    sandbox_path = get(SANDBOX_KEY)
    if sandbox_path:
        from_sandbox = sandbox_settings(str(sandbox_path))
        plain_get = get

        def get(key: str) -> Any:
            return from_sandbox.get(key) or plain_get(key)

    api_key = get(API_KEY_KEY)
    if not api_key:
        raise JcqnapError(
            "JumpCloud API key is not set; run `pulumi config set --secret jcqnap:jumpcloudApiKey <key>`"
        )
    if not str(api_key).isascii() or any(ch.isspace() or not ch.isprintable() for ch in str(api_key)):
        # It goes into an HTTP header; say so here rather than with the HTTP library's words.
        raise JcqnapError(
            "jcqnap:jumpcloudApiKey holds spaces, control or non-ASCII characters, which no API key has; "
            "set it again with: pulumi config set --secret jcqnap:jumpcloudApiKey <key>"
        )
    url = str(get(API_URL_KEY) or "").strip() or None
    if url is not None and url.lower() == "eu":
        url = EU_API_URL
    if url is not None and not url.startswith(("https://", "http://")):
        raise JcqnapError(
            f"jcqnap:jumpcloudApiUrl must be an http(s) URL such as {EU_API_URL}, not {url!r}"
        )
    timeout = get(TIMEOUT_KEY)
    kwargs: dict[str, Any] = {}
    if url:
        kwargs["api_url"] = url
    if timeout not in (None, ""):
        try:
            kwargs["read_timeout"] = float(timeout)
        except ValueError as exc:
            raise JcqnapError(f"jcqnap:jumpcloudTimeout must be a number of seconds, not {timeout!r}") from exc
    org = get(ORG_ID_KEY)
    return JumpCloudSettings(api_key=str(api_key), org_id=str(org) if org else None, **kwargs)


def set_settings(settings: JumpCloudSettings | None) -> None:
    """Install settings for this process (tests; `configure()` does it for the engine)."""
    global _settings, _config_error
    _settings = settings
    _config_error = None


#: The resource input/output holding an explicit connection.
CONNECTION = "connection"


def settings_from_connection(conn: Mapping[str, Any]) -> JumpCloudSettings:
    """Settings from an explicit connection (already validated by `check_connection`)."""
    url = str(conn.get("api_url") or "").strip()
    kwargs: dict[str, Any] = {"api_url": EU_API_URL if url.lower() == "eu" else url} if url else {}
    if conn.get("timeout") not in (None, ""):
        kwargs["read_timeout"] = float(conn["timeout"])
    org = conn.get("org_id")
    return JumpCloudSettings(api_key=str(conn.get("api_key") or ""), org_id=str(org) if org else None, **kwargs)


def check_connection(news: Mapping[str, Any]) -> list[CheckFailure]:
    """Failures naming `connection.<field>` for a malformed explicit connection (none when absent)."""
    conn = news.get(CONNECTION)
    if conn is None or is_unknown(conn):
        return []
    if not isinstance(conn, Mapping):
        return [failure(CONNECTION, "pass a jcqnap.JumpCloudConnection(api_key=..., api_url=..., org_id=...)")]
    out = []
    if not conn.get("api_key"):
        out.append(failure("connection.api_key", "set the JumpCloud API key (as a secret)"))
    url = str(conn.get("api_url") or "").strip()
    if url and url.lower() != "eu" and not url.startswith(("https://", "http://")):
        out.append(failure("connection.api_url", f"must be an http(s) URL such as {EU_API_URL}, not {url!r}"))
    timeout = conn.get("timeout")
    if timeout not in (None, ""):
        try:
            if float(timeout) <= 0:
                raise ValueError
        except (TypeError, ValueError):
            out.append(failure("connection.timeout", f"must be a positive number of seconds, not {timeout!r}"))
    return out


def _org_key(conn: Any) -> tuple[str, str]:
    """What identifies the org a connection reaches: URL and org id (not the key).

    No explicit connection means the stack config's, as `configure()` read it.
    """
    if not isinstance(conn, Mapping):
        if _settings is None:
            return ("", "")
        return (_settings.api_url.rstrip("/").lower(), _settings.org_id or "")
    url = str(conn.get("api_url") or "").strip().rstrip("/").lower() or DEFAULT_API_URL.rstrip("/").lower()
    return (EU_API_URL.rstrip("/").lower() if url == "eu" else url, str(conn.get("org_id") or ""))


def with_connection_diff(result: DiffResult, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffResult:
    """Add the connection to a field diff: another org replaces the resource, a new key updates it."""
    old, new = olds.get(CONNECTION), news.get(CONNECTION)
    if old is None and new is None:
        return result
    replaces = list(result.replaces or [])
    changed = False
    if is_unknown(new) or _org_key(old) != _org_key(new):
        changed = True
        replaces.append(CONNECTION)
    else:
        # Same org: a new key (or timeout), or a switch to/from the stack config's connection for it.
        changed = any((old or {}).get(k) != (new or {}).get(k) for k in ("api_key", "timeout", "api_url", "org_id"))
    if not changed:
        return result
    return DiffResult(
        changes=True,
        replaces=replaces,
        stables=[f for f in (result.stables or []) if f != CONNECTION],
        delete_before_replace=bool(replaces),
    )


def keep_connection(props_out: dict[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs (and the inputs `read` returns) carry the explicit connection, when there is one, for
    later reads and deletes; marked secret, since the dynamic host does not accept secrets and the
    engine would otherwise keep only what the resource's `additional_secret_outputs` names."""
    if props.get(CONNECTION) is not None:
        props_out[CONNECTION] = secret(props[CONNECTION])
    return props_out


def client(secrets: list[str] | None = None, connection: Any = None) -> JumpCloudClient:
    """A fresh client for this call, on `connection` when given, else the stack config's. Close it."""
    if isinstance(connection, Mapping):
        settings = settings_from_connection(connection)
        return JumpCloudClient(settings, secrets=[s for s in secrets or [] if s])
    if _settings is None:
        raise JcqnapError(
            _config_error
            or "JumpCloud is not configured: set jcqnap:jumpcloudApiKey (and jcqnap:jumpcloudApiUrl, "
            "jcqnap:jumpcloudOrgId) in the stack config"
        )
    return JumpCloudClient(_settings, secrets=[s for s in secrets or [] if s])


def gone() -> ReadResult:
    """What `read` returns when the object no longer exists: the engine drops it from state."""
    return ReadResult(id_="", outs={})


def as_int(value: Any) -> Any:
    """Numbers reach providers as floats; GIDs and UIDs are ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class JumpCloudProvider(JcqnapProvider):
    """Base of the JumpCloud resource providers: reads the connection settings in `configure()`.

    A missing API key is remembered, not raised, so `check` can still validate inputs; the first call
    that needs JumpCloud reports it.
    """

    def configure(self, req: ConfigureRequest) -> None:
        super().configure(req)
        global _settings, _config_error
        try:
            _settings = settings_from_config(lambda key: config_value(req, key))
            _config_error = None
        except JcqnapError as exc:
            _settings = None
            _config_error = str(exc)
