"""`python -m jcqnap.qnap snapshot|learn ...`: read-only tools for a real NAS.

    JCQNAP_NAS_PASSWORD=... python -m jcqnap.qnap snapshot --host nas.example --port 22 \\
        --user admin --host-key "ssh-ed25519 AAAA..." [--key-file ~/.ssh/nas_admin] [--profile FILE]

    JCQNAP_NAS_PASSWORD=... JCQNAP_BIND_PASSWORD=... python -m jcqnap.qnap learn --host ... --host-key ... \\
        --ldap-host ldap.jumpcloud.com --security ldaps --base-dn o=ORG,dc=jumpcloud,dc=com \\
        --root-dn uid=SVC,ou=Users,o=ORG,dc=jumpcloud,dc=com --users-base-dn ou=Users,o=ORG,... \\
        --workgroup WG [--before FILE | --save-before FILE] [--out DIR]

`learn` snapshots the NAS, waits while you press Apply in the QTS UI's LDAP page (or takes the
`--before` snapshot an earlier `--save-before` run wrote), snapshots again and writes
`DIR/qts-profile.yaml` (the `jcqnap:qtsProfile` block for the stack file) and `DIR/learn-report.txt`.
`JCQNAP_BIND_PASSWORD` (the password you type in the UI) lets it find where the UI stored it; it is
compared by salted hash and never printed. Passwords come from the environment (or a private key
from a file), never from the command line, where `ps` would show them. The host key is pinned
exactly as LdapConfig pins it. Exit codes: 0 done, 1 NAS error, 2 bad arguments, 3 learned but
incomplete (the report says what was not found).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from jcqnap.errors import JcqnapError
from jcqnap.qnap import learn_report, learn_snapshot, snapshot
from jcqnap.qnap.learn import Typed, learn
from jcqnap.qnap.profile import Profile, ProfileError
from jcqnap.qnap.ssh import NasSession, NasTarget

PASSWORD_ENV = "JCQNAP_NAS_PASSWORD"  # noqa: S105 - the name of the variable, not a password
BIND_PASSWORD_ENV = "JCQNAP_BIND_PASSWORD"  # noqa: S105 - the name of the variable, not a password
TYPED = ("ldap_host", "base_dn", "root_dn", "users_base_dn", "workgroup")


def load_overrides(path: str | None) -> dict[str, Any] | None:
    """A `--profile` file: JSON or YAML, either the overrides or the block `learn` wrote (or a stack file)."""
    if not path:
        return None
    data = yaml.safe_load(Path(path).read_text())
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        data = data["config"]
    if isinstance(data, dict):
        for key in list(data):
            if str(key).endswith(":qtsProfile"):
                data = data[key]
                break
    if data is not None and not isinstance(data, dict):
        raise ProfileError("expected a mapping of profile overrides")
    return data


def _connection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=22)
    p.add_argument("--user", default="admin")
    p.add_argument("--host-key", required=True, help='the NAS public key line, e.g. "ssh-ed25519 AAAA..."')
    p.add_argument("--key-file", help=f"private key file (default: password from ${PASSWORD_ENV})")
    p.add_argument("--profile", help="QTS profile overrides (JSON or YAML, e.g. the qts-profile.yaml learn wrote)")
    p.add_argument("--timeout", type=float, default=15.0, help="connect timeout, seconds")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m jcqnap.qnap", description=(__doc__ or "").split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="print the NAS's LDAP-related settings, smb.conf lines and file modes")
    _connection(snap)
    lrn = sub.add_parser("learn", help="learn the QTS profile from the change an Apply in the QTS UI makes")
    _connection(lrn)
    lrn.add_argument("--save-before", metavar="FILE", help="only take the 'before' snapshot, write it to FILE, exit")
    lrn.add_argument("--before", metavar="FILE", help="the 'before' snapshot of an earlier --save-before run")
    lrn.add_argument("--out", default=".", help="directory for qts-profile.yaml and learn-report.txt")
    lrn.add_argument("--config-key", default="jcqnap:qtsProfile", help="the key of the written block")
    lrn.add_argument("--ldap-host", help="LDAP Server Host as typed in the UI (e.g. ldap.jumpcloud.com)")
    lrn.add_argument("--ldap-port", type=int, help="port as typed (default 636 for ldaps, 389 otherwise)")
    lrn.add_argument("--security", default="ldaps", choices=("ldaps", "starttls", "ldap"))
    lrn.add_argument("--base-dn")
    lrn.add_argument("--root-dn")
    lrn.add_argument("--users-base-dn")
    lrn.add_argument("--groups-base-dn", help="default: the users base DN (as for JumpCloud)")
    lrn.add_argument("--workgroup")
    lrn.add_argument("--smb-mode", default="ldap_only", choices=("ldap_only", "local_only"))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        profile = Profile.from_overrides(load_overrides(args.profile))
    except (OSError, ValueError, ProfileError) as exc:
        print(f"error: --profile: {exc}", file=sys.stderr)
        return 2
    password = os.environ.get(PASSWORD_ENV) or None
    private_key = Path(args.key_file).expanduser().read_text() if args.key_file else None
    if not password and not private_key:
        print(f"error: set ${PASSWORD_ENV} or pass --key-file", file=sys.stderr)
        return 2
    target = NasTarget(host=args.host, port=args.port, user=args.user, host_key=args.host_key,
                       password=password, private_key=private_key, connect_timeout=args.timeout)
    if args.command == "learn":
        return _learn(args, profile, target)
    try:
        with NasSession(target) as session:
            snap_ = snapshot.take(session, profile)
    except JcqnapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(f"# NAS {target.label} (host key pinned)\n")
    sys.stdout.write(snapshot.render(profile, snap_))
    return 0


def _learn(args: argparse.Namespace, profile: Profile, target: NasTarget) -> int:
    typed: Typed | None = None
    if not args.save_before:
        missing = [f"--{k.replace('_', '-')}" for k in TYPED if not getattr(args, k)]
        if missing:
            print(f"error: learn needs what you type in the QTS UI: {', '.join(missing)}", file=sys.stderr)
            return 2
        port = args.ldap_port or (636 if args.security == "ldaps" else 389)
        typed = Typed(args.ldap_host, port, args.security, args.base_dn, args.root_dn, args.users_base_dn,
                      args.groups_base_dn or args.users_base_dn, args.workgroup.upper(), args.smb_mode,
                      os.environ.get(BIND_PASSWORD_ENV) or None)
    before: dict[str, Any] | None = None
    if args.before:
        try:
            before = json.loads(Path(args.before).read_text())
            if not isinstance(before, dict) or before.get("format") != learn_snapshot.FORMAT:
                raise ValueError(f"not a {learn_snapshot.FORMAT} file")
        except (OSError, ValueError) as exc:
            print(f"error: --before: {exc}", file=sys.stderr)
            return 2
    try:
        if before is None:
            with NasSession(target) as session:
                before = learn_snapshot.take(session, profile)
            if args.save_before:
                _write(Path(args.save_before), json.dumps(before, indent=1) + "\n")
                print(f"learn: 'before' snapshot of NAS {target.label} written to {args.save_before}; apply LDAP "
                      "in the QTS UI, then run learn again with --before")
                return 0
            # No connection is held while the admin works in the UI, which may take minutes.
            print("learn: snapshot taken. Apply the LDAP settings in the QTS UI now (Domain Security > LDAP "
                  "authentication, with the values given here), then press Enter.", flush=True)
            sys.stdin.readline()
        with NasSession(target) as session:
            after = learn_snapshot.take(session, profile, salt=before["salt"])
    except JcqnapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    assert typed is not None
    learned = learn(profile, before, after, typed)
    try:
        result = Profile.from_overrides(learned.overrides, profile)
    except ProfileError as exc:  # a learned spelling the profile cannot hold; say so rather than write it
        print(f"error: the learned profile is not usable: {exc}", file=sys.stderr)
        return 3
    out = Path(args.out)
    report = learn_report.render(learned, result, typed, target.label, before["taken"], after["taken"])
    _write(out / "qts-profile.yaml", learn_report.profile_block(learned, target.label, after["taken"], args.config_key))
    _write(out / "learn-report.txt", report)
    sys.stdout.write(report)
    print(f"learn: wrote {out / 'qts-profile.yaml'} and {out / 'learn-report.txt'}")
    return 0 if learned.complete else 3


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
