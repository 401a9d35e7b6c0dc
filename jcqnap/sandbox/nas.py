"""The NAS simulator: QTS-like hosts, each a real sshd (+ nslcd, smbd) in its own mount namespace.

Each NAS lives under ``<state_dir>/nas/<name>/``. A long-lived holder process
(``unshare -m --propagation private sleep infinity``) owns the NAS's mount namespace, and every
daemon is started in it with ``nsenter -t <holder> -m``, so sshd's sessions, and the nslcd/smbd
that ``ldap.sh``/``smb.sh`` start from them, all see the same private view:

- ``/etc`` is an **overlayfs** whose lower layer is the host's /etc and whose upper layer is
  ``<nas>/etc``. Files the NAS writes (``/etc/config/uLinux.conf``, ``/etc/passwd`` with
  ``admin``, ``/etc/nsswitch.conf``, ``/etc/nslcd.conf``, ``/etc/init.d/ldap.sh``...) land in the
  state dir, and the host's /etc is never written, not even to create an empty mount point,
  which bind-mounting single files would need for paths the host lacks (``/etc/config``).
- ``/usr/sbin`` (``/sbin`` is a symlink to it on Debian 12) is an overlay the same way, so
  ``/sbin/getcfg`` and ``/sbin/setcfg`` exist only inside the NAS.
- ``/run`` is a bind mount of ``<nas>/run``: each NAS has its own ``/run/nslcd`` socket, sshd
  privsep dir and pid files, which the host can read to stop daemons by pid.

``/tmp`` and the rest stay shared on purpose: a hostile-value test that finds no
``/tmp/pwned-*`` file then proves nothing ran, rather than that it ran somewhere private.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from jcqnap.qnap.profile import DEFAULT_PROFILE, Profile
from jcqnap.sandbox import firmware as fw
from jcqnap.sandbox import process as proc

DEFAULT_NAMES = ["site-a", "site-b"]
ADMIN_USER = "admin"
SHARE_NAME = "share"
TOOLS_DIR = Path(__file__).resolve().parent / "nas_tools"
OVERLAYS = {"etc": "/etc", "sbin": "/usr/sbin"}
NAS_CA = "/etc/ssl/jcqnap-sandbox-ca.pem"
# The share is bind-mounted at /srv inside the NAS (the host's /srv is only hidden there, never
# written): LDAP users (and nslcd) must traverse to what they use, and the state dir may sit
# under a 0700 directory. Without a host /srv the share lives in the NAS's private /run instead.
SHARE_MOUNT = "/srv" if os.path.isdir("/srv") else "/run"


class NasError(RuntimeError):
    """A simulated NAS could not be started or stopped."""


def nas_dir(state_dir: Path, name: str) -> Path:
    """Where NAS ``name`` keeps its files."""
    return Path(state_dir).resolve() / "nas" / name


def _python() -> str:
    """The interpreter for the NAS's tools: the system one, as a NAS has, else ours."""
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def _mnt_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _host_namespaces() -> set[str]:
    """Namespaces that must never be mounted into or swept: ours and init's."""
    return {ns for ns in (_mnt_ns("self"), _mnt_ns(1)) if ns}


def _load_info(d: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((d / "nas-info.json").read_text())
        return data
    except (OSError, ValueError):
        return {}


# -- preparing the state dir ----------------------------------------------------------------------
def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True, timeout=30, stdin=subprocess.DEVNULL)
    path.chmod(0o600)


def _sha512_crypt(password: str) -> str:
    out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(),
                         capture_output=True, check=True, timeout=30)
    return out.stdout.decode().strip()


def _wrapper(path: Path, script: str, env: dict[str, str]) -> None:
    """A tiny sh launcher: sshd sessions start with a clean environment, so it sets ours."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n{assigns} exec {shlex.quote(_python())} -I -S '
                    f'{shlex.quote(str(TOOLS_DIR / script))} "$@"\n')
    path.chmod(0o755)


def _write_if_missing(path: Path, text: str) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _prepare(d: Path, name: str, info: dict[str, Any], ldap: dict[str, Any], profile: Profile,
             firmware: fw.Firmware) -> None:
    """Lay out the NAS's upper layers, keys and configs before its namespace exists."""
    for sub in ("etc", "sbin", "run/sshd", "run/nslcd", "run/samba", "run/lock", "logs", "ssh", "samba",
                ".work/etc", ".work/sbin", "home/admin"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    share = _share_host_path(d)
    share.mkdir(parents=True, exist_ok=True)
    share.parent.chmod(0o755)
    share.chmod(0o1777)  # any authenticated domain user may write, as the share promises
    (d / "samba").chmod(0o700)
    _keygen(d / "ssh" / "ssh_host_ed25519_key", f"jcqnap-nas-{name}")
    _keygen(d / "ssh" / "admin_id_ed25519", f"admin@{name}")
    (d / "ssh" / "authorized_keys").write_text((d / "ssh" / "admin_id_ed25519.pub").read_text())
    ca = ldap.get("ca_cert")
    if ca and Path(ca).is_file():  # inside /etc, so nslcd (not root) can read it
        _upper(d, NAS_CA).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ca, _upper(d, NAS_CA))
        _upper(d, NAS_CA).chmod(0o644)
    conf = {
        "name": name, "nas_dir": str(d), "profile": profile.to_dict(), "ca_cert": NAS_CA,
        "smb_port": info["smb_port"], "share_name": SHARE_NAME, "share_path": f"{SHARE_MOUNT}/{SHARE_NAME}",
        "samba_dir": str(d / "samba"), "netbios_name": name.upper()[:15], "firmware": firmware.nas_conf(),
    }
    (d / "nas.json").write_text(json.dumps(conf, indent=2) + "\n")
    env = {"JCQNAP_NAS_CONF": str(d / "nas.json"), "JCQNAP_SESSION_LOG": str(d / "logs" / "commands.jsonl")}
    etc = d / "etc"
    files = profile.to_dict()["files"]
    tools = profile.to_dict()["tools"]
    for tool, script in (("getcfg", "getcfg.py"), ("setcfg", "setcfg.py")):
        _wrapper(_upper(d, tools[tool]), script, env)
    for cmd, script in (("ldap_start", "ldapsh.py"), ("smb_restart", "smbsh.py")):
        _wrapper(_upper(d, profile.command(cmd).split()[0]), script, env)
    _wrapper(d / "bin" / "nas-shell", "login_shell.py", env)
    _wrapper(d / "bin" / "qts-ui-apply", "uiapply.py", env)
    _write_if_missing(_upper(d, files["ulinux_conf"]),
                      f"[System]\nServer Name = {name.upper()}\nWorkgroup = {profile.default('workgroup')}\n")
    stock = "".join(f"{k} = {v}\n" for k, v in firmware.stock_smb)
    _write_if_missing(_upper(d, files["smb_conf"]),
                      f"[global]\nworkgroup = {profile.default('workgroup')}\n{stock}")
    passwd = [ln for ln in Path("/etc/passwd").read_text().splitlines() if not ln.startswith(f"{ADMIN_USER}:")]
    passwd.append(f"{ADMIN_USER}:x:0:0:administrator:{d / 'home/admin'}:{d / 'bin/nas-shell'}")
    (etc / "passwd").write_text("\n".join(passwd) + "\n")
    users = [ln.split(":", 1)[0] for ln in passwd[:-1]]
    shadow = [f"{u}:*:19000:0:99999:7:::" for u in users]  # no host hash is ever copied
    shadow.append(f"{ADMIN_USER}:{_sha512_crypt(info['admin_password'])}:19000:0:99999:7:::")
    proc.write_private(etc / "shadow", "\n".join(shadow) + "\n", 0o640)
    _write_if_missing(etc / "nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n")
    (etc / "ldap").mkdir(exist_ok=True)
    (etc / "ldap" / "ldap.conf").write_text(f"TLS_CACERT {NAS_CA}\nTLS_REQCERT demand\n")
    (d / "ssh" / "sshd_config").write_text(_sshd_config(d, info["ssh_port"]))


def _share_host_path(d: Path) -> Path:
    """Where the share's files are on the host (tests read them there)."""
    return d / ("srv" if SHARE_MOUNT == "/srv" else "run") / SHARE_NAME


def _upper(d: Path, nas_path: str) -> Path:
    """The file in ``d``'s upper layers that appears at ``nas_path`` inside the NAS."""
    real = os.path.realpath(nas_path) if nas_path.startswith("/sbin/") else nas_path
    for sub, mount in OVERLAYS.items():
        if real == mount or real.startswith(mount + "/"):
            return d / sub / os.path.relpath(real, mount)
    raise NasError(f"the simulator cannot place {nas_path}: only paths under /etc and /usr/sbin are private")


def _sshd_config(d: Path, port: int) -> str:
    # StrictModes off: the state dir may sit under a world-writable /tmp (pytest's tmp_path).
    return "\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'ssh/ssh_host_ed25519_key'}",
        f"PidFile {d / 'run/sshd.pid'}", "UsePAM no", "PermitRootLogin yes", f"AllowUsers {ADMIN_USER}",
        "PasswordAuthentication yes", "PubkeyAuthentication yes", "KbdInteractiveAuthentication no",
        f"AuthorizedKeysFile {d / 'ssh/authorized_keys'}", "StrictModes no", "LogLevel VERBOSE",
        "UseDNS no", "PrintMotd no", "Subsystem sftp internal-sftp", "MaxStartups 64:30:128",
        "MaxSessions 32", "LoginGraceTime 30", "",
    ])


# -- namespace and daemons -----------------------------------------------------------------------
def _start_holder(d: Path) -> int:
    """Start the namespace holder, wait until it is really in a new namespace, mount the layers."""
    for path in (d,):
        if any(ch in str(path) for ch in ",:\\ "):
            raise NasError(f"state dir {path} contains a character overlayfs options cannot carry")
    holder = proc.start_daemon(["unshare", "-m", "--propagation", "private", "sleep", "infinity"],
                               d / "logs" / "holder.log")
    host = _host_namespaces()
    deadline = time.monotonic() + 10
    while True:
        ns = _mnt_ns(holder.pid)
        exe = os.path.realpath(f"/proc/{holder.pid}/exe") if ns else ""
        if ns and ns not in host and os.path.basename(exe) == "sleep":
            break
        if holder.poll() is not None or time.monotonic() > deadline:
            raise NasError(f"namespace holder for {d.name} did not start (see {d / 'logs/holder.log'})")
        time.sleep(0.02)
    proc.write_pid(d / "holder.pid", holder.pid)
    mounts = [
        *(f"mount -t overlay overlay -o lowerdir={m},upperdir={d / s},workdir={d / '.work' / s} {m}"
          for s, m in OVERLAYS.items()),
        f"mount --bind {d / 'run'} /run",
        *([f"mount --bind {d / 'srv'} /srv"] if SHARE_MOUNT == "/srv" else []),
    ]
    _nsenter(holder.pid, ["sh", "-c", "set -e; " + "; ".join(mounts)], check=True)
    return holder.pid


def _nsenter(pid: int, argv: list[str], *, check: bool = False, input_text: str | None = None,
             env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside the NAS namespace held by ``pid``; refuses the host's own namespace."""
    ns = _mnt_ns(pid)
    if ns is None or ns in _host_namespaces():
        raise NasError(f"pid {pid} is not a NAS namespace holder; refusing to run {argv[0]} there")
    return subprocess.run(["nsenter", "-t", str(pid), "-m", "--", *argv], input=input_text, text=True,
                          capture_output=True, check=check, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _alive_holder(d: Path, info: dict[str, Any]) -> int | None:
    pid = proc.read_pid(d / "holder.pid")
    if pid and proc.pid_alive(pid) and info.get("mnt_ns") and _mnt_ns(pid) == info["mnt_ns"]:
        return pid
    return None


def _running(d: Path) -> bool:
    # By pid and namespace, not by connecting: a probe would add a bogus session to sshd.log,
    # which benchmarks count.
    info = _load_info(d)
    sshd = proc.read_pid(d / "run" / "sshd.pid")
    return bool(_alive_holder(d, info) and sshd and proc.pid_alive(sshd) and _mnt_ns(sshd) == info["mnt_ns"])


def _public_info(d: Path, info: dict[str, Any]) -> dict[str, Any]:
    out = {k: info[k] for k in ("name", "ssh_host", "ssh_port", "admin_user", "admin_password", "host_key",
                                "smb_port", "share", "share_path", "admin_key_path")}
    if info.get("firmware", "default") != "default":  # sandbox.json of the default fleet stays as it was
        out["firmware"] = info["firmware"]
    return out


def start_nas(state_dir: Path, name: str, ldap: dict[str, Any] | None = None,
              profile: Profile = DEFAULT_PROFILE, firmware: str = "default") -> dict[str, Any]:
    """Start NAS ``name`` (idempotent: a running NAS returns its existing info unchanged).

    ``firmware`` picks a variant (``jcqnap.sandbox.firmware``); a variant other than ``default``
    brings its own layout, so ``profile`` only applies to the default firmware.
    """
    variant = fw.variant(firmware)
    if variant.name != "default":
        profile = variant.profile()
    d = nas_dir(state_dir, name)
    if _running(d):
        return _public_info(d, _load_info(d))
    stop_nas(state_dir, name)
    d.mkdir(parents=True, exist_ok=True)
    old = _load_info(d)
    ports = [p for p in (old.get("ssh_port"), old.get("smb_port"))
             if p and not proc.port_answers("127.0.0.1", int(p))]
    ssh_port, smb_port = ports if len(ports) == 2 else proc.free_ports(2)
    info: dict[str, Any] = {
        "name": name, "ssh_host": "127.0.0.1", "ssh_port": ssh_port, "admin_user": ADMIN_USER,
        "admin_password": old.get("admin_password") or secrets.token_urlsafe(18),
        "smb_port": smb_port, "share": SHARE_NAME, "share_path": str(_share_host_path(d)),
        "admin_key_path": str(d / "ssh" / "admin_id_ed25519"),
    }
    info["firmware"] = variant.name
    _prepare(d, name, info, ldap or {}, profile, variant)
    pub = (d / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()
    info["host_key"] = f"{pub[0]} {pub[1]}"
    holder = _start_holder(d)
    info["mnt_ns"] = _mnt_ns(holder)
    proc.write_private(d / "nas-info.json", json.dumps(info, indent=2) + "\n")
    out = _nsenter(holder, ["/usr/sbin/sshd", "-f", str(d / "ssh/sshd_config"), "-E", str(d / "logs/sshd.log")])
    if out.returncode != 0:
        raise NasError(f"sshd for {name} failed: {out.stderr.strip()}")
    proc.wait_for_port("127.0.0.1", ssh_port, timeout=15, what=f"sshd of {name}")
    _boot_services(d, holder, profile)
    return _public_info(d, info)


def _boot_services(d: Path, holder: int, profile: Profile) -> None:
    """Start LDAP and SMB from the stored settings, as a NAS does at boot (failures only logged)."""
    env = {"JCQNAP_NAS_BOOT": "1"}  # boot ignores the fault knobs: they are for the next apply
    with open(d / "logs" / "boot.log", "a") as log:
        for cmd in ("ldap_start", "smb_restart"):
            out = _nsenter(holder, ["sh", "-c", profile.command(cmd)], env=env)
            log.write(f"{time.strftime('%F %T')} {cmd} -> {out.returncode} {out.stderr.strip()}\n")


def _ns_members(ns: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _mnt_ns(entry) == ns:
            pids.append(int(entry))
    return pids


def stop_nas(state_dir: Path, name: str) -> list[int]:
    """Stop every process of NAS ``name`` by pid: its daemons' pid files, then its namespace's members."""
    d = nas_dir(state_dir, name)
    info = _load_info(d)
    # The namespace id is only this NAS's while its holder lives: once the namespace is freed, the
    # kernel may hand the same id to a NAS started later, whose processes must not be swept.
    holder = _alive_holder(d, info)
    stopped: list[int] = []
    pidfiles = [d / "run/sshd.pid", d / "run/nslcd/nslcd.pid", *sorted((d / "run/samba").glob("*.pid"))]
    for pf in pidfiles:
        pid = proc.read_pid(pf)
        if pid and proc.pid_alive(pid) and info.get("mnt_ns") and _mnt_ns(pid) == info["mnt_ns"]:
            proc.stop_pid(pid)
            stopped.append(pid)
        pf.unlink(missing_ok=True)
    ns = info.get("mnt_ns")
    if holder is not None and ns and ns not in _host_namespaces():
        for pid in _ns_members(ns):  # smbd children, samba-dcerpcd, leftover sessions, the holder
            proc.stop_pid(pid, timeout=3)
            stopped.append(pid)
    (d / "holder.pid").unlink(missing_ok=True)
    return stopped


def nas_names(state_dir: Path) -> list[str]:
    """Names of the NAS simulators that have a state dir."""
    root = Path(state_dir).resolve() / "nas"
    return sorted(p.name for p in root.iterdir() if (p / "nas.json").exists()) if root.is_dir() else []


def start_fleet(state_dir: Path, names: list[str] | None = None, ldap: dict[str, Any] | None = None,
                profile: Profile = DEFAULT_PROFILE) -> list[dict[str, Any]]:
    """Start (or find running) every NAS in ``names``; the ``nas`` entries of sandbox.json."""
    return [start_nas(state_dir, n, ldap, profile) for n in (names or DEFAULT_NAMES)]


def stop_fleet(state_dir: Path) -> list[int]:
    """Stop every NAS under ``state_dir`` (idempotent); returns the pids that were stopped."""
    stopped: list[int] = []
    for name in nas_names(state_dir):
        stopped += stop_nas(state_dir, name)
    return stopped


def fleet_status(state_dir: Path) -> list[dict[str, Any]]:
    """Per NAS: whether its namespace, sshd, nslcd and smbd run, and its ports."""
    out = []
    for name in nas_names(state_dir):
        d = nas_dir(state_dir, name)
        info = _load_info(d)

        def up(pf: Path) -> bool:
            pid = proc.read_pid(pf)
            return bool(pid and proc.pid_alive(pid))

        out.append({
            "name": name, "running": _running(d), "holder": _alive_holder(d, info) is not None,
            "sshd": up(d / "run/sshd.pid"), "nslcd": up(d / "run/nslcd/nslcd.pid"),
            "smbd": any(up(p) for p in (d / "run/samba").glob("smbd*.pid")),
            "ssh_port": info.get("ssh_port"), "smb_port": info.get("smb_port"),
        })
    return out


def run_in_nas(state_dir: Path, name: str, argv: list[str], input_text: str | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside NAS ``name``'s namespace without SSH (test setup and inspection)."""
    d = nas_dir(state_dir, name)
    holder = _alive_holder(d, _load_info(d))
    if holder is None:
        raise NasError(f"NAS {name} is not running")
    return _nsenter(holder, argv, input_text=input_text, timeout=timeout,
                    env={"JCQNAP_NAS_CONF": str(d / "nas.json")})


def ui_apply(state_dir: Path, name: str, form: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Do what NAS ``name``'s QTS UI does on Apply in Domain Security > LDAP (per its firmware variant).

    ``form``: host, port, security, base_dn, root_dn, users_base_dn, groups_base_dn, password,
    workgroup, smb_mode. It reaches the NAS on stdin (the password never on a command line).
    """
    d = nas_dir(state_dir, name)
    return run_in_nas(state_dir, name, [str(d / "bin" / "qts-ui-apply")], input_text=json.dumps(form), timeout=180)


def set_fail_next_apply(state_dir: Path, name: str) -> None:
    """Make the next ldap.sh/smb.sh start|stop|restart on NAS ``name`` exit 1 without changing anything."""
    (nas_dir(state_dir, name) / "fail-next-apply").write_text("any\n")


def set_drop_next_apply(state_dir: Path, name: str, when: str = "after") -> None:
    """Make the next apply on NAS ``name`` kill its SSH session, ``before`` or ``after`` applying."""
    if when not in ("before", "after"):
        raise ValueError("when must be 'before' or 'after'")
    (nas_dir(state_dir, name) / "drop-next-apply").write_text(when + "\n")
