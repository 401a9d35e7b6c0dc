"""The NAS simulator against its real daemons: sshd, getcfg/setcfg, ldap.sh/smb.sh, nslcd and smbd.

The first part starts its own one-NAS fleet (no emulator needed). The chain test at the end uses
the session ``sandbox`` (emulator + slapd + fleet) and configures a NAS through setcfg as QTS would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import requests

from jcqnap.qnap.profile import DEFAULT_PROFILE as P
from jcqnap.qnap.settings import new_nonce, parse_settings_output, read_settings_script, setcfg_command, setcfg_logical
from jcqnap.sandbox import nas
from jcqnap.sandbox import process as proc

pytestmark = pytest.mark.integration

HOST_FILES = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/nsswitch.conf", "/etc/nslcd.conf",
              "/etc/samba/smb.conf", "/etc/ldap/ldap.conf", "/etc/hosts"]
NAS_ONLY_PATHS = ["/etc/config", "/usr/sbin/getcfg", "/usr/sbin/setcfg", "/etc/init.d/ldap.sh",
                  "/etc/init.d/smb.sh", "/etc/ssl/jcqnap-sandbox-ca.pem"]


def host_etc_fingerprint() -> dict[str, str | None]:
    """sha256 of the host files the simulator must never touch, and whether NAS-only paths exist."""
    out: dict[str, str | None] = {}
    for f in HOST_FILES:
        p = Path(f)
        out[f] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
    for f in NAS_ONLY_PATHS:
        out[f] = "exists" if os.path.lexists(f) else None
    return out


class Nas:
    """A pinned-key SSH client to one simulated NAS (one connection, many commands)."""

    def __init__(self, info: dict[str, Any], *, host_key: str | None = None, key_auth: bool = False) -> None:
        self.info = info
        self.client = paramiko.SSHClient()
        kind, blob = (host_key or info["host_key"]).split()[:2]
        key = paramiko.Ed25519Key(data=base64.b64decode(blob))
        self.client.get_host_keys().add(f"[{info['ssh_host']}]:{info['ssh_port']}", kind, key)
        self.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        auth: dict[str, Any] = ({"key_filename": info["admin_key_path"]} if key_auth
                                else {"password": info["admin_password"]})
        self.client.connect(info["ssh_host"], port=info["ssh_port"], username=info["admin_user"], timeout=10,
                            banner_timeout=10, auth_timeout=10, look_for_keys=False, allow_agent=False, **auth)

    def run(self, command: str, stdin: str | None = None, timeout: float = 60) -> tuple[int, str, str]:
        chan_in, out, err = self.client.exec_command(command, timeout=timeout)
        if stdin is not None:
            chan_in.write(stdin)
        chan_in.channel.shutdown_write()
        rc = out.channel.recv_exit_status()
        return rc, out.read().decode(), err.read().decode()

    def ok(self, command: str, stdin: str | None = None) -> str:
        rc, out, err = self.run(command, stdin)
        assert rc == 0, f"{command!r} exited {rc}: {err}"
        return out

    def close(self) -> None:
        self.client.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One NAS of our own; on teardown, stop it and prove nothing is left and the host is untouched."""
    state = tmp_path_factory.mktemp("nasfleet")
    before = host_etc_fingerprint()
    infos = nas.start_fleet(state, ["t-nas"], {})
    yield {"state": state, "info": infos[0], "before": before}
    nas.stop_fleet(state)


@pytest.fixture
def box(fleet: dict[str, Any]) -> Iterator[Nas]:
    client = Nas(fleet["info"])
    yield client
    client.close()


def upper(fleet: dict[str, Any], nas_path: str) -> Path:
    """The host-side file behind ``nas_path`` inside the NAS (the overlay's upper layer)."""
    return nas.nas_dir(fleet["state"], fleet["info"]["name"]) / "etc" / os.path.relpath(nas_path, "/etc")


# -- SSH ----------------------------------------------------------------------------------------
def test_pinned_host_key_is_accepted_with_password_and_key_auth(fleet: dict[str, Any]) -> None:
    for key_auth in (False, True):
        client = Nas(fleet["info"], key_auth=key_auth)
        assert client.ok("id -u; getent passwd admin | cut -d: -f1,3").split() == ["0", "admin:0"]
        client.close()


def test_a_client_pinning_another_key_is_refused(fleet: dict[str, Any]) -> None:
    wrong = "ssh-ed25519 " + _random_ed25519_blob()
    with pytest.raises(paramiko.SSHException):
        Nas(fleet["info"], host_key=wrong)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    with pytest.raises(paramiko.SSHException):  # nothing pinned at all
        client.connect("127.0.0.1", port=fleet["info"]["ssh_port"], username="admin", timeout=10,
                       password=fleet["info"]["admin_password"], look_for_keys=False, allow_agent=False)


def _random_ed25519_blob() -> str:
    """A syntactically valid ed25519 public key that is not the NAS's."""
    raw = secrets.token_bytes(32)
    def field(b: bytes) -> bytes:
        return len(b).to_bytes(4, "big") + b
    return base64.b64encode(field(b"ssh-ed25519") + field(raw)).decode()


def test_only_loopback_is_listened_on(fleet: dict[str, Any]) -> None:
    d = nas.nas_dir(fleet["state"], fleet["info"]["name"])
    ns = json.loads((d / "nas-info.json").read_text())["mnt_ns"]
    out = subprocess.run(["ss", "-ltnupH"], capture_output=True, text=True, timeout=30, check=True).stdout
    mine = [ln for ln in out.splitlines()
            if any(os.path.exists(f"/proc/{pid}") and os.readlink(f"/proc/{pid}/ns/mnt") == ns
                   for pid in _pids(ln))]
    assert mine, "the NAS should listen on something"
    for line in mine:
        assert line.split()[4].startswith("127.0.0.1:"), line


def _pids(ss_line: str) -> list[int]:
    return [int(p) for p in re.findall(r"pid=(\d+)", ss_line)]


def test_start_is_idempotent_and_returns_the_same_info(fleet: dict[str, Any]) -> None:
    again = nas.start_fleet(fleet["state"], ["t-nas"], {})
    assert again == [fleet["info"]]
    status = nas.fleet_status(fleet["state"])
    assert status[0]["running"] and status[0]["sshd"] and status[0]["smbd"]


# -- getcfg / setcfg ----------------------------------------------------------------------------
def test_getcfg_and_setcfg_follow_qts_syntax(box: Nas) -> None:
    assert box.ok("getcfg System Workgroup") == "NAS\n"
    assert box.ok("getcfg system WORKGROUP -f /etc/config/uLinux.conf") == "NAS\n"  # case-insensitive
    assert box.ok("getcfg global workgroup -f /etc/config/smb.conf") == "NAS\n"
    assert box.run("getcfg LDAP Enable") == (1, "", "")  # stock box: no [LDAP] section
    assert box.ok("getcfg LDAP Enable -d FALSE") == "FALSE\n"
    box.ok("setcfg LDAP Enable true")
    assert box.ok("getcfg LDAP Enable -u") == "TRUE\n"
    box.ok("setcfg -e LDAP Enable")
    assert box.ok("getcfg LDAP Enable -d missing") == "missing\n"
    box.ok("setcfg Custom 'Some Key' 'v 1' -f /etc/config/smb.conf")
    assert box.ok("getcfg custom 'some key' -f /etc/config/smb.conf") == "v 1\n"
    box.ok("setcfg -e Custom 'Some Key' -f /etc/config/smb.conf")
    assert box.run("setcfg onlysection")[0] != 0  # usage error


def test_hostile_values_are_stored_literally_and_never_run(box: Nas, fleet: dict[str, Any]) -> None:
    tag = secrets.token_hex(4)
    canaries = [Path(f"/tmp/pwned-{tag}-{i}") for i in range(5)]
    hostile = [
        f"$(touch {canaries[0]})", f"`touch {canaries[1]}`", f"x; touch {canaries[2]}",
        f"a\ntouch {canaries[3]}\n", f"'\"; touch {canaries[4]} #", "  spaced  ", "back\\slash",
    ]
    names = ["base_dn", "root_dn", "users_base_dn", "groups_base_dn", "server", "port", "smb_mode"]
    try:
        for name, value in zip(names, hostile, strict=True):
            box.ok(setcfg_command(P, name, value))
            key = P.setting(name)
            out = box.ok(f"getcfg {shlex.quote(key.section)} {shlex.quote(key.key)}")
            assert out == value + "\n"
        nonce = new_nonce()
        fact = parse_settings_output(P, box.ok(read_settings_script(P, nonce)), nonce)
        assert [fact.raw[n] for n in names] == hostile
        assert "$(touch" in upper(fleet, P.ulinux_conf).read_text()
        box.ok(setcfg_logical(P, "enable", "true"))
        box.ok(setcfg_command(P, "server", "127.0.0.1") + "; " + setcfg_command(P, "port", "636"))
        box.ok(P.command("root_secret_write"), stdin="pw")
        rc, _, err = box.run(P.command("ldap_start"))  # a newline could add nslcd.conf lines: refused
        assert rc != 0 and "groups_base_dn" in err and "control characters" in err
        nslcd_conf = upper(fleet, "/etc/nslcd.conf")
        assert not nslcd_conf.exists() or "touch" not in nslcd_conf.read_text()
        assert not any(c.exists() for c in canaries)
    finally:
        for name in [*names, "enable"]:
            box.run(f"setcfg -e {shlex.quote(P.setting(name).section)} {shlex.quote(P.setting(name).key)}")
        box.run(P.command("root_secret_erase"))
        box.run(P.command("ldap_stop"))
        for c in canaries:
            c.unlink(missing_ok=True)


# -- knobs, logs --------------------------------------------------------------------------------
def _state_bytes(fleet: dict[str, Any]) -> dict[str, bytes]:
    files = [P.ulinux_conf, P.smb_conf, "/etc/nsswitch.conf"]
    return {f: upper(fleet, f).read_bytes() for f in files if upper(fleet, f).exists()}


@pytest.mark.parametrize("command", ["smb_restart", "ldap_start", "ldap_stop"])
def test_fail_knob_makes_the_next_apply_fail_without_changes(box: Nas, fleet: dict[str, Any],
                                                            command: str) -> None:
    smbd_before = nas.fleet_status(fleet["state"])[0]
    box.ok("setcfg System Workgroup KNOBTEST; setcfg global workgroup KNOBTEST -f /etc/config/smb.conf")
    before = _state_bytes(fleet)
    nas.set_fail_next_apply(fleet["state"], fleet["info"]["name"])
    rc, _, err = box.run(P.command(command))
    assert rc != 0 and "simulated apply failure" in err
    assert _state_bytes(fleet) == before
    assert nas.fleet_status(fleet["state"])[0]["smbd"] == smbd_before["smbd"]
    assert box.run(P.command(command))[0] == 0  # the knob is consumed: the next apply works
    box.ok("setcfg System Workgroup NAS; " + P.command("smb_restart"))


def test_drop_knob_cuts_the_ssh_session_and_the_nas_stays_reachable(fleet: dict[str, Any]) -> None:
    nas.set_drop_next_apply(fleet["state"], fleet["info"]["name"], "before")
    client = Nas(fleet["info"])
    try:
        rc = client.run(P.command("smb_restart"), timeout=20)[0]
    except (paramiko.SSHException, OSError, EOFError):
        rc = -1
    finally:
        client.close()
    assert rc == -1  # no exit status: the connection died under the command
    again = Nas(fleet["info"])
    assert again.ok("echo alive") == "alive\n"
    again.close()


def test_session_log_has_commands_but_never_what_came_on_stdin(box: Nas, fleet: dict[str, Any]) -> None:
    secret = "s3cret-" + secrets.token_hex(8)
    box.ok(P.command("root_secret_write"), stdin=secret)
    assert box.ok(f"stat -c %a {shlex.quote(P.root_secret_file)}") == "600\n"
    box.run(P.command("root_secret_erase"))
    d = nas.nas_dir(fleet["state"], fleet["info"]["name"])
    log = (d / "logs" / "commands.jsonl").read_text()
    assert "root_secret" in log or P.root_secret_file in log
    assert secret not in log and secret not in (d / "logs" / "sshd.log").read_text()
    assert "Accepted password for admin" in (d / "logs" / "sshd.log").read_text()


def test_host_etc_and_nss_are_untouched_while_running(fleet: dict[str, Any]) -> None:
    assert host_etc_fingerprint() == fleet["before"]
    assert subprocess.run(["getent", "passwd", "admin"], capture_output=True, timeout=30).returncode != 0


def test_zz_stop_fleet_stops_every_pid_and_leaves_the_host_untouched(fleet: dict[str, Any]) -> None:
    d = nas.nas_dir(fleet["state"], fleet["info"]["name"])
    ns = json.loads((d / "nas-info.json").read_text())["mnt_ns"]
    members = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ns_of(p) == ns]
    assert len(members) >= 3  # holder, sshd, smbd at least
    nas.stop_fleet(fleet["state"])
    nas.stop_fleet(fleet["state"])  # idempotent
    assert not [p for p in members if proc.pid_alive(p)]
    assert not proc.port_answers("127.0.0.1", fleet["info"]["ssh_port"])
    assert host_etc_fingerprint() == fleet["before"]
    assert nas.fleet_status(fleet["state"])[0]["running"] is False


def _ns_of(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


# -- the whole chain against the emulator's slapd -----------------------------------------------
SID = "S-1-5-21-1111111111-2222222222-3333333333"


def _seed(sb: dict[str, Any]) -> dict[str, str]:
    """Bind user, a Samba group member and a user in a non-Samba group, over the emulator's API."""
    jc = sb["jumpcloud"]
    headers = {"x-api-key": jc["api_key"], "Content-Type": "application/json", "Accept": "application/json"}
    ldap_id = jc["ldap_server_id"]

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = requests.request(method, jc["api_url"] + path, headers=headers, json=body, timeout=10)
        r.raise_for_status()
        return r.json() if r.text else None

    pw = {"svc": "Svc-" + secrets.token_hex(6), "alice": "Al'ce $(x) " + secrets.token_hex(4),
          "bob": "Bob-" + secrets.token_hex(6)}
    call("POST", f"/v2/ldapservers/{ldap_id}/sambadomains", {"name": "JCWG", "sid": SID})
    call("POST", "/systemusers", {"username": "svc-samba", "email": "svc@x.test", "password": pw["svc"],
                                  "ldap_binding_user": True, "samba_service_user": True})
    alice = call("POST", "/systemusers", {"username": "alice", "email": "a@x.test", "password": pw["alice"]})
    bob = call("POST", "/systemusers", {"username": "bob", "email": "b@x.test", "password": pw["bob"]})
    for name, gid, user, samba in (("nas-users", 7001, alice, True), ("plain", 7002, bob, False)):
        g = call("POST", "/v2/usergroups", {"name": name, "attributes": {"posixGroups": [{"id": gid, "name": name}]}})
        call("POST", f"/v2/usergroups/{g['id']}/associations", {"op": "add", "type": "ldap_server", "id": ldap_id})
        call("POST", f"/v2/usergroups/{g['id']}/members", {"op": "add", "type": "user", "id": user["_id"]})
        if samba:
            call("PUT", f"/v2/usergroups/{g['id']}",
                 {"name": name, "attributes": {**g["attributes"], "sambaEnabled": True}})
    return pw


def _smb(info: dict[str, Any], user: str, password: str, tmp: Path, command: str) -> subprocess.CompletedProcess[str]:
    auth = tmp / f"auth-{user}"
    proc.write_private(auth, f"username = {user}\npassword = {password}\n")  # never on argv
    return subprocess.run(["smbclient", f"//127.0.0.1/{info['share']}", "-p", str(info["smb_port"]),
                           "-A", str(auth), "-c", command], capture_output=True, text=True, timeout=60, cwd=tmp)


@pytest.mark.parametrize("security", ["ldaps", "starttls"])
def test_chain_ldap_users_open_the_share_with_their_jumpcloud_password(
        jc_reset: dict[str, Any], tmp_path: Path, security: str) -> None:
    sb = jc_reset
    pw = _seed(sb)
    info = next(n for n in sb["nas"] if n["name"] == "site-b")
    ldap = sb["ldap"]
    port = ldap["ldaps_port"] if security == "ldaps" else ldap["starttls_port"]
    box = Nas(info)
    try:
        for name, value in (("server", "127.0.0.1"), ("port", str(port)), ("base_dn", ldap["base_dn"]),
                            ("root_dn", f"uid=svc-samba,{ldap['users_base_dn']}"),
                            ("users_base_dn", ldap["users_base_dn"]), ("groups_base_dn", ldap["users_base_dn"]),
                            ("workgroup", "JCWG"), ("smb_workgroup", "JCWG")):
            box.ok(setcfg_command(P, name, value))
        for name, logical in (("security", security), ("smb_mode", "ldap_only"), ("enable", "true")):
            box.ok(setcfg_logical(P, name, logical))
        box.ok(P.command("root_secret_write"), stdin=pw["svc"])
        box.ok(P.command("ldap_start") + " && " + P.command("smb_restart"))
        assert box.ok(P.command("nss_user", user="alice")).startswith("alice:")
        assert "alice" in box.ok(P.command("nss_group", group="nas-users"))

        (tmp_path / "hello.txt").write_text("hello from alice\n")
        ok = _smb(info, "alice", pw["alice"], tmp_path, f"put hello.txt hello-{security}.txt")
        assert ok.returncode == 0, ok.stdout + ok.stderr
        written = Path(info["share_path"]) / f"hello-{security}.txt"
        assert written.read_text() == "hello from alice\n"
        assert written.stat().st_uid == int(box.ok("id -u alice"))
        for user, password in (("alice", "wrong-password"), ("bob", pw["bob"])):
            res = _smb(info, user, password, tmp_path, "ls")
            assert res.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in res.stdout + res.stderr, user

        box.ok(setcfg_logical(P, "smb_mode", "local_only") + " && " + P.command("smb_restart"))
        local = _smb(info, "alice", pw["alice"], tmp_path, "ls")  # "local users only": LDAP users refused
        assert local.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in local.stdout + local.stderr
        assert box.ok(P.command("nss_user", user="alice")).startswith("alice:")  # NSS itself still on

        box.ok(setcfg_logical(P, "enable", "false") + " && " + P.command("ldap_stop") + " && "
               + P.command("smb_restart"))
        off = _smb(info, "alice", pw["alice"], tmp_path, "ls")
        assert off.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in off.stdout + off.stderr
        assert box.run(P.command("nss_user", user="alice"))[0] != 0
        log = (nas.nas_dir(Path(sb["state_dir"]), "site-b") / "logs" / "commands.jsonl").read_text()
        assert pw["svc"] not in log and pw["alice"] not in log
    finally:
        box.run(f"{setcfg_logical(P, 'enable', 'false')}; {setcfg_command(P, 'workgroup', 'NAS')}; "
                f"{P.command('root_secret_erase')}; {P.command('ldap_stop')}; {P.command('smb_restart')}")
        box.close()
