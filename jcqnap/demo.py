"""`make demo`: the whole runbook on the local sandbox, with the real Pulumi CLI.

    python -m jcqnap.demo up [--s3]          sandbox up, demo users, up on the three local stacks, SMB proof
    python -m jcqnap.demo down [--s3]        destroy the local stacks, stop the sandbox
    python -m jcqnap.demo preview STACK      pulumi preview --refresh --run-program --expect-no-changes (0/7)
    python -m jcqnap.demo up-stack STACK     pulumi up --yes --refresh --run-program (creates a missing stack)
    python -m jcqnap.demo destroy STACK      pulumi destroy --yes, then removes the stack

`--run-program` makes the refresh use the current stack config (a changed NAS password or host key,
the `offline`/`retired` flags) instead of the config of the last update; see README "When a NAS changes".

Local stacks use a `file://` backend under the work tree and a sandbox-only passphrase, unless
PULUMI_BACKEND_URL / PULUMI_CONFIG_PASSPHRASE are already set. With `--s3` (`make demo-s3`) the
state lives in the sandbox's SeaweedFS bucket instead (`s3://jcqnap-state?...`), as a team keeps it.
The exit status is Pulumi's (7: preview found changes);
`make` turns any failure into its own status 2, so scripts that need the 7 call this module directly.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
STACKS = ("local-directory", "local-site-a", "local-site-b")
DEMO_USERS = (("alice", True), ("carol", True), ("bob", False))
TIMEOUT = 15
#: A whole `pulumi up` of the demo takes seconds; this only stops a run that hangs.
PULUMI_TIMEOUT = 1800


def log(msg: str) -> None:
    print(f"==> {msg}", flush=True)


def sandbox_dir() -> Path:
    return Path(os.environ.get("JCQNAP_SANDBOX_DIR", ROOT / ".sandbox"))


def pulumi_env(s3_state: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment for the pulumi CLI; with `s3_state` (a sandbox.json), state in its S3 bucket."""
    env = dict(os.environ)
    if s3_state is not None:
        from jcqnap.sandbox import s3

        env.update(s3.pulumi_env(s3_state))
    env.setdefault("PULUMI_BACKEND_URL", f"file://{ROOT / '.pulumi-local'}")
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "jcqnap-local-sandbox-only")
    env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    env["PULUMI_DIY_BACKEND_NO_LEGACY_WARNING"] = "true"
    if env["PULUMI_BACKEND_URL"].startswith("file://"):
        Path(env["PULUMI_BACKEND_URL"][len("file://"):]).mkdir(parents=True, exist_ok=True)
    if shutil.which("pulumi", path=env.get("PATH")) is None:
        out = subprocess.run(["bash", str(ROOT / "tools/engine/build.sh")], capture_output=True, text=True,
                             check=True, timeout=3600)
        env["PATH"] = f"{out.stdout.strip().splitlines()[-1]}:{env.get('PATH', '')}"
    return env


def pulumi(*args: str, env: dict[str, str], capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["pulumi", *args], cwd=ROOT, env=env, text=True, capture_output=capture, check=False,
                          timeout=PULUMI_TIMEOUT)


def ensure_stack(stack: str, env: dict[str, str]) -> None:
    if not (ROOT / "stacks" / f"Pulumi.{stack}.yaml").exists():
        raise SystemExit(f"demo: stacks/Pulumi.{stack}.yaml not found; copy one of the stacks/Pulumi.local*.yaml")
    if pulumi("stack", "select", stack, "--non-interactive", env=env, capture=True).returncode != 0:
        res = pulumi("stack", "init", stack, "--non-interactive", env=env, capture=True)
        if res.returncode != 0:
            raise SystemExit(f"demo: could not create stack {stack}: {res.stderr.strip()}")


def up_stack(stack: str, env: dict[str, str]) -> int:
    ensure_stack(stack, env)
    log(f"pulumi up --refresh --run-program on {stack}")
    args = ("up", "--yes", "--refresh", "--run-program", "--skip-preview", "--stack", stack, "--non-interactive")
    return pulumi(*args, env=env).returncode


def preview_stack(stack: str, env: dict[str, str]) -> int:
    ensure_stack(stack, env)
    log(f"pulumi preview --refresh --run-program --expect-no-changes on {stack}")
    return pulumi("preview", "--refresh", "--run-program", "--expect-no-changes", "--diff", "--stack", stack,
                  "--non-interactive", env=env).returncode


def destroy_stack(stack: str, env: dict[str, str]) -> int:
    if pulumi("stack", "select", stack, "--non-interactive", env=env, capture=True).returncode != 0:
        log(f"{stack}: no such stack, nothing to destroy")
        return 0
    log(f"pulumi destroy on {stack}")
    rc = pulumi("destroy", "--yes", "--skip-preview", "--stack", stack, "--non-interactive", env=env).returncode
    if rc == 0:
        pulumi("stack", "rm", stack, "--yes", "--preserve-config", "--non-interactive", env=env, capture=True)
    return rc


# -- sandbox and demo users ------------------------------------------------------------------

def sandbox_up(with_s3: bool = False) -> dict[str, Any]:
    log("sandbox up (JumpCloud emulator on slapd, NAS simulators on sshd/smbd/nslcd"
        + (", SeaweedFS for S3 state)" if with_s3 else ")"))
    subprocess.run([sys.executable, "-m", "jcqnap.sandbox", "up", *(["--s3"] if with_s3 else [])], cwd=ROOT,
                   check=True, timeout=600)
    return dict(json.loads((sandbox_dir() / "sandbox.json").read_text()))


def seed_demo_users(sb: dict[str, Any]) -> list[dict[str, Any]]:
    """Create the demo people in the emulator (as an admin would in the console); idempotent."""
    path = sandbox_dir() / "demo-users.json"
    known = {u["username"]: u for u in json.loads(path.read_text())} if path.exists() else {}
    api = sb["jumpcloud"]["api_url"]
    headers = {"x-api-key": sb["jumpcloud"]["api_key"], "Content-Type": "application/json"}
    users = []
    for username, samba in DEMO_USERS:
        password = known.get(username, {}).get("password") or f"Demo-{secrets.token_urlsafe(12)}"
        found = requests.get(f"{api}/systemusers", params={"filter": f"username:$eq:{username}"},
                             headers=headers, timeout=TIMEOUT)
        found.raise_for_status()
        body = {"username": username, "email": f"{username}@example.com", "firstname": username.title(),
                "lastname": "Demo", "password": password, "activated": True}
        if found.json()["results"]:
            uid = found.json()["results"][0]["_id"]
            requests.put(f"{api}/systemusers/{uid}", json=body, headers=headers, timeout=TIMEOUT).raise_for_status()
        else:
            requests.post(f"{api}/systemusers", json=body, headers=headers, timeout=TIMEOUT).raise_for_status()
        users.append({"username": username, "password": password, "samba": samba})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(users, f, indent=2)
    return users


def smb_login(nas: dict[str, Any], user: dict[str, Any]) -> tuple[bool, str]:
    """Log in to the NAS share with smbclient and write a file. The password goes in a 0600 file."""
    with tempfile.NamedTemporaryFile("w", prefix="jcqnap-smbauth-", delete=True) as auth:
        os.chmod(auth.name, 0o600)
        auth.write(f"username = {user['username']}\npassword = {user['password']}\n")
        auth.flush()
        cmd = ["smbclient", f"//127.0.0.1/{nas['share']}", "-p", str(nas["smb_port"]), "-A", auth.name,
               "-m", "SMB3", "-c", f"put /etc/hostname demo-{user['username']}.txt; ls"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    text = (res.stdout + res.stderr).replace(user["password"], "***")
    return res.returncode == 0, text.strip().splitlines()[-1] if text.strip() else ""


def prove_smb(sb: dict[str, Any], users: list[dict[str, Any]]) -> bool:
    ok = True
    member = next(u for u in users if u["samba"])
    outsider = next(u for u in users if not u["samba"])
    for nas in sb["nas"]:
        good, detail = smb_login(nas, member)
        log(f"{nas['name']}: SMB login as {member['username']} (Samba group member): "
            f"{'OK, wrote a file' if good else 'FAILED: ' + detail}")
        bad, detail = smb_login(nas, outsider)
        log(f"{nas['name']}: SMB login as {outsider['username']} (in no Samba group): "
            f"{'refused, as it should be (' + detail + ')' if not bad else 'ACCEPTED: this is wrong'}")
        ok &= good and not bad
    return ok


def verify_sites(users: list[dict[str, Any]], env: dict[str, str]) -> bool:
    """`python -m jcqnap verify` on each site stack, with a Samba member as the SMB canary."""
    member = next(u for u in users if u["samba"])
    ok = True
    for stack in STACKS[1:]:
        log(f"python -m jcqnap verify --stack {stack} --canary-user {member['username']}")
        res = subprocess.run([sys.executable, "-m", "jcqnap", "verify", "--stack", stack, "--canary-user",
                              member["username"]], cwd=ROOT, env={**env, "JCQNAP_CANARY_PASSWORD": member["password"]},
                             check=False, timeout=300)
        ok &= res.returncode == 0
    return ok


def demo_up(with_s3: bool = False) -> int:
    sb = sandbox_up(with_s3)
    env = pulumi_env(sb if with_s3 else None)
    users = seed_demo_users(sb)
    for stack in STACKS:
        rc = up_stack(stack, env)
        if rc != 0:
            log(f"pulumi up on {stack} failed (exit {rc}); fix the error above and run `make demo` again")
            return rc
    # JumpCloud makes a user's Samba hash only from a password set after Samba is configured on the
    # directory (`verify` names members without one); the demo users set theirs again now that it is.
    log("demo users set their passwords again so JumpCloud has their Samba hash")
    users = seed_demo_users(sb)
    smb_ok = prove_smb(sb, users)
    verified = verify_sites(users, env)
    previews = {stack: preview_stack(stack, env) for stack in STACKS}
    member = next(u for u in users if u["samba"])
    nas = sb["nas"][0]
    print()
    print("jcqnap demo summary")
    print(f"  JumpCloud emulator: {sb['jumpcloud']['api_url']}  (org {sb['jumpcloud']['org_id']})")
    print(f"  LDAP: {sb['ldap']['uri']}  base {sb['ldap']['base_dn']}")
    for n in sb["nas"]:
        print(f"  NAS {n['name']}: ssh admin@127.0.0.1 -p {n['ssh_port']}, SMB //127.0.0.1/{n['share']} "
              f"port {n['smb_port']}")
    print(f"  stacks: {', '.join(STACKS)} (backend {env['PULUMI_BACKEND_URL']})")
    print("  previews: " + ", ".join(f"{s} exit {rc}" for s, rc in previews.items()))
    print(f"  demo users and passwords: {sandbox_dir() / 'demo-users.json'} (mode 0600)")
    print(f"  try it:  smbclient //127.0.0.1/{nas['share']} -p {nas['smb_port']} -U {member['username']} "
          f"-c ls   (password in demo-users.json)")
    print(f"  tear down: make {'demo-s3-down' if with_s3 else 'demo-down'}")
    return 0 if smb_ok and verified and all(rc == 0 for rc in previews.values()) else 1


def demo_down(with_s3: bool = False) -> int:
    info_path = sandbox_dir() / "sandbox.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if with_s3 and not info.get("s3"):
        log("no S3 store in this sandbox: nothing to destroy there")
        info = {}
    env = pulumi_env(info if with_s3 and info else None)
    rc = 0
    if info:
        for stack in reversed(STACKS):
            rc |= destroy_stack(stack, env)
    log("sandbox down")
    subprocess.run([sys.executable, "-m", "jcqnap.sandbox", "down"], cwd=ROOT, check=False, timeout=600)
    return rc


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd in ("up", "down") and rest in ([], ["--s3"]):
        return (demo_up if cmd == "up" else demo_down)(rest == ["--s3"])
    if cmd in ("preview", "up-stack", "destroy") and len(rest) == 1:
        env = pulumi_env()
        fn = {"preview": preview_stack, "up-stack": up_stack, "destroy": destroy_stack}[cmd]
        rc = fn(rest[0], env)
        if cmd == "preview" and rc == 7:
            log(f"{rest[0]}: drift or pending changes (pulumi exit 7); apply them with: make up STACK={rest[0]}")
        elif rc != 0:
            log(f"{rest[0]}: pulumi exited {rc}")
        return rc
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
