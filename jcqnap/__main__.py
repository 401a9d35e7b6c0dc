"""`python -m jcqnap verify|discover --stack NAME` (jcqnap.verify, jcqnap.discover) and `python -m jcqnap fleet ...`
(jcqnap.fleet.cli)."""

from __future__ import annotations

import sys

USAGE = ("usage: python -m jcqnap verify --stack NAME [--canary-user USER]\n"
         "       python -m jcqnap discover --stack NAME [--members unmanaged|exact]\n"
         "       python -m jcqnap fleet preview|up|verify|rotate [--stacks PATTERN ...] [--parallel N]")


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "verify":
        from jcqnap.verify import main as verify_main

        return verify_main(sys.argv[2:])
    if command == "fleet":
        from jcqnap.fleet.cli import main as fleet_main

        return fleet_main(sys.argv[2:])
    if command == "discover":
        from jcqnap.discover import main as discover_main

        return discover_main(sys.argv[2:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
