"""A simulated NAS's "Apply" in QTS's Domain Security > LDAP authentication page, per firmware variant.

Reads the form as JSON on stdin (host, port, security, base_dn, root_dn, users_base_dn,
groups_base_dn, password, workgroup, smb_mode) and writes what that firmware's UI would: the
``[LDAP]`` keys under this firmware's names and spellings, both workgroups, the password where this
firmware keeps it (plain 0600 file, or encrypted-looking ``nss_ldap.ensecret``), smb.conf's
``passdb backend`` when that is the firmware's switch; then it runs the firmware's own ``ldap.sh``
and ``smb.sh``, as the UI does. The password only ever arrives on stdin. Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import initlib as lib
import nasenv
import qtscfg


def spelling(prof: dict[str, Any], name: str, logical: str, uri: str) -> str:
    values = prof["settings"][name]["values"]
    return str(values[logical]).replace("{uri}", uri) if values else logical


def apply(conf: dict[str, Any], form: dict[str, Any]) -> None:
    prof = conf["profile"]
    fw = lib.firmware(conf)
    security = "plain" if form["security"] == "ldap" else form["security"]
    port = str(form.get("port") or ("636" if security == "ldaps" else "389"))
    uri = f"{'ldaps' if security == 'ldaps' else 'ldap'}://{form['host']}:{port}"
    logical = {
        "enable": "true", "server": form["host"], "port": port, "security": security,
        "base_dn": form["base_dn"], "root_dn": form["root_dn"], "users_base_dn": form["users_base_dn"],
        "groups_base_dn": form["groups_base_dn"], "smb_mode": form.get("smb_mode") or "ldap_only",
        "workgroup": form["workgroup"], "smb_workgroup": form["workgroup"],
    }
    by_file: dict[str, list[tuple[str, str, str]]] = {}
    for name, value in logical.items():
        s = prof["settings"][name]
        stored = spelling(prof, name, value, uri)
        by_file.setdefault(prof["files"][s["file"]], []).append((s["section"], s["key"], stored))
    for path, sets in by_file.items():
        qtscfg.update(path, sets)
    password = str(form["password"])
    if fw["secret"] == "ensecret":  # noqa: S105 - a name, not a password
        lib.write_file(prof["files"]["ui_secret"], lib.ensecret_encode(password) + "\n", 0o600)
    else:
        lib.write_file(prof["files"]["root_secret"], password + "\n", 0o600)
    for cmd in ("ldap_start", "smb_restart"):
        out = subprocess.run(["sh", "-c", prof["commands"][cmd]], capture_output=True, text=True, timeout=120,
                             check=False)
        if out.returncode != 0:
            raise lib.ApplyError(f"{prof['commands'][cmd]} failed: {out.stderr.strip()}")


def main() -> int:
    conf = nasenv.load()
    try:
        apply(conf, json.loads(sys.stdin.read()))
    except (lib.ApplyError, KeyError, ValueError) as exc:
        sys.stderr.write(f"QTS UI apply failed: {exc}\n")
        return 1
    print(f"QTS UI ({lib.firmware(conf)['name']} firmware): LDAP settings applied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
