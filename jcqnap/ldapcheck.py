"""Read-only check that JumpCloud LDAP serves what Samba on the NAS needs.

It binds as the service account over TLS (LDAPS, or StartTLS on a plain `ldap://` URI; never a
plain bind) with the CA verified, then reports which groups and members it can see and whether each
member carries Samba attributes (`sambaSamAccount` / `sambaSID`) and whether the directory holds a
Samba hash for them. It never asks for the NT or LM hash attributes: whether `sambaNTPassword` is
there is answered by a presence filter on the member's own entry that returns no attributes, so no
hash can end up in a report, a log or an error. Every value that goes into a filter is escaped.
"""

from __future__ import annotations

import math
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ldap3 import BASE, NO_ATTRIBUTES, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPBindError,
    LDAPException,
    LDAPInvalidCredentialsResult,
    LDAPNoSuchObjectResult,
    LDAPSocketOpenError,
    LDAPSocketReceiveError,
    LDAPStartTLSError,
)
from ldap3.utils.conv import escape_filter_chars

from jcqnap.errors import JcqnapError

#: Only these attributes are ever requested (no sambaNTPassword / sambaLMPassword / userPassword).
USER_ATTRS = ["uid", "objectClass", "sambaSID", "uidNumber"]
GROUP_ATTRS = ["cn", "member"]
DOMAIN_ATTRS = ["sambaDomainName", "sambaSID"]


@dataclass
class MemberReport:
    dn: str
    uid: str | None
    visible: bool
    samba: bool  # has sambaSamAccount and a sambaSID
    samba_sid: str | None = None
    #: the directory holds a Samba (NT) hash: without one the member cannot log in over SMB yet.
    #: None when not asked (the member has no Samba attributes at all).
    samba_hash: bool | None = None


@dataclass
class GroupReport:
    cn: str
    dn: str
    members: list[MemberReport] = field(default_factory=list)


@dataclass
class LdapReport:
    uri: str
    bind_dn: str
    tls: str  # "ldaps" or "starttls"
    can_search: bool
    groups: list[GroupReport] = field(default_factory=list)
    samba_domains: dict[str, str] = field(default_factory=dict)  # workgroup -> domain SID

    def group(self, cn: str) -> GroupReport | None:
        return next((g for g in self.groups if g.cn == cn), None)

    def members_without_hash(self, cn: str) -> list[str]:
        """Members of group ``cn`` who have Samba attributes but no Samba hash (no SMB login yet)."""
        group = self.group(cn)
        return [m.uid or m.dn for m in (group.members if group else []) if m.samba and m.samba_hash is False]

    def member_samba(self) -> dict[str, bool]:
        """uid -> whether Samba attributes are present, over every visible group."""
        return {m.uid or m.dn: m.samba for g in self.groups for m in g.members}


class LdapCheckError(JcqnapError):
    """An LDAP check failure, one line, without the password."""


def connect(
    uri: str, bind_dn: str, password: str, ca_cert: str | None = None, timeout: float = 10.0,
    ca_data: str | None = None,
) -> tuple[Connection, str]:
    """Open, secure and bind a connection. Returns it with the TLS mode used.

    The CA is a file (`ca_cert`), PEM text (`ca_data`), or neither: the system's trust store."""
    parts = urlsplit(uri)
    if parts.scheme not in ("ldaps", "ldap") or not parts.hostname:
        raise LdapCheckError(f"LDAP URI {uri!r} must be ldaps://host[:port] or ldap://host[:port] (StartTLS)")
    mode = "ldaps" if parts.scheme == "ldaps" else "starttls"
    tls = Tls(
        validate=ssl.CERT_REQUIRED,
        version=ssl.PROTOCOL_TLS_CLIENT,
        ca_certs_file=ca_cert,
        ca_certs_data=ca_data,
        valid_names=[parts.hostname],
    )
    server = Server(
        parts.hostname,
        port=parts.port or (636 if mode == "ldaps" else 389),
        use_ssl=mode == "ldaps",
        tls=tls,
        connect_timeout=timeout,
        get_info=None,
    )
    conn = Connection(
        server,
        user=bind_dn,
        password=password,
        # ldap3 packs this into a socket option with struct: it must be a whole number of seconds.
        receive_timeout=max(1, math.ceil(timeout)),
        raise_exceptions=True,
        read_only=True,
    )
    where = f"LDAP {mode} {parts.hostname}:{server.port} as {bind_dn}"
    try:
        conn.open()
        if mode == "starttls":
            conn.start_tls()
        conn.bind()
    except (LDAPBindError, LDAPInvalidCredentialsResult) as exc:
        _close(conn)
        raise LdapCheckError(f"{where}: bind refused (invalid credentials); check the bind DN and password") from exc
    except LDAPStartTLSError as exc:
        _close(conn)
        raise LdapCheckError(f"{where}: StartTLS failed ({_short(exc)}); check the CA certificate and host") from exc
    except LDAPSocketReceiveError as exc:
        _close(conn)
        raise LdapCheckError(f"{where}: no answer within {timeout}s; check the host, port and firewall") from exc
    except LDAPSocketOpenError as exc:
        _close(conn)
        raise LdapCheckError(
            f"{where}: cannot connect ({_short(exc)}); check host, port and that the CA certificate is right"
        ) from exc
    except LDAPException as exc:
        _close(conn)
        raise LdapCheckError(f"{where}: {_short(exc)}") from exc
    return conn, mode


def check_directory(
    uri: str,
    bind_dn: str,
    password: str,
    base_dn: str,
    ca_cert: str | None = None,
    groups: list[str] | None = None,
    timeout: float = 10.0,
) -> LdapReport:
    """Bind as `bind_dn` and report visible groups (all, or those named), members and Samba attributes."""
    conn, mode = connect(uri, bind_dn, password, ca_cert, timeout)
    users_dn = f"ou=Users,{base_dn}"
    try:
        report = LdapReport(uri=uri, bind_dn=bind_dn, tls=mode, can_search=_can_search(conn, users_dn))
        if not report.can_search:
            return report
        for entry in _search(conn, base_dn, "(objectClass=sambaDomain)", DOMAIN_ATTRS):
            name, sid = _first(entry, "sambaDomainName"), _first(entry, "sambaSID")
            if name:
                report.samba_domains[name] = sid or ""
        if groups:
            names = "".join(f"(cn={escape_filter_chars(g)})" for g in groups)
            group_filter = f"(&(objectClass=groupOfNames)(|{names}))"
        else:
            group_filter = "(objectClass=groupOfNames)"
        for entry in _search(conn, users_dn, group_filter, GROUP_ATTRS):
            group = GroupReport(cn=_first(entry, "cn") or "", dn=entry["dn"])
            for member_dn in sorted(entry["attributes"].get("member", [])):
                group.members.append(_member(conn, member_dn))
            report.groups.append(group)
        report.groups.sort(key=lambda g: g.cn)
        return report
    except LDAPSocketReceiveError as exc:
        raise LdapCheckError(f"LDAP search under {users_dn}: no answer within {timeout}s") from exc
    except LDAPException as exc:
        raise LdapCheckError(f"LDAP search under {users_dn} as {bind_dn}: {_short(exc)}") from exc
    finally:
        conn.unbind()


def can_bind(uri: str, bind_dn: str, password: str, ca_cert: str | None = None, timeout: float = 10.0,
             ca_data: str | None = None) -> bool:
    """True when `bind_dn` can bind with `password` over TLS; False on invalid credentials."""
    try:
        conn, _ = connect(uri, bind_dn, password, ca_cert, timeout, ca_data)
    except LdapCheckError as exc:
        if "invalid credentials" in str(exc):
            return False
        raise
    conn.unbind()
    return True


def _can_search(conn: Connection, users_dn: str) -> bool:
    try:
        conn.search(users_dn, "(objectClass=*)", search_scope=BASE, attributes=["ou"])
    except LDAPNoSuchObjectResult:
        return False
    except LDAPException as exc:
        if "insufficientAccess" in type(exc).__name__ or "insufficient" in str(exc).lower():
            return False
        raise
    return bool(conn.entries)


def _member(conn: Connection, member_dn: str) -> MemberReport:
    try:
        entries = _search(conn, member_dn, "(objectClass=*)", USER_ATTRS, scope=BASE)
    except LDAPNoSuchObjectResult:
        entries = []
    if not entries:
        return MemberReport(dn=member_dn, uid=None, visible=False, samba=False)
    attrs = entries[0]["attributes"]
    classes = {str(c).lower() for c in attrs.get("objectClass", [])}
    sid = _first(entries[0], "sambaSID")
    samba = "sambasamaccount" in classes and bool(sid)
    return MemberReport(
        dn=member_dn, uid=_first(entries[0], "uid"), visible=True, samba=samba, samba_sid=sid,
        samba_hash=_has_nt_hash(conn, member_dn) if samba else None,
    )


def _has_nt_hash(conn: Connection, member_dn: str) -> bool:
    """Whether the entry has a ``sambaNTPassword``, asked with a presence filter and no attributes
    ("1.1", RFC 4511 4.5.1.8), so the hash itself is never sent back."""
    return bool(_search(conn, member_dn, "(sambaNTPassword=*)", [NO_ATTRIBUTES], scope=BASE))


def _search(conn: Connection, base: str, flt: str, attrs: list[str], scope: str = SUBTREE) -> list[dict]:
    conn.search(base, flt, search_scope=scope, attributes=attrs, time_limit=30)
    return [e for e in conn.response or [] if e.get("type") == "searchResEntry"]


def _first(entry: dict, attr: str) -> str | None:
    value = entry["attributes"].get(attr)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value in (None, "") else str(value)


def _close(conn: Connection) -> None:
    """Drop a connection that failed half-way; a socket the failed TLS handshake closed must not raise."""
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
