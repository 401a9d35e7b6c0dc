"""Issue 15 items 4-5, through the real project and CLI: a two-NAS site whose boxes change under it.

Two extra NAS simulators (`nc-1`, `nc-2`, started here and removed afterwards) are configured like real
boxes: explicit host, port and pinned host key in `jcqnap:nas`, admin passwords in the secret
`jcqnap:nasCredentials`. One all-in-one stack walks:

1. an offline NAS: without a flag one unreachable box fails the whole `up --refresh` (the engine's
   rule); with `nas[].offline: true` the other box gets its change, while the drift check and `verify`
   fail naming the offline box and the reason; once it answers again, its pending change is applied;
2. a NAS admin password change and a host re-key (on the other NAS), both picked up by one
   `up --refresh --run-program` that stores the new values (the password still secret in state); a
   plain `up --refresh` refreshes with the last update's provider config, fails, and names the flag;
3. a retired NAS (`nas[].retired: true`) removed from the stack while its sshd is down, its settings
   left on the box.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jcqnap import demo
from jcqnap.sandbox import nas as nas_sim
from jcqnap.sandbox import nas_admin
from tests.e2e.aio import WORKGROUP, Emulator, Stack, base_config, in_nas
from tests.e2e.harness import ROOT, CliResult, PulumiProject

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
NAMES = ("nc-1", "nc-2")
NEW_PASSWORD = "Changed-Nas-Admin-Pw-15"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value in state


@pytest.fixture(scope="module")
def boxes(sandbox: dict[str, Any]) -> Iterator[dict[str, dict[str, Any]]]:
    state = Path(sandbox["state_dir"])
    try:
        yield {n: nas_sim.start_nas(state, n, sandbox["ldap"]) for n in NAMES}
    finally:
        for n in NAMES:
            nas_sim.stop_nas(state, n)
            shutil.rmtree(nas_sim.nas_dir(state, n), ignore_errors=True)


def nas_entry(info: dict[str, Any], host_key: str | None = None, **flags: bool) -> dict[str, Any]:
    return {"name": info["name"], "host": info["ssh_host"], "port": info["ssh_port"], "user": info["admin_user"],
            "hostKey": host_key or info["host_key"], **flags}


def set_password(p: PulumiProject, nas: str, password: str) -> None:
    """As the README says: `pulumi config set --secret --path 'nasCredentials.<nas>.password'`."""
    p.config_set(f"jcqnap:nasCredentials.{nas}.password", password, secret=True, path=True)


def workgroup(sandbox: dict[str, Any], nas: str) -> str:
    return in_nas(sandbox, nas, "/sbin/getcfg System Workgroup").strip()


def run_verify(p: PulumiProject) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jcqnap", "verify", "--stack", p.stack], cwd=p.dir, env=p.env,
                          capture_output=True, text=True, timeout=300, check=False)


def ssh_accepted(sandbox: dict[str, Any], nas: str) -> int:
    log = nas_sim.nas_dir(Path(sandbox["state_dir"]), nas) / "logs" / "sshd.log"
    return log.read_text(errors="replace").count("Accepted ")


def ldap_configs(p: PulumiProject, boxes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """LdapConfig resources in state by NAS name (found by SSH port), outputs decrypted."""
    res = p.run("stack", "export", "--show-secrets", "--stack", p.stack).check()
    resources = json.loads(res.stdout)["deployment"].get("resources") or []
    by_port = {int(info["ssh_port"]): name for name, info in boxes.items()}
    return {by_port[int(r["outputs"]["nas_port"])]: r["outputs"] for r in resources
            if r["type"].endswith("qnap:LdapConfig")}


def names_resource(output: str, nas: str) -> bool:
    """The CLI's output names the LdapConfig of `nas` (its URN ends in the NAS name)."""
    return re.search(rf"qnap:LdapConfig::[\w-]*{re.escape(nas)}\]", output) is not None


def secret_plaintext(value: Any) -> Any:
    """The value of a secret in `stack export --show-secrets`; fails when it is not stored as a secret."""
    assert isinstance(value, dict) and SECRET_SIG in value and "plaintext" in value, value
    return json.loads(value["plaintext"])


def test_offline_changed_credentials_and_retired_nas(
    sandbox: dict[str, Any], boxes: dict[str, dict[str, Any]], pulumi_engine: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    jc = Emulator(sandbox)
    jc.reset(sandbox)
    state = Path(sandbox["state_dir"])
    a, b = (boxes[n] for n in NAMES)
    p = PulumiProject(ROOT, tmp_path_factory.mktemp("nasaccess"), pulumi_engine).init("nas-access")
    stack = Stack(p, {**base_config(sandbox), "jcqnap:nas": [nas_entry(a), nas_entry(b)]})
    set_password(p, "nc-1", a["admin_password"])
    set_password(p, "nc-2", b["admin_password"])
    outputs: list[str] = []

    def run(res: CliResult) -> CliResult:
        outputs.append(res.output)
        return res

    try:
        run(stack.up("--refresh", "--run-program")).check()
        assert {workgroup(sandbox, n) for n in NAMES} == {WORKGROUP}
        demo.seed_demo_users(sandbox)  # passwords set again now that Samba is on: JumpCloud has their hash

        # -- 1. nc-2 offline: without the flag its refresh fails the whole run, nc-1 included ------------
        nas_admin.stop_sshd(state, "nc-2")
        stack.update(workgroup="JCOFF")
        res = run(stack.up("--refresh", "--run-program"))
        assert res.returncode != 0 and "nc-2" in res.output and "cannot connect" in res.output, res.output
        assert workgroup(sandbox, "nc-1") == WORKGROUP

        # with nas[].offline the other NAS gets its change; the offline one keeps its last known state
        stack.update(nas=[nas_entry(a), nas_entry(b, offline=True)])
        res = run(stack.up("--refresh", "--run-program")).check()
        assert "warning: NAS nc-2" in res.output and "nas[].offline is set" in res.output, res.output
        assert workgroup(sandbox, "nc-1") == "JCOFF"
        assert workgroup(sandbox, "nc-2") == WORKGROUP
        assert p.outputs()["nas"] == {"nc-1": "online", "nc-2": "unreachable"}

        # ...while the drift check and verify fail for it, naming it and why
        res = run(p.preview("--refresh", "--run-program", "--expect-no-changes"))
        assert res.returncode == 7, res.output
        assert names_resource(res.output, "nc-2") and not names_resource(res.output, "nc-1"), res.output
        assert "- unreachable" in res.output and "cannot connect" in res.output, res.output
        ver = run_verify(p)
        assert ver.returncode == 1, ver.stdout + ver.stderr
        fails = [ln for ln in ver.stdout.splitlines() if ln.startswith("FAIL")]
        assert len(fails) == 1 and "nc-2" in fails[0] and "cannot connect" in fails[0], ver.stdout
        assert "marked offline" in ver.stdout

        # back online (flag still set): the pending change is applied, and then nothing is pending
        nas_admin.start_sshd(state, "nc-2")
        run(stack.up("--refresh", "--run-program")).check()
        assert workgroup(sandbox, "nc-2") == "JCOFF"
        assert p.outputs()["nas"] == {"nc-1": "online", "nc-2": "online"}
        stack.update(nas=[nas_entry(a), nas_entry(b)])

        # -- 2. nc-1's admin password changed, nc-2 re-keyed: one up --refresh, new values stored ---------
        nas_admin.set_admin_password(state, "nc-1", NEW_PASSWORD)
        new_key = nas_admin.rekey(state, "nc-2")
        stack.update(nas=[nas_entry(a), nas_entry(b, host_key=new_key)])
        set_password(p, "nc-1", NEW_PASSWORD)
        # a refresh without the program still has the last update's config: refused, and it says what to run
        res = run(stack.up("--refresh"))
        assert res.returncode != 0 and "--run-program" in res.output, res.output
        logins = {n: ssh_accepted(sandbox, n) for n in NAMES}
        run(stack.up("--refresh", "--run-program")).check()
        assert all(ssh_accepted(sandbox, n) > logins[n] for n in NAMES)
        stored = ldap_configs(p, boxes)
        assert secret_plaintext(stored["nc-1"]["nas_password"]) == NEW_PASSWORD
        assert stored["nc-2"]["nas_host_key"] == new_key
        res = run(p.preview("--refresh", "--run-program", "--expect-no-changes"))
        assert res.returncode == 0, res.output
        assert NEW_PASSWORD not in p.export_text()

        # -- 3. nc-2 retired while its sshd is down: removed from the stack, its settings left on it -------
        nas_admin.stop_sshd(state, "nc-2")
        before = in_nas(sandbox, "nc-2", "/sbin/getcfg LDAP Enable; /sbin/getcfg System Workgroup")
        stack.update(nas=[nas_entry(a), {"name": "nc-2", "host": b["ssh_host"], "port": b["ssh_port"],
                                         "retired": True}])
        res = run(stack.up("--refresh", "--run-program"))
        res.check()
        assert "nc-2 is retired" in res.output and "retired, so removed from the stack" in res.output, res.output
        assert set(ldap_configs(p, boxes)) == {"nc-1"}
        assert in_nas(sandbox, "nc-2", "/sbin/getcfg LDAP Enable; /sbin/getcfg System Workgroup") == before
        assert before.split()[0].upper() == "TRUE"
        assert run_verify(p).returncode == 0
    finally:
        run(p.destroy())
    for secret in (NEW_PASSWORD, a["admin_password"], b["admin_password"]):
        assert not any(secret in out for out in outputs)
