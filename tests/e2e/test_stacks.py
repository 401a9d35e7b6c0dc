"""The real project (Pulumi.yaml + __main__.py + jcqnap.stack) as users run it: a directory stack and a
site stack on one backend, wired by a StackReference, against the sandbox.

Proves: the site follows the directory (password rotation, workgroup change), SMB logins keep working,
`verify` passes and names the fix when the chain is broken, and bad config fails at preview with the
key named before anything is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from jcqnap import demo
from jcqnap.sandbox import nas as nas_sim
from tests.e2e.aio import Emulator
from tests.e2e.harness import ROOT, PulumiProject

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DIR, SITE = "t-directory", "t-site-a"


def write_stack(p: PulumiProject, stack: str, config: dict[str, Any]) -> None:
    path = p.dir / "stacks" / f"Pulumi.{stack}.yaml"
    current = yaml.safe_load(path.read_text()) if path.exists() else {}
    current = current or {}
    current["config"] = {**(current.get("config") or {}), **{f"jcqnap:{k}": v for k, v in config.items()}}
    path.write_text(yaml.safe_dump(current))


def directory_config(sandbox: dict[str, Any], **over: Any) -> dict[str, Any]:
    cfg = {
        "role": "directory",
        "sandbox": str(Path(sandbox["state_dir"]) / "sandbox.json"),
        "bindUser": {"username": "samba-bind", "email": "samba-bind@example.com"},
        "workgroup": "JCQNAP",
        "groups": [
            {"name": "NAS Users", "linuxName": "nas-users", "gid": 5101, "members": ["alice", "carol"]},
            {"name": "NAS Admins", "linuxName": "nas-admins", "gid": 5102, "members": ["carol"]},
        ],
    }
    cfg.update(over)
    return cfg


def site_config(sandbox: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "site",
        "sandbox": str(Path(sandbox["state_dir"]) / "sandbox.json"),
        "directoryStack": f"organization/jcqnap/{DIR}",
        "nas": [{"name": "site-a", "sandbox": "site-a"}],
    }


def run_verify(p: PulumiProject, stack: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jcqnap", "verify", "--stack", stack], cwd=p.dir, env=p.env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def stacks(jc_reset: dict[str, Any], pulumi_project: Any) -> Any:
    sandbox = jc_reset
    users = demo.seed_demo_users(sandbox)
    p = pulumi_project(ROOT, stack=DIR)
    write_stack(p, DIR, directory_config(sandbox))
    p.init(SITE)
    write_stack(p, SITE, site_config(sandbox))
    yield p, sandbox, {u["username"]: u for u in users}
    p.use(SITE).destroy()
    p.use(DIR).destroy()


def smb_ok(sandbox: dict[str, Any], user: dict[str, Any]) -> bool:
    return demo.smb_login(sandbox["nas"][0], user)[0]


def test_site_follows_the_directory_and_verify_names_the_fix(stacks: Any) -> None:
    p, sandbox, users = stacks
    p.use(DIR).up().check()
    p.use(SITE).up().check()
    # The demo users' passwords were set before the directory stack configured Samba, so JumpCloud has
    # no Samba hash for them: SMB refuses alice and verify names the members and the fix.
    assert not smb_ok(sandbox, users["alice"])
    res = run_verify(p, SITE)
    assert res.returncode == 1
    (line,) = [ln for ln in res.stdout.splitlines() if "FAIL  members can log in over SMB" in ln and "NAS Users" in ln]
    assert "alice" in line and "carol" in line and "bob" not in line
    assert "change the password in the JumpCloud User Portal" in res.stdout
    demo.seed_demo_users(sandbox)  # the users set their passwords again, as the fix says
    assert smb_ok(sandbox, users["alice"]) and not smb_ok(sandbox, users["bob"])
    assert p.use(SITE).preview("--refresh", "--expect-no-changes").returncode == 0

    res = run_verify(p, SITE)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 failed" in res.stdout

    # A password rotation in the directory flows to the site on its next up.
    old = p.use(DIR).outputs(show_secrets=True)["bindPassword"]
    p.use(DIR).config_set("bindPassword", "Rotated-Pa55word-for-e2e", secret=True)
    p.use(DIR).up().check()
    res = p.use(SITE).preview("--expect-no-changes")
    assert res.returncode == 7, res.output
    assert "qnap:LdapConfig" in res.output and "update" in res.output
    assert "Rotated-Pa55word-for-e2e" not in res.output and old not in res.output
    p.use(SITE).up().check()
    assert smb_ok(sandbox, users["alice"])

    # A workgroup change in the directory shows up as the NAS workgroup change.
    p.use(DIR).config_set("workgroup", "JCNEW")
    p.use(DIR).up().check()
    res = p.use(SITE).preview("--expect-no-changes")
    assert res.returncode == 7 and "JCNEW" in res.output, res.output
    p.use(SITE).up().check()
    assert smb_ok(sandbox, users["alice"])
    assert run_verify(p, SITE).returncode == 0

    # verify fails with the right fix: NAS workgroup changed by hand.
    state = Path(sandbox["state_dir"])
    nas_sim.run_in_nas(state, "site-a", ["/sbin/setcfg", "System", "Workgroup", "OTHERWG"])
    res = run_verify(p, SITE)
    assert res.returncode == 1
    assert "FAIL  NAS workgroup matches JumpCloud's" in res.stdout
    assert "fix: pulumi up --refresh on this site's stack" in res.stdout
    p.use(SITE).up("--refresh").check()

    # verify fails with the right fix: a group's Samba flag switched off in JumpCloud.
    jc = Emulator(sandbox)
    nas_users = next(g for g in jc.get("/v2/usergroups") if g["name"] == "NAS Users")
    full = jc.get(f"/v2/usergroups/{nas_users['id']}")
    full["attributes"]["sambaEnabled"] = False
    jc.call("PUT", f"/v2/usergroups/{nas_users['id']}", {"name": full["name"], "attributes": full["attributes"]})
    res = run_verify(p, SITE)
    assert res.returncode == 1
    assert "FAIL  members have Samba attributes" in res.stdout and "'NAS Users'" in res.stdout
    assert "Enable Samba Authentication" in res.stdout
    p.use(DIR).up("--refresh").check()
    assert run_verify(p, SITE).returncode == 0


@pytest.mark.parametrize(
    ("over", "key"),
    [
        ({"workgroup": "WAY-TOO-LONG-WORKGROUP"}, "jcqnap:workgroup: must be at most 15 characters"),
        ({"groups": [{"name": "G", "linuxName": "g", "gid": "abc", "members": []}]}, "jcqnap:groups[0].gid"),
        ({"bindUser": {"email": "x@example.com"}}, "jcqnap:bindUser.username: is required"),
        ({"bindUser": {"username": "uid=x,ou=Users", "email": "x@example.com"}}, "jcqnap:bindUser.username"),
    ],
    ids=["workgroup-over-15", "gid-wrong-type", "missing-username", "dn-in-username"],
)
def test_bad_config_fails_preview_with_the_key_named_and_nothing_touched(
    jc_reset: dict[str, Any], pulumi_project: Any, over: dict[str, Any], key: str
) -> None:
    sandbox = jc_reset
    p = pulumi_project(ROOT, stack=DIR)
    write_stack(p, DIR, directory_config(sandbox, **over))
    res = p.preview()
    assert res.returncode != 0
    assert key in res.output, res.output
    assert "Traceback" not in res.output
    assert Emulator(sandbox).log() == []


def test_secrets_must_be_set_with_secret(jc_reset: dict[str, Any], pulumi_project: Any) -> None:
    p = pulumi_project(ROOT, stack=DIR)
    write_stack(p, DIR, directory_config(jc_reset))
    p.config_set("bindPassword", "plain-text-password")
    res = p.preview()
    assert res.returncode != 0
    assert "jcqnap:bindPassword: is stored in plaintext" in res.output
    assert "plain-text-password" not in res.output


def test_demo_users_file_is_private(jc_reset: dict[str, Any]) -> None:
    demo.seed_demo_users(jc_reset)
    path = Path(os.environ["JCQNAP_SANDBOX_DIR"]) / "demo-users.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    users = json.loads(path.read_text())
    assert {u["samba"] for u in users} == {True, False}
