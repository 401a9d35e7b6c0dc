"""What the JumpCloud resources share: connection settings from the stack config, and a client per call.

The settings come from `configure()` (the stack config, decrypted by the engine) and live in this
module's memory inside the provider process. They are never set on the provider instance, which
the engine pickles into state, and the client (a live HTTP session) is built per call.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import ConfigureRequest, ReadResult

from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import EU_API_URL, JumpCloudClient, JumpCloudSettings
from jcqnap.providers.base import JcqnapProvider, config_value

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


def client(secrets: list[str] | None = None) -> JumpCloudClient:
    """A fresh client for this call. Close it (use `with`)."""
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
