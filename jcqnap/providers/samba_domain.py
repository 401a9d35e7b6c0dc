"""`jumpcloud:SambaDomain`: the workgroup and domain SID of the org's JumpCloud LDAP directory.

QTS's smbd finds its domain by `sambaDomainName=<WORKGROUP>`, so the workgroup must be a valid
NetBIOS name. It is stored upper case (the convention for `sambaDomainName`). A workgroup change is
an in-place PUT; a SID change replaces the domain, because every member's `sambaSID` derives from it.
`read` returns the inputs as JumpCloud has them; the SID only when it was given (a generated one is
not an input, and returning it would show as removed in a refreshed diff).

A domain that already exists with the wanted workgroup (and SID, when one is given) is adopted with
no write; `delete` leaves an adopted domain in place unless `delete_adopted` is set.
"""

from __future__ import annotations

import secrets
from typing import Any, TypedDict

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from jcqnap import validation as v
from jcqnap.connection import JumpCloudConnection, connection_input, secret_outputs
from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import NotFound, object_id
from jcqnap.providers.base import diff_fields, failure, is_unknown
from jcqnap.providers.jumpcloud_common import (
    CONNECTION,
    JumpCloudProvider,
    check_connection,
    client,
    gone,
    keep_connection,
    with_connection_diff,
)


class SambaDomainInputs(TypedDict, total=False):
    workgroup: str
    sid: str | None  # generated when omitted


class SambaDomainOutputs(SambaDomainInputs, total=False):
    # `sid` is always set in the outputs: the given one or the generated one.
    ldap_server_id: str
    sid_is_input: bool  # False when generated
    adopted: bool
    adoption: str


#: Outputs that are not JumpCloud fields, carried over by read and update.
KEPT = ("adopted", "adoption", "delete_adopted")


def workgroup_problem(value: object) -> str | None:
    """Why `value` is not a usable NetBIOS workgroup name (shared rules in `jcqnap.validation`)."""
    return v.workgroup(value)


def sid_problem(value: object) -> str | None:
    """Why `value` is not a domain SID `S-1-5-21-a-b-c` with 32-bit subauthorities, or None."""
    return v.domain_sid(value)


def generate_sid() -> str:
    """A random domain SID, as Samba's `net getlocalsid` would make one."""
    return "S-1-5-21-" + "-".join(str(secrets.randbits(32)) for _ in range(3))


class SambaDomainProvider(JumpCloudProvider):
    """Manages `/v2/ldapservers/{id}/sambadomains/{id}`."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        inputs = dict(news)
        workgroup = news.get("workgroup")
        if not is_unknown(workgroup):
            problem = workgroup_problem(workgroup)
            if problem:
                failures.append(failure("workgroup", problem))
            else:
                inputs["workgroup"] = str(workgroup).upper()
        sid = news.get("sid")
        if sid is None:
            inputs.pop("sid", None)
        elif not is_unknown(sid):
            problem = sid_problem(sid)
            if problem:
                failures.append(failure("sid", f"{problem}; or omit it to generate one"))
        if news.get(CONNECTION) is None:
            inputs.pop(CONNECTION, None)
        failures += check_connection(news)
        inputs["delete_adopted"] = bool(news.get("delete_adopted"))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = diff_fields(olds, news, ["workgroup", "sid", "delete_adopted"], replace_on=["sid"], optional=["sid"],
                             normalize={"delete_adopted": bool})
        return with_connection_diff(result, olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        workgroup = str(props["workgroup"])
        given = props.get("sid")
        with client(connection=props.get(CONNECTION)) as jc:
            ldap_id = jc.ldap_server_id()
            found = next((d for d in jc.list_samba_domains(ldap_id) if str(d.get("name")).upper() == workgroup), None)
            if found is not None and given and found.get("sid") != given:
                raise JcqnapError(
                    f"jcqnap:domainSid: Samba domain {workgroup!r} exists with SID {found.get('sid')!r}, not "
                    f"{given!r}; every member's sambaSID derives from it, so set domainSid to the existing SID "
                    "(nothing was changed)"
                )
            if found is not None:
                domain, note = found, "adopted, unchanged"
            else:
                domain = jc.create_samba_domain(ldap_id, workgroup, given or generate_sid(), bool(given)).obj
                note = "created"
        outs = self._outputs(domain, ldap_id, sid_is_input=bool(given))
        outs.update(adopted=found is not None, adoption=note, delete_adopted=bool(props.get("delete_adopted")))
        return CreateResult(object_id(domain), keep_connection(outs, props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with client(connection=props.get(CONNECTION)) as jc:
            ldap_id = props.get("ldap_server_id") or jc.ldap_server_id()
            try:
                domain = jc.get_samba_domain(ldap_id, id_)
            except NotFound:
                return gone()
        outs = self._outputs(domain, ldap_id, bool(props.get("sid_is_input")))
        outs.update({k: props[k] for k in KEPT if k in props})
        return ReadResult(id_, keep_connection(outs, props), keep_connection(self._inputs(outs), props))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        ldap_id = str(olds["ldap_server_id"])
        if olds.get("workgroup") != news.get("workgroup"):
            with client(connection=news.get(CONNECTION)) as jc:
                domain = jc.update_samba_domain(ldap_id, id_, str(news["workgroup"]), str(olds["sid"]))
        else:
            domain = {"name": olds.get("workgroup"), "sid": olds.get("sid")}
        outs = self._outputs(domain, ldap_id, sid_is_input=bool(news.get("sid")))
        outs.update({k: olds[k] for k in KEPT if k in olds}, delete_adopted=bool(news.get("delete_adopted")))
        return UpdateResult(keep_connection(outs, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("adopted") and not props.get("delete_adopted"):
            return  # it existed before jcqnap: left as found (jcqnap:deleteAdopted opts in)
        with client(connection=props.get(CONNECTION)) as jc:
            jc.delete_samba_domain(str(props["ldap_server_id"]), id_)

    @staticmethod
    def _inputs(outs: dict[str, Any]) -> dict[str, Any]:
        """The inputs as JumpCloud has them; the SID only when it was given (a generated one is no input)."""
        inputs = {"workgroup": outs["workgroup"], "delete_adopted": bool(outs.get("delete_adopted"))}
        if outs["sid_is_input"]:
            inputs["sid"] = outs["sid"]
        return inputs

    @staticmethod
    def _outputs(domain: dict[str, Any], ldap_id: str, sid_is_input: bool) -> dict[str, Any]:
        return {"workgroup": domain.get("name"), "sid": domain.get("sid"), "ldap_server_id": ldap_id,
                "sid_is_input": sid_is_input}


class SambaDomain(Resource, module="jumpcloud", name="SambaDomain"):
    """The JumpCloud LDAP directory's Samba workgroup and domain SID.

    `connection`: the org to manage it in (default: the stack config's, see `JumpCloudConnection`).
    """

    workgroup: pulumi.Output[str]
    sid: pulumi.Output[str]
    ldap_server_id: pulumi.Output[str]
    adoption: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        workgroup: pulumi.Input[str],
        sid: pulumi.Input[str] | None = None,
        delete_adopted: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        connection: JumpCloudConnection | None = None,
    ) -> None:
        props = {"workgroup": workgroup, "sid": sid, "ldap_server_id": None, "connection": connection_input(connection),
                 "delete_adopted": delete_adopted, "adopted": None, "adoption": None}
        super().__init__(SambaDomainProvider(), resource_name, props, secret_outputs(opts))
