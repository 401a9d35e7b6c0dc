"""QTS INI text (uLinux.conf, smb.conf) read on jcqnap's side, the way `getcfg` reads it.

A refresh reads a NAS's config files once (`cat`, in the one read script) and looks every setting up
here, instead of starting one `getcfg` per key on the NAS (docs/performance.md). The result must be
what `getcfg SECTION KEY -f FILE` prints, so this follows getcfg's rules:

* sections and keys match case-insensitively; the first matching key of the first matching section
  wins; lines before any section, comments (`#`, `;`) and lines without `=` are skipped;
* the value is the text after the first `=`, stripped of surrounding whitespace;
* lines end at `\\n`, `\\r\\n` or a lone `\\r` (Python's universal newlines, as the simulator reads);
* a value stored with backslash escapes (`\\n`, `\\r`, `\\t`, `\\\\`, `\\s` for an edge space) is decoded,
  so a value that cannot sit on one line literally reads back as setcfg received it.

The escape decoding is the NAS simulator's documented choice (its `qtscfg.py`); how a real QTS
getcfg treats backslashes is unconfirmed. A firmware that differs can route any setting through its
own getcfg with the profile (`qts_profile.settings.<name>.read_with: getcfg`).
`tests/unit/test_qts_profile.py` checks this module against the simulator's getcfg on the same text.
"""

from __future__ import annotations

import io

_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t", "s": " "}


def decode(text: str) -> str:
    """Undo the escapes of a stored value; an unknown `\\x` pair is kept as is (hand-written files)."""
    if "\\" not in text:
        return text
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


def get(text: str, section: str, key: str) -> str | None:
    """The value of `[section] key` in the INI `text`, or None when the key is absent."""
    wanted_section, wanted_key = section.casefold(), key.casefold()
    current: str | None = None
    for line in io.StringIO(text, newline="").readlines():
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            current = s[1:-1].strip().casefold()
            continue
        if current != wanted_section or not s or s[0] in "#;" or "=" not in s:
            continue
        name, _, value = s.partition("=")
        if name.strip().casefold() == wanted_key:
            return decode(value.strip())
    return None
