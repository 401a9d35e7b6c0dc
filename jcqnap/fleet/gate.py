"""The gate that lets `fleet up` start site runs while their directory stack is still updating.

A site's `pulumi up` spends most of its time starting (engine, language host, program imports)
before it reads the directory's outputs through its StackReference. `fleet up` therefore starts the
sites together with their directory and passes `JCQNAP_FLEET_GATE=<file>`; the site program waits
in `wait()` before it creates the StackReference, until the fleet writes `open` (the directory's
update finished and its outputs are saved) or `closed: <why>` (it failed: the site stops, changing
nothing). This is what keeps a bind password rotation's window short (docs/rotation.md).

The wait also ends, with an error, when the fleet process that owns the gate is gone, so a killed
fleet run never leaves site programs waiting forever.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "JCQNAP_FLEET_GATE"
ENV_OWNER = "JCQNAP_FLEET_PID"
OPEN = "open"
CLOSED = "closed: "
#: The longest a site waits for its directory (a directory `up` takes seconds to minutes).
MAX_WAIT = 3600.0


class GateClosed(RuntimeError):
    """The directory stack failed, or the fleet run that started this site is gone."""


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait(poll: float = 0.1) -> None:
    """Return at once without a gate; otherwise block until it opens. Raises GateClosed."""
    path = os.environ.get(ENV)
    if not path:
        return
    owner = int(os.environ.get(ENV_OWNER) or 0)
    deadline = time.monotonic() + MAX_WAIT
    while time.monotonic() < deadline:
        try:
            state = Path(path).read_text()
        except OSError:
            state = ""
        if state == OPEN:
            return
        if state.startswith(CLOSED):
            raise GateClosed(f"jcqnap fleet: {state[len(CLOSED):]}; this site changed nothing")
        if owner and not _owner_alive(owner):
            raise GateClosed("jcqnap fleet: the fleet run that started this site is gone; this site changed nothing")
        time.sleep(poll)
    raise GateClosed(f"jcqnap fleet: the directory stack did not finish within {MAX_WAIT:.0f}s; "
                     "this site changed nothing")


def write(path: Path, state: str) -> None:
    """Set the gate (`OPEN` or `CLOSED + reason`) atomically, once; later writes are ignored."""
    if path.exists():
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(state)
    tmp.replace(path)
