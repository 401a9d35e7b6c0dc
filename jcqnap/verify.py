"""`python -m jcqnap verify --stack NAME`: check the whole chain, as QTS's "Status: Online" promises.

It reads the stack's config and outputs through the real `pulumi` CLI (and, for a site, the
directory stack's outputs), then checks, read-only:

1. a TLS bind to the LDAP directory as the Samba service account;
2. every Samba group visible with its members, each carrying Samba attributes and a Samba hash (a
   member whose password was set before Samba was configured has none and cannot log in over SMB
   until the password is changed), and the workgroup's `sambaDomain` entry present;
3. for each NAS: its workgroup equals JumpCloud's, LDAP is enabled and its client and Samba answer;
4. optionally an SMB login with a canary user's credentials (`--canary-user`, password from
   the environment variable JCQNAP_CANARY_PASSWORD, never a command-line argument).

Every failed check prints the fix. Exit status: 0 when all pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from jcqnap.config import load_sandbox
from jcqnap.errors import JcqnapError, redact
from jcqnap.ldapcheck import check_directory
from jcqnap.providers.nas_access import nas_login
from jcqnap.qnap.apply import read_fact
from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile
from jcqnap.qnap.ssh import NasSession, NasTarget


@dataclass
class Check:
    name: str
    target: str
    ok: bool
    detail: str
    fix: str = ""


def _pulumi_json(*args: str) -> Any:
    res = subprocess.run(["pulumi", *args, "--json", "--non-interactive"], cwd=os.getcwd(), capture_output=True,
                         text=True, timeout=300, check=False)
    if res.returncode != 0:
        raise JcqnapError(f"pulumi {args[0]} {args[1]} failed: {res.stderr.strip().splitlines()[-1:]}; "
                          "is the stack name right and PULUMI_CONFIG_PASSPHRASE set?")
    return json.loads(res.stdout or "{}")


def stack_config(stack: str) -> dict[str, Any]:
    raw = _pulumi_json("config", "--show-secrets", "--stack", stack)
    out: dict[str, Any] = {}
    for key, item in raw.items():
        ns, _, name = key.partition(":")
        if ns == "jcqnap":
            value = item.get("objectValue", item.get("value"))
            out[name] = value
    return out


def stack_outputs(stack: str) -> dict[str, Any]:
    return dict(_pulumi_json("stack", "output", "--show-secrets", "--stack", stack))


def _ldap_uri(outs: dict[str, Any]) -> str:
    security = outs.get("ldapSecurity") or "ldaps"
    scheme = "ldaps" if security == "ldaps" else "ldap"
    port = outs.get("ldapPort") or (636 if scheme == "ldaps" else 389)
    return f"{scheme}://{outs['ldapHost']}:{port}"


def check_ldap(outs: dict[str, Any], ca_cert: str | None) -> list[Check]:
    uri = _ldap_uri(outs)
    where = f"{uri} as {outs['bindDn']}"
    groups = list(outs.get("groupNames") or [])
    try:
        report = check_directory(uri, outs["bindDn"], outs["bindPassword"], outs["baseDn"], ca_cert, groups)
    except JcqnapError as exc:
        return [Check("TLS bind as the service account", where, False, str(exc),
                      "check the bind password (pulumi up on the directory stack), the LDAP host and the CA")]
    checks = [Check("TLS bind as the service account", where, True, f"bound over {report.tls}")]
    if not report.can_search:
        checks.append(Check("service account can search", where, False, "bind works but searching is refused",
                            "enable 'LDAP Bind DN' on the service account (pulumi up --refresh on the directory)"))
        return checks
    wg = outs.get("workgroup")
    checks.append(Check("workgroup's sambaDomain in LDAP", str(wg), wg in report.samba_domains,
                        f"domains seen: {sorted(report.samba_domains) or 'none'}",
                        "pulumi up --refresh on the directory stack (SambaDomain)"))
    for name in groups:
        group = report.group(name)
        if group is None or not group.members:
            checks.append(Check("group visible with members", name, False, "not visible to the service account",
                                "bind the group to the LDAP directory and give it members (pulumi up --refresh)"))
            continue
        missing = [m.uid or m.dn for m in group.members if not m.samba]
        checks.append(Check(
            "members have Samba attributes", name, not missing,
            f"{len(group.members)} members" + (f"; without Samba attributes: {', '.join(missing)}" if missing else ""),
            f"switch 'Enable Samba Authentication' back on for group {name!r} (pulumi up --refresh on the directory)",
        ))
        no_hash = report.members_without_hash(name)
        checks.append(Check(
            "members can log in over SMB (Samba hash)", name, not no_hash,
            f"cannot log in over SMB yet, no Samba hash: {', '.join(no_hash)}" if no_hash
            else "every member with Samba attributes has a Samba hash",
            f"{', '.join(no_hash)}: change the password in the JumpCloud User Portal, or an admin resets it in "
            "the console (JumpCloud makes the Samba hash only from a password set after Samba is configured "
            "on the directory)",
        ))
    return checks


def check_nas(entry: dict[str, Any], password: str | None, key: str | None, outs: dict[str, Any],
              profile: Profile) -> list[Check]:
    target = NasTarget(host=entry["host"], port=int(entry.get("port", 22)), user=entry.get("user", "admin"),
                       host_key=entry["hostKey"], password=password, private_key=key, name=entry["name"])
    label = f"NAS {entry['name']} ({target.host}:{target.port})"
    try:
        with NasSession(target) as session:
            fact = read_fact(session, profile)
    except JcqnapError as exc:
        fix = "check the host, port, host key and credentials"
        if entry.get("offline") is True:
            fix = ("it is marked offline (jcqnap:nas[].offline): bring it back, run pulumi up --refresh "
                   "--run-program, then remove the flag")
        return [Check("NAS reachable over SSH", label, False, str(exc), fix)]
    s = fact.settings
    wanted = str(outs.get("workgroup") or "")
    wg, smb_wg = s.value(profile, "workgroup") or "", s.value(profile, "smb_workgroup") or ""
    same = wg.casefold() == wanted.casefold() and smb_wg.casefold() == wanted.casefold()
    checks = [
        Check("NAS reachable over SSH", label, True, "host key matches the pinned key"),
        Check("NAS workgroup matches JumpCloud's", label, same,
              f"NAS {wg!r} (smb.conf {smb_wg!r}), JumpCloud {wanted!r}",
              f"pulumi up --refresh on this site's stack (sets the workgroup back to {wanted})"),
    ]
    enabled = s.enabled(profile)
    running = s.status.get("ldap_status", 1) == 0 and s.status.get("smb_status", 1) == 0
    checks.append(Check("NAS LDAP status online", label, enabled and running,
                        f"LDAP {'enabled' if enabled else 'disabled'}, services "
                        f"{'running' if running else 'not running'}",
                        "pulumi up --refresh on this site's stack (enables LDAP and restarts the services)"))
    return checks


def check_smb(entry: dict[str, Any], smb_port: int, share: str, user: str, password: str) -> Check:
    with tempfile.NamedTemporaryFile("w", prefix="jcqnap-canary-") as auth:
        os.chmod(auth.name, 0o600)
        auth.write(f"username = {user}\npassword = {password}\n")
        auth.flush()
        res = subprocess.run(["smbclient", f"//{entry['host']}/{share}", "-p", str(smb_port), "-A", auth.name,
                              "-m", "SMB3", "-c", "ls"], capture_output=True, text=True, timeout=60, check=False)
    detail = redact((res.stdout + res.stderr).strip().splitlines()[-1] if (res.stdout + res.stderr).strip() else "",
                    [password])
    if res.returncode == 0:
        detail = "logged in and listed the share"
    return Check("SMB login as the canary user", f"{entry['name']} as {user}", res.returncode == 0, detail,
                 "check the user is in a Samba group and the NAS is online (see the checks above)")


def verify(stack: str, canary_user: str | None) -> list[Check]:
    cfg = stack_config(stack)
    role = cfg.get("role", "all-in-one")
    sandbox = load_sandbox(cfg["sandbox"]) if cfg.get("sandbox") else None
    outs = stack_outputs(cfg["directoryStack"] if role == "site" else stack)
    ca = cfg.get("caCertFile") or (sandbox["ldap"]["ca_cert"] if sandbox else None)
    checks = check_ldap(outs, ca)
    if role in ("site", "all-in-one"):
        profile = Profile.from_overrides(cfg["qtsProfile"]) if cfg.get("qtsProfile") else DEFAULT_PROFILE
        sims = {n["name"]: n for n in (sandbox or {}).get("nas", [])}
        creds = cfg.get("nasCredentials") or {}
        if isinstance(creds, str):  # set as one secret JSON text rather than with --path
            creds = json.loads(creds)
        for nas in cfg.get("nas") or []:
            entry = dict(nas)
            sim = sims.get(entry.get("sandbox", ""))
            if sim:
                entry.setdefault("host", sim["ssh_host"])
                entry.setdefault("port", sim["ssh_port"])
                entry.setdefault("user", sim["admin_user"])
                entry.setdefault("hostKey", sim["host_key"])
            if entry.get("retired") is True:
                continue  # left the stack: nothing of it is managed or checked any more
            password, key = nas_login(creds.get(entry["name"]) or {}, sim)
            checks += check_nas(entry, password, key, outs, profile)
            canary_pw = os.environ.get("JCQNAP_CANARY_PASSWORD")
            if canary_user and canary_pw:
                smb_port = sim["smb_port"] if sim else int(entry.get("smbPort", 445))
                share = sim["share"] if sim else str(entry.get("share", ""))
                checks.append(check_smb(entry, smb_port, share, canary_user, canary_pw))
    return checks


def print_table(checks: list[Check]) -> None:
    w1 = max(len(c.name) for c in checks)
    w2 = max(len(c.target) for c in checks)
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:<{w1}}  {c.target:<{w2}}  {c.detail}")
        if not c.ok and c.fix:
            print(f"      fix: {c.fix}")
    failed = sum(not c.ok for c in checks)
    print(f"\n{len(checks) - failed} passed, {failed} failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jcqnap verify", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True, help="the stack to verify (a site, directory or all-in-one)")
    parser.add_argument("--canary-user", help="also log in over SMB as this user (password: $JCQNAP_CANARY_PASSWORD)")
    args = parser.parse_args(argv)
    try:
        checks = verify(args.stack, args.canary_user)
    except JcqnapError as exc:
        print(f"verify: {exc}")
        return 1
    print_table(checks)
    return 0 if all(c.ok for c in checks) else 1
