"""What a NAS administrator does to a box behind jcqnap's back: take sshd down, change the admin
password, re-key the host. The tests for changed credentials, retired and offline NAS boxes use it.

Everything runs inside the NAS's own namespace (or on its state dir) and never over SSH; daemons are
stopped by pid only.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
from pathlib import Path

from jcqnap.sandbox import nas as nas_sim
from jcqnap.sandbox import process as proc


def stop_sshd(state_dir: Path, name: str) -> None:
    """Stop NAS `name`'s sshd (its port then refuses connections); LDAP and SMB keep running."""
    d = nas_sim.nas_dir(state_dir, name)
    proc.stop_pid_file(d / "run" / "sshd.pid", expect="sshd")
    port = int(json.loads((d / "nas-info.json").read_text())["ssh_port"])
    if proc.port_answers("127.0.0.1", port):
        raise nas_sim.NasError(f"sshd of {name} still answers on port {port} after stopping it")


def start_sshd(state_dir: Path, name: str) -> None:
    """Start NAS `name`'s sshd again, with its current host key and admin password."""
    d = nas_sim.nas_dir(state_dir, name)
    out = nas_sim.run_in_nas(state_dir, name, ["/usr/sbin/sshd", "-f", str(d / "ssh/sshd_config"),
                                               "-E", str(d / "logs/sshd.log")])
    if out.returncode != 0:
        raise nas_sim.NasError(f"sshd for {name} failed: {out.stderr.strip()}")
    port = int(json.loads((d / "nas-info.json").read_text())["ssh_port"])
    proc.wait_for_port("127.0.0.1", port, timeout=15, what=f"sshd of {name}")


def rekey(state_dir: Path, name: str) -> str:
    """Give NAS `name` a new ed25519 host key and restart sshd; returns the new public key line."""
    d = nas_sim.nas_dir(state_dir, name)
    stop_sshd(state_dir, name)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"jcqnap-nas-{name}-rekeyed",
                        "-f", f"{tmp}/k"], check=True, timeout=30, stdin=subprocess.DEVNULL)
        key = d / "ssh" / "ssh_host_ed25519_key"
        key.write_bytes(Path(f"{tmp}/k").read_bytes())
        key.chmod(0o600)
        pub = Path(f"{tmp}/k.pub").read_text().split()
    (d / "ssh" / "ssh_host_ed25519_key.pub").write_text(" ".join(pub) + "\n")
    start_sshd(state_dir, name)
    return f"{pub[0]} {pub[1]}"


def set_admin_password(state_dir: Path, name: str, password: str) -> None:
    """Change the NAS's admin password (its /etc/shadow, as `passwd` on the box would); sshd reads it per login."""
    hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password.encode(), capture_output=True,
                            check=True, timeout=30).stdout.decode().strip()
    script = ('set -e; tmp=$(mktemp /etc/.shadow.XXXXXX); '
              'awk -F: -v OFS=: -v h="$1" \'$1 == "admin" { $2 = h } { print }\' /etc/shadow > "$tmp"; '
              'chmod 640 "$tmp"; mv "$tmp" /etc/shadow')
    out = nas_sim.run_in_nas(state_dir, name, ["sh", "-c", script, "set-admin-password", hashed])
    if out.returncode != 0:
        raise nas_sim.NasError(f"changing the admin password of {name} failed: {shlex.quote(out.stderr.strip())}")
