"""jcqnap inside your own Pulumi program: two JumpCloud orgs, one Samba directory in each, and the
NAS boxes of one office joined to the first.

* Org A ("hq") uses the stack config's JumpCloud connection, as jcqnap's own stacks do:
  `pulumi config set --secret jcqnap:jumpcloudApiKey` (plus jcqnap:jumpcloudApiUrl/jumpcloudOrgId),
  or `jcqnap:sandbox` on the local sandbox.
* Org B ("lab") gets its own `JumpCloudConnection`, its key a secret of this program's config
  (`pulumi config set --secret orgBApiKey`).
* The office's NAS boxes (`NasSite`) join org A's directory; NAS passwords are a secret object
  (`pulumi config set --secret --path 'nasPasswords.<nas>' <password>`).
"""

from pathlib import Path

import pulumi

from jcqnap import (
    BindUserArgs,
    JumpCloudConnection,
    NasBox,
    NasSite,
    NasSiteArgs,
    SambaDirectory,
    SambaDirectoryArgs,
    SambaGroupArgs,
)

cfg = pulumi.Config()
ldap = cfg.require_object("ldap")
nas_passwords = cfg.require_secret_object("nasPasswords")

hq = SambaDirectory(
    "hq",
    SambaDirectoryArgs(
        workgroup="HQ",
        bind_user=BindUserArgs(username="samba-hq", email="samba-hq@example.com"),
        groups=[SambaGroupArgs("HQ Staff", "hq-staff", 5201, members=cfg.get_object("hqMembers") or [])],
        ldap_host=ldap["host"],
        ldap_port=ldap.get("port"),
        ldap_security=ldap.get("security", "ldaps"),
    ),
)

org_b = JumpCloudConnection(
    api_key=cfg.require_secret("orgBApiKey"),
    api_url=cfg.get("orgBApiUrl") or None,
    org_id=cfg.get("orgBOrgId") or None,
)
lab = SambaDirectory(
    "lab",
    SambaDirectoryArgs(
        workgroup="LAB",
        bind_user=BindUserArgs(username="samba-lab", email="samba-lab@example.com"),
        groups=[SambaGroupArgs("Lab Staff", "lab-staff", 5301)],
        connection=org_b,
    ),
)


def password_of(name: str) -> pulumi.Output[str]:
    return nas_passwords.apply(lambda p: p[name])


office = NasSite(
    "hq-office",
    NasSiteArgs(
        directory=hq,
        nas=[
            NasBox(n["name"], n["host"], n["hostKey"], n.get("port", 22), n.get("user", "admin"),
                   password=password_of(n["name"]))
            for n in cfg.require_object("nas")
        ],
        ca_cert=Path(ldap["caCertFile"]).read_text() if ldap.get("caCertFile") else None,
    ),
)

pulumi.export("hqBindDn", hq.bind_dn)
pulumi.export("hqWorkgroup", hq.workgroup)
pulumi.export("labBindDn", lab.bind_dn)
pulumi.export("labWorkgroup", lab.workgroup)
pulumi.export("officeNas", office.statuses)
