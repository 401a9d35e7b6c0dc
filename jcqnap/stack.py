"""Composition: which resources a stack holds, by its role.

* **directory**: the org's one Samba service account (BindUser), its workgroup (SambaDomain) and the
  Samba groups; exports what sites need, the bind password as a secret.
* **site**: one LdapConfig per NAS, fed from the directory stack's outputs via a StackReference, so
  the workgroup cannot differ from JumpCloud's and a password rotation reaches every site.
* **all-in-one**: both in one stack, wired directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from jcqnap.config import ConfigError, DirectorySpec, SiteSpec, StackConfig, load_sandbox, parse, read_raw

# The resource classes are imported by the role that uses them: a site stack never loads the JumpCloud
# client (requests), and no stack loads paramiko or ldap3 in the program (docs/performance.md).


@dataclass
class DirectoryOutputs:
    """What a site needs from the directory, as Outputs (wired directly or via a StackReference)."""

    bind_dn: pulumi.Output[Any]
    bind_password: pulumi.Output[Any]
    base_dn: pulumi.Output[Any]
    users_base_dn: pulumi.Output[Any]
    groups_base_dn: pulumi.Output[Any]
    ldap_host: pulumi.Output[Any]
    ldap_port: pulumi.Output[Any]
    ldap_security: pulumi.Output[Any]
    workgroup: pulumi.Output[Any]
    linux_group_names: pulumi.Output[Any]


def build_directory(
    spec: DirectorySpec, cfg: StackConfig, bind_password: pulumi.Output[str] | None
) -> DirectoryOutputs:
    from jcqnap.providers.bind_user import BindUser
    from jcqnap.providers.samba_domain import SambaDomain
    from jcqnap.providers.samba_group import SambaGroup

    domain = SambaDomain("workgroup", workgroup=spec.workgroup, sid=spec.domain_sid)
    bind = BindUser(
        "samba-service-account",
        username=spec.bind_user.username,
        email=spec.bind_user.email,
        firstname=spec.bind_user.firstname,
        lastname=spec.bind_user.lastname,
        password=bind_password,
    )
    groups = [
        SambaGroup(
            f"group-{g.linux_name}",
            name=g.name,
            linux_name=g.linux_name,
            gid=g.gid,
            members=list(g.members),
            description=g.description or None,
            # sambaEnabled needs the directory's Samba domain first.
            opts=pulumi.ResourceOptions(depends_on=[domain]),
        )
        for g in spec.groups
    ]
    users_dn = bind.base_dn.apply(lambda b: f"ou=Users,{b}")
    out = DirectoryOutputs(
        bind_dn=bind.dn,
        bind_password=pulumi.Output.secret(bind.password),
        base_dn=bind.base_dn,
        users_base_dn=users_dn,
        groups_base_dn=users_dn,
        ldap_host=pulumi.Output.from_input(cfg.ldap_host),
        ldap_port=pulumi.Output.from_input(cfg.ldap_port),
        ldap_security=pulumi.Output.from_input(cfg.ldap_security),
        workgroup=domain.workgroup,
        linux_group_names=pulumi.Output.all(*[g.linux_name for g in groups]),
    )
    pulumi.export("bindDn", out.bind_dn)
    pulumi.export("bindPassword", out.bind_password)
    pulumi.export("baseDn", out.base_dn)
    pulumi.export("usersBaseDn", out.users_base_dn)
    pulumi.export("groupsBaseDn", out.groups_base_dn)
    pulumi.export("ldapHost", out.ldap_host)
    pulumi.export("ldapPort", out.ldap_port)
    pulumi.export("ldapSecurity", out.ldap_security)
    pulumi.export("workgroup", out.workgroup)
    pulumi.export("domainSid", domain.sid)
    pulumi.export("groupNames", pulumi.Output.all(*[g.name for g in groups]))
    pulumi.export("linuxGroupNames", out.linux_group_names)
    return out


def directory_from_reference(name: str) -> DirectoryOutputs:
    ref = pulumi.StackReference(name)
    return DirectoryOutputs(
        bind_dn=ref.require_output("bindDn"),
        bind_password=pulumi.Output.secret(ref.require_output("bindPassword")),
        base_dn=ref.require_output("baseDn"),
        users_base_dn=ref.require_output("usersBaseDn"),
        groups_base_dn=ref.require_output("groupsBaseDn"),
        ldap_host=ref.require_output("ldapHost"),
        ldap_port=ref.get_output("ldapPort"),
        ldap_security=ref.require_output("ldapSecurity"),
        workgroup=ref.require_output("workgroup"),
        linux_group_names=ref.require_output("linuxGroupNames"),
    )


def _credential(nas_name: str, field: str) -> Callable[[Any], Any]:
    def pick(creds: Any) -> Any:
        entry = (creds or {}).get(nas_name) or {}
        return entry.get(field)

    return pick


def build_site(
    spec: SiteSpec,
    cfg: StackConfig,
    directory: DirectoryOutputs,
    credentials: pulumi.Output[Any] | None,
    sandbox: dict[str, Any] | None,
) -> None:
    from jcqnap.providers.ldap_config import LdapConfig

    ca_cert = Path(spec.ca_cert_file).read_text() if spec.ca_cert_file else None
    sims = {n["name"]: n for n in (sandbox or {}).get("nas", [])}
    statuses = {}
    for nas in spec.nas:
        if nas.sandbox:
            password: pulumi.Input[str] | None = pulumi.Output.secret(sims[nas.sandbox]["admin_password"])
            private_key: pulumi.Input[str] | None = None
        else:
            if credentials is None:
                raise ConfigError(
                    f"jcqnap:nasCredentials: no credentials for NAS {nas.name!r}; run: pulumi config set --secret "
                    f"--path 'nasCredentials.{nas.name}.password' <admin password>"
                )
            password = credentials.apply(_credential(nas.name, "password"))
            private_key = credentials.apply(_credential(nas.name, "privateKey"))
        verify_group = spec.verify_group or directory.linux_group_names.apply(lambda names: names[0] if names else None)
        ldap = LdapConfig(
            f"nas-{nas.name}",
            nas_host=nas.host,
            nas_port=nas.port,
            nas_user=nas.user,
            nas_password=password,
            nas_private_key=private_key,
            nas_host_key=nas.host_key,
            ldap_host=directory.ldap_host,
            ldap_port=directory.ldap_port,
            security=directory.ldap_security,
            allow_insecure=cfg.allow_insecure,
            base_dn=directory.base_dn,
            root_dn=directory.bind_dn,
            root_password=directory.bind_password,
            users_base_dn=directory.users_base_dn,
            groups_base_dn=directory.groups_base_dn,
            workgroup=directory.workgroup,
            smb_mode=spec.smb_mode,
            ca_cert=ca_cert,
            qts_profile=spec.qts_profile or None,
            force_profile=spec.force_profile or None,
            verify_group=verify_group,
        )
        statuses[nas.name] = ldap.ldap_status
    pulumi.export("nas", statuses)


def main() -> None:
    cfg_obj = pulumi.Config("jcqnap")
    raw = read_raw(cfg_obj)
    sandbox_path = raw.get("sandbox")
    sandbox = load_sandbox(str(sandbox_path)) if sandbox_path else None
    cfg = parse(raw, sandbox, organization=pulumi.get_organization() or None)
    pulumi.log.info(f"jcqnap: role {cfg.role}" + (" (local sandbox)" if sandbox else ""))

    directory: DirectoryOutputs | None = None
    if cfg.directory is not None:
        directory = build_directory(cfg.directory, cfg, cfg_obj.get_secret("bindPassword"))
    if cfg.site is not None:
        if directory is None:
            assert cfg.site.directory_stack is not None
            directory = directory_from_reference(cfg.site.directory_stack)
        creds = cfg_obj.get_secret_object("nasCredentials")
        build_site(cfg.site, cfg, directory, creds, sandbox)
