"""A dynamic provider whose `read` does the least any correct drift check must do: fetch its object once.

* a JumpCloud resource (`get`: an API path) does one GET of that path on the emulator, with the same
  injected latency jcqnap sees; a 4xx/5xx fails the read;
* a NAS resource (`ssh`: the index of a NAS simulator) opens one SSH session with the pinned host key
  and runs `true`.

It is the baseline of the wall-time figure in bench/run.py: the same engine, language host and
dynamic provider host as jcqnap, plus one round trip per object, so the ratio between the two
`preview --refresh` times is what jcqnap costs beyond the physical limit. `requests` and `paramiko`
are imported inside `read`, so the program does not load them (as jcqnap's program does not).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult


def _probe(props: dict[str, Any]) -> None:
    with open(str(props["sandbox"])) as f:
        sandbox = json.load(f)
    if props.get("get"):
        import requests

        jc = sandbox["jumpcloud"]
        headers = {"x-api-key": jc["api_key"], "x-org-id": jc["org_id"], "Accept": "application/json"}
        resp = requests.get(jc["api_url"] + str(props["get"]), timeout=(5, 30), headers=headers)
        resp.raise_for_status()
    if props.get("ssh") is not None:
        import base64

        import paramiko

        nas = sandbox["nas"][int(props["ssh"])]
        key_type, blob = nas["host_key"].split()[:2]
        client = paramiko.SSHClient()
        name = nas["ssh_host"] if int(nas["ssh_port"]) == 22 else f"[{nas['ssh_host']}]:{nas['ssh_port']}"
        client.get_host_keys().add(name, key_type, paramiko.PKey.from_type_string(key_type, base64.b64decode(blob)))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(nas["ssh_host"], int(nas["ssh_port"]), nas["admin_user"], password=nas["admin_password"],
                           timeout=10, banner_timeout=10, auth_timeout=10, allow_agent=False, look_for_keys=False)
            _, stdout, _ = client.exec_command("true", timeout=30)
            if stdout.channel.recv_exit_status() != 0:
                raise RuntimeError(f"`true` failed on NAS {nas['name']}")
        finally:
            client.close()


class ProbeProvider(ResourceProvider):
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in news if k != "__provider" and olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        _probe(props)
        return CreateResult(str(props["key"]), dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        _probe(props)
        return ReadResult(id_, dict(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(dict(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class Probe(Resource, module="bench", name="Probe"):
    """One latency-bound resource; `props` become its outputs."""

    dn: pulumi.Output[Any]
    workgroup: pulumi.Output[Any]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ProbeProvider(), name, {"key": name, **props}, opts)
