"""``getcfg SECTION KEY [-f FILE] [-d DEFAULT] [-u]``, as QTS's /sbin/getcfg.

Prints the value and a newline. A missing key prints DEFAULT when ``-d`` is given (exit 0),
otherwise nothing with exit 1 (QTS's exit code there is inferred). ``-u`` upper-cases the output
(unconfirmed). Sections and keys match case-insensitively, as on QTS.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nasenv
import qtscfg

USAGE = "usage: getcfg SECTION KEY [-f FILE] [-d DEFAULT] [-u]\n"


def main(argv: list[str]) -> int:
    """Parse QTS-style arguments (options may come before or after the names)."""
    file: str | None = None
    default: str | None = None
    upper = False
    names: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            names += argv[i + 1:]
            break
        if arg in ("-f", "-d"):
            if i + 1 >= len(argv):
                sys.stderr.write(USAGE)
                return 1
            if arg == "-f":
                file = argv[i + 1]
            else:
                default = argv[i + 1]
            i += 2
            continue
        if arg == "-u":
            upper = True
        else:
            names.append(arg)
        i += 1
    if len(names) != 2:
        sys.stderr.write(USAGE)
        return 1
    path = file or nasenv.default_file(nasenv.load())
    value = qtscfg.get(path, names[0], names[1])
    if value is None:
        if default is None:
            return 1
        value = default
    if upper:
        value = value.upper()
    sys.stdout.buffer.write((value + "\n").encode(qtscfg.ENCODING, qtscfg.ERRORS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
