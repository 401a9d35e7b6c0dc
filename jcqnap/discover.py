"""`python -m jcqnap discover --stack NAME`: write the stack config that matches what already exists.

Read-only: it only GETs from JumpCloud and only reads NAS settings (one SSH session per NAS, pinned
host key, the same read `pulumi refresh` does). It then rewrites `stacks/Pulumi.NAME.yaml`:

* directory / all-in-one: the live org's Samba service account (`bindUser`), workgroup and SID
  (`workgroup`, `domainSid`) and every Samba group bound to the LDAP directory (`groups`: name,
  Linux name, GID, description, and the members or `membersMode: unmanaged`);
* site / all-in-one: for each NAS already listed, its LDAP settings as found, what a first `pulumi up`
  would change there (nothing, for a NAS set up with the same values), and `smbMode`.

It never writes a secret: it prints the `pulumi config set --secret` commands still needed (the
service account's *current* password, so no NAS is cut off).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from jcqnap import config as cfgmod
from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import JumpCloudClient, object_id
from jcqnap.providers.jumpcloud_common import settings_from_config
from jcqnap.providers.samba_group import posix_group
from jcqnap.qnap.apply import read_fact
from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile
from jcqnap.qnap.ssh import NasSession, NasTarget

NS = cfgmod.NS


def _pulumi_config(stack: str) -> dict[str, Any]:
    """The stack's config with secrets, through the CLI (only for keys the stack file keeps encrypted)."""
    res = subprocess.run(["pulumi", "config", "--show-secrets", "--json", "--stack", stack, "--non-interactive"],
                         capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0:
        return {}
    raw = json.loads(res.stdout or "{}")
    return {k.partition(":")[2]: v.get("objectValue", v.get("value")) for k, v in raw.items()
            if k.startswith(f"{NS}:")}


class StackFile:
    """`stacks/Pulumi.NAME.yaml`: plain keys read and written; encrypted ones only noted."""

    def __init__(self, root: Path, stack: str) -> None:
        self.stack = stack
        self.path = root / "stacks" / f"Pulumi.{stack}.yaml"
        if not self.path.exists():
            raise JcqnapError(
                f"{self.path} not found; create it with the stack's role and connection first, e.g. copy "
                "stacks/Pulumi.example-directory.yaml.example (or -site) and set jcqnap:role"
            )
        text = self.path.read_text()
        self.header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#")
                              and not line.startswith("# discovered"))
        self.doc: dict[str, Any] = yaml.safe_load(text) or {}
        self.config: dict[str, Any] = dict(self.doc.get("config") or {})
        self._secrets: dict[str, Any] | None = None

    def get(self, key: str) -> Any:
        return self.config.get(f"{NS}:{key}")

    def is_secret_set(self, key: str) -> bool:
        value = self.get(key)
        return isinstance(value, dict) and "secure" in value

    def secret(self, key: str) -> Any:
        if not self.get(key):
            return None
        if self._secrets is None:
            self._secrets = _pulumi_config(self.stack)
        return self._secrets.get(key)

    def set(self, key: str, value: Any) -> None:
        if value is None:
            self.config.pop(f"{NS}:{key}", None)
        else:
            self.config[f"{NS}:{key}"] = value

    def save(self) -> None:
        self.doc["config"] = self.config
        body = yaml.safe_dump(self.doc, sort_keys=False, allow_unicode=True)
        self.path.write_text(self.header + "# discovered by `python -m jcqnap discover`; review before `pulumi up`\n"
                             + body)


# -- the directory ---------------------------------------------------------------------------------
def discover_directory(jc: JumpCloudClient, sf: StackFile, members: str, out: list[str]) -> None:
    ldap_id = jc.ldap_server_id()
    domains = jc.list_samba_domains(ldap_id)
    wanted_wg = str(sf.get("workgroup") or "").upper()
    domain = next((d for d in domains if str(d.get("name")).upper() == wanted_wg), None) if wanted_wg else None
    if domain is None and len(domains) == 1:
        domain = domains[0]
    if domain is not None:
        sf.set("workgroup", domain.get("name"))
        sf.set("domainSid", domain.get("sid"))
        out.append(f"workgroup {domain.get('name')} (SID {domain.get('sid')}): exists, will be adopted")
    elif domains:
        raise JcqnapError(f"jcqnap:workgroup: the LDAP directory has {len(domains)} Samba domains "
                          f"({', '.join(str(d.get('name')) for d in domains)}); set jcqnap:workgroup to the one to use")
    else:
        out.append("workgroup: the LDAP directory has no Samba domain yet; set jcqnap:workgroup (it will be created)")

    users = list(jc.list_users())
    by_id = {object_id(u): str(u.get("username")) for u in users}
    configured = (sf.get("bindUser") or {}).get("username") if isinstance(sf.get("bindUser"), dict) else None
    services = [u for u in users if u.get("samba_service_user") and u.get("ldap_binding_user")]
    account = next((u for u in users if u.get("username") == configured), None) if configured else None
    if account is None and len(services) == 1:
        account = services[0]
    if account is None and len(services) > 1:
        raise JcqnapError("jcqnap:bindUser.username: several Samba service accounts exist ("
                          + ", ".join(str(u.get("username")) for u in services)
                          + "); set bindUser.username to the one your NAS boxes bind as")
    if account is not None:
        bind = {"username": account.get("username"), "email": account.get("email")}
        for name in ("firstname", "lastname"):
            if account.get(name):
                bind[name] = account[name]
        sf.set("bindUser", bind)
        out.append(f"service account {account.get('username')}: exists, will be adopted with its current password")
    else:
        out.append("service account: none in JumpCloud; set jcqnap:bindUser (it will be created)")

    bound = set(jc.list_ldap_server_group_ids(ldap_id))
    groups = []
    for g in jc.list_user_groups():
        gid = object_id(g)
        posix = posix_group(g)
        if gid not in bound or not (g.get("attributes") or {}).get("sambaEnabled") or not posix:
            continue
        entry: dict[str, Any] = {"name": g.get("name"), "linuxName": posix.get("name"), "gid": posix.get("id")}
        if g.get("description"):
            entry["description"] = g["description"]
        names = sorted(by_id.get(i, i) for i in jc.list_group_member_ids(gid))
        if members == "exact":
            entry["members"] = names
            entry["membersMode"] = "exact"
        else:
            entry["membersMode"] = "unmanaged"
        groups.append(entry)
        out.append(f"group {g.get('name')} ({posix.get('name')}, GID {posix.get('id')}): exists, will be adopted; "
                   f"members {', '.join(names) or '-'} "
                   + ("managed exactly by jcqnap" if members == "exact" else "left to JumpCloud (unmanaged)"))
    if not groups:
        out.append("groups: no Samba group bound to the LDAP directory; keep jcqnap:groups as written")
    else:
        sf.set("groups", groups)


# -- the NAS boxes -----------------------------------------------------------------------------------
def discover_site(sf: StackFile, sandbox: dict[str, Any] | None, out: list[str]) -> list[str]:
    """Read each listed NAS; returns the secret commands still needed for them."""
    c = cfgmod._Collector()
    nas_list = cfgmod._nas(c, sf.get("nas"), sandbox)
    if c.errors:
        raise JcqnapError("; ".join(c.errors))
    overrides = sf.get("qtsProfile")
    profile = Profile.from_overrides(overrides) if overrides else DEFAULT_PROFILE
    sims = {n["name"]: n for n in (sandbox or {}).get("nas", [])}
    creds = (sf.secret("nasCredentials") or {}) if sf.is_secret_set("nasCredentials") else {}
    needed: list[str] = []
    modes = set()
    for nas in nas_list:
        if nas.retired or nas.host_key is None:
            out.append(f"NAS {nas.name}: retired (jcqnap:nas[].retired), not read")
            continue
        sim = sims.get(nas.sandbox or "")
        entry = creds.get(nas.name) or {}
        password = sim["admin_password"] if sim else entry.get("password")
        key = None if sim else entry.get("privateKey")
        if not password and not key:
            needed.append(f"pulumi config set --secret --path 'nasCredentials.{nas.name}.password' --stack {sf.stack}")
            out.append(f"NAS {nas.name}: not read (no credentials yet); set them and run discover again")
            continue
        target = NasTarget(host=nas.host, port=nas.port, user=nas.user, host_key=nas.host_key, password=password,
                           private_key=key)
        with NasSession(target) as session:
            fact = read_fact(session, profile)
        s = fact.settings
        values = {n: s.value(profile, n) for n in ("enable", "server", "port", "security", "base_dn", "root_dn",
                                                    "users_base_dn", "groups_base_dn", "smb_mode", "workgroup")}
        up = s.status.get("ldap_status", 1) == 0 and s.status.get("smb_status", 1) == 0
        if values["smb_mode"] in cfgmod.SMB_MODES:
            modes.add(values["smb_mode"])
        if values["enable"] == "true":
            out.append(f"NAS {nas.name} ({nas.host}:{nas.port}): LDAP on, {values['server']}:{values['port']} "
                       f"{values['security']}, bind DN {values['root_dn']}, workgroup {values['workgroup']}, "
                       f"{values['smb_mode']}, services {'running' if up else 'NOT running'}; the first up adopts it "
                       "with no write when these match the directory")
        else:
            out.append(f"NAS {nas.name} ({nas.host}:{nas.port}): LDAP off; the first up configures it")
    if len(modes) == 1:
        sf.set("smbMode", modes.pop())
    return needed


def discover(root: Path, stack: str, members: str) -> tuple[list[str], list[str]]:
    """Discover into the stack file; (report lines, secret commands still needed)."""
    sf = StackFile(root, stack)
    role = str(sf.get("role") or "all-in-one")
    if role not in cfgmod.ROLES:
        raise JcqnapError(f"jcqnap:role: must be one of {', '.join(cfgmod.ROLES)}, got {role!r}")
    sandbox_path = sf.get("sandbox")
    sandbox = cfgmod.load_sandbox(str(root / sandbox_path)) if sandbox_path else None
    out: list[str] = []
    needed: list[str] = []
    if role in ("directory", "all-in-one"):

        def get(key: str) -> Any:
            if key == "sandbox" and sandbox_path:
                return str(root / sandbox_path)
            value = sf.get(key)
            return sf.secret(key) if isinstance(value, dict) and "secure" in value else value

        with JumpCloudClient(settings_from_config(get)) as jc:
            discover_directory(jc, sf, members, out)
        if not sandbox_path and not sf.is_secret_set("jumpcloudApiKey"):
            needed.append(f"pulumi config set --secret jumpcloudApiKey --stack {stack}")
        if sf.get("bindUser") and not sf.is_secret_set("bindPassword"):
            needed.append(f"pulumi config set --secret bindPassword --stack {stack}   # the account's CURRENT "
                          "password, the one every NAS binds with")
    if role in ("site", "all-in-one"):
        needed += discover_site(sf, sandbox, out)
    sf.save()
    return out, needed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jcqnap discover", description=__doc__.split("\n")[0])
    parser.add_argument("--stack", required=True, help="the stack whose stacks/Pulumi.<stack>.yaml to fill in")
    parser.add_argument("--members", choices=("unmanaged", "exact"), default="unmanaged",
                        help="write each group as unmanaged (default: JumpCloud keeps owning the membership) or "
                             "with its current members, managed exactly by jcqnap")
    args = parser.parse_args(argv)
    try:
        lines, needed = discover(Path.cwd(), args.stack, args.members)
    except JcqnapError as exc:
        print(f"discover: {exc}")
        return 1
    for line in lines:
        print(f"  {line}")
    print(f"wrote stacks/Pulumi.{args.stack}.yaml (no secret in it)")
    if needed:
        print("still needed (secrets; each prompts, so the value never lands on a command line):")
        for cmd in needed:
            print(f"  {cmd}")
    print(f"then: pulumi preview --stack {args.stack}   (adopted objects show as create; nothing is written)")
    return 0
