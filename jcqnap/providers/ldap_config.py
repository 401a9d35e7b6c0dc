"""`qnap:LdapConfig`: QTS's Domain Security > LDAP authentication, over SSH with a pinned host key.

Lifecycle:

* `check` validates everything before any SSH (`ldap_config_inputs`), and normalizes (defaults,
  upper-case workgroup) so `diff` compares like with like.
* `diff` compares the stored outputs (the NAS as last seen) with the inputs; no SSH. A different NAS
  (`nas_host`/`nas_port`) is a replacement, deleted first, since a new address may be the same box.
* `create` first checks that the NAS fits the QTS profile (`jcqnap.qnap.fit`): LDAP keys, values or
  files the profile cannot account for stop it with nothing written, naming them and the `learn`
  command (`force_profile` skips the check).
* `create`/`update` run one `Transaction` over one SSH connection: snapshot, write only the differing
  `setcfg` calls, apply, verify, roll back byte-for-byte on failure. `create` remembers the
  workgroup found on the NAS as `original_workgroup`, which `delete` puts back.
* `read` (refresh) reads every setting in one round trip. It never reads the Root DN password: the
  stored secret output is kept, so a password rotation is driven by the input changing (or by the
  secret file having vanished, which `read` reports). It exposes `ldap_status` and its reason.
* `delete` turns LDAP off, sets Microsoft Networking back to local users, removes the stored
  Root DN password and restores `original_workgroup`; after it, LDAP users cannot log in to SMB.

Adoption: `create` on a NAS that already holds every wanted setting, whose services run and whose
LDAP lookups of the verify user and group work (proof that its stored bind password works) writes
nothing and restarts nothing; `adopted` is set and `delete` then leaves the NAS as found unless
`delete_adopted` is set. When the same NAS (same `host:port` id) is created by another resource in
this run, e.g. its entry was renamed, `delete` of the old resource leaves LDAP on: the new one took
the NAS over (create-before-delete, so nobody is cut off).

`read`, `update` and `delete` reach the NAS with the login and host key of the *current* stack config
(`nas_access`), so a changed admin password or a re-key is picked up by a refresh and stored. Two
per-NAS flags of the stack config change what happens when the NAS cannot be used:

* `retired`: `read` keeps the stored state and `delete` drops the resource, neither connects.
* `offline`: when the NAS does not answer (connection refused, timed out), `read` and `update` keep
  its last known state and set `unreachable` to the reason instead of failing the run; `diff` then
  always reports a change, so `preview --expect-no-changes` keeps failing for that NAS until it is
  back and its pending changes are applied. Login and host-key failures still fail the run.

Verification uses `verify_user` (default: the Root DN's `uid`, a user JumpCloud always exposes to
its bind account) and, when set, `verify_group`, resolved through NSS on the NAS with `getent`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from jcqnap.providers import nas_access
from jcqnap.providers.base import JcqnapProvider, config_value, diff_fields, secret
from jcqnap.providers.ldap_config_inputs import (
    ALL_FIELDS,
    CONNECTION_FIELDS,
    DEFAULT_PORTS,
    SECRET_FIELDS,
    effective_port,
    normalize,
    profile_of,
    security_to_profile,
    validate,
)
from jcqnap.qnap.profile import Profile

if TYPE_CHECKING:  # paramiko (via apply/ssh) is imported by the provider methods that open SSH only
    from jcqnap.qnap.apply import Fact, Outcome
    from jcqnap.qnap.ssh import NasSession, NasTarget, NasUnreachable

#: Outputs computed by the provider (not inputs). `unreachable`: why an `offline` NAS was not read.
COMPUTED = ("enabled", "original_workgroup", "ldap_status", "ldap_status_reason", "adopted", "adoption",
            "unreachable")
#: NAS ids (`host:port`) that a create in this provider process took over; see `delete`.
_claimed: set[str] = set()
DIFF_FIELDS = (*ALL_FIELDS, "enabled")


def nas_id(host: str, port: Any) -> str:
    """`host:port` of a NAS, the port as an integer. Pulumi hands numbers to a dynamic provider as
    floats, so ids written before this helper read `host:22.0`; `same_nas` matches both spellings."""
    return f"{host}:{int(float(port or 22))}"


def same_nas(id_: str, other: str) -> bool:
    host, _, port = id_.rpartition(":")
    try:
        return nas_id(host, port) == other
    except ValueError:
        return id_ == other


def target_of(props: dict[str, Any]) -> NasTarget:
    from jcqnap.qnap.ssh import NasTarget

    access = nas_access.lookup(props)
    return NasTarget(
        host=str(props["nas_host"]),
        port=int(props.get("nas_port") or 22),
        user=str(props.get("nas_user") or "admin"),
        host_key=str(props["nas_host_key"]),
        password=props.get("nas_password") or None,
        private_key=props.get("nas_private_key") or None,
        name=access.name if access else None,
    )


def session_of(props: dict[str, Any]) -> NasSession:
    """One SSH connection for one operation; the Root DN password is redacted from its messages."""
    from jcqnap.qnap.ssh import NasSession

    return NasSession(target_of(props), extra_secrets=[props.get("root_password")])


def kept_unreachable(props: dict[str, Any], exc: NasUnreachable) -> dict[str, Any]:
    """The last known state of an `offline` NAS that did not answer, marked with the reason."""
    reason = (f"{exc}; jcqnap:nas[].offline is set, so its last known state is kept and its changes wait "
              "until it answers")
    pulumi.log.warn(reason)  # the provider's stderr: the CLI shows it under the run
    outs = dict(props)
    outs.update(ldap_status="unreachable", ldap_status_reason=reason, unreachable=reason)
    return outs


def default_verify_user(root_dn: str) -> str | None:
    """The Root DN's `uid` value: the service account, which the directory always shows its binder."""
    from ldap3.utils.dn import parse_dn

    try:
        rdns = parse_dn(root_dn)
    except Exception:
        return None
    attr, value, _ = rdns[0]
    return value if attr.lower() == "uid" else None


def wanted_settings(props: dict[str, Any]) -> dict[str, str]:
    """The profile settings (logical values) an enabled LdapConfig wants on the NAS."""
    workgroup = str(props["workgroup"])
    return {
        "enable": "true",
        "server": str(props["ldap_host"]),
        "port": str(effective_port(props)),
        "security": security_to_profile(str(props["security"])),
        "base_dn": str(props["base_dn"]),
        "root_dn": str(props["root_dn"]),
        "users_base_dn": str(props["users_base_dn"]),
        "groups_base_dn": str(props["groups_base_dn"]),
        "smb_mode": str(props["smb_mode"]),
        "workgroup": workgroup,
        "smb_workgroup": workgroup,
    }


def settings_changed(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """True when the last confirmed state wants other NAS settings than the inputs do.

    The NAS may already hold the new values without having applied them: an earlier run wrote them
    and lost its SSH connection before the restart. An update that changes settings therefore always
    applies, even when the NAS's files already match.
    """
    try:
        return wanted_settings(olds) != wanted_settings(news)
    except (KeyError, TypeError, ValueError):
        return True


def verify_names(props: dict[str, Any]) -> tuple[str | None, str | None]:
    user = props.get("verify_user") or default_verify_user(str(props.get("root_dn") or ""))
    return user, props.get("verify_group") or None


def observed(profile: Profile, fact: Fact, props: dict[str, Any]) -> dict[str, Any]:
    """The outputs as the NAS has them now, starting from `props` (the stored outputs).

    Secrets and connection fields are kept from `props`; everything on the NAS is what was read.
    """
    s = fact.settings
    outs = dict(props)
    security = s.value(profile, "security")
    outs["security"] = "ldap" if security == "plain" else security
    outs["ldap_host"] = s.value(profile, "server")
    port = s.value(profile, "port")
    if port is not None and port.isdigit():
        wanted_default = props.get("ldap_port") is None and int(port) == DEFAULT_PORTS.get(str(outs["security"]))
        outs["ldap_port"] = None if wanted_default else int(port)
    else:
        outs["ldap_port"] = port
    for name in ("base_dn", "root_dn", "users_base_dn", "groups_base_dn", "smb_mode"):
        outs[name] = s.value(profile, name)
    wg, smb_wg = s.value(profile, "workgroup"), s.value(profile, "smb_workgroup")
    if (wg or "").casefold() == (smb_wg or "").casefold():
        outs["workgroup"] = wg
    else:  # never equal to an input, so the split shows as drift with both values
        outs["workgroup"] = f"{wg} (smb.conf: {smb_wg})"
    outs["enabled"] = s.enabled(profile)
    secret_file = s.files.get("root_secret")
    if secret_file is not None and not secret_file.exists:
        outs["root_password"] = None  # the NAS lost it: the next update writes it again
    if props.get("ca_cert"):
        from jcqnap.qnap.apply import sha256_text

        if fact.ca_sha256 != sha256_text(str(props["ca_cert"])):
            outs["ca_cert"] = None
    outs["ldap_status"], outs["ldap_status_reason"] = status_of(fact, props)
    outs["unreachable"] = None
    return outs


def status_of(fact: Fact, props: dict[str, Any]) -> tuple[str, str]:
    """`online` when LDAP is on, both services answer and the verify user/group resolve."""
    status = fact.settings.status
    if fact.settings.raw.get("enable") is None or fact.settings.value(profile_of(props), "enable") != "true":
        return "offline", "LDAP authentication is disabled on the NAS"
    if status.get("ldap_status", 1) != 0:
        return "offline", f"the LDAP client is not running (status exit {status.get('ldap_status')})"
    if status.get("smb_status", 1) != 0:
        return "offline", f"Samba is not running (status exit {status.get('smb_status')})"
    user, group = verify_names(props)
    if fact.nss.get("user", 0) != 0:
        return "offline", f"user {user!r} does not resolve on the NAS (NSS/LDAP lookup failed)"
    if fact.nss.get("group", 0) != 0:
        return "offline", f"group {group!r} does not resolve on the NAS (NSS/LDAP lookup failed)"
    return "online", online_reason(props)


def online_reason(props: dict[str, Any]) -> str:
    """The status text of a healthy NAS; `create`/`update` and `read` agree on it, so a refresh is quiet."""
    user, _ = verify_names(props)
    return "LDAP enabled, nslcd and smbd running" + (f", {user!r} resolves" if user else "")


class LdapConfigProvider(JcqnapProvider):
    """Manages QTS's LDAP client settings on one NAS."""

    def configure(self, req: ConfigureRequest) -> None:
        super().configure(req)
        nas_access.install(nas_access.load(lambda key: config_value(req, key)))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = normalize(news)
        inputs["enabled"] = True
        inputs["delete_adopted"] = bool(news.get("delete_adopted"))
        return CheckResult(inputs, validate(inputs))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = diff_fields(olds, {**news, "enabled": True}, (*DIFF_FIELDS, "delete_adopted"),
                             replace_on=CONNECTION_FIELDS,
                             normalize={"workgroup": lambda v: v.upper() if isinstance(v, str) else v,
                                        "delete_adopted": bool})
        if olds.get("unreachable"):  # an offline NAS never looks converged: drift checks keep failing
            return DiffResult(changes=True, replaces=result.replaces, stables=result.stables,
                              delete_before_replace=result.delete_before_replace)
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        profile = profile_of(props)
        with session_of(props) as nas:
            # First contact: refuse (nothing written) when the NAS does not fit the profile, unless forced.
            outcome = self._converge(nas, profile, props, write_secret=False, adopt=True,
                                     check_fit=not props.get("force_profile"))
        # The transaction's fact is the NAS as found, before this change.
        original = outcome.fact.settings.value(profile, "workgroup") or profile.default("workgroup")
        outs = self._outputs(props, original)
        id_ = nas_id(str(props["nas_host"]), props.get("nas_port"))
        _claimed.add(id_)
        outs.update(adopted=not outcome.applied, adoption=adoption_note(outcome), delete_adopted=bool(
            props.get("delete_adopted")))
        return CreateResult(id_, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        profile = profile_of(news)
        rotate = news.get("root_password") != olds.get("root_password")
        access = nas_access.lookup(news)
        from jcqnap.qnap.ssh import NasUnreachable

        try:
            with session_of(news) as nas:
                self._converge(nas, profile, news, write_secret=rotate, force_apply=settings_changed(olds, news))
        except NasUnreachable as exc:
            if access is None or not access.offline:
                raise
            # Nothing reached the NAS: its state stays the old one, so the change is still pending.
            return UpdateResult(kept_unreachable(nas_access.with_current_access(olds)[0], exc))
        original = olds.get("original_workgroup") or profile.default("workgroup")
        outs = self._outputs(news, original)
        outs.update({k: olds.get(k) for k in ("adopted", "adoption")}, delete_adopted=bool(news.get("delete_adopted")))
        return UpdateResult(outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props, access = nas_access.with_current_access(props)
        if access is not None and access.retired:
            return ReadResult(id_, props)  # not connected to: it is leaving the stack
        profile = profile_of(props)
        from jcqnap.qnap.apply import read_fact

        user, group = verify_names(props)
        from jcqnap.qnap.ssh import HostKeyMismatch, LoginRefused, NasUnreachable

        try:
            with session_of(props) as nas:
                fact = read_fact(nas, profile, verify_user=user, verify_group=group)
            outs = observed(profile, fact, props)
        except NasUnreachable as exc:
            if access is None or not access.offline:
                raise
            outs = kept_unreachable(props, exc)
        except (LoginRefused, HostKeyMismatch) as exc:
            # The usual cause on a refresh: new values in the stack config, but the engine configured
            # this provider with the config of the last update (no --run-program).
            raise type(exc)(f"{exc}. If you changed it in the stack config, refresh with the program: pulumi up "
                            "--refresh --run-program (README: When a NAS changes)") from None
        # `unreachable` is given back as an input too, so a preview's diff shows it (and its reason).
        inputs = {k: outs.get(k) for k in (*ALL_FIELDS, "enabled", "unreachable")}
        inputs["delete_adopted"] = bool(outs.get("delete_adopted"))
        for key in SECRET_FIELDS:
            inputs[key] = secret(inputs[key])
        return ReadResult(id_, outs, inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if any(same_nas(id_, claimed) for claimed in _claimed):
            return  # another resource of this run now manages this NAS (e.g. a renamed entry): keep LDAP on
        if props.get("adopted") and not props.get("delete_adopted"):
            return  # configured before jcqnap: left as found (jcqnap:deleteAdopted opts in)
        props, access = nas_access.with_current_access(props)
        if access is not None and access.retired:
            pulumi.log.warn(f"NAS {access.name}: retired, so removed from the stack without connecting to it; it "
                            "keeps its LDAP settings and the stored bind password (README: When a NAS changes)")
            return
        from jcqnap.qnap.apply import Change, Transaction

        profile = profile_of(props)
        original = str(props.get("original_workgroup") or profile.default("workgroup"))
        change = Change(
            settings={"enable": "false", "smb_mode": "local_only", "workgroup": original,
                      "smb_workgroup": original},
            enable=False,
            erase_root_password=True,
        )
        with session_of(props) as nas:
            Transaction(nas, profile).run(change)

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _converge(
        nas: NasSession, profile: Profile, props: dict[str, Any], write_secret: bool, force_apply: bool = False,
        check_fit: bool = False,
        adopt: bool = False,
    ) -> Outcome:
        from jcqnap.qnap.apply import Change, Transaction

        user, group = verify_names(props)
        change = Change(
            settings=wanted_settings(props),
            enable=True,
            root_password=str(props["root_password"]),
            write_secret=write_secret,
            secret_when_applying=adopt,
            ca_cert=props.get("ca_cert") or None,
            verify_user=user,
            verify_group=group,
            check_fit=check_fit,
        )
        return Transaction(nas, profile).run(change, force_apply=force_apply)

    @staticmethod
    def _outputs(props: dict[str, Any], original: str) -> dict[str, Any]:
        outs = {k: props.get(k) for k in ALL_FIELDS}
        outs.update(enabled=True, original_workgroup=original, ldap_status="online",
                    ldap_status_reason=online_reason(props))
        return outs


def adoption_note(outcome: Outcome) -> str:
    """What `create` did to the NAS, for the run's output."""
    if not outcome.applied:
        return "adopted, unchanged (LDAP lookups work with the stored bind password)"
    what = [c.split()[1:3] for c in outcome.setcfg]
    parts = [f"setcfg {' '.join(w)}" for w in what]
    if outcome.wrote_secret:
        parts.append("bind password written")
    if outcome.wrote_ca:
        parts.append("CA certificate written")
    return "configured: " + (", ".join(parts) if parts else "services restarted") + ", services restarted"


class LdapConfig(Resource, module="qnap", name="LdapConfig"):
    """QTS LDAP authentication on one NAS, pointed at JumpCloud LDAP-as-a-Service.

    `nas_password`, `nas_private_key` and `root_password` are always secret in state.
    """

    ldap_status: pulumi.Output[str]
    ldap_status_reason: pulumi.Output[str]
    unreachable: pulumi.Output[str | None]
    original_workgroup: pulumi.Output[str]
    workgroup: pulumi.Output[str]
    adoption: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        nas_host: pulumi.Input[str],
        nas_host_key: pulumi.Input[str],
        ldap_host: pulumi.Input[str],
        base_dn: pulumi.Input[str],
        root_dn: pulumi.Input[str],
        root_password: pulumi.Input[str],
        users_base_dn: pulumi.Input[str],
        groups_base_dn: pulumi.Input[str],
        workgroup: pulumi.Input[str],
        nas_port: pulumi.Input[int] | None = None,
        nas_user: pulumi.Input[str] | None = None,
        nas_password: pulumi.Input[str] | None = None,
        nas_private_key: pulumi.Input[str] | None = None,
        ldap_port: pulumi.Input[int] | None = None,
        security: pulumi.Input[str] | None = None,
        allow_insecure: pulumi.Input[bool] | None = None,
        smb_mode: pulumi.Input[str] | None = None,
        ca_cert: pulumi.Input[str] | None = None,
        qts_profile: pulumi.Input[dict[str, Any]] | None = None,
        force_profile: pulumi.Input[bool] | None = None,
        verify_user: pulumi.Input[str] | None = None,
        verify_group: pulumi.Input[str] | None = None,
        delete_adopted: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        args = dict(locals())
        props: dict[str, Any] = {k: args.get(k) for k in ALL_FIELDS}
        props["delete_adopted"] = delete_adopted
        for key in SECRET_FIELDS:
            if props[key] is not None:
                props[key] = pulumi.Output.secret(props[key])
        props.update(dict.fromkeys(COMPUTED))
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_FIELDS))
        super().__init__(LdapConfigProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret_opts))

