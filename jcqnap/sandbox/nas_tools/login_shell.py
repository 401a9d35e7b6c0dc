"""The ``admin`` login shell of a simulated NAS: log the command, then hand it to /bin/sh.

sshd runs every exec request as ``<shell> -c <command>``, so a login shell sees each command
without a ForceCommand (which would also swallow SFTP). Each command is appended as one JSON
line to the NAS's session log for tests and benchmarks. Commands never carry secrets in jcqnap's
design (secrets come over stdin), and a test greps this log to prove it.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    log = os.environ.get("JCQNAP_SESSION_LOG")
    command = argv[2] if len(argv) >= 3 and argv[1] == "-c" else None
    if log:
        entry = {"ts": round(time.time(), 6), "pid": os.getpid(),
                 "kind": "exec" if command is not None else "shell", "command": command}
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(json.dumps(entry) + "\n")
    if command is not None:
        os.execv("/bin/sh", ["sh", "-c", command])  # noqa: S606 - being a shell is the point
    os.execv("/bin/sh", ["-sh", *argv[1:]])  # noqa: S606
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
