"""One resource of each jcqnap type on the test sandbox, wired as an all-in-one stack would be.

Config: jcqnap:sandbox (sandbox.json: the JumpCloud providers read the emulator's URL and key from
it, this program the NAS simulator and LDAP endpoints), nas (a simulator's name), ignoreMembers
(bool: `ignore_changes=["members"]` on the group, membership managed elsewhere).
"""

import json
from pathlib import Path

import pulumi

from jcqnap.providers.bind_user import BindUser
from jcqnap.providers.ldap_config import LdapConfig
from jcqnap.providers.samba_domain import SambaDomain
from jcqnap.providers.samba_group import SambaGroup

cfg = pulumi.Config()
sandbox = json.loads(Path(pulumi.Config("jcqnap").require("sandbox")).read_text())
sim = next(n for n in sandbox["nas"] if n["name"] == cfg.require("nas"))
ldap = sandbox["ldap"]

domain = SambaDomain("workgroup", workgroup="DRIFT")
bind = BindUser("bind-user", username="svc-drift", email="svc-drift@example.com")  # password generated
group = SambaGroup(
    "group",
    name="Drift Staff",
    linux_name="drift-staff",
    gid=5301,
    members=["alice", "bob"],
    description="managed by jcqnap",
    opts=pulumi.ResourceOptions(
        depends_on=[domain], ignore_changes=["members"] if cfg.get_bool("ignoreMembers") else None
    ),
)
users_dn = bind.base_dn.apply(lambda b: f"ou=Users,{b}")
nas = LdapConfig(
    "nas",
    nas_host=sim["ssh_host"],
    nas_port=sim["ssh_port"],
    nas_user=sim["admin_user"],
    nas_password=pulumi.Output.secret(sim["admin_password"]),
    nas_host_key=sim["host_key"],
    ldap_host=ldap["host"],
    ldap_port=ldap["ldaps_port"],
    security="ldaps",
    base_dn=bind.base_dn,
    root_dn=bind.dn,
    root_password=bind.password,
    users_base_dn=users_dn,
    groups_base_dn=users_dn,
    workgroup=domain.workgroup,
    ca_cert=Path(ldap["ca_cert"]).read_text(),
    verify_group=group.linux_name,
)
pulumi.export("bindPassword", bind.password)
pulumi.export("ldapStatus", nas.ldap_status)
