"""``setcfg SECTION KEY VALUE [-f FILE]`` and ``setcfg -e SECTION KEY [-f FILE]``, as QTS's.

The value is stored literally (see qtscfg.encode); nothing is evaluated. The file and section
are created when missing, as QTS does. A section or key that would break the INI line structure
is refused with exit 1.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nasenv
import qtscfg

USAGE = "usage: setcfg SECTION KEY VALUE [-f FILE] | setcfg -e SECTION KEY [-f FILE]\n"


def _bad_name(name: str, is_key: bool) -> bool:
    forbidden = "\n\r\0[]" + ("=" if is_key else "")
    return not name.strip() or any(ch in name for ch in forbidden) or name.strip()[0] in "#;"


def main(argv: list[str]) -> int:
    """Parse QTS-style arguments; ``--`` ends options so a value may start with '-'."""
    file: str | None = None
    erase = False
    names: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            names += argv[i + 1:]
            break
        if arg == "-f":
            if i + 1 >= len(argv):
                sys.stderr.write(USAGE)
                return 1
            file = argv[i + 1]
            i += 2
            continue
        if arg == "-e" and not names:
            erase = True
        else:
            names.append(arg)
        i += 1
    if len(names) != (2 if erase else 3):
        sys.stderr.write(USAGE)
        return 1
    section, key = names[0], names[1]
    if _bad_name(section, False) or _bad_name(key, True):
        sys.stderr.write("setcfg: invalid section or key name\n")
        return 1
    path = file or nasenv.default_file(nasenv.load())
    if erase:
        qtscfg.update(path, [], [(section, key)])
    else:
        qtscfg.update(path, [(section, key, names[2])])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
