"""LdapConfig's inputs: their shape, defaults, and the validation `check` runs before any SSH.

Kept apart from the provider's lifecycle so the rules are unit-tested without a NAS. Each failure
names the field, says what is wrong and how to fix it. Values that end up in QTS's INI files are
refused when they contain control characters or newlines: an INI line cannot hold them, and a
newline would let a value forge another key. Everything else (quotes, `;`, `$()`, backticks) is
legal and stored literally, because every value reaches the NAS shell-quoted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi.dynamic import CheckFailure

from jcqnap import validation
from jcqnap.providers.base import failure, is_unknown
from jcqnap.qnap.profile import Profile, ProfileError

#: Secret inputs: forced secret in state by the resource wrapper, never printed.
SECRET_FIELDS = ("nas_password", "nas_private_key", "root_password")

#: DN inputs, validated with ldap3's parser.
DN_FIELDS = ("base_dn", "root_dn", "users_base_dn", "groups_base_dn")

#: Inputs whose change means "write the NAS again" (everything that lands on it).
NAS_FIELDS = (
    "ldap_host",
    "ldap_port",
    "security",
    *DN_FIELDS,
    "root_password",
    "workgroup",
    "smb_mode",
    "ca_cert",
)

#: Inputs that pick the NAS, or how to reach and check it. A different NAS is a different object.
CONNECTION_FIELDS = ("nas_host", "nas_port")

ALL_FIELDS = (
    "nas_host",
    "nas_port",
    "nas_user",
    "nas_password",
    "nas_private_key",
    "nas_host_key",
    *NAS_FIELDS,
    "allow_insecure",
    "qts_profile",
    "force_profile",
    "verify_user",
    "verify_group",
)

SECURITY_MODES = ("ldaps", "starttls", "ldap")
SMB_MODES = ("ldap_only", "local_only")
DEFAULT_PORTS = {"ldaps": 636, "starttls": 389, "ldap": 389}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f-][^\s\x00-\x1f\x7f]{0,255}$")


def security_to_profile(security: str) -> str:
    """The profile's logical spelling of a security mode (`ldap` is the profile's `plain`)."""
    return "plain" if security == "ldap" else security


def effective_port(inputs: Mapping[str, Any]) -> int:
    """The LDAP port: the input, or the default for the security mode."""
    port = inputs.get("ldap_port")
    return int(port) if port is not None else DEFAULT_PORTS[str(inputs["security"])]


def profile_of(inputs: Mapping[str, Any]) -> Profile:
    """The QTS profile with this resource's overrides applied."""
    return Profile.from_overrides(inputs.get("qts_profile") or None)


def normalize(news: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults and canonical spellings, so diffs compare like with like."""
    out = {k: v for k, v in news.items() if not k.startswith("__")}
    out.setdefault("nas_port", 22)
    out.setdefault("nas_user", "admin")
    out.setdefault("security", "ldaps")
    out.setdefault("smb_mode", "ldap_only")
    out.setdefault("allow_insecure", False)
    if out.get("force_profile") is False or out.get("force_profile") is None:
        out["force_profile"] = None  # off; stored as absent so stacks created before the flag see no diff
    for key in ("nas_port", "ldap_port"):
        value = out.get(key)
        if isinstance(value, float) and value.is_integer():
            out[key] = int(value)
        elif isinstance(value, str) and value.isdigit():
            out[key] = int(value)
    if isinstance(out.get("workgroup"), str) and not is_unknown(out["workgroup"]):
        out["workgroup"] = out["workgroup"].upper()
    if isinstance(out.get("security"), str):
        out["security"] = out["security"].lower()
    cert = out.get("ca_cert")
    if isinstance(cert, str) and not is_unknown(cert):
        out["ca_cert"] = cert.strip() + "\n" if cert.strip() else None
    for key in ("nas_password", "nas_private_key", "ca_cert", "ldap_port", "verify_user", "verify_group"):
        if out.get(key) in ("", None):
            out[key] = None
    if not out.get("qts_profile"):
        out["qts_profile"] = None
    return out


def validate(inputs: Mapping[str, Any]) -> list[CheckFailure]:
    """Every rule `check` enforces. Unknown (preview-time) values are skipped."""
    fails: list[CheckFailure] = []

    def known(key: str) -> bool:
        return key in inputs and inputs[key] is not None and not is_unknown(inputs[key])

    def text(key: str, required: bool = True) -> str | None:
        if not known(key):
            if required and not is_unknown(inputs.get(key)):
                fails.append(failure(key, "is required"))
            return None
        value = inputs[key]
        if not isinstance(value, str):
            fails.append(failure(key, f"must be a string, got {type(value).__name__}"))
            return None
        if _CONTROL.search(value):
            fails.append(failure(key, "must not contain control characters or newlines (they would corrupt "
                                      "the NAS's settings files); remove them"))
            return None
        return value

    # -- the NAS connection ----------------------------------------------------------------
    host = text("nas_host")
    if host is not None and not _host_ok(host):
        fails.append(failure("nas_host", f"{host!r} is not a host name or IP address; give the NAS's "
                                         "address only, without user@ or :port"))
    _port("nas_port", inputs, fails)
    user = text("nas_user")
    if user is not None and not _NAME.match(user):
        fails.append(failure("nas_user", "must be a login name without spaces, not starting with '-'"))
    # paramiko and cryptography are imported only where a check needs them: this module is imported
    # by the program too, which never runs `validate` (docs/performance.md, lazy imports).
    from jcqnap.qnap.ssh import SshError, load_private_key, parse_host_key

    hk = text("nas_host_key")
    if hk is not None:
        try:
            parse_host_key(hk)
        except ValueError as exc:
            fails.append(failure("nas_host_key", f"{exc}. Get it with `ssh-keyscan -p <port> <nas_host>` "
                                                 "and check its fingerprint on the NAS console"))
    pw_given = known("nas_password") or is_unknown(inputs.get("nas_password"))
    key_given = known("nas_private_key") or is_unknown(inputs.get("nas_private_key"))
    if not pw_given and not key_given:
        fails.append(failure("nas_password", "set nas_password or nas_private_key (as a secret) for the "
                                             "SSH login"))
    if known("nas_private_key"):
        try:
            load_private_key(str(inputs["nas_private_key"]))
        except SshError as exc:
            fails.append(failure("nas_private_key", str(exc)))

    # -- the LDAP server ---------------------------------------------------------------------
    ldap_host = text("ldap_host")
    if ldap_host is not None and not _host_ok(ldap_host):
        fails.append(failure("ldap_host", f"{ldap_host!r} is not a host name or IP address; give the host "
                                          "only (e.g. ldap.jumpcloud.com) and set security and ldap_port"))
    _port("ldap_port", inputs, fails, required=False)
    security = inputs.get("security")
    if known("security"):
        if security not in SECURITY_MODES:
            fails.append(failure("security", f"{security!r} is not one of {', '.join(SECURITY_MODES)}; "
                                             "JumpCloud takes ldaps (636) or starttls (389)"))
        elif security == "ldap" and inputs.get("allow_insecure") is not True:
            fails.append(failure("security", "plain ldap sends the Root DN password in clear text; use ldaps "
                                             "or starttls, or set allow_insecure=true for a lab only"))
    for flag in ("allow_insecure", "force_profile"):
        if known(flag) and not isinstance(inputs[flag], bool):
            fails.append(failure(flag, "must be true or false"))

    # -- directory names (ldap3's DN parser, through the shared validator) ----------------------
    for key in DN_FIELDS:
        dn = text(key)
        problem = validation.dn(dn) if dn is not None else None
        if problem:
            fails.append(failure(key, f"{problem} (escape , + \" \\ < > ; with a backslash)"))
    password = text("root_password")
    if password is not None and not password:
        fails.append(failure("root_password", "must not be empty"))

    # -- Samba ---------------------------------------------------------------------------------
    wg = text("workgroup")
    if wg is not None:
        problem = netbios_problem(wg)
        if problem:
            fails.append(failure("workgroup", f"{problem}; use the workgroup of the JumpCloud Samba domain"))
    if known("smb_mode") and inputs["smb_mode"] not in SMB_MODES:
        fails.append(failure("smb_mode", f"{inputs['smb_mode']!r} is not one of {', '.join(SMB_MODES)}"))
    # A PEM spans lines, so it skips the one-line rule; it goes to its own file, not an INI line.
    if known("ca_cert"):
        from cryptography import x509

        cert = inputs["ca_cert"]
        try:
            if not isinstance(cert, str) or not x509.load_pem_x509_certificates(cert.encode()):
                raise ValueError("no certificate")
        except ValueError:
            fails.append(failure("ca_cert", "is not a PEM certificate (-----BEGIN CERTIFICATE-----...); give "
                                            "the CA that signed the LDAP server's certificate"))
    for key in ("verify_user", "verify_group"):
        name = text(key, required=False)
        if name is not None and not _NAME.match(name):
            fails.append(failure(key, "must be one user/group name without spaces, not starting with '-'"))

    # -- the QTS profile -------------------------------------------------------------------------
    if known("qts_profile"):
        try:
            profile_of(inputs)
        except ProfileError as exc:
            fails.append(failure("qts_profile", f"{exc}; see `python -m jcqnap.qnap snapshot` for the names "
                                                "your firmware uses"))
    return fails


def netbios_problem(name: str) -> str | None:
    """Why `name` cannot be a NetBIOS workgroup name, or None (the shared rule, see `validation`)."""
    return validation.workgroup(name)


def _host_ok(host: str) -> bool:
    return bool(_HOSTNAME.match(host)) or (":" in host and bool(_IPV6.match(host)))


def _port(key: str, inputs: Mapping[str, Any], fails: list[CheckFailure], required: bool = True) -> None:
    value = inputs.get(key)
    if value is None or is_unknown(value):
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        fails.append(failure(key, f"{value!r} is not a TCP port (1-65535)"))
