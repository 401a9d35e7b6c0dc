"""Every provider class pickles by reference and unpickles in a fresh process from the project root.

State keeps the provider as a dill pickle; a class pickled by value would keep running old code for
delete and refresh, and one holding a session or socket would fail to pickle at all.
"""

from __future__ import annotations

import base64
import importlib
import pkgutil
import subprocess
import sys

import pytest
from pulumi.dynamic.dynamic import serialize_provider

import jcqnap.providers
from jcqnap.providers.base import JcqnapProvider
from tests.e2e.harness import ROOT


def provider_classes() -> list[type[JcqnapProvider]]:
    for mod in pkgutil.iter_modules(jcqnap.providers.__path__):
        importlib.import_module(f"jcqnap.providers.{mod.name}")
    found: list[type[JcqnapProvider]] = []
    stack = list(JcqnapProvider.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("jcqnap."):
            found.append(cls)
    return sorted(found, key=lambda c: c.__qualname__)


def test_there_are_providers_to_check() -> None:
    assert provider_classes(), "no provider classes found under jcqnap.providers"


@pytest.mark.parametrize("cls", provider_classes(), ids=lambda c: c.__qualname__)
def test_provider_round_trips_by_reference_in_a_subprocess(cls: type[JcqnapProvider]) -> None:
    blob = serialize_provider(cls())  # exactly what the SDK stores in state
    # By reference: the pickle names the module and class, and carries no code object.
    raw = base64.b64decode(blob)
    assert cls.__module__.encode() in raw and cls.__qualname__.encode() in raw
    assert b"co_code" not in raw and b"_create_code" not in raw
    code = (
        "import base64,sys,dill\n"
        "obj = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "print(type(obj).__module__ + '.' + type(obj).__qualname__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=blob, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{cls.__module__}.{cls.__qualname__}"
