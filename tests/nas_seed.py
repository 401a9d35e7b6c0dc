"""Seed the JumpCloud emulator for NAS tests: a Samba service account, a workgroup, a Samba group with
a member, and a user in no Samba group. Plain HTTP against the emulator's API, so the NAS tests do not
depend on the JumpCloud providers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests


@dataclass
class Directory:
    org_id: str
    base_dn: str
    users_base_dn: str
    workgroup: str
    bind_user: str
    bind_dn: str
    bind_password: str
    group: str
    member: str
    member_password: str
    outsider: str
    outsider_password: str
    ca_cert_path: str
    ldap_host: str
    ldaps_port: int
    starttls_port: int


class Api:
    def __init__(self, sandbox: dict[str, Any]) -> None:
        jc = sandbox["jumpcloud"]
        self.base = jc["api_url"]
        self.headers = {"x-api-key": jc["api_key"], "Content-Type": "application/json", "Accept": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> Any:
        r = requests.request(method, self.base + path, json=body, headers=self.headers, timeout=20)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None


def password() -> str:
    return "Pw-" + secrets.token_urlsafe(12)


def seed_directory(sandbox: dict[str, Any], workgroup: str = "JCSANDBOX") -> Directory:
    """Create everything one site needs in a freshly reset emulator."""
    api = Api(sandbox)
    ldap = sandbox["ldap"]
    org = sandbox["jumpcloud"]["org_id"]
    server = sandbox["jumpcloud"]["ldap_server_id"]
    tag = secrets.token_hex(3)
    bind_pw, member_pw, outsider_pw = password(), password(), password()
    bind = f"svc-samba-{tag}"
    api.call("POST", "/systemusers", {
        "username": bind, "email": f"{bind}@example.com", "password": bind_pw,
        "ldap_binding_user": True, "samba_service_user": True, "password_never_expires": True,
    })
    domains = api.call("GET", f"/v2/ldapservers/{server}/sambadomains")
    if not domains:
        api.call("POST", f"/v2/ldapservers/{server}/sambadomains",
                 {"name": workgroup, "sid": "S-1-5-21-1111111111-2222222222-3333333333"})
    else:
        workgroup = domains[0]["name"]
    member = f"alice-{tag}"
    outsider = f"bob-{tag}"
    member_obj = api.call("POST", "/systemusers",
                          {"username": member, "email": f"{member}@example.com", "password": member_pw})
    outsider_obj = api.call("POST", "/systemusers",
                            {"username": outsider, "email": f"{outsider}@example.com", "password": outsider_pw})
    group = f"nas-users-{tag}"
    g = api.call("POST", "/v2/usergroups", {"name": group, "attributes": {
        "posixGroups": [{"id": 7000 + secrets.randbelow(1000), "name": group}]}})
    api.call("POST", f"/v2/usergroups/{g['id']}/associations", {"op": "add", "type": "ldap_server", "id": server})
    g = api.call("GET", f"/v2/usergroups/{g['id']}")
    g["attributes"]["sambaEnabled"] = True
    api.call("PUT", f"/v2/usergroups/{g['id']}", {"name": g["name"], "attributes": g["attributes"]})
    api.call("POST", f"/v2/usergroups/{g['id']}/members", {"op": "add", "type": "user", "id": member_obj["_id"]})
    # The outsider is bound to the directory (so NSS sees it) through a group without Samba.
    plain = api.call("POST", "/v2/usergroups", {"name": f"plain-{tag}"})
    api.call("POST", f"/v2/usergroups/{plain['id']}/associations", {"op": "add", "type": "ldap_server", "id": server})
    api.call("POST", f"/v2/usergroups/{plain['id']}/members",
             {"op": "add", "type": "user", "id": outsider_obj["_id"]})
    base = f"o={org},dc=jumpcloud,dc=com"
    users = f"ou=Users,{base}"
    return Directory(
        org_id=org, base_dn=base, users_base_dn=users, workgroup=workgroup, bind_user=bind,
        bind_dn=f"uid={bind},{users}", bind_password=bind_pw, group=group, member=member,
        member_password=member_pw, outsider=outsider, outsider_password=outsider_pw,
        ca_cert_path=ldap["ca_cert"], ldap_host=ldap["host"], ldaps_port=int(ldap["ldaps_port"]),
        starttls_port=int(ldap["starttls_port"]),
    )


def smb_put(nas: dict[str, Any], workgroup: str, user: str, password: str, name: str = "hello.txt") -> tuple[int, str]:
    """Log in to the NAS share with smbclient and write a file; (exit code, output).

    The password reaches smbclient through the PASSWD environment variable, not its command line.
    """
    import os
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write("written by jcqnap tests\n")
        f.flush()
        proc = subprocess.run(
            ["smbclient", f"//127.0.0.1/{nas['share']}", "-p", str(nas["smb_port"]), "-U", user, "-W", workgroup,
             "-m", "SMB3", "-c", f"put {f.name} {name}"],
            env={**os.environ, "PASSWD": password}, capture_output=True, text=True, timeout=60, check=False,
        )
    return proc.returncode, proc.stdout + proc.stderr
