"""The project's __main__ as it was before the components (jcqnap.stack up to issue 17): every
resource at the top level. tests/e2e/test_library.py deploys a stack with it, then previews the same
stack with today's __main__.py, which must propose no change at all (the components' aliases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pulumi

from jcqnap.config import load_sandbox, parse, read_raw
from jcqnap.providers.bind_user import BindUser
from jcqnap.providers.ldap_config import LdapConfig
from jcqnap.providers.samba_domain import SambaDomain
from jcqnap.providers.samba_group import SambaGroup

cfg_obj = pulumi.Config("jcqnap")
raw = read_raw(cfg_obj)
sandbox: dict[str, Any] = load_sandbox(str(raw["sandbox"])) or {}
cfg = parse(raw, sandbox)
assert cfg.directory is not None and cfg.site is not None, "the legacy fixture runs all-in-one stacks"
spec = cfg.directory
domain = SambaDomain("workgroup", workgroup=spec.workgroup, sid=spec.domain_sid)
bind = BindUser(
    "samba-service-account",
    username=spec.bind_user.username,
    email=spec.bind_user.email,
    firstname=spec.bind_user.firstname,
    lastname=spec.bind_user.lastname,
    password=cfg_obj.get_secret("bindPassword"),
)
groups = [
    SambaGroup(
        f"group-{g.linux_name}",
        name=g.name,
        linux_name=g.linux_name,
        gid=g.gid,
        members=list(g.members or ()),
        description=g.description or None,
        opts=pulumi.ResourceOptions(depends_on=[domain]),
    )
    for g in spec.groups
]
users_dn = bind.base_dn.apply(lambda b: f"ou=Users,{b}")
linux_group_names = pulumi.Output.all(*[g.linux_name for g in groups])
pulumi.export("bindDn", bind.dn)
pulumi.export("bindPassword", pulumi.Output.secret(bind.password))
pulumi.export("baseDn", bind.base_dn)
pulumi.export("usersBaseDn", users_dn)
pulumi.export("groupsBaseDn", users_dn)
pulumi.export("ldapHost", pulumi.Output.from_input(cfg.ldap_host))
pulumi.export("ldapPort", pulumi.Output.from_input(cfg.ldap_port))
pulumi.export("ldapSecurity", pulumi.Output.from_input(cfg.ldap_security))
pulumi.export("workgroup", domain.workgroup)
pulumi.export("domainSid", domain.sid)
pulumi.export("groupNames", pulumi.Output.all(*[g.name for g in groups]))
pulumi.export("linuxGroupNames", linux_group_names)

site = cfg.site
sims = {n["name"]: n for n in sandbox.get("nas", [])}
statuses = {}
for nas in site.nas:
    assert nas.sandbox, "the legacy fixture runs sandbox NAS boxes only"
    ldap = LdapConfig(
        f"nas-{nas.name}",
        nas_host=nas.host,
        nas_port=nas.port,
        nas_user=nas.user,
        nas_password=pulumi.Output.secret(sims[nas.sandbox]["admin_password"]),
        nas_private_key=None,
        nas_host_key=cast(str, nas.host_key),  # None only for a retired NAS (not in this fixture)
        ldap_host=pulumi.Output.from_input(cfg.ldap_host),
        ldap_port=pulumi.Output.from_input(cast(Any, cfg.ldap_port)),
        security=pulumi.Output.from_input(cfg.ldap_security),
        allow_insecure=cfg.allow_insecure,
        base_dn=bind.base_dn,
        root_dn=bind.dn,
        root_password=pulumi.Output.secret(bind.password),
        users_base_dn=users_dn,
        groups_base_dn=users_dn,
        workgroup=domain.workgroup,
        smb_mode=site.smb_mode,
        ca_cert=Path(site.ca_cert_file).read_text() if site.ca_cert_file else None,
        qts_profile=site.qts_profile or None,
        verify_group=site.verify_group or linux_group_names.apply(lambda names: cast(Any, names[0] if names else None)),
    )
    statuses[nas.name] = ldap.ldap_status
pulumi.export("nas", statuses)
