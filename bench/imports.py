"""Import cost per Python process and role, with `python -X importtime` (bench figure 8).

Every `pulumi` command starts the program (`__main__` -> `jcqnap.stack`, then the resource classes its
role registers) and, for a refresh or an update, the dynamic provider host (which unpickles the
providers of the stack, i.e. imports their modules). What each of those imports is paid on every
drift check of every stack.

    .venv/bin/python bench/imports.py [--runs 7] [--root DIR]

`--root` measures another checkout (e.g. main before a change) with this venv.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("paramiko", "ldap3", "cryptography", "requests", "jcqnap.jumpcloud")
JC_PROVIDERS = ("jcqnap.providers.samba_domain", "jcqnap.providers.bind_user", "jcqnap.providers.samba_group")
NAS_PROVIDERS = ("jcqnap.providers.ldap_config",)

#: (process, the modules it imports). The program imports `jcqnap.stack`, then what its role uses.
PROCESSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("program, directory stack", ("jcqnap.stack", *JC_PROVIDERS)),
    ("program, site stack", ("jcqnap.stack", *NAS_PROVIDERS)),
    ("provider process, directory stack", JC_PROVIDERS),
    # A site's provider process opens SSH on its first call, so it needs paramiko (via apply/ssh) anyway.
    ("provider process, site stack", (*NAS_PROVIDERS, "jcqnap.qnap.apply")),
)

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


@dataclass
class ImportCost:
    process: str
    seconds: float  # cumulative import time of the listed modules (best of the runs)
    baseline: float  # the same for `pulumi` + `pulumi.dynamic` alone, which every process needs
    heavy: list[str]  # which of HEAVY ended up in sys.modules

    @property
    def own(self) -> float:
        return max(0.0, self.seconds - self.baseline)


def _cumulative(modules: tuple[str, ...], root: Path) -> tuple[float, list[str]]:
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules) + (
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=root, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    total = 0
    for line in out.stderr.splitlines():
        match = _LINE.match(line)
        if match and match.group(3) == " ":  # a top-level import: its cumulative time counts once
            total += int(match.group(2))
    heavy = [m for m in out.stdout.strip().split(",") if m]
    return total / 1e6, heavy


def measure(runs: int = 7, root: Path = ROOT) -> list[ImportCost]:
    """Best of `runs` per process (import time only grows with load, so the minimum is the cost)."""
    sets = [("pulumi", ("pulumi", "pulumi.dynamic"))] + [(n, ("pulumi", "pulumi.dynamic", *m)) for n, m in PROCESSES]
    samples: dict[str, list[tuple[float, list[str]]]] = {n: [] for n, _ in sets}
    for _ in range(runs):  # interleaved, so a burst of load hits every process alike
        for name, modules in sets:
            samples[name].append(_cumulative(modules, root))
    base = min(s for s, _ in samples["pulumi"])
    return [ImportCost(n, min(s for s, _ in samples[n]), base, samples[n][0][1]) for n, _ in PROCESSES]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    args = parser.parse_args(argv)
    for c in measure(args.runs, args.root.resolve()):
        print(f"{c.process:36s} {c.own * 1000:6.0f} ms beyond pulumi ({c.seconds * 1000:.0f} ms in all); "
              f"loads {', '.join(c.heavy) or 'none of ' + '/'.join(HEAVY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
