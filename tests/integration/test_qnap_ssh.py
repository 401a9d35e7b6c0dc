"""LdapConfig's SSH side against the running NAS simulators (no Pulumi engine).

Each test configures `site-b` (the e2e tests use `site-a`) through the provider methods, then looks
at the NAS through the simulator's own files (never through the code under test).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jcqnap.providers import ldap_config
from jcqnap.providers.ldap_config import LdapConfigProvider
from jcqnap.qnap import ssh as sshmod
from jcqnap.qnap.apply import ApplyFailed
from jcqnap.qnap.profile import DEFAULT_PROFILE
from jcqnap.qnap.ssh import HostKeyMismatch, NasSession, NasTarget
from jcqnap.sandbox import nas as nas_sim
from tests.nas_seed import Directory, seed_directory, smb_put

pytestmark = pytest.mark.integration
NAS = "site-b"


@pytest.fixture(scope="module")
def directory(sandbox: dict[str, Any]) -> Directory:
    return seed_directory(sandbox)


@pytest.fixture
def nas(sandbox: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in sandbox["nas"] if n["name"] == NAS)


def nas_files(sandbox: dict[str, Any]) -> dict[str, str]:
    """sha256 of each LDAP-related file as the NAS sees it (via its namespace, not via SSH)."""
    paths = [DEFAULT_PROFILE.path(n) for n in ("ulinux_conf", "smb_conf", "nss_ldap_conf", "root_secret", "ca_cert")]
    out = nas_sim.run_in_nas(Path(sandbox["state_dir"]), NAS, ["sh", "-c", 'for f; do sha256sum "$f" 2>/dev/null '
                                                                 '|| echo "- $f"; done', "x", *paths])
    pairs = [line.split(maxsplit=1) for line in out.stdout.splitlines()]
    return {path: digest for digest, path in pairs}


def command_log(sandbox: dict[str, Any]) -> str:
    return (Path(sandbox["state_dir"]) / "nas" / NAS / "logs" / "commands.jsonl").read_text()


def inputs(nas: dict[str, Any], d: Directory, **over: Any) -> dict[str, Any]:
    news = {
        "nas_host": nas["ssh_host"], "nas_port": nas["ssh_port"], "nas_user": nas["admin_user"],
        "nas_password": nas["admin_password"], "nas_host_key": nas["host_key"],
        "ldap_host": d.ldap_host, "ldap_port": d.ldaps_port, "security": "ldaps",
        "base_dn": d.base_dn, "root_dn": d.bind_dn, "root_password": d.bind_password,
        "users_base_dn": d.users_base_dn, "groups_base_dn": d.users_base_dn, "workgroup": d.workgroup,
        "smb_mode": "ldap_only", "verify_group": d.group, "ca_cert": Path(d.ca_cert_path).read_text(),
    }
    news.update(over)
    result = LdapConfigProvider().check({}, news)
    assert result.failures == [], result.failures
    return result.inputs


@pytest.fixture
def configured(nas: dict[str, Any], directory: Directory) -> Iterator[dict[str, Any]]:
    p = LdapConfigProvider()
    props = inputs(nas, directory)
    created = p.create(props)
    yield outs_of(created)
    delete_in_a_later_run(p, created)


def delete_in_a_later_run(p: LdapConfigProvider, created: Any) -> None:
    """Delete as a later `pulumi` run would. A provider process serves one run, and a create in a run
    claims its NAS so that the delete of another resource on it (a renamed entry) leaves LDAP on; this
    test process outlives a run, so the claim is let go first."""
    ldap_config._claimed.discard(created.id)
    p.delete(created.id, outs_of(created))


def outs_of(result: Any) -> dict[str, Any]:
    assert result.outs is not None
    return dict(result.outs)


def target(nas: dict[str, Any], **over: Any) -> NasTarget:
    base = {"host": nas["ssh_host"], "port": nas["ssh_port"], "user": nas["admin_user"],
            "host_key": nas["host_key"], "password": nas["admin_password"], "connect_timeout": 10.0}
    base.update(over)
    return NasTarget(**base)


def other_key_line() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{tmp}/k"], check=True)
        return Path(f"{tmp}/k.pub").read_text().strip()


# -- the session --------------------------------------------------------------------------------------
def test_pinned_key_connects_and_runs_commands_on_one_connection(nas):
    before = sshmod.SESSIONS_OPENED
    with NasSession(target(nas)) as s:
        assert s.run(["echo", "a b", "$(id)"]).text == "a b $(id)\n"
        assert s.run(["cat"], stdin=b"via stdin").stdout == b"via stdin"
    assert sshmod.SESSIONS_OPENED == before + 1


def test_private_key_login(nas):
    key_text = Path(nas["admin_key_path"]).read_text()
    with NasSession(target(nas, password=None, private_key=key_text)) as s:
        assert s.run(["true"]).exit_status == 0


def test_wrong_host_key_is_refused_naming_both_fingerprints(nas):
    with pytest.raises(HostKeyMismatch) as err:
        with NasSession(target(nas, host_key=other_key_line())):
            pass
    msg = str(err.value)
    assert "host key mismatch" in msg and msg.count("SHA256:") == 2 and "nothing was changed" in msg
    assert nas["admin_password"] not in msg


def test_wrong_password_is_a_clear_error_without_the_password(nas):
    with pytest.raises(sshmod.SshError) as err:
        with NasSession(target(nas, password="Wrong-Pass-123")):
            pass
    assert "login refused" in str(err.value) and "Wrong-Pass-123" not in str(err.value)


def test_non_zero_exit_names_the_command_and_nas(nas):
    with NasSession(target(nas)) as s, pytest.raises(sshmod.CommandFailed) as err:
        s.run(["sh", "-c", "echo boom >&2; exit 4"])
    assert "exited 4" in str(err.value) and str(nas["ssh_port"]) in str(err.value) and "boom" in str(err.value)


# -- the resource ---------------------------------------------------------------------------------------
def test_create_lets_a_member_in_and_keeps_others_out(sandbox, nas, directory, configured):
    d = directory
    assert configured["ldap_status"] == "online"
    assert configured["original_workgroup"] == "NAS"
    rc, out = smb_put(nas, d.workgroup, d.member, d.member_password)
    assert rc == 0, out
    assert smb_put(nas, d.workgroup, d.member, "Wrong-" + d.member_password)[0] != 0
    assert smb_put(nas, d.workgroup, d.outsider, d.outsider_password)[0] != 0


def test_second_apply_is_a_no_op_and_read_is_one_round_trip(sandbox, nas, directory, configured):
    p = LdapConfigProvider()
    log_before = command_log(sandbox)
    files_before = nas_files(sandbox)
    sessions = sshmod.SESSIONS_OPENED
    p.update("id", configured, inputs(nas, directory))
    new_cmds = [json.loads(c)["command"] for c in command_log(sandbox)[len(log_before):].splitlines()]
    assert len(new_cmds) == 1  # the fact + snapshot; nothing written, nothing restarted
    assert "setcfg" not in new_cmds[0] and "restart" not in new_cmds[0]
    assert nas_files(sandbox) == files_before
    mid = command_log(sandbox)
    read = outs_of(p.read("id", configured))
    assert read["ldap_status"] == "online", read["ldap_status_reason"]
    assert len(command_log(sandbox)[len(mid):].splitlines()) == 1  # one exec
    assert sshmod.SESSIONS_OPENED == sessions + 2


def test_drift_made_over_ssh_is_read_back(sandbox, nas, directory, configured):
    p = LdapConfigProvider()
    with NasSession(target(nas)) as s:
        s.run(["/sbin/setcfg", "LDAP", "Base DN", "o=drifted,dc=example"])
        s.run(["/sbin/setcfg", "System", "Workgroup", "OTHER"])
    outs = outs_of(p.read("id", configured))
    assert outs["base_dn"] == "o=drifted,dc=example"
    assert outs["workgroup"].startswith("OTHER")
    assert p.diff("id", outs, inputs(nas, directory)).changes
    p.update("id", outs, inputs(nas, directory))
    assert p.diff("id", outs_of(p.read("id", configured)), inputs(nas, directory)).changes is False


def test_forced_apply_failure_rolls_back_byte_for_byte(sandbox, nas, directory, configured):
    p = LdapConfigProvider()
    before = nas_files(sandbox)
    nas_sim.set_fail_next_apply(Path(sandbox["state_dir"]), NAS)
    with pytest.raises(ApplyFailed) as err:
        p.update("id", configured, inputs(nas, directory, workgroup="NEWGROUP", root_password="Rotated-Pw-1"))
    assert "rolled back" in str(err.value) and "simulated apply failure" in str(err.value)
    assert "Rotated-Pw-1" not in str(err.value)
    assert nas_files(sandbox) == before
    assert outs_of(p.read("id", configured))["ldap_status"] == "online"


def test_wrong_host_key_changes_nothing(sandbox, nas, directory, configured):
    before = nas_files(sandbox)
    log_before = command_log(sandbox)
    with pytest.raises(HostKeyMismatch):
        LdapConfigProvider().update("id", configured, inputs(nas, directory, nas_host_key=other_key_line(),
                                                             workgroup="NEWGROUP"))
    assert nas_files(sandbox) == before
    assert command_log(sandbox) == log_before


HOSTILE = "a'b\"c;d$(touch /tmp/pwned-jcq)`touch /tmp/pwned-jcq2`"


def test_hostile_values_are_stored_literally_and_never_run(sandbox, nas, directory):
    for f in ("/tmp/pwned-jcq", "/tmp/pwned-jcq2"):
        Path(f).unlink(missing_ok=True)
    p = LdapConfigProvider()
    escaped = HOSTILE.replace('"', '\\"').replace(";", "\\;")
    # check refuses a hostile workgroup (NetBIOS rules); a hostile DN is legal and must stay literal.
    props = inputs(nas, directory, users_base_dn=f"ou={escaped},{directory.base_dn}")
    hostile_workgroup = "WG$(ID)`X`"
    with pytest.raises(ApplyFailed):  # nslcd cannot find users under that base: verification fails, rolls back
        p.create(props)
    # Stored literally? Write them through the same plan, without applying, and read them back.
    from jcqnap.qnap.apply import plan_setcfg
    from jcqnap.qnap.settings import NasSettings

    raw: dict[str, str | None] = {s.name: None for s in DEFAULT_PROFILE.settings}
    cmds = plan_setcfg(DEFAULT_PROFILE, {"users_base_dn": props["users_base_dn"], "workgroup": hostile_workgroup},
                       NasSettings(raw=raw))
    with NasSession(target(nas)) as s:
        before = s.run(["/sbin/getcfg", "System", "Workgroup"]).text
        s.run(["sh", "-c", "\n".join(cmds)])
        assert s.run(["/sbin/getcfg", "LDAP", "Users Base DN"]).text == props["users_base_dn"] + "\n"
        assert s.run(["/sbin/getcfg", "System", "Workgroup"]).text == "WG$(ID)`X`\n"
        s.run(["/sbin/setcfg", "System", "Workgroup", before.strip()])
        s.run(["/sbin/setcfg", "-e", "LDAP", "Users Base DN"])
    assert not Path("/tmp/pwned-jcq").exists() and not Path("/tmp/pwned-jcq2").exists()


def test_hostile_password_reaches_the_nas_only_over_stdin(sandbox, nas, directory):
    p = LdapConfigProvider()
    secret = "Pw'\";$(touch /tmp/pwned-jcq3)`x`-" + str(time.time_ns())
    log_before = command_log(sandbox)
    with pytest.raises(ApplyFailed):  # the directory does not know this password: verify fails, rolled back
        p.create(inputs(nas, directory, root_password=secret))
    new = command_log(sandbox)[len(log_before):]
    assert new and secret not in new and hashlib.sha256(secret.encode()).hexdigest() not in new
    assert nas["admin_password"] not in new
    assert not Path("/tmp/pwned-jcq3").exists()


def test_delete_turns_ldap_off_and_restores_the_workgroup(sandbox, nas, directory):
    p = LdapConfigProvider()
    created = p.create(inputs(nas, directory))
    assert outs_of(created)["adopted"] is False  # a stock NAS: created, so delete undoes it
    delete_in_a_later_run(p, created)
    with NasSession(target(nas)) as s:
        assert s.run(["/sbin/getcfg", "LDAP", "Enable"]).text.strip().upper() == "FALSE"
        assert s.run(["/sbin/getcfg", "System", "Workgroup"]).text.strip() == "NAS"
        assert s.run(["sh", "-c", DEFAULT_PROFILE.command("ldap_status")], check=False).exit_status != 0
    assert smb_put(nas, directory.workgroup, directory.member, directory.member_password)[0] != 0
