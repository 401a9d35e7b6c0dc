"""qnap:LdapConfig through the real `pulumi` CLI, against the NAS simulator `site-a` and the emulator.

One stack walks the whole life of a site: up → SMB logins → drift (three kinds) → wrong host key →
forced apply failure → hostile values → destroy. The directory side is seeded over the emulator's
plain HTTP API (tests/nas_seed.py), so this test does not depend on the JumpCloud providers.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jcqnap.sandbox import nas as nas_sim
from tests.e2e import aio
from tests.e2e.harness import CliResult, PulumiProject
from tests.nas_seed import Directory, seed_directory, smb_put

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
NAS = "site-a"


def in_nas(sandbox: dict[str, Any], script: str, *args: str) -> str:
    return aio.in_nas(sandbox, NAS, script, *args)


def nas_files(sandbox: dict[str, Any]) -> str:
    """sha256 of every LDAP-related NAS file (read in the NAS namespace, not through jcqnap)."""
    return aio.nas_files(sandbox, NAS)


def getcfg(sandbox: dict[str, Any], section: str, key: str) -> str:
    return aio.getcfg(sandbox, NAS, section, key)


def ssh_logins(sandbox: dict[str, Any]) -> int:
    """SSH connections accepted by site-a's sshd so far (its log, written by sshd itself)."""
    log = Path(sandbox["state_dir"]) / "nas" / NAS / "logs" / "sshd.log"
    return log.read_text(errors="replace").count("Accepted ")


def command_log(sandbox: dict[str, Any]) -> str:
    return (Path(sandbox["state_dir"]) / "nas" / NAS / "logs" / "commands.jsonl").read_text()


def other_host_key() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp}/k"], check=True)
        return Path(f"{tmp}/k.pub").read_text().strip()


def configure(p: PulumiProject, nas: dict[str, Any], d: Directory) -> None:
    values = {
        "nasHost": nas["ssh_host"], "nasPort": str(nas["ssh_port"]), "nasUser": nas["admin_user"],
        "nasHostKey": nas["host_key"], "ldapHost": d.ldap_host, "ldapPort": str(d.ldaps_port),
        "security": "ldaps", "baseDn": d.base_dn, "rootDn": d.bind_dn, "usersBaseDn": d.users_base_dn,
        "groupsBaseDn": d.users_base_dn, "workgroup": d.workgroup, "verifyGroup": d.group,
        "caCert": Path(d.ca_cert_path).read_text(),
    }
    for key, value in values.items():
        p.config_set(key, value)
    p.config_set("nasPassword", nas["admin_password"], secret=True)
    p.config_set("rootPassword", d.bind_password, secret=True)


def timed(fn: Callable[[], CliResult]) -> tuple[CliResult, float]:
    start = time.monotonic()
    res = fn()
    return res, time.monotonic() - start


def test_site_lifecycle_through_the_cli(
    sandbox: dict[str, Any], jc_reset: dict[str, Any], pulumi_project: Callable[..., PulumiProject]
) -> None:
    nas = next(n for n in sandbox["nas"] if n["name"] == NAS)
    d = seed_directory(sandbox)
    p = pulumi_project("site")
    configure(p, nas, d)
    secrets = [nas["admin_password"], d.bind_password, d.member_password]
    outputs: list[str] = []
    figures: dict[str, Any] = {}

    def run(res: CliResult) -> CliResult:
        outputs.append(res.output)
        return res

    # -- up: members get in, others do not ---------------------------------------------------
    logins = ssh_logins(sandbox)
    res, figures["up_s"] = timed(p.up)
    run(res).check()
    figures["up_ssh_sessions"] = ssh_logins(sandbox) - logins
    assert p.outputs()["ldapStatus"] == "online"
    assert p.outputs()["originalWorkgroup"] == "NAS"
    rc, out = smb_put(nas, d.workgroup, d.member, d.member_password, "from-e2e.txt")
    assert rc == 0, out
    assert (Path(nas["share_path"]) / "from-e2e.txt").exists()
    assert smb_put(nas, d.workgroup, d.member, "Wrong-" + d.member_password)[0] != 0
    assert smb_put(nas, d.workgroup, d.outsider, d.outsider_password)[0] != 0

    # -- no drift right after up -------------------------------------------------------------------
    logins = ssh_logins(sandbox)
    res, figures["preview_refresh_s"] = timed(lambda: p.preview("--refresh", "--expect-no-changes"))
    assert run(res).returncode == 0, res.output
    figures["preview_refresh_ssh_sessions"] = ssh_logins(sandbox) - logins

    # -- drift over SSH: preview names LdapConfig and exits 7; up --refresh repairs ----------------
    drifts = {
        "base_dn": '/sbin/setcfg LDAP "Base DN" "o=drifted,dc=example"',
        "ldap_off": "/sbin/setcfg LDAP Enable FALSE && /etc/init.d/ldap.sh stop",
        "workgroup": "/sbin/setcfg System Workgroup OTHERWG",
    }
    for name, script in drifts.items():
        in_nas(sandbox, script)
        res = run(p.preview("--refresh", "--expect-no-changes"))
        assert res.returncode == 7, f"{name}: {res.output}"
        assert "LdapConfig" in res.output, res.output
        run(p.up("--refresh")).check()
        res = run(p.preview("--refresh", "--expect-no-changes"))
        assert res.returncode == 0, f"{name} not repaired: {res.output}"
    assert smb_put(nas, d.workgroup, d.member, d.member_password, "after-drift.txt")[0] == 0

    # -- a wrong pinned host key: up fails clearly, nothing on the NAS changes ----------------------
    before, log_before = nas_files(sandbox), command_log(sandbox)
    p.config_set("nasHostKey", other_host_key())
    p.config_set("workgroup", "NEWWG")
    res = run(p.up())
    assert res.returncode != 0 and "host key mismatch" in res.output, res.output
    assert "Traceback" not in res.output
    assert nas_files(sandbox) == before and command_log(sandbox) == log_before
    p.config_set("nasHostKey", nas["host_key"])

    # -- a forced apply failure: rolled back, settings byte-identical, the error says so -----------
    nas_sim.set_fail_next_apply(Path(sandbox["state_dir"]), NAS)
    res = run(p.up())
    assert res.returncode != 0 and "rolled back" in res.output, res.output
    assert nas_files(sandbox) == before
    p.config_set("workgroup", d.workgroup)
    res = run(p.preview("--refresh", "--expect-no-changes"))
    assert res.returncode == 0, res.output

    # -- hostile values: refused at check (nothing runs) ----------------------------------------------
    for key, value in (("workgroup", "A;B$(id)"), ("baseDn", "o=x\nEnable = FALSE")):
        p.config_set(key, value)
        res = run(p.up())
        assert res.returncode != 0 and re.search(r"(workgroup|base_dn):", res.output), res.output
        assert nas_files(sandbox) == before
    p.config_set("workgroup", d.workgroup)
    p.config_set("baseDn", d.base_dn)

    # -- no secret in state, CLI output or the NAS's command log --------------------------------------
    state = p.export_text()
    for s in secrets:
        assert s not in state
        assert not any(s in o for o in outputs)
        assert s not in command_log(sandbox)

    # -- destroy: LDAP off, original workgroup back, member refused -------------------------------
    res, figures["destroy_s"] = timed(p.destroy)
    run(res).check()
    assert getcfg(sandbox, "LDAP", "Enable").upper() == "FALSE"
    assert getcfg(sandbox, "System", "Workgroup") == "NAS"
    assert smb_put(nas, d.workgroup, d.member, d.member_password)[0] != 0
    print("figures:", figures)
