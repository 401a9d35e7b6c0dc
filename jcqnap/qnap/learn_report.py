"""What `learn` writes: the `qtsProfile` block for the stack file and the report, as text.

Neither ever holds a password: the snapshot already masked password-like values, secret files
appear only by name, size, mode and whether they hold the typed password.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from jcqnap.qnap.learn import Learned, Typed
from jcqnap.qnap.profile import Profile


def profile_block(learned: Learned, nas: str, taken: str, config_key: str = "jcqnap:qtsProfile") -> str:
    """YAML to paste under `config:` of `stacks/Pulumi.<site>.yaml`."""
    head = [
        f"# qtsProfile learned by `python -m jcqnap.qnap learn` from NAS {nas} ({taken}).",
        "# Paste under `config:` in the site stack of every NAS with this firmware. Evidence: see the report.",
    ]
    if not learned.complete:
        head.append("# INCOMPLETE: the report lists what was not found; LdapConfig refuses what this block cannot "
                    "explain.")
    body = yaml.safe_dump({config_key: learned.overrides}, sort_keys=False, allow_unicode=True, width=200)
    return "\n".join(head) + "\n" + body


def render(learned: Learned, profile: Profile, typed: Typed, nas: str, before: str, after: str) -> str:
    out = [f"# QTS profile learned from NAS {nas} (host key pinned), snapshots {before} -> {after}",
           f"# typed in the UI: server {typed.host}:{typed.port} ({typed.security}), base DN {typed.base_dn}, "
           f"workgroup {typed.workgroup}, {typed.smb_mode}",
           "",
           "# settings (evidence: learned from this NAS / default (<profile evidence>) / not found)"]
    rows: list[Sequence[str]] = [("setting", "evidence", "where", "detail")]
    for f in learned.findings:
        rows.append((f.name, f.evidence, f.where, f.detail))
    out += _table(rows)
    out += ["", "# the Root DN password: files the UI added or changed when it stored it"]
    out += [f"  {line}" for line in learned.secret_lines] or ["  (none)"]
    out += [f"  jcqnap's way of storing it: {learned.secret_verdict}", ""]
    out.append("# keys the UI changed next to the LDAP settings that nothing above explains "
               "(LdapConfig refuses a NAS holding them until the profile names them)")
    out += [f"  {c.path} [{c.section}] {c.key}: {c.before!r} -> {c.after!r}" for c in learned.unmapped] or ["  (none)"]
    out += ["", "# other changes (rendered by the firmware's ldap.sh/smb.sh on apply; jcqnap leaves them to it)"]
    out += [f"  {c.path} [{c.section}] {c.key}: {c.before!r} -> {c.after!r}" for c in learned.rendered] or ["  (none)"]
    out += ["", "# init scripts jcqnap calls"]
    out += [f"  {f.path}: {f.what}" for f in learned.init_changes] or ["  unchanged"]
    out += ["", "# the resulting profile, every item with its evidence level"]
    rows = [("kind", "name", "evidence", "where")]
    for r in profile.evidence():
        rows.append((r["kind"], r["name"], r["evidence"], r["where"]))
    out += _table(rows)
    out += ["", "complete: yes" if learned.complete else "complete: NO (see 'not found' above)"]
    return "\n".join(out) + "\n"


def _table(rows: list[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + "  " + r[-1] for r in rows]
