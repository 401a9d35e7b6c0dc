"""Where a simulated NAS keeps things, read by its tools from ``$JCQNAP_NAS_CONF`` (nas.json).

nas.py writes nas.json when the NAS starts, and the wrappers installed at /sbin/getcfg,
/etc/init.d/ldap.sh... export its path. It carries the QTS profile as data, so the tools use the
profile's names instead of hard-coding QTS names. Standard library only (runs inside the NAS).
"""

from __future__ import annotations

import json
import os
from typing import Any

FALLBACK_ULINUX = "/etc/config/uLinux.conf"


def load() -> dict[str, Any]:
    """The NAS description, or a minimal one so getcfg/setcfg still work without it."""
    path = os.environ.get("JCQNAP_NAS_CONF")
    if not path:
        return {"profile": {"files": {"ulinux_conf": FALLBACK_ULINUX}}}
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def default_file(conf: dict[str, Any]) -> str:
    """getcfg/setcfg's default file: the profile's uLinux.conf."""
    return str(conf["profile"]["files"].get("ulinux_conf", FALLBACK_ULINUX))
