"""The null stack: the shape of a jcqnap all-in-one stack (workgroup, bind user, groups, one
LdapConfig per NAS, with the same dependencies), every resource a `Null`."""

import pulumi
from null_provider import Null

cfg = pulumi.Config()
groups = cfg.require_int("groups")
members = cfg.get_int("members") or 5
nas = cfg.get_int("nas") or 0

domain = Null("workgroup", {"workgroup": "NULL", "sid": "S-1-5-21-1-2-3", "ldap_server_id": "0" * 24})
bind = Null("samba-service-account", {"username": "null-bind", "email": "null@example.com",
                                      "dn": "uid=null-bind,ou=Users,o=null,dc=jumpcloud,dc=com"})
for i in range(groups):
    Null(f"group-{i:03d}", {"name": f"Null {i}", "linux_name": f"null-{i}", "gid": 9000 + i,
                            "members": [f"user{i * members + m:04d}" for m in range(members)]},
         opts=pulumi.ResourceOptions(depends_on=[domain]))
for n in range(nas):
    Null(f"nas-{n}", {"root_dn": bind.dn, "workgroup": domain.workgroup})
