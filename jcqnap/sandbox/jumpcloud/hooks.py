"""Test hooks that wrap the HTTP layer only: fault injection and the request log.

The log keeps ``{method, path, query, status}`` per ``/api`` request, oldest first. ``query`` is the
raw query string. Bodies and headers are never kept, so neither the API key nor a password can
leak through it.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from jcqnap.sandbox.jumpcloud.exceptions import BadRequest

LOG_LIMIT = 20000


@dataclass(frozen=True)
class FaultConfig:
    """``status`` (e.g. 429, 500, 503) on a ``rate`` fraction of API requests, after ``latency_ms``."""

    status: int | None = None
    rate: float = 1.0
    retry_after: int | None = None
    latency_ms: int = 0

    @classmethod
    def parse(cls, body: Any) -> FaultConfig:
        """From ``POST /_sandbox/faults``; ``{}`` or ``{"status": null}`` (and no latency) clears."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise BadRequest("faults: body must be a JSON object")
        status = body.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
            raise BadRequest("faults: status must be an HTTP error code (400-599) or null")
        rate = body.get("rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise BadRequest("faults: rate must be a number between 0 and 1")
        retry_after = body.get("retry_after")
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int | float)
                                        or retry_after < 0):
            raise BadRequest("faults: retry_after must be a non-negative number of seconds")
        latency = body.get("latency_ms", 0) or 0
        if isinstance(latency, bool) or not isinstance(latency, int | float) or not 0 <= latency <= 60000:
            raise BadRequest("faults: latency_ms must be between 0 and 60000")
        return cls(status, float(rate), None if retry_after is None else int(retry_after), int(latency))

    def pick(self, rng: random.Random) -> bool:
        """True when this request should get the injected ``status``."""
        return self.status is not None and rng.random() < self.rate


class Hooks:
    """Fault configuration and the request log, shared by the server's threads."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.faults = FaultConfig()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)

    def set_faults(self, faults: FaultConfig) -> None:
        with self._lock:
            self.faults = faults

    def fault_for_request(self) -> tuple[FaultConfig, bool]:
        with self._lock:
            return self.faults, self.faults.pick(self._rng)

    def faults_dict(self) -> dict[str, Any]:
        return asdict(self.faults)

    def record(self, method: str, path: str, query: str, status: int) -> None:
        with self._lock:
            self._log.append({"method": method, "path": path, "query": query, "status": status})

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self) -> None:
        with self._lock:
            self.faults = FaultConfig()
            self._log.clear()
