"""Shared parts of a simulated NAS's ``/etc/init.d/ldap.sh`` (ldapsh.py) and ``smb.sh`` (smbsh.py).

The scripts read the QTS profile's settings (from uLinux.conf, through qtscfg, never through a shell),
render them into a real nslcd.conf / smb.conf and (re)start the real nslcd / smbd. They run inside
the NAS's mount namespace (called over SSH), so the daemons they start inherit its private /etc
and /run. The Root DN password is read from the profile's 0600 secret file and reaches smbpasswd
on stdin, never on a command line. Standard library only.

Knobs for fault tests (files in the NAS state dir, consumed by the next start/stop/restart):
- ``fail-next-apply``: exit 1 without changing anything;
- ``drop-next-apply``: kill this SSH session (``before`` the apply, or ``after`` it, the default).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nasenv
import qtscfg

NSLCD_DIR = "/run/nslcd"
APPLY_VERBS = ("start", "stop", "restart")


class ApplyError(Exception):
    """The settings cannot be applied; the message is shown to the SSH client (never a secret)."""


# -- settings ------------------------------------------------------------------------------------
def settings(conf: dict[str, Any]) -> dict[str, str | None]:
    """Every profile setting as stored, read the way getcfg reads it."""
    prof = conf["profile"]
    out: dict[str, str | None] = {}
    for name, s in prof["settings"].items():
        out[name] = qtscfg.get(prof["files"][s["file"]], s["section"], s["key"])
    return out


def logical(conf: dict[str, Any], name: str, stored: str | None) -> str | None:
    """Map a stored spelling to the logical value, case-insensitively (QTS booleans vary in case)."""
    if stored is None:
        return None
    for want, value in conf["profile"]["settings"][name]["values"].items():
        if value.casefold() == stored.strip().casefold():
            return want
    return stored.strip()


def _line(name: str, value: str | None, required: bool = True) -> str:
    """A value safe to render into a one-line config directive (never lets a value add lines)."""
    if value is None or not value.strip():
        if required:
            raise ApplyError(f"LDAP setting {name!r} is not set")
        return ""
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise ApplyError(f"LDAP setting {name!r} contains control characters; refusing to render it")
    return value.strip()


def ldap_target(conf: dict[str, Any]) -> dict[str, str]:
    """The validated LDAP client settings: uri, security, DNs."""
    st = settings(conf)
    security = logical(conf, "security", st["security"]) or "ldaps"
    if security not in ("ldaps", "starttls", "plain"):
        raise ApplyError(f"unknown LDAP security mode {st['security']!r}")
    host = _line("server", st["server"])
    port = _line("port", st["port"], required=False) or ("636" if security == "ldaps" else "389")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ApplyError(f"invalid LDAP port {port!r}")
    if any(ch in host for ch in "/ ") or not host:
        raise ApplyError(f"invalid LDAP server {host!r}")
    base = _line("base_dn", st["base_dn"])
    return {
        "uri": f"{'ldaps' if security == 'ldaps' else 'ldap'}://{host}:{port}",
        "security": security,
        "base_dn": base,
        "root_dn": _line("root_dn", st["root_dn"]),
        "users_base_dn": _line("users_base_dn", st["users_base_dn"], required=False) or base,
        "groups_base_dn": _line("groups_base_dn", st["groups_base_dn"], required=False) or base,
    }


def firmware(conf: dict[str, Any]) -> dict[str, Any]:
    """The firmware variant's behaviours (``jcqnap.sandbox.firmware``); the default when absent."""
    fw: dict[str, Any] = conf.get("firmware") or {"name": "default", "secret": "plain", "smb_switch": "ulinux"}
    return fw


_ENSECRET_MAGIC = "QNAPENC1$"


def _keystream(n: int) -> bytes:
    block = hashlib.sha256(b"jcqnap-simulated-qts-ensecret").digest()
    return (block * (n // len(block) + 1))[:n]


def ensecret_encode(password: str) -> str:
    """The simulated UI's 'encryption' of the Root DN password (it only has to look opaque)."""
    raw = password.encode("utf-8", "surrogateescape")
    mixed = bytes(a ^ b for a, b in zip(raw, _keystream(len(raw)), strict=True))
    return _ENSECRET_MAGIC + base64.b64encode(mixed).decode()


def ensecret_decode(text: str) -> str:
    text = text.strip()
    if not text.startswith(_ENSECRET_MAGIC):
        raise ApplyError("nss_ldap.ensecret is not in this firmware's format")
    raw = base64.b64decode(text[len(_ENSECRET_MAGIC):])
    return bytes(a ^ b for a, b in zip(raw, _keystream(len(raw)), strict=True)).decode("utf-8", "surrogateescape")


def decode_ui_secret(conf: dict[str, Any]) -> None:
    """ensecret firmware: decode the UI's nss_ldap.ensecret into the plain file the LDAP client reads."""
    path = conf["profile"]["files"]["ui_secret"]
    try:
        with open(path, encoding="utf-8") as f:
            password = ensecret_decode(f.read())
    except FileNotFoundError:
        raise ApplyError("the LDAP Root DN password has not been set in the QTS UI") from None
    write_file(firmware(conf)["decoded_secret"], password + "\n", 0o600)


def root_password(conf: dict[str, Any]) -> str:
    """The Root DN password from the 0600 secret file (refused if others could read it)."""
    path = conf["profile"]["files"]["root_secret"]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ApplyError("the LDAP Root DN password has not been set") from None
    if st.st_mode & 0o077:
        raise ApplyError(f"{path} must be mode 0600")
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        pw = f.read()
    pw = pw[:-1] if pw.endswith("\n") else pw
    if not pw or any(ch in pw for ch in "\n\r\0"):
        raise ApplyError("the LDAP Root DN password is empty or spans lines")
    return pw


def ca_file(conf: dict[str, Any]) -> str:
    """The CA the LDAP client and smbd trust.

    The CA LdapConfig installed (the profile's ``ca_cert`` file) when there is one; otherwise the
    NAS's own trust store (the sandbox CA, standing in for the public CAs a real NAS trusts).
    """
    configured = conf["profile"]["files"].get("ca_cert")
    if configured and os.path.isfile(configured):
        return str(configured)
    return str(conf["ca_cert"])


def write_ldap_conf(conf: dict[str, Any]) -> None:
    """OpenLDAP client config smbd's ldapsam reads: the CA to trust, certificates always checked."""
    write_file("/etc/ldap/ldap.conf", f"TLS_CACERT {ca_file(conf)}\nTLS_REQCERT demand\n", 0o644)


def enabled(conf: dict[str, Any]) -> bool:
    return logical(conf, "enable", settings(conf)["enable"]) == "true"


# -- files and processes --------------------------------------------------------------------------
def write_file(path: str, text: str, mode: int) -> None:
    """Write ``path`` with ``mode`` set before the content lands (nslcd.conf holds the bind password)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_pid(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def stop_pidfile(path: str) -> None:
    """SIGTERM the daemon named in ``path``, SIGKILL after 5 s, then drop the pid file."""
    pid = read_pid(path)
    if alive(pid):
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    if os.path.exists(path):
        os.unlink(path)


def spawn(argv: list[str], log: str, stdin_text: str | None = None) -> int:
    """Run a daemonizing program detached from the SSH session; return its foreground exit code."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.run(
            argv, input=(stdin_text or "").encode(), stdout=out, stderr=out,
            start_new_session=True, close_fds=True, timeout=30, check=False,
        )
    return proc.returncode


def wait_until(check: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise ApplyError(f"{what} did not come up within {timeout:.0f}s")
        time.sleep(0.05)


def set_nsswitch(conf: dict[str, Any], with_ldap: bool) -> None:
    src = "files ldap" if with_ldap else "files"
    text = f"passwd: {src}\ngroup: {src}\nshadow: files\nhosts: files\nnetgroup: files\n"
    write_file("/etc/nsswitch.conf", text, 0o644)


# -- knobs ---------------------------------------------------------------------------------------
def take_knob(conf: dict[str, Any], name: str) -> str | None:
    """Consume knob file ``name``; its content (stripped) or None when not armed."""
    path = os.path.join(conf["nas_dir"], name)
    try:
        with open(path) as f:
            content = f.read().strip()
        os.unlink(path)
        return content
    except FileNotFoundError:
        return None


def drop_session(conf: dict[str, Any]) -> None:
    """Kill the sshd processes serving this session (not the listener), as a dropped link would."""
    listener = read_pid(os.path.join(conf["nas_dir"], "run", "sshd.pid"))
    pid = os.getppid()
    victims: list[int] = []
    while pid > 1:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            break
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if pid == listener:
            break
        if comm.startswith("sshd"):
            victims.append(pid)
        pid = ppid
    for v in victims:
        os.kill(v, signal.SIGKILL)


def main(script: str, argv: list[str], verbs: dict[str, Any]) -> int:
    """Run ``verbs[argv[0]](conf)`` with the knobs honoured; errors print one line and exit 1."""
    if len(argv) != 1 or argv[0] not in verbs:
        sys.stderr.write(f"usage: {script} {{{'|'.join(verbs)}}}\n")
        return 1
    verb = argv[0]
    conf = nasenv.load()
    drop: str | None = None
    if verb in APPLY_VERBS and not os.environ.get("JCQNAP_NAS_BOOT"):
        if take_knob(conf, "fail-next-apply") is not None:
            sys.stderr.write(f"{script} {verb}: simulated apply failure (fail-next-apply)\n")
            return 1
        drop = take_knob(conf, "drop-next-apply")
        if drop == "before":
            drop_session(conf)
            return 1
    try:
        # One init action at a time per NAS, as a real init system serialises them: two restarts
        # racing (an apply and a test forcing a re-bind) would otherwise fight over the pid files.
        with open(os.path.join(conf["nas_dir"], "init.lock"), "a") as lock:
            if verb in APPLY_VERBS:
                fcntl.flock(lock, fcntl.LOCK_EX)
            rc = int(verbs[verb](conf) or 0)
    except ApplyError as e:
        sys.stderr.write(f"{script} {verb}: {e}\n")
        return 1
    if drop is not None:
        drop_session(conf)
    return rc
