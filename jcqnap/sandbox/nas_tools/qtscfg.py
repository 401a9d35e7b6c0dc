"""QTS-style INI files (uLinux.conf, smb.conf) as getcfg/setcfg see them. Standard library only.

This module runs *inside* a simulated NAS (imported by getcfg.py, setcfg.py and initd.py with
the system interpreter), so it must not import jcqnap. Values are stored literally: nothing is
ever evaluated. A value that cannot sit on one INI line literally (a newline, a backslash, or
whitespace at either end) is stored with backslash escapes and decoded on read, so getcfg
returns exactly what setcfg received. How real QTS treats such values is unknown; this is the
simulator's choice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterable, Iterator

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "s": " "}
ENCODING = "utf-8"
ERRORS = "surrogateescape"  # bytes that are not UTF-8 survive a round trip


def encode(value: str) -> str:
    """The on-disk spelling of ``value`` (identity for ordinary one-line values)."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in value)
    # Leading/trailing spaces would be eaten by the parser's strip(): keep them as \s.
    stripped = out.lstrip(" ")
    out = "\\s" * (len(out) - len(stripped)) + stripped
    stripped = out.rstrip(" ")
    return stripped + "\\s" * (len(out) - len(stripped))


def decode(text: str) -> str:
    """Inverse of ``encode``; an unknown ``\\x`` pair is kept as is (hand-written files)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _UNESCAPES:
            out.append(_UNESCAPES[text[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _section_of(line: str) -> str | None:
    s = line.strip()
    if s.startswith("[") and s.endswith("]"):
        return s[1:-1].strip()
    return None


def _key_of(line: str) -> tuple[str, str] | None:
    s = line.strip()
    if not s or s[0] in "#;" or "=" not in s:
        return None
    key, _, value = s.partition("=")
    return key.strip(), value.strip()


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()  # QTS matches sections and keys case-insensitively


def read_lines(path: str) -> list[str]:
    """The file's lines with their newlines; an absent file reads as empty, as on QTS."""
    try:
        with open(path, encoding=ENCODING, errors=ERRORS, newline="") as f:
            return f.readlines()
    except FileNotFoundError:
        return []


def get(path: str, section: str, key: str) -> str | None:
    """The decoded value of ``[section] key`` in ``path``, or None when absent."""
    current: str | None = None
    for line in read_lines(path):
        sec = _section_of(line)
        if sec is not None:
            current = sec
            continue
        kv = _key_of(line)
        if kv and current is not None and _same(current, section) and _same(kv[0], key):
            return decode(kv[1])
    return None


def _find(lines: list[str], section: str, key: str) -> tuple[int | None, int | None]:
    """(index of the key's line, index after the section's last key line), None when absent."""
    current: str | None = None
    key_at: int | None = None
    end: int | None = None
    for i, line in enumerate(lines):
        sec = _section_of(line)
        if sec is not None:
            current = sec
            if _same(sec, section) and end is None:
                end = i + 1
            continue
        if current is not None and _same(current, section):
            kv = _key_of(line)
            if kv:
                end = i + 1
                if _same(kv[0], key) and key_at is None:
                    key_at = i
    return key_at, end


def apply_changes(lines: list[str], sets: Iterable[tuple[str, str, str]],
                  erases: Iterable[tuple[str, str]] = ()) -> list[str]:
    """New lines with ``(section, key, value)`` set and ``(section, key)`` erased.

    An existing key keeps its spelling and position; a new key goes after the section's last
    key; a new section is appended. Untouched lines stay byte-identical.
    """
    lines = list(lines)
    for section, key in erases:
        at, _ = _find(lines, section, key)
        if at is not None:
            del lines[at]
    for section, key, value in sets:
        at, end = _find(lines, section, key)
        if at is not None:
            kept = _key_of(lines[at])
            name = kept[0] if kept else key
            lines[at] = f"{name} = {encode(value)}\n"
        elif end is not None:
            lines.insert(end, f"{key} = {encode(value)}\n")
        else:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            if lines and lines[-1].strip():
                lines.append("\n")
            lines += [f"[{section}]\n", f"{key} = {encode(value)}\n"]
    return lines


@contextlib.contextmanager
def locked(path: str) -> Iterator[None]:
    """Serialise writers of one file by locking its directory (no extra lock file appears)."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    os.makedirs(directory, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_lines(path: str, lines: list[str], mode: int = 0o644) -> None:
    """Replace ``path`` atomically, keeping its mode; a no-op when the bytes would not change."""
    text = "".join(lines)
    if not os.path.exists(path) and not text:
        return  # erasing from an absent file leaves it absent
    if os.path.exists(path):
        if "".join(read_lines(path)) == text:
            return
        mode = os.stat(path).st_mode & 0o7777
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".setcfg-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding=ENCODING, errors=ERRORS, newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def update(path: str, sets: Iterable[tuple[str, str, str]], erases: Iterable[tuple[str, str]] = ()) -> None:
    """Set and erase keys in ``path`` in one locked, atomic rewrite."""
    with locked(path):
        write_lines(path, apply_changes(read_lines(path), sets, erases))
