"""Generic helpers to run sandbox daemons: start detached, wait for a port, stop by pid.

Shared by every sandbox piece (slapd, the JumpCloud emulator, the NAS simulator's sshd/smbd/nslcd)
so there is one way to start and stop things, as pytest-postgresql's process fixtures do.

Safety rules baked in:
- processes are only ever stopped by pid, never by name;
- ``stop_pid`` can check ``/proc/<pid>/cmdline`` first, so a recycled pid belonging to someone
  else is left alone;
- daemons get their own session (``start_new_session``) so a Ctrl-C in the terminal that ran
  ``up`` does not kill them, and no secret is ever passed on a command line (callers pass secrets
  through 0600 files or the environment).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct TCP ports that are free on ``host`` right now.

    All sockets are held open until every port is chosen, so the ports differ from each other.
    There is an unavoidable race with other programs between this call and the daemon's bind.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(host: str = LOOPBACK) -> int:
    """Return one TCP port that is free on ``host`` right now (see ``free_ports``)."""
    return free_ports(1, host)[0]


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when a TCP connect to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    timeout: float = 15.0,
    pid: int | None = None,
    what: str = "daemon",
) -> None:
    """Block until ``host:port`` accepts TCP connections.

    Raises ``TimeoutError`` after ``timeout`` seconds, or ``RuntimeError`` as soon as the process
    ``pid`` (when given) has died, so a daemon that fails at start-up is reported quickly.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers(host, port):
            return
        if pid is not None and not pid_alive(pid):
            raise RuntimeError(f"{what} (pid {pid}) exited before {host}:{port} answered")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not answer on {host}:{port} within {timeout:.0f}s")


def wait_for_path(path: Path, timeout: float = 15.0, pid: int | None = None, what: str = "daemon") -> None:
    """Block until ``path`` exists (a pid file or a unix socket); errors as ``wait_for_port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if pid is not None and not pid_alive(pid):
            raise RuntimeError(f"{what} (pid {pid}) exited before {path} appeared")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not create {path} within {timeout:.0f}s")


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: the state follows the last ')'.
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    """True when ``pid`` is a running process (zombies count as dead)."""
    if pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap our own exited children so they do not linger as zombies
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def pid_cmdline(pid: int) -> str:
    """The command line of ``pid`` with NULs turned into spaces, or "" when unknown."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(pid_file: Path) -> int | None:
    """The pid stored in ``pid_file``, or None when the file is missing or garbled."""
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    """Write ``pid`` to ``pid_file`` (atomically, so readers never see half a number)."""
    tmp = pid_file.with_suffix(pid_file.suffix + ".tmp")
    tmp.write_text(f"{pid}\n")
    tmp.replace(pid_file)


def stop_pid(pid: int, timeout: float = 5.0, expect: str | None = None) -> bool:
    """Stop ``pid`` with SIGTERM, then SIGKILL if it is still alive after ``timeout`` seconds.

    With ``expect``, the process is only signalled when its command line contains that text,
    which protects against a recycled pid. Returns True when the process is gone afterwards
    (including when it was already gone), False when it was left alone or survived SIGKILL.
    """
    if not pid_alive(pid):
        return True
    if expect is not None and expect not in pid_cmdline(pid):
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
    return not pid_alive(pid)


def stop_pid_file(pid_file: Path, timeout: float = 5.0, expect: str | None = None) -> bool:
    """``stop_pid`` on the pid stored in ``pid_file``, then remove the file if the process is gone."""
    pid = read_pid(pid_file)
    gone = True if pid is None else stop_pid(pid, timeout=timeout, expect=expect)
    if gone:
        pid_file.unlink(missing_ok=True)
    return gone


def start_daemon(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached from our session with stdout and stderr appended to ``log_path``.

    The child gets its own session so it outlives the caller (``up`` exits, the daemons stay).
    ``env`` replaces the environment when given; use it, or a 0600 file, for secrets, never argv.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            close_fds=True,
        )


def write_private(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Create or replace ``path`` with ``mode`` set before any byte is written (for secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    os.chmod(tmp, mode)
    tmp.replace(path)
