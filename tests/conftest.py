"""Shared fixtures for tests that need the sandbox daemons.

- ``sandbox`` (session): runs ``python -m jcqnap.sandbox up`` once in a private state dir
  (``$JCQNAP_SANDBOX_DIR`` is set to it for the session), yields the parsed ``sandbox.json`` and
  runs ``down`` at the end. The dict::

      {"state_dir": str,
       "jumpcloud": {"api_url": "http://127.0.0.1:<port>/api", "api_key", "org_id",
                     "ldap_server_id", "sandbox_url": "http://127.0.0.1:<port>"},
       "ldap": {"uri": "ldaps://127.0.0.1:<p>", "starttls_uri": "ldap://127.0.0.1:<p>", "ca_cert",
                "base_dn", "users_base_dn", "host", "ldaps_port", "starttls_port"},
       "nas": [...]}   # only when jcqnap.sandbox.nas exists

- ``jc_reset`` (function, not autouse): empties the emulator (and its LDAP projection), clears
  faults and the request log, then yields the same dict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def sandbox_cli(state_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m jcqnap.sandbox <args>`` against ``state_dir``; output captured."""
    env = {**os.environ, "JCQNAP_SANDBOX_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "jcqnap.sandbox", *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("sandbox")
    previous = os.environ.get("JCQNAP_SANDBOX_DIR")
    os.environ["JCQNAP_SANDBOX_DIR"] = str(state_dir)
    try:
        res = sandbox_cli(state_dir, "up")
        if res.returncode != 0:
            pytest.fail(f"sandbox up failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        yield json.loads((state_dir / "sandbox.json").read_text())
    finally:
        sandbox_cli(state_dir, "down")
        if previous is None:
            os.environ.pop("JCQNAP_SANDBOX_DIR", None)
        else:
            os.environ["JCQNAP_SANDBOX_DIR"] = previous


@pytest.fixture
def jc_reset(sandbox: dict[str, Any]) -> dict[str, Any]:
    base = sandbox["jumpcloud"]["sandbox_url"]
    requests.post(f"{base}/_sandbox/reset", timeout=10).raise_for_status()
    requests.delete(f"{base}/_sandbox/faults", timeout=10).raise_for_status()
    requests.delete(f"{base}/_sandbox/requests", timeout=10).raise_for_status()
    return sandbox
