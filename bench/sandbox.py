"""The benchmark's own sandbox: started in a temp dir, stopped at the end (always), and the
counters the figures come from (the emulator's request log, the NAS simulators' sshd logs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TIMEOUT = 30


@dataclass
class Calls:
    """What the emulator logged between two marks."""

    log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.log)

    @property
    def gets(self) -> int:
        return sum(1 for r in self.log if r["method"] == "GET")

    @property
    def writes(self) -> int:
        return sum(1 for r in self.log if r["method"] in WRITES)

    def per_object_gets(self, shared_ids: set[str]) -> int:
        """GETs of one object or of a list under it (a path with an id not in `shared_ids`, e.g. the
        LDAP server's); the other GETs are list pages shared by every object."""
        n = 0
        for r in self.log:
            ids = {p for p in r["path"].split("/") if _is_id(p)}
            if r["method"] == "GET" and ids - shared_ids:
                n += 1
        return n

    def repeated_list_pages(self, shared_ids: set[str]) -> int:
        """List pages (not per object) fetched more than once with the same query."""
        seen: Counter[str] = Counter()
        for r in self.log:
            ids = {p for p in r["path"].split("/") if _is_id(p)}
            if r["method"] == "GET" and not ids - shared_ids:
                seen[f"{r['path']}?{r.get('query') or ''}"] += 1
        return sum(n - 1 for n in seen.values())

    @property
    def throttled(self) -> int:
        return sum(1 for r in self.log if r["status"] == 429)

    def by_route(self) -> Counter[str]:
        """Method and path with ids folded, e.g. `GET /api/v2/usergroups/{id}/members`."""
        out: Counter[str] = Counter()
        for r in self.log:
            parts = ["{id}" if _is_id(p) else p for p in r["path"].split("/")]
            out[f"{r['method']} {'/'.join(parts)}"] += 1
        return out


def _is_id(segment: str) -> bool:
    return len(segment) == 24 and all(c in "0123456789abcdef" for c in segment)


class BenchSandbox:
    """`python -m jcqnap.sandbox up|down` with JCQNAP_SANDBOX_DIR set to `state`."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {**os.environ, "JCQNAP_SANDBOX_DIR": str(state)}
        self.info: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def up(self) -> None:
        subprocess.run([sys.executable, "-m", "jcqnap.sandbox", "up"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True, text=True, timeout=300)
        self.info = json.loads((self.state / "sandbox.json").read_text())

    def down(self) -> None:
        subprocess.run([sys.executable, "-m", "jcqnap.sandbox", "down"], cwd=ROOT, env=self.env, check=False,
                       capture_output=True, text=True, timeout=300)

    @property
    def json_path(self) -> Path:
        return self.state / "sandbox.json"

    @property
    def api(self) -> str:
        return str(self.info["jumpcloud"]["api_url"])

    @property
    def hooks(self) -> str:
        return str(self.info["jumpcloud"]["sandbox_url"]) + "/_sandbox"

    @property
    def ldap_server_id(self) -> str:
        return str(self.info["jumpcloud"]["ldap_server_id"])

    @property
    def nas_names(self) -> list[str]:
        return [str(n["name"]) for n in self.info["nas"]]

    # -- emulator ------------------------------------------------------------------------------
    def set_faults(self, **faults: Any) -> dict[str, Any]:
        resp = requests.post(f"{self.hooks}/faults", json=faults, timeout=TIMEOUT)
        resp.raise_for_status()
        return dict(resp.json())

    def clear_requests(self) -> None:
        requests.delete(f"{self.hooks}/requests", timeout=TIMEOUT).raise_for_status()

    def requests_log(self) -> Calls:
        resp = requests.get(f"{self.hooks}/requests", timeout=TIMEOUT)
        resp.raise_for_status()
        return Calls(list(resp.json()))

    @property
    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self.info["jumpcloud"]["api_key"], "Content-Type": "application/json"}

    def create_users(self, usernames: list[str]) -> dict[str, str]:
        """Create the people groups will name as members (as an admin would in the console); name -> id."""
        headers = self._headers

        def one(username: str) -> tuple[str, str]:
            body = {"username": username, "email": f"{username}@example.com", "firstname": username,
                    "lastname": "Bench", "password": f"Bench-{username}-pw1!", "activated": True}
            resp = requests.post(f"{self.api}/systemusers", json=body, headers=headers, timeout=TIMEOUT)
            resp.raise_for_status()
            return username, str(resp.json()["_id"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            return dict(pool.map(one, usernames))

    def create_groups(self, groups: dict[str, list[str]]) -> None:
        """Groups jcqnap does not manage (name -> member user ids), made through the API like an admin would."""
        headers = self._headers

        def one(item: tuple[str, list[str]]) -> None:
            name, members = item
            resp = requests.post(f"{self.api}/v2/usergroups", json={"name": name}, headers=headers, timeout=TIMEOUT)
            resp.raise_for_status()
            gid = resp.json()["id"]
            for uid in members:
                requests.post(f"{self.api}/v2/usergroups/{gid}/members", json={"op": "add", "type": "user", "id": uid},
                              headers=headers, timeout=TIMEOUT).raise_for_status()

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, groups.items()))

    def count_groups(self) -> int:
        resp = requests.get(f"{self.api}/v2/usergroups", params={"limit": 1}, headers=self._headers, timeout=TIMEOUT)
        resp.raise_for_status()
        return int(resp.headers["x-total-count"])

    # -- NAS simulators ------------------------------------------------------------------------
    def ssh_sessions(self) -> dict[str, int]:
        """Accepted SSH logins per NAS since the simulator started (sshd's own log)."""
        out = {}
        for name in self.nas_names:
            log = self.state / "nas" / name / "logs" / "sshd.log"
            text = log.read_text(errors="replace") if log.exists() else ""
            out[name] = sum(1 for line in text.splitlines() if "Accepted" in line)
        return out

    def nas_commands(self) -> dict[str, int]:
        """Commands run per NAS so far (the simulator's commands.jsonl)."""
        out = {}
        for name in self.nas_names:
            log = self.state / "nas" / name / "logs" / "commands.jsonl"
            out[name] = len(log.read_text().splitlines()) if log.exists() else 0
        return out


@dataclass
class Mark:
    """Counters at one moment; `since()` on a later moment gives what happened in between."""

    sandbox: BenchSandbox
    ssh: dict[str, int] = field(default_factory=dict)

    @classmethod
    def now(cls, sandbox: BenchSandbox) -> Mark:
        sandbox.clear_requests()
        return cls(sandbox, sandbox.ssh_sessions())

    def since(self) -> tuple[Calls, dict[str, int]]:
        after = self.sandbox.ssh_sessions()
        return self.sandbox.requests_log(), {k: after[k] - self.ssh.get(k, 0) for k in after}
