"""The root of jcqnap's error hierarchy.

Every error jcqnap raises on purpose derives from `JcqnapError` and carries one line that says what
failed, where, and what to do. It never contains a secret (API key, password, NT hash, SSH key).
"""

from __future__ import annotations


class JcqnapError(Exception):
    """An expected failure with a message fit for the user: what, where, and the fix."""


def redact(text: str, secrets: list[str | None]) -> str:
    """Replace every non-empty secret in `text` with `***`, longest first."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
