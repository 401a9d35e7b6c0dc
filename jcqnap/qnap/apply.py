"""The LdapConfig operation: compare wanted settings with the NAS's fact, write only the difference,
apply, verify, and roll back byte-for-byte on any failure.

This is pyinfra's "operation" half (the "fact" half is `jcqnap.qnap.settings`): `plan_setcfg` is
pure, so a second run with nothing changed emits no `setcfg` at all. `Transaction` runs the steps
over one `NasSession`:

1. **snapshot**: the current settings *and* the bytes of every file jcqnap may touch (uLinux.conf,
   smb.conf, the Root DN secret file, the CA file), in the same round trip as the fact;
2. **write**: the differing `setcfg` calls in one script; the password over stdin into the 0600
   secret file; the CA file;
3. **apply**: the profile's LDAP restart (or stop) and Samba restart;
4. **verify**: the status commands answer and a domain user/group resolves (`getent`) on the NAS;
5. on any failure: **restore** every snapshotted file byte-for-byte (secret bytes over stdin),
   re-apply, and raise an error that says what was rolled back.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from jcqnap.errors import JcqnapError
from jcqnap.qnap import fit as fitcheck
from jcqnap.qnap.profile import Profile, ldap_uri
from jcqnap.qnap.settings import NasSettings, new_nonce, parse_settings_output, read_settings_script, setcfg_command
from jcqnap.qnap.ssh import NasSession, SshError

#: Files whose bytes are snapshotted before a write (profile file names; missing ones are skipped). The
#: generated nss_ldap.conf is included so a rollback leaves no trace of the attempted settings there.
SNAPSHOT_FILES = ("ulinux_conf", "smb_conf", "nss_ldap_conf", "root_secret", "ca_cert")

#: How long verification waits for nslcd/smbd and NSS to answer after an apply.
VERIFY_SECONDS = 20


class ApplyFailed(JcqnapError):
    """The NAS change failed; the message says whether and what was rolled back."""


@dataclass(frozen=True)
class FileSnapshot:
    path: str
    mode: str | None  # None: the file did not exist
    data: bytes = b""

    def __repr__(self) -> str:  # the bytes may be the Root DN password: never print them
        return f"FileSnapshot({self.path!r}, mode={self.mode!r}, {len(self.data)} bytes)"


@dataclass
class Fact:
    """What one round trip learned: the settings, optional file bytes, and verification answers."""

    settings: NasSettings
    files: dict[str, FileSnapshot] = field(default_factory=dict)
    ca_sha256: str | None = None
    nss: dict[str, int] = field(default_factory=dict)
    fit: fitcheck.FitScan | None = None


def _profile_path(profile: Profile, name: str) -> str | None:
    try:
        return profile.path(name)
    except KeyError:
        return None


# -- the fact ------------------------------------------------------------------------------------
_SNAPSHOT_PART = r"""
m="@@$1"; shift
while [ $# -ge 2 ]; do
  name=$1; path=$2; shift 2
  if [ -f "$path" ]; then
    printf '%s snap %s %s ' "$m" "$name" "$(stat -c %a "$path")"
    base64 < "$path" | tr -d '\n'
    printf '\n'
  else
    printf '%s snap %s -\n' "$m" "$name"
  fi
done
"""


def fact_script(
    profile: Profile,
    nonce: str,
    *,
    snapshot: bool,
    verify_user: str | None = None,
    verify_group: str | None = None,
    fit: bool = False,
) -> tuple[str, list[str]]:
    """One script (and its positional args) reading settings, CA hash, NSS checks and maybe file bytes.

    The settings part comes from `settings.read_settings_script`; what follows uses the same
    nonce-marked framing. Only file *bytes* are read (base64) when `snapshot` is set, which happens
    only inside a write transaction; `read` never fetches the secret file.
    """
    q = shlex.quote
    m = f"@@{nonce}"
    parts = [read_settings_script(profile, nonce)]
    ca = _profile_path(profile, "ca_cert")
    if ca:
        parts.append(
            f"if [ -f {q(ca)} ]; then printf '%s %s\\n' {q(m + ' ca')} \"$(sha256sum {q(ca)} | cut -d' ' -f1)\";"
            f" else printf '%s\\n' {q(m + ' ca -')}; fi"
        )
    for label, cmd in (("user", "nss_user"), ("group", "nss_group")):
        value = verify_user if label == "user" else verify_group
        if value:
            check = profile.command(cmd, **{label: value})
            parts.append(f"{check} </dev/null >/dev/null 2>&1; printf '%s %s\\n' {q(m + ' nss ' + label)} \"$?\"")
    if fit:
        parts.append(fitcheck.fit_script(profile, nonce))
    args: list[str] = []
    if snapshot:
        parts.append(_SNAPSHOT_PART)
        args.append(nonce)
        for name in SNAPSHOT_FILES:
            path = _profile_path(profile, name)
            if path:
                args += [name, path]
    return "\n".join(parts), args


def parse_fact(profile: Profile, output: str, nonce: str, fit: bool = False) -> Fact:
    """Parse `fact_script`'s output (pure; tested on captured text)."""
    fact = Fact(parse_settings_output(profile, output, nonce))
    if fit:
        fact.fit = fitcheck.parse_fit(profile, output, nonce)
    m = re.escape(f"@@{nonce}")
    ca = re.search(rf"^{m} ca (\S+)$", output, re.M)
    if ca and ca.group(1) != "-":
        fact.ca_sha256 = ca.group(1)
    for match in re.finditer(rf"^{m} nss (user|group) (\d+)$", output, re.M):
        fact.nss[match.group(1)] = int(match.group(2))
    for match in re.finditer(rf"^{m} snap (\S+) (\S+)(?: (\S*))?$", output, re.M):
        name, mode, data = match.group(1), match.group(2), match.group(3) or ""
        path = profile.path(name)
        if mode == "-":
            fact.files[name] = FileSnapshot(path, None)
        else:
            fact.files[name] = FileSnapshot(path, mode, base64.b64decode(data))
    return fact


def read_fact(
    session: NasSession,
    profile: Profile,
    *,
    snapshot: bool = False,
    verify_user: str | None = None,
    verify_group: str | None = None,
    fit: bool = False,
) -> Fact:
    """The whole LDAP-related state of the NAS in one SSH round trip."""
    nonce = new_nonce()
    script, args = fact_script(profile, nonce, snapshot=snapshot, verify_user=verify_user,
                               verify_group=verify_group, fit=fit)
    result = session.run_script(script, args)
    fact = parse_fact(profile, result.text, nonce, fit=fit)
    if snapshot:
        wanted = [n for n in SNAPSHOT_FILES if _profile_path(profile, n)]
        missing = [n for n in wanted if n not in fact.files]
        if missing:
            raise SshError(f"NAS {session.target.label}: the snapshot lacks {', '.join(missing)}; nothing was "
                           "changed (does the NAS have base64, stat and tr?)")
    return fact


# -- the plan ------------------------------------------------------------------------------------
def plan_setcfg(profile: Profile, wanted: Mapping[str, str], current: NasSettings) -> list[str]:
    """The `setcfg` commands that make `current` match `wanted` (logical values); none when equal.

    Settings with value spellings compare case-insensitively through the profile (QTS writes
    booleans in mixed case); free-text settings compare exactly, since any difference matters. A
    spelling that carries the LDAP URI (`ldapsam:{uri}`) compares as the rendered string, so a new
    server or port rewrites it.
    """
    uri = wanted_uri(wanted)
    commands: list[str] = []
    for name, logical in wanted.items():
        setting = profile.setting(name)
        if setting.values and setting.templated(logical):
            stored = setting.stored(logical, uri)
            if (current.raw.get(name) or "").strip().casefold() == stored.casefold():
                continue
            commands.append(setcfg_command(profile, name, stored))
            continue
        if current.value(profile, name) == logical:
            continue
        commands.append(setcfg_command(profile, name, setting.stored(logical, uri)))
    return commands


def wanted_uri(wanted: Mapping[str, str]) -> str | None:
    """The LDAP URI the wanted settings describe, or None when they do not name a server."""
    if not all(wanted.get(k) for k in ("server", "port", "security")):
        return None
    return ldap_uri(wanted["security"], wanted["server"], wanted["port"])


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- the transaction -------------------------------------------------------------------------------
_RESTORE_SCRIPT = r"""
set -e
while [ $# -ge 2 ]; do
  path=$1; mode=$2; shift 2
  IFS= read -r data || data=
  if [ "$mode" = "-" ]; then rm -f "$path"; continue; fi
  tmp="$path.jcqnap-restore"
  (umask 077 && printf '%s' "$data" | base64 -d > "$tmp")
  cat "$tmp" > "$path"
  rm -f "$tmp"
  chmod "$mode" "$path"
done
"""

_WRITE_PUBLIC_FILE = 'umask 022 && cat > "$1.jcqnap-new" && chmod 644 "$1.jcqnap-new" && mv -f "$1.jcqnap-new" "$1"'


@dataclass
class Change:
    """What a transaction is asked to do.

    The Root DN password cannot be read back (by design), so it is written when `write_secret` is
    set (create, rotation) or when the NAS has no secret file; otherwise it is left alone.
    """

    settings: dict[str, str]
    enable: bool
    root_password: str | None = None
    write_secret: bool = False
    erase_root_password: bool = False
    #: Adoption: write the password only when something else needs writing or the NAS is not healthy;
    #: a NAS whose LDAP lookups work already holds a working password.
    secret_when_applying: bool = False
    ca_cert: str | None = None
    verify_user: str | None = None
    verify_group: str | None = None
    check_fit: bool = False  # before the first write: refuse when the NAS does not fit the profile


@dataclass
class Outcome:
    """What the transaction did, for outputs and tests."""

    fact: Fact
    setcfg: list[str]
    wrote_secret: bool
    wrote_ca: bool
    applied: bool


class Transaction:
    """Snapshot → write → apply → verify over one session; restore + re-apply on any failure."""

    def __init__(self, session: NasSession, profile: Profile) -> None:
        self.session = session
        self.profile = profile
        self.nas = session.target.label

    def run(self, change: Change, force_apply: bool = False) -> Outcome:
        fact = read_fact(self.session, self.profile, snapshot=True, verify_user=change.verify_user,
                         verify_group=change.verify_group, fit=change.check_fit)
        if change.check_fit and fact.fit is not None:
            found = fitcheck.problems(self.profile, fact.settings, fact.fit)
            if found:
                t = self.session.target
                raise fitcheck.ProfileMismatch(fitcheck.mismatch_message(self.nas, t.host, t.port, found))
        commands = plan_setcfg(self.profile, change.settings, fact.settings)
        ca_path = _profile_path(self.profile, "ca_cert")
        if change.ca_cert and ca_path is None:
            raise ApplyFailed(f"NAS {self.nas}: ca_cert is set but the QTS profile names no ca_cert file; "
                              "nothing was changed")
        write_ca = bool(change.ca_cert) and fact.ca_sha256 != sha256_text(change.ca_cert or "")
        secret_exists = fact.settings.files.get("root_secret")
        # With secret_store qts_ui the firmware keeps the password in a form jcqnap cannot produce: the
        # admin types it in the QTS UI; jcqnap never writes or erases it, and verification proves it.
        jcqnap_stores = self.profile.secret_store == "jcqnap"  # noqa: S105 - a name, not a password
        erase_secret = jcqnap_stores and change.erase_root_password and bool(secret_exists and secret_exists.exists)
        healthy = self._healthy(fact, change)
        other_writes = bool(commands or erase_secret or write_ca or not healthy or force_apply)
        write_secret = jcqnap_stores and change.root_password is not None and (
            change.write_secret or not (secret_exists and secret_exists.exists)
            or (change.secret_when_applying and other_writes)
        )
        needs_apply = other_writes or write_secret
        outcome = Outcome(fact, commands, write_secret, write_ca, needs_apply)
        if not needs_apply:
            return outcome
        step = "write"
        try:
            if commands:
                self.session.run_script("set -e\n" + "\n".join(commands) + "\n")
            if write_secret:
                self.session.run(["sh", "-c", self.profile.command("root_secret_write")],
                                 stdin=(change.root_password or "").encode())
            if erase_secret:
                self.session.run(["sh", "-c", self.profile.command("root_secret_erase")])
            if write_ca and ca_path:
                self.session.run_script(_WRITE_PUBLIC_FILE, [ca_path], stdin=(change.ca_cert or "").encode())
            step = "apply"
            self._apply(change.enable)
            step = "verify"
            self._verify(change)
        except (SshError, ApplyFailed) as exc:
            raise self._rollback(fact, step, exc) from None
        return outcome

    def _healthy(self, fact: Fact, change: Change) -> bool:
        """True when the services already look as `change` wants, so no restart is needed."""
        status = fact.settings.status
        if not change.enable:
            return status.get("ldap_status", 0) != 0
        if any(status.get(name, 1) != 0 for name in ("ldap_status", "smb_status")):
            return False
        return all(rc == 0 for rc in fact.nss.values())

    def _apply(self, enable: bool) -> None:
        ldap = self.profile.command("ldap_restart" if enable else "ldap_stop")
        smb = self.profile.command("smb_restart")
        self.session.run_script(f"set -e\n{ldap}\n{smb}\n", timeout=180)

    def _verify(self, change: Change) -> None:
        """Wait (on the NAS, in one command) until the status commands and NSS answer as wanted."""
        checks: list[tuple[str, str]] = []
        if change.enable:
            checks.append(("the LDAP client status (" + self.profile.command("ldap_status") + ")",
                           self.profile.command("ldap_status")))
            checks.append(("the Samba status (" + self.profile.command("smb_status") + ")",
                           self.profile.command("smb_status")))
            if change.verify_user:
                checks.append((f"user {change.verify_user!r} via NSS", self.profile.command(
                    "nss_user", user=change.verify_user)))
            if change.verify_group:
                checks.append((f"group {change.verify_group!r} via NSS", self.profile.command(
                    "nss_group", group=change.verify_group)))
        else:
            checks.append(("the LDAP client to be off", "! { " + self.profile.command("ldap_status") + "; }"))
        lines = ["i=0", "while :; do", "  failed="]
        for idx, (_, cmd) in enumerate(checks):
            lines.append(f"  if [ -z \"$failed\" ] && ! {{ {cmd}; }} </dev/null >/dev/null 2>&1; then failed={idx}; fi")
        lines += [
            '  [ -z "$failed" ] && exit 0',
            "  i=$((i+1))",
            f'  [ "$i" -ge {VERIFY_SECONDS * 2} ] && {{ echo "check $failed" >&2; exit 1; }}',
            "  sleep 0.5",
            "done",
        ]
        result = self.session.run_script("\n".join(lines) + "\n", check=False, timeout=VERIFY_SECONDS + 30)
        if result.exit_status != 0:
            match = re.search(r"check (\d+)", result.stderr.decode(errors="replace"))
            what = checks[int(match.group(1))][0] if match else "verification"
            ui_keeps_it = self.profile.secret_store == "qts_ui"  # noqa: S105 - a storage mode, not a password
            hint = ("; this firmware keeps the Root DN password itself (qtsProfile secret_store: qts_ui), so if the "
                    "bind password changed, type it in the QTS UI's LDAP page" if ui_keeps_it else "")
            raise ApplyFailed(f"NAS {self.nas}: verification failed: {what} did not answer within "
                              f"{VERIFY_SECONDS}s after the apply{hint}")

    def _rollback(self, fact: Fact, step: str, cause: JcqnapError) -> ApplyFailed:
        files = [f for f in fact.files.values()]
        names = ", ".join(f.path for f in files)
        try:
            self.restore(files)
        except SshError as exc:
            return ApplyFailed(
                f"{cause} -- ROLLBACK FAILED at {step}: {exc}. The NAS may be half-configured: check {names} "
                "and run `pulumi up` again"
            )
        try:
            self._apply(fact.settings.enabled(self.profile))
        except SshError as exc:
            # The files are back; only the restart with the old settings failed (e.g. LDAP is down, so
            # smbd/nslcd cannot start with any settings). Say so instead of "half-configured".
            return ApplyFailed(
                f"{cause} -- rolled back: restored {names} byte-for-byte to their state before this change, "
                f"but restarting the services with those settings failed too ({_first_line(exc)}); fix that "
                "(is the LDAP server reachable from the NAS?) and run `pulumi up` again"
            )
        return ApplyFailed(f"{cause} -- rolled back: restored {names} byte-for-byte to their state before this "
                           f"change and re-applied; the NAS settings are as they were")

    def restore(self, files: list[FileSnapshot]) -> None:
        """Put `files` back exactly (missing ones removed) in one command; bytes travel on stdin."""
        args: list[str] = []
        lines: list[bytes] = []
        for f in files:
            args += [f.path, f.mode or "-"]
            lines.append(base64.b64encode(f.data) if f.mode else b"")
        self.session.run_script(_RESTORE_SCRIPT, args, stdin=b"\n".join(lines) + b"\n")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
