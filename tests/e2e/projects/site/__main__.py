"""One LdapConfig from config, for the e2e tests (the real composition lives in jcqnap.stack).

Config (project namespace): nasHost, nasPort, nasUser, nasPassword (secret), nasHostKey, ldapHost,
ldapPort, security, baseDn, rootDn, rootPassword (secret), usersBaseDn, groupsBaseDn, workgroup,
caCert?, verifyGroup?, allowInsecure?, qtsProfile? (object), forceQtsProfile?.
"""

import pulumi

from jcqnap.providers.ldap_config import LdapConfig

cfg = pulumi.Config()
ldap = LdapConfig(
    "nas",
    nas_host=cfg.require("nasHost"),
    nas_port=cfg.require_int("nasPort"),
    nas_user=cfg.get("nasUser") or "admin",
    nas_password=cfg.require_secret("nasPassword"),
    nas_host_key=cfg.require("nasHostKey"),
    ldap_host=cfg.require("ldapHost"),
    ldap_port=cfg.get_int("ldapPort"),
    security=cfg.get("security") or "ldaps",
    allow_insecure=cfg.get_bool("allowInsecure") or False,
    base_dn=cfg.require("baseDn"),
    root_dn=cfg.require("rootDn"),
    root_password=cfg.require_secret("rootPassword"),
    users_base_dn=cfg.require("usersBaseDn"),
    groups_base_dn=cfg.require("groupsBaseDn"),
    workgroup=cfg.require("workgroup"),
    smb_mode=cfg.get("smbMode") or "ldap_only",
    ca_cert=cfg.get("caCert"),
    verify_group=cfg.get("verifyGroup"),
    qts_profile=cfg.get_object("qtsProfile"),
    force_profile=cfg.get_bool("forceQtsProfile"),
)
pulumi.export("ldapStatus", ldap.ldap_status)
pulumi.export("originalWorkgroup", ldap.original_workgroup)
