"""jcqnap.fleet without Pulumi: which stacks, in which order, what the exit code and the table say, and the
gate that holds a site until its directory is saved. (tests/e2e/test_fleet.py runs all of it for real.)"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from jcqnap.errors import JcqnapError
from jcqnap.fleet import gate
from jcqnap.fleet.cli import rotation_windows
from jcqnap.fleet.progress import StackRun, summary_table
from jcqnap.fleet.runner import exit_code
from jcqnap.fleet.stacks import discover, phases


def project(tmp_path: Path, stacks: dict[str, str]) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: jcqnap\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks").mkdir()
    for name, body in stacks.items():
        (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(body)
    (tmp_path / "stacks" / "Pulumi.example-site.yaml.example").write_text("config: {}\n")
    return tmp_path


def test_discover_roles_patterns_and_order(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "prod-directory": "config:\n  jcqnap:role: directory\n",
        "prod-site-b": "config:\n  jcqnap:role: site\n  jcqnap:directoryStack: organization/jcqnap/prod-directory\n",
        "prod-site-a": "config:\n  jcqnap:role: site\n  jcqnap:directoryStack: prod-directory\n",
        "lab": "config:\n  jcqnap:workgroup: LAB\n",
    })
    stacks = discover(root, ["prod-*"])
    assert [(s.name, s.role, s.directory) for s in stacks] == [
        ("prod-directory", "directory", None),
        ("prod-site-a", "site", "prod-directory"),
        ("prod-site-b", "site", "prod-directory"),
    ]
    first, sites = phases(discover(root))
    assert [s.name for s in first] == ["lab", "prod-directory"]  # all-in-one (the default role) runs first too
    assert [s.name for s in sites] == ["prod-site-a", "prod-site-b"]
    with pytest.raises(JcqnapError, match="no stack file matching nope"):
        discover(root, ["nope"])


def test_bad_role_is_named(tmp_path: Path) -> None:
    root = project(tmp_path, {"x": "config:\n  jcqnap:role: sight\n"})
    with pytest.raises(JcqnapError, match=r"jcqnap:role must be one of directory, site, all-in-one, got 'sight'"):
        discover(root)


def run(name: str, result: str, **kw: object) -> StackRun:
    r = StackRun(name, "site", result=result, started=0.0, ended=1.5)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


def test_exit_codes_and_summary_table() -> None:
    assert exit_code([run("a", "ok"), run("b", "updated")]) == 0
    assert exit_code([run("a", "ok"), run("b", "drift")]) == 7
    assert exit_code([run("a", "drift"), run("b", "skipped")]) == 1
    assert exit_code([run("a", "failed"), run("b", "ok")]) == 1
    table = summary_table([run("site-a", "drift", changes={"update": 1, "same": 3, "read": 1},
                               detail="1 update pending; apply with `fleet up`"), run("site-b", "ok")])
    lines = table.splitlines()
    assert lines[0].split() == ["stack", "role", "result", "changes", "duration"]
    assert lines[2].split() == ["site-a", "site", "drift", "1", "update", "1.5s"]
    assert lines[3].split() == ["site-b", "site", "ok", "none", "1.5s"]
    assert lines[4] == "site-a: 1 update pending; apply with `fleet up`"


def test_rotation_window_is_bind_user_start_to_last_ldap_config_end(tmp_path: Path) -> None:
    root = project(tmp_path, {
        "d": "config:\n  jcqnap:role: directory\n",
        "s": "config:\n  jcqnap:role: site\n  jcqnap:directoryStack: d\n",
    })
    d = run("d", "updated", begun=[(3.0, "update", "jumpcloud:BindUser", "samba-service-account")])
    s = run("s", "updated", steps=[(9.0, "update", "qnap:LdapConfig", "nas-1"), (11.5, "update", "qnap:LdapConfig",
                                                                                  "nas-2")])
    assert rotation_windows([d, s], discover(root)) == {"s": 8.5}


def test_gate_opens_closes_and_notices_a_dead_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gate.ENV, raising=False)
    gate.wait()  # no gate: returns at once
    path = tmp_path / "d.gate"
    monkeypatch.setenv(gate.ENV, str(path))
    monkeypatch.setenv(gate.ENV_OWNER, str(os.getpid()))
    opener = threading.Timer(0.3, gate.write, (path, gate.OPEN))
    opener.start()
    t0 = time.monotonic()
    gate.wait(poll=0.02)
    assert time.monotonic() - t0 >= 0.25
    gate.write(path, gate.CLOSED + "ignored")  # the first state stays
    assert path.read_text() == gate.OPEN

    closed = tmp_path / "c.gate"
    gate.write(closed, gate.CLOSED + "directory stack d failed (boom)")
    monkeypatch.setenv(gate.ENV, str(closed))
    with pytest.raises(gate.GateClosed, match=r"directory stack d failed \(boom\); this site changed nothing"):
        gate.wait()

    monkeypatch.setenv(gate.ENV, str(tmp_path / "never.gate"))
    monkeypatch.setenv(gate.ENV_OWNER, "999999999")
    with pytest.raises(gate.GateClosed, match="the fleet run that started this site is gone"):
        gate.wait(poll=0.01)
