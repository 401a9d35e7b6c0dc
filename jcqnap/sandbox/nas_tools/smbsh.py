"""``/etc/init.d/smb.sh start|stop|restart|status`` of a simulated NAS: a real smbd.

``restart`` renders the profile's settings into the [global] keys it manages in QTS's smb.conf
(other lines are kept), stores the Root DN password in secrets.tdb with ``smbpasswd -W`` (on
stdin), and restarts smbd on the NAS's own 127.0.0.1 port. "LDAP users only" with LDAP enabled
means ``passdb backend = ldapsam:<uri>`` in the classic PDC role, which makes Samba look up the
``sambaDomain`` named after the workgroup, as QTS does; otherwise local users (tdbsam).
The workgroup comes from uLinux.conf [System] Workgroup and is written to smb.conf too.
"""

from __future__ import annotations

import glob
import os
import socket
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import initlib as lib
import qtscfg

LDAP_KEYS = ("ldap suffix", "ldap user suffix", "ldap group suffix", "ldap admin dn", "ldap ssl",
             "ldap passwd sync", "ldap delete dn", "ldap timeout")


def _relative(dn: str, suffix: str) -> str | None:
    """``ou=Users`` for ``ou=Users,<suffix>``: Samba wants user/group suffixes relative."""
    tail = "," + suffix
    if dn.casefold().endswith(tail.casefold()) and len(dn) > len(tail):
        return dn[: -len(tail)]
    return None


def render(conf: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]], str | None]:
    """(keys to set, keys to erase, Root DN password when ldapsam is used)."""
    st = lib.settings(conf)
    workgroup = lib._line("workgroup", st["workgroup"], required=False) or conf["profile"]["defaults"].get(
        "workgroup", "NAS")
    samba = conf["samba_dir"]
    run = os.path.join(conf["nas_dir"], "run", "samba")
    g = "global"
    sets = [
        (g, "workgroup", workgroup),
        (g, "netbios name", conf["netbios_name"]),
        (g, "security", "user"),
        (g, "smb ports", str(conf["smb_port"])),
        (g, "interfaces", "127.0.0.1"),
        (g, "bind interfaces only", "yes"),
        (g, "disable netbios", "yes"),
        (g, "load printers", "no"),
        (g, "printing", "bsd"),
        (g, "printcap name", "/dev/null"),
        (g, "disable spoolss", "yes"),
        (g, "usershare max shares", "0"),
        (g, "map to guest", "never"),
        (g, "private dir", os.path.join(samba, "private")),
        (g, "lock directory", os.path.join(samba, "lock")),
        (g, "state directory", os.path.join(samba, "state")),
        (g, "cache directory", os.path.join(samba, "cache")),
        (g, "pid directory", run),
        (g, "ncalrpc dir", os.path.join(run, "ncalrpc")),
        (g, "log file", os.path.join(conf["nas_dir"], "logs", "smbd.log")),
        (g, "max log size", "1000"),
        (conf["share_name"], "path", conf["share_path"]),
        (conf["share_name"], "read only", "no"),
        (conf["share_name"], "guest ok", "no"),
        (conf["share_name"], "create mask", "0664"),
    ]
    fw = lib.firmware(conf)
    if fw["smb_switch"] == "passdb":  # the stored passdb backend is the only switch (QTS 4.4.1 avahi.sh)
        stored = qtscfg.get(conf["profile"]["files"]["smb_conf"], g, "passdb backend") or ""
        ldap_only = lib.enabled(conf) and stored.strip().lower().startswith("ldapsam")
    else:
        ldap_only = lib.enabled(conf) and lib.logical(conf, "smb_mode", st["smb_mode"]) == "ldap_only"
    if not ldap_only:
        sets.append((g, "server role", "standalone server"))
        if fw["name"] == "default":
            sets.append((g, "passdb backend", f"tdbsam:{os.path.join(samba, 'private', 'passdb.tdb')}"))
        else:  # QTS's local users
            sets += [(g, "passdb backend", "smbpasswd"),
                     (g, "smb passwd file", os.path.join(samba, "private", "smbpasswd"))]
        return sets, [(g, k) for k in LDAP_KEYS], None
    t = lib.ldap_target(conf)
    sets += [
        (g, "server role", "classic primary domain controller"),
        (g, "passdb backend", f"ldapsam:{t['uri']}"),
        (g, "ldap suffix", t["base_dn"]),
        (g, "ldap admin dn", t["root_dn"]),
        (g, "ldap ssl", "start tls" if t["security"] == "starttls" else "off"),
        (g, "ldap passwd sync", "no"),
        (g, "ldap delete dn", "no"),
        (g, "ldap timeout", "5"),
    ]
    erases: list[tuple[str, str]] = []
    for key, dn in (("ldap user suffix", t["users_base_dn"]), ("ldap group suffix", t["groups_base_dn"])):
        rel = _relative(dn, t["base_dn"])
        if rel:
            sets.append((g, key, rel))
        else:
            erases.append((g, key))
    return sets, erases, lib.root_password(conf)


def _pidfiles(conf: dict[str, Any]) -> list[str]:
    run = os.path.join(conf["nas_dir"], "run", "samba")
    return sorted(glob.glob(os.path.join(run, "smbd*.pid")) + glob.glob(os.path.join(run, "samba-dcerpcd*.pid")))


def _smbd_pid(conf: dict[str, Any]) -> int | None:
    for path in _pidfiles(conf):
        if os.path.basename(path).startswith("smbd"):
            pid = lib.read_pid(path)
            if lib.alive(pid):
                return pid
    return None


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(conf: dict[str, Any]) -> int:
    for path in _pidfiles(conf):
        lib.stop_pidfile(path)
    return 0


def start(conf: dict[str, Any]) -> int:
    sets, erases, password = render(conf)  # validate everything before touching anything
    smb_conf = conf["profile"]["files"]["smb_conf"]
    qtscfg.update(smb_conf, sets, erases)
    for sub in ("private", "lock", "state", "cache"):
        os.makedirs(os.path.join(conf["samba_dir"], sub), mode=0o700, exist_ok=True)
    os.makedirs(os.path.join(conf["nas_dir"], "run", "samba", "ncalrpc"), exist_ok=True)
    log = os.path.join(conf["nas_dir"], "logs", "smb.sh.log")
    if password is not None:
        # smbpasswd -W asks for the password twice, on stdin, so it never shows in ps.
        rc = lib.spawn(["/usr/bin/smbpasswd", "-c", smb_conf, "-W"], log,
                       stdin_text=f"{password}\n{password}\n")
        if rc != 0:
            raise lib.ApplyError(f"smbpasswd -W failed with exit {rc}")
    stop(conf)
    lib.write_ldap_conf(conf)
    rc = lib.spawn(["/usr/sbin/smbd", "-D", "-s", smb_conf], log)
    if rc != 0:
        raise lib.ApplyError(f"smbd exited with {rc}")
    lib.wait_until(lambda: _smbd_pid(conf) is not None and _port_open(int(conf["smb_port"])), "smbd")
    return 0


def status(conf: dict[str, Any]) -> int:
    running = _smbd_pid(conf) is not None
    print(f"smbd {'running' if running else 'stopped'}")
    return 0 if running else 3


if __name__ == "__main__":
    sys.exit(lib.main("smb.sh", sys.argv[1:], {"start": start, "stop": stop, "restart": start,
                                                "status": status}))
