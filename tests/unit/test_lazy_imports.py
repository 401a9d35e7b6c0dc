"""Imports only where used: each Python process loads what its role needs (docs/performance.md).

The program runs once per `pulumi` command and the provider process once per stack, so an import
they do not need is paid on every drift check. The program here is the real `jcqnap.stack.main`,
run in a fresh interpreter under Pulumi's mock monitor (no engine: only imports are checked; the
e2e tests run the same program through the real CLI). Afterwards `sys.modules` must not hold:

* paramiko or ldap3, for any role (the program never opens SSH nor parses a DN);
* the JumpCloud client, for a site stack (it only reads the directory stack's outputs).

The dynamic provider host of a directory stack unpickles only the JumpCloud providers, so importing
them must not load paramiko or ldap3 either, and LdapConfig's must not load the JumpCloud client.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.harness import ROOT

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHbkA4OQ3Kd/Vn2VgIaMYXgDfrQ8eUSPc+n7qnKt7ZDd nas"

DIRECTORY = {
    "jcqnap:role": "directory",
    "jcqnap:bindUser": json.dumps({"username": "samba-bind", "email": "samba-bind@example.com"}),
    "jcqnap:workgroup": "OFFICE",
    "jcqnap:groups": json.dumps([{"name": "Staff", "linuxName": "staff", "gid": 5000, "members": ["ada"]}]),
}
SITE = {
    "jcqnap:role": "site",
    "jcqnap:directoryStack": "org/jcqnap/directory",
    "jcqnap:nas": json.dumps([{"name": "nas1", "host": "192.0.2.10", "hostKey": HOST_KEY}]),
    "jcqnap:nasCredentials": json.dumps({"nas1": {"password": "not-a-real-password"}}),
}

# Runs the program under the mock monitor, waits for its registrations, prints what was imported.
PROGRAM = """
import json, sys
import pulumi

registered = []

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        registered.append(args.typ)
        outs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            outs["outputs"] = {"bindDn": "uid=samba-bind,ou=Users,o=x,dc=jumpcloud,dc=com", "bindPassword": "p",
                               "baseDn": "o=x,dc=jumpcloud,dc=com", "usersBaseDn": "ou=Users,o=x,dc=jumpcloud,dc=com",
                               "groupsBaseDn": "ou=Users,o=x,dc=jumpcloud,dc=com", "ldapHost": "ldap.jumpcloud.com",
                               "ldapPort": 636, "ldapSecurity": "ldaps", "workgroup": "OFFICE",
                               "linuxGroupNames": ["staff"]}
        return (args.name + "-id", outs)

    def call(self, args):
        return {}

config = json.loads(sys.argv[1])
pulumi.runtime.set_mocks(Mocks(), preview=True)
pulumi.runtime.set_all_config(config, [k for k in config if k.endswith(("nasCredentials", "ApiKey"))])
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await
from jcqnap.stack import main
_sync_await(run_pulumi_func(main))  # as @pulumi.runtime.test does: returns once every registration is done
names = ("paramiko", "ldap3", "jcqnap.jumpcloud", "requests")
print(json.dumps({"loaded": [n for n in names if n in sys.modules], "registered": registered}))
"""


def run_program(config: dict[str, str]) -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", PROGRAM, json.dumps(config)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_directory_program_imports_neither_paramiko_nor_ldap3() -> None:
    result = run_program(DIRECTORY)
    # The program did run: it registered the directory's resources (so the check is not vacuous).
    wanted = {"pulumi-python:dynamic/jumpcloud:SambaGroup", "pulumi-python:dynamic/jumpcloud:BindUser"}
    assert wanted <= set(result["registered"]), result
    assert "requests" in result["loaded"], result  # the JumpCloud providers were loaded for real
    assert "paramiko" not in result["loaded"] and "ldap3" not in result["loaded"], result


def test_site_program_imports_neither_the_jumpcloud_client_nor_paramiko() -> None:
    result = run_program(SITE)
    assert "pulumi-python:dynamic/qnap:LdapConfig" in result["registered"], result
    assert not {"jcqnap.jumpcloud", "paramiko", "ldap3"} & set(result["loaded"]), result


@pytest.mark.parametrize(
    ("modules", "forbidden"),
    [
        (["jcqnap.providers.samba_group", "jcqnap.providers.bind_user", "jcqnap.providers.samba_domain"],
         ["paramiko", "ldap3"]),
        (["jcqnap.providers.ldap_config"], ["jcqnap.jumpcloud", "requests"]),
    ],
)
def test_provider_modules_load_only_their_own_clients(modules: list[str], forbidden: list[str]) -> None:
    """What a provider process loads when it unpickles these providers (by reference)."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps([n for n in {forbidden!r} if n in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout) == [], f"{modules} loaded {out.stdout.strip()}"
