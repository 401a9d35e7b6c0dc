"""Directory resources from config, for the e2e tests (the real composition lives in jcqnap.stack).

Config (project namespace): bindUsername, bindEmail, bindPassword (secret, optional), workgroup,
groups (list of objects with name, linuxName, gid, members, description?). JumpCloud connection: jcqnap:jumpcloudApiUrl,
jcqnap:jumpcloudApiKey (secret), jcqnap:jumpcloudOrgId, read by the providers' configure().
"""

import pulumi

from jcqnap.providers.bind_user import BindUser
from jcqnap.providers.samba_domain import SambaDomain
from jcqnap.providers.samba_group import SambaGroup

cfg = pulumi.Config()
bind = BindUser(
    "bind-user",
    username=cfg.require("bindUsername"),
    email=cfg.require("bindEmail"),
    password=cfg.get_secret("bindPassword"),  # optional: generated when not set
)
domain = SambaDomain("samba-domain", workgroup=cfg.require("workgroup"))
groups = []
for g in cfg.require_object("groups"):
    groups.append(
        SambaGroup(
            f"group-{g['linuxName']}",
            name=g["name"],
            linux_name=g["linuxName"],
            gid=g["gid"],
            members=g.get("members", []),
            description=g.get("description"),
            # Samba attributes derive from the domain SID: enable Samba after the domain exists.
            opts=pulumi.ResourceOptions(depends_on=[domain]),
        )
    )

pulumi.export("bindDn", bind.dn)
pulumi.export("bindPassword", bind.password)
pulumi.export("baseDn", bind.base_dn)
pulumi.export("workgroup", domain.workgroup)
pulumi.export("domainSid", domain.sid)
pulumi.export("groups", [g.name for g in groups])
