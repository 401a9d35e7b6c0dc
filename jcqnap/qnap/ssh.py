"""The SSH session to a NAS: pinned host key, timeouts, one connection per operation.

Why it looks like this:

* **Pinned host key.** The NAS's public key comes from config as an OpenSSH line
  (`ssh-ed25519 AAAA...`). It is the *only* key paramiko knows (no `~/.ssh/known_hosts`, no system
  host keys), and the missing-key policy rejects. An unknown or changed key is a `HostKeyMismatch`
  that says which NAS, the pinned fingerprint, the presented one and the fix. Nothing is sent to the
  NAS before the key is verified, so a wrong key changes nothing.
* **No ambient credentials.** No SSH agent, no `~/.ssh/id_*`: only the password or the private key
  from the stack's secret inputs.
* **Secrets never on a command line.** A command line is visible in `ps` on the NAS (and in the
  simulator's command log). `run()` takes the argv as a list and joins it with `shlex.join`; secret
  bytes travel on the command's stdin (`stdin=`), and `write_secret_file()` lands them in a 0600
  file through stdin.
* **Timeouts everywhere.** The Pulumi engine cannot cancel a stuck dynamic provider, so connect,
  banner, auth and every command have a deadline.
* **Errors are one line and never carry a secret.** Every message goes through `redact()` with the
  session's secrets.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NoReturn

import paramiko

from jcqnap.errors import JcqnapError, redact

#: Key types accepted in a pinned host key line.
HOST_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)

#: How many SSH connections this process opened (benchmarks and tests read it).
SESSIONS_OPENED = 0


class SshError(JcqnapError):
    """The NAS could not be reached, refused the login, or a command failed."""


class NasUnreachable(SshError):
    """No SSH connection could be opened (refused, timed out, no route): the NAS or its sshd is down."""


class LoginRefused(SshError):
    """The NAS answered but refused the user with this password or private key."""


class HostKeyMismatch(SshError):
    """The NAS presented a host key other than the pinned one; nothing was sent to it."""


class CommandFailed(SshError):
    """A command on the NAS exited non-zero."""

    def __init__(self, message: str, exit_status: int, stderr: str) -> None:
        super().__init__(message)
        self.exit_status = exit_status
        self.stderr = stderr


def parse_host_key(line: str) -> paramiko.PKey:
    """Parse an OpenSSH public key line (`type base64 [comment]`) into a paramiko key.

    Raises ValueError with the reason; `check` turns it into a failure naming the field.
    """
    parts = line.strip().split()
    if len(parts) < 2:
        raise ValueError("expected an OpenSSH public key line such as 'ssh-ed25519 AAAA...'")
    key_type, blob_b64 = parts[0], parts[1]
    if key_type not in HOST_KEY_TYPES:
        raise ValueError(f"unsupported key type {key_type!r}; use one of {', '.join(HOST_KEY_TYPES)}")
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except ValueError as exc:
        raise ValueError("the key data is not valid base64") from exc
    try:
        key = paramiko.PKey.from_type_string(key_type, blob)
    except Exception as exc:  # paramiko raises several types for malformed blobs
        raise ValueError(f"the key data is not a valid {key_type} key") from exc
    return key


def fingerprint(key: paramiko.PKey) -> str:
    """The OpenSSH SHA256 fingerprint (`SHA256:...`), as `ssh-keygen -lf` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def load_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    """Load a private key given as PEM or OpenSSH text (from a secret input, never a file path)."""
    last: Exception | None = None
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError) as exc:
            last = exc
    raise SshError(
        "the NAS private key could not be loaded (expected an unencrypted OpenSSH or PEM "
        f"ed25519/ecdsa/rsa key): {type(last).__name__}"
    )


@dataclass(frozen=True)
class NasTarget:
    """Everything needed to reach one NAS. Plain data: safe to build per call, never pickled."""

    host: str
    port: int
    user: str
    host_key: str
    password: str | None = None
    private_key: str | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 120.0
    #: The NAS's name in the stack config (`jcqnap:nas[].name`), when known: messages lead with it.
    name: str | None = None

    @property
    def label(self) -> str:
        """How messages name the NAS."""
        address = f"{self.user}@{self.host}:{self.port}"
        return f"{self.name} ({address})" if self.name else address

    @property
    def known_hosts_name(self) -> str:
        """The name paramiko looks the host up by: `host`, or `[host]:port` off port 22."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def secrets(self) -> list[str | None]:
        return [self.password, self.private_key]


@dataclass
class CommandResult:
    argv: list[str]
    exit_status: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")


class _PinnedKeyPolicy(paramiko.RejectPolicy):
    """RejectPolicy that remembers the key it refused, for the error message."""

    def __init__(self) -> None:
        self.refused: paramiko.PKey | None = None

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> NoReturn:
        self.refused = key
        super().missing_host_key(client, hostname, key)


@dataclass
class NasSession:
    """One SSH connection to a NAS, used as a context manager for one provider operation.

    `extra_secrets` are redacted from every message too (e.g. the LDAP root password, which this
    session carries on stdin).
    """

    target: NasTarget
    extra_secrets: Sequence[str | None] = ()
    commands: list[list[str]] = field(default_factory=list)
    _client: paramiko.SSHClient | None = None

    # -- connection -------------------------------------------------------------------------
    def __enter__(self) -> NasSession:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _secrets(self) -> list[str | None]:
        return [*self.target.secrets(), *self.extra_secrets]

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets())

    def connect(self) -> None:
        global SESSIONS_OPENED
        t = self.target
        try:
            pinned = parse_host_key(t.host_key)
        except ValueError as exc:
            raise HostKeyMismatch(f"NAS {t.label}: host_key is not usable: {exc}") from None
        pkey = load_private_key(t.private_key) if t.private_key else None
        if pkey is None and not t.password:
            raise SshError(f"NAS {t.label}: no password or private_key configured for the SSH login")
        client = paramiko.SSHClient()
        client.get_host_keys().add(t.known_hosts_name, pinned.get_name(), pinned)
        policy = _PinnedKeyPolicy()
        client.set_missing_host_key_policy(policy)
        kwargs: dict[str, Any] = {
            "hostname": t.host,
            "port": t.port,
            "username": t.user,
            "timeout": t.connect_timeout,
            "banner_timeout": t.connect_timeout,
            "auth_timeout": t.connect_timeout,
            "channel_timeout": t.connect_timeout,
            "allow_agent": False,
            "look_for_keys": False,
        }
        if pkey is not None:
            kwargs["pkey"] = pkey
        else:
            kwargs["password"] = t.password
        try:
            client.connect(**kwargs)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise self._mismatch(pinned, exc.key) from None
        except paramiko.AuthenticationException:
            client.close()
            raise LoginRefused(
                f"NAS {t.label}: SSH login refused; check the NAS user and its password or private_key"
            ) from None
        except TimeoutError:
            client.close()
            raise NasUnreachable(
                f"NAS {t.label}: no SSH answer within {t.connect_timeout:g}s; check host, port and firewall"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if policy.refused is not None:
                raise self._mismatch(pinned, policy.refused) from None
            raise SshError(f"NAS {t.label}: SSH failed: {self._redact(str(exc))}") from None
        except OSError as exc:
            client.close()
            raise NasUnreachable(
                f"NAS {t.label}: cannot connect ({exc.strerror or exc}); check host, port and that sshd runs"
            ) from None
        SESSIONS_OPENED += 1
        self._client = client

    def _mismatch(self, pinned: paramiko.PKey, got: paramiko.PKey) -> HostKeyMismatch:
        t = self.target
        return HostKeyMismatch(
            f"NAS {t.label}: host key mismatch: pinned {pinned.get_name()} {fingerprint(pinned)}, "
            f"the server presented {got.get_name()} {fingerprint(got)}; nothing was changed. If the NAS "
            f"was re-keyed on purpose, set host_key to its new public key (ssh-keyscan -p {t.port} "
            f"{t.host}); otherwise treat it as an interception attempt"
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- commands ---------------------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        stdin: bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run `argv` (each item quoted with shlex) and return its output.

        Secret data goes in `stdin`, never in `argv`. A non-zero exit raises `CommandFailed`
        naming the NAS and the command (redacted), unless `check=False`.
        """
        if self._client is None:
            raise SshError(f"NAS {self.target.label}: session used outside its `with` block")
        argv = [str(a) for a in argv]
        command = shlex.join(argv)
        self.commands.append(argv)
        limit = timeout if timeout is not None else self.target.command_timeout
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise SshError(f"NAS {self.target.label}: SSH connection closed before {self._short(argv)}")
        try:
            chan = transport.open_session(timeout=self.target.connect_timeout)
            chan.settimeout(limit)
            chan.exec_command(command)
            if stdin:
                chan.sendall(stdin)
            chan.shutdown_write()
            out, err = self._collect(chan, time.monotonic() + limit)
            status = chan.recv_exit_status()
            chan.close()
        except TimeoutError:
            raise SshError(
                f"NAS {self.target.label}: {self._short(argv)} did not finish within {limit:g}s"
            ) from None
        except paramiko.SSHException as exc:
            raise SshError(
                f"NAS {self.target.label}: {self._short(argv)} failed: {self._redact(str(exc))}"
            ) from None
        result = CommandResult(argv, status, out, err)
        if check and status != 0:
            detail = self._redact(err.decode("utf-8", errors="replace").strip())
            detail = " | ".join(line for line in detail.splitlines() if line)[:400]
            raise CommandFailed(
                f"NAS {self.target.label}: {self._short(argv)} exited {status}"
                + (f": {detail}" if detail else ""),
                status,
                detail,
            )
        return result

    def _collect(self, chan: paramiko.Channel, deadline: float) -> tuple[bytes, bytes]:
        """Drain stdout and stderr together (so neither fills its window and blocks the other)."""
        out = bytearray()
        err = bytearray()
        while True:
            if chan.recv_ready():
                out += chan.recv(65536)
                continue
            if chan.recv_stderr_ready():
                err += chan.recv_stderr(65536)
                continue
            # EOF follows all data on the wire, so once it (and the exit status) is in, the
            # buffers hold everything: drain them and stop.
            if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                break
            if time.monotonic() > deadline:
                chan.close()
                raise TimeoutError
            time.sleep(0.002)
        return bytes(out), bytes(err)

    def _short(self, argv: list[str]) -> str:
        """The command for messages: redacted, and long scripts cut to their first line."""
        text = self._redact(shlex.join(argv))
        first = text.splitlines()[0] if text else text
        if len(first) > 160:
            first = first[:157] + "..."
        if first != text:
            first += " ..."
        return f"`{first}`"

    def run_script(
        self, script: str, args: Sequence[str] = (), stdin: bytes | None = None, **kw: Any
    ) -> CommandResult:
        """Run a fixed POSIX sh script with `args` as its positional parameters ($1, $2, ...).

        Values never get spliced into the script text, so no value can change what runs.
        """
        return self.run(["sh", "-c", script, "jcqnap", *args], stdin=stdin, **kw)

    def write_secret_file(self, path: str, data: bytes) -> None:
        """Write `data` to `path` with mode 0600, through stdin (never on a command line)."""
        self.run_script('umask 077 && cat > "$1" && chmod 600 "$1"', [path], stdin=data)
