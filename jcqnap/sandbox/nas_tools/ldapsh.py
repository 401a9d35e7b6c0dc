"""``/etc/init.d/ldap.sh start|stop|restart|status`` of a simulated NAS: a real nslcd.

``start`` renders the profile's LDAP settings into /etc/nslcd.conf (0600: it holds the bind
password) and QTS's /etc/config/nss_ldap.conf (no password), points NSS at ldap and (re)starts
nslcd in this NAS's namespace. With LDAP disabled it behaves as ``stop``. ``status`` exits 0
when LDAP is enabled and nslcd runs, 3 otherwise (LSB "not running").
"""

from __future__ import annotations

import os
import pwd
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import initlib as lib

PIDFILE = os.path.join(lib.NSLCD_DIR, "nslcd.pid")
SOCKET = os.path.join(lib.NSLCD_DIR, "socket")


def nslcd_conf(conf: dict[str, Any], t: dict[str, str], password: str) -> str:
    ssl = {"ldaps": "on", "starttls": "start_tls", "plain": "off"}[t["security"]]
    return (
        "# rendered by /etc/init.d/ldap.sh from uLinux.conf; do not edit\n"
        "uid nslcd\ngid nslcd\n"
        f"uri {t['uri']}\n"
        f"base {t['base_dn']}\n"
        f"base passwd {t['users_base_dn']}\n"
        f"base group {t['groups_base_dn']}\n"
        f"binddn {t['root_dn']}\n"
        f"bindpw {password}\n"
        f"ssl {ssl}\n"
        "tls_reqcert demand\n"
        f"tls_cacertfile {lib.ca_file(conf)}\n"
        "bind_timelimit 5\ntimelimit 10\nreconnect_retrytime 2\n"
        "nss_initgroups_ignoreusers ALLLOCAL\n"
    )


def nss_ldap_conf(t: dict[str, str]) -> str:
    """QTS's PADL-style file, kept for ``snapshot`` realism; the password is not in it."""
    ssl = {"ldaps": "on", "starttls": "start_tls", "plain": "no"}[t["security"]]
    return (
        f"uri {t['uri']}\nbase {t['base_dn']}\nrootbinddn {t['root_dn']}\nssl {ssl}\n"
        f"nss_base_passwd {t['users_base_dn']}\nnss_base_group {t['groups_base_dn']}\n"
    )


def stop(conf: dict[str, Any]) -> int:
    lib.stop_pidfile(PIDFILE)
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    lib.set_nsswitch(conf, with_ldap=False)
    return 0


def start(conf: dict[str, Any]) -> int:
    if not lib.enabled(conf):
        stop(conf)
        print("LDAP authentication is disabled")
        return 0
    target = lib.ldap_target(conf)
    if lib.firmware(conf)["secret"] == "ensecret":  # noqa: S105 - a name, not a password
        lib.decode_ui_secret(conf)  # this firmware's own step: nss_ldap.ensecret -> /etc/ldap.secret
    password = lib.root_password(conf)
    stop(conf)
    os.makedirs(lib.NSLCD_DIR, exist_ok=True)
    nslcd = pwd.getpwnam("nslcd")
    os.chown(lib.NSLCD_DIR, nslcd.pw_uid, nslcd.pw_gid)
    lib.write_file("/etc/nslcd.conf", nslcd_conf(conf, target, password), 0o600)
    lib.write_file(conf["profile"]["files"]["nss_ldap_conf"], nss_ldap_conf(target), 0o644)
    log = os.path.join(conf["nas_dir"], "logs", "nslcd.log")
    rc = lib.spawn(["/usr/sbin/nslcd"], log)
    if rc != 0:
        raise lib.ApplyError(f"nslcd exited with {rc} (see its log on the NAS)")
    lib.wait_until(lambda: os.path.exists(SOCKET) and lib.alive(lib.read_pid(PIDFILE)), "nslcd")
    lib.set_nsswitch(conf, with_ldap=True)
    return 0


def status(conf: dict[str, Any]) -> int:
    running = lib.alive(lib.read_pid(PIDFILE))
    on = lib.enabled(conf)
    print(f"LDAP {'enabled' if on else 'disabled'}, nslcd {'running' if running else 'stopped'}")
    return 0 if on and running else 3


if __name__ == "__main__":
    sys.exit(lib.main("ldap.sh", sys.argv[1:], {"start": start, "stop": stop, "restart": start,
                                                 "status": status}))
