"""``python -m jcqnap.sandbox seed-manual``: the setup an admin who followed the KB by hand already has.

Laid down in a running sandbox, without jcqnap's providers:

- in the JumpCloud emulator (plain REST, as the admin console does it): people, a Samba service
  account with a known password, the org's Samba domain (workgroup and SID), three Samba groups bound
  to the LDAP directory with members (some of them in no jcqnap config), one group also associated
  with a system, and a bound group without Samba (so the outsider resolves on the NAS);
- on NAS ``site-a`` (inside its namespace, as the QTS UI stores it): every LDAP setting through
  ``setcfg``, the bind password in its secret file, the CA, then the LDAP client and Samba restarted,
  so SMB logins work for the groups' members.

The passwords go to ``<state>/manual-setup.json`` (0600), like ``demo-users.json``. Idempotent: what
exists is kept (a user's password is reset to the one in the file).
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import requests

from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile
from jcqnap.qnap.settings import setcfg_logical
from jcqnap.sandbox import nas as nas_sim
from jcqnap.sandbox import process
from jcqnap.sandbox.jumpcloud.records import new_id

FILE = "manual-setup.json"
SERVICE_ACCOUNT = "svc-nas-ldap"
WORKGROUP = "HANDMADE"
DOMAIN_SID = "S-1-5-21-3623811015-3361044348-30300820"
NAS = "site-a"
TIMEOUT = 15
#: People: (username, in a Samba group).
PEOPLE = (("alice", True), ("carol", True), ("dave", True), ("erin", True), ("bob", False))
#: Samba groups: (name, Linux name, GID, description, members). dave and erin are in no jcqnap config.
GROUPS = (
    ("NAS Staff", "nas-staff", 6101, "People who open the NAS shares", ("alice", "carol", "dave")),
    ("NAS Managers", "nas-managers", 6102, "", ("carol",)),
    ("Finance", "finance", 6103, "Finance team (also on the accounting PC)", ("erin",)),
)
#: A group bound to LDAP without Samba: its members resolve on the NAS but cannot open shares.
PLAIN_GROUP = ("All Staff", ("bob",))
#: The group that also has an association to something else (a system).
LINKED_GROUP = "Finance"


class Api:
    """The emulator's REST API with the sandbox's key, as the admin console uses it."""

    def __init__(self, sandbox: dict[str, Any]) -> None:
        jc = sandbox["jumpcloud"]
        self.base = jc["api_url"]
        self.s = requests.Session()
        self.s.headers.update({"x-api-key": jc["api_key"], "Content-Type": "application/json"})

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        r = self.s.request(method, self.base + path, json=body, params=params or None, timeout=TIMEOUT)
        if r.status_code >= 300:
            raise RuntimeError(f"seed-manual: {method} {path} answered {r.status_code}: {r.text[:200]}")
        return r.json() if r.content else None

    def user(self, username: str, body: dict[str, Any]) -> str:
        found = self.call("GET", "/systemusers", filter=f"username:$eq:{username}")["results"]
        if found:
            uid = str(found[0]["_id"])
            self.call("PUT", f"/systemusers/{uid}", body)
            return uid
        return str(self.call("POST", "/systemusers", {"username": username, **body})["_id"])

    def group(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        found = [g for g in self.call("GET", "/v2/usergroups", filter=f"name:eq:{name}") if g["name"] == name]
        return dict(found[0]) if found else dict(self.call("POST", "/v2/usergroups", {"name": name, **body}))

    def link(self, group_id: str, kind: str, target: str, path: str = "associations") -> None:
        r = self.s.post(f"{self.base}/v2/usergroups/{group_id}/{path}", json={"op": "add", "type": kind, "id": target},
                        timeout=TIMEOUT)
        if r.status_code not in (204, 409):  # 409: already there
            raise RuntimeError(f"seed-manual: add {kind} to group {group_id} answered {r.status_code}: {r.text[:200]}")


def _password() -> str:
    return "Hm-" + secrets.token_urlsafe(14) + "9a"


def seed_directory(sandbox: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    api = Api(sandbox)
    server = sandbox["jumpcloud"]["ldap_server_id"]
    # The Samba domain first, as the KB orders it: JumpCloud makes a password's Samba (NT) hash only
    # while Samba is configured, so the passwords set below work for SMB.
    domains = api.call("GET", f"/v2/ldapservers/{server}/sambadomains")
    if not any(d["name"] == WORKGROUP for d in domains):
        api.call("POST", f"/v2/ldapservers/{server}/sambadomains", {"name": WORKGROUP, "sid": DOMAIN_SID})
    old_users = {u["username"]: u for u in known.get("users", [])}
    users, ids = [], {}
    for username, samba in PEOPLE:
        pw = old_users.get(username, {}).get("password") or _password()
        ids[username] = api.user(username, {"email": f"{username}@example.com", "firstname": username.title(),
                                            "lastname": "Staff", "password": pw, "activated": True})
        users.append({"username": username, "password": pw, "samba": samba})
    bind_pw = known.get("bind_user", {}).get("password") or _password()
    api.user(SERVICE_ACCOUNT, {"email": f"{SERVICE_ACCOUNT}@example.com", "firstname": "NAS", "lastname": "LDAP",
                               "password": bind_pw, "ldap_binding_user": True, "samba_service_user": True,
                               "password_never_expires": True})
    groups = []
    for name, linux, gid, description, members in GROUPS:
        g = api.group(name, {"description": description,
                             "attributes": {"posixGroups": [{"id": gid, "name": linux}]}})
        api.link(g["id"], "ldap_server", server)
        full = api.call("GET", f"/v2/usergroups/{g['id']}")
        if not (full.get("attributes") or {}).get("sambaEnabled"):
            attributes = {**(full.get("attributes") or {}), "sambaEnabled": True}
            api.call("PUT", f"/v2/usergroups/{g['id']}",
                     {"name": name, "description": description, "attributes": attributes})
        for m in members:
            api.link(g["id"], "user", ids[m], path="members")
        if name == LINKED_GROUP:
            system = known.get("linked_system") or new_id()
            api.link(g["id"], "system", system)
            known["linked_system"] = system
        groups.append({"name": name, "linuxName": linux, "gid": gid, "description": description,
                       "members": list(members), "id": g["id"]})
    plain = api.group(PLAIN_GROUP[0], {})
    api.link(plain["id"], "ldap_server", server)
    for m in PLAIN_GROUP[1]:
        api.link(plain["id"], "user", ids[m], path="members")
    org = sandbox["jumpcloud"]["org_id"]
    return {
        "bind_user": {"username": SERVICE_ACCOUNT, "password": bind_pw, "email": f"{SERVICE_ACCOUNT}@example.com",
                      "dn": f"uid={SERVICE_ACCOUNT},ou=Users,o={org},dc=jumpcloud,dc=com"},
        "workgroup": WORKGROUP, "domain_sid": DOMAIN_SID, "users": users, "groups": groups,
        "linked_group": LINKED_GROUP, "linked_system": known.get("linked_system"),
    }


def nas_settings(sandbox: dict[str, Any], bind_dn: str) -> dict[str, str]:
    """What the owner typed into QTS's Domain Security > LDAP page (logical profile values)."""
    ldap = sandbox["ldap"]
    return {
        "enable": "true", "server": str(ldap["host"]), "port": str(ldap["ldaps_port"]), "security": "ldaps",
        "base_dn": str(ldap["base_dn"]), "root_dn": bind_dn, "users_base_dn": str(ldap["users_base_dn"]),
        "groups_base_dn": str(ldap["users_base_dn"]), "smb_mode": "ldap_only", "workgroup": WORKGROUP,
        "smb_workgroup": WORKGROUP,
    }


def configure_nas(state: Path, sandbox: dict[str, Any], bind_dn: str, bind_pw: str, verify_group: str,
                  profile: Profile = DEFAULT_PROFILE) -> None:
    """Store the settings on the NAS as QTS does, then restart its LDAP client and Samba."""

    def run(argv: list[str], stdin: str | None = None) -> None:
        out = nas_sim.run_in_nas(state, NAS, argv, input_text=stdin, timeout=180)
        if out.returncode != 0:
            raise RuntimeError(f"seed-manual: {argv[-1][:60]!r} on NAS {NAS} failed: {out.stderr.strip()[-300:]}")

    script = "set -e\n" + "\n".join(setcfg_logical(profile, k, v) for k, v in nas_settings(sandbox, bind_dn).items())
    run(["sh", "-c", script])
    run(["sh", "-c", profile.command("root_secret_write")], stdin=bind_pw)
    ca = Path(sandbox["ldap"]["ca_cert"]).read_text().strip() + "\n"
    run(["sh", "-c", 'umask 022 && cat > "$1"', "x", profile.path("ca_cert")], stdin=ca)
    run(["sh", "-c", f"set -e\n{profile.command('ldap_restart')}\n{profile.command('smb_restart')}\n"])
    check = " && ".join([profile.command("nss_user", user=bind_dn.split(",")[0].split("=")[1]),
                         profile.command("nss_group", group=verify_group)])
    deadline = time.monotonic() + 30
    while nas_sim.run_in_nas(state, NAS, ["sh", "-c", check + " >/dev/null"]).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"seed-manual: NAS {NAS} does not resolve the service account and {verify_group!r} "
                               "through LDAP after the restart")
        time.sleep(0.5)


def seed(state: Path) -> dict[str, Any]:
    """Lay the hand-made setup into the running sandbox under ``state``; returns what manual-setup.json holds."""
    sandbox = json.loads((state / "sandbox.json").read_text())
    path = state / FILE
    known = json.loads(path.read_text()) if path.exists() else {}
    setup = seed_directory(sandbox, known)
    if any(n["name"] == NAS for n in sandbox.get("nas") or []):
        bind = setup["bind_user"]
        configure_nas(state, sandbox, bind["dn"], bind["password"], GROUPS[0][1])
        setup["nas"] = NAS
    process.write_private(path, json.dumps(setup, indent=2))
    return setup
