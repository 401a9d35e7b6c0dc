"""Issue 9, secrets sweep: after the demo flow (directory stack + one site stack per NAS simulator,
through the real project) and after failing runs, no secret is anywhere it could land.

Secrets: the JumpCloud API key, every bind password (generated, then rotated), each NAS admin
password, the NAS admin private key, and the NT hash (MD4 of UTF-16LE, hex, both cases) of every
known password. Places: `pulumi stack export` of every stack; every byte the CLI printed, including
`--debug -v=9 --logtostderr --logflow` runs (which carry the providers' stderr); the emulator's
request log; every log file of the sandbox (NAS commands.jsonl and sshd.log, slapd, emulator); the
command line of every process seen while `up` ran (/proc/*/cmdline, polled in a thread); the error
messages of the failing runs; and everything `python -m jcqnap.qnap learn` printed and wrote (snapshot,
report, profile block) around the rotation that stored a new bind password on site-a. Pulumi's
ciphertext is the only allowed form.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from Crypto.Hash import MD4

from jcqnap.sandbox import nas as nas_sim
from tests.e2e.aio import BIND_USER, NAS_NAMES, WORKGROUP, Emulator, Stack, base_config, error_lines
from tests.e2e.harness import ROOT, CliResult, PulumiProject

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
DEBUG = ("--debug", "-v=9", "--logtostderr", "--logflow")
ROTATED = "Rotated-Bind-Pw-9!x"


class CmdlineWatcher:
    """Polls every process's command line while active (what `ps` would show another local user)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        raw = (entry / "cmdline").read_bytes()
                    except OSError:
                        continue
                    if raw:
                        self.seen.add(raw.replace(b"\0", b" ").decode(errors="replace"))
            time.sleep(0.02)

    def __enter__(self) -> CmdlineWatcher:
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


def nt_hash(password: str) -> str:
    return MD4.new(password.encode("utf-16-le")).hexdigest()  # noqa: S303 - the NT hash is MD4 by definition


@pytest.fixture(scope="module")
def flow(sandbox: dict[str, Any], pulumi_engine: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    jc = Emulator(sandbox)
    users = jc.reset(sandbox)
    p = PulumiProject(ROOT, tmp_path_factory.mktemp("sweep"), pulumi_engine).init("sweep-directory")
    directory = Stack(p, base_config(sandbox, role="directory"))
    stacks = {"sweep-directory": directory}
    for nas in NAS_NAMES:
        name = f"sweep-{nas}"
        p.run("stack", "init", name).check()
        stacks[name] = Stack(p.use(name), {
            "jcqnap:role": "site",
            "jcqnap:sandbox": directory.config["jcqnap:sandbox"],
            "jcqnap:directoryStack": "organization/jcqnap/sweep-directory",
            "jcqnap:nas": [{"name": nas, "sandbox": nas}],
        })
    results: list[CliResult] = []
    watcher = CmdlineWatcher()

    def run(stack: str, *args: str, stdin: str | None = None) -> CliResult:
        p.use(stack)
        res = p.run(*args, "--stack", stack, stdin=stdin)
        results.append(res)
        return res

    bind_passwords: list[str] = []
    state: dict[str, Any] = {"p": p, "stacks": stacks, "jc": jc, "users": users, "results": results, "run": run,
             "watcher": watcher, "bind_passwords": bind_passwords}
    try:
        with watcher:
            # -- the demo flow: directory, then each site (one of them with every debug flag) --------
            run("sweep-directory", "up", "--yes", "--skip-preview", *DEBUG).check()
            bind_passwords.append(json.loads(run(
                "sweep-directory", "stack", "output", "bindPassword", "--show-secrets", "--json").check().stdout))
            run("sweep-site-a", "up", "--yes", "--skip-preview", *DEBUG).check()
            run("sweep-site-b", "up", "--yes", "--skip-preview").check()
            run("sweep-site-b", "preview", "--refresh", "--diff", "--expect-no-changes", *DEBUG).check()
            # -- failing runs --------------------------------------------------------------------------
            # a rotation the NAS refuses to apply: rolled back, the error names no password
            run("sweep-directory", "config", "set", "--secret", "bindPassword", stdin=ROTATED).check()
            run("sweep-directory", "up", "--yes", "--skip-preview").check()
            bind_passwords.append(ROTATED)
            nas_sim.set_fail_next_apply(Path(sandbox["state_dir"]), "site-a")
            failed_nas = run("sweep-site-a", "up", "--yes", "--skip-preview", *DEBUG)
            # JumpCloud refusing the key: AuthError, the key is not quoted
            jc.faults(status=401, rate=1)
            try:
                failed_jc = run("sweep-directory", "up", "--yes", "--skip-preview", "--refresh", *DEBUG)
            finally:
                jc.faults()
            # learn around the run that stores the rotated password on site-a (its report compares hashes)
            learn_dir = tmp_path_factory.mktemp("learn")
            site_a = next(n for n in sandbox["nas"] if n["name"] == "site-a")
            learn = [sys.executable, "-m", "jcqnap.qnap", "learn", "--host", site_a["ssh_host"], "--port",
                     str(site_a["ssh_port"]), "--host-key", site_a["host_key"]]
            learn_env = {**os.environ, "JCQNAP_NAS_PASSWORD": site_a["admin_password"],
                         "JCQNAP_BIND_PASSWORD": ROTATED}
            learned = [subprocess.run([*learn, "--save-before", str(learn_dir / "before.json")], env=learn_env,
                                      cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)]
            run("sweep-site-a", "up", "--yes", "--skip-preview").check()
            ldap = sandbox["ldap"]
            learned.append(subprocess.run(
                [*learn, "--before", str(learn_dir / "before.json"), "--out", str(learn_dir), "--ldap-host",
                 ldap["host"], "--ldap-port", str(ldap["ldaps_port"]), "--base-dn", ldap["base_dn"], "--root-dn",
                 f"uid={BIND_USER},{ldap['users_base_dn']}", "--users-base-dn", ldap["users_base_dn"],
                 "--workgroup", WORKGROUP], env=learn_env, cwd=ROOT, capture_output=True, text=True, timeout=120))
            state["learn"] = {"learn output": "".join(r.stdout + r.stderr for r in learned),
                              **{f"learn {f.name}": f.read_text() for f in sorted(learn_dir.iterdir())}}
        state["failed"] = [failed_nas, failed_jc]
        yield state
    finally:
        jc.faults()
        for name in ("sweep-site-a", "sweep-site-b", "sweep-directory"):
            p.use(name)
            p.destroy()


def secrets_of(sandbox: dict[str, Any], flow: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {"api key": sandbox["jumpcloud"]["api_key"]}
    passwords: dict[str, str] = {}
    for i, pw in enumerate(flow["bind_passwords"]):
        passwords[f"bind password #{i}"] = pw
    for nas in sandbox["nas"]:
        passwords[f"{nas['name']} admin password"] = nas["admin_password"]
        key = Path(nas["admin_key_path"]).read_text()
        body = [line for line in key.splitlines() if line and not line.startswith("-----")]
        for j, line in enumerate(body):
            if len(line) >= 16:
                found[f"{nas['name']} private key line {j}"] = line
    for user in flow["users"]:
        passwords[f"{user['username']} password"] = user["password"]
    for what, pw in passwords.items():
        found[what] = pw
        found[f"NT hash of {what}"] = nt_hash(pw)
        found[f"NT hash of {what} (upper)"] = nt_hash(pw).upper()
    return found


def places(sandbox: dict[str, Any], flow: dict[str, Any]) -> dict[str, str]:
    p: PulumiProject = flow["p"]
    out: dict[str, str] = {}
    for name in flow["stacks"]:
        out[f"stack export {name}"] = p.run("stack", "export", "--stack", name).check().stdout
    for i, res in enumerate(flow["results"]):
        if "--show-secrets" not in res.args and "config" not in res.args[:1]:
            out[f"pulumi {' '.join(res.args[:3])} #{i}"] = res.output
    out["emulator request log"] = json.dumps(flow["jc"].log())
    state = Path(sandbox["state_dir"])
    for log in sorted([*state.rglob("*.log"), *state.rglob("*.jsonl")]):
        out[str(log.relative_to(state))] = log.read_text(errors="replace")
    out["process command lines"] = "\n".join(sorted(flow["watcher"].seen))
    for res in flow["failed"]:
        out[f"error messages of {' '.join(res.args[:3])}"] = "\n".join(error_lines(res.output))
    out.update(flow["learn"])
    return out


def test_no_secret_anywhere_after_the_flow_and_failing_runs(sandbox: dict[str, Any], flow: dict[str, Any]) -> None:
    failed_nas, failed_jc = flow["failed"]
    assert failed_nas.returncode != 0 and "rolled back" in failed_nas.output, failed_nas.output[-3000:]
    assert failed_jc.returncode != 0 and "(401)" in failed_jc.output, failed_jc.output[-3000:]
    secrets = secrets_of(sandbox, flow)
    where = places(sandbox, flow)
    # The sweep looked at real material: debug output, logs, commands and many processes.
    debug_runs = [r for r in flow["results"] if "-v=9" in r.args]
    assert len(debug_runs) == 5 and all(len(r.stderr) > 10_000 for r in debug_runs)
    assert sum(len(v) for v in where.values()) > 100_000
    assert any("commands.jsonl" in k for k in where) and any("sshd.log" in k for k in where)
    # learn saw the rotation: its report names the secret file that now holds the typed (rotated) password
    assert "holds the typed password as plain text" in where["learn learn-report.txt"], where["learn output"]
    assert {"learn before.json", "learn qts-profile.yaml"} <= set(where)
    assert len(flow["watcher"].seen) > 20
    assert any("pulumi" in c for c in flow["watcher"].seen)
    hits = [(what, place) for what, secret in secrets.items() for place, text in where.items() if secret in text]
    print(f"\nsecrets: {len(secrets)}, places: {len(where)} ({sum(len(v) for v in where.values())} bytes), "
          f"processes seen: {len(flow['watcher'].seen)}, hits: {len(hits)}")
    assert hits == []
    # Positive control: the same search finds the bind password where it is meant to be shown.
    shown = [r.output for r in flow["results"] if "--show-secrets" in r.args]
    assert shown and secrets["bind password #0"] in shown[0]
    # Ciphertext is there instead: the secrets are in state, encrypted.
    assert '"ciphertext"' in where["stack export sweep-directory"]
