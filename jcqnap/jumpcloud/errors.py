"""Typed JumpCloud API errors: callers catch meaning, not status codes.

Every message is one line: the method and path (never the query string, which may carry a filter
with a user name, and never a header), what the service answered, and what to do about it. The API
key and any password the client was handed are redacted from the service's own message, and request
bodies are never quoted.
"""

from __future__ import annotations

from jcqnap.errors import JcqnapError


class JumpCloudError(JcqnapError):
    """Any failed JumpCloud call. `status` is the HTTP status, or None when nothing came back."""

    fix = "check the JumpCloud admin console and retry"

    def __init__(
        self,
        method: str,
        path: str,
        what: str,
        status: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.what = what
        self.status = status
        self.fix_hint = fix or self.fix
        code = f" ({status})" if status is not None else ""
        super().__init__(f"JumpCloud {method} {path}: {what}{code}; {self.fix_hint}")


class NotFound(JumpCloudError):
    fix = "the object is gone; a refresh (`pulumi up --refresh`) recreates it"


class AlreadyExists(JumpCloudError):
    fix = "an object with this name exists and does not match; rename it here or remove it in JumpCloud"


class Conflict(JumpCloudError):
    fix = "the object is still in use (e.g. the Samba service account); clear that first and retry"


class AuthError(JumpCloudError):
    fix = (
        "check `pulumi config set --secret jcqnap:jumpcloudApiKey` (and jcqnap:jumpcloudOrgId for a "
        "multi-tenant key); a 403 'IP blocked' needs JumpCloud support"
    )


class ValidationError(JumpCloudError):
    """The service rejected the request body; `field` names the offending field when it said so."""

    fix = "correct the value named here in the stack's inputs"

    def __init__(
        self,
        method: str,
        path: str,
        what: str,
        status: int | None = None,
        fix: str | None = None,
        field: str | None = None,
    ) -> None:
        self.field = field
        if field:
            what = f"invalid {field}: {what}"
        super().__init__(method, path, what, status, fix)


class RateLimited(JumpCloudError):
    fix = "JumpCloud kept answering 429 after all retries; wait a minute and run again"


class ServerError(JumpCloudError):
    fix = "JumpCloud failed after all retries; run again later (the run is safe to repeat)"


class Timeout(JumpCloudError):
    fix = "JumpCloud did not answer in time; check connectivity or raise jcqnap:jumpcloudTimeout"


class Unreachable(JumpCloudError):
    fix = "check jcqnap:jumpcloudApiUrl, DNS and the network path to JumpCloud"
