"""The public API and the components' shape, under Pulumi's mocks (no engine, no JumpCloud).

What the engine does with them (aliases, two orgs, secrets in state) is tested for real in
tests/e2e/test_library.py; here: names, parents, aliases, secret connection inputs, and the
provider-side connection rules (check, diff).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

import jcqnap
from jcqnap.jumpcloud import JumpCloudSettings
from jcqnap.providers.jumpcloud_common import (
    check_connection,
    set_settings,
    settings_from_connection,
    with_connection_diff,
)
from jcqnap.providers.samba_group import SambaGroupProvider

REGISTERED: list[dict[str, Any]] = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        REGISTERED.append({"type": args.typ, "name": args.name, "inputs": dict(args.inputs)})
        outs = dict(args.inputs)
        outs.update({"dn": f"uid=x,{args.name}", "base_dn": "o=org,dc=jumpcloud,dc=com", "password": "pw"})
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


def test_public_api_names() -> None:
    for name in ("BindUser", "SambaDomain", "SambaGroup", "LdapConfig", "SambaDirectory", "NasSite",
                 "SambaDirectoryArgs", "NasSiteArgs", "JumpCloudConnection"):
        assert getattr(jcqnap, name).__name__ == name
    with pytest.raises(AttributeError):
        jcqnap.NoSuchThing  # noqa: B018


@pulumi.runtime.test
def test_directory_children_are_parented_prefixed_and_carry_the_connection() -> Any:
    pulumi.runtime.set_mocks(Mocks(), preview=False)
    REGISTERED.clear()
    conn = jcqnap.JumpCloudConnection(api_key="k" * 40, api_url="https://jc.example/api", org_id="a" * 24)
    d = jcqnap.SambaDirectory("lab", jcqnap.SambaDirectoryArgs(
        workgroup="LAB",
        bind_user=jcqnap.BindUserArgs("samba-lab", "samba-lab@example.com"),
        groups=[jcqnap.SambaGroupArgs("Lab", "lab-staff", 5301, ["alice"])],
        connection=conn,
    ))
    site = jcqnap.NasSite("office", jcqnap.NasSiteArgs(
        directory=d, nas=[jcqnap.NasBox("nas1", "10.0.0.5", "ssh-ed25519 AAAA", password="p")]))

    def check(_: Any) -> None:
        names = {r["name"]: r for r in REGISTERED}
        assert {"lab", "lab-workgroup", "lab-samba-service-account", "lab-group-lab-staff", "office",
                "office-nas1"} <= set(names)
        assert names["lab"]["type"] == "jcqnap:index:SambaDirectory"
        assert names["office"]["type"] == "jcqnap:index:NasSite"
        for child in ("lab-workgroup", "lab-samba-service-account", "lab-group-lab-staff"):
            conn_input = names[child]["inputs"]["connection"]
            # A secret envelope around the connection (the engine stores it as ciphertext).
            assert conn_input[rpc._special_sig_key] == rpc._special_secret_sig, conn_input
            assert conn_input["value"]["org_id"] == "a" * 24
        assert "connection" not in names["office-nas1"]["inputs"]

    return pulumi.Output.all(d.bind_dn, site.statuses).apply(check)


def test_check_connection_names_the_field() -> None:
    assert check_connection({}) == []
    msgs = [f.reason for f in check_connection({"connection": {"api_key": "", "api_url": "ftp://x"}})]
    assert any(m.startswith("connection.api_key:") for m in msgs)
    assert any(m.startswith("connection.api_url:") for m in msgs)
    failures = SambaGroupProvider().check({}, {"name": "G", "linux_name": "g", "gid": 5000,
                                             "connection": {"api_key": "k", "timeout": "soon"}}).failures
    assert [f.reason.split(":")[0] for f in failures] == ["connection.timeout"]


def test_connection_diff_other_org_replaces_new_key_updates() -> None:
    base = pulumi.dynamic.DiffResult(changes=False, replaces=[], stables=["name"], delete_before_replace=False)
    a = {"api_key": "k1", "api_url": "https://x/api", "org_id": "o1"}
    assert with_connection_diff(base, {"connection": a}, {"connection": dict(a)}).changes is False
    rotated = with_connection_diff(base, {"connection": a}, {"connection": {**a, "api_key": "k2"}})
    assert rotated.changes is True and not rotated.replaces
    moved = with_connection_diff(base, {"connection": a}, {"connection": {**a, "org_id": "o2"}})
    assert moved.changes is True and moved.replaces == ["connection"]
    assert with_connection_diff(base, {}, {}).changes is False
    # Dropping the explicit connection for the stack config's: an update when that is the same org.
    set_settings(JumpCloudSettings(api_key="k0", api_url="https://x/api", org_id="o1"))
    try:
        same = with_connection_diff(base, {"connection": a}, {})
        assert same.changes is True and not same.replaces
        other = with_connection_diff(base, {"connection": {**a, "org_id": "o9"}}, {})
        assert other.replaces == ["connection"]
    finally:
        set_settings(None)
    assert settings_from_connection({"api_key": "k", "api_url": "eu", "timeout": 7}).read_timeout == 7.0
