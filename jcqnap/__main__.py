"""`python -m jcqnap verify --stack NAME`: see jcqnap.verify."""

from __future__ import annotations

import sys


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] != "verify":
        print("usage: python -m jcqnap verify --stack NAME [--canary-user USER]", file=sys.stderr)
        return 2
    from jcqnap.verify import main as verify_main

    return verify_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
