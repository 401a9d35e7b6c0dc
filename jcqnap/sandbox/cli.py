"""``python -m jcqnap.sandbox up|down|status``: the sandbox's own CLI.

- ``up`` (idempotent): sandbox CA, slapd (LDAPS + StartTLS on free 127.0.0.1 ports), the JumpCloud
  emulator as a detached process, with ``--s3`` a SeaweedFS S3 store for Pulumi state
  (``jcqnap.sandbox.s3``), then the NAS fleet (``jcqnap.sandbox.nas`` when present). Writes
  ``<state>/sandbox.json`` (0600) and prints the endpoints. Whatever is already running is kept.
- ``down`` (idempotent): stops the NAS fleet, the emulator, slapd and SeaweedFS, by pid.
- ``status``: prints the state; exit 0 when slapd and the emulator are up, 3 when not.
- ``nas-up NAME --firmware VARIANT``: one more NAS simulator of a firmware variant
  (``jcqnap.sandbox.firmware``: default, ensecret, passdb), e.g. to try ``python -m jcqnap.qnap learn``.
- ``ui-apply NAME``: that NAS's "Apply" in the QTS UI's LDAP page; the form comes as JSON on stdin
  (host, port, security, base_dn, root_dn, users_base_dn, groups_base_dn, password, workgroup).
- ``seed-manual``: ``up``, then the setup an admin made by hand (``jcqnap.sandbox.manual``): service
  account, Samba domain, groups, NAS ``site-a`` configured as in the QTS UI; passwords in
  ``<state>/manual-setup.json`` (0600).

State dir: ``$JCQNAP_SANDBOX_DIR`` or ``<project root>/.sandbox``.

sandbox.json::

    {"state_dir": str,
     "jumpcloud": {"api_url": "http://127.0.0.1:<port>/api", "api_key": str, "org_id": 24 hex,
                   "ldap_server_id": str, "sandbox_url": "http://127.0.0.1:<port>"},
     "ldap": {"uri": "ldaps://127.0.0.1:<port>", "starttls_uri": "ldap://127.0.0.1:<port>",
              "ca_cert": path, "base_dn": "o=<org>,dc=jumpcloud,dc=com",
              "users_base_dn": "ou=Users,o=<org>,dc=jumpcloud,dc=com",
              "host": "127.0.0.1", "ldaps_port": int, "starttls_port": int},
     "nas": [ ...whatever nas.start_fleet returns... ],
     "s3": {...}}   # with --s3 (kept while it runs): see jcqnap.sandbox.s3

The API key exists in plaintext only in sandbox.json; the emulator gets its SHA-256 through the
0600 ``jumpcloud/emulator.json``, never on a command line.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import requests

from jcqnap.sandbox import ca, process, s3, slapd
from jcqnap.sandbox.jumpcloud.models import hash_api_key
from jcqnap.sandbox.jumpcloud.records import new_id
from jcqnap.sandbox.ldap_projection import org_dn, users_dn

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EMULATOR_MARK = "serve-jumpcloud"
EXIT_DOWN = 3


def state_dir() -> Path:
    return Path(os.environ.get("JCQNAP_SANDBOX_DIR") or PROJECT_ROOT / ".sandbox").resolve()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _emulator_pid_file(root: Path) -> Path:
    return root / "jumpcloud" / "emulator.pid"


def _emulator_running(root: Path, info: dict[str, Any]) -> bool:
    pid = process.read_pid(_emulator_pid_file(root))
    if pid is None or not process.pid_alive(pid) or EMULATOR_MARK not in process.pid_cmdline(pid):
        return False
    url = info.get("jumpcloud", {}).get("sandbox_url")
    if not url:
        return False
    try:
        return requests.get(f"{url}/_sandbox/health", timeout=3).ok
    except requests.RequestException:
        return False


def _start_emulator(root: Path, identity: dict[str, Any], api_key: str, ldapi_uri: str) -> int:
    port = process.free_port()
    jc_dir = root / "jumpcloud"
    config = {
        "org_id": identity["org_id"],
        "ldap_server_id": identity["ldap_server_id"],
        "api_key_sha256": hash_api_key(api_key),
        "ldapi_uri": ldapi_uri,
    }
    process.write_private(jc_dir / "emulator.json", json.dumps(config))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "jcqnap.sandbox", EMULATOR_MARK, "--state-dir", str(root), "--port", str(port)]
    proc = process.start_daemon(argv, jc_dir / "emulator.log", env=env, cwd=PROJECT_ROOT)
    process.write_pid(_emulator_pid_file(root), proc.pid)
    try:
        process.wait_for_port("127.0.0.1", port, timeout=30, pid=proc.pid, what="JumpCloud emulator")
    except (RuntimeError, TimeoutError) as exc:
        process.stop_pid(proc.pid)
        tail = (jc_dir / "emulator.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{exc}\n--- emulator.log tail ---\n{tail}") from exc
    return port


def _nas_module() -> Any:
    try:
        from jcqnap.sandbox import nas  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return nas


def up(root: Path, nas_count: int | None, with_s3: bool = False) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    previous = _read_json(root / "sandbox.json")
    identity = _read_json(root / "identity.json")
    if not identity:
        identity = {"org_id": new_id(), "ldap_server_id": new_id()}
        (root / "identity.json").write_text(json.dumps(identity))
    api_key = previous.get("jumpcloud", {}).get("api_key") or secrets.token_hex(20)
    tls = ca.ensure_tls(root / "tls")
    paths = slapd.SlapdPaths(root / "slapd")
    ldap_prev = previous.get("ldap", {})
    if slapd.is_running(paths) and ldap_prev.get("ldaps_port"):
        ldap_port, ldaps_port = ldap_prev["starttls_port"], ldap_prev["ldaps_port"]
    else:
        slapd.stop(paths)
        paths = slapd.write_config(root, tls)
        ldap_port, ldaps_port = process.free_ports(2)
        slapd.start(paths, ldap_port, ldaps_port)
    jc_prev = previous.get("jumpcloud", {})
    restart_emulator = not _emulator_running(root, previous) or jc_prev.get("api_key") != api_key
    if restart_emulator:
        process.stop_pid_file(_emulator_pid_file(root), expect=EMULATOR_MARK)
        port = _start_emulator(root, identity, api_key, paths.ldapi_uri)
    else:
        port = int(jc_prev["sandbox_url"].rsplit(":", 1)[1])
    info: dict[str, Any] = {
        "state_dir": str(root),
        "jumpcloud": {
            "api_url": f"http://127.0.0.1:{port}/api",
            "api_key": api_key,
            "org_id": identity["org_id"],
            "ldap_server_id": identity["ldap_server_id"],
            "sandbox_url": f"http://127.0.0.1:{port}",
        },
        "ldap": {
            "uri": f"ldaps://127.0.0.1:{ldaps_port}",
            "starttls_uri": f"ldap://127.0.0.1:{ldap_port}",
            "ca_cert": str(tls.ca_cert),
            "base_dn": org_dn(identity["org_id"]),
            "users_base_dn": users_dn(identity["org_id"]),
            "host": "127.0.0.1",
            "ldaps_port": ldaps_port,
            "starttls_port": ldap_port,
        },
    }
    # The S3 store runs when asked for, and stays (with its keys) once it runs.
    if with_s3 or (previous.get("s3") and s3.running(root, previous["s3"])):
        info["s3"] = s3.start(root, previous.get("s3"))
    nas = _nas_module()
    if nas is not None:
        count = nas_count if nas_count is not None else len(previous.get("nas") or []) or 2
        names = ["site-a", "site-b"][:count] + [f"site-{i}" for i in range(3, count + 1)]
        process.write_private(root / "sandbox.json", json.dumps(info, indent=2))  # the NAS half may read it
        info["nas"] = nas.start_fleet(root, names, info["ldap"])
    process.write_private(root / "sandbox.json", json.dumps(info, indent=2))
    return info


def down(root: Path) -> None:
    nas = _nas_module()
    try:
        if nas is not None and root.exists():
            nas.stop_fleet(root)
    finally:  # a failing NAS stop must not leave the emulator and slapd running
        process.stop_pid_file(_emulator_pid_file(root), expect=EMULATOR_MARK)
        slapd.stop(slapd.SlapdPaths(root / "slapd"))
        s3.stop(root)


def status(root: Path) -> tuple[bool, dict[str, Any]]:
    info = _read_json(root / "sandbox.json")
    report: dict[str, Any] = {
        "state_dir": str(root),
        "slapd": slapd.is_running(slapd.SlapdPaths(root / "slapd")),
        "jumpcloud": _emulator_running(root, info),
    }
    if info.get("s3"):
        report["s3"] = s3.running(root, info["s3"])
    nas = _nas_module()
    if nas is not None and root.exists():
        report["nas"] = nas.fleet_status(root)
    return bool(report["slapd"] and report["jumpcloud"]), report


def _print_endpoints(info: dict[str, Any]) -> None:
    jc, ldap = info["jumpcloud"], info["ldap"]
    print(f"JumpCloud API : {jc['api_url']}  (org {jc['org_id']}; key in {info['state_dir']}/sandbox.json)")
    print(f"Sandbox hooks : {jc['sandbox_url']}/_sandbox/")
    print(f"LDAPS         : {ldap['uri']}")
    print(f"StartTLS      : {ldap['starttls_uri']}")
    print(f"CA cert       : {ldap['ca_cert']}")
    print(f"Base DN       : {ldap['base_dn']}")
    if info.get("s3"):  # the keys stay in sandbox.json (0600)
        print(f"S3 state      : {info['s3']['backend_url']}  (SeaweedFS; keys in {info['state_dir']}/sandbox.json)")
    for nas in info.get("nas") or []:
        # The admin password stays in sandbox.json (0600); the host key is public and worth pinning.
        print(f"NAS {nas['name']:<9} : ssh {nas['admin_user']}@{nas['ssh_host']} -p {nas['ssh_port']}, "
              f"SMB //{nas['ssh_host']}/{nas['share']} port {nas['smb_port']}, host key {nas['host_key']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jcqnap.sandbox", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start (or keep) the sandbox and write sandbox.json")
    p_up.add_argument("--nas", type=int, default=None, metavar="N", help="number of simulated NAS (default 2)")
    p_up.add_argument("--s3", action="store_true", help="also start SeaweedFS, an S3 store for Pulumi state")
    sub.add_parser("down", help="stop everything the sandbox started")
    sub.add_parser("status", help="exit 0 when up, 3 when down")
    p_nas = sub.add_parser("nas-up", help="start one more NAS simulator, of a firmware variant")
    p_nas.add_argument("name")
    p_nas.add_argument("--firmware", default="default")
    p_ui = sub.add_parser("ui-apply", help="simulate Apply in a NAS's QTS LDAP page (form as JSON on stdin)")
    p_ui.add_argument("name")
    sub.add_parser("seed-manual", help="up, then lay down a hand-made JumpCloud + NAS setup (manual-setup.json)")
    p_serve = sub.add_parser(EMULATOR_MARK, help="(internal) run the JumpCloud emulator in the foreground")
    p_serve.add_argument("--state-dir", type=Path, required=True)
    p_serve.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    root = state_dir()
    if args.command == "up":
        _print_endpoints(up(root, args.nas, with_s3=args.s3))
        return 0
    if args.command == "down":
        down(root)
        print("sandbox down")
        return 0
    if args.command == "nas-up":
        from jcqnap.sandbox import nas

        info = _read_json(root / "sandbox.json")
        entry = nas.start_nas(root, args.name, info.get("ldap"), firmware=args.firmware)
        print(f"NAS {entry['name']} ({args.firmware}): ssh {entry['admin_user']}@{entry['ssh_host']} -p "
              f"{entry['ssh_port']}, host key {entry['host_key']} (password in {root}/nas/{args.name}/nas-info.json)")
        return 0
    if args.command == "ui-apply":
        from jcqnap.sandbox import nas

        out = nas.ui_apply(root, args.name, json.loads(sys.stdin.read()))
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        return out.returncode
    if args.command == "seed-manual":
        from jcqnap.sandbox import manual

        up(root, None)
        setup = manual.seed(root)
        groups = ", ".join(f"{g['name']} ({g['linuxName']}, {len(g['members'])} members)" for g in setup["groups"])
        print(f"hand-made setup: service account {setup['bind_user']['username']}, workgroup {setup['workgroup']}, "
              f"groups {groups}; NAS {setup.get('nas') or '-'} configured by hand")
        print(f"passwords: {root / manual.FILE} (mode 0600)")
        return 0
    if args.command == "status":
        ok, report = status(root)
        print(json.dumps(report, indent=2))
        return 0 if ok else EXIT_DOWN
    import logging

    from jcqnap.sandbox.jumpcloud.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(_read_json(args.state_dir / "jumpcloud" / "emulator.json"), args.port)
    return 0
