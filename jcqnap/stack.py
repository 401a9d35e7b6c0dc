"""Composition: which components a stack holds, by its role (see jcqnap.components).

* **directory**: a `SambaDirectory` (the org's Samba service account, workgroup and Samba groups);
  exports what sites need, the bind password as a secret.
* **site**: a `NasSite` (one LdapConfig per NAS), fed from the directory stack's outputs via a
  StackReference, so the workgroup cannot differ from JumpCloud's and a password rotation reaches
  every site.
* **all-in-one**: both in one stack, wired directly.

The JumpCloud connection is the stack config's (jcqnap:jumpcloudApiKey, ... or jcqnap:sandbox).
Stacks made before the components existed hold the same resources at the top level; the components'
`top_level_aliases` carry them over unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from jcqnap.components import (
    BindUserArgs,
    DirectoryInfo,
    NasBox,
    NasSite,
    NasSiteArgs,
    SambaDirectory,
    SambaDirectoryArgs,
    SambaGroupArgs,
)
from jcqnap.config import ConfigError, DirectorySpec, SiteSpec, StackConfig, load_sandbox, parse, read_raw
from jcqnap.providers.nas_access import nas_login

#: Component names in a stack; their children are named `<component>-<part>`.
DIRECTORY = "directory"
SITE = "site"


def build_directory(spec: DirectorySpec, cfg: StackConfig, bind_password: pulumi.Output[str] | None) -> DirectoryInfo:
    b = spec.bind_user
    directory = SambaDirectory(
        DIRECTORY,
        SambaDirectoryArgs(
            workgroup=spec.workgroup,
            domain_sid=spec.domain_sid,
            bind_user=BindUserArgs(b.username, b.email, b.firstname, b.lastname, bind_password,
                                   rotate_password=spec.rotate_bind_password),
            groups=[
                SambaGroupArgs(g.name, g.linux_name, g.gid, None if g.members is None else list(g.members),
                               g.description or None, members_mode=g.members_mode)
                for g in spec.groups
            ],
            ldap_host=cfg.ldap_host,
            ldap_port=cfg.ldap_port,
            ldap_security=cfg.ldap_security,
            ldap_ca_cert=Path(spec.ca_cert_file).read_text() if spec.ca_cert_file else None,
            delete_adopted=cfg.delete_adopted,
            top_level_aliases=True,
        ),
    )
    # Each object's first-contact story: "created", "adopted, unchanged" or what adopting changed.
    pulumi.export("adoption", directory.adoption)
    info = directory.info()
    pulumi.export("bindDn", info.bind_dn)
    pulumi.export("bindPassword", info.bind_password)
    pulumi.export("baseDn", info.base_dn)
    pulumi.export("usersBaseDn", info.users_base_dn)
    pulumi.export("groupsBaseDn", info.groups_base_dn)
    pulumi.export("ldapHost", info.ldap_host)
    pulumi.export("ldapPort", info.ldap_port)
    pulumi.export("ldapSecurity", info.ldap_security)
    pulumi.export("workgroup", info.workgroup)
    pulumi.export("domainSid", directory.domain_sid)
    pulumi.export("groupNames", directory.group_names)
    pulumi.export("linuxGroupNames", info.linux_group_names)
    return info


def _login(nas_name: str, sim: dict[str, Any] | None) -> Callable[[Any], tuple[str | None, str | None]]:
    def pick(creds: Any) -> tuple[str | None, str | None]:
        entry = (creds or {}).get(nas_name) or {}
        return nas_login(entry if isinstance(entry, dict) else {}, sim)

    return pick


def build_site(
    spec: SiteSpec,
    cfg: StackConfig,
    directory: DirectoryInfo,
    credentials: pulumi.Output[Any] | None,
    sandbox: dict[str, Any] | None,
) -> None:
    sims = {n["name"]: n for n in (sandbox or {}).get("nas", [])}
    boxes = []
    for nas in spec.nas:
        if nas.retired:
            # Not registered, so the engine deletes it; the provider sees the flag and does not connect.
            pulumi.log.info(f"jcqnap: NAS {nas.name} is retired: it leaves this stack without SSH, and keeps "
                            "its LDAP settings and the stored bind password (README: When a NAS changes)")
            continue
        sim = sims.get(nas.sandbox or "")
        if credentials is None and sim is None:
            raise ConfigError(
                f"jcqnap:nasCredentials: no credentials for NAS {nas.name!r}; run: pulumi config set --secret "
                f"--path 'nasCredentials.{nas.name}.password' <admin password>"
            )
        # The same choice as the provider's read/delete make (nas_access.nas_login): the stack's
        # credentials first, else the sandbox simulator's.
        login: pulumi.Output[Any] = (credentials or pulumi.Output.secret({})).apply(_login(nas.name, sim))
        password: pulumi.Output[Any] = pulumi.Output.secret(login.apply(lambda pair: pair[0]))
        private_key: pulumi.Output[Any] = pulumi.Output.secret(login.apply(lambda pair: pair[1]))
        assert nas.host_key is not None  # config.nas_entry requires it for every NAS that is not retired
        boxes.append(NasBox(nas.name, nas.host, nas.host_key, nas.port, nas.user, password, private_key))
    site = NasSite(
        SITE,
        NasSiteArgs(
            directory=directory,
            nas=boxes,
            smb_mode=spec.smb_mode,
            ca_cert=Path(spec.ca_cert_file).read_text() if spec.ca_cert_file else None,
            qts_profile=spec.qts_profile or None,
            force_profile=spec.force_profile,
            verify_group=spec.verify_group,
            allow_insecure=cfg.allow_insecure,
            delete_adopted=cfg.delete_adopted,
            top_level_aliases=True,
        ),
    )
    pulumi.export("nas", site.statuses)
    pulumi.export("nasAdoption", site.adoption)


def _wait_for_fleet_gate() -> None:
    """Under `fleet up`, wait until the directory stack's update is saved (see jcqnap.fleet.gate)."""
    from jcqnap.fleet import gate

    try:
        gate.wait()
    except gate.GateClosed as exc:
        raise pulumi.RunError(str(exc)) from None


def main() -> None:
    cfg_obj = pulumi.Config("jcqnap")
    raw = read_raw(cfg_obj)
    sandbox_path = raw.get("sandbox")
    sandbox = load_sandbox(str(sandbox_path)) if sandbox_path else None
    cfg = parse(raw, sandbox, organization=pulumi.get_organization() or None)
    pulumi.log.info(f"jcqnap: role {cfg.role}" + (" (local sandbox)" if sandbox else ""))

    directory: DirectoryInfo | None = None
    if cfg.directory is not None:
        directory = build_directory(cfg.directory, cfg, cfg_obj.get_secret("bindPassword"))
    if cfg.site is not None:
        if directory is None:
            assert cfg.site.directory_stack is not None
            _wait_for_fleet_gate()
            directory = DirectoryInfo.from_stack(cfg.site.directory_stack)
        creds = cfg_obj.get_secret_object("nasCredentials")
        build_site(cfg.site, cfg, directory, creds, sandbox)
