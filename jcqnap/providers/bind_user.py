"""`jumpcloud:BindUser`: the JumpCloud system user Samba and the NAS bind as (the LDAP Bind DN).

Lifecycle (Terraform-style): a username change is refused (below); a password change rotates it in
place; everything else updates in place. The password is write-only in JumpCloud, so `read` keeps
the stored (secret) password and reports everything else as JumpCloud has it, as outputs and as
inputs (so a refreshed diff names the field). The three flags are not user inputs: `check` sets them
on, and switching one off by hand shows up as drift of that flag.

Adoption (an account of that username already exists): every NAS configured by hand binds with its
current password, so adopting never changes it. Without a `password` input the create fails before
any write, unless `rotate_password` opts in to a new one. An adopted account is never deleted by
`delete` unless `delete_adopted` is set; `adopted` and `adoption` in the outputs say what happened.
A username change is refused (see `check`): every NAS binds by that name.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any, TypedDict

import pulumi
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from jcqnap import validation as v
from jcqnap.connection import JumpCloudConnection, connection_input, secret_outputs
from jcqnap.errors import JcqnapError
from jcqnap.jumpcloud import NotFound, object_id
from jcqnap.providers.base import diff_fields, failure, is_unknown, secret
from jcqnap.providers.jumpcloud_common import (
    CONNECTION,
    JumpCloudProvider,
    as_int,
    check_connection,
    client,
    gone,
    keep_connection,
    with_connection_diff,
)


class BindUserInputs(TypedDict, total=False):
    username: str
    email: str
    firstname: str | None
    lastname: str | None
    password: str | None  # secret; generated when omitted
    rotate_password: bool  # adoption: write a new password (the given one, or a generated one)
    delete_adopted: bool  # delete an adopted account on destroy
    #: where an adopted account's given password is checked by an LDAP bind: {"uri", "ca_cert" (PEM or
    #: None: the system's CAs)}. Not diffed: it changes nothing in JumpCloud.
    ldap_check: dict[str, str | None] | None


class BindUserOutputs(BindUserInputs, total=False):
    # `password` is always set in the outputs: the given one or the generated one (secret).
    org_id: str
    dn: str
    base_dn: str
    uid: int | None
    gid: int | None
    ldap_binding_user: bool
    samba_service_user: bool
    password_never_expires: bool
    password_is_input: bool  # False when generated: `read` then leaves it out of the inputs
    adopted: bool  # the account existed before jcqnap; delete leaves it unless delete_adopted
    adoption: str  # "created", "adopted, unchanged" or "adopted; changed: ..."


#: Flags a bind user always carries.
FLAGS = {"ldap_binding_user": True, "samba_service_user": True, "password_never_expires": True}
FIELDS = ["username", "email", "firstname", "lastname", "password", *FLAGS]
#: Inputs kept in the outputs as given (no JumpCloud field behind them).
LOCAL = ("rotate_password", "delete_adopted")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PASSWORD_LENGTH = 32


def generate_password() -> str:
    """A random password that meets JumpCloud's default complexity policy (all four classes)."""
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.!#%+="]
    chars = [secrets.choice(c) for c in classes]
    alphabet = "".join(classes)
    chars += [secrets.choice(alphabet) for _ in range(PASSWORD_LENGTH - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def bind_dn(username: str, org_id: str) -> str:
    return f"uid={username},ou=Users,{org_base_dn(org_id)}"


def org_base_dn(org_id: str) -> str:
    return f"o={org_id},dc=jumpcloud,dc=com"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class BindUserProvider(JumpCloudProvider):
    """Manages one JumpCloud bind user over REST v1 `/systemusers`."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        inputs = dict(news)
        username = news.get("username")
        problem = None if is_unknown(username) else v.username(username)
        if problem:
            # The rules also keep the bind DN free of characters that would need escaping.
            failures.append(failure("username", problem))
        elif olds.get("username") and not is_unknown(username) and olds["username"] != username:
            failures.append(failure("username", rename_refusal(str(olds["username"]), str(username))))
        for name in LOCAL:
            inputs[name] = bool(news.get(name)) if not is_unknown(news.get(name)) else news.get(name)
        email = news.get("email")
        if not is_unknown(email) and (not isinstance(email, str) or not EMAIL_RE.match(email.strip())):
            failures.append(failure("email", "set a valid email address (JumpCloud requires one per user)"))
        elif isinstance(email, str):
            inputs["email"] = email.strip()
        password = news.get("password")
        if password is not None and not is_unknown(password):
            if not isinstance(password, str) or len(password) < 8:
                failures.append(failure("password", "use at least 8 characters, or omit it to generate one"))
        for name in ("firstname", "lastname", CONNECTION, "ldap_check"):
            if news.get(name) is None:
                inputs.pop(name, None)
        inputs.update(FLAGS)
        failures += check_connection(news)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        desired = {**news, **FLAGS}
        result = diff_fields(
            olds,
            desired,
            [*FIELDS, "delete_adopted"],
            replace_on=["username"],
            normalize={"email": lambda v: _text(v).lower(), "firstname": _text, "lastname": _text,
                       "delete_adopted": bool},
            optional=["password"],
        )
        return with_connection_diff(result, olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        given = props.get("password") or None
        username = str(props["username"])
        with client([given or ""], props.get(CONNECTION)) as jc:
            existing = jc.find_user(username)
            org_id = jc.org_id()
            if existing is None:
                password = given or generate_password()
                created = jc.create_user(self._body(props, password))
                user, note = created.obj, "created"
                if created.adopted:
                    # Our own first POST answered an error after creating it: make it match.
                    user = jc.update_user(object_id(user), self._body(props, password))
                adopted = False
            else:
                user, password, note = self._adopt(jc, existing, org_id, props, given)
                adopted = True
        outs = self._outputs(user, org_id, password, password_is_input=bool(given))
        outs.update({k: bool(props.get(k)) for k in LOCAL}, adopted=adopted, adoption=note)
        return CreateResult(object_id(user), keep_connection(outs, props))

    def _adopt(
        self, jc: Any, user: dict[str, Any], org_id: str, props: dict[str, Any], given: str | None
    ) -> tuple[dict[str, Any], str, str]:
        """Take over an existing account: check before any write, then write only what differs."""
        username = str(props["username"])
        if _text(user.get("email")).lower() != str(props["email"]).lower():
            raise JcqnapError(
                f"jcqnap:bindUser.email: JumpCloud user {username!r} exists with email {user.get('email')!r}, "
                f"not {props['email']!r}; set bindUser.email to the existing one (nothing was changed)"
            )
        rotate = bool(props.get("rotate_password"))
        if given is None and not rotate:
            raise JcqnapError(
                f"jcqnap:bindPassword is not set and the Samba service account {username!r} already exists: "
                "set its current password (the one every NAS binds with) with `pulumi config set --secret "
                "bindPassword`, or opt in to a new one with `pulumi config set rotateBindPassword true` "
                "(every NAS then needs its site's next up); nothing was changed"
            )
        if not rotate and user.get("ldap_binding_user"):
            unverified = check_given_password(props.get("ldap_check"), str(user.get("username") or username),
                                              org_id, str(given))
        else:
            unverified = "" if rotate else "not checked: the account was not an LDAP Bind DN yet"
        password = (given or generate_password()) if rotate else str(given)
        body = self._differing(user, props)
        changed = sorted(body)
        if rotate:
            body["password"] = password
            changed.append("password (rotateBindPassword)")
        if body:
            user = jc.update_user(object_id(user), body)
        note = "adopted, unchanged" if not changed else "adopted; changed: " + ", ".join(changed)
        if unverified:
            note += f" (bindPassword {unverified})"
        return user, password, note

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with client([props.get("password") or ""], props.get(CONNECTION)) as jc:
            try:
                user = jc.get_user(id_)
            except NotFound:
                return gone()
            org_id = props.get("org_id") or jc.org_id()
        # A state written before `password_is_input` existed: the demo's default is a generated one.
        outs = self._outputs(user, org_id, props.get("password"), bool(props.get("password_is_input")))
        outs.update({k: props[k] for k in (*LOCAL, "adopted", "adoption") if k in props})
        return ReadResult(id_, keep_connection(outs, props), keep_connection(self._inputs(outs), props))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        password = news.get("password") or olds.get("password")
        rotate = bool(news.get("password")) and news.get("password") != olds.get("password")
        # Only what differs from JumpCloud as last read (the fields the diff named): a change of a
        # local flag such as delete_adopted writes nothing.
        body = self._differing(olds, news)
        if rotate:
            body["password"] = password
        with client([password or ""], news.get(CONNECTION)) as jc:
            user = jc.update_user(id_, body) if body else jc.get_user(id_)
            org_id = olds.get("org_id") or jc.org_id()
        outs = self._outputs(user, org_id, password, password_is_input=bool(news.get("password")))
        outs.update({k: bool(news.get(k)) for k in LOCAL})
        outs.update({k: olds[k] for k in ("adopted", "adoption") if k in olds})
        return UpdateResult(keep_connection(outs, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("adopted") and not props.get("delete_adopted"):
            return  # it existed before jcqnap: left as found (jcqnap:deleteAdopted opts in)
        with client(connection=props.get(CONNECTION)) as jc:
            try:
                # JumpCloud refuses (409) to delete the Samba service account.
                jc.update_user(id_, {"samba_service_user": False})
            except NotFound:
                return
            jc.delete_user(id_)

    @staticmethod
    def _body(props: dict[str, Any], password: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"username": props["username"], "email": props["email"], **FLAGS}
        for name in ("firstname", "lastname"):
            if props.get(name) is not None:
                body[name] = props[name]
        if password:
            body["password"] = password
        return body

    @classmethod
    def _differing(cls, current: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
        """The fields of `props`' body (no password) whose value differs from `current`. The username
        is never among them: a rename is refused in `check`, an adopted account is found by it."""
        wanted = cls._body(props, None)
        return {k: want for k, want in wanted.items() if k != "username" and _differs(k, current.get(k), want)}

    @staticmethod
    def _inputs(outs: dict[str, Any]) -> dict[str, Any]:
        """The inputs as JumpCloud has them, shaped as `check` shapes the program's."""
        inputs = {k: outs[k] for k in ("username", "email", *FLAGS)}
        for name in ("firstname", "lastname"):
            if outs.get(name):
                inputs[name] = outs[name]
        if outs.get("password_is_input") and outs.get("password"):
            inputs["password"] = secret(outs["password"])
        inputs.update({k: bool(outs.get(k)) for k in LOCAL})
        return inputs

    @staticmethod
    def _outputs(user: dict[str, Any], org_id: str, password: str | None, password_is_input: bool) -> dict[str, Any]:
        if not user.get("username"):
            raise JcqnapError(f"JumpCloud returned user {object_id(user)!r} without a username")
        username = str(user["username"])
        outs: dict[str, Any] = {
            "username": username,
            "email": _text(user.get("email")),
            "firstname": _text(user.get("firstname")),
            "lastname": _text(user.get("lastname")),
            "password": password,
            "password_is_input": password_is_input,
            "org_id": org_id,
            "dn": bind_dn(username, org_id),
            "base_dn": org_base_dn(org_id),
            "uid": as_int(user.get("unix_uid")),
            "gid": as_int(user.get("unix_guid")),
        }
        for flag in FLAGS:
            outs[flag] = bool(user.get(flag))
        return outs


def check_given_password(where: Any, username: str, org_id: str, password: str) -> str:
    """Bind as the adopted account with the password the stack gives, before anything is written.

    Every NAS configured by hand binds with the account's current password, so a wrong one in the
    stack would reach them all at their sites' next `up`; it is refused here instead, in one line.
    Returns "" when the bind worked, or why it could not be tried (no TLS endpoint given, or the
    directory not reachable from here, e.g. a runner without egress to port 636), which adoption's
    note then says: that is no reason to stop, as the sites' own verification still catches it.
    """
    if not isinstance(where, dict) or not where.get("uri"):
        return "not checked: no LDAP endpoint to bind to"
    uri = str(where["uri"])
    from jcqnap.ldapcheck import LdapCheckError, can_bind  # ldap3: only when adopting

    try:
        ok = can_bind(uri, bind_dn(username, org_id), password, ca_data=where.get("ca_cert") or None)
    except LdapCheckError as exc:
        return f"not checked: {exc}"
    if not ok:
        raise JcqnapError(
            f"jcqnap:bindPassword does not bind as the existing service account {username!r} at {uri} "
            "(invalid credentials); set the password every NAS binds with today (`pulumi config set --secret "
            "bindPassword`), or opt in to a new one with `pulumi config set rotateBindPassword true`; "
            "nothing was changed"
        )
    return ""


def _differs(key: str, current: Any, wanted: Any) -> bool:
    if key in FLAGS:
        return bool(current) != bool(wanted)
    if key == "email":
        return _text(current).lower() != _text(wanted).lower()
    return _text(current) != _text(wanted)


def rename_refusal(old: str, new: str) -> str:
    """Why a bind username change is refused, and the procedure that keeps every NAS working."""
    return (
        f"changing the Samba service account from {old!r} to {new!r} would cut off every NAS that binds as "
        f"{old!r} until its site runs again, so jcqnap does not replace it. Safe procedure: (1) `pulumi state "
        f"rm` the BindUser of this stack ({old!r} stays in JumpCloud, NAS boxes keep working); (2) set "
        f"bindUser.username {new!r} and `pulumi config set --secret bindPassword`, then `pulumi up` (creates "
        f"{new!r}); (3) `pulumi up` every site stack (the NAS boxes switch to {new!r}); (4) delete {old!r} in "
        "the JumpCloud console"
    )


class BindUser(Resource, module="jumpcloud", name="BindUser"):
    """A JumpCloud LDAP Bind DN / Samba service account. `password` is a secret output.

    `connection`: the org to manage it in (default: the stack config's, see `JumpCloudConnection`).
    """

    username: pulumi.Output[str]
    email: pulumi.Output[str]
    password: pulumi.Output[str]
    org_id: pulumi.Output[str]
    dn: pulumi.Output[str]
    base_dn: pulumi.Output[str]
    uid: pulumi.Output[int]
    gid: pulumi.Output[int]
    adopted: pulumi.Output[bool]
    adoption: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        username: pulumi.Input[str],
        email: pulumi.Input[str],
        firstname: pulumi.Input[str] | None = None,
        lastname: pulumi.Input[str] | None = None,
        password: pulumi.Input[str] | None = None,
        rotate_password: pulumi.Input[bool] | None = None,
        delete_adopted: pulumi.Input[bool] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        connection: JumpCloudConnection | None = None,
        ldap_check: pulumi.Input[dict[str, str | None] | None] = None,
    ) -> None:
        """`ldap_check`: `{"uri": "ldaps://host:port" (or ldap:// for StartTLS), "ca_cert": PEM or None}`,
        where an adopted account's given password is checked by a bind before anything is written."""
        props: dict[str, Any] = {
            "username": username,
            "email": email,
            "firstname": firstname,
            "lastname": lastname,
            "password": pulumi.Output.secret(password) if password is not None else None,
            "rotate_password": rotate_password,
            "delete_adopted": delete_adopted,
            "ldap_check": ldap_check,
            "adopted": None,
            "adoption": None,
            "org_id": None,
            "dn": None,
            "base_dn": None,
            "uid": None,
            "gid": None,
            **dict.fromkeys(FLAGS),
            "connection": connection_input(connection),
        }
        super().__init__(BindUserProvider(), resource_name, props, secret_outputs(opts, "password"))
