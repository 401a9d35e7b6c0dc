"""`python -m jcqnap.qnap snapshot ...`: read-only tools for a real NAS.

    JCQNAP_NAS_PASSWORD=... python -m jcqnap.qnap snapshot --host nas.example --port 22 \\
        --user admin --host-key "ssh-ed25519 AAAA..." [--key-file ~/.ssh/nas_admin] [--profile FILE.json]

The password comes from the environment (or a private key from a file), never from the command
line, where `ps` would show it. The host key is pinned exactly as LdapConfig pins it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from jcqnap.errors import JcqnapError
from jcqnap.qnap import snapshot
from jcqnap.qnap.profile import Profile, ProfileError
from jcqnap.qnap.ssh import NasSession, NasTarget

PASSWORD_ENV = "JCQNAP_NAS_PASSWORD"  # noqa: S105 - the name of the variable, not a password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jcqnap.qnap", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    snap = sub.add_parser("snapshot", help="print the NAS's LDAP-related settings, smb.conf lines and file modes")
    snap.add_argument("--host", required=True)
    snap.add_argument("--port", type=int, default=22)
    snap.add_argument("--user", default="admin")
    snap.add_argument("--host-key", required=True, help='the NAS public key line, e.g. "ssh-ed25519 AAAA..."')
    snap.add_argument("--key-file", help=f"private key file (default: password from ${PASSWORD_ENV})")
    snap.add_argument("--profile", help="JSON file of QTS profile overrides (same shape as the qtsProfile config)")
    snap.add_argument("--timeout", type=float, default=15.0, help="connect timeout, seconds")
    args = parser.parse_args(argv)

    try:
        overrides = json.loads(Path(args.profile).read_text()) if args.profile else None
        profile = Profile.from_overrides(overrides)
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
    try:
        with NasSession(target) as session:
            snap_ = snapshot.take(session, profile)
    except JcqnapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(f"# NAS {target.label} (host key pinned)\n")
    sys.stdout.write(snapshot.render(profile, snap_))
    return 0


if __name__ == "__main__":
    sys.exit(main())
