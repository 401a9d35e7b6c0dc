"""The real project (Pulumi.yaml + __main__.py) as an all-in-one stack on the test sandbox.

Shared by the issue-9 suites (fault matrix, hostile inputs, secrets sweep). The stack config is
written straight into the stack file (one file write instead of a `pulumi config set` per key), and
the emulator and NAS simulators are inspected directly, never through jcqnap.
"""

from __future__ import annotations

import copy
import hashlib
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import yaml

from jcqnap import demo
from jcqnap.qnap.profile import DEFAULT_PROFILE
from jcqnap.sandbox import nas as nas_sim
from jcqnap.sandbox import slapd
from tests.e2e.harness import CliResult, PulumiProject

BIND_USER = "samba-bind"
WORKGROUP = "JCQNAP"
BASE_GROUPS: list[dict[str, Any]] = [
    {"name": "NAS Users", "linuxName": "nas-users", "gid": 5101, "members": ["alice", "carol"]},
    {"name": "NAS Admins", "linuxName": "nas-admins", "gid": 5102, "members": ["carol"]},
]
NAS_NAMES = ("site-a", "site-b")
NAS_FILES = ("ulinux_conf", "smb_conf", "nss_ldap_conf", "root_secret", "ca_cert")


def base_config(sandbox: dict[str, Any], role: str = "all-in-one") -> dict[str, Any]:
    return {
        "jcqnap:role": role,
        "jcqnap:sandbox": str(Path(sandbox["state_dir"]) / "sandbox.json"),
        "jcqnap:bindUser": {"username": BIND_USER, "email": f"{BIND_USER}@example.com"},
        "jcqnap:workgroup": WORKGROUP,
        "jcqnap:groups": copy.deepcopy(BASE_GROUPS),
        "jcqnap:nas": [{"name": n, "sandbox": n} for n in NAS_NAMES],
    }


def _holds_secret(value: Any) -> bool:
    """A stack-file value that is, or contains (`config set --secret --path`), a `secure:` ciphertext."""
    if isinstance(value, dict):
        return "secure" in value or any(_holds_secret(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secret(v) for v in value)


class Stack:
    """A `PulumiProject` of the real project root whose config lives in its stack file."""

    def __init__(self, p: PulumiProject, config: dict[str, Any]) -> None:
        self.p = p
        self.file = p.dir / "stacks" / f"Pulumi.{p.stack}.yaml"
        for other in (p.dir / "stacks").glob("Pulumi.local*.yaml"):
            other.unlink()  # the repo's own local stacks are not ours
        self.config: dict[str, Any] = {}
        self.upped = False
        self.write(config)

    def write(self, config: dict[str, Any]) -> None:
        doc = yaml.safe_load(self.file.read_text()) if self.file.exists() else {}
        doc = doc or {}
        # Secrets set with `pulumi config set --secret` (ciphertext) stay unless overwritten.
        kept = {k: v for k, v in (doc.get("config") or {}).items() if _holds_secret(v)}
        doc["config"] = {**kept, **copy.deepcopy(config)}
        self.config = copy.deepcopy(config)
        self.file.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))

    def update(self, **changes: Any) -> None:
        cfg = copy.deepcopy(self.config)
        for key, value in changes.items():
            full = f"jcqnap:{key}"
            if value is None:
                cfg.pop(full, None)
            else:
                cfg[full] = value
        self.write(cfg)

    @property
    def groups(self) -> list[dict[str, Any]]:
        return list(self.config.get("jcqnap:groups", []))

    def up(self, *extra: str) -> CliResult:
        res = self.p.up(*extra)
        self.upped = self.upped or res.returncode == 0
        return res


class Emulator:
    """Plain HTTP access to the JumpCloud emulator (x-api-key) and its test hooks."""

    def __init__(self, sandbox: dict[str, Any]) -> None:
        info = sandbox["jumpcloud"]
        self.api = info["api_url"]
        self.hooks = info["sandbox_url"]
        self.ldap_id = info["ldap_server_id"]
        self.s = requests.Session()
        self.s.headers.update({"x-api-key": info["api_key"], "Content-Type": "application/json"})

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.s.request(method, self.api + path, json=body, params=params, timeout=20)
        r.raise_for_status()
        return r.json() if r.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, **params)

    def user_records(self) -> list[dict[str, Any]]:
        return list(self.get("/systemusers", limit=100)["results"])

    def user(self, username: str) -> dict[str, Any]:
        return next(u for u in self.user_records() if u["username"] == username)

    def users(self) -> list[str]:
        return [u["username"] for u in self.user_records()]

    def group_records(self) -> list[dict[str, Any]]:
        return list(self.get("/v2/usergroups", limit=100))

    def group(self, name: str) -> dict[str, Any]:
        return next(g for g in self.group_records() if g["name"] == name)

    def groups(self) -> list[str]:
        return [g["name"] for g in self.group_records()]

    def domain_records(self) -> list[dict[str, Any]]:
        return list(self.get(f"/v2/ldapservers/{self.ldap_id}/sambadomains"))

    def domains(self) -> list[str]:
        return [d["name"] for d in self.domain_records()]

    def faults(self, **cfg: Any) -> None:
        requests.post(f"{self.hooks}/_sandbox/faults", json=cfg, timeout=10).raise_for_status()

    def log(self) -> list[dict[str, Any]]:
        return list(requests.get(f"{self.hooks}/_sandbox/requests", timeout=10).json())

    def clear_log(self) -> None:
        requests.delete(f"{self.hooks}/_sandbox/requests", timeout=10).raise_for_status()

    def reset(self, sandbox: dict[str, Any]) -> list[dict[str, Any]]:
        """Empty the emulator, clear faults and log, and create the demo users (returns them)."""
        requests.post(f"{self.hooks}/_sandbox/reset", timeout=10).raise_for_status()
        self.faults()
        users = demo.seed_demo_users(sandbox)
        self.clear_log()
        return users

    def assert_clean(self, groups: list[dict[str, Any]], bind_user: str = BIND_USER,
                     workgroup: str = WORKGROUP) -> None:
        """Every wanted object exactly once, nothing else (no duplicate, no orphan)."""
        names = Counter(self.groups())
        assert names == Counter(g["name"] for g in groups), f"groups in the emulator: {dict(names)}"
        users = Counter(self.users())
        assert users == Counter(["alice", "bob", "carol", bind_user]), f"users in the emulator: {dict(users)}"
        assert self.domains() == [workgroup]


# -- NAS simulators --------------------------------------------------------------------------------
def in_nas(sandbox: dict[str, Any], nas: str, script: str, *args: str) -> str:
    out = nas_sim.run_in_nas(Path(sandbox["state_dir"]), nas, ["sh", "-c", script, "x", *args])
    return out.stdout


def nas_files(sandbox: dict[str, Any], nas: str) -> str:
    """sha256 of every LDAP-related NAS file, read inside the NAS namespace."""
    paths = [DEFAULT_PROFILE.path(n) for n in NAS_FILES]
    return in_nas(sandbox, nas, 'for f; do sha256sum "$f" 2>/dev/null || echo "- $f"; done', *paths)


def nas_state(sandbox: dict[str, Any]) -> dict[str, str]:
    return {n: nas_files(sandbox, n) for n in NAS_NAMES}


def getcfg(sandbox: dict[str, Any], nas: str, section: str, key: str) -> str:
    return in_nas(sandbox, nas, '/sbin/getcfg "$1" "$2"', section, key).strip()


def running_ldap_uri(sandbox: dict[str, Any], nas: str) -> str:
    """The URI nslcd was last started with (the rendered config, not uLinux.conf)."""
    conf = DEFAULT_PROFILE.path("nss_ldap_conf")
    out = in_nas(sandbox, nas, f"grep '^uri ' {shlex.quote(conf)} || true")
    return out.strip().removeprefix("uri ").strip()


def assert_nas_configured(sandbox: dict[str, Any], security: str = "ldaps") -> None:
    """LDAP on, the wanted port in uLinux.conf, and nslcd running with that very URI."""
    ldap = sandbox["ldap"]
    port = ldap["ldaps_port"] if security == "ldaps" else ldap["starttls_port"]
    scheme = "ldaps" if security == "ldaps" else "ldap"
    for nas in NAS_NAMES:
        assert getcfg(sandbox, nas, "LDAP", "Enable").upper() == "TRUE", nas
        assert getcfg(sandbox, nas, "LDAP", "Port") == str(port), nas
        assert getcfg(sandbox, nas, "System", "Workgroup").upper() == WORKGROUP, nas
        assert running_ldap_uri(sandbox, nas) == f"{scheme}://127.0.0.1:{port}", nas


def slapd_paths(sandbox: dict[str, Any]) -> slapd.SlapdPaths:
    return slapd.SlapdPaths(Path(sandbox["state_dir"]) / "slapd")


def ensure_slapd(sandbox: dict[str, Any]) -> None:
    paths = slapd_paths(sandbox)
    if not slapd.is_running(paths):
        slapd.start(paths, sandbox["ldap"]["starttls_port"], sandbox["ldap"]["ldaps_port"])


def clear_nas_knobs(sandbox: dict[str, Any]) -> None:
    for nas in NAS_NAMES:
        for knob in ("fail-next-apply", "drop-next-apply"):
            (nas_sim.nas_dir(Path(sandbox["state_dir"]), nas) / knob).unlink(missing_ok=True)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def error_lines(output: str) -> list[str]:
    """The distinct `error:` messages of a run, minus the engine's own generic ones."""
    generic = ("update failed", "Resource monitor has terminated", "preview failed", "refresh failed")
    seen: list[str] = []
    for line in output.splitlines():
        if "error:" not in line:
            continue
        msg = line.split("error:", 1)[1].strip()
        if msg and not any(g in msg for g in generic) and msg not in seen:
            seen.append(msg)
    return seen
