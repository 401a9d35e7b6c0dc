"""Two ComponentResources for using jcqnap inside any Pulumi program.

* `SambaDirectory`: one JumpCloud org's Samba service account (BindUser), its workgroup
  (SambaDomain) and its Samba groups; its outputs are what NAS sites need.
* `NasSite`: one `qnap:LdapConfig` per NAS box, fed from a directory (a `SambaDirectory` of the
  same program, or a `DirectoryInfo` read from another stack with `DirectoryInfo.from_stack`).

Children are named `<component name>-<part>` so a program can hold several of each (two orgs, many
sites). `jcqnap.stack` uses these components itself; stacks made before they existed held the same
resources at the top level under the bare part names, and `top_level_aliases=True` makes the
children answer to those old names, so such a stack upgrades with no change at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pulumi

from jcqnap.connection import JumpCloudConnection

# The resource classes are imported by the component that uses them: a program with only NAS sites
# never loads the JumpCloud client, and none loads paramiko or ldap3 (docs/performance.md).
if TYPE_CHECKING:
    from jcqnap.providers.bind_user import BindUser
    from jcqnap.providers.ldap_config import LdapConfig
    from jcqnap.providers.samba_domain import SambaDomain
    from jcqnap.providers.samba_group import SambaGroup

DEFAULT_LDAP_HOST = "ldap.jumpcloud.com"


@dataclass(frozen=True)
class BindUserArgs:
    """The Samba service account. `password`: a secret; generated (and kept secret) when None."""

    username: pulumi.Input[str]
    email: pulumi.Input[str]
    firstname: pulumi.Input[str] | None = None
    lastname: pulumi.Input[str] | None = None
    password: pulumi.Input[str] | None = None
    #: Adopting an existing account: write a new password (`password`, or a generated one) instead of
    #: failing without `password` (its current one, which every NAS binds with).
    rotate_password: bool = False


@dataclass(frozen=True)
class SambaGroupArgs:
    """A Samba group: JumpCloud name, Linux group name and GID (1000-60000), members by username.

    `members_mode`: exact (the `members` list), add-only (never removes) or unmanaged (JumpCloud or the
    identity provider owns the membership; jcqnap never writes it). Default: exact with `members`,
    unmanaged when `members` is None.
    """

    name: pulumi.Input[str]
    linux_name: str
    gid: pulumi.Input[int]
    members: Sequence[pulumi.Input[str]] | None = ()
    description: pulumi.Input[str] | None = None
    members_mode: str | None = None


@dataclass(frozen=True)
class SambaDirectoryArgs:
    """One org's directory side. `connection`: the org (None: the stack config's jcqnap: keys).

    `ldap_host`/`ldap_port`/`ldap_security` are what NAS boxes of this directory's sites connect to
    (port None: 636 for ldaps, 389 for starttls).
    """

    workgroup: pulumi.Input[str]
    bind_user: BindUserArgs
    groups: Sequence[SambaGroupArgs] = ()
    domain_sid: pulumi.Input[str] | None = None
    connection: JumpCloudConnection | None = None
    ldap_host: pulumi.Input[str] = DEFAULT_LDAP_HOST
    ldap_port: pulumi.Input[int] | None = None
    ldap_security: pulumi.Input[str] = "ldaps"
    #: PEM of the CA that signs the LDAP server's certificate (None: the system's trust store). Used to
    #: check an adopted service account's given password with one bind before anything is written.
    ldap_ca_cert: pulumi.Input[str] | None = None
    #: Destroy also deletes objects that existed before jcqnap (adopted); by default they stay as found.
    delete_adopted: bool = False
    top_level_aliases: bool = False


@dataclass(frozen=True)
class DirectoryInfo:
    """What a NAS site needs from its directory, wired directly or read from another stack."""

    bind_dn: pulumi.Input[str]
    bind_password: pulumi.Input[str]
    base_dn: pulumi.Input[str]
    users_base_dn: pulumi.Input[str]
    groups_base_dn: pulumi.Input[str]
    ldap_host: pulumi.Input[str]
    ldap_port: pulumi.Input[int | None]
    ldap_security: pulumi.Input[str]
    workgroup: pulumi.Input[str]
    linux_group_names: pulumi.Input[Sequence[str]]

    @staticmethod
    def from_stack(stack: str) -> DirectoryInfo:
        """Read a directory stack's outputs (the ones `jcqnap.stack` exports) via a StackReference."""
        ref = pulumi.StackReference(stack)
        return DirectoryInfo(
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


def _child(
    parent: pulumi.Resource, part: str, top_level: bool, depends_on: Sequence[pulumi.Resource] = ()
) -> pulumi.ResourceOptions:
    aliases = [pulumi.Alias(name=part, parent=pulumi.ROOT_STACK_RESOURCE)] if top_level else None
    return pulumi.ResourceOptions(parent=parent, aliases=aliases, depends_on=list(depends_on) or None)


def ldap_check_target(host: str, port: int | None, security: str, ca_cert: str | None) -> dict[str, str | None] | None:
    """Where `BindUser` checks an adopted account's password: over TLS only (plain ldap: not at all)."""
    if security not in ("ldaps", "starttls"):
        return None
    from jcqnap.providers.ldap_config_inputs import DEFAULT_PORTS
    from jcqnap.qnap.profile import ldap_uri

    return {"uri": ldap_uri(security, host, int(port or DEFAULT_PORTS[security])), "ca_cert": ca_cert}


class SambaDirectory(pulumi.ComponentResource):
    """A JumpCloud org's Samba directory: service account, workgroup and Samba groups.

    Children: `.domain` (SambaDomain), `.bind_user` (BindUser), `.groups` (SambaGroup list).
    """

    # Pulumi resolves class annotations at runtime; the child classes are imported lazily, so they
    # are annotated on the instance in __init__ instead.
    bind_dn: pulumi.Output[str]
    bind_password: pulumi.Output[str]
    base_dn: pulumi.Output[str]
    users_base_dn: pulumi.Output[str]
    groups_base_dn: pulumi.Output[str]
    workgroup: pulumi.Output[str]
    domain_sid: pulumi.Output[str]
    group_names: pulumi.Output[list[str]]
    linux_group_names: pulumi.Output[list[str]]
    adoption: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: SambaDirectoryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from jcqnap.providers.bind_user import BindUser
        from jcqnap.providers.samba_domain import SambaDomain
        from jcqnap.providers.samba_group import SambaGroup

        super().__init__("jcqnap:index:SambaDirectory", name, None, opts)
        old = args.top_level_aliases
        conn = args.connection
        b = args.bind_user
        drop = args.delete_adopted
        # The bind user goes first: adopting an existing account without its password fails there,
        # before anything else in JumpCloud is written.
        self.bind_user: BindUser = BindUser(
            f"{name}-samba-service-account", username=b.username, email=b.email, firstname=b.firstname,
            lastname=b.lastname, password=b.password, rotate_password=b.rotate_password, delete_adopted=drop,
            opts=_child(self, "samba-service-account", old), connection=conn,
            ldap_check=pulumi.Output.all(args.ldap_host, args.ldap_port, args.ldap_security,
                                         args.ldap_ca_cert).apply(lambda a: ldap_check_target(*a)),
        )
        self.domain: SambaDomain = SambaDomain(
            f"{name}-workgroup", workgroup=args.workgroup, sid=args.domain_sid, delete_adopted=drop,
            opts=_child(self, "workgroup", old, depends_on=[self.bind_user]), connection=conn,
        )
        self.groups: list[SambaGroup] = [
            SambaGroup(
                f"{name}-group-{g.linux_name}", name=g.name, linux_name=g.linux_name, gid=g.gid,
                members=None if g.members is None else list(g.members), members_mode=g.members_mode,
                description=g.description or None, delete_adopted=drop,
                # sambaEnabled needs the directory's Samba domain first.
                opts=_child(self, f"group-{g.linux_name}", old, depends_on=[self.domain, self.bind_user]),
                connection=conn,
            )
            for g in args.groups
        ]
        self.adoption = pulumi.Output.all(**{
            "samba-service-account": self.bind_user.adoption, "workgroup": self.domain.adoption,
            **{f"group-{g.linux_name}": r.adoption for g, r in zip(args.groups, self.groups, strict=True)},
        })
        self.bind_dn = self.bind_user.dn
        self.bind_password = pulumi.Output.secret(self.bind_user.password)
        self.base_dn = self.bind_user.base_dn
        self.users_base_dn = self.bind_user.base_dn.apply(lambda b: f"ou=Users,{b}")
        self.groups_base_dn = self.users_base_dn
        self.workgroup = self.domain.workgroup
        self.domain_sid = self.domain.sid
        self.group_names = pulumi.Output.all(*[g.name for g in self.groups])
        self.linux_group_names = pulumi.Output.all(*[g.linux_name for g in self.groups])
        self.ldap_host = pulumi.Output.from_input(args.ldap_host)
        self.ldap_port = pulumi.Output.from_input(args.ldap_port)
        self.ldap_security = pulumi.Output.from_input(args.ldap_security)
        self.register_outputs(
            {
                "bindDn": self.bind_dn, "bindPassword": self.bind_password, "baseDn": self.base_dn,
                "usersBaseDn": self.users_base_dn, "groupsBaseDn": self.groups_base_dn,
                "workgroup": self.workgroup, "domainSid": self.domain_sid, "groupNames": self.group_names,
                "linuxGroupNames": self.linux_group_names, "adoption": self.adoption,
            }
        )

    def info(self) -> DirectoryInfo:
        """What a `NasSite` of this directory needs."""
        return DirectoryInfo(
            bind_dn=self.bind_dn, bind_password=self.bind_password, base_dn=self.base_dn,
            users_base_dn=self.users_base_dn, groups_base_dn=self.groups_base_dn, ldap_host=self.ldap_host,
            ldap_port=self.ldap_port, ldap_security=self.ldap_security, workgroup=self.workgroup,
            linux_group_names=self.linux_group_names,
        )


@dataclass(frozen=True)
class NasBox:
    """One QNAP NAS. Pin `host_key` ('ssh-ed25519 AAAA...'); give `password` or `private_key` (secrets)."""

    name: str
    host: pulumi.Input[str]
    host_key: pulumi.Input[str]
    port: pulumi.Input[int] = 22
    user: pulumi.Input[str] = "admin"
    password: pulumi.Input[str] | None = None
    private_key: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class NasSiteArgs:
    """A site's NAS boxes and how they join `directory` (a SambaDirectory or a DirectoryInfo).

    `smb_mode`: ldap_only (QTS "LDAP users only") or local_only. `ca_cert`: PEM of the CA of the
    LDAP server's certificate, installed on each NAS. `qts_profile`: overrides for firmware that
    differs; `force_profile`: write even where the profile fit check refuses. `verify_group`: a Linux group that must
    resolve on the NAS after apply (default: the directory's first Samba group).
    """

    directory: DirectoryInfo | SambaDirectory
    nas: Sequence[NasBox]
    smb_mode: pulumi.Input[str] = "ldap_only"
    ca_cert: pulumi.Input[str] | None = None
    qts_profile: Mapping[str, Any] | None = None
    force_profile: bool = False
    verify_group: pulumi.Input[str] | None = None
    allow_insecure: bool = False
    #: Destroy also turns LDAP off on a NAS that was configured before jcqnap (adopted).
    delete_adopted: bool = False
    top_level_aliases: bool = False


def _first(names: Sequence[str]) -> Any:
    return names[0] if names else None


class NasSite(pulumi.ComponentResource):
    """A site's QNAP NAS boxes joined to a JumpCloud Samba directory over LDAP.

    Children: `.ldap_configs` (NAS name to LdapConfig).
    """

    statuses: pulumi.Output[dict[str, Any]]
    adoption: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: NasSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        from jcqnap.providers.ldap_config import LdapConfig

        super().__init__("jcqnap:index:NasSite", name, None, opts)
        d = args.directory.info() if isinstance(args.directory, SambaDirectory) else args.directory
        verify_group = args.verify_group or pulumi.Output.from_input(d.linux_group_names).apply(_first)
        self.ldap_configs: dict[str, LdapConfig] = {}
        for nas in args.nas:
            self.ldap_configs[nas.name] = LdapConfig(
                f"{name}-{nas.name}",
                nas_host=nas.host,
                nas_port=nas.port,
                nas_user=nas.user,
                nas_password=nas.password,
                nas_private_key=nas.private_key,
                nas_host_key=nas.host_key,
                ldap_host=d.ldap_host,
                ldap_port=cast(Any, d.ldap_port),
                security=d.ldap_security,
                allow_insecure=args.allow_insecure,
                base_dn=d.base_dn,
                root_dn=d.bind_dn,
                root_password=d.bind_password,
                users_base_dn=d.users_base_dn,
                groups_base_dn=d.groups_base_dn,
                workgroup=d.workgroup,
                smb_mode=args.smb_mode,
                ca_cert=args.ca_cert,
                qts_profile=dict(args.qts_profile) if args.qts_profile else None,
                force_profile=args.force_profile or None,
                verify_group=verify_group,
                delete_adopted=args.delete_adopted,
                opts=_child(self, f"nas-{nas.name}", args.top_level_aliases),
            )
        self.statuses = pulumi.Output.all(
            **{n: c.ldap_status for n, c in self.ldap_configs.items()}
        ) if self.ldap_configs else pulumi.Output.from_input({})
        self.adoption = pulumi.Output.all(
            **{n: c.adoption for n, c in self.ldap_configs.items()}
        ) if self.ldap_configs else pulumi.Output.from_input({})
        self.register_outputs({"nas": self.statuses, "adoption": self.adoption})
