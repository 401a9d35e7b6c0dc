"""``python -m jcqnap.sandbox up|down|status``: idempotent, secrets off the command line, nothing left behind."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from jcqnap.sandbox import process
from tests.conftest import sandbox_cli

pytestmark = pytest.mark.integration


def pids(state: Path) -> dict[str, int | None]:
    return {
        "slapd": process.read_pid(state / "slapd" / "slapd.pid"),
        "emulator": process.read_pid(state / "jumpcloud" / "emulator.pid"),
        "weed": process.read_pid(state / "s3" / "weed.pid"),
    }


def test_up_down_status_are_idempotent_and_leave_no_process(tmp_path: Path) -> None:
    state = tmp_path / "sbx"
    assert sandbox_cli(state, "status").returncode == 3
    first = sandbox_cli(state, "up", "--nas", "0", "--s3")
    assert first.returncode == 0, first.stderr
    info = json.loads((state / "sandbox.json").read_text())
    assert stat.S_IMODE((state / "sandbox.json").stat().st_mode) == 0o600
    jc, ldap = info["jumpcloud"], info["ldap"]
    assert re.fullmatch(r"[0-9a-f]{24}", jc["org_id"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", jc["api_url"])
    assert ldap["uri"].startswith("ldaps://127.0.0.1:") and ldap["starttls_uri"].startswith("ldap://127.0.0.1:")
    assert ldap["base_dn"] == f"o={jc['org_id']},dc=jumpcloud,dc=com" and Path(ldap["ca_cert"]).exists()
    s3 = info["s3"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", s3["endpoint"]) and s3["bucket"] == "jcqnap-state"
    assert s3["backend_url"] == (f"s3://jcqnap-state?endpoint={s3['endpoint']}&s3ForcePathStyle=true"
                                 "&disableSSL=true&region=us-east-1")
    assert stat.S_IMODE((state / "s3" / "s3.json").stat().st_mode) == 0o600
    running = pids(state)
    assert all(p is not None and process.pid_alive(p) for p in running.values())

    # The API key is in sandbox.json only: not on a command line, not in any other file.
    for pid in running.values():
        assert pid is not None and jc["api_key"] not in process.pid_cmdline(pid)
        assert s3["secret_key"] not in process.pid_cmdline(pid)
    for path in state.rglob("*"):
        if path.is_file() and path.name != "sandbox.json" and path.stat().st_size < 5_000_000:
            assert jc["api_key"].encode() not in path.read_bytes(), path

    second = sandbox_cli(state, "up", "--nas", "0")
    assert second.returncode == 0, second.stderr
    assert pids(state) == running
    assert json.loads((state / "sandbox.json").read_text()) == info
    assert sandbox_cli(state, "status").returncode == 0

    # A dead emulator is restarted by the next `up`, with the same key and org.
    emulator_pid = running["emulator"]
    assert emulator_pid is not None and process.stop_pid(emulator_pid)
    assert sandbox_cli(state, "status").returncode == 3
    assert sandbox_cli(state, "up", "--nas", "0").returncode == 0
    again = json.loads((state / "sandbox.json").read_text())
    assert again["jumpcloud"]["api_key"] == jc["api_key"] and again["jumpcloud"]["org_id"] == jc["org_id"]
    running = pids(state)

    for _ in range(2):
        res = sandbox_cli(state, "down")
        assert res.returncode == 0, res.stderr
    assert all(p is not None and not process.pid_alive(p) for p in running.values())
    assert sandbox_cli(state, "status").returncode == 3
