"""A real ``smbd`` in ldapsam PDC mode authenticates a Samba member against the emulator's slapd.

Recipe from domain-facts §4: smbd (``server role = classic primary domain controller``, so it looks
up the *workgroup*'s sambaDomain) and nslcd run inside ``unshare -m`` with private bind mounts of
nsswitch.conf, nslcd.conf, /run/nslcd and /etc/ldap/ldap.conf, so the host's NSS is untouched.
Everything listens on 127.0.0.1; secrets go through 0600 files and stdin, never argv.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jcqnap.sandbox import process
from tests.integration.test_emulator_api import PASSWORD, Api, runbook

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not shutil.which("smbd") or not shutil.which("nslcd"), reason="samba/nslcd not installed"),
]


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    process.write_private(path, textwrap.dedent(text), mode)
    return path


@pytest.fixture
def smbd(jc_reset: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    api = Api(jc_reset)
    ids = runbook(api, jc_reset)
    ldap = jc_reset["ldap"]
    base, users = ldap["base_dn"], ldap["users_base_dn"]
    admin_dn = f"uid=svc-samba,{users}"
    port = process.free_port()
    d = tmp_path
    for sub in ("lock", "state", "cache", "pid", "private", "run-nslcd", "log"):
        (d / sub).mkdir()
    # The share must be reachable by the member's uid: pytest's tmp dirs are 0700 root.
    share = Path(tempfile.mkdtemp(prefix="jcqnap-share-", dir="/tmp"))
    share.chmod(0o777)
    (d / "run-nslcd").chmod(0o755)
    write(d / "nsswitch.conf", "passwd: files ldap\ngroup: files ldap\nshadow: files\n")
    write(d / "ldap.conf", f"TLS_CACERT {ldap['ca_cert']}\nTLS_REQCERT demand\n")
    # nslcd stays root: the pytest tmp dirs holding the CA are 0700 root, unreadable to user nslcd.
    write(d / "nslcd.conf", f"""\
        uri {ldap['uri']}
        base {base}
        base passwd {users}
        base group {users}
        binddn {admin_dn}
        bindpw {PASSWORD}
        tls_reqcert demand
        tls_cacertfile {ldap['ca_cert']}
        """, 0o600)
    conf = write(d / "smb.conf", f"""\
        [global]
          workgroup = JCWORK
          netbios name = SANDBOXNAS
          server role = classic primary domain controller
          passdb backend = ldapsam:{ldap['uri']}
          ldap suffix = {base}
          ldap user suffix = ou=Users
          ldap group suffix = ou=Users
          ldap admin dn = {admin_dn}
          ldap ssl = off
          ldap passwd sync = no
          ldap delete dn = no
          smb ports = {port}
          interfaces = 127.0.0.1
          bind interfaces only = yes
          disable netbios = yes
          lock directory = {d}/lock
          state directory = {d}/state
          cache directory = {d}/cache
          pid directory = {d}/pid
          private dir = {d}/private
          ncalrpc dir = {d}/lock/ncalrpc
          log file = {d}/log/smbd.log
          log level = 2
          load printers = no
          printing = bsd
          printcap name = /dev/null
        [share]
          path = {share}
          valid users = @nas-users
          writable = yes
        """)
    script = write(d / "start.sh", f"""\
        set -e
        mount --bind {d}/nsswitch.conf /etc/nsswitch.conf
        mount --bind {d}/ldap.conf /etc/ldap/ldap.conf
        mkdir -p /run/nslcd
        mount --bind {d}/run-nslcd /run/nslcd
        mount --bind {d}/nslcd.conf /etc/nslcd.conf
        /usr/sbin/nslcd
        /usr/sbin/smbd -D -s {conf}
        """, 0o700)
    # The admin DN password goes into secrets.tdb through stdin (-W), not argv.
    subprocess.run(["smbpasswd", "-c", str(conf), "-W"], input=f"{PASSWORD}\n{PASSWORD}\n", text=True,
                   check=True, capture_output=True, timeout=30)
    started = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", str(script)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert started.returncode == 0, started.stderr
    try:
        process.wait_for_port("127.0.0.1", port, timeout=20, what="smbd")
        yield {"port": port, "dir": d, "share": share, "ids": ids, "api": api}
    finally:
        shutil.rmtree(share, ignore_errors=True)
        for pid_file, mark in ((d / "pid" / "smbd.pid", "smbd"), (d / "run-nslcd" / "nslcd.pid", "nslcd")):
            process.stop_pid_file(pid_file, expect=mark)


def smbclient(env: dict[str, Any], user: str, password: str, command: str) -> subprocess.CompletedProcess[str]:
    auth = write(env["dir"] / f"auth-{user}", f"username = {user}\npassword = {password}\ndomain = JCWORK\n", 0o600)
    client_conf = write(env["dir"] / "client.conf", "[global]\n  client min protocol = SMB2\n")
    return subprocess.run(
        ["smbclient", "-s", str(client_conf), "-p", str(env["port"]), "-A", str(auth), "//127.0.0.1/share",
         "-c", command],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_samba_member_writes_to_the_share_and_others_are_refused(smbd: dict[str, Any]) -> None:
    src = smbd["dir"] / "hello.txt"
    src.write_text("hello from alice\n")
    ok = smbclient(smbd, "alice", "Alice-pw1", f"put {src} hello.txt")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    written = smbd["share"] / "hello.txt"
    assert written.read_text() == "hello from alice\n"
    assert written.stat().st_uid == smbd["ids"]["alice"]["unix_uid"]

    wrong = smbclient(smbd, "alice", "not-her-password", "ls")
    # On the wire Samba reports LOGON_FAILURE; its log names the real reason.
    assert wrong.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in wrong.stdout + wrong.stderr
    assert "NT_STATUS_WRONG_PASSWORD" in (smbd["dir"] / "log" / "smbd.log").read_text()

    api: Api = smbd["api"]
    api.call("POST", "/systemusers", 200, json={"username": "dave", "email": "d@example.com", "password": "Dave-pw1",
                                                "ldap_binding_user": True})
    nosamba = smbclient(smbd, "dave", "Dave-pw1", "ls")
    assert nosamba.returncode != 0 and "NT_STATUS_LOGON_FAILURE" in nosamba.stdout + nosamba.stderr
